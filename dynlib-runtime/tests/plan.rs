//! Runs without a session: `resolve` a plan from a shared core, `execute` it on a kernel,
//! `record` it into results — what a batch does — give what `Sim::run` gives, bit for bit,
//! also across threads, and resuming through `Execution::committed` equals a session's
//! resume. Plans, cores and results of another kernel are refused.

use std::sync::Arc;

use dynlib_model::Config;
use dynlib_runtime::{
    resolve, Kernel, Results, RunOptions, RuntimeError, SessionCore, SetupOptions, Sim,
};

mod common;
use common::{bits, OSC};

fn kernel(stepper: &str) -> Arc<Kernel> {
    let options = SetupOptions::default()
        .stepper(stepper)
        .config(Config::default());
    dynlib_runtime::build(&format!("inline:{OSC}"), options).unwrap()
}

/// One run from `core` with no session: resolve, execute, record.
fn run_alone(k: &Kernel, core: &SessionCore, o: &RunOptions) -> Results {
    let plan = resolve(k, core, o).unwrap();
    let ex = plan.execute(k, &mut k.machine()).unwrap();
    assert!(ex.failure().is_none());
    ex.results()
}

fn same(a: &Results, b: &Results) {
    assert_eq!(bits(a), bits(b));
    assert_eq!(a.step, b.step);
    assert_eq!(a.events, b.events);
    assert_eq!(a.warnings, b.warnings);
    assert_eq!((a.t_final, a.step_count), (b.t_final, b.step_count));
    assert_eq!(a.y_final.bits(), b.y_final.bits());
}

fn options(k: f64) -> RunOptions {
    RunOptions::default()
        .t_end(6.0)
        .dt(0.03125)
        .transient(1.0)
        .param("k", k)
        .record_vars(&["x", "v", "aux.energy"])
}

#[test]
fn a_plan_without_a_session_gives_what_a_session_run_gives() {
    let steppers = dynlib_runtime::stepper::registry()
        .iter()
        .filter(|s| s.kind == dynlib_runtime::stepper::StepperKind::Ode);
    for stepper in steppers {
        let k = kernel(stepper.name);
        let core = SessionCore::new(&k);
        for stiffness in [2.0, 4.0, 9.0] {
            // A run that fails (bdf2a on the kick, which fires on every one of its small
            // steps, as in the reference) fails alike, keeping the same results.
            let plan = resolve(&k, &core, &options(stiffness)).unwrap();
            let ex = plan.execute(&k, &mut k.machine()).unwrap();
            let mut s = Sim::new(k.clone());
            let with = s.run(options(stiffness));
            assert_eq!(
                ex.failure().map(|e| e.to_string()),
                with.as_ref().err().map(|e| e.to_string()),
                "{} k = {stiffness}",
                stepper.name
            );
            same(&ex.results(), s.results().unwrap());
        }
    }
}

