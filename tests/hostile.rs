//! The command line against careless and hostile input (issue 8): outputs that are inputs,
//! interrupted runs, signals, FIFOs and directories where files belong, options that
//! cannot be honoured. Every case ends with a clear message and no data lost.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dynlib"));
    c.args(args)
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .env_remove("DYN_MODEL_PATH");
    c
}

fn dynlib(args: &[&str]) -> Output {
    command(args).output().expect("the dynlib binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `n` iterations of the logistic map, written as CSV to `out`.
fn logistic_csv(n: &str, out: &Path) -> Output {
    dynlib(&[
        "run",
        "builtin://map/logistic",
        "-n",
        n,
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
    ])
}

/// The command failed (exit code 1) with an error that says `what`.
fn fails_saying(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    assert!(stderr(o).contains(what), "{}", stderr(o));
}

const MODEL: &str = "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n";

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_survives() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.toml");
    std::fs::write(&model, MODEL).unwrap();
    let m = model.to_str().unwrap();
    let o = dynlib(&["run", m, "--t-end", "1", "-o", m]);
    fails_saying(&o, "is an input of this run");
    assert_eq!(std::fs::read_to_string(&model).unwrap(), MODEL);
    // Another spelling of the same file, and a hard link to it, are the same file.
    let other = format!("{}/./m.toml", dir.path().display());
    let o = dynlib(&["run", m, "--t-end", "1", "-o", &other]);
    assert_eq!(o.status.code(), Some(1));
    let hard = dir.path().join("hard.toml");
    std::fs::hard_link(&model, &hard).unwrap();
    let o = dynlib(&["run", m, "--t-end", "1", "-o", hard.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    // A mod file and the configuration file are inputs too.
    let modfile = dir.path().join("mod.toml");
    let mod_text = "[mod]\nname='m'\n[mod.set.states]\nx=2.0\n";
    std::fs::write(&modfile, mod_text).unwrap();
    let mf = modfile.to_str().unwrap();
    let o = dynlib(&["run", m, "--mod", mf, "--t-end", "1", "-o", mf]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&modfile).unwrap(), mod_text);
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let o = command(&["run", m, "--t-end", "1", "-o", config.to_str().unwrap()])
        .env("DYNLIB_CONFIG", &config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Any other file is written.
    let out = dir.path().join("out.json");
    let o = dynlib(&[
        "run",
        m,
        "--t-end",
        "1",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"DONE\""));
}

#[cfg(unix)]
#[test]
fn outputs_write_through_links_and_never_leave_a_torn_file() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let out = dir.path().join("out.csv");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    // As a shell redirection: the link stays, its target gets the output, with its mode.
    let o = logistic_csv("3", &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&out)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&victim)
        .unwrap()
        .starts_with("t,step,x"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&victim).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o640);
    // A run that fails before it has anything to write leaves the previous output alone,
    // and no temporary file behind.
    let before = std::fs::read(&out).unwrap();
    let o = logistic_csv("0", &out);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // A missing folder is refused before the run, naming it.
    let o = logistic_csv("3", &dir.path().join("no/such/out.csv"));
    fails_saying(&o, "does not exist");
    // Devices and FIFOs are written into, not replaced.
    let o = logistic_csv("3", Path::new("/dev/null"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let o = logistic_csv("3", &fifo);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(reader.join().unwrap().starts_with("t,step,x"));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[cfg(target_os = "linux")]
#[test]
fn a_closed_or_full_standard_output_is_handled() {
    // `| head`: the reader goes away; the run ends quietly with 141, as SIGPIPE would.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args([
            "run",
            "builtin://map/logistic",
            "-n",
            "200000",
            "--format",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(141),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    // A full disk is an error that says so.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args([
            "run",
            "builtin://map/logistic",
            "-n",
            "100000",
            "--format",
            "csv",
        ])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("cannot write to standard output"), "{text}");
}

#[cfg(unix)]
fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Gives the run time to get under way, and checks it is still going.
#[cfg(unix)]
fn let_it_run(child: &mut std::process::Child) {
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
}

