//! Golden numbers from the Python reference (tests/data/golden, copied from
//! shared/reference/golden), driven through the session API exactly as the reference's
//! oracle drove `Sim.run`: for every builtin model and every stepper built so far, the same
//! number of samples and steps, the same states; the semantics group (record_interval,
//! transient, record = false, resume, reruns) and the events_logged group.
//!
//! The reference's buffer growth replays steps and records duplicate rows (its R3, fixed
//! here): its `n_records` counts them (`duplicate_step_rows`), so samples are matched by
//! their STEP number rather than by row index.

use dynlib_model::Config;
use dynlib_runtime::{RunOptions, SetupOptions, Sim};
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!(
        "{}/../tests/data/golden/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file"))
        .expect("golden json")
}

/// Models whose trajectories amplify last-bit differences (compared at 1e-9, as the issue
/// allows; every sample and the final state are compared).
const CHAOTIC: &[&str] = &[
    "lorenz", "duffing", "henon", "henon2", "ikeda", "lozi", "logistic", "standard",
];

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        v => v.as_f64().expect("a number"),
    }
}

/// Applies one settings object of the oracle: a run, or `{"call": "reset"}`.
fn apply(sim: &mut Sim, s: &Value, jacobian_mode: Option<f64>) {
    if s["call"] == "reset" {
        sim.reset("initial").unwrap();
        return;
    }
    let mut o = RunOptions::default();
    // The reference's Jacobian for the implicit steppers (dynlib's default is `auto`).
    if let Some(mode) = jacobian_mode {
        o = o.stepper_option("jacobian_mode", mode);
    }
    for (k, v) in s.as_object().unwrap() {
        match k.as_str() {
            "T" => o.t_end = Some(number(v)),
            "N" => o.n = v.as_u64(),
            "dt" => o.dt = Some(number(v)),
            "record_interval" => o.record_interval = v.as_u64(),
            "transient" => o.transient = Some(number(v)),
            "record" => o.record = v.as_bool(),
            "resume" => o.resume = v.as_bool().unwrap(),
            "jacobian_mode" => {
                let name = v.as_str().unwrap();
                let mode = dynlib_runtime::stepper::config_choice("jacobian_mode", name);
                o = o.stepper_option("jacobian_mode", mode.unwrap());
            }
            other => panic!("unhandled oracle setting {other}"),
        }
    }
    sim.run(&o).unwrap();
}

