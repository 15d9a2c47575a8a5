//! `jit = true, disk_cache = true` across processes: warm starts compile nothing, corrupt
//! entries are rebuilt, racing processes all succeed, unusable roots fall back, the cache
//! commands, and keys that change exactly when what is compiled changes.

#![cfg(feature = "jit")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A native run of Van der Pol with the disk cache, as JSON (not tiered: its cache
/// counters are final when it prints them).
const RUN: &[&str] = &[
    "run",
    "builtin://ode/vanderpol",
    "--jit",
    "--no-tier",
    "--disk-cache",
    "--t-end",
    "3",
    "--format",
    "json",
];

/// A scratch area: a config pointing the cache root into it, and its own TMPDIR.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        s.set_root(&s.root());
        std::fs::create_dir_all(s.tmp()).unwrap();
        s
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn set_root(&self, root: &Path) {
        std::fs::write(
            self.config(),
            format!("cache_root = {:?}\n", root.to_str().unwrap()),
        )
        .unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dynlib"));
        c.args(args)
            .env("DYNLIB_CONFIG", self.config())
            .env("TMPDIR", self.tmp())
            .env_remove("DYN_MODEL_PATH");
        c
    }

    fn dynlib(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("dynlib runs")
    }

    /// A jitted run with the disk cache; returns the JSON output and stderr.
    fn run(&self, extra: &[&str]) -> (serde_json::Value, String) {
        let mut args = RUN.to_vec();
        args.extend(extra);
        let o = self.dynlib(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        (serde_json::from_slice(&o.stdout).unwrap(), err)
    }

    fn entries(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for comp in ["triplets", "steppers", "runners"] {
            let Ok(shards) = std::fs::read_dir(self.root().join("jit").join(comp)) else {
                continue;
            };
            for shard in shards.flatten() {
                for e in std::fs::read_dir(shard.path()).unwrap().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !name.starts_with('.') {
                        out.push(e.path());
                    }
                }
            }
        }
        out.sort();
        out
    }
}

fn cache_counts(v: &serde_json::Value) -> [u64; 4] {
    let c = &v["cache"];
    ["hits", "misses", "compiled", "recovered"].map(|k| c[k].as_u64().unwrap())
}

/// The results without the parts that legitimately differ between processes.
fn results(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("timing");
    o.remove("cache");
    v
}

#[test]
fn a_second_process_compiles_nothing() {
    let s = Scratch::new();
    let (cold, _) = s.run(&[]);
    // A run needs one unit, its runner (with the stepper and model functions inlined);
    // the model functions' and the stepper's own units compile only when called directly.
    assert_eq!(cache_counts(&cold), [0, 1, 1, 0]);
    assert_eq!(s.entries().len(), 1, "one entry per compiled unit");
    let (warm, err) = s.run(&[]);
    assert_eq!(cache_counts(&warm), [1, 0, 0, 0]);
    assert_eq!(results(&warm), results(&cold));
    assert!(err.is_empty(), "no warnings: {err}");
    // A different stepper is another runner.
    let (other, _) = s.run(&["--stepper", "rk45"]);
    assert_eq!(cache_counts(&other), [0, 1, 1, 0]);
    assert_eq!(s.entries().len(), 2);
}

