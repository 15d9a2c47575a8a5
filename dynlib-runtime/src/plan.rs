//! A run in three steps: [`resolve`] turns a session's [`SessionCore`] and the
//! [`RunOptions`] into a [`Plan`], checking every option and mutating nothing;
//! [`Plan::execute`] runs the transient and the recorded run on the plan's kernel and
//! returns an [`Execution`] that owns the plan; a session then commits the outcome
//! ([`Execution::record`] adds it to results, [`Execution::committed`] gives the session's
//! next core). [`crate::Sim::run`] is exactly these three; a batch resolves one plan per
//! parameter set from a shared core and executes them on its own threads, with no session
//! at all. A plan remembers its kernel and results their model, so a plan cannot run on
//! another kernel nor an execution be recorded into another model's results.

pub mod lanes;

use std::sync::Arc;

use dynlib_interp::Machine;
use dynlib_model::{Model, ModelKind};

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::options::{cast, check_time_resolution, Num, RunOptions, SessionConfig, MAX_COUNT};
use crate::results::Results;
use crate::run::{DVec, RunOutput, RunSpec, Status};
use crate::state::{Recording, SessionCore, SessionState};

/// Everything one run needs, resolved from a session and the options, for one kernel.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The kernel it was resolved for ([`Kernel::id`]).
    kernel: u64,
    /// The kernel's model (what the results name their columns after).
    model: Arc<Model>,
    /// True when the run continues the session's results.
    resume: bool,
    /// The state the run starts from (a session's `initial` snapshot is its first seed).
    seed: SessionState,
    /// The recorded run as it goes without a transient: ODE horizons in session time.
    spec: RunSpec,
    /// The warm-up before recording: time (ODE) or iterations (map); 0 for none.
    transient: f64,
    /// What is recorded, and from where recorded time and steps count.
    recording: Recording,
    /// The horizon as the user gave it (ODE; recorded time, before any shift).
    t_end: f64,
    /// The step cap (ODE), for the warning when a run stops on it.
    max_steps: u64,
    /// The nominal step after the run.
    nominal_dt: f64,
    /// The time shift the run starts with (a resumed run keeps the session's).
    time_shift: f64,
    /// Added to recorded step numbers (a resumed run counts on from the session's).
    step_offset: i64,
    /// The recorded segment's name.
    tag: Option<String>,
    /// The session defaults, carried to the committed core.
    defaults: SessionConfig,
}

/// A plan that ran: the plan and what its recorded run produced.
#[derive(Clone, Debug)]
pub struct Execution {
    plan: Plan,
    /// The recorded run. Its samples' and logged events' times are recorded times
    /// (session time − `time_shift`); `t_final` and the final values are the session's.
    out: RunOutput,
    /// Session time − recorded time after the run.
    time_shift: f64,
    /// Steps of the transient that started the recording.
    transient_steps: u64,
}