/// Lets the run get under way, sends one SIGTERM, and returns how it ended and how long
/// it took after the signal.
#[cfg(unix)]
fn sigterm_once_under_way(mut child: std::process::Child) -> (Output, Duration) {
    let_it_run(&mut child);
    let sent = Instant::now();
    signal(&child, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    (o, sent.elapsed())
}

#[cfg(unix)]
#[test]
fn sigint_and_sigterm_stop_a_run_with_its_partial_results() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    for (sig, code, jit) in [(libc::SIGINT, 130, false), (libc::SIGTERM, 143, true)] {
        let out = dir.path().join(format!("run-{sig}.json"));
        let mut args = vec![
            "run",
            "builtin://ode/lorenz",
            "--t-end",
            "1e7",
            "--max-steps",
            "9000000000000000000",
            "--record-interval",
            "1000",
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
        ];
        if jit && cfg!(feature = "jit") {
            args.push("--jit");
        }
        let mut child = command(&args).stderr(Stdio::piped()).spawn().unwrap();
        let_it_run(&mut child);
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(code),
            "signal {sig}: {:?} {}",
            o.status.signal(),
            stderr(&o)
        );
        assert!(stderr(&o).contains("USER_BREAK"), "{}", stderr(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v["status"], "USER_BREAK");
        assert!(
            v["t"].as_array().unwrap().len() > 10,
            "partial results were written"
        );
        assert!(v["warnings"][0].as_str().unwrap().contains("interrupted"));
    }
}

