//! Parameter sweeps (runtime.md §4.4, analysis.md §1, with the fixes its §8 asks for): a
//! grid of parameter values, one run per grid point as a [`crate::batch`] on one compiled
//! kernel, and what users draw from them: a statistic of each recorded variable per point
//! (the scalar sweep) or the recorded samples per point (the trajectory sweep, bifurcation
//! data).
//!
//! - A grid is the Cartesian product of its axes, the last axis varying fastest (as
//!   `itertools.product` and numpy's C order). An axis is evenly spaced, computed exactly as
//!   `numpy.linspace` computes it (so a sweep sees the reference's parameter bits), or an
//!   explicit list.
//! - Every run starts from the given core (a session's current state, as the reference's
//!   baseline) with the point's parameters set; the core is never changed (A8 fixed).
//! - A run that fails, or records nothing, gives NaN statistics and says why in its status
//!   (A4 fixed: the reference returned the last finite value of a divergent run).
//! - [`Grid::shard`] picks a deterministic contiguous slice of the points, so a sweep can be
//!   spread over a batch scheduler's job array; the slices concatenate, in shard order, into
//!   the whole sweep.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::batch::{run_batch_of, BatchOptions, BatchRun};
use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::options::RunOptions;
use crate::results::Results;
use crate::run::Status;
use crate::state::SessionCore;

/// `count` evenly spaced values from `start` to `stop`, bit for bit as `numpy.linspace`
/// (endpoint included): value i is `i * step + start` with `step = (stop - start) /
/// (count - 1)` (when the step is 0, `(i / (count - 1)) * (stop - start) + start`), and the
/// last value is exactly `stop`.
pub fn linspace(start: f64, stop: f64, count: usize) -> Vec<f64> {
    let delta = stop - start;
    if count <= 1 {
        return (0..count).map(|_| 0.0 * delta + start).collect();
    }
    let div = (count - 1) as f64;
    let step = delta / div;
    let mut v: Vec<f64> = (0..count)
        .map(|i| {
            let i = i as f64;
            if step == 0.0 {
                (i / div) * delta + start
            } else {
                i * step + start
            }
        })
        .collect();
    v[count - 1] = stop;
    v
}

/// The most values one axis may have (their values are held in memory; a grid of several
/// axes may have many more points, each shard computing only its own).
pub const MAX_AXIS: usize = 100_000_000;

/// One axis of a grid: the values one parameter takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// `count` values from `start` to `stop` ([`linspace`]).
    Linspace {
        /// The first value.
        start: f64,
        /// The last value.
        stop: f64,
        /// How many (at least 1).
        count: usize,
    },
    /// These values, in this order.
    Values(Vec<f64>),
}

impl Axis {
    /// Its values.
    pub fn values(&self) -> Vec<f64> {
        match self {
            Axis::Linspace { start, stop, count } => linspace(*start, *stop, *count),
            Axis::Values(v) => v.clone(),
        }
    }

    /// Parses `START:STOP:COUNT` or `v1,v2,...` (a single value is a one-value list).
    pub fn parse(spec: &str) -> Result<Axis, String> {
        let number = |s: &str| -> Result<f64, String> {
            let t = s.trim();
            t.parse::<f64>()
                .map_err(|_| format!("'{t}' is not a number (in '{spec}')"))
        };
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [start, stop, count] => {
                let count: usize = count.trim().parse().map_err(|_| {
                    format!(
                        "the count '{}' must be a whole number of at least 1 (in '{spec}')",
                        count.trim()
                    )
                })?;
                if count == 0 {
                    return Err(format!("the count must be at least 1 (in '{spec}')"));
                }
                if count > MAX_AXIS {
                    return Err(format!(
                        "{count} values are more than the {MAX_AXIS} an axis may have (in '{spec}')"
                    ));
                }
                let (start, stop) = (number(start)?, number(stop)?);
                if !start.is_finite() || !stop.is_finite() {
                    return Err(format!("the ends must be finite (in '{spec}')"));
                }
                Ok(Axis::Linspace { start, stop, count })
            }
            [list] => {
                let values = list
                    .split(',')
                    .map(number)
                    .collect::<Result<Vec<f64>, String>>()?;
                Ok(Axis::Values(values))
            }
            _ => Err(format!(
                "'{spec}' is neither START:STOP:COUNT nor a list v1,v2,..."
            )),
        }
    }
}

