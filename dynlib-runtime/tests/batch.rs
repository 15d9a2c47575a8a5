//! Batches: many runs of one kernel across threads equal the same runs one by one through
//! `Sim`, bit for bit, whatever the thread count, on both backends; failures stay with
//! their run; progress and cancellation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dynlib_model::Config;
use dynlib_runtime::{
    run_batch, BatchOptions, Interrupt, Kernel, Results, RunOptions, RuntimeError, SessionCore,
    SetupOptions, Sim, Status,
};

mod common;
use common::{bits, OSC};

fn kernel(stepper: &str, jit: bool) -> Arc<Kernel> {
    let options = SetupOptions::default()
        .stepper(stepper)
        .jit(jit)
        .tiered(false)
        .config(Config::default());
    dynlib_runtime::build(&format!("inline:{OSC}"), options).unwrap()
}

/// Twelve runs that differ in a parameter and an initial state, with events and a transient.
fn runs() -> Vec<RunOptions> {
    (0..12)
        .map(|i| {
            RunOptions::default()
                .t_end(5.0)
                .dt(0.03125)
                .transient(0.5)
                .param("k", 1.0 + i as f64 * 0.75)
                .ic("v", 0.1 * i as f64)
                .record_vars(&["x", "v", "aux.energy"])
        })
        .collect()
}

fn check_against_sim(k: &Arc<Kernel>) {
    let core = SessionCore::new(k);
    let runs = runs();
    // A run that fails (bdf2a on the kick, which fires on every one of its small steps, as
    // in the reference) fails alike in the batch, keeping the same results.
    let one_by_one: Vec<(Results, Option<String>)> = runs
        .iter()
        .map(|o| {
            let mut sim = Sim::new(k.clone());
            let failed = sim.run(o.clone()).err().map(|e| e.to_string());
            (sim.results().unwrap().clone(), failed)
        })
        .collect();
    for threads in [1, 2, 5] {
        let batch = run_batch(k, &core, &runs, &BatchOptions::default().threads(threads)).unwrap();
        assert_eq!(batch.len(), runs.len());
        for (i, (b, (s, failed))) in batch.iter().zip(&one_by_one).enumerate() {
            let ex = b.as_ref().unwrap();
            assert_eq!(&ex.failure().map(|e| e.to_string()), failed);
            let r = ex.results();
            let what = format!("{} run {i} on {threads} threads", k.stepper().name);
            assert_eq!(bits(&r), bits(s), "{what}");
            assert_eq!(r.events, s.events, "{what}");
            assert_eq!(r.step, s.step, "{what}");
            assert_eq!(r.y_final.bits(), s.y_final.bits(), "{what}");
        }
    }
}

#[test]
fn a_batch_equals_its_runs_one_by_one_for_every_stepper() {
    let steppers = dynlib_runtime::stepper::registry()
        .iter()
        .filter(|s| s.kind == dynlib_runtime::stepper::StepperKind::Ode);
    for s in steppers {
        check_against_sim(&kernel(s.name, false));
    }
}

#[cfg(feature = "jit")]
#[test]
fn a_native_batch_equals_its_runs_one_by_one() {
    for s in ["rk4", "rk45"] {
        let k = kernel(s, true);
        assert!(k.is_jitted(dynlib_runtime::Role::Runner(
            dynlib_runtime::runner::RunnerVariant::Base
        )));
        check_against_sim(&k);
    }
}

#[test]
fn a_failing_run_fails_alone() {
    let k = kernel("rk4", false);
    let core = SessionCore::new(&k);
    let mut runs = runs();
    runs[3] = runs[3].clone().param("kk", 1.0);
    // A stiffness this large makes rk4 blow up: NAN_DETECTED, with what it recorded.
    runs[7] = runs[7].clone().param("k", 1e9);
    let batch = run_batch(&k, &core, &runs, &BatchOptions::default().threads(2)).unwrap();
    for (i, b) in batch.iter().enumerate() {
        match i {
            3 => {
                let e = b.as_ref().unwrap_err();
                assert!(
                    matches!(
                        e,
                        RuntimeError::NotFound { .. } | RuntimeError::InvalidOption { .. }
                    ),
                    "{e}"
                );
                assert!(e.to_string().contains("kk"), "{e}");
            }
            7 => {
                let ex = b.as_ref().unwrap();
                match ex.failure() {
                    Some(RuntimeError::RunFailed { status, .. }) => {
                        assert_eq!(status, Status::NanDetected)
                    }
                    other => panic!("{other:?}"),
                }
                assert!(!ex.results().t.is_empty(), "the partial results are kept");
            }
            _ => assert!(b.as_ref().unwrap().failure().is_none(), "run {i}"),
        }
    }
}

#[test]
fn progress_is_reported_once_per_run() {
    let k = kernel("rk4", false);
    let core = SessionCore::new(&k);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = BatchOptions::default()
        .threads(3)
        .progress(move |p| log.lock().unwrap().push(p));
    let runs = runs();
    let batch = run_batch(&k, &core, &runs, &options).unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|p| p.done);
    assert_eq!(seen.len(), runs.len());
    for (i, p) in seen.iter().enumerate() {
        assert_eq!((p.done, p.total), (i + 1, runs.len()));
    }
    // The steps count up to every run's.
    let steps: u64 = batch.iter().flatten().map(|e| e.output().steps).sum();
    assert!(steps > 0);
    assert_eq!(seen.last().unwrap().steps, steps);
    assert!(seen.windows(2).all(|w| w[0].steps <= w[1].steps));
}

#[test]
fn a_cancelled_batch_reports_every_run() {
    let k = kernel("rk4", false);
    let core = SessionCore::new(&k);
    let runs = runs();
    // Cancelled before it starts: nothing runs.
    let stop = Interrupt::new();
    stop.request();
    let batch = run_batch(&k, &core, &runs, &BatchOptions::default().interrupt(&stop)).unwrap();
    assert!(batch
        .iter()
        .all(|b| matches!(b, Err(RuntimeError::Cancelled))));
    // Cancelled after the first finished run, on one thread: the rest never start.
    let stop = Interrupt::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (stop.clone(), finished.clone());
    let options = BatchOptions::default()
        .threads(1)
        .interrupt(&stop)
        .progress(move |_| {
            f.fetch_add(1, Ordering::Relaxed);
            s.request();
        });
    let batch = run_batch(&k, &core, &runs, &options).unwrap();
    assert_eq!(batch.len(), runs.len());
    assert!(batch[0].as_ref().unwrap().failure().is_none());
    assert!(batch[1..]
        .iter()
        .all(|b| matches!(b, Err(RuntimeError::Cancelled))));
    assert_eq!(finished.load(Ordering::Relaxed), runs.len());
    assert!(run_batch(&k, &core, &runs, &BatchOptions::default().threads(0)).is_err());
}