#[test]
fn plans_from_one_core_run_on_many_threads() {
    let k = kernel("rk45");
    let core = SessionCore::new(&k);
    let sweep = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0];
    let serial: Vec<Results> = sweep
        .iter()
        .map(|&p| run_alone(&k, &core, &options(p)))
        .collect();
    let threaded: Vec<Results> = std::thread::scope(|scope| {
        let handles: Vec<_> = sweep
            .iter()
            .map(|&p| {
                let (k, core) = (&k, &core);
                scope.spawn(move || run_alone(k, core, &options(p)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (a, b) in serial.iter().zip(&threaded) {
        same(a, b);
    }
    // The parameter reached the runs: different stiffness, different trajectories.
    assert_ne!(bits(&serial[0]), bits(&serial[5]));
}

#[test]
fn resuming_through_committed_cores_equals_a_session_resume() {
    let k = kernel("ab3");
    let first = RunOptions::default().t_end(2.0).dt(0.0625);
    let second = RunOptions::default().t_end(5.0).resume();
    // Without a session: the first plan's committed core is where the second resolves.
    let core = SessionCore::new(&k);
    let plan = resolve(&k, &core, &first).unwrap();
    let ex = plan.execute(&k, &mut k.machine()).unwrap();
    let mut results = ex.results();
    let core = ex.committed();
    let plan = resolve(&k, &core, &second).unwrap();
    assert!(plan.resume());
    let ex = plan.execute(&k, &mut k.machine()).unwrap();
    ex.record(&mut results).unwrap();
    let core = ex.committed();
    // With one.
    let mut s = Sim::new(k.clone());
    s.run(first).unwrap();
    s.run(second).unwrap();
    same(&results, s.results().unwrap());
    assert_eq!(&core.state, s.session());
    assert_eq!(results.segments.len(), 2);
}

#[test]
fn resolving_a_bad_plan_says_what_and_leaves_the_core_alone() {
    let k = kernel("rk4");
    let mut s = Sim::new(k.clone());
    s.run(RunOptions::default().t_end(1.0)).unwrap();
    let before = s.core().state.clone();
    let bad = [
        (RunOptions::default().t_end(0.5).resume(), "T"),
        (RunOptions::default().param("q", 1.0), "params"),
        (RunOptions::default().stepper_option("atol", 1e-9), "atol"),
        (
            RunOptions::default().record_vars(&["x", "x"]),
            "record_vars",
        ),
    ];
    for (o, option) in bad {
        match resolve(&k, s.core(), &o) {
            Err(RuntimeError::InvalidOption { option: got, .. }) => assert_eq!(got, option),
            other => panic!("{option}: {other:?}"),
        }
    }
    assert_eq!(&s.core().state, &before);
    // And a session run with the same options fails the same way, changing nothing.
    assert!(s.run(RunOptions::default().t_end(0.5).resume()).is_err());
    assert_eq!(s.session(), &before);
}

#[test]
fn plans_cores_and_results_of_another_kernel_are_refused() {
    let (a, b) = (kernel("rk4"), kernel("heun"));
    let core_a = SessionCore::new(&a);
    let o = RunOptions::default().t_end(1.0);
    // A core of another kernel, even one of the same shapes.
    let err = resolve(&b, &core_a, &o).unwrap_err();
    assert!(err.to_string().contains("another kernel"), "{err}");
    // A plan run on another kernel.
    let plan = resolve(&a, &core_a, &o).unwrap();
    let err = plan.clone().execute(&b, &mut b.machine()).unwrap_err();
    assert!(err.to_string().contains("another kernel"), "{err}");
    // An execution recorded into results of other columns or another model.
    let ex = plan.execute(&a, &mut a.machine()).unwrap();
    let plan_b = resolve(&b, &SessionCore::new(&b), &o).unwrap();
    let mut foreign = plan_b.execute(&b, &mut b.machine()).unwrap().results();
    let before = foreign.t.clone();
    let err = ex.record(&mut foreign).unwrap_err();
    assert!(err.to_string().contains("another model"), "{err}");
    assert_eq!(foreign.t, before, "refused results are unchanged");
    let only_x = resolve(&a, &core_a, &o.clone().record_vars(&["x"])).unwrap();
    let mut narrow = only_x.execute(&a, &mut a.machine()).unwrap().results();
    assert!(ex.record(&mut narrow).is_err());
    // A core edited out of shape is an error, never a panic.
    let mut bent = SessionCore::new(&a);
    bent.state.stepper_config = vec![1.0; 3];
    let err = resolve(&a, &bent, &o).unwrap_err();
    assert!(matches!(err, RuntimeError::Shape { .. }), "{err}");
    let mut bent = SessionCore::new(&a);
    bent.state.y.resize(1);
    let err = resolve(&a, &bent, &o.clone().ic("v", 1.0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("the session core needs 2 state values, got 1"),
        "{err}"
    );
}
