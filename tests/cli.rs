//! The `dynlib` command line, end to end.

use std::process::{Command, Output};

mod common;

fn dynlib(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args(args)
        // Never read the developer's configuration.
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .env_remove("DYN_MODEL_PATH")
        .output()
        .expect("the dynlib binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn validate_prints_a_summary() {
    let o = dynlib(&["model", "validate", "builtin://ode/lorenz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "Model OK: kind=ode dtype=float64 states=3 stepper=rk4"
    );
}

#[test]
fn validate_fails_with_exit_1_and_the_diagnostic() {
    let o = dynlib(&["model", "validate", "/nonexistent/model.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Model not found"), "{}", stderr(&o));
    let o = dynlib(&[
        "model",
        "validate",
        "inline: [model]\ntype='ode'\n[states]\nx=1\n[equations.rhs]\nx='-a*x'\n",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("Unknown identifier(s) in [equations.rhs.x]: a"),
        "{err}"
    );
    assert!(err.contains("x='-a*x'") && err.contains('^'), "{err}");
}

#[test]
fn show_prints_equations() {
    let o = dynlib(&["model", "show", "builtin://ode/vanderpol"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("dx/dt = y"), "{out}");
    assert!(out.contains("dy/dt = mu * (1 - x ** 2) * y - x"), "{out}");
    let o = dynlib(&["model", "show", "builtin://ode/izhikevich"]);
    let out = stdout(&o);
    assert!(out.contains("reset [end]: when v >= v_th"), "{out}");
}

#[test]
fn list_names_builtin_models() {
    let o = dynlib(&["model", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("builtin://ode/lorenz") && out.contains("builtin://map/henon2"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("builtin://")).count(),
        19
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = dynlib(&["model", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn tagged_models_resolve_and_list() {
    let dir = std::env::temp_dir().join(format!("dynlib-cli-tag-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/decay.toml"),
        "[model]\ntype='ode'\n[states]\nx=1\n[params]\nk=0.1\n[equations.rhs]\nx='-k*x'\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.toml"),
        "[model]\ntype='ode'\n[params]\nbeta=8/3\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dynlib"))
            .args(args)
            .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
            .env("DYN_MODEL_PATH", format!("proj={}", dir.display()))
            .output()
            .unwrap()
    };
    let o = run(&["model", "list"]);
    assert!(stdout(&o).contains("proj://sub/decay"), "{}", stdout(&o));
    let o = run(&["model", "validate", "proj://sub/decay"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A TOML error in a file names the file and shows the line with a hint.
    let o = run(&["model", "validate", "proj://broken"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let path = dir.join("broken.toml");
    for needle in [
        path.display().to_string().as_str(),
        ">>>",
        "beta=8/3",
        "Hint:",
        "^",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let o = run(&["model", "validate", "nope://x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Unknown tag 'nope'") && stderr(&o).contains("Known tags"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn steppers_list() {
    let o = dynlib(&["steppers", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for name in dynlib::runtime::stepper::registry().iter().map(|s| s.name) {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing in:\n{out}"
        );
    }
    assert!(
        out.contains("dopri5") && out.contains("atol=0.00000001"),
        "{out}"
    );
    let line = |name: &str| out.lines().find(|l| l.starts_with(name)).unwrap();
    assert!(line("rk4 ").contains("tangent=with-state"), "{out}");
    assert!(line("ab3 ").contains("tangent=alone"), "{out}");
    assert!(line("rk45 ").contains("tangent=- "), "{out}");
    let o = dynlib(&["steppers", "list", "--kind", "map"]);
    assert_eq!(stdout(&o).lines().count(), 1);
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).expect("one JSON object")
}

#[test]
fn run_json_has_every_documented_key() {
    let o = dynlib(&[
        "run",
        "builtin://ode/expdecay",
        "--t-end",
        "1",
        "--dt",
        "0.1",
        "--stepper",
        "rk4",
        "--format",
        "json",
    ]);
    let v = json(&o);
    for key in [
        "model",
        "stepper",
        "backend",
        "runner",
        "status",
        "steps",
        "native_steps",
        "t",
        "step",
        "series",
        "final",
        "events",
        "lyapunov",
        "observers",
        "timing",
        "cache",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["backend"], "interp");
    // A fixed-step run without logged events takes the fast path, and says so.
    assert_eq!(v["runner"], "fastpath");
    assert_eq!(v["lyapunov"], serde_json::Value::Null);
    assert_eq!(v["status"], "DONE");
    assert_eq!(v["steps"], 11);
    assert_eq!(v["t"].as_array().unwrap().len(), 12);
    // The runtime.md §5 number, to the bit, through the CLI.
    assert_eq!(
        v["final"]["state"]["x"].as_f64().unwrap(),
        0.36787977441249836
    );
    assert_eq!(v["series"]["x"].as_array().unwrap().len(), 12);
}

#[test]
fn run_json_events_params_ic_and_record_vars() {
    let o = dynlib(&[
        "run", "builtin://ode/izhikevich", "--t-end", "50", "--format", "json",
        "--mod", "inline:[mod]\nname='log'\n[mod.replace.events.reset]\ncond='v >= v_th'\naction=\"v = c\\nu = u + d\"\nlog=['t','v']\n",
        "--param", "I=12", "--ic", "v=-60", "--record-vars", "v,u", "--record-interval", "10",
    ]);
    let v = json(&o);
    assert_eq!(v["series"]["v"][0].as_f64().unwrap(), -60.0);
    let rows = v["events"]["reset"]["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert_eq!(
        v["events"]["reset"]["fields"],
        serde_json::json!(["t", "v"])
    );
    let keys: Vec<&String> = v["series"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["v", "u"], "series in recording order");
    assert_eq!(v["step"][1], 10);
}

#[test]
fn run_csv_and_summary() {
    let o = dynlib(&[
        "run",
        "builtin://map/logistic",
        "-n",
        "3",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "t,step,x");
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[2], "0.01,1,0.36000000000000004");
    let o = dynlib(&["run", "builtin://ode/lorenz", "--t-end", "0.5"]);
    let out = stdout(&o);
    assert!(
        out.contains("status   DONE") && out.contains("x = "),
        "{out}"
    );
}

#[test]
fn run_writes_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let o = dynlib(&[
        "run",
        "builtin://map/logistic",
        "-n",
        "2",
        "--format",
        "csv",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("t,step,x\n"));
}

#[test]
fn run_bad_options_say_what() {
    for (args, needle) in [
        (vec!["--param", "rr=3"], "did you mean 'r'"),
        (vec!["--ic", "y=1"], "unknown state 'y'"),
        (vec!["--dt", "-1"], "dt"),
        (vec!["--t-end", "5"], "N"),
        (vec!["--record-vars", "x,zz"], "zz"),
        (vec!["--stepper", "rk4"], "stepper 'rk4' is for ode models"),
        (vec!["--stepper", "rk9"], "unknown stepper 'rk9'"),
        (
            vec!["--stepper-config", "rtol=1"],
            "no configuration fields",
        ),
    ] {
        let mut full = vec!["run", "builtin://map/logistic", "-n", "10"];
        full.extend(&args);
        let o = dynlib(&full);
        let msg = stderr(&o);
        if args[0] == "--t-end" {
            // -n and --t-end together are a usage error.
            assert_eq!(o.status.code(), Some(2), "{args:?}: {msg}");
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{args:?}: {msg}");
        assert!(msg.contains(needle), "{args:?}: {msg}");
    }
    let o = dynlib(&["run", "builtin://map/logistic", "--param", "r"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("NAME=VALUE"));
}

#[test]
fn run_failure_reports_status_and_partial_results() {
    let model = "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='x*x'\n";
    let o = dynlib(&[
        "run",
        model,
        "--t-end",
        "5",
        "--dt",
        "0.1",
        "--stepper",
        "euler",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NAN_DETECTED"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["status"], "NAN_DETECTED");
    assert!(
        v["t"].as_array().unwrap().len() > 5,
        "the samples before the blow-up are kept"
    );
}

#[cfg(feature = "jit")]
#[test]
fn jit_runs_natively_with_the_interpreters_numbers() {
    let args = [
        "run",
        "builtin://ode/vanderpol",
        "--stepper",
        "rk45",
        "--t-end",
        "5",
        "--format",
        "json",
    ];
    let interp = dynlib(&args);
    assert!(interp.status.success(), "{}", stderr(&interp));
    let native = dynlib(&[&args[..], &["--jit", "--no-tier"]].concat());
    assert!(native.status.success(), "{}", stderr(&native));
    let (mut a, mut b) = (json(&interp), json(&native));
    assert_eq!(a["backend"], "interp");
    assert_eq!(b["backend"], "llvm");
    assert_eq!(a["native_steps"], 0);
    assert_eq!(b["native_steps"], b["steps"]);
    assert_eq!(
        b["cache"]["compiled"], 1,
        "a run compiles its runner unit only"
    );
    // Everything but the backend, the timings and the cache counters is identical (JSON
    // floats round-trip).
    for v in [&mut a, &mut b] {
        let o = v.as_object_mut().unwrap();
        o.remove("backend");
        o.remove("native_steps");
        o.remove("timing");
        o.remove("cache");
    }
    assert_eq!(a, b);
}

/// Runs `dynlib` with the environment variables `env` set.
#[cfg(feature = "jit")]
fn dynlib_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dynlib"));
    c.args(args)
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .env_remove("DYN_MODEL_PATH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the dynlib binary runs")
}

/// The shared libraries a `dynlib` process loaded, as the dynamic loader reports them
/// (`LD_DEBUG=libs`, glibc); `None` where the loader does not report (other C libraries).
#[cfg(all(feature = "jit", target_os = "linux"))]
fn libraries_loaded(args: &[&str]) -> Option<String> {
    let o = dynlib_env(args, &[("LD_DEBUG", "libs".as_ref())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stderr(&o);
    report.contains("calling init:").then_some(report)
}

#[cfg(all(feature = "jit", target_os = "linux"))]
#[test]
fn only_jit_runs_load_llvm() {
    let run = ["run", "builtin://ode/lorenz", "--t-end", "1"];
    let Some(interp) = libraries_loaded(&run) else {
        eprintln!("skipped: this dynamic loader does not report loaded libraries (LD_DEBUG)");
        return;
    };
    assert!(
        !interp.contains("dynlib_llvm") && !interp.contains("libLLVM"),
        "an interpreted run loaded LLVM:\n{interp}"
    );
    let native = libraries_loaded(&[&run[..], &["--jit", "--no-tier"]].concat()).unwrap();
    assert!(native.contains("dynlib_llvm"), "{native}");
    // LLVM is linked into the plugin: the shared libLLVM (and the z3, libxml2 and ICU
    // behind it) is never mapped.
    assert!(!native.contains("libLLVM"), "{native}");
}

#[cfg(feature = "jit")]
#[test]
fn a_missing_or_foreign_backend_is_a_clear_error() {
    let run = [
        "run",
        "builtin://ode/lorenz",
        "--t-end",
        "1",
        "--jit",
        "--no-tier",
    ];
    let missing = dynlib_env(
        &run,
        &[(
            "DYNLIB_LLVM_PLUGIN",
            "/nonexistent/libdynlib_llvm.so".as_ref(),
        )],
    );
    assert!(!missing.status.success());
    let e = stderr(&missing);
    assert!(e.contains("the LLVM backend is unavailable"), "{e}");
    assert!(e.contains("/nonexistent/libdynlib_llvm.so"), "{e}");
    assert!(e.contains("DYNLIB_LLVM_PLUGIN"), "{e}");
    // A file that is not a shared library at all.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libdynlib_llvm.so");
    std::fs::write(&fake, b"not a library").unwrap();
    let foreign = dynlib_env(&run, &[("DYNLIB_LLVM_PLUGIN", fake.as_os_str())]);
    assert!(!foreign.status.success());
    let e = stderr(&foreign);
    assert!(e.contains("cannot load"), "{e}");
    assert!(e.contains(&fake.display().to_string()), "{e}");
    // Interpreted runs do not need the backend at all.
    let interp = dynlib_env(&run[..4], &[("DYNLIB_LLVM_PLUGIN", fake.as_os_str())]);
    assert!(interp.status.success(), "{}", stderr(&interp));
    // A tiered run keeps its results (the interpreter's, which are the same numbers); its
    // warnings say why no step ran natively once the failure is known.
    let tiered = dynlib_env(
        &[
            "run",
            "builtin://ode/lorenz",
            "--t-end",
            "100",
            "--jit",
            "--format",
            "json",
        ],
        &[("DYNLIB_LLVM_PLUGIN", fake.as_os_str())],
    );
    assert!(tiered.status.success(), "{}", stderr(&tiered));
    let j = json(&tiered);
    assert_eq!(j["native_steps"], 0);
    assert_eq!(j["steps"], 10000);
}

#[cfg(feature = "jit")]
#[test]
fn export_sources_with_jit_writes_llvm_ir_and_assembly() {
    let dir = tempfile::tempdir().unwrap();
    let o = dynlib(&[
        "export-sources",
        "builtin://ode/lorenz",
        dir.path().to_str().unwrap(),
        "--jit",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "triplets.ll",
        "triplets.s",
        "stepper.ll",
        "stepper.s",
        "runner.ll",
        "runner.s",
        "rhs.ir",
    ] {
        assert!(
            dir.path().join(name).exists(),
            "{name} missing: {}",
            stdout(&o)
        );
    }
}

#[cfg(not(feature = "jit"))]
#[test]
fn jit_without_the_feature_is_refused_not_silently_interpreted() {
    let o = dynlib(&["run", "builtin://ode/lorenz", "--jit"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`jit` cargo feature"), "{}", stderr(&o));
}

#[test]
fn export_sources_writes_parsable_ir() {
    let dir = tempfile::tempdir().unwrap();
    let o = dynlib(&[
        "export-sources",
        "builtin://ode/vanderpol",
        dir.path().to_str().unwrap(),
        "--stepper",
        "rk45",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for role in [
        "rhs",
        "events_pre",
        "events_post",
        "update_aux",
        "jacobian",
        "jvp",
        "stepper",
        "initial_step",
        "runner",
        "program",
    ] {
        let path = dir.path().join(format!("{role}.ir"));
        assert!(path.exists(), "{role}.ir");
        assert!(stdout(&o).contains(&format!("{role}.ir")));
    }
    let text = std::fs::read_to_string(dir.path().join("program.ir")).unwrap();
    let program = dynlib_ir::parse_program(&text).expect("the exported program parses");
    assert_eq!(dynlib_ir::print_program(&program), text);
}

#[test]
fn sweep_json_has_the_grid_statuses_and_statistics() {
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=2.5:4.0:50",
        "-n",
        "1000",
        "--transient",
        "500",
        "--stat",
        "final",
        "--threads",
        "2",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["params"], serde_json::json!(["r"]));
    assert_eq!(v["points"], 50);
    let r = v["grid"]["r"].as_array().unwrap();
    assert_eq!(
        (r[16].as_f64(), r[49].as_f64()),
        (Some(2.989795918367347), Some(4.0))
    );
    assert!(v["status"].as_array().unwrap().iter().all(|s| s == "DONE"));
    // The reference's worked example (analysis.md §1.9): r = 4.0 ends at 0.0916944...
    let x = v["stats"]["x"].as_array().unwrap();
    assert_eq!(x[49].as_f64(), Some(0.09169440499610215));
    assert_eq!(x[0].as_f64(), Some(0.6000000000000001));
    // Every point's transient and run, all interpreted.
    assert_eq!(v["steps"], 50 * 1500);
    assert_eq!(v["native_steps"], 0);
}

#[test]
fn sweep_lanes_give_the_same_statistics_and_say_how_the_points_ran() {
    let run = |lanes: &str| {
        let o = dynlib(&[
            "sweep",
            "builtin://map/logistic",
            "--param",
            "r=2.5:4.0:50",
            "-n",
            "300",
            "--stat",
            "mean",
            "--lanes",
            lanes,
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)
    };
    let (alone, packed) = (run("1"), run("8"));
    assert_eq!(alone["stats"], packed["stats"]);
    assert_eq!(
        alone["lanes"],
        serde_json::json!({"width": 1, "packed_points": 0})
    );
    // 50 points in lanes of 8: six packs, two points alone.
    assert_eq!(
        packed["lanes"],
        serde_json::json!({"width": 8, "packed_points": 48})
    );
    let o = dynlib(&[
        "sweep",
        "builtin://ode/lorenz",
        "--param",
        "rho=1:2:4",
        "--stepper",
        "rk45",
        "--lanes",
        "4",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rk45 couples"), "{}", stderr(&o));
}

#[test]
fn sweep_shards_concatenate_into_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let args = |extra: &[&str], out: &std::path::Path| {
        let mut a = vec![
            "sweep",
            "builtin://ode/vanderpol",
            "--param",
            "mu=0.5:2.0:4",
            "--param",
            "mu2=1,2",
            "--t-end",
            "2",
            "--dt",
            "0.05",
            "--record-interval",
            "10",
        ];
        a.extend_from_slice(extra);
        let mut o = a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        o.push("-o".into());
        o.push(out.display().to_string());
        o
    };
    // vanderpol has one parameter: the second axis must be refused by name.
    let whole = dir.path().join("whole.csv");
    let a = args(&[], &whole);
    let o = dynlib(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mu2"), "{}", stderr(&o));
    // One axis: three shards, concatenated without their headers, are the whole file.
    let run = |extra: &[&str], out: &std::path::Path| {
        let mut a = args(extra, out);
        let i = a.iter().position(|s| s == "mu2=1,2").unwrap();
        a.drain(i - 1..=i);
        let o = dynlib(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(out).unwrap()
    };
    let all = run(&[], &whole);
    let mut joined = String::new();
    for s in 0..3 {
        let part = dir.path().join(format!("shard-{s}.csv"));
        let text = run(&["--shard", &format!("{s}/3")], &part);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        if s == 0 {
            joined.push_str(header);
            joined.push('\n');
        }
        for l in lines {
            joined.push_str(l);
            joined.push('\n');
        }
    }
    assert_eq!(joined, all);
    assert!(all.starts_with("point,mu,status,t,step,x,y\n"), "{all}");
    assert_eq!(all.lines().count(), 1 + 4 * 5);
}

#[test]
fn sweep_refuses_bad_axes_and_shards() {
    for (args, says) in [
        (vec!["--param", "r=1:2"], "neither START:STOP:COUNT"),
        (vec!["--param", "r=1:2:0"], "at least 1"),
        (
            vec!["--param", "r=1:2:3", "--shard", "3/3"],
            "I counts from 0",
        ),
        (vec!["--param", "q=1,2"], "unknown parameter 'q'; known: r"),
        (
            vec!["--param", "r=1,2", "-o", "/tmp/x.pq"],
            "use .json, .csv, .parquet, .arrow or .npz",
        ),
    ] {
        let mut a = vec!["sweep", "builtin://map/logistic", "-n", "10"];
        a.extend(args);
        let o = dynlib(&a);
        assert!(!o.status.success(), "{a:?}");
        assert!(stderr(&o).contains(says), "{a:?}: {}", stderr(&o));
    }
}

#[test]
fn sweep_csv_headers_follow_the_columns_and_bad_options_fail_the_sweep() {
    // Aux named before a state: the columns are states first, then aux, and so is the header.
    let o = dynlib(&[
        "sweep",
        "builtin://map/ikeda",
        "--param",
        "u=0.5,0.9",
        "-n",
        "2",
        "--record-vars",
        "aux.r2,x",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("point,u,status,t,step,x,aux.r2"));
    // The first sample: x = 0.1, y = 0, so r2 = 0.01.
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        first,
        ["0", "0.5", "DONE", "0", "0", "0.1", "0.010000000000000002"]
    );
    // Options wrong for every point are the sweep's error (exit 1), not one per point.
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=1,2",
        "-n",
        "5",
        "--record-vars",
        "q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("'q'"), "{}", stderr(&o));
    // So they are when the rows are written as the sweep goes: before any file is made.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.csv");
    let streamed = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "builtin://map/logistic",
            "--param",
            "r=1,2",
            "-n",
            "5",
            "-o",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        dynlib(&a)
    };
    let o = streamed(&["--record-vars", "q", "--block-points", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("'q'"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = streamed(&["--block-points", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("--block-points"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn lyapunov_exponents_through_run_and_sweep() {
    // runtime.md §4.2's Lorenz number, through `dynlib run`.
    let o = dynlib(&[
        "run",
        "builtin://ode/lorenz",
        "--t-end",
        "20",
        "--dt",
        "0.01",
        "--record-interval",
        "100",
        "--lyapunov",
        "--format",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(v["runner"], "fastpath_analysis");
    assert_eq!(v["lyapunov"].as_f64().unwrap(), 0.34868949342070366);
    let mle = &v["observers"]["lyapunov_mle"];
    assert_eq!(mle["trace"]["columns"]["mle"].as_array().unwrap().len(), 20);
    assert_eq!(mle["outputs"]["variational_mode"], 1.0);
    let o = dynlib(&[
        "run",
        "builtin://ode/lorenz",
        "--t-end",
        "1",
        "--no-fastpath",
        "--format",
        "json",
    ]);
    assert_eq!(json(&o)["runner"], "base");
    // A Lyapunov sweep: the exponents per point (analysis.md §1.4's rules), nothing
    // recorded; the spectrum with --k; as CSV one row per point.
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3.5:4:6",
        "-n",
        "1000",
        "--transient",
        "500",
        "--lyapunov",
        "--format",
        "json",
    ]);
    let v = json(&o);
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/golden/lyapunov_sweeps.json").unwrap(),
    )
    .unwrap();
    assert_eq!(v["lyapunov"], golden["logistic"]["mle"]);
    assert_eq!(v["runner"], "fastpath_analysis");
    assert!(v.get("runs").is_none(), "nothing recorded: {v}");
    let o = dynlib(&[
        "sweep",
        "builtin://map/henon",
        "--param",
        "a=1.2,1.4",
        "-n",
        "2000",
        "--lyapunov",
        "--k",
        "2",
        "--format",
        "csv",
    ]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "point,a,status,lyap0,lyap1");
    let want = &golden["henon"]["spectrum"];
    assert_eq!(
        lines[2],
        format!("1,1.4,DONE,{},{}", want[1][0], want[1][1])
    );
    // --k needs --lyapunov; a model without a declared Jacobian is observed through the
    // one derived from its right-hand side.
    assert_eq!(
        dynlib(&["run", "builtin://ode/lorenz", "--k", "2"])
            .status
            .code(),
        Some(2)
    );
    let o = dynlib(&[
        "run",
        "builtin://ode/hodgkin-huxley",
        "--t-end",
        "20",
        "--lyapunov",
        "--format",
        "json",
    ]);
    let mle = json(&o)["lyapunov"].as_f64().unwrap();
    assert!(mle.is_finite(), "{mle}");
}

/// Reads a Parquet or Arrow file into its column names and, per column, every value as
/// text (floats in Rust's shortest form, as the CSV writes them; nulls empty).
#[cfg(feature = "columnar")]
fn read_columnar(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let (fields, cols) = read_columnar_typed(path);
    (fields.into_iter().map(|f| f.0).collect(), cols)
}

/// [`read_columnar`] with each column's Arrow type, from the file's schema (so a file
/// without rows has one too).
#[cfg(feature = "columnar")]
fn read_columnar_typed(path: &std::path::Path) -> (Vec<(String, String)>, Vec<Vec<String>>) {
    use arrow_array::{Array, Float64Array, Int64Array, StringArray, UInt64Array};
    let (schema, batches) = common::read_batches(path);
    let fields: Vec<(String, String)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    let mut cols = vec![Vec::new(); fields.len()];
    for b in &batches {
        for (c, col) in b.columns().iter().enumerate() {
            let any = col.as_any();
            for i in 0..col.len() {
                cols[c].push(if col.is_null(i) {
                    String::new()
                } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                    a.value(i).to_string()
                } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                    a.value(i).to_string()
                } else if let Some(a) = any.downcast_ref::<UInt64Array>() {
                    a.value(i).to_string()
                } else {
                    any.downcast_ref::<StringArray>()
                        .unwrap()
                        .value(i)
                        .to_string()
                });
            }
        }
    }
    (fields, cols)
}

#[cfg(feature = "columnar")]
#[test]
fn sweep_parquet_and_arrow_files_hold_the_csv_rows_and_shards_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |out: &std::path::Path, extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "builtin://ode/lorenz",
            "--param",
            "rho=20:30:3",
            "--param",
            "sigma=9,10",
            "--t-end",
            "1",
            "--dt",
            "0.05",
            "--record-interval",
            "4",
            "--record-vars",
            "x,z",
        ];
        a.extend_from_slice(extra);
        let out = out.display().to_string();
        a.extend(["-o", &out]);
        let o = dynlib(&a);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let csv = dir.path().join("s.csv");
    sweep(&csv, &[]);
    let text = std::fs::read_to_string(&csv).unwrap();
    // Written block by block as the sweep goes: the same file.
    for block in ["1", "4"] {
        let part = dir.path().join(format!("blocks{block}.csv"));
        sweep(&part, &["--block-points", block]);
        assert_eq!(
            std::fs::read_to_string(&part).unwrap(),
            text,
            "blocks of {block}"
        );
    }
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for ext in ["parquet", "arrow"] {
        let path = dir.path().join(format!("s.{ext}"));
        sweep(&path, &[]);
        let (names, cols) = read_columnar(&path);
        assert_eq!(names, header, "{ext}");
        let blocks = dir.path().join(format!("blocks.{ext}"));
        sweep(&blocks, &["--block-points", "4"]);
        assert_eq!(
            read_columnar(&blocks),
            (names.clone(), cols.clone()),
            "{ext} in blocks"
        );
        assert_eq!(cols[0].len(), rows.len(), "{ext}");
        for (r, row) in rows.iter().enumerate() {
            let got: Vec<&String> = cols.iter().map(|c| &c[r]).collect();
            assert_eq!(got, row.iter().collect::<Vec<_>>(), "{ext} row {r}");
        }
        // Shards' files read one after the other are the whole sweep; with more shards
        // than points some are empty, and have the same schema.
        let (whole_fields, _) = read_columnar_typed(&path);
        for shards in [3, 8] {
            let mut joined: Vec<Vec<String>> = vec![Vec::new(); names.len()];
            for s in 0..shards {
                let part = dir.path().join(format!("part{s}of{shards}.{ext}"));
                let shard = format!("{s}/{shards}");
                // Blocks of one point within a shard too.
                let mut extra = vec!["--shard", shard.as_str()];
                if shards == 3 {
                    extra.extend(["--block-points", "1"]);
                }
                sweep(&part, &extra);
                let (f, c) = read_columnar_typed(&part);
                assert_eq!(f, whole_fields, "{ext} shard {s}/{shards}");
                for (j, col) in c.into_iter().enumerate() {
                    joined[j].extend(col);
                }
            }
            assert_eq!(joined, cols, "{ext} {shards} shards");
        }
    }
    // A Lyapunov sweep recording nothing: one row per point with the exponent.
    let path = dir.path().join("mle.parquet");
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3.5:4:6",
        "-n",
        "1000",
        "--transient",
        "500",
        "--lyapunov",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (names, cols) = read_columnar(&path);
    assert_eq!(names, ["point", "r", "status", "mle"]);
    assert_eq!(cols[3][5], "0.6931258422435592");
    // Recording as well: the exponent on every sample row; with --stat, the statistic
    // and the exponent per point (--stat records the states).
    let path = dir.path().join("mle-x.csv");
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3.5:4:6",
        "-n",
        "1000",
        "--transient",
        "500",
        "--lyapunov",
        "--record-vars",
        "x",
        "--record-interval",
        "500",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "point,r,status,t,step,x,mle");
    assert_eq!(lines.len(), 1 + 6 * 3);
    assert!(lines[18].ends_with(",0.6931258422435592"), "{}", lines[18]);
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3.5:4:6",
        "-n",
        "1000",
        "--transient",
        "500",
        "--lyapunov",
        "--stat",
        "mean",
        "--format",
        "csv",
    ]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "point,r,status,x,mle");
    assert!(lines[6].ends_with(",0.6931258422435592"), "{}", lines[6]);
    // An extension that says nothing is refused before anything runs.
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3:4:2",
        "-n",
        "5",
        "-o",
        "/tmp/x.feath",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(".arrow or .npz"), "{}", stderr(&o));
}

#[cfg(not(feature = "columnar"))]
#[test]
fn columnar_output_without_the_feature_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    let o = dynlib(&[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3:4:2",
        "-n",
        "5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`columnar` feature"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn check_jacobian_names_the_entries_a_declared_jacobian_gets_wrong() {
    let o = dynlib(&["model", "check-jacobian", "builtin://ode/lorenz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("declared vs derived: agree"), "{out}");
    assert!(
        out.contains("derived vs finite differences: agree"),
        "{out}"
    );
    // No declared Jacobian: the derived one against the differences only.
    let o = dynlib(&["model", "check-jacobian", "builtin://ode/hodgkin-huxley"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("not declared"), "{}", stdout(&o));
    // d(y')/dx of Van der Pol written without its -1: that entry, at every point.
    let bad = r#"inline:
[model]
type = "ode"
[states]
x = 1.0
y = 0.5
[params]
mu = 2.0
[equations.rhs]
x = "y"
y = "mu*(1 - x**2)*y - x"
[equations.jacobian]
expr = [["0", "1"], ["-2*mu*x*y", "mu*(1 - x**2)"]]
"#;
    let o = dynlib(&["model", "check-jacobian", bad, "--points", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("declared vs derived: 3 entries disagree"),
        "{out}"
    );
    assert!(
        out.contains("J[y, x] at point 0 (t = 0, y = [1.0, 0.5]): declared -2, derived -3"),
        "{out}"
    );
    assert!(!out.contains("J[y, y]"), "{out}");
    assert!(
        out.contains("derived vs finite differences: agree"),
        "{out}"
    );
    // At a kink the derived Jacobian takes a side; finite differences decide, so a declared
    // one that agrees with them is not wrong.
    let kink = "inline:\n[model]\ntype = \"ode\"\n[states]\nx = 0.0\n[equations.rhs]\nx = \"-abs(x)\"\n[equations.jacobian]\nexpr = [[\"-sign(x)\"]]\n";
    let o = dynlib(&["model", "check-jacobian", kink, "--points", "0"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("model    inline model (1 states: x)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("derived vs finite differences: 1 entries disagree"));
    let int = "inline:\n[model]\ntype = \"map\"\ndtype = \"int64\"\n[states]\nx = 1\n[equations.rhs]\nx = \"3*x % 7\"\n";
    let o = dynlib(&["model", "check-jacobian", int]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("int64 has no Jacobian"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sweep_takes_stepper_configuration() {
    let sweep = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "builtin://ode/vanderpol",
            "--param",
            "mu=1,50",
            "--stepper",
            "rk45",
            "--t-end",
            "5",
            "--stat",
            "final",
            "--record-vars",
            "x",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        dynlib(&a)
    };
    let loose = json(&sweep(&["--stepper-config", "rtol=1e-2"]));
    let tight = json(&sweep(&["--stepper-config", "rtol=1e-9"]));
    assert_ne!(loose["stats"]["x"], tight["stats"]["x"]);
    let o = sweep(&["--stepper-config", "jacobian_mode=exact"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("internal, external, auto"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn preset_on_run_and_sweep() {
    // `--preset bursting` is its four parameters; `--param` after it wins.
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "builtin://ode/izhikevich",
            "--t-end",
            "50",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&dynlib(&args))["final"].clone()
    };
    let by_hand = run(&[
        "--param", "a=0.02", "--param", "b=0.2", "--param", "c=-50", "--param", "d=2",
    ]);
    assert_eq!(run(&["--preset", "bursting"]), by_hand);
    assert_ne!(run(&[]), by_hand);
    assert_eq!(
        run(&[
            "--preset",
            "regular_spiking",
            "--param",
            "c=-50",
            "--param",
            "d=2"
        ]),
        by_hand
    );
    let o = dynlib(&["run", "builtin://ode/izhikevich", "--preset", "burstng"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("unknown preset 'burstng'") && e.contains("did you mean 'bursting'"),
        "{e}"
    );
    // A sweep: the preset for every point, the swept parameter over it.
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "builtin://ode/izhikevich",
            "--param",
            "c=-50,-55",
            "--t-end",
            "20",
            "--stat",
            "final",
            "--record-vars",
            "v",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&dynlib(&args))["stats"].clone()
    };
    // bursting's a and b are the defaults; its d = 2 is what changes the runs.
    let with_preset = sweep(&["--preset", "bursting"]);
    assert_ne!(with_preset, sweep(&[]));
    assert_eq!(with_preset, sweep(&["--param", "d=2"]));
}
