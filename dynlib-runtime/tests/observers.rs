//! Observers compiled into the analysis runner: the Lyapunov exponents of the reference's
//! worked examples (runtime.md §4.2–4.3), the same bits on both backends, combined
//! observers, and the errors for models and steppers they cannot observe.

use dynlib_model::{Config, ModelKind};
use dynlib_runtime::observer::{Hook, Requirements, TangentNeed};
use dynlib_runtime::stepper::TangentMode;
use dynlib_runtime::{
    LyapunovMle, LyapunovSpectrum, Observer, ObserverResult, Observers, RunOptions, RuntimeError,
    SetupOptions, Sim,
};
use serde_json::Value;
use std::sync::Arc;

mod common;
use common::bits;

fn sim(uri: &str, stepper: Option<&str>, jit: bool, obs: Observers) -> Result<Sim, RuntimeError> {
    let mut o = SetupOptions::default()
        .jit(jit)
        .tiered(false)
        .config(Config::default())
        .observers(obs);
    if let Some(s) = stepper {
        o = o.stepper(s);
    }
    dynlib_runtime::setup(uri, o)
}

fn run(
    uri: &str,
    stepper: Option<&str>,
    jit: bool,
    obs: Observers,
    o: RunOptions,
) -> Vec<ObserverResult> {
    let mut s = sim(uri, stepper, jit, obs).unwrap();
    let r = s.run(o).unwrap();
    assert!(r.variant.observes(), "{:?}", r.variant);
    r.observers.clone()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

fn backends() -> Vec<bool> {
    if cfg!(feature = "jit") {
        vec![false, true]
    } else {
        vec![false]
    }
}

#[test]
fn logistic_map_mle_is_the_reference_s() {
    // runtime.md §4.2: r = 4, x0 = 0.4, N = 1000.
    for jit in backends() {
        let o = run(
            "builtin://map/logistic",
            None,
            jit,
            Observers::one(LyapunovMle),
            RunOptions::default().n(1000).param("r", 4.0).ic("x", 0.4),
        );
        let mle = &o[0];
        assert_eq!(mle.key, "lyapunov_mle");
        assert!(
            close(mle.mle().unwrap(), 0.6923541382413867, 1e-9),
            "{mle:?}"
        );
        assert!(close(
            mle.output("log_growth").unwrap(),
            692.3541382413867,
            1e-9
        ));
        assert_eq!(mle.output("denom"), Some(1000.0));
        assert_eq!(mle.output("steps"), Some(1000.0));
        assert_eq!(mle.output("variational_mode"), Some(0.0));
        // A trace row every step (record_interval 1), the last equal to the exponent.
        let trace = mle.trace("mle").unwrap();
        assert_eq!(trace.len(), 1000);
        assert_eq!(mle.trace_step[..3], [1, 2, 3]);
        assert_eq!(*trace.last().unwrap(), mle.mle().unwrap());
    }
}

#[test]
fn lorenz_mle_with_rk4_is_the_reference_s() {
    // runtime.md §4.2: sigma 10, rho 28, beta 8/3, x = y = z = 1, rk4, dt 0.01, T 20,
    // trace stride 100 (the record interval).
    for jit in backends() {
        let o = run(
            "builtin://ode/lorenz",
            Some("rk4"),
            jit,
            Observers::one(LyapunovMle),
            RunOptions::default()
                .t_end(20.0)
                .dt(0.01)
                .record_interval(100)
                .ic("x", 1.0)
                .ic("y", 1.0)
                .ic("z", 1.0)
                .param("sigma", 10.0)
                .param("rho", 28.0)
                .param("beta", 8.0 / 3.0),
        );
        let mle = &o[0];
        assert!(
            close(mle.mle().unwrap(), 0.34868949342070366, 1e-9),
            "{mle:?}"
        );
        assert_eq!(mle.output("variational_mode"), Some(1.0));
        assert_eq!(mle.trace("mle").unwrap().len(), 20);
        assert_eq!(*mle.trace_step.last().unwrap(), 2000);
        assert_eq!(
            *mle.trace("mle").unwrap().last().unwrap(),
            mle.mle().unwrap()
        );
    }
}

/// The Lorenz run of `tests/data/golden/lyapunov_flows.json` (tools/golden_lyapunov_flows.py).
fn lorenz_golden_run(transient: f64) -> RunOptions {
    RunOptions::default()
        .t_end(20.0)
        .dt(0.01)
        .record_interval(100)
        .transient(transient)
        .ic("x", 1.0)
        .ic("y", 1.0)
        .ic("z", 1.0)
        .param("sigma", 10.0)
        .param("rho", 28.0)
        .param("beta", 8.0 / 3.0)
}

#[test]
fn every_tangent_stepper_gives_the_reference_s_exponents_on_a_flow() {
    // The maximum exponent (combined for euler, rk2, rk4; tangent-only with its own J·v
    // history for ab2, ab3) and the spectrum (tangent-only always), with and without a
    // transient (after which the state's history goes on and the tangent's starts afresh).
    let path = format!(
        "{}/../tests/data/golden/lyapunov_flows.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for jit in backends() {
        for case in cases {
            let stepper = case["stepper"].as_str().unwrap();
            let obs = match case["observer"].as_str().unwrap() {
                "mle" => Observers::one(LyapunovMle),
                _ => Observers::one(LyapunovSpectrum::new(3)),
            };
            let transient = case["transient"].as_f64().unwrap();
            let o = run(
                "builtin://ode/lorenz",
                Some(stepper),
                jit,
                obs,
                lorenz_golden_run(transient),
            );
            let what = format!(
                "{stepper} {} transient {transient} jit {jit}",
                case["observer"]
            );
            let want = case["outputs"].as_object().unwrap();
            assert_eq!(o[0].outputs.len(), want.len(), "{what}");
            // To the bit: the same operations in the same order as the reference (the
            // JSON's numbers parse exactly: serde_json's float_roundtrip).
            for (name, value) in &o[0].outputs {
                let w = want[name].as_f64().unwrap();
                assert_eq!(
                    value.to_bits(),
                    w.to_bits(),
                    "{what}: {name} {value} against {w}"
                );
            }
        }
    }
}

#[test]
fn henon_spectrum_sums_to_the_log_of_the_contraction() {
    // The Hénon map contracts areas by |det J| = b = 0.3 each step: the exponents sum to
    // ln 0.3.
    for jit in backends() {
        let o = run(
            "builtin://map/henon",
            None,
            jit,
            Observers::one(LyapunovSpectrum::new(2)),
            RunOptions::default().n(5000).record_interval(1000),
        );
        let s = o[0].spectrum().unwrap();
        assert_eq!(s.len(), 2);
        assert!(close(s[0] + s[1], 0.3f64.ln(), 1e-9), "{s:?}");
        // The known exponents of the classic attractor (a = 1.4, b = 0.3).
        assert!((s[0] - 0.419).abs() < 0.01, "{s:?}");
        assert_eq!(o[0].trace("lyap1").unwrap().len(), 5);
    }
}

#[test]
fn both_backends_give_the_same_bits() {
    if !cfg!(feature = "jit") {
        return;
    }
    let cases: Vec<(&str, Option<&str>, Observers, RunOptions)> = vec![
        (
            "builtin://ode/lorenz",
            Some("rk4"),
            Observers::new(vec![
                Arc::new(LyapunovMle) as Arc<dyn Observer>,
                Arc::new(LyapunovSpectrum::new(3)),
            ])
            .unwrap(),
            RunOptions::default().t_end(5.0).dt(0.01).record_interval(7),
        ),
        (
            "builtin://ode/vanderpol",
            Some("rk2"),
            Observers::one(LyapunovSpectrum::new(2)),
            RunOptions::default().t_end(3.0).dt(0.01).transient(1.0),
        ),
        (
            "builtin://ode/duffing",
            Some("euler"),
            Observers::one(LyapunovMle),
            RunOptions::default()
                .t_end(3.0)
                .dt(0.001)
                .record_interval(10),
        ),
        (
            "builtin://map/henon",
            None,
            Observers::one(LyapunovMle),
            RunOptions::default().n(300),
        ),
        (
            "builtin://ode/lorenz",
            Some("ab3"),
            Observers::new(vec![
                Arc::new(LyapunovMle) as Arc<dyn Observer>,
                Arc::new(LyapunovSpectrum::new(2)),
            ])
            .unwrap(),
            RunOptions::default()
                .t_end(3.0)
                .dt(0.01)
                .transient(0.5)
                .record_interval(9),
        ),
        (
            "builtin://ode/vanderpol",
            Some("ab2"),
            Observers::one(LyapunovSpectrum::new(2)),
            RunOptions::default().t_end(3.0).dt(0.01),
        ),
    ];
    use dynlib_runtime::stepper::emit::with_unrolling;
    for (uri, stepper, obs, o) in cases {
        let a = run(uri, stepper, false, obs.clone(), o.clone());
        let b = run(uri, stepper, true, obs.clone(), o.clone());
        // The tangent steps' per-state work emitted as loops (as for large models): the
        // same bits on both backends.
        // One state an iteration, and two (a remainder on odd sizes).
        let looped: Vec<_> = [(1, false), (1, true), (2, false), (2, true)]
            .map(|(by, jit)| {
                with_unrolling(0, by, || run(uri, stepper, jit, obs.clone(), o.clone()))
            })
            .into();
        let bits = |r: &[ObserverResult]| -> Vec<u64> {
            r.iter()
                .flat_map(|o| {
                    o.outputs
                        .iter()
                        .map(|x| x.1)
                        .chain(o.trace.iter().flatten().copied())
                        .chain(o.trace_t.iter().copied())
                        .map(f64::to_bits)
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        assert_eq!(bits(&a), bits(&b), "{uri}");
        for (k, l) in looped.iter().enumerate() {
            assert_eq!(bits(&a), bits(l), "{uri}: loops, case {k}");
        }
        assert!(!a[0].trace_t.is_empty(), "{uri}");
    }
}

#[test]
fn observers_leave_the_trajectory_alone_and_combine() {
    // The analysis runner records exactly what the ordinary one records; combined
    // observers each give what they give alone; trace rows of the same step are shared.
    let o = RunOptions::default().t_end(4.0).dt(0.01).record_interval(5);
    let plain = {
        let mut s = dynlib_runtime::setup(
            "builtin://ode/lorenz",
            SetupOptions::default().config(Config::default()),
        )
        .unwrap();
        let r = s.run(o.clone()).unwrap();
        assert!(!r.variant.observes());
        assert!(r.observers.is_empty());
        r.clone()
    };
    let both = Observers::new(vec![
        Arc::new(LyapunovMle) as Arc<dyn Observer>,
        Arc::new(LyapunovSpectrum::new(2)),
    ])
    .unwrap();
    let mut s = sim("builtin://ode/lorenz", None, false, both).unwrap();
    let r = s.run(o.clone()).unwrap().clone();
    assert_eq!(bits(&r), bits(&plain));
    let alone_mle = run(
        "builtin://ode/lorenz",
        None,
        false,
        Observers::one(LyapunovMle),
        o.clone(),
    );
    let alone_spec = run(
        "builtin://ode/lorenz",
        None,
        false,
        Observers::one(LyapunovSpectrum::new(2)),
        o,
    );
    assert_eq!(r.observers[0], alone_mle[0]);
    assert_eq!(r.observers[1], alone_spec[0]);
    assert_eq!(r.observers[0].trace_t, r.observers[1].trace_t);
    assert_eq!(r.observers[0].trace_t.len(), 80);
    // A transient shifts trace times back like sample times, and observers skip it.
    let mut s = sim(
        "builtin://ode/lorenz",
        None,
        false,
        Observers::one(LyapunovMle),
    )
    .unwrap();
    let r = s
        .run(
            RunOptions::default()
                .t_end(1.0)
                .dt(0.01)
                .transient(2.0)
                .record_interval(10),
        )
        .unwrap();
    let mle = &r.observers[0];
    // The recorded second only (100 steps of 0.01, and the sliver the time shift leaves).
    assert!(
        (mle.output("denom").unwrap() - 1.0).abs() < 1e-12,
        "{mle:?}"
    );
    assert_eq!(mle.output("steps"), Some(101.0));
    assert!((mle.trace_t[0] - 0.1).abs() < 1e-12, "{:?}", mle.trace_t);
}

#[test]
fn a_trace_longer_than_its_first_buffer_grows_and_loses_nothing() {
    // Runs sized up front never grow; a trace buffer of 3 rows must grow (GROW_TRACE and
    // re-entry) to the same rows, bit for bit.
    for jit in backends() {
        let s = sim(
            "builtin://map/logistic",
            None,
            jit,
            Observers::one(LyapunovMle),
        )
        .unwrap();
        let kernel = s.kernel().clone();
        let o = RunOptions::default()
            .n(500)
            .param("r", 3.9)
            .record_interval(2);
        let plan = dynlib_runtime::resolve(&kernel, s.core(), &o).unwrap();
        let mut small = plan.spec().clone();
        small.cap_trace = 3;
        let mut m = kernel.machine();
        let grown = kernel.run(&mut m, &small).unwrap();
        let sized = kernel.run(&mut m, plan.spec()).unwrap();
        assert_eq!(grown.observers, sized.observers);
        assert_eq!(grown.observers[0].trace("mle").unwrap().len(), 250);
        assert_eq!(*grown.observers[0].trace_step.last().unwrap(), 500);
        // A re-entry takes no tangent step twice: ab2's J·v history comes out the same.
        let s = sim(
            "builtin://ode/lorenz",
            Some("ab2"),
            jit,
            Observers::one(LyapunovSpectrum::new(3)),
        )
        .unwrap();
        let kernel = s.kernel().clone();
        let o = lorenz_golden_run(0.0).t_end(2.0).record_interval(3);
        let plan = dynlib_runtime::resolve(&kernel, s.core(), &o).unwrap();
        let mut small = plan.spec().clone();
        small.cap_trace = 3;
        let mut m = kernel.machine();
        let grown = kernel.run(&mut m, &small).unwrap();
        let sized = kernel.run(&mut m, plan.spec()).unwrap();
        assert_eq!(grown.observers, sized.observers);
        assert_eq!(grown.observers[0].trace("lyap2").unwrap().len(), 66);
    }
}

#[test]
fn models_and_steppers_observers_cannot_run_on_are_refused() {
    let err = |uri: &str, stepper: Option<&str>, obs: Observers| {
        sim(uri, stepper, false, obs)
            .err()
            .expect("refused")
            .to_string()
    };
    let e = err(
        "builtin://ode/lorenz",
        Some("rk45"),
        Observers::one(LyapunovMle),
    );
    assert!(e.contains("fixed step") && e.contains("rk45"), "{e}");
    let e = err(
        "builtin://ode/lorenz",
        Some("heun"),
        Observers::one(LyapunovMle),
    );
    assert!(
        e.contains("its own scheme; heun does not (use euler, rk2, rk4, ab2, ab3)"),
        "{e}"
    );
    // The Adams–Bashforth steppers advance a tangent alone only.
    let e = err(
        "builtin://ode/lorenz",
        Some("ab2"),
        Observers::one(Rider("rider")),
    );
    assert!(
        e.contains("rider needs a stepper that advances a tangent vector with the state; ab2 does not (use euler, rk2, rk4)"),
        "{e}"
    );
    let e = err(
        "builtin://ode/lorenz",
        Some("rk4"),
        Observers::new(vec![
            Arc::new(Rider("a")) as Arc<dyn Observer>,
            Arc::new(Rider("b")),
        ])
        .unwrap(),
    );
    assert!(
        e.contains("at most one observer") && e.contains("'b'"),
        "{e}"
    );
    let e = err(
        "builtin://map/henon",
        None,
        Observers::one(LyapunovSpectrum::new(3)),
    );
    assert!(
        e.contains("needs k between 1 and the number of states (2)"),
        "{e}"
    );
    let e = Observers::new(vec![
        Arc::new(LyapunovMle) as Arc<dyn Observer>,
        Arc::new(LyapunovMle),
    ])
    .unwrap_err();
    assert!(e.contains("twice"), "{e}");
    // A resume would restart the observers' accumulators: refused, not silently wrong.
    let mut s = sim(
        "builtin://map/logistic",
        None,
        false,
        Observers::one(LyapunovMle),
    )
    .unwrap();
    s.run(RunOptions::default().n(10)).unwrap();
    let e = s
        .run(RunOptions::default().n(20).resume())
        .unwrap_err()
        .to_string();
    assert!(e.contains("fresh runs"), "{e}");
}

/// A user-defined observer: counts steps, and claims a trace row on every step while
/// writing its column only on due steps. The runner writes rows on due steps only, so the
/// trace has one row per `record_interval` steps whatever a hook reports.
#[derive(Debug)]
struct Counter {
    bad_column: bool,
}

// SAFETY: one output and one trace column through `Hook`'s checked accessors, the trace
// under `trace_due` (the `bad_column` case is caught by those checks at build time).
unsafe impl Observer for Counter {
    fn key(&self) -> &str {
        "counter"
    }
    fn signature(&self) -> String {
        format!("counter/{}", self.bad_column)
    }
    fn requirements(&self, _: dynlib_model::ModelKind) -> dynlib_runtime::observer::Requirements {
        Default::default()
    }
    fn vectors(&self, _: usize) -> usize {
        0
    }
    fn outputs(&self) -> Vec<String> {
        vec!["steps".into()]
    }
    fn traces(&self) -> Vec<String> {
        vec!["count".into()]
    }
    fn initialise(
        &self,
        _: dynlib_model::ModelKind,
        _: Option<TangentMode>,
        _: &mut [Vec<f64>],
        _: &mut [f64],
    ) {
    }
    fn emit_pre(&self, _: &mut dynlib_runtime::observer::Hook<'_, '_>) {}
    fn emit_post(
        &self,
        h: &mut dynlib_runtime::observer::Hook<'_, '_>,
    ) -> Option<dynlib_ir::Value> {
        let one = h.builder().f64(1.0);
        h.add_output(0, one);
        let due = h.trace_due();
        let col = if self.bad_column { 1 } else { 0 };
        h.when(due, |h| {
            let n = h.output(0);
            h.write_trace(col, n);
            h.builder().bool(true)
        });
        Some(h.builder().bool(true))
    }
}

#[test]
fn a_user_observer_runs_and_its_trace_rows_come_only_on_due_steps() {
    for jit in backends() {
        let o = run(
            "builtin://ode/expdecay",
            Some("euler"),
            jit,
            Observers::one(Counter { bad_column: false }),
            RunOptions::default()
                .t_end(1.0)
                .dt(0.001)
                .record_interval(7),
        );
        assert_eq!(o[0].output("steps"), Some(1000.0));
        let rows = o[0].trace("count").unwrap();
        assert_eq!(rows.len(), 1000 / 7);
        assert_eq!(rows[0], 7.0);
        assert_eq!(o[0].trace_step[1], 14);
    }
}

#[test]
#[should_panic(expected = "trace column 1 of an observer with 1 columns")]
fn an_observer_writing_past_its_columns_is_stopped_when_it_is_emitted() {
    let _ = sim(
        "builtin://ode/expdecay",
        Some("euler"),
        false,
        Observers::one(Counter { bad_column: true }),
    );
}

#[test]
fn a_run_can_leave_the_trace_out_and_keep_the_same_outputs() {
    let o = RunOptions::default().t_end(2.0).dt(0.01);
    let with = run(
        "builtin://ode/lorenz",
        None,
        false,
        Observers::one(LyapunovMle),
        o.clone(),
    );
    let without = run(
        "builtin://ode/lorenz",
        None,
        false,
        Observers::one(LyapunovMle),
        o.trace(false),
    );
    assert_eq!(with[0].outputs, without[0].outputs);
    assert_eq!(with[0].trace("mle").unwrap().len(), 200);
    assert!(without[0].trace("mle").unwrap().is_empty());
}

#[test]
fn a_shared_trace_row_holds_nan_where_an_observer_wrote_nothing() {
    // The counter writes every due step; the MLE of a map whose tangent collapses (the
    // logistic map at its superstable point r = 2, x = 0.5: J = r - 2 r x = 0) writes no
    // row of its own, so its column of the counter's rows is NaN.
    let obs = Observers::new(vec![
        Arc::new(LyapunovMle) as Arc<dyn Observer>,
        Arc::new(Counter { bad_column: false }),
    ])
    .unwrap();
    for jit in backends() {
        let o = run(
            "builtin://map/logistic",
            None,
            jit,
            obs.clone(),
            RunOptions::default().n(10).param("r", 2.0).ic("x", 0.5),
        );
        assert_eq!(o[1].trace("count").unwrap().len(), 10);
        assert!(
            o[0].trace("mle").unwrap().iter().all(|x| x.is_nan()),
            "{:?}",
            o[0]
        );
        assert_eq!(o[0].output("steps"), Some(0.0));
    }
}

/// A user observer that insists on the runner's combined tangent step (it reads nothing).
#[derive(Debug)]
struct Rider(&'static str);

// SAFETY: no outputs, no trace; its two vectors are advanced by the runner.
unsafe impl Observer for Rider {
    fn key(&self) -> &str {
        self.0
    }
    fn signature(&self) -> String {
        format!("rider/{}", self.0)
    }
    fn requirements(&self, _: ModelKind) -> Requirements {
        Requirements {
            jvp: true,
            fixed_step: true,
            tangent: Some(TangentNeed::Combined),
        }
    }
    fn vectors(&self, _: usize) -> usize {
        2
    }
    fn outputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn traces(&self) -> Vec<String> {
        Vec::new()
    }
    fn initialise(&self, _: ModelKind, _: Option<TangentMode>, v: &mut [Vec<f64>], _: &mut [f64]) {
        v[0][1] = 1.0;
    }
    fn emit_pre(&self, _: &mut Hook<'_, '_>) {}
    fn emit_post(&self, _: &mut Hook<'_, '_>) -> Option<dynlib_ir::Value> {
        None
    }
}

#[test]
fn an_observer_that_insists_on_the_combined_step_leaves_the_exponent_the_frozen_one() {
    // With the combined step taken, the maximum exponent advances its vector alone, in
    // the pre hook: then it is the first exponent of the spectrum, bit for bit (both
    // normalise the first vector alone), and says it ran tangent-only.
    for jit in backends() {
        for stepper in ["rk4", "ab2"] {
            let o = lorenz_golden_run(0.0).t_end(5.0);
            // ab2 has no combined step for the rider: the exponent runs tangent-only alone.
            let mut modules: Vec<Arc<dyn Observer>> = vec![Arc::new(LyapunovMle)];
            if stepper == "rk4" {
                modules.insert(0, Arc::new(Rider("rider")));
            }
            let obs = Observers::new(modules).unwrap();
            let r = run("builtin://ode/lorenz", Some(stepper), jit, obs, o.clone());
            let mle = r.last().unwrap();
            let spec = run(
                "builtin://ode/lorenz",
                Some(stepper),
                jit,
                Observers::one(LyapunovSpectrum::new(1)),
                o,
            );
            assert_eq!(mle.output("variational_mode"), Some(2.0), "{stepper}");
            assert_eq!(
                mle.output("log_growth").map(f64::to_bits),
                spec[0].output("log_r0").map(f64::to_bits),
                "{stepper}"
            );
        }
    }
}

#[test]
fn a_model_without_a_declared_jacobian_is_observed_through_the_derived_one() {
    // Lorenz with its [equations.jacobian] removed: the Jacobian derived from the
    // right-hand side gives the same exponent (its products are the same up to rounding);
    // a model that never declared one (Hodgkin–Huxley) is observed too.
    let load = |uri: &str| {
        dynlib_model::load(
            uri,
            &dynlib_model::LoadOptions::default().with_config(Config::default()),
        )
        .unwrap()
    };
    let mut bare = load("builtin://ode/lorenz");
    bare.jacobian = None;
    for jit in backends() {
        let build = |m: dynlib_model::Model, obs: Observers| {
            let o = dynlib_runtime::BuildOptions {
                jit,
                observers: Some(obs),
                ..Default::default()
            };
            let k = dynlib_runtime::Kernel::build_with(Arc::new(m), Some("rk4"), &o).unwrap();
            Sim::new(Arc::new(k))
        };
        let mut s = build(bare.clone(), Observers::one(LyapunovMle));
        assert!(s.kernel().functions().derived_jacobian);
        let r = s.run(lorenz_golden_run(0.0)).unwrap();
        let mle = r.observers[0].mle().unwrap();
        assert!(close(mle, 0.34868949342070366, 1e-9), "{mle}");
        let mut s = build(
            load("builtin://ode/hodgkin-huxley"),
            Observers::one(LyapunovSpectrum::new(2)),
        );
        // Observers take the product with a vector only: no n copies of the model for a
        // matrix nothing uses.
        assert!(s.kernel().functions().jvp.is_some());
        assert!(s.kernel().functions().jacobian.is_none());
        let r = s.run(RunOptions::default().t_end(20.0).dt(0.01)).unwrap();
        let sp = r.observers[0].spectrum().unwrap();
        assert!(sp.iter().all(|x| x.is_finite()), "{sp:?}");
    }
}
