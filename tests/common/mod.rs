//! What the CLI's integration tests share.

use std::process::{Command, Output};

/// Runs the `dynlib` binary with `args` and returns what it did; fails the test with its
/// standard error unless it succeeded.
pub fn dynlib_ok(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args(args)
        .output()
        .expect("the dynlib binary runs");
    assert!(
        o.status.success(),
        "dynlib {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}
