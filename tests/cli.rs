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
    for name in ["map", "euler", "rk2", "rk4", "rk45", "ab2", "ab3"] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing in:\n{out}"
        );
    }
    assert!(
        out.contains("dopri5") && out.contains("atol=0.00000001"),
        "{out}"
    );
    let o = dynlib(&["steppers", "list", "--kind", "map"]);
    assert_eq!(stdout(&o).lines().count(), 1);
}