/// Resolves a run of `kernel` from `core` with options `o` (runtime.md §1.4): every option
/// is checked and every default taken, in the reference's order of precedence (the
/// option, the session's defaults, the model's `[sim]`). Nothing is changed.
pub fn resolve(kernel: &Kernel, core: &SessionCore, o: &RunOptions) -> Result<Plan, RuntimeError> {
    let m = &kernel.model;
    core.check(kernel)?;
    o.check(m.kind)?;
    let (y, params) = initial_values(kernel, &core.state, o)?;
    let config = core.merged_config(kernel, &o.stepper_config)?;
    let d = &core.defaults;
    let record = o.record.or(d.record).unwrap_or(m.sim.record);
    let max_steps = o.max_steps.or(d.max_steps).unwrap_or(m.sim.max_steps);
    let resumed = core.recording.as_ref().filter(|_| o.resume);
    let (states, aux, interval) = what_to_record(m, o, d, resumed)?;
    let dt = o.dt.unwrap_or(core.nominal_dt);
    let t0 = match (o.resume, resumed) {
        (true, r) => r.map_or(core.state.t, |r| r.t0),
        (false, _) => o.t0.unwrap_or(m.sim.t0),
    };
    let shift = if o.resume { core.time_shift } else { 0.0 };
    let transient_steps = resumed.map_or(0, |r| r.transient_steps);
    let (t_end, iterations) = match m.kind {
        ModelKind::Ode => (ode_horizon(m, core, o, t0, shift)?, max_steps),
        ModelKind::Map => (0.0, map_iterations(core, o, t0, dt, max_steps, resumed)?),
    };
    let memory_limit = o
        .memory_limit
        .unwrap_or_else(crate::run::default_memory_limit);
    let fixed = !kernel.stepper.adaptive;
    // A fixed step that cannot move time from where the run starts never will.
    let start_t = if o.resume { core.state.t } else { t0 };
    if m.kind == ModelKind::Ode && fixed {
        check_time_resolution(start_t, t_end + shift, dt)?;
    }
    // The samples a run records when its length is known up front (maps, fixed steps).
    let steps = match m.kind {
        ModelKind::Map => Some(iterations as f64),
        ModelKind::Ode if fixed => {
            Some((((t_end + shift - start_t) / dt).ceil()).min(max_steps as f64))
        }
        ModelKind::Ode => None,
    };
    let samples = steps
        .filter(|_| record)
        .map(|steps| (steps / interval as f64).floor() + 1.0);
    let row = crate::run::record_row_bytes(kernel.elem(), states.len(), aux.len());
    check_record_memory(m, o, samples, row, memory_limit)?;
    let cap_evt = o.cap_evt.or(d.cap_evt).unwrap_or(1);
    let observe = kernel.observers().is_some();
    // A trace when the observers have trace columns, the run records and it is not
    // turned off: a run that records nothing traces nothing (a Lyapunov sweep wants the
    // exponents, not their history: analysis.md A7).
    let traced = kernel
        .observers()
        .is_some_and(|obs| obs.layout(m.states.len()).total_traces > 0)
        && record
        && o.trace != Some(false);
    if observe && o.resume {
        return Err(RuntimeError::option(
            "resume",
            "a kernel with observers runs fresh runs only (the observers' state does not \
             carry over a resume); run again without resume",
        ));
    }
    let fastpath = choose_fastpath(kernel, o.fastpath)?;
    let seed = match o.resume {
        true => resumed_seed(core, fixed, config.clone()),
        false => SessionState {
            t: t0,
            y,
            params,
            dt,
            step_count: 0,
            workspace: None,
            status: Status::Done,
            stepper_config: config.clone(),
        },
    };
    let spec = RunSpec {
        t0: seed.t,
        t_end: if m.kind == ModelKind::Ode {
            t_end + shift
        } else {
            0.0
        },
        dt: seed.dt,
        max_steps: iterations,
        record_interval: if record { interval } else { 0 },
        y0: seed.y.clone(),
        params: seed.params.clone(),
        config,
        explicit_dt: if o.resume { None } else { o.dt },
        wrms_first_step: !o.resume,
        workspace: seed.workspace.clone(),
        rec_states: states.clone(),
        rec_aux: aux.clone(),
        cap_rec: o.cap_rec.or(d.cap_rec).unwrap_or_else(|| {
            let evt = cap_evt as u64 * event_row_bytes(kernel);
            record_capacity(samples, row, memory_limit.saturating_sub(evt))
        }),
        cap_evt,
        memory_limit,
        interrupt: o.interrupt.clone(),
        progress: o.progress.clone(),
        tier_switch_step: o.tier_switch_step,
        observe,
        // The observers trace at the record interval (runtime.md §4.2: the run's
        // record_interval, else every step).
        trace_stride: if traced { interval } else { 0 },
        fastpath,
        // Room for every trace row when their number is known (up to TRACE_UP_FRONT rows;
        // more grow); one row (never written) without a trace.
        cap_trace: match steps {
            _ if !traced => 1,
            Some(steps) => {
                ((steps / interval as f64).floor() + 2.0).min(TRACE_UP_FRONT as f64) as usize
            }
            None => 1024,
        },
    };
    let step_offset = if o.resume {
        (core.state.step_count - transient_steps) as i64
    } else {
        0
    };
    Ok(Plan {
        kernel: kernel.id(),
        model: kernel.model.clone(),
        defaults: core.defaults.clone(),
        resume: o.resume,
        transient: if o.resume {
            0.0
        } else {
            o.transient.unwrap_or(0.0)
        },
        recording: Recording {
            states,
            aux,
            interval,
            t0,
            transient_steps,
        },
        t_end,
        max_steps,
        nominal_dt: if o.resume { core.nominal_dt } else { dt },
        time_shift: shift,
        step_offset,
        tag: o.tag.clone(),
        seed,
        spec,
    })
}