/// The points of a sweep: the Cartesian product of one axis per parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    names: Vec<String>,
    axes: Vec<Vec<f64>>,
    len: usize,
}

impl Grid {
    /// `base` with point `i`'s parameter values set: the options of its run.
    pub fn options(&self, base: &RunOptions, i: usize) -> RunOptions {
        let mut o = base.clone();
        for (name, v) in self.names().iter().zip(self.point(i)) {
            o = o.param(name, v);
        }
        o
    }

    /// A grid over `axes` (parameter name, axis). Names must be distinct and every axis
    /// non-empty; the number of points must fit a `usize`.
    pub fn new(axes: Vec<(String, Axis)>) -> Result<Grid, RuntimeError> {
        if axes.is_empty() {
            return Err(RuntimeError::option(
                "param",
                "a sweep needs at least one axis",
            ));
        }
        let mut names: Vec<String> = Vec::new();
        let mut values = Vec::new();
        let mut len = 1usize;
        for (name, axis) in axes {
            if names.contains(&name) {
                return Err(RuntimeError::option(
                    "param",
                    format!("'{name}' is swept twice; give each parameter one axis"),
                ));
            }
            let v = axis.values();
            if v.is_empty() {
                return Err(RuntimeError::option(
                    "param",
                    format!("the axis of '{name}' has no values"),
                ));
            }
            len = len.checked_mul(v.len()).ok_or_else(|| {
                RuntimeError::option("param", "the grid has more points than can be counted")
            })?;
            names.push(name);
            values.push(v);
        }
        Ok(Grid {
            names,
            axes: values,
            len,
        })
    }

    /// The swept parameters, in axis order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The values of axis `k`.
    pub fn axis(&self, k: usize) -> &[f64] {
        &self.axes[k]
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a grid without points (never: every axis has a value).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Point `i`'s values, one per axis (the last axis varies fastest).
    pub fn point(&self, i: usize) -> Vec<f64> {
        let mut rest = i;
        let mut p = vec![0.0; self.axes.len()];
        for (k, axis) in self.axes.iter().enumerate().rev() {
            p[k] = axis[rest % axis.len()];
            rest /= axis.len();
        }
        p
    }

    /// The points of shard `index` of `count` (0-based): a contiguous slice, the shards in
    /// order covering every point once, their sizes differing by at most one.
    pub fn shard(&self, index: usize, count: usize) -> Result<Range<usize>, RuntimeError> {
        if count == 0 || index >= count {
            return Err(RuntimeError::option(
                "shard",
                format!("shard {index} of {count} does not exist (shards are 0..{count})"),
            ));
        }
        let at = |k: usize| (self.len as u128 * k as u128 / count as u128) as usize;
        Ok(at(index)..at(index + 1))
    }
}

/// A statistic of one recorded variable over a run's samples.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stat {
    /// The last sample.
    Final,
    /// The arithmetic mean (numpy's pairwise sum divided by the count, to the bit).
    Mean,
    /// The largest sample (NaN if any is).
    Max,
    /// The smallest sample (NaN if any is).
    Min,
}

impl Stat {
    /// `final`, `mean`, `max` or `min`.
    pub fn parse(s: &str) -> Result<Stat, RuntimeError> {
        match s {
            "final" => Ok(Stat::Final),
            "mean" => Ok(Stat::Mean),
            "max" => Ok(Stat::Max),
            "min" => Ok(Stat::Min),
            other => Err(RuntimeError::option(
                "stat",
                format!("'{other}' is not a statistic; use final, mean, max or min"),
            )),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Stat::Final => "final",
            Stat::Mean => "mean",
            Stat::Max => "max",
            Stat::Min => "min",
        }
    }

