//! Batches: many runs of one compiled kernel across threads (runtime.md §3.10, with the
//! DESIGN.md decisions).
//!
//! Each run is a [`Plan`] resolved from one shared, read-only [`SessionCore`] and its own
//! [`RunOptions`] (an initial state, parameters, anything a run takes), executed on a rayon
//! thread with that thread's own interpreter machine and buffers. Runs share nothing
//! mutable, so every run's numbers are those of the same run through [`crate::Sim::run`],
//! bit for bit, whatever the thread count; the outcomes come back in the order of the
//! options.
//!
//! A run that cannot start (a bad option) or that fails is reported for that run alone: an
//! `Err`, or an [`Execution`] whose [`Execution::failure`] says why (its partial results are
//! kept). [`BatchOptions::interrupt`] cancels the batch: runs under way stop at their next
//! chunk boundary with `USER_BREAK` (a run still in its transient is an `Err` of
//! [`RuntimeError::RunFailed`] with that status), runs not yet started are
//! [`RuntimeError::Cancelled`]. A run whose options carry an interrupt of their own
//! watches that one instead.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::RuntimeError;
use crate::interrupt::Interrupt;
use crate::kernel::Kernel;
use crate::options::RunOptions;
use crate::plan::{resolve, Execution};
use crate::state::SessionCore;

/// How far a batch is: `done` of `total` runs have finished (in any order).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Runs finished, failed or cancelled.
    pub done: usize,
    /// Runs in the batch.
    pub total: usize,
}

/// Called from the worker threads after each run.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to run a batch.
#[derive(Clone, Default)]
pub struct BatchOptions {
    /// Worker threads (default: one per core). Results do not depend on it.
    pub threads: Option<usize>,
    /// Told after each run how far the batch is.
    pub progress: Option<ProgressFn>,
    /// Cancels the batch when requested.
    pub interrupt: Option<Interrupt>,
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("threads", &self.threads)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .field("interrupt", &self.interrupt)
            .finish()
    }
}

impl BatchOptions {
    /// Uses `n` worker threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Calls `f` after each run.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Cancels the batch once `interrupt` is requested.
    pub fn interrupt(mut self, interrupt: &Interrupt) -> Self {
        self.interrupt = Some(interrupt.clone());
        self
    }
}

/// One run's outcome: its execution (check [`Execution::failure`]), or why it did not run.
pub type BatchRun = Result<Execution, RuntimeError>;

/// Runs `runs` on `kernel`, each resolved from `core` (see the module docs). Errors only
/// when the thread pool cannot be started or `threads` is 0; everything about a run is in
/// its own [`BatchRun`].
pub fn run_batch(
    kernel: &Kernel,
    core: &SessionCore,
    runs: &[RunOptions],
    options: &BatchOptions,
) -> Result<Vec<BatchRun>, RuntimeError> {
    run_batch_map(kernel, core, runs, options, |_, run| run)
}

/// [`run_batch`], with each run's outcome handed to `keep` (with the run's index) on its
/// worker as soon as the run ends, and what `keep` returns collected instead: a sweep that
/// wants one number per run keeps that number, not the run's samples, so its memory does
/// not grow with the runs' length times their number.
pub fn run_batch_map<R: Send>(
    kernel: &Kernel,
    core: &SessionCore,
    runs: &[RunOptions],
    options: &BatchOptions,
    keep: impl Fn(usize, BatchRun) -> R + Sync,
) -> Result<Vec<R>, RuntimeError> {
    let threads = match options.threads {
        Some(0) => return Err(RuntimeError::option("threads", "must be at least 1")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(runs.len().max(1)))
        .thread_name(|i| format!("dynlib-batch-{i}"))
        .build()
        .map_err(|e| RuntimeError::Internal(format!("cannot start the batch's threads: {e}")))?;
    // Counted and reported under one lock, so the callback sees 1, 2, ... in order.
    let done = std::sync::Mutex::new(0usize);
    let total = runs.len();
    let one = |machine: &mut dynlib_interp::Machine, o: &RunOptions| -> BatchRun {
        let outcome = match &options.interrupt {
            Some(stop) if stop.is_requested() => Err(RuntimeError::Cancelled),
            Some(stop) if o.interrupt.is_none() => {
                let o = o.clone().interrupt(stop);
                resolve(kernel, core, &o).and_then(|plan| plan.execute(kernel, machine))
            }
            _ => resolve(kernel, core, o).and_then(|plan| plan.execute(kernel, machine)),
        };
        if let Some(report) = &options.progress {
            let mut count = done.lock().unwrap_or_else(|e| e.into_inner());
            *count += 1;
            report(Progress {
                done: *count,
                total,
            });
        }
        outcome
    };
    Ok(pool.install(|| {
        runs.par_iter()
            .enumerate()
            .map_init(
                || kernel.machine(),
                |machine, (i, o)| keep(i, one(machine, o)),
            )
            .collect()
    }))
}
