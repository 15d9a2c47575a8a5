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
//!
//! Runs that differ only in their initial states and parameters go side by side in
//! **lanes** ([`crate::plan::lanes`], [`BatchOptions::lanes`]): a group of them is one run
//! of the model replicated as many times, which advances them together and gives each the
//! bits it gives alone; a group whose packed run fails (possibly one lane's doing) runs
//! its plans one by one, so a failure still stays with its run.

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::RuntimeError;
use crate::interrupt::Interrupt;
use crate::kernel::Kernel;
use crate::options::RunOptions;
use crate::plan::{lanes, resolve, Execution, Plan};
use crate::run::Status;
use crate::state::SessionCore;
use dynlib_interp::Machine;

/// How far a batch is: `done` of `total` runs have finished (in any order).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Runs finished, failed or cancelled.
    pub done: usize,
    /// Runs in the batch.
    pub total: usize,
    /// The steps the finished runs took (transients included).
    pub steps: u64,
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
    /// Runs packed side by side into one run of a replicated model ([`lanes`]): `None`
    /// packs by default where it pays (the kernel can, the batch has at least
    /// [`AUTO_LANES_GROUPS`] groups of [`lanes::default_width`], and native code without a
    /// disk cache has [`AUTO_LANES_NATIVE_STEPS`] steps to do), `Some(1)` never, `Some(w)`
    /// packs `w` runs at a time (at most [`lanes::MAX_WIDTH`]) and is an error for a kernel
    /// that cannot. Results do not depend on it, bit for bit.
    pub lanes: Option<usize>,
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("threads", &self.threads)
            .field("progress", &self.progress.as_ref().map(|_| "Fn"))
            .field("interrupt", &self.interrupt)
            .field("lanes", &self.lanes)
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

    /// Packs `width` runs at a time into lanes (1: never; see [`BatchOptions::lanes`]).
    pub fn lanes(mut self, width: usize) -> Self {
        self.lanes = Some(width);
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
/// when the thread pool cannot be started, `threads` is 0, or the lanes asked for cannot be
/// (0, too many, a kernel that cannot run lanes, a lane kernel that fails to build);
/// everything about a run is in its own [`BatchRun`].
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
    run_batch_of(
        kernel,
        core,
        runs.len(),
        |i| Cow::Borrowed(&runs[i]),
        options,
        keep,
    )
}

/// [`run_batch_map`] over `count` runs whose options `options_of(i)` makes on the worker
/// that runs them (a sweep's ten thousand points are not built one by one first).
pub(crate) fn run_batch_of<'a, R: Send>(
    kernel: &Kernel,
    core: &SessionCore,
    count: usize,
    options_of: impl Fn(usize) -> Cow<'a, RunOptions> + Sync,
    options: &BatchOptions,
    keep: impl Fn(usize, BatchRun) -> R + Sync,
) -> Result<Vec<R>, RuntimeError> {
    let threads = thread_count(options)?;
    let lane = lane_kernel(kernel, count, options.lanes, || {
        (count > 0)
            .then(|| resolve(kernel, core, &options_of(0)).ok())
            .flatten()
    })?;
    let width = lane.as_ref().map_or(1, |(w, _)| *w);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(count.div_ceil(width).max(1)))
        .thread_name(|i| format!("dynlib-batch-{i}"))
        .build()
        .map_err(|e| RuntimeError::Internal(format!("cannot start the batch's threads: {e}")))?;
    // Counted and reported under one lock, so the callback sees 1, 2, ... in order.
    let done = std::sync::Mutex::new((0usize, 0u64));
    let total = count;
    let finish = |i: usize, outcome: BatchRun| -> R {
        if let Some(report) = &options.progress {
            let mut count = done.lock().unwrap_or_else(|e| e.into_inner());
            count.0 += 1;
            count.1 += outcome.as_ref().map_or(0, |e| e.output().steps);
            report(Progress {
                done: count.0,
                total,
                steps: count.1,
            });
        }
        keep(i, outcome)
    };
    let plan = |o: &RunOptions| -> Result<Plan, RuntimeError> {
        match &options.interrupt {
            Some(stop) if stop.is_requested() => Err(RuntimeError::Cancelled),
            Some(stop) if o.interrupt.is_none() => {
                resolve(kernel, core, &o.clone().interrupt(stop))
            }
            _ => resolve(kernel, core, o),
        }
    };
    // A group of `width` runs is packed into one run of the lane kernel when their plans
    // allow; otherwise (and for the last, shorter group) its runs go one by one.
    let group = |machine: &mut Machine, start: usize| -> Vec<R> {
        let end = (start + width).min(count);
        let plans: Vec<Result<Plan, RuntimeError>> =
            (start..end).map(|i| plan(&options_of(i))).collect();
        let single = |machine: &mut Machine, plans: Vec<Result<Plan, RuntimeError>>| -> Vec<R> {
            (start..)
                .zip(plans)
                .map(|(i, p)| {
                    // A run not started when the batch is cancelled is cancelled, here too.
                    let cancelled = options.interrupt.as_ref().is_some_and(|s| s.is_requested());
                    let run = match p {
                        Ok(_) if cancelled => Err(RuntimeError::Cancelled),
                        p => p.and_then(|p| p.execute(kernel, machine)),
                    };
                    finish(i, run)
                })
                .collect()
        };
        let Some((_, lk)) = lane.as_ref().filter(|_| end - start == width) else {
            return single(machine, plans);
        };
        if plans.iter().any(Result::is_err) {
            return single(machine, plans);
        }
        let ok: Vec<Plan> = plans.into_iter().flatten().collect();
        let Some(packed) = lanes::pack(&ok, kernel, lk) else {
            return single(machine, ok.into_iter().map(Ok).collect());
        };
        match packed.execute(lk, machine) {
            // Whatever else ended the packed run may be one lane's doing (a NaN, a fault):
            // each run then goes alone and ends as it would.
            Ok(ex) if matches!(ex.output().status, Status::Done | Status::UserBreak) => (start..)
                .zip(lanes::unpack(ex, ok, kernel))
                .map(|(i, ex)| finish(i, Ok(ex)))
                .collect(),
            _ => single(machine, ok.into_iter().map(Ok).collect()),
        }
    };
    if lane.is_none() {
        // Each run alone: no groups to gather.
        return Ok(pool.install(|| {
            (0..count)
                .into_par_iter()
                .map_init(
                    || kernel.machine(),
                    |machine, i| {
                        let run = plan(&options_of(i)).and_then(|p| p.execute(kernel, machine));
                        finish(i, run)
                    },
                )
                .collect()
        }));
    }
    // Each group fills its own slots; the runs are then gathered in parallel too (tens of
    // thousands of outcomes are megabytes: moving them on one thread would not scale).
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(count).collect();
    Ok(pool.install(|| {
        slots.par_chunks_mut(width).enumerate().for_each_init(
            || kernel.machine(),
            |machine, (g, chunk)| {
                for (slot, r) in chunk.iter_mut().zip(group(machine, g * width)) {
                    *slot = Some(r);
                }
            },
        );
        slots
            .into_par_iter()
            .map(|r| r.expect("every group fills its slots"))
            .collect()
    }))
}