#[test]
fn corrupt_entries_are_rebuilt_with_one_warning() {
    let s = Scratch::new();
    let (cold, _) = s.run(&[]);
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 4] = [
        ("truncate", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() / 2]).unwrap();
        }),
        ("flip", |p| {
            let mut b = std::fs::read(p).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 0xff;
            std::fs::write(p, b).unwrap();
        }),
        ("garbage", |p| {
            std::fs::write(p, b"this is not an object file").unwrap()
        }),
        ("delete", |p| std::fs::remove_file(p).unwrap()),
    ];
    for (what, damage) in damages {
        let runner = s
            .entries()
            .into_iter()
            .find(|p| p.to_string_lossy().contains("/runners/"))
            .unwrap();
        damage(&runner.join("object.o"));
        let (v, err) = s.run(&[]);
        assert_eq!(cache_counts(&v), [0, 1, 1, 1], "{what}");
        assert_eq!(results(&v), results(&cold), "{what}: results unaffected");
        assert_eq!(
            err.matches("corrupt").count(),
            1,
            "{what}: one warning: {err}"
        );
        // The entry was rewritten and is whole again.
        let (again, _) = s.run(&[]);
        assert_eq!(cache_counts(&again), [1, 0, 0, 0], "{what}");
    }
    let o = s.dynlib(&["cache", "verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn a_valid_entry_with_a_foreign_object_is_rebuilt() {
    // Consistent metadata and checksum, but bytes LLVM cannot load: still recovered.
    let s = Scratch::new();
    let (cold, _) = s.run(&[]);
    let runner = s
        .entries()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/runners/"))
        .unwrap();
    let junk = b"\x7fELF but not really an object file at all".to_vec();
    let meta_path = runner.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["size"] = junk.len().into();
    meta["checksum"] = dynlib_cache::checksum(&junk).into();
    std::fs::write(runner.join("object.o"), &junk).unwrap();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let (v, err) = s.run(&[]);
    assert_eq!(cache_counts(&v), [0, 1, 1, 1]);
    assert_eq!(results(&v), results(&cold));
    assert!(err.contains("corrupt") && err.contains("key tag"), "{err}");
}

/// The runner entry of a scratch cache.
fn runner_entry(s: &Scratch, model: &str) -> PathBuf {
    s.entries()
        .into_iter()
        .find(|p| {
            p.to_string_lossy().contains("/runners/")
                && std::fs::read_to_string(p.join("meta.json"))
                    .unwrap()
                    .contains(model)
        })
        .unwrap()
}

#[test]
fn another_models_object_in_an_entry_is_rebuilt_never_run() {
    let s = Scratch::new();
    let (cold, _) = s.run(&[]);
    let o = s.dynlib(&[
        "run",
        "builtin://ode/lorenz",
        "--jit",
        "--no-tier",
        "--disk-cache",
        "--t-end",
        "1",
    ]);
    assert!(o.status.success());
    // Lorenz's runner object under Van der Pol's key, with size and checksum made to match.
    let vdp = runner_entry(&s, "Van der Pol");
    let lorenz = runner_entry(&s, "Lorenz");
    let foreign = std::fs::read(lorenz.join("object.o")).unwrap();
    let meta_path = vdp.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["size"] = foreign.len().into();
    meta["checksum"] = dynlib_cache::checksum(&foreign).into();
    std::fs::write(vdp.join("object.o"), &foreign).unwrap();
    std::fs::write(&meta_path, meta.to_string()).unwrap();

    let o = s.dynlib(&["cache", "verify"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("another key"), "{text}");
    let (v, err) = s.run(&[]);
    assert_eq!(cache_counts(&v), [0, 1, 1, 1]);
    assert_eq!(
        results(&v),
        results(&cold),
        "the right numbers, from rebuilt code"
    );
    assert!(err.contains("another key"), "{err}");
}

#[test]
fn a_stopped_process_holding_a_build_lock_delays_a_cold_build_only_briefly() {
    let s = Scratch::new();
    let kernel = dynlib::build(
        "builtin://ode/vanderpol",
        dynlib::SetupOptions::default().config(dynlib::Config::empty()),
    )
    .unwrap();
    let key = kernel
        .unit_key(dynlib::Unit::Runner(
            dynlib::runtime::runner::RunnerVariant::Fastpath,
        ))
        .unwrap();
    // This process plays the stopped one: it holds the lock of the runner the run takes
    // (the fast path: rk4, no logged events) and never lets go.
    let cache = dynlib_cache::DiskCache::new(s.root());
    let _held = cache.lock(&key).unwrap();
    let started = std::time::Instant::now();
    let (v, err) = s.run(&[]);
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(60), "{waited:?}");
    assert_eq!(cache_counts(&v), [0, 1, 1, 0]);
    assert!(err.contains("did not wait"), "{err}");
    assert_eq!(err.lines().count(), 1, "one warning: {err}");
    // The locked unit was compiled in memory only.
    assert!(s.entries().is_empty());
}

#[cfg(unix)]
#[test]
fn cache_commands_never_follow_links_out_of_the_root() {
    let s = Scratch::new();
    s.run(&[]);
    let home = tempfile::tempdir().unwrap();
    let precious = home.path().join("Documents");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("thesis.tex"), b"years of work").unwrap();
    std::fs::write(
        precious.join("meta.json"),
        r#"{"stepper": "rk4", "dtype": "float64"}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(home.path(), s.root().join("jit/runners/zz")).unwrap();
    for args in [
        &["cache", "verify", "--delete"][..],
        &["cache", "clear", "--stepper", "rk4"],
        &["cache", "clear", "--dtype", "float64"],
        &["cache", "clear", "--older-than", "0"],
        &["cache", "clear", "--all"],
    ] {
        let o = s.dynlib(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            std::fs::read(precious.join("thesis.tex")).unwrap(),
            b"years of work",
            "{args:?}"
        );
    }
    assert!(std::fs::symlink_metadata(s.root().join("jit/runners/zz")).is_ok());
}

#[test]
fn four_processes_at_once_on_an_empty_root() {
    let s = Scratch::new();
    let children: Vec<_> = (0..4)
        .map(|_| {
            s.command(RUN)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut compiled = 0;
    let mut first: Option<serde_json::Value> = None;
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        compiled += cache_counts(&v)[2];
        match &first {
            None => first = Some(results(&v)),
            Some(f) => assert_eq!(&results(&v), f),
        }
    }
    // Each unit is compiled by exactly one process: the others wait for its lock and load it.
    assert_eq!(compiled, 1);
    assert_eq!(s.entries().len(), 1);
    let o = s.dynlib(&["cache", "verify"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 entries ok, 0 corrupt"));
}

#[test]
fn an_unusable_root_falls_back_to_tmp_then_to_memory() {
    let s = Scratch::new();
    let file = s.dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    s.set_root(&file);
    let (v, err) = s.run(&[]);
    assert_eq!(cache_counts(&v), [0, 1, 1, 0]);
    assert!(err.contains("not writable"), "{err}");
    assert_eq!(err.lines().count(), 1, "one warning: {err}");
    let fallback = s.tmp().join("dynlib-cache");
    assert!(fallback.join("jit/runners").exists());
    // The fallback works as a cache.
    let (warm, _) = s.run(&[]);
    assert_eq!(cache_counts(&warm), [1, 0, 0, 0]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is untouched");

    // With TMPDIR unusable too, everything stays in memory, with a warning.
    let o = s.command(RUN).env("TMPDIR", &file).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cache_counts(&v), [0, 1, 1, 0]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("memory only"));
    assert_eq!(results(&v), results(&warm));
}

/// A `<tmp>/dynlib-cache` that other users could write into is never used: someone else
/// could have planted object files there.
#[cfg(unix)]
#[test]
fn a_shared_fallback_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let file = s.dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    s.set_root(&file);
    let planted = s.tmp().join("dynlib-cache");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (v, err) = s.run(&[]);
    assert_eq!(cache_counts(&v), [0, 1, 1, 0]);
    assert!(err.contains("writable by other users"), "{err}");
    assert!(err.contains("memory only"), "{err}");
    assert!(std::fs::read_dir(&planted).unwrap().next().is_none());
}

#[test]
fn without_disk_cache_the_root_is_untouched() {
    let s = Scratch::new();
    let o = s.dynlib(&["run", "builtin://ode/vanderpol", "--jit", "--t-end", "3"]);
    assert!(o.status.success());
    assert!(!s.root().exists(), "disk_cache = false writes nothing");
    assert!(std::fs::read_dir(s.tmp()).unwrap().next().is_none());
    // jit = false with disk_cache asks for nothing to cache either.
    let o = s.dynlib(&[
        "run",
        "builtin://ode/vanderpol",
        "--disk-cache",
        "--t-end",
        "3",
    ]);
    assert!(o.status.success());
    assert!(!s.root().exists());
}

#[test]
fn cache_commands() {
    let s = Scratch::new();
    let out = |args: &[&str]| {
        let o = s.dynlib(args);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, text, _) = out(&["cache", "path"]);
    assert_eq!(code, Some(0));
    assert_eq!(text.trim(), s.root().to_str().unwrap());
    assert!(out(&["cache", "list"])
        .1
        .contains("No cache entries found."));

    s.run(&[]);
    s.run(&["--stepper", "euler"]);
    s.run(&["--stepper", "heun"]);
    let (_, list, _) = out(&["cache", "list"]);
    assert_eq!(list.lines().count(), 1 + 3, "{list}");
    assert!(list.contains("Van der Pol"), "{list}");
    // The runs took the fast path; only the runner variant a run needs is compiled.
    assert!(list.contains("runners") && list.contains("fastpath") && list.contains("float64"));
    assert!(!list.contains(" base "), "{list}");
    let (_, rk4, _) = out(&["cache", "list", "--stepper", "rk4"]);
    assert_eq!(rk4.lines().count(), 1 + 1, "{rk4}");
    let (_, f64s, _) = out(&["cache", "list", "--dtype", "f64"]);
    assert_eq!(f64s.lines().count(), 1 + 3, "dtype aliases work: {f64s}");

    // Clear needs a selector: a usage error, with or without --dry-run.
    let (code, _, err) = out(&["cache", "clear"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, text, err) = out(&["cache", "clear", "--dry-run"]);
    assert_eq!(code, Some(2), "{text}{err}");
    assert!(
        err.contains("--all"),
        "the usage error names the selectors: {err}"
    );
    let (code, _, _) = out(&["cache", "clear", "--stepper", "nope"]);
    assert_eq!(code, Some(2));

    let (code, dry, _) = out(&["cache", "clear", "--stepper", "euler", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert_eq!(dry.matches("[dry-run]").count(), 1, "{dry}");
    assert_eq!(s.entries().len(), 3);
    let (_, done, _) = out(&["cache", "clear", "--stepper", "euler"]);
    assert_eq!(done.matches("deleted").count(), 1, "{done}");
    assert_eq!(s.entries().len(), 2);
    let (_, none, _) = out(&["cache", "clear", "--older-than", "30"]);
    assert!(none.contains("No matching cache entries found."), "{none}");
    assert_eq!(s.entries().len(), 2);

    // verify reports a corrupt entry and exits 1; --delete removes it.
    let victim = s.entries()[0].join("object.o");
    std::fs::write(&victim, b"bad").unwrap();
    let (code, v, _) = out(&["cache", "verify"]);
    assert_eq!(code, Some(1));
    assert!(v.contains("1 entries ok, 1 corrupt"), "{v}");
    let (code, _, _) = out(&["cache", "verify", "--delete"]);
    assert_eq!(code, Some(0));
    assert_eq!(s.entries().len(), 1);

    let (code, all, _) = out(&["cache", "clear", "--all"]);
    assert_eq!(code, Some(0), "{all}");
    assert!(s.entries().is_empty());
    assert!(s.root().exists(), "the root itself stays");
}

#[test]
fn keys_change_with_what_is_compiled_and_nothing_else() {
    use dynlib::{SetupOptions, Unit};
    let config = dynlib::Config::empty();
    let build = |uri: &str, stepper: &str, dtype: Option<&str>| {
        let mut o = SetupOptions::default()
            .stepper(stepper)
            .config(config.clone());
        if let Some(d) = dtype {
            o = o.dtype(d);
        }
        dynlib::build(uri, o).unwrap()
    };
    let keys = |k: &dynlib::Kernel| Unit::ALL.map(|u| k.unit_key(u).unwrap().digest().to_string());
    let base = keys(&build("builtin://ode/vanderpol", "rk4", None));
    assert_eq!(base, keys(&build("builtin://ode/vanderpol", "rk4", None)));

    // Stepper: new stepper and runner keys; the model functions are shared.
    let euler = keys(&build("builtin://ode/vanderpol", "euler", None));
    assert_eq!(euler[0], base[0]);
    assert_ne!(euler[1], base[1]);
    assert_ne!(euler[2], base[2]);

    // Dtype: every key changes.
    let f32k = keys(&build("builtin://ode/vanderpol", "rk4", Some("float32")));
    for u in 0..3 {
        assert_ne!(f32k[u], base[u]);
    }

    // Parameter values and initial states never enter a key; structure does.
    let text = dynlib::model::uri::builtin_models()
        .iter()
        .find(|b| b.name == "vanderpol")
        .unwrap()
        .text;
    let inline = |t: &str| format!("inline:{t}");
    let same = keys(&build(&inline(text), "rk4", None));
    let changed_values = text
        .replacen("mu = 1.0", "mu = 7.5", 1)
        .replacen("x = 2.0", "x = 0.25", 1);
    assert_ne!(changed_values, text, "the edit applied");
    assert_eq!(keys(&build(&inline(&changed_values), "rk4", None)), same);
    let changed_structure = text.replacen("dy = mu*(1-x**2)*y-x", "dy = mu*(1-x**3)*y-x", 1);
    assert_ne!(changed_structure, text, "the edit applied");
    let structural = keys(&build(&inline(&changed_structure), "rk4", None));
    assert_ne!(structural[0], same[0]);
    assert_ne!(structural[2], same[2]);

    // The runner variant is part of the runner key.
    let k = build("builtin://ode/vanderpol", "rk4", None);
    let exports = k.unit_exports(Unit::Runner(dynlib::runtime::runner::RunnerVariant::Base));
    // The options the kernel chose for a model of its size (one lane).
    let opts = dynlib::runtime::units::CodegenOptions::for_kernel(k.model().states.len(), 1);
    use dynlib::runtime::runner::RunnerVariant;
    let key = |variant: Option<RunnerVariant>| {
        dynlib::runtime::units::unit_key(
            k.program(),
            &exports,
            dynlib_cache::Component::Runners,
            "runner",
            variant.map(|v| (v, None)),
            "float64",
            &opts,
        )
        .unwrap()
        .digest()
        .to_string()
    };
    assert_eq!(key(Some(RunnerVariant::Base)), base[2]);
    // A unit keyed without a variant stands for another.
    assert_ne!(key(None), base[2]);
}

#[cfg(unix)]
#[test]
fn planted_links_are_reported_and_unlinked_and_commands_create_nothing() {
    let s = Scratch::new();
    // Looking at a cache that does not exist makes none.
    for args in [
        &["cache", "path"][..],
        &["cache", "list"],
        &["cache", "verify"],
        &["cache", "clear", "--all", "--dry-run"],
    ] {
        let o = s.dynlib(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!s.root().exists(), "{args:?} created the root");
    }
    s.run(&[]);
    // A link named like a build lock, pointing at someone's file.
    let entry = s.entries()[0].clone();
    let digest = entry.file_name().unwrap().to_str().unwrap().to_string();
    let victim = s.dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let lock = entry.with_file_name(format!(".{digest}.lock"));
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let o = s.dynlib(&["cache", "verify"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("suspicious") && text.contains(".lock"),
        "{text}"
    );
    let o = s.dynlib(&["cache", "verify", "--delete"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&lock).is_err(),
        "the link is gone"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // The cache still works, and still has the entry.
    s.run(&[]);
    assert!(entry.exists());
    // A directory in a lock's place is left (it may hold someone's files): the cache is
    // not clean afterwards, so --delete fails, naming it.
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    std::fs::write(lock.join("notes.txt"), b"mine").unwrap();
    let o = s.dynlib(&["cache", "verify", "--delete"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("remove it yourself"), "{text}");
    assert_eq!(std::fs::read(lock.join("notes.txt")).unwrap(), b"mine");
}