    /// The statistic of `xs` (NaN for no samples), as numpy computes it.
    pub fn of(self, xs: &[f64]) -> f64 {
        if xs.is_empty() {
            return f64::NAN;
        }
        let extreme = |pick: fn(f64, f64) -> bool| {
            xs.iter().copied().fold(xs[0], |m, x| {
                if m.is_nan() || x.is_nan() {
                    f64::NAN
                } else if pick(x, m) {
                    x
                } else {
                    m
                }
            })
        };
        match self {
            Stat::Final => xs[xs.len() - 1],
            Stat::Mean => numpy_sum(xs) / xs.len() as f64,
            Stat::Max => extreme(|x, m| x > m),
            Stat::Min => extreme(|x, m| x < m),
        }
    }
}

/// numpy's `pairwise_sum` of float64 values (a plain loop below 8 items, 8 partial sums up
/// to 128, halves above), which `np.sum` and `np.mean` use.
pub(crate) fn numpy_sum(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 8 {
        xs.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&xs[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += xs[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &xs[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&xs[..n2]) + numpy_sum(&xs[n2..])
    }
}

/// A sweep that ran: one batch run per grid point of `points`.
#[derive(Debug)]
pub struct Sweep {
    grid: Grid,
    points: Range<usize>,
    runs: Vec<BatchRun>,
    /// The statistics reduced as the runs ended, when their samples were not kept.
    stats: Option<(Vec<String>, Stat, Vec<Vec<f64>>)>,
}

/// What a sweep keeps of each run.
#[derive(Clone, Debug, PartialEq)]
pub enum Keep {
    /// Everything: the samples too ([`Sweep::results`], trajectory output).
    Runs,
    /// The statistic of each of `vars` per point, computed on the worker as each run
    /// ends; the samples are dropped there (status, events, final state and observers
    /// stay), so a sweep's memory does not grow with its runs' length.
    Stats {
        /// Recorded variables (states, aux, `aux.NAME`).
        vars: Vec<String>,
        /// The statistic.
        stat: Stat,
    },
}

/// Runs `base` at every point of `points` (a range of the grid's points, all of them or one
/// shard) on `kernel`, each from `core` with the point's parameter values set, as one batch.
/// Every swept name must be a parameter of the model (checked before anything runs).
pub fn sweep(
    kernel: &Kernel,
    core: &SessionCore,
    grid: &Grid,
    base: &RunOptions,
    points: Range<usize>,
    batch: &BatchOptions,
) -> Result<Sweep, RuntimeError> {
    sweep_keeping(kernel, core, grid, base, points, batch, &Keep::Runs)
}

/// [`sweep`], keeping of each run what `keep` says.
pub fn sweep_keeping(
    kernel: &Kernel,
    core: &SessionCore,
    grid: &Grid,
    base: &RunOptions,
    points: Range<usize>,
    batch: &BatchOptions,
    keep: &Keep,
) -> Result<Sweep, RuntimeError> {
    check_sweep(kernel, core, grid, base, &points, keep)?;
    sweep_part(kernel, core, grid, base, points, batch, keep)
}

/// What is wrong for every point of a sweep over `points`: a swept name that is not a
/// parameter, points outside the grid, and options the first point's run refuses (a
/// variable that is not recorded, an unknown initial state) — the sweep's error, not one
/// per point. Returns the first point's plan (none for no points).
fn check_sweep(
    kernel: &Kernel,
    core: &SessionCore,
    grid: &Grid,
    base: &RunOptions,
    points: &Range<usize>,
    keep: &Keep,
) -> Result<Option<crate::plan::Plan>, RuntimeError> {
    let m = &kernel.model;
    for name in grid.names() {
        if m.param_index(name).is_none() {
            return Err(RuntimeError::option(
                "param",
                RuntimeError::not_found("parameter", name, m.param_names().into_iter()).to_string(),
            ));
        }
    }
    if points.end > grid.len() || points.start > points.end {
        return Err(RuntimeError::option(
            "shard",
            format!("points {points:?} are not in the grid of {}", grid.len()),
        ));
    }
    if points.is_empty() {
        return Ok(None);
    }
    let plan = crate::plan::resolve(kernel, core, &grid.options(base, points.start))?;
    if let Keep::Stats { vars, .. } = keep {
        for v in vars {
            if recorded_index(m, plan.recording(), v).is_none() {
                return Err(not_recorded(v));
            }
        }
    }
    Ok(Some(plan))
}

/// [`sweep_keeping`] without its checks ([`check_sweep`]: a sweep run in blocks checks
/// once, so a later block's first point that cannot run fails alone).
fn sweep_part(
    kernel: &Kernel,
    core: &SessionCore,
    grid: &Grid,
    base: &RunOptions,
    points: Range<usize>,
    batch: &BatchOptions,
    keep: &Keep,
) -> Result<Sweep, RuntimeError> {
    let start = points.start;
    let options_of = |k: usize| std::borrow::Cow::Owned(grid.options(base, start + k));
    // Each point's statistics are written where they belong as its run ends (as bits in
    // atomics: no lock, and the runs come back without a second pass to split them off).
    let vars: &[String] = match keep {
        Keep::Stats { vars, .. } => vars,
        Keep::Runs => &[],
    };
    let count = points.len();
    let slots: Vec<AtomicU64> = (0..vars.len() * count).map(|_| AtomicU64::new(0)).collect();
    let runs = run_batch_of(kernel, core, count, options_of, batch, |k, mut run| {
        let Keep::Stats { vars, stat } = keep else {
            return run;
        };
        for (j, v) in vars.iter().enumerate() {
            let x = match &run {
                Ok(ex) => point_stat(ex, v, *stat).unwrap_or(f64::NAN),
                Err(_) => f64::NAN,
            };
            slots[j * count + k].store(x.to_bits(), Ordering::Relaxed);
        }
        if let Ok(ex) = &mut run {
            ex.drop_samples();
        }
        run
    })?;
    let stats = match keep {
        Keep::Runs => None,
        Keep::Stats { vars, stat } => {
            let by_var = (0..vars.len())
                .map(|j| {
                    slots[j * count..(j + 1) * count]
                        .iter()
                        .map(|x| f64::from_bits(x.load(Ordering::Relaxed)))
                        .collect()
                })
                .collect();
            Some((vars.clone(), *stat, by_var))
        }
    };
    Ok(Sweep {
        grid: grid.clone(),
        points,
        runs,
        stats,
    })
}

/// About how many bytes of samples one block of [`sweep_blocks`] holds, all its points
/// together.
pub const BLOCK_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

/// [`sweep_keeping`] block by block: the points in consecutive blocks, in order, each run
/// as one batch when the iterator is asked for it. A caller that writes each block before
/// asking for the next holds one block's samples at a time, however long the sweep: a
/// block has `block_points` points, or by default as many as take about [`BLOCK_BYTES`]
/// of samples together (from the first point's plan; a guess for an adaptive stepper), and
/// at least one point per thread (one pack of lanes per thread when the sweep packs runs).
/// A sweep keeping only statistics is one block.
///
/// The blocks give what one [`sweep_keeping`] over `points` gives, point for point and bit
/// for bit: progress counts over all the points, and the lanes are chosen once for the
/// whole sweep. Options wrong for every point are `sweep_blocks`'s error, before any block
/// runs; once the batch's interrupt is requested, the next block is all the points left
/// (cancelled at once).
#[allow(clippy::too_many_arguments)]
pub fn sweep_blocks<'a>(
    kernel: &'a Kernel,
    core: &'a SessionCore,
    grid: &'a Grid,
    base: &'a RunOptions,
    points: Range<usize>,
    batch: &BatchOptions,
    keep: &'a Keep,
    block_points: Option<usize>,
) -> Result<Blocks<'a>, RuntimeError> {
    if block_points == Some(0) {
        return Err(RuntimeError::option("block_points", "must be at least 1"));
    }
    let first = check_sweep(kernel, core, grid, base, &points, keep)?;
    let count = points.len();
    let mut batch = batch.clone();
    let block = match (keep, first) {
        (Keep::Runs, Some(first)) => {
            let bytes = first.record_bytes_estimate(kernel);
            let width = crate::batch::lane_width(kernel, count, Some(first), &batch)?;
            batch.lanes = Some(width);
            match block_points {
                Some(n) => n,
                None => {
                    let threads = crate::batch::thread_count(&batch)?;
                    let fit = (BLOCK_BYTES / bytes.max(1.0)).floor() as usize;
                    // Whole packs of lanes, one at least per thread.
                    let block = fit.max(threads * width).max(1);
                    block / width * width
                }
            }
        }
        // Statistics keep no samples; no points, no blocks to size.
        _ => count,
    };
    Ok(Blocks {
        kernel,
        core,
        grid,
        base,
        keep,
        batch,
        first: points.start,
        points,
        block,
        done: false,
        steps_done: Default::default(),
    })
}

