//! Runner variants: the fast path gives the bits of the ordinary loop for every fixed-step
//! stepper and builtin model, on both backends, with events, lags and transients, however
//! small its buffers start; the runtime says which variant ran; batches equal `Sim` for
//! every variant.

use std::sync::Arc;

use dynlib_model::Config;
use dynlib_runtime::{
    run_batch, BatchOptions, Kernel, LyapunovMle, Observers, RunOptions, SessionCore, SetupOptions,
    Sim,
};

mod common;
use common::bits;

/// An oscillator with a lagged aux, a stop-free start-phase kick (an event without a log)
/// and an end-phase reset: what the fast path must run exactly as BASE does.
const KICKED: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
v = 0.0
[params]
k = 4.0
c = 0.1
[equations.rhs]
x = "v"
v = "-k*x - c*v + 0.5*lag_x(3)"
[aux]
energy = "0.5*v*v + 0.5*k*x*x"
[events.kick]
phase = "start"
cond = "t >= 1.0 and t < 1.1"
action = "v = v + 1.0"
[events.clamp]
phase = "end"
cond = "x > 1.2"
action = "x = 1.2"
"#;

const KICKED_MAP: &str = r#"
[model]
type = "map"
[states]
x = 0.2
[params]
r = 3.7
[equations.rhs]
x = "r*x*(1 - x) + 0.01*lag_x(2)"
[events.nudge]
phase = "end"
cond = "x > 0.95"
action = "x = 0.5"
"#;

fn backends() -> Vec<bool> {
    if cfg!(feature = "jit") {
        vec![false, true]
    } else {
        vec![false]
    }
}

fn kernel(uri: &str, stepper: Option<&str>, jit: bool) -> Arc<Kernel> {
    let mut o = SetupOptions::default()
        .jit(jit)
        .tiered(false)
        .config(Config::default());
    if let Some(s) = stepper {
        o = o.stepper(s);
    }
    dynlib_runtime::build(uri, o).unwrap()
}

/// The run through BASE and through the fast path: same bits, each variant reported.
fn same_through_both(k: &Arc<Kernel>, o: RunOptions, what: &str) {
    let mut base = Sim::new(k.clone());
    let b = base.run(o.clone().fastpath(false)).unwrap().clone();
    assert_eq!(b.variant.name(), "base", "{what}");
    let mut fast = Sim::new(k.clone());
    let f = fast.run(o.clone().fastpath(true)).unwrap().clone();
    assert_eq!(f.variant.name(), "fastpath", "{what}");
    assert_eq!(bits(&f), bits(&b), "{what}");
    assert_eq!(f.step, b.step, "{what}");
    assert_eq!(f.y_final.bits(), b.y_final.bits(), "{what}");
    assert_eq!(f.t_final.to_bits(), b.t_final.to_bits(), "{what}");
    // Buffers that start at one sample grow between the fast path's calls, never inside.
    let mut tiny = Sim::new(k.clone());
    let t = tiny.run(o.fastpath(true).capacities(1, 1)).unwrap().clone();
    assert_eq!(bits(&t), bits(&b), "{what} from one sample");
}

#[test]
fn the_fast_path_gives_the_bits_of_base_for_every_fixed_stepper() {
    let fixed: Vec<&str> = dynlib_runtime::stepper::registry()
        .iter()
        .filter(|s| !s.adaptive && s.kind == dynlib_runtime::stepper::StepperKind::Ode)
        .map(|s| s.name)
        .collect();
    assert!(fixed.len() >= 6, "{fixed:?}");
    for jit in backends() {
        for stepper in &fixed {
            let k = kernel(&format!("inline:{KICKED}"), Some(stepper), jit);
            let o = RunOptions::default().t_end(4.0).dt(0.01).record_interval(3);
            same_through_both(&k, o.clone(), stepper);
            same_through_both(
                &k,
                o.transient(0.5).record_vars(&["v", "aux.energy"]),
                stepper,
            );
        }
        let k = kernel(&format!("inline:{KICKED_MAP}"), None, jit);
        same_through_both(&k, RunOptions::default().n(500).record_interval(7), "map");
        same_through_both(
            &k,
            RunOptions::default().n(50).transient(10.0),
            "map transient",
        );
    }
}

