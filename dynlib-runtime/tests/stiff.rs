//! Stiff problems with the implicit steppers: Robertson's chemical kinetics to t = 1e5
//! (rtol 1e-6, atol 1e-10) conserves its mass and ends where a tight scipy Radau ends
//! (`tests/data/golden/robertson_radau.json`, from `tools/golden_robertson.py`); the model
//! is `tests/data/models/robertson.toml`. The variable-order `bdf` is checked against
//! scipy's BDF, the method it implements (`tests/data/golden/bdf_scipy.json`, from
//! `tools/golden_bdf.py`).

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
    for stepper in ["bdf2a", "tr-bdf2a", "bdf"] {
        for jit in [false, cfg!(feature = "jit")] {
            let o = SetupOptions::default()
                .stepper(stepper)
                .jit(jit)
                .tiered(false)
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
            // error accumulates over some six thousand steps, three hundred for bdf).
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

/// The golden file of scipy's BDF and Radau on `problem`.
fn scipy_bdf(problem: &str) -> Value {
    let path = format!(
        "{}/../tests/data/golden/bdf_scipy.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all[problem].clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `bdf` on `uri` with `run`'s options (rtol and atol set from the golden file).
fn run_bdf(uri: &str, run: RunOptions, golden: &Value) -> dynlib_runtime::Results {
    let o = SetupOptions::default()
        .stepper("bdf")
        .config(Config::default());
    let mut s = dynlib_runtime::setup(uri, o).unwrap();
    let run = run
        .t_end(golden["t_end"].as_f64().unwrap())
        .stepper_option("rtol", golden["rtol"].as_f64().unwrap())
        .stepper_option("atol", golden["atol"].as_f64().unwrap());
    s.run(run).unwrap().clone()
}

#[test]
fn bdf_takes_the_steps_of_scipys_bdf_and_reuses_its_jacobians() {
    let cases = [
        (
            "robertson",
            format!("inline:{ROBERTSON}"),
            RunOptions::default(),
        ),
        (
            "vanderpol_mu100",
            "builtin://ode/vanderpol".to_string(),
            RunOptions::default().param("mu", 100.0),
        ),
    ];
    for (name, uri, run) in cases {
        let g = scipy_bdf(name);
        let r = run_bdf(&uri, run, &g);
        let stats = r.stats;
        let steps = stats.accepted as f64;
        let scipy_steps = g["bdf"]["steps"].as_f64().unwrap();
        // The same method: the same number of steps within a few percent (the first step
        // and rounding differ), and as few Jacobians and factorisations.
        assert!(
            (steps - scipy_steps).abs() <= 0.05 * scipy_steps,
            "{name}: {steps} steps, scipy {scipy_steps}"
        );
        let njev = g["bdf"]["njev"].as_f64().unwrap();
        let nlu = g["bdf"]["nlu"].as_f64().unwrap();
        assert!(
            stats.jacobians as f64 <= 1.5 * njev + 1.0,
            "{name}: {} Jacobians, scipy {njev}",
            stats.jacobians
        );
        assert!(
            stats.lu as f64 <= 1.5 * nlu + 1.0,
            "{name}: {} LU, scipy {nlu}",
            stats.lu
        );
        // Newton's work: at most newton_max_iter iterations per attempt.
        assert!(stats.newton <= 4 * (stats.accepted + stats.rejected));
        // The final state within ten times the local tolerance of a tight Radau's (a
        // global error accumulates; on Van der Pol scipy's BDF is 6e-6 off, bdf2a 5e-5).
        let radau = floats(&g["radau_y"]);
        let (rtol, atol) = (g["rtol"].as_f64().unwrap(), g["atol"].as_f64().unwrap());
        for (k, w) in radau.iter().enumerate() {
            let got = r.y_final.get(k);
            let tol = 10.0 * (rtol * w.abs() + atol);
            assert!((got - w).abs() <= tol, "{name}: y[{k}] = {got}, Radau {w}");
        }
    }
}

#[test]
fn bdf_climbs_in_order_on_a_smooth_solution() {
    // Van der Pol with mu = 1 is smooth: order 5 takes far fewer steps than order 1, and
    // each order allowed saves steps (the order selection works and is worth it).
    let steps = |max_order: f64| {
        let o = SetupOptions::default()
            .stepper("bdf")
            .config(Config::default());
        let mut s = dynlib_runtime::setup("builtin://ode/vanderpol", o).unwrap();
        let r = s
            .run(
                RunOptions::default()
                    .t_end(20.0)
                    .stepper_option("max_order", max_order),
            )
            .unwrap();
        r.stats.accepted
    };
    let by_order: Vec<u64> = (1..=5).map(|k| steps(k as f64)).collect();
    for w in by_order.windows(2) {
        assert!(w[1] < w[0], "steps by max_order 1..5: {by_order:?}");
    }
    assert!(
        by_order[4] * 4 < by_order[0],
        "steps by max_order 1..5: {by_order:?}"
    );
}

/// Exponential decay with a reset to 1 whenever x falls to 1/2.
const SAWTOOTH: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
[equations.rhs]
x = "-x"
[events.reset]
cond = "x <= 0.5"
action = "x = 1.0"
"#;

#[test]
fn bdf_restarts_its_history_when_an_event_resets_the_state() {
    // The history is of the trajectory before the reset; continuing it would ignore the
    // reset. After every reset (a sample at x = 1) the solution must follow exp(−(t − t_r)).
    for jit in [false, cfg!(feature = "jit")] {
        let o = SetupOptions::default()
            .stepper("bdf")
            .jit(jit)
            .tiered(false)
            .config(Config::default());
        let mut s = dynlib_runtime::setup(&format!("inline:{SAWTOOTH}"), o).unwrap();
        let r = s
            .run(
                RunOptions::default()
                    .t_end(5.0)
                    .stepper_option("rtol", 1e-8)
                    .stepper_option("atol", 1e-10),
            )
            .unwrap();
        let x = r.series("x").unwrap().to_vec();
        let mut t_reset = 0.0;
        let mut resets = 0;
        for (i, &t) in r.t.iter().enumerate().skip(1) {
            if x[i] == 1.0 {
                t_reset = t;
                resets += 1;
                continue;
            }
            let want = (-(t - t_reset)).exp();
            assert!(
                (x[i] - want).abs() <= 1e-6,
                "jit {jit}: x({t}) = {}, want {want} (reset at {t_reset})",
                x[i]
            );
        }
        // ln 2 apart: seven resets in t < 5.
        assert_eq!(resets, 7, "jit {jit}");
    }
}

/// A run of the kernel `k` (Robertson) from `(t0, y0)` to `t_end`, continuing from the
/// workspace `w` as given, else fresh (with the WRMS first step).
fn robertson_run(
    k: &dynlib_runtime::Kernel,
    (t0, t_end, dt): (f64, f64, f64),
    y0: &dynlib_runtime::DVec,
    w: Option<dynlib_runtime::Workspace>,
) -> dynlib_runtime::RunOutput {
    let m = k.model();
    let spec = dynlib_runtime::RunSpec {
        t0,
        t_end,
        dt,
        max_steps: 100_000,
        record_interval: 0,
        y0: y0.clone(),
        params: dynlib_runtime::DVec::from_numbers(
            k.elem(),
            &m.params.iter().map(|s| s.value).collect::<Vec<_>>(),
        ),
        config: k.stepper().config.iter().map(|f| f.default).collect(),
        explicit_dt: None,
        wrms_first_step: w.is_none(),
        workspace: w,
        rec_states: vec![],
        rec_aux: vec![],
        cap_rec: 16,
        cap_evt: 16,
        memory_limit: dynlib_runtime::run::default_memory_limit(),
        interrupt: None,
        progress: None,
        observe: false,
        fastpath: false,
        tier_switch_step: None,
        trace_stride: 0,
        cap_trace: 0,
    };
    k.run(&mut k.machine(), &spec).unwrap()
}

#[test]
fn bdf_does_not_trust_a_workspace_it_could_not_have_written() {
    // A snapshot file's workspace is checked for shape only. Native code indexes the kept
    // LU pivots without bounds checks, so pivots out of range must be refactored (which
    // gives the same factors: the resumed run is the same to the bit); an impossible order
    // or step restarts the history (a different but still accurate run).
    use dynlib_model::{load_text, LoadOptions};
    let opts = LoadOptions::default().with_config(Config::default());
    let model = std::sync::Arc::new(load_text(ROBERTSON, &opts).unwrap());
    let y0 = dynlib_runtime::DVec::from_numbers(
        dynlib_ir::Elem::F64,
        &model.states.iter().map(|s| s.value).collect::<Vec<_>>(),
    );
    for jit in [false, cfg!(feature = "jit")] {
        let bo = dynlib_runtime::BuildOptions {
            jit,
            ..Default::default()
        };
        let k = dynlib_runtime::Kernel::build_with(model.clone(), Some("bdf"), &bo).unwrap();
        let first = robertson_run(&k, (0.0, 1.0, 1e-6), &y0, None);
        let (t1, dt1, y1) = (first.t_final, first.dt_final, first.y_final.clone());
        let w = first.workspace.clone();
        let resume = |w| robertson_run(&k, (t1, 100.0, dt1), &y1, Some(w));
        let honest = resume(w.clone());
        // Pivots far out of range.
        let mut bad_piv = w.clone();
        bad_piv.indices[0] = vec![1 << 40, -7, 3];
        let r = resume(bad_piv);
        assert_eq!(r.y_final.bits(), honest.y_final.bits(), "jit {jit}");
        assert_eq!(r.steps, honest.steps, "jit {jit}");
        // An order no history has, a step that is not one.
        let slot = |name: &str| k.stepper().workspace.scalar(name).unwrap();
        for (name, value) in [("order", 17.0), ("order", 2.5), ("h_abs", f64::NAN)] {
            let mut bad = w.clone();
            bad.scalars[slot(name)] = value;
            let r = resume(bad);
            for i in 0..3 {
                let (a, b) = (r.y_final.get(i), honest.y_final.get(i));
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs() + 1e-9,
                    "jit {jit}, {name} = {value}: y{} = {a}, {b}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn bdf_halves_its_step_where_f_is_not_finite_at_the_prediction() {
    // f is finite at t = 0 only. With finite differences the Jacobian needs f at the
    // prediction: not finite there, the step must shrink (and here, since nothing helps,
    // fail) rather than ask for the same Jacobian again forever.
    const BLOWUP: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
[equations.rhs]
x = "(1e308 * 10.0 if t > 0.0 else 1.0) * x"
"#;
    for mode in [0.0, 2.0] {
        let o = SetupOptions::default()
            .stepper("bdf")
            .config(Config::default());
        let mut s = dynlib_runtime::setup(&format!("inline:{BLOWUP}"), o).unwrap();
        let e = s
            .run(
                RunOptions::default()
                    .t_end(1.0)
                    .stepper_option("jacobian_mode", mode),
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                dynlib_runtime::RuntimeError::RunFailed {
                    status: dynlib_runtime::Status::StepFail,
                    ..
                }
            ),
            "jacobian_mode {mode}: {e}"
        );
        // Each halving costs a rhs or two: some thousand halvings to an h that no longer
        // moves t, not an endless loop.
        let stats = s.results().unwrap().stats;
        assert!(stats.rhs < 10_000, "jacobian_mode {mode}: {stats:?}");
    }
}

#[test]
fn bdf_takes_a_last_step_of_one_ulp() {
    // Continuing a run to one ulp past where it ended: the step the runner asks for is
    // tried however small it is (below the minimum step 10 ε |t| here).
    let o = SetupOptions::default()
        .stepper("bdf")
        .config(Config::default());
    let mut s = dynlib_runtime::setup("builtin://ode/vanderpol", o).unwrap();
    let r = s.run(RunOptions::default().t_end(10.0)).unwrap();
    assert_eq!(r.t_final, 10.0);
    let next = f64::from_bits(10f64.to_bits() + 1);
    let r = s.run(RunOptions::default().t_end(next).resume()).unwrap();
    assert_eq!(r.status, dynlib_runtime::Status::Done);
    assert_eq!(r.t_final, next);
}
