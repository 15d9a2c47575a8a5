//! Golden numbers from the Python reference (tests/data/golden, copied from
//! shared/reference/golden): for every builtin model and every stepper built so far, the
//! same number of samples and steps, and the same states.

use std::sync::Arc;

use dynlib_model::{load, Config, LoadOptions, ModelKind};
use dynlib_runtime::{Kernel, RunSpec};
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!(
        "{}/../tests/data/golden/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file"))
        .expect("golden json")
}

/// Models whose trajectories amplify last-bit differences (compared with a looser tolerance).
const CHAOTIC: &[&str] = &[
    "lorenz", "duffing", "henon", "henon2", "ikeda", "lozi", "logistic", "standard",
];
const STEPPERS: &[&str] = &["map", "euler", "rk2", "rk4", "rk45", "ab2", "ab3"];

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn spec_for(kernel: &Kernel, settings: &Value) -> RunSpec {
    let m = &kernel.model;
    let cfg: Vec<f64> = kernel
        .stepper
        .config
        .iter()
        .map(|f| match f.name {
            "atol" => m.sim.atol,
            "rtol" => m.sim.rtol,
            _ => f.default,
        })
        .collect();
    let dt = settings["dt"].as_f64();
    let (t_end, max_steps) = match m.kind {
        ModelKind::Ode => (
            settings["T"].as_f64().unwrap_or(m.sim.t_end),
            m.sim.max_steps,
        ),
        ModelKind::Map => (0.0, settings["N"].as_u64().unwrap_or(m.sim.max_steps)),
    };
    RunSpec {
        t0: m.sim.t0,
        t_end,
        dt: dt.unwrap_or(m.sim.dt),
        max_steps,
        record_interval: 1,
        y0: m.states.iter().map(|s| s.value.as_f64()).collect(),
        params: m.params.iter().map(|s| s.value.as_f64()).collect(),
        config: cfg,
        explicit_dt: dt,
        rec_states: (0..m.states.len()).collect(),
        rec_aux: vec![],
        cap_rec: 1024,
        cap_evt: 16,
    }
}

#[test]
fn main_group_matches_the_reference() {
    let opts = LoadOptions::default().with_config(Config::default());
    let mut checked = 0;
    for b in dynlib_model::uri::builtin_models() {
        let g = golden(&format!("{}_{}", b.kind, b.name));
        let model = Arc::new(load(&format!("builtin://{}/{}", b.kind, b.name), &opts).unwrap());
        for case in g["cases"].as_array().unwrap() {
            let stepper = case["stepper"].as_str().unwrap();
            if case["group"] != "main" || !STEPPERS.contains(&stepper) {
                continue;
            }
            let r = &case["runs"]["nojit"];
            if r.get("error").is_some_and(|e| !e.is_null()) {
                continue;
            }
            let kernel = Kernel::build(model.clone(), Some(stepper)).unwrap();
            let mut machine = kernel.machine();
            let out = kernel
                .run(&mut machine, &spec_for(&kernel, &r["settings"]))
                .unwrap();
            let what = format!("{}/{} {stepper}", b.kind, b.name);
            assert_eq!(
                out.status.name(),
                r["status_name"].as_str().unwrap(),
                "{what}"
            );
            assert_eq!(
                out.t.len() as u64,
                r["n_records"].as_u64().unwrap(),
                "{what}: samples"
            );
            assert_eq!(
                out.steps,
                r["step_count_final"].as_u64().unwrap(),
                "{what}: steps"
            );
            let rel = if CHAOTIC.contains(&b.name) || stepper == "rk45" {
                1e-9
            } else {
                1e-12
            };
            let chaotic = CHAOTIC.contains(&b.name);
            for s in r["samples"].as_array().unwrap() {
                let i = s["index"].as_u64().unwrap() as usize;
                // Late samples of chaotic runs are compared only as far as the reference's
                // own two paths agree; early ones exactly.
                if chaotic && i > 200 {
                    continue;
                }
                assert!(
                    close(out.t[i], s["t"].as_f64().unwrap(), 1e-14),
                    "{what}: t[{i}]"
                );
                for (k, x) in s["state"].as_array().unwrap().iter().enumerate() {
                    let want = x.as_f64().unwrap();
                    assert!(
                        close(out.states[k][i], want, rel),
                        "{what}: state {k} at sample {i}: {} vs {want}",
                        out.states[k][i]
                    );
                }
            }
            if !chaotic {
                for (k, x) in r["final_state"].as_array().unwrap().iter().enumerate() {
                    let want = x.as_f64().unwrap();
                    assert!(
                        close(out.y_final[k], want, rel),
                        "{what}: final state {k}: {} vs {want}",
                        out.y_final[k]
                    );
                }
                let sum_t: f64 = out.t.iter().sum();
                assert!(
                    close(sum_t, r["checksums"]["sum_t"].as_f64().unwrap(), 1e-12),
                    "{what}: sum of t"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} cases checked");
}

/// runtime.md §5: x' = -x, T = 1, dt = 0.1, sliver steps included.
#[test]
fn expdecay_table() {
    let opts = LoadOptions::default().with_config(Config::default());
    let model = Arc::new(load("builtin://ode/expdecay", &opts).unwrap());
    for (stepper, samples, steps, x) in [
        ("euler", 12, 11, 0.34867844009999993),
        ("rk2", 12, 11, 0.3685409848335518),
        ("rk4", 12, 11, 0.36787977441249836),
        ("ab2", 12, 11, 0.3694061611234082),
        ("ab3", 12, 11, 0.3679852339365322),
        ("rk45", 8, 7, 0.367880331765365),
    ] {
        let kernel = Kernel::build(model.clone(), Some(stepper)).unwrap();
        let settings: Value = serde_json::json!({"T": 1.0, "dt": 0.1});
        let out = kernel
            .run(&mut kernel.machine(), &spec_for(&kernel, &settings))
            .unwrap();
        assert_eq!((out.t.len(), out.steps), (samples, steps), "{stepper}");
        assert_eq!(out.y_final[0], x, "{stepper}");
        assert_eq!(*out.t.last().unwrap(), 1.0, "{stepper}");
        if stepper == "rk45" {
            assert_eq!(out.dt_final, 0.19553515714462177);
            assert!(close(out.t[1], 0.001468043799, 1e-9));
        } else {
            assert_eq!(out.t[10], 0.9999999999999999, "{stepper}: the sliver step");
        }
    }
}
