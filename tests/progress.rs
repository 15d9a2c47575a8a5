//! The progress line, under a pseudo-terminal: shown on a terminal's standard error (time
//! reached, steps or points per second, ETA), never in redirected output, never with
//! `--quiet`, and never inside the results.
#![cfg(unix)]

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// A pseudo-terminal: (controller, the terminal end).
fn pty() -> (std::fs::File, OwnedFd) {
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the integers; the null pointers ask
    // for no name and the default settings and size.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned here alone.
    unsafe {
        (
            std::fs::File::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Runs dynlib with `args`, its standard error on a terminal (or a pipe, with
/// `terminal = false`) and its standard output a pipe: (stdout, what stderr showed).
fn run(args: &[&str], terminal: bool) -> (String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dynlib"));
    // Draw from the first report on, so a short run shows it.
    c.args(args).env("DYNLIB_PROGRESS_AFTER_MS", "0");
    c.stdout(Stdio::piped()).stdin(Stdio::null());
    if !terminal {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        return (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
    }
    let (mut controller, terminal) = pty();
    c.stderr(Stdio::from(terminal));
    let child = c.spawn().unwrap();
    // Our copy of the terminal end goes with the command, so reads end with the child.
    drop(c);
    // Drained while it runs: a full terminal buffer would block the child.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // The terminal end closes with the child: then reads fail (EIO) or end.
        while let Ok(n) = controller.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    (String::from_utf8(o.stdout).unwrap(), reader.join().unwrap())
}

const RUN: &[&str] = &[
    "run",
    "builtin://ode/lorenz",
    "--t-end",
    "300",
    "--no-record",
];

#[test]
fn a_run_shows_progress_on_a_terminal_and_nowhere_else() {
    let (out, shown) = run(RUN, true);
    assert!(shown.contains("run    t = "), "{shown:?}");
    assert!(shown.contains(" of 300"), "{shown:?}");
    assert!(
        shown.contains("steps/s") && shown.contains("ETA"),
        "{shown:?}"
    );
    // Erased before the results: the line ends cleared.
    assert!(shown.ends_with("\r\x1b[2K"), "{shown:?}");
    assert!(out.starts_with("model    builtin://ode/lorenz"), "{out}");
    assert!(!out.contains('\x1b') && !out.contains("steps/s"), "{out}");

    // JSON on standard output stays JSON.
    let (out, shown) = run(&[RUN, &["--format", "json"]].concat(), true);
    assert!(shown.contains("steps/s"), "{shown:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "DONE");

    let (_, shown) = run(&[RUN, &["--quiet"]].concat(), true);
    assert!(!shown.contains("steps/s"), "--quiet: {shown:?}");
    let (_, err) = run(RUN, false);
    assert!(
        !err.contains("steps/s") && !err.contains('\x1b'),
        "a pipe: {err:?}"
    );
}

#[test]
fn a_sweep_counts_points() {
    let sweep = &[
        "sweep",
        "builtin://map/logistic",
        "--param",
        "r=3:4:64",
        "-n",
        "20000",
        "--stat",
        "mean",
        "--threads",
        "1",
    ];
    let (out, shown) = run(sweep, true);
    assert!(shown.contains("sweep  "), "{shown:?}");
    assert!(
        shown.contains(" of 64 points") && shown.contains("points/s"),
        "{shown:?}"
    );
    assert!(!out.contains('\x1b'), "{out}");
    let (_, shown) = run(&[&sweep[..], &["-q"]].concat(), true);
    assert!(!shown.contains("points/s"), "{shown:?}");
    let (_, err) = run(sweep, false);
    assert!(!err.contains("points/s"), "{err:?}");
}