fn check(model: &str, case: &Value) -> bool {
    let stepper = case["stepper"].as_str().unwrap();
    let r = &case["runs"]["nojit"];
    // Cases of steppers not registered here (yet) are skipped.
    if dynlib_runtime::stepper::lookup(stepper).is_none()
        || r.get("error").is_some_and(|e| !e.is_null())
    {
        return false;
    }
    let uri = format!("builtin://{model}");
    let mut options = SetupOptions::default()
        .stepper(stepper)
        .config(Config::default());
    for m in r["mods"].as_array().into_iter().flatten() {
        options = options.with_mod(m.as_str().unwrap());
    }
    let mut sim = dynlib_runtime::setup(&uri, &options).unwrap();
    let mode = r["stepper_config"]["jacobian_mode"]
        .as_str()
        .map(|m| dynlib_runtime::stepper::config_choice("jacobian_mode", m).unwrap());
    match &r["settings"] {
        Value::Array(list) => list.iter().for_each(|s| apply(&mut sim, s, mode)),
        s => apply(&mut sim, s, mode),
    }
    let res = sim.results().unwrap();
    let name = model.split('/').nth(1).unwrap();
    let what = format!("{model} {stepper} {}", case["label"]);
    assert_eq!(
        res.status.name(),
        r["status_name"].as_str().unwrap(),
        "{what}"
    );
    let dups = r["duplicate_step_rows"].as_u64().unwrap_or(0);
    if stepper != "rk45" || dups == 0 {
        assert_eq!(
            res.len() as u64,
            r["n_records"].as_u64().unwrap() - dups,
            "{what}: samples"
        );
        assert_eq!(
            res.step_count,
            r["step_count_final"].as_u64().unwrap(),
            "{what}: steps"
        );
    }
    let chaotic = CHAOTIC.contains(&name);
    let rel = if chaotic || stepper == "rk45" {
        1e-9
    } else {
        1e-12
    };
    let names = res.names().to_vec();
    // The reference's event-buffer growth (its cap_evt starts at 1) replays the step that
    // logged the second event with the step size suggested after it; for an adaptive stepper
    // that changes the trajectory from there on. Only what precedes it is comparable.
    let replay = match r["events"]["record_index"].as_array() {
        Some(idx) if stepper == "rk45" && idx.len() > 1 => idx[1].as_u64().unwrap() as usize,
        _ => usize::MAX,
    };
    // Where the reference's own two paths differ (numpy's `x**2` calls libm pow, numba's
    // compiled code multiplies; we multiply, as DESIGN.md asks), chaotic runs amplify the
    // last-bit difference: a value passes when it matches either path.
    let jit = &case["runs"]["jit"];
    let jit_ok = jit.get("error").is_none_or(|e| e.is_null()) && jit["samples"].is_array();
    let matches = |got: f64, key: &dyn Fn(&Value) -> &Value| {
        close(got, number(key(r)), rel) || (jit_ok && close(got, number(key(jit)), rel))
    };
    let samples = r["samples"].as_array().unwrap();
    for (n, s) in samples.iter().enumerate() {
        let step = s["step"].as_i64().unwrap();
        let i = res
            .step
            .iter()
            .position(|&k| k == step)
            .unwrap_or_else(|| panic!("{what}: no sample of step {step}"));
        if i > replay {
            continue;
        }
        // An adaptive stepper's times follow its states: either path's (see `matches`).
        let t_of = |run: &Value| number(&run["samples"][n]["t"]);
        assert!(
            close(res.t[i], t_of(r), 1e-14) || (jit_ok && close(res.t[i], t_of(jit), 1e-14)),
            "{what}: t[{i}] {} vs {}",
            res.t[i],
            s["t"]
        );
        for k in 0..s["state"].as_array().unwrap().len() {
            let got = res.column(&names[k]).unwrap().number(i).as_f64();
            assert!(
                matches(got, &|run: &Value| &run["samples"][n]["state"][k]),
                "{what}: state {k} at sample {i}: {got} vs {} (jit path {})",
                s["state"][k],
                jit["samples"][n]["state"][k]
            );
        }
    }
    if replay == usize::MAX {
        for k in 0..r["final_state"].as_array().unwrap().len() {
            assert!(
                matches(res.y_final.get(k), &|run: &Value| &run["final_state"][k]),
                "{what}: final state {k}: {} vs {}",
                res.y_final.get(k),
                r["final_state"][k]
            );
        }
        if dups == 0 {
            let sum_t: f64 = res.t.iter().sum();
            assert!(
                close(sum_t, number(&r["checksums"]["sum_t"]), 1e-12),
                "{what}: sum of t"
            );
        }
        assert!(
            close(res.t_final, number(&r["t_final"]), 1e-14),
            "{what}: t_final"
        );
    }
    let ev = &r["events"];
    if let Some(logged) = ev["logged"].as_object() {
        for (event, table) in logged {
            let got = res.event(event).unwrap();
            let fields: Vec<&str> = table["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            assert_eq!(got.fields, fields, "{what}: {event} fields");
            let rows = table["rows"].as_array().unwrap();
            if replay == usize::MAX {
                assert_eq!(got.len(), rows.len(), "{what}: {event} rows");
            }
            for (row, want) in
                got.rows
                    .iter()
                    .zip(rows)
                    .take(if replay == usize::MAX { usize::MAX } else { 1 })
            {
                for (a, b) in row.iter().zip(want.as_array().unwrap()) {
                    assert!(
                        close(a.as_f64(), number(b), rel),
                        "{what}: {event} row {row:?} vs {want}"
                    );
                }
            }
            // The row points at the last sample before the event: for end-phase events the
            // pre-step sample, so the next sample is the event's own step.
            let t = got.column("t").unwrap();
            for (k, &idx) in got.record_index.iter().enumerate() {
                let idx = idx as usize;
                assert!(
                    res.t[idx] < t[k] && res.t[idx + 1] >= t[k],
                    "{what}: {event} record index"
                );
            }
        }
    }
    true
}

#[test]
fn every_builtin_model_matches_the_reference() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for b in dynlib_model::uri::builtin_models() {
        let model = format!("{}/{}", b.kind, b.name);
        let g = golden(&format!("{}_{}", b.kind, b.name));
        for case in g["cases"].as_array().unwrap() {
            if check(&model, case) {
                *checked
                    .entry(format!("stepper {}", case["stepper"].as_str().unwrap()))
                    .or_default() += 1;
                *checked
                    .entry(case["group"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    assert!(checked["main"] >= 60, "{checked:?}");
    // Every ODE model with each implicit stepper, and with its declared Jacobian
    // (jacobian_mode external).
    assert_eq!(checked["stepper bdf2"], 18, "{checked:?}");
    assert_eq!(checked["stepper sdirk2"], 18, "{checked:?}");
    assert_eq!(checked["stepper bdf2a"], 18, "{checked:?}");
    assert_eq!(checked["stepper tr-bdf2a"], 18, "{checked:?}");
    assert_eq!(checked["jacobian_external"], 24, "{checked:?}");
    assert_eq!(checked["semantics"], 12, "{checked:?}");
    // The reference's exp-if rk45 case died with Python's OverflowError in exp(); see
    // `exp_overflow_is_a_rejected_step` for what happens here.
    assert_eq!(checked["events_logged"], 14, "{checked:?}");
}

/// Where the reference's interpreted rk45 raised OverflowError from `math.exp`, exp
/// overflows to inf here (libm semantics, as the reference's JIT path does), the stage is
/// non-finite, and rk45 shrinks the step: the run completes and logs its spikes.
#[test]
fn exp_overflow_is_a_rejected_step() {
    let g = golden("ode_exp-if");
    let case = g["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "events_logged" && c["stepper"] == "rk45")
        .unwrap();
    let r = &case["runs"]["nojit"];
    let mut options = SetupOptions::default()
        .stepper("rk45")
        .config(Config::default());
    for m in r["mods"].as_array().unwrap() {
        options = options.with_mod(m.as_str().unwrap());
    }
    let mut sim = dynlib_runtime::setup("builtin://ode/exp-if", &options).unwrap();
    let res = sim
        .run(RunOptions::default().t_end(100.0).dt(0.01))
        .unwrap();
    assert!(res.ok());
    assert_eq!(*res.t.last().unwrap(), 100.0);
    let spikes = res.event("reset").unwrap();
    assert_eq!(
        spikes.len(),
        2,
        "the fixed-step runs of this case log two spikes"
    );
    for v in spikes.column("v").unwrap() {
        assert_eq!(v, -75.0);
    }
}

/// runtime.md §5: x' = -x, T = 1, dt = 0.1, sliver steps included.
#[test]
fn expdecay_table() {
    for (stepper, samples, steps, x) in [
        ("euler", 12, 11, 0.34867844009999993),
        ("rk2", 12, 11, 0.3685409848335518),
        ("rk4", 12, 11, 0.36787977441249836),
        ("ab2", 12, 11, 0.3694061611234082),
        ("ab3", 12, 11, 0.3679852339365322),
        ("rk45", 8, 7, 0.367880331765365),
    ] {
        let options = SetupOptions::default()
            .stepper(stepper)
            .config(Config::default());
        let mut sim = dynlib_runtime::setup("builtin://ode/expdecay", &options).unwrap();
        let res = sim.run(RunOptions::default().t_end(1.0).dt(0.1)).unwrap();
        assert_eq!((res.len(), res.step_count), (samples, steps), "{stepper}");
        assert_eq!(res.y_final.get(0), x, "{stepper}");
        assert_eq!(*res.t.last().unwrap(), 1.0, "{stepper}");
        if stepper == "rk45" {
            assert_eq!(sim.session().dt, 0.19553515714462177);
            assert!(close(sim.results().unwrap().t[1], 0.001468043799, 1e-9));
        } else {
            assert_eq!(res.t[10], 0.9999999999999999, "{stepper}: the sliver step");
        }
    }
}

/// Where the reference's buffer growth changed an adaptive trajectory, its numbers with
/// buffers too big to grow (tools/golden_fixed_buffers.py) are what we must match, whatever
/// the initial capacities.
#[test]
fn adaptive_runs_match_the_reference_with_huge_buffers() {
    let data = golden("fixed_buffers");
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let model = case["model"].as_str().unwrap().replacen('_', "/", 1);
        let mut options = SetupOptions::default()
            .stepper("rk45")
            .config(Config::default());
        for m in case["mods"].as_array().into_iter().flatten() {
            options = options.with_mod(m.as_str().unwrap());
        }
        for caps in [1, 1 << 20] {
            let mut sim = dynlib_runtime::setup(&format!("builtin://{model}"), &options).unwrap();
            let s = &case["settings"];
            let o = RunOptions::default()
                .t_end(number(&s["T"]))
                .dt(number(&s["dt"]))
                .capacities(caps, caps);
            let res = sim.run(&o).unwrap();
            let what = format!("{model} caps {caps}");
            assert_eq!(
                res.len() as u64,
                case["n_records"].as_u64().unwrap(),
                "{what}"
            );
            assert_eq!(
                res.step_count,
                case["step_count_final"].as_u64().unwrap(),
                "{what}"
            );
            for (a, b) in res.t.iter().zip(case["t"].as_array().unwrap()) {
                assert!(close(*a, number(b), 1e-9), "{what}: t {a} vs {b}");
            }
            for (a, b) in res
                .y_final
                .to_f64()
                .iter()
                .zip(case["final_state"].as_array().unwrap())
            {
                assert!(close(*a, number(b), 1e-9), "{what}: final {a} vs {b}");
            }
            let want_idx: Vec<i64> = case["record_index"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(
                res.events
                    .iter()
                    .map(|e| e.record_index)
                    .collect::<Vec<_>>(),
                want_idx,
                "{what}"
            );
            for (name, table) in case["events"].as_object().unwrap() {
                let got = res.event(name).unwrap();
                let rows = table["rows"].as_array().unwrap();
                assert_eq!(got.len(), rows.len(), "{what}: {name}");
                for (row, want) in got.rows.iter().zip(rows) {
                    for (a, b) in row.iter().zip(want.as_array().unwrap()) {
                        assert!(
                            close(a.as_f64(), number(b), 1e-9),
                            "{what}: {name} {row:?} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