#[cfg(unix)]
#[test]
fn a_second_signal_kills_at_once_and_leaves_no_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    // A model so slow per step (seconds) that its first step outlasts both signals.
    let slow = "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x + 1e-9*sum(sin(x*i) for i in range(100000000))'\n";
    let child = command(&["run", slow, "--t-end", "1e6", "-o"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.signal(), Some(libc::SIGINT), "{:?}", o.status);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[cfg(unix)]
#[test]
fn fifos_directories_and_devices_are_named_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.toml");
    mkfifo(&fifo);
    let started = Instant::now();
    let o = command(&["model", "validate", "builtin://ode/lorenz"])
        .env("DYNLIB_CONFIG", &fifo)
        .output()
        .unwrap();
    fails_saying(&o, "FIFO");
    let model_fifo = dir.path().join("m.toml");
    mkfifo(&model_fifo);
    let o = dynlib(&["run", model_fifo.to_str().unwrap()]);
    fails_saying(&o, "FIFO");
    let o = dynlib(&["model", "validate", dir.path().to_str().unwrap()]);
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    let o = dynlib(&["model", "validate", "/dev/zero"]);
    assert!(stderr(&o).contains("character device"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn impossible_horizons_and_counts_are_refused_naming_the_option() {
    for (args, option) in [
        (&["--t-end", "-inf"][..], "T"),
        (&["--t-end", "1e300", "--no-record"], "T"),
        (&["-n", "18446744073709551615", "--no-record"], "n"),
        (&["-n", "3", "--transient", "1e20"], "transient"),
        (
            &["-n", "5", "--record-interval", "9223372036854775808"],
            "record_interval",
        ),
        (&["-n", "9000000000000000000"], "n"),
        (&["--t0", "-inf", "-n", "3"], "t0"),
    ] {
        let mut all = vec!["run", "builtin://map/logistic"];
        all.extend(args);
        let o = dynlib(&all);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("invalid run option {option}:")),
            "{args:?}: {err}"
        );
    }
    let o = dynlib(&["run", "builtin://ode/lorenz", "--t-end", "-inf"]);
    assert!(
        stderr(&o).contains("invalid run option T: must be finite"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn int64_values_above_two_to_the_53_stay_exact_in_every_output() {
    let model = "inline:[model]\ntype='map'\ndtype='int64'\n[states]\nx=9007199254740993\n[equations.rhs]\nx='x + 2'\n[events.e]\ncond='x > 0'\nlog=['x']\n";
    let o = dynlib(&["run", model, "-n", "2", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for exact in ["9007199254740993", "9007199254740995", "9007199254740997"] {
        assert!(text.contains(exact), "{exact} in {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["series"]["x"][0].as_i64(), Some(9007199254740993));
    assert_eq!(v["final"]["state"]["x"].as_i64(), Some(9007199254740997));
    assert_eq!(
        v["events"]["e"]["rows"][1][0].as_i64(),
        Some(9007199254740997)
    );
    let o = dynlib(&[
        "run",
        model,
        "-n",
        "1",
        "--format",
        "csv",
        "--ic",
        "x=9223372036854775805",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(
        csv.contains(",9223372036854775805\n") && csv.contains(",9223372036854775807\n"),
        "{csv}"
    );
    let o = dynlib(&["run", model, "-n", "1"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("x = 9007199254740995"));
    // Too large for 64 bits is refused, not rounded.
    let o = dynlib(&["run", model, "-n", "1", "--ic", "x=9223372036854775808"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("does not fit a 64-bit integer"),
        "{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[test]
fn export_sources_never_writes_through_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ir");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("rhs.ir")).unwrap();
    let o = dynlib(&[
        "export-sources",
        "builtin://ode/lorenz",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let rhs = std::fs::read_to_string(out.join("rhs.ir")).unwrap();
    assert!(rhs.contains("function @rhs"), "{rhs}");
    assert!(!std::fs::symlink_metadata(out.join("rhs.ir"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[cfg(unix)]
#[test]
fn one_sigterm_ends_a_run_stuck_in_one_long_step() {
    use std::os::unix::process::ExitStatusExt;
    // One step takes far longer than the grace period: a scheduler's single SIGTERM must
    // still end the process, soon, with the signal's exit code and a reason.
    let slow = "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x + 1e-9*sum(sin(x*i) for i in range(1000000000))'\n";
    let child = command(&["run", slow, "--t-end", "1e6", "--no-record"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (o, waited) = sigterm_once_under_way(child);
    assert_eq!(o.status.code(), Some(143), "{:?}", o.status.signal());
    assert!(
        stderr(&o).contains("still running 3 s after the signal"),
        "{}",
        stderr(&o)
    );
    assert!(waited < Duration::from_secs(20), "took {waited:?}");
}

#[test]
fn validate_checks_the_sim_table_as_a_run_would() {
    let dir = tempfile::tempdir().unwrap();
    for (sim, want) in [
        ("stepper='rk45'\nrtoll=1e-3\n", "did you mean 'rtol'"),
        ("stepper='rk45'\nsafety=7.0\n", "[sim].safety"),
        (
            "stepper='rk4'\nt0=1e17\nt_end=1.00000000000001e17\ndt=1e-3\n",
            "does not advance",
        ),
    ] {
        let file = dir.path().join("m.toml");
        std::fs::write(
            &file,
            format!("[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n[sim]\n{sim}"),
        )
        .unwrap();
        let o = dynlib(&["model", "validate", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{sim}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{sim}: {}", stderr(&o));
    }
}

#[test]
fn export_sources_never_overwrites_the_model_itself() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("program.ir");
    let text = "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n";
    std::fs::write(&model, text).unwrap();
    let o = dynlib(&[
        "export-sources",
        model.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    fails_saying(&o, "the model's own file");
    assert_eq!(std::fs::read_to_string(&model).unwrap(), text);
    // A file where the folder should be is refused, and kept.
    let o = dynlib(&[
        "export-sources",
        "builtin://ode/lorenz",
        model.to_str().unwrap(),
    ]);
    fails_saying(&o, "not a directory");
    assert_eq!(std::fs::read_to_string(&model).unwrap(), text);
}

#[cfg(unix)]
#[test]
fn outputs_named_by_descriptor_dangling_link_or_folder_path() {
    let dir = tempfile::tempdir().unwrap();
    // `-o /dev/stdout >> log`: written to the open descriptor, so the log keeps what it had.
    let log = dir.path().join("log.csv");
    std::fs::write(&log, b"previous\n").unwrap();
    let appended = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let o = command(&[
        "run",
        "builtin://map/logistic",
        "-n",
        "3",
        "--format",
        "csv",
        "-o",
        "/dev/stdout",
    ])
    .stdout(appended)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("previous\nt,step,x"), "{text}");
    // A link to a file not yet there creates the file; the link stays a link.
    let link = dir.path().join("latest.csv");
    let target = dir.path().join("run-1.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = logistic_csv("3", &link);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .starts_with("t,step,x"));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // A path ending in '/' names a folder: refused before the run, nothing created.
    let started = Instant::now();
    let folder = format!("{}/", dir.path().join("out.csv").display());
    let o = dynlib(&[
        "run",
        "builtin://ode/lorenz",
        "--t-end",
        "1e9",
        "-o",
        &folder,
    ]);
    fails_saying(&o, "ends with '/'");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run started"
    );
    assert!(!dir.path().join("out.csv").exists());
}

#[cfg(unix)]
#[test]
fn a_fifo_nobody_reads_does_not_outlast_a_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.csv");
    mkfifo(&fifo);
    let child = command(&["run", "builtin://map/logistic", "-n", "3", "-o"])
        .arg(&fifo)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (o, waited) = sigterm_once_under_way(child);
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(stderr(&o).contains("opening the output"), "{}", stderr(&o));
    assert!(waited < Duration::from_secs(15));
}

#[cfg(target_os = "linux")]
#[test]
fn a_deep_model_builds_under_an_address_space_limit() {
    // Nested 80 levels deep: lowered on its own thread, whose stack is sized to the model
    // rather than reserved at the largest size (which `ulimit -v` refuses).
    let mut e = String::from("x");
    for _ in 1..80 {
        e = format!("1.0 + ({e})");
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("deep.toml");
    std::fs::write(
        &model,
        format!("[model]\ntype='map'\n[states]\nx=1.0\n[equations.rhs]\nx='{e}'\n"),
    )
    .unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 400000 && exec '{}' run '{}' -n 1 --format csv",
            env!("CARGO_BIN_EXE_dynlib"),
            model.display()
        ))
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("80"));
}

/// Waits (at most a minute) until `dir` holds a temporary output file of at least a MB
/// (being written, not the probe made before the run), and returns it.
#[cfg(unix)]
fn temporary_output_in(dir: &Path) -> std::path::PathBuf {
    let started = Instant::now();
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.to_string_lossy().ends_with(".tmp")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() > 1 << 20)
            });
        if let Some(p) = found {
            return p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no output written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn a_signal_that_kills_while_the_output_is_written_leaves_the_old_file_and_no_temporary() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.csv");
    for (signals, killed_by) in [
        (&[libc::SIGINT, libc::SIGINT][..], libc::SIGINT),
        (&[libc::SIGHUP][..], libc::SIGHUP),
    ] {
        std::fs::write(&out, b"old").unwrap();
        let mut child = command(&[
            "run",
            "builtin://map/logistic",
            "-n",
            "3000000",
            "--format",
            "csv",
            "-o",
        ]);
        child.arg(&out).stderr(Stdio::piped());
        // As from a terminal, whatever this test runs under (`nohup` ignores SIGHUP).
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut child, || {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                Ok(())
            });
        }
        let child = child.spawn().unwrap();
        temporary_output_in(dir.path());
        for &sig in signals {
            signal(&child, sig);
            std::thread::sleep(Duration::from_millis(100));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.signal(), Some(killed_by), "{:?}", o.status);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

#[cfg(unix)]
#[test]
fn descriptors_named_by_number_are_written_into() {
    // `-o /dev/fd/3 3>>log`: appended, as the shell redirection asks.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    std::fs::write(&log, b"line1\nline2\n").unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec '{}' run builtin://map/logistic -n 1 --format csv -o /dev/fd/3 3>>'{}'",
            env!("CARGO_BIN_EXE_dynlib"),
            log.display()
        ))
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("line1\nline2\nt,step,x"), "{text}");
    // A descriptor that is not open is an error before the run.
    let o = dynlib(&[
        "run",
        "builtin://map/logistic",
        "-n",
        "1",
        "-o",
        "/dev/fd/57",
    ]);
    fails_saying(&o, "descriptor 57 is not open");
}

#[cfg(unix)]
#[test]
fn paths_that_name_folders_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dot = format!("{}/missing/.", dir.path().display());
    let link = dir.path().join("out");
    std::os::unix::fs::symlink("newfile/", &link).unwrap();
    for out in [missing_dot.as_str(), ".", "..", link.to_str().unwrap()] {
        let started = Instant::now();
        let o = dynlib(&["run", "builtin://ode/lorenz", "--t-end", "1e9", "-o", out]);
        fails_saying(&o, "names a folder");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{out}: the run started"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[cfg(target_os = "linux")]
#[test]
fn another_users_file_in_a_sticky_folder_is_refused_before_the_run() {
    use std::os::unix::fs::PermissionsExt;
    // Needs a second user: run as root, the command runs as `nobody`.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to act as a second user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let theirs = dir.path().join("theirs.csv");
    std::fs::write(&theirs, b"old").unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
    let started = Instant::now();
    let o = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_dynlib"))
        .args(["run", "builtin://ode/lorenz", "--t-end", "1e9", "-o"])
        .arg(&theirs)
        .env("DYNLIB_CONFIG", "/nonexistent/dynlib-config.toml")
        .output()
        .unwrap();
    fails_saying(&o, "belongs to another user");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run started"
    );
    assert_eq!(std::fs::read(&theirs).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_sweep_and_writes_the_points_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep.json");
    // 64 points of 10^7 steps each: far more than the test waits for.
    let args = [
        "sweep",
        "builtin://ode/lorenz",
        "--param",
        "rho=20:30:64",
        "--t-end",
        "1e4",
        "--dt",
        "0.001",
        "--max-steps",
        "20000000",
        "--stat",
        "final",
        "--threads",
        "2",
        "-o",
        out.to_str().unwrap(),
    ];
    let child = command(&args).stderr(Stdio::piped()).spawn().unwrap();
    // Under way once the batch's two worker threads exist (a loaded machine may take a
    // while to start the process at all).
    let tasks = format!("/proc/{}/task", child.id());
    let start = Instant::now();
    while std::fs::read_dir(&tasks).map_or(0, |d| d.count()) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the sweep never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (o, took) = sigterm_once_under_way(child);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        o.status.code(),
        Some(143),
        "{:?}: {}",
        o.status.signal(),
        stderr(&o)
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let status: Vec<&str> = v["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(status.len(), 64);
    // The runs under way stopped at a step boundary; the rest never started.
    assert!(
        status.contains(&"USER_BREAK") && status.contains(&"CANCELLED"),
        "{status:?}"
    );
    assert!(status
        .iter()
        .all(|s| ["DONE", "USER_BREAK", "CANCELLED"].contains(s)));
}