/// The blocks of a sweep, run one at a time as they are asked for ([`sweep_blocks`]).
pub struct Blocks<'a> {
    kernel: &'a Kernel,
    core: &'a SessionCore,
    grid: &'a Grid,
    base: &'a RunOptions,
    keep: &'a Keep,
    batch: BatchOptions,
    /// The first point of the sweep (progress counts from it).
    first: usize,
    /// The points not run yet.
    points: Range<usize>,
    block: usize,
    done: bool,
    /// The steps the finished blocks' runs took (progress counts them over the sweep).
    steps_done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Blocks<'_> {
    /// The most points a block has.
    pub fn block_points(&self) -> usize {
        self.block
    }
}

impl Iterator for Blocks<'_> {
    type Item = Result<Sweep, RuntimeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // An empty sweep is one empty block, so its checks still run.
        let start = self.points.start;
        // Once interrupted, the rest is cancelled at once, as one block.
        let stopped = self
            .batch
            .interrupt
            .as_ref()
            .is_some_and(|i| i.is_requested());
        let end = match stopped {
            true => self.points.end,
            false => start.saturating_add(self.block.max(1)).min(self.points.end),
        };
        let mut batch = self.batch.clone();
        if let Some(report) = self.batch.progress.clone() {
            use std::sync::atomic::Ordering::Relaxed;
            let (before, total) = (start - self.first, self.points.end - self.first);
            let (steps_before, steps_done) =
                (self.steps_done.load(Relaxed), self.steps_done.clone());
            batch.progress = Some(std::sync::Arc::new(move |p: crate::batch::Progress| {
                // Reports come in order (the batch reports under one lock): the last of a
                // block is its total, where the next block counts on from.
                steps_done.store(steps_before + p.steps, Relaxed);
                report(crate::batch::Progress {
                    done: before + p.done,
                    total,
                    steps: steps_before + p.steps,
                })
            }));
        }
        let out = sweep_part(
            self.kernel,
            self.core,
            self.grid,
            self.base,
            start..end,
            &batch,
            self.keep,
        );
        self.points.start = end;
        // Nothing after an error.
        self.done = out.is_err() || end >= self.points.end;
        Some(out)
    }
}