#[test]
fn every_builtin_model_runs_the_same_through_both() {
    for jit in backends() {
        for kind in ["ode", "map"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../dynlib-model/models")
                .join(kind);
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| {
                    e.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .replace(".toml", "")
                })
                .collect();
            names.sort();
            for name in names {
                let uri = format!("builtin://{kind}/{name}");
                let k = kernel(&uri, None, jit);
                // Short runs: the models' own horizons are long for a debug build.
                let o = match kind {
                    "ode" => RunOptions::default().t_end(2.0),
                    _ => RunOptions::default().n(300),
                };
                if k.stepper().adaptive || k.model().events.iter().any(|e| !e.log.is_empty()) {
                    // Not for the fast path: the automatic choice is BASE.
                    let mut s = Sim::new(k.clone());
                    let r = s.run(o.clone()).unwrap();
                    assert_eq!(r.variant.name(), "base", "{uri}");
                    let e = s.run(o.fastpath(true)).unwrap_err();
                    assert!(e.to_string().contains("cannot take the fast path"), "{e}");
                    continue;
                }
                same_through_both(&k, o.clone(), &uri);
                // The automatic choice is the fast path.
                let mut s = Sim::new(k.clone());
                assert_eq!(s.run(o).unwrap().variant.name(), "fastpath", "{uri}");
            }
        }
    }
}

#[test]
fn observers_run_through_both_analysis_variants_with_the_same_bits() {
    for jit in backends() {
        let o = SetupOptions::default()
            .jit(jit)
            .tiered(false)
            .config(Config::default())
            .observers(Observers::one(LyapunovMle));
        let k = dynlib_runtime::build("builtin://ode/lorenz", o).unwrap();
        let opts = RunOptions::default().t_end(3.0).dt(0.01).record_interval(4);
        let mut a = Sim::new(k.clone());
        let ra = a.run(opts.clone().fastpath(false)).unwrap().clone();
        assert_eq!(ra.variant.name(), "analysis");
        let mut f = Sim::new(k.clone());
        let rf = f.run(opts.clone()).unwrap().clone();
        assert_eq!(rf.variant.name(), "fastpath_analysis");
        assert_eq!(bits(&ra), bits(&rf));
        assert_eq!(ra.observers, rf.observers);
        // The trace grows between fast-path calls like the records.
        let plan = dynlib_runtime::resolve(&k, &SessionCore::new(&k), &opts).unwrap();
        let mut spec = plan.spec().clone();
        spec.cap_trace = 1;
        spec.cap_rec = 1;
        let out = k.run(&mut k.machine(), &spec).unwrap();
        assert_eq!(out.observers, rf.observers);
    }
}

#[test]
fn batches_equal_sim_runs_through_every_variant() {
    for jit in backends() {
        for (observers, fast) in [(false, false), (false, true), (true, false), (true, true)] {
            // Observers need a Jacobian (Lorenz); the plain variants run the model with
            // events and a lag.
            let mut o = SetupOptions::default()
                .jit(jit)
                .tiered(false)
                .config(Config::default());
            let (uri, param) = if observers {
                o = o.observers(Observers::one(LyapunovMle));
                ("builtin://ode/lorenz".to_string(), "rho")
            } else {
                (format!("inline:{KICKED}"), "k")
            };
            let k = dynlib_runtime::build(&uri, o).unwrap();
            let runs: Vec<RunOptions> = (0..6)
                .map(|i| {
                    RunOptions::default()
                        .t_end(1.5)
                        .dt(0.01)
                        .param(param, 3.0 + i as f64)
                        .transient(0.25)
                        .fastpath(fast)
                })
                .collect();
            let core = SessionCore::new(&k);
            let batch = run_batch(
                &k,
                &core,
                &runs,
                &BatchOptions {
                    threads: Some(3),
                    ..Default::default()
                },
            )
            .unwrap();
            for (run, got) in runs.iter().zip(batch) {
                let got = got.unwrap().into_results();
                let mut s = Sim::new(k.clone());
                let want = s.run(run.clone()).unwrap();
                assert_eq!(got.variant, want.variant);
                assert_eq!(got.variant.observes(), observers);
                assert_eq!(!got.variant.checks_capacity(), fast);
                assert_eq!(bits(&got), bits(want));
                assert_eq!(got.observers, want.observers);
            }
        }
    }
}

#[test]
fn a_run_without_steps_needs_no_more_room_on_the_fast_path() {
    // One sample's room, and a memory limit that allows no more: both loops write the t0
    // sample and end DONE (the fast path grows nothing for steps it does not take).
    let k = kernel(&format!("inline:{KICKED}"), Some("rk4"), false);
    let o = RunOptions {
        memory_limit: Some(60),
        ..RunOptions::default().t_end(0.0).capacities(1, 1)
    };
    for fast in [false, true] {
        let mut s = Sim::new(k.clone());
        let r = s
            .run(o.clone().fastpath(fast))
            .unwrap_or_else(|e| panic!("fast path {fast}: {e}"));
        assert_eq!(r.status.name(), "DONE", "fast path: {fast}");
        assert_eq!(r.len(), 1);
    }
}