/// Whether the run takes the fast path (runtime.md §3.9's gate, as far as it matters
/// here): a fixed-step stepper, whose runs have a known length so their buffers are sized
/// up front, and no event that logs (event rows cannot be counted before the run). `want`
/// is the user's choice; insisting on a run that cannot is an error that says why.
fn choose_fastpath(kernel: &Kernel, want: Option<bool>) -> Result<bool, RuntimeError> {
    let why_not = fastpath_refusal(&kernel.model, kernel.stepper);
    match (want, why_not) {
        (Some(false), _) => Ok(false),
        (_, None) => Ok(true),
        (None, Some(_)) => Ok(false),
        (Some(true), Some(why)) => Err(RuntimeError::option(
            "fastpath",
            format!("this run cannot take the fast path: {why}"),
        )),
    }
}

/// Why runs of `model` with `stepper` cannot take the fast path (`None`: they can).
pub(crate) fn fastpath_refusal(
    model: &Model,
    stepper: &crate::stepper::StepperSpec,
) -> Option<String> {
    if stepper.adaptive {
        return Some(format!(
            "the stepper {} is adaptive (its runs' lengths are not known up front)",
            stepper.name
        ));
    }
    model.events.iter().find(|e| !e.log.is_empty()).map(|e| {
        format!(
            "the event '{}' logs rows (their number is not known up front)",
            e.name
        )
    })
}

/// The recorded states and aux and the record interval: a resumed run keeps those of the
/// run it continues (the interval too: S5), unless the interval is given.
fn what_to_record(
    m: &Model,
    o: &RunOptions,
    d: &SessionConfig,
    resumed: Option<&Recording>,
) -> Result<(Vec<usize>, Vec<usize>, u64), RuntimeError> {
    let (states, aux) = match resumed {
        Some(r) => (r.states.clone(), r.aux.clone()),
        None => selection(m, o.record_vars.as_deref())?,
    };
    let interval = o
        .record_interval
        .or(resumed.map(|r| r.interval))
        .or(d.record_interval)
        .unwrap_or(1);
    Ok((states, aux, interval))
}

/// A resumed run starts where the session is, with the nominal step when the stepper's
/// step is fixed or nothing ran yet (an adaptive stepper continues with its last step).
fn resumed_seed(core: &SessionCore, fixed: bool, config: Vec<f64>) -> SessionState {
    let mut s = core.state.clone();
    if fixed || s.step_count == 0 {
        s.dt = core.nominal_dt;
    }
    s.stepper_config = config;
    s
}

/// The run's initial state and parameters: the session's, with the `ic` and `params`
/// options cast to the model dtype.
fn initial_values(
    kernel: &Kernel,
    state: &SessionState,
    o: &RunOptions,
) -> Result<(DVec, DVec), RuntimeError> {
    let m = &kernel.model;
    let mut y = state.y.clone();
    overrides(
        kernel,
        &mut y,
        &o.ic,
        ("ic", "state"),
        |n| m.state_index(n),
        m.state_names(),
    )?;
    let mut params = state.params.clone();
    overrides(
        kernel,
        &mut params,
        &o.params,
        ("params", "parameter"),
        |n| m.param_index(n),
        m.param_names(),
    )?;
    Ok((y, params))
}