fn not_recorded(var: &str) -> RuntimeError {
    RuntimeError::option("stat", format!("'{var}' is not recorded by the sweep"))
}

/// The statistic of `var` over one run's samples: NaN for a run that failed.
fn point_stat(ex: &crate::plan::Execution, var: &str, stat: Stat) -> Result<f64, RuntimeError> {
    let series = recorded(ex, var).ok_or_else(|| not_recorded(var))?;
    if !ex.output().status.is_success() {
        return Ok(f64::NAN);
    }
    Ok(stat.of(&series.to_f64()))
}

impl Sweep {
    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The grid points that ran, in order.
    pub fn points(&self) -> Range<usize> {
        self.points.clone()
    }

    /// Each run's outcome, in point order.
    pub fn runs(&self) -> &[BatchRun] {
        &self.runs
    }

    /// Each run's status (`DONE`, `NAN_DETECTED`, ...), or why it did not run.
    pub fn statuses(&self) -> Vec<Result<Status, String>> {
        self.runs
            .iter()
            .map(|r| match r {
                Ok(ex) => Ok(ex.output().status),
                // A transient that failed (or was interrupted) has a status too.
                Err(RuntimeError::RunFailed { status, .. }) => Ok(*status),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    /// Each run's results (`None` for a run that did not run); a failed run's are its
    /// partial results. A sweep that kept only statistics ([`Keep::Stats`]) has results
    /// without samples.
    pub fn results(&self) -> Vec<Option<Results>> {
        (0..self.runs.len()).map(|k| self.result(k)).collect()
    }

    /// [`Sweep::results`] of the `k`-th point that ran (`None`: it did not run), alone: a
    /// writer that takes the points one by one holds one point's copy at a time.
    pub fn result(&self, k: usize) -> Option<Results> {
        self.runs.get(k)?.as_ref().ok().map(|ex| ex.results())
    }

    /// Each point's observer results (the kernel's observers; empty for a point that did
    /// not run).
    pub fn observers(&self) -> Vec<&[crate::observer::ObserverResult]> {
        self.runs
            .iter()
            .map(|r| r.as_ref().map_or(&[][..], |ex| &ex.output().observers[..]))
            .collect()
    }

    /// The maximum Lyapunov exponent per point (a kernel built with
    /// [`crate::observer::LyapunovMle`]): NaN where the run failed or did not run.
    pub fn mle(&self) -> Vec<f64> {
        self.exponents("lyapunov_mle", |o| o.mle().map(|x| vec![x]))
            .into_iter()
            .map(|v| v[0])
            .collect()
    }

    /// The first `k` Lyapunov exponents per point (a kernel built with
    /// [`crate::observer::LyapunovSpectrum`]): NaNs where the run failed or did not run.
    pub fn spectrum(&self, k: usize) -> Vec<Vec<f64>> {
        self.exponents("lyapunov_spectrum", |o| o.spectrum())
            .into_iter()
            .map(|mut v| {
                v.resize(k, f64::NAN);
                v
            })
            .collect()
    }

    fn exponents(
        &self,
        key: &str,
        of: impl Fn(&crate::observer::ObserverResult) -> Option<Vec<f64>>,
    ) -> Vec<Vec<f64>> {
        self.runs
            .iter()
            .map(|r| {
                r.as_ref()
                    .ok()
                    .filter(|ex| ex.output().status.is_success())
                    .and_then(|ex| ex.output().observers.iter().find(|o| o.key == key))
                    .and_then(&of)
                    .unwrap_or_else(|| vec![f64::NAN])
            })
            .collect()
    }

    /// The statistic of recorded variable `var` (a state, an aux or `aux.NAME`) per point:
    /// NaN where the run failed, did not run, or recorded nothing. A variable that is not
    /// recorded is an error.
    pub fn scalar(&self, var: &str, stat: Stat) -> Result<Vec<f64>, RuntimeError> {
        if let Some((vars, kept, values)) = &self.stats {
            return match vars.iter().position(|v| v == var) {
                Some(j) if *kept == stat => Ok(values[j].clone()),
                _ => Err(RuntimeError::option(
                    "stat",
                    format!(
                        "the sweep kept only the {} of {} (its samples were dropped as each \
                         run ended), not the {} of '{var}'",
                        kept.name(),
                        vars.join(", "),
                        stat.name()
                    ),
                )),
            };
        }
        self.runs
            .iter()
            .map(|r| match r {
                Ok(ex) => point_stat(ex, var, stat),
                Err(_) => Ok(f64::NAN),
            })
            .collect()
    }
}

/// The recorded series of `var` (a state, an aux, or `aux.NAME`) in an execution's output,
/// as `record_vars` resolves names (a state first, then an aux).
fn recorded<'a>(ex: &'a crate::plan::Execution, var: &str) -> Option<crate::results::Column<'a>> {
    let out = ex.output();
    match recorded_index(ex.plan().model(), ex.plan().recording(), var)? {
        (true, k) => Some(out.states.column(k)),
        (false, k) => Some(out.aux.column(k)),
    }
}

/// Where `var` is in a recording: (a state?, its column).
fn recorded_index(
    m: &dynlib_model::Model,
    r: &crate::state::Recording,
    var: &str,
) -> Option<(bool, usize)> {
    let state = match var.strip_prefix("aux.") {
        Some(_) => None,
        None => m.state_index(var),
    };
    if let Some(i) = state {
        return r.states.iter().position(|&k| k == i).map(|k| (true, k));
    }
    let i = m.aux_index(var.strip_prefix("aux.").unwrap_or(var))?;
    r.aux.iter().position(|&k| k == i).map(|k| (false, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_grids_enumerate_last_axis_fastest() {
        assert_eq!(Axis::parse("0:1:3").unwrap().values(), vec![0.0, 0.5, 1.0]);
        assert_eq!(
            Axis::parse("2.5, 3, -1e-3").unwrap().values(),
            vec![2.5, 3.0, -1e-3]
        );
        assert_eq!(Axis::parse("7").unwrap().values(), vec![7.0]);
        assert!(Axis::parse("0:1:0").unwrap_err().contains("at least 1"));
        assert!(Axis::parse("0:1:x").unwrap_err().contains("whole number"));
        assert!(Axis::parse("0:1").unwrap_err().contains("neither"));
        assert!(Axis::parse("a,b")
            .unwrap_err()
            .contains("'a' is not a number"));
        assert!(Axis::parse("0:inf:3").unwrap_err().contains("finite"));
        let g = Grid::new(vec![
            ("a".into(), Axis::Values(vec![1.0, 2.0])),
            (
                "b".into(),
                Axis::Linspace {
                    start: 0.0,
                    stop: 1.0,
                    count: 3,
                },
            ),
        ])
        .unwrap();
        assert_eq!(g.len(), 6);
        let points: Vec<Vec<f64>> = (0..6).map(|i| g.point(i)).collect();
        assert_eq!(
            points,
            [
                [1.0, 0.0],
                [1.0, 0.5],
                [1.0, 1.0],
                [2.0, 0.0],
                [2.0, 0.5],
                [2.0, 1.0]
            ]
        );
        assert!(Grid::new(vec![
            ("a".into(), Axis::Values(vec![1.0])),
            ("a".into(), Axis::Values(vec![2.0]))
        ])
        .is_err());
        assert!(Grid::new(vec![("a".into(), Axis::Values(vec![]))]).is_err());
    }

    #[test]
    fn linspace_is_numpys() {
        // numpy.linspace(2.5, 4.0, 50)[16:18] and its ends.
        let v = linspace(2.5, 4.0, 50);
        assert_eq!(v[16], 2.989795918367347);
        assert_eq!(v[17], 3.020408163265306);
        assert_eq!((v[0], v[49]), (2.5, 4.0));
        assert_eq!(linspace(1.0, 1.0, 3), [1.0, 1.0, 1.0]);
        assert_eq!(linspace(3.0, 9.0, 1), [3.0]);
        // i * step + start, not start + i * (stop - start) / (n - 1).
        let v = linspace(0.1, 0.7, 7);
        assert_eq!(v[3], 3.0 * ((0.7 - 0.1) / 6.0) + 0.1);
    }

    #[test]
    fn shards_cover_every_point_once_in_order() {
        for n in [1usize, 2, 7, 10, 11] {
            let g = Grid::new(vec![(
                "a".into(),
                Axis::Linspace {
                    start: 0.0,
                    stop: 1.0,
                    count: n,
                },
            )])
            .unwrap();
            for shards in 1..=4 {
                let mut all = Vec::new();
                for s in 0..shards {
                    all.extend(g.shard(s, shards).unwrap());
                }
                assert_eq!(
                    all,
                    (0..n).collect::<Vec<_>>(),
                    "{n} points in {shards} shards"
                );
            }
            assert!(g.shard(3, 3).is_err() && g.shard(0, 0).is_err());
        }
    }

    #[test]
    fn statistics_are_numpys() {
        let xs: Vec<f64> = (0..1001)
            .map(|i| ((i as f64) * 0.37).sin() * 1e3 + 0.1)
            .collect();
        // np.mean of this array (numpy 2.4: pairwise summation); a plain loop gives
        // 0.4165641361895742.
        assert_eq!(Stat::Mean.of(&xs), 0.41656413618957466);
        assert_eq!(Stat::Final.of(&xs), xs[1000]);
        assert_eq!(Stat::Max.of(&[1.0, 3.0, 2.0]), 3.0);
        assert_eq!(Stat::Min.of(&[1.0, 3.0, -2.0]), -2.0);
        assert!(Stat::Max.of(&[1.0, f64::NAN, 2.0]).is_nan());
        assert!(Stat::Mean.of(&[]).is_nan());
        assert_eq!(Stat::parse("mean").unwrap(), Stat::Mean);
        assert!(Stat::parse("last")
            .unwrap_err()
            .to_string()
            .contains("final, mean"));
    }
}