/// The threads a batch runs on: `options.threads`, else every core.
pub(crate) fn thread_count(options: &BatchOptions) -> Result<usize, RuntimeError> {
    match options.threads {
        Some(0) => Err(RuntimeError::option("threads", "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The lanes a batch of `count` runs packs its runs into (1: none), `first` the first
/// run's plan: what [`run_batch_of`] would choose (building the lane kernel it would
/// use, which the kernel keeps), so a batch split into parts packs every part alike.
pub(crate) fn lane_width(
    kernel: &Kernel,
    count: usize,
    first: Option<Plan>,
    options: &BatchOptions,
) -> Result<usize, RuntimeError> {
    Ok(lane_kernel(kernel, count, options.lanes, || first)?.map_or(1, |(w, _)| w))
}

/// The lane kernel a batch of `runs` runs packs them into, with its width: `want` lanes
/// (1: none; insisting on lanes the kernel cannot run is an error that says why), or by
/// default [`lanes::default_width`] when the kernel can run lanes, the batch has at least
/// [`AUTO_LANES_GROUPS`] groups of that width, and for native code without a disk cache
/// the runs take [`AUTO_LANES_NATIVE_STEPS`] steps together (the lane kernel is built, and
/// for native code compiled, once per kernel: a short batch would not repay it; the
/// first run's plan gives the steps of each). A default
/// lane kernel that cannot be built leaves the runs to go one by one.
fn lane_kernel(
    kernel: &Kernel,
    runs: usize,
    want: Option<usize>,
    first: impl FnOnce() -> Option<Plan>,
) -> Result<Option<(usize, Arc<Kernel>)>, RuntimeError> {
    let why_not = lanes::refusal(kernel);
    // Native code without a disk cache compiles the lane kernel in every process: worth it
    // for a batch of many steps.
    let worth = |plan: Option<Plan>| {
        !kernel.is_native() || kernel.has_disk_cache() || {
            let steps = plan.map_or(0.0, |p| p.steps_estimate());
            steps * runs as f64 >= AUTO_LANES_NATIVE_STEPS
        }
    };
    match want {
        Some(0) => Err(RuntimeError::option(
            "lanes",
            "must be at least 1 (1: no lanes)",
        )),
        Some(1) => Ok(None),
        Some(w) if w > lanes::MAX_WIDTH => Err(RuntimeError::option(
            "lanes",
            format!(
                "{w} lanes are more than the {} a pack may have",
                lanes::MAX_WIDTH
            ),
        )),
        // No group would be full: nothing to pack, nothing to build.
        Some(w) if w > runs => Ok(None),
        Some(w) => match why_not {
            Some(why) => Err(RuntimeError::option(
                "lanes",
                format!("these runs cannot run in lanes: {why}"),
            )),
            None => Ok(Some((w, kernel.lane_kernel(w)?))),
        },
        None => {
            let w = lanes::default_width(kernel.model().states.len());
            if why_not.is_some() || w < 2 || runs < AUTO_LANES_GROUPS * w || !worth(first()) {
                return Ok(None);
            }
            Ok(kernel.lane_kernel(w).ok().map(|k| (w, k)))
        }
    }
}

/// The fewest groups of lanes a batch needs before it packs its runs by default.
pub const AUTO_LANES_GROUPS: usize = 8;

/// The fewest steps (all runs together) for which a batch of native code packs its runs
/// by default when the kernel has no disk cache: compiling the lane kernel costs about
/// what 10⁷ steps save (some 150 ms); with a disk cache it is compiled once, ever.
pub const AUTO_LANES_NATIVE_STEPS: f64 = 1e7;
