//! Runs without a session: `resolve` a plan from a shared core, `execute` it on a kernel,
//! `record` it into results — what a batch does — give what `Sim::run` gives, bit for bit,
//! also across threads, and resuming through `Plan::committed` equals a session's resume.

use std::sync::Arc;

use dynlib_model::Config;
use dynlib_runtime::{
    resolve, Kernel, Results, RunOptions, RuntimeError, SessionCore, SetupOptions, Sim,
};

mod common;
use common::OSC;

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
    assert!(plan.failure(&ex).is_none());
    let mut results = plan.new_results(k);
    plan.record(k, &ex, &mut results).unwrap();
    results
}

fn bits(r: &Results) -> Vec<Vec<u64>> {
    let mut all = vec![r.t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()];
    for name in r.names() {
        all.push(
            r.series(name)
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect(),
        );
    }
    all
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
            let alone = run_alone(&k, &core, &options(stiffness));
            let mut s = Sim::new(k.clone());
            let with = s.run(options(stiffness)).unwrap();
            same(&alone, with);
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
    let mut results = plan.new_results(&k);
    plan.record(&k, &ex, &mut results).unwrap();
    let core = plan.committed(&core, &ex);
    let plan = resolve(&k, &core, &second).unwrap();
    assert!(plan.resume);
    let ex = plan.execute(&k, &mut k.machine()).unwrap();
    plan.record(&k, &ex, &mut results).unwrap();
    let core = plan.committed(&core, &ex);
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
