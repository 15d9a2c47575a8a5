//! The `dynlib` command line, end to end.

use std::process::{Command, Output};

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