/// Writes `values` by name into `into`, cast to the model dtype; an unknown name is an
/// error of `option` naming the `kind` of variable it should be and the known ones.
fn overrides(
    kernel: &Kernel,
    into: &mut DVec,
    values: &[(String, dynlib_model::Number)],
    (option, kind): (&str, &'static str),
    index: impl Fn(&str) -> Option<usize>,
    known: Vec<&str>,
) -> Result<(), RuntimeError> {
    for (name, v) in values {
        let i = index(name).ok_or_else(|| {
            let why = RuntimeError::not_found(kind, name, known.iter().copied());
            RuntimeError::option(option, why.to_string())
        })?;
        into.set_number(i, cast(kernel.elem(), option, name, *v)?);
    }
    Ok(())
}

/// Resolves `record_vars` into state and aux indices. A variable named twice is an error
/// (the reference records it twice, under one column name).
fn selection(m: &Model, vars: Option<&[String]>) -> Result<(Vec<usize>, Vec<usize>), RuntimeError> {
    let Some(vars) = vars else {
        return Ok(((0..m.states.len()).collect(), Vec::new()));
    };
    let (mut s, mut a) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for v in vars {
        let (state, aux) = match v.strip_prefix("aux.") {
            Some(bare) => (None, m.aux_index(bare)),
            None => (m.state_index(v), m.aux_index(v)),
        };
        let twice = |v: &str| {
            RuntimeError::option(
                "record_vars",
                format!(
                    "names '{v}' twice; each variable is recorded once (its column would be \
                     ambiguous)"
                ),
            )
        };
        match (state, aux) {
            (Some(i), _) if !seen.insert((true, i)) => return Err(twice(v)),
            (None, Some(i)) if !seen.insert((false, i)) => return Err(twice(v)),
            (Some(i), _) => s.push(i),
            (None, Some(i)) => a.push(i),
            _ => {
                let mut known: Vec<String> = m.states.iter().map(|x| x.name.clone()).collect();
                known.extend(m.aux.iter().map(|x| format!("aux.{}", x.name)));
                return Err(RuntimeError::option(
                    "record_vars",
                    RuntimeError::not_found("variable", v, known.iter().map(String::as_str))
                        .to_string(),
                ));
            }
        }
    }
    Ok((s, a))
}

/// An ODE's horizon `T` (absolute, in recorded time): finite, after `t0`, and after the
/// session time when resuming.
fn ode_horizon(
    m: &Model,
    core: &SessionCore,
    o: &RunOptions,
    t0: f64,
    shift: f64,
) -> Result<f64, RuntimeError> {
    if o.n.is_some() {
        return Err(RuntimeError::option(
            "N",
            "N is for map models; give T (t_end) for an ODE",
        ));
    }
    let t_end = o.t_end.unwrap_or(m.sim.t_end);
    if !t_end.is_finite() {
        return Err(RuntimeError::option(
            "T",
            format!("must be finite, got {}", Num(t_end)),
        ));
    }
    if o.resume {
        if t_end + shift <= core.state.t {
            return Err(RuntimeError::option(
                "T",
                format!(
                    "resuming needs a horizon after the session time {}, got T = {}",
                    Num(core.state.t - shift),
                    Num(t_end)
                ),
            ));
        }
    } else if t_end < t0 {
        return Err(RuntimeError::option(
            "T",
            format!("the horizon {} is before t0 = {}", Num(t_end), Num(t0)),
        ));
    }
    Ok(t_end)
}

/// A map's iterations in this run: `N` (absolute), or `round((T - t0) / dt)`, else
/// `max_steps`; a resumed run does what is left of it.
fn map_iterations(
    core: &SessionCore,
    o: &RunOptions,
    t0: f64,
    dt: f64,
    max_steps: u64,
    resumed: Option<&Recording>,
) -> Result<u64, RuntimeError> {
    let n = match (o.n, o.t_end) {
        (Some(_), Some(_)) => {
            return Err(RuntimeError::option(
                "N",
                "give either N or T for a map, not both",
            ))
        }
        (Some(n), None) => n,
        (None, Some(t)) => {
            let n = ((t - t0) / dt).round();
            if !(n >= 0.0 && n.is_finite()) {
                return Err(RuntimeError::option(
                    "T",
                    format!(
                        "T = {} gives no iterations from t0 = {} with dt = {}",
                        Num(t),
                        Num(t0),
                        Num(dt)
                    ),
                ));
            }
            if n > MAX_COUNT as f64 {
                return Err(RuntimeError::option(
                    "T",
                    format!(
                        "T = {} means {} iterations from t0 = {} with dt = {}, \
                         more than the {MAX_COUNT} a run can count",
                        Num(t),
                        Num(n),
                        Num(t0),
                        Num(dt)
                    ),
                ));
            }
            n as u64
        }
        (None, None) => max_steps,
    };
    if !o.resume {
        return Ok(n);
    }
    let done = resumed.map_or(0, |r| core.state.step_count - r.transient_steps);
    if n <= done {
        return Err(RuntimeError::option(
            "N",
            format!("resuming needs N beyond the {done} iterations already done, got N = {n}"),
        ));
    }
    Ok(n - done)
}

/// The record buffer a run starts with: room for every sample when their number is known
/// (plus one for a last sliver step, runtime.md R4), so such a run never stops to grow its
/// buffers; else 1024 samples, grown geometrically. Growth never changes a result, only
/// what it costs.
fn record_capacity(samples: Option<f64>, row: u64, room_bytes: u64) -> usize {
    match samples {
        Some(n) => {
            let room = (room_bytes / row.max(1)) as f64;
            (n + 1.0).min(room).min(UP_FRONT as f64).max(1.0) as usize
        }
        None => 1024,
    }
}

/// The bytes of one event row of `kernel`'s runs (what the initial event buffer takes is
/// not room for samples).
fn event_row_bytes(kernel: &Kernel) -> u64 {
    let width = kernel.functions.max_log_width.max(1);
    let iwidth = if kernel.model.dtype.is_float() {
        0
    } else {
        width
    };
    crate::run::event_row_bytes(width + iwidth)
}

/// The most samples a record buffer is sized for up front (16 Mi rows); longer runs grow
/// from there, so a run that stops early never reserved more (under `ulimit -v` or strict
/// overcommit a reservation can fail).
const UP_FRONT: usize = 1 << 24;

/// The most trace rows sized up front (1 Mi: 24 MiB for one trace column); longer traces
/// grow, within the memory limit.
const TRACE_UP_FRONT: usize = 1 << 20;

/// Refuses, before it starts, a run that must record more than the memory limit allows
/// (`samples` when known up front; runs whose length is not known stop at the limit).
fn check_record_memory(
    m: &Model,
    o: &RunOptions,
    samples: Option<f64>,
    row: u64,
    memory_limit: u64,
) -> Result<(), RuntimeError> {
    let Some(samples) = samples else {
        return Ok(());
    };
    let bytes = samples * row as f64;
    if bytes <= memory_limit as f64 {
        return Ok(());
    }
    let option = match (m.kind, o.n, o.t_end) {
        (ModelKind::Map, Some(_), _) => "n",
        (_, _, Some(_)) => "T",
        _ => "max_steps",
    };
    Err(RuntimeError::option(
        option,
        format!(
            "recording {} samples of {row} bytes needs {} bytes, more than the memory limit of \
             {memory_limit} bytes; record less often (record_interval), fewer variables \
             (record_vars), or not at all",
            Num(samples),
            Num(bytes)
        ),
    ))
}

impl Plan {
    /// True when the run continues the session's results.
    pub fn resume(&self) -> bool {
        self.resume
    }

    /// The steps of the recorded run (without the transient): exact for maps and fixed
    /// steps (unless the run stops early); an adaptive stepper's run counted as if its
    /// step stayed `dt`.
    pub fn run_steps(&self) -> f64 {
        let s = &self.spec;
        match self.model.kind {
            ModelKind::Map => s.max_steps as f64,
            ModelKind::Ode => ((s.t_end - s.t0) / s.dt).ceil().min(s.max_steps as f64),
        }
    }

    /// The samples the recorded run writes, with one spare row for a last sliver step
    /// (runtime.md R4): exact for maps and fixed steps, a guess from `dt` for an adaptive
    /// stepper (1 when nothing is recorded).
    pub fn samples_estimate(&self) -> f64 {
        match self.spec.record_interval {
            0 => 1.0,
            k => (self.run_steps() / k as f64).floor() + 2.0,
        }
    }

    /// The bytes of [`Plan::samples_estimate`] samples (time, step, the recorded states
    /// and aux).
    pub fn record_bytes_estimate(&self, kernel: &Kernel) -> f64 {
        let s = &self.spec;
        let row = crate::run::record_row_bytes(kernel.elem(), s.rec_states.len(), s.rec_aux.len());
        self.samples_estimate() * row as f64
    }

    /// About how many steps the run takes, transient included ([`Plan::run_steps`] plus
    /// the warm-up's).
    pub fn steps_estimate(&self) -> f64 {
        let s = &self.spec;
        let warm = match self.model.kind {
            // A map's transient counts iterations.
            ModelKind::Map => self.transient,
            ModelKind::Ode => (self.transient / s.dt).ceil().min(s.max_steps as f64),
        };
        let steps = self.run_steps() + warm;
        if steps.is_finite() {
            steps
        } else {
            s.max_steps as f64
        }
    }

    /// The state the run starts from.
    pub fn seed(&self) -> &SessionState {
        &self.seed
    }

    /// The recorded run's spec (as it goes without a transient).
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// What is recorded.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// The nominal step after the run.
    pub fn nominal_dt(&self) -> f64 {
        self.nominal_dt
    }

    /// The model of the kernel it was resolved for.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Runs the plan on `kernel` (the one it was resolved for): the transient without
    /// recording (a failure there is [`RuntimeError::RunFailed`]), then the recorded run
    /// from where it ended. A recorded run that fails is an `Ok` execution whose
    /// [`Execution::failure`] says so: what it recorded is kept.
    pub fn execute(
        self,
        kernel: &Kernel,
        machine: &mut Machine,
    ) -> Result<Execution, RuntimeError> {
        if self.kernel != kernel.id() {
            return Err(RuntimeError::Incompatible(
                "the plan was resolved for another kernel".into(),
            ));
        }
        let mut spec = self.spec.clone();
        let mut time_shift = self.time_shift;
        let mut transient_steps = self.recording.transient_steps;
        let mut warm_stats = crate::run::SolverStats::default();
        let mut warm_native_steps = 0;
        if self.transient > 0.0 {
            let mut warm = self.spec.clone();
            warm.record_interval = 0;
            warm.cap_rec = 1;
            // Observers never see the warm-up (runtime.md §1.4 step 9).
            warm.observe = false;
            match kernel.model.kind {
                ModelKind::Ode => warm.t_end = self.seed.t + self.transient,
                ModelKind::Map => warm.max_steps = self.transient as u64,
            }
            let out = kernel.run(machine, &warm)?;
            if !out.status.is_success() {
                return Err(RuntimeError::RunFailed {
                    status: out.status,
                    reason: Some(format!(
                        "during the transient{}",
                        out.warnings
                            .first()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    )),
                    t: out.t_final,
                });
            }
            spec.t0 = out.t_final;
            spec.y0 = out.y_final;
            spec.params = out.params_final;
            spec.dt = self.nominal_dt;
            spec.workspace = Some(out.workspace);
            time_shift = out.t_final - self.recording.t0;
            transient_steps = out.steps;
            warm_stats = out.stats;
            warm_native_steps = out.native_steps;
            if kernel.model.kind == ModelKind::Ode {
                spec.t_end = self.t_end + time_shift;
            }
        }
        let mut out = kernel.run(machine, &spec)?;
        // The run's work includes its transient's, as its step count does.
        out.stats = warm_stats.plus(out.stats);
        out.native_steps += warm_native_steps;
        Results::unshift(&kernel.model, &mut out, time_shift);
        Ok(Execution {
            plan: self,
            out,
            time_shift,
            transient_steps,
        })
    }
}

impl Execution {
    /// The plan that ran.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The recorded run. Its samples' and logged events' times are recorded times
    /// (session time − [`Execution::time_shift`]); `t_final` and the final values are the
    /// session's.
    pub fn output(&self) -> &RunOutput {
        &self.out
    }

    /// Every step this execution took, its transient's included (what
    /// [`RunOutput::native_steps`] counts against).
    pub fn steps_taken(&self) -> u64 {
        self.transient_steps + self.out.steps
    }

    /// Session time − recorded time after the run (the transient's length, or the shift a
    /// resumed run continued).
    pub fn time_shift(&self) -> f64 {
        self.time_shift
    }

    /// Empty results with the plan's columns, for a fresh run (or a batch's).
    pub fn new_results(&self) -> Results {
        let r = &self.plan.recording;
        Results::new(self.plan.model.clone(), &r.states, &r.aux)
    }

    /// The run's results on their own: [`Execution::new_results`] with the run recorded.
    pub fn results(&self) -> Results {
        let mut results = self.new_results();
        self.record(&mut results)
            .expect("fresh results of the plan's own columns take its run");
        results
    }

    /// [`Execution::results`] without copying the samples: the execution is used up.
    pub fn into_results(self) -> Results {
        let mut results = self.new_results();
        self.finish(&mut results);
        let Execution { plan, out, .. } = self;
        results.take_first(out, plan.step_offset, plan.resume, plan.tag.as_deref());
        results
    }

    /// Adds the recorded run to `results` (a resumed run's to the session's): samples and
    /// events in recorded time, step numbers counted on, warnings, the final values. The
    /// results must be of the plan's model and columns; on any error they are unchanged.
    pub fn record(&self, results: &mut Results) -> Result<(), RuntimeError> {
        let (plan, out) = (&self.plan, &self.out);
        let r = &plan.recording;
        if !Arc::ptr_eq(results.model(), &plan.model) || !results.has_columns(&r.states, &r.aux) {
            return Err(RuntimeError::Incompatible(
                "the results record other variables or another model than the plan".into(),
            ));
        }
        results.stitch(out, plan.step_offset, plan.resume, plan.tag.as_deref())?;
        self.finish(results);
        Ok(())
    }

    /// What a recorded run adds to results besides its samples: warnings, final values.
    fn finish(&self, results: &mut Results) {
        let (plan, out) = (&self.plan, &self.out);
        if plan.model.kind == ModelKind::Ode
            && out.steps >= plan.max_steps
            && out.status == Status::Done
        {
            results.warnings.push(format!(
                "the run stopped after max_steps = {} steps at t = {}, before T = {}",
                plan.max_steps,
                Num(out.t_final - self.time_shift),
                Num(plan.t_end)
            ));
        }
        results.warnings.extend(out.warnings.iter().cloned());
        results.t_final = out.t_final;
        results.y_final = out.y_final.clone();
        results.params_final = out.params_final.clone();
        results.step_count = self.step_count_after();
        results.variant = out.variant;
        results.observers = out.observers.clone();
        results.stats = results.stats.plus(out.stats);
        results.native_steps += out.native_steps;
    }

    /// The session's step count after the run: a resumed run counts on, a fresh one
    /// counts from its transient.
    fn step_count_after(&self) -> u64 {
        let before = if self.plan.resume {
            self.plan.seed.step_count
        } else {
            self.transient_steps
        };
        before + self.out.steps
    }

    /// The session's core after the run: its final state, the nominal step, the time
    /// shift, the recording a later resume continues, and the defaults it was resolved with.
    pub fn committed(&self) -> SessionCore {
        let (plan, out) = (&self.plan, &self.out);
        SessionCore {
            state: SessionState {
                t: out.t_final,
                y: out.y_final.clone(),
                params: out.params_final.clone(),
                dt: out.dt_final,
                step_count: self.step_count_after(),
                workspace: Some(out.workspace.clone()),
                status: out.status,
                stepper_config: plan.spec.config.clone(),
            },
            nominal_dt: plan.nominal_dt,
            time_shift: self.time_shift,
            defaults: plan.defaults.clone(),
            recording: Some(Recording {
                transient_steps: self.transient_steps,
                ..plan.recording.clone()
            }),
            kernel: plan.kernel,
        }
    }

    /// Drops what grows with the run's length — the recorded samples (times, steps,
    /// states, aux) and the observers' traces — keeping the status, the logged events, the
    /// final state and the observers' outputs: for a caller that has reduced them.
    pub fn drop_samples(&mut self) {
        let out = &mut self.out;
        out.t = Vec::new();
        out.step = Vec::new();
        for o in &mut out.observers {
            o.trace_t = Vec::new();
            o.trace_step = Vec::new();
            o.trace.iter_mut().for_each(|c| *c = Vec::new());
        }
        out.states = crate::run::Block::empty(out.y_final.elem(), out.states.cols());
        out.aux = crate::run::Block::empty(out.y_final.elem(), out.aux.cols());
    }

    /// The run's failure, if it failed: [`RuntimeError::RunFailed`] with the status, the
    /// reason and the time in recorded time.
    pub fn failure(&self) -> Option<RuntimeError> {
        let out = &self.out;
        (!out.status.is_success()).then(|| RuntimeError::RunFailed {
            status: out.status,
            reason: out.warnings.first().cloned(),
            t: out.t_final - self.time_shift,
        })
    }
}
