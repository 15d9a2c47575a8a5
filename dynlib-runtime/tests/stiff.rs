//! Stiff problems with the implicit steppers: Robertson's chemical kinetics to t = 1e5
//! (rtol 1e-6, atol 1e-10) conserves its mass and ends where a tight scipy Radau ends
//! (`tests/data/golden/robertson_radau.json`, from `tools/golden_robertson.py`); the model
//! is `tests/data/models/robertson.toml`.

use dynlib_model::Config;
use dynlib_runtime::{RunOptions, SetupOptions};
use serde_json::Value;

const ROBERTSON: &str = include_str!("../../tests/data/models/robertson.toml");

#[test]
fn robertson_conserves_mass_and_ends_where_radau_ends() {
    let path = format!(
        "{}/../tests/data/golden/robertson_radau.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want: Vec<f64> = golden["y"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let (rtol, atol) = (1e-6, 1e-10);
    for stepper in ["bdf2a", "tr-bdf2a"] {
        for jit in [false, cfg!(feature = "jit")] {
            let o = SetupOptions::default()
                .stepper(stepper)
                .jit(jit)
                .config(Config::default());
            let mut s = dynlib_runtime::setup(&format!("inline:{ROBERTSON}"), o).unwrap();
            let r = s.run(RunOptions::default()).unwrap();
            assert_eq!(r.t_final, 1e5, "{stepper}");
            // y1 + y2 + y3 = 1 at every step.
            let cols: Vec<Vec<f64>> = ["y1", "y2", "y3"]
                .iter()
                .map(|n| r.series(n).unwrap().to_vec())
                .collect();
            for (i, t) in r.t.iter().enumerate() {
                let mass = cols[0][i] + cols[1][i] + cols[2][i];
                assert!((mass - 1.0).abs() <= 1e-10, "{stepper}: mass {mass} at {t}");
            }
            // The final state within ten times the local tolerance of Radau's (a global
            // error accumulates over some six thousand steps).
            for (k, w) in want.iter().enumerate() {
                let got = r.y_final.get(k);
                let tol = 10.0 * (rtol * w.abs() + atol);
                assert!(
                    (got - w).abs() <= tol,
                    "{stepper}: y{} = {got}, Radau {w}",
                    k + 1
                );
            }
        }
    }
}

#[test]
fn sim_sets_jacobian_mode_by_name() {
    let with_sim = |mode: &str| format!("inline:{ROBERTSON}jacobian_mode = \"{mode}\"\n");
    let run = |uri: &str, option: Option<f64>| {
        let o = SetupOptions::default()
            .stepper("bdf2a")
            .config(Config::default());
        let mut s = dynlib_runtime::setup(uri, o)?;
        let mut r = RunOptions::default().t_end(10.0);
        if let Some(m) = option {
            r = r.stepper_option("jacobian_mode", m);
        }
        Ok::<_, dynlib_runtime::RuntimeError>(s.run(r)?.y_final.bits())
    };
    let internal = run(&format!("inline:{ROBERTSON}"), Some(0.0)).unwrap();
    assert_eq!(run(&with_sim("internal"), None).unwrap(), internal);
    assert_ne!(run(&with_sim("auto"), None).unwrap(), internal);
    let e = run(&with_sim("exact"), None).unwrap_err().to_string();
    assert!(
        e.contains("[sim].jacobian_mode") && e.contains("internal, external, auto"),
        "{e}"
    );
}
