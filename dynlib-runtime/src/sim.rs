//! The session API: `build()`, `setup()` and [`Sim`], with the run options of runtime.md
//! §1.4, results, resume, transients, session configuration and state access. Snapshots and
//! presets live in [`crate::session`].
//!
//! ```no_run
//! use dynlib_runtime::sim::{setup, RunOptions, SetupOptions};
//! let mut sim = setup("builtin://ode/vanderpol", &SetupOptions::default().stepper("rk4"))?;
//! sim.run(&RunOptions::default().t_end(20.0))?;
//! let x = sim.results()?.series("x")?;
//! # Ok::<(), dynlib_runtime::RuntimeError>(())
//! ```
//!
//! Semantics worth knowing (they follow the reference, fixed where DESIGN.md says so):
//! - A fresh run (no `resume`) restarts time at `t0` and the step counter at 0, but starts
//!   from the session's *current* state and parameters, i.e. where the previous run ended.
//!   [`Sim::reset`] goes back to the initial snapshot.
//! - `T` (ODE) and `N` (map) are absolute targets, also when resuming.
//! - A transient runs first without recording; recorded times are shifted back so they start
//!   at `t0`, while the session's own time stays absolute.
//! - A resumed run continues time, step count, stepper histories and lag rings, keeps the
//!   recorded-variable selection and the record interval, and appends to the results; its
//!   first sample duplicates the last one held and is dropped, its events are kept.
//! - Stepper configuration overrides merge onto the stored configuration and persist.
//! - A run that fails (`STEPFAIL`, `NAN_DETECTED`, `ARITHMETIC_FAULT`, `MEMORY_LIMIT`,
//!   `USER_BREAK`) returns [`RuntimeError::RunFailed`] with the status and the reason; the
//!   samples recorded up to the failure are kept in [`Sim::results`] and the session holds
//!   the last committed state.
//! - Integer models are exact: values are kept in the model dtype from the model file to the
//!   results ([`RunOptions::ic`] and [`Sim::assign`] take integers, [`Sim::state_value`] and
//!   `Results::int_series` give them back).

use std::sync::Arc;

use dynlib_interp::Machine;
use dynlib_ir::Elem;
use dynlib_model::{load, Config, LoadOptions, ModelKind, Number};

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::results::Results;
use crate::run::{DVec, RunSpec, Status, Workspace};
use crate::session::{Preset, Snapshot};

/// How to build a model.
#[derive(Clone, Debug, Default)]
pub struct SetupOptions {
    /// Stepper name or alias (default: `[sim].stepper`, else `rk4` / `map`).
    pub stepper: Option<String>,
    /// Compile the kernel to native code with LLVM (cargo feature `jit`, on by default);
    /// results are bit-identical to the interpreter's. Any LLVM failure is an error from
    /// `build`, never a silent fallback; without the feature it is `JitUnavailable`.
    pub jit: bool,
    /// Keep compiled objects in the disk cache and load them from there (meaningful with
    /// `jit`): the root is the configuration's `cache_root` (or `[cache].root`), else the
    /// platform cache directory, else `<tmp>/dynlib-cache`, else memory only (each fallback
    /// warns once through `tracing`). `false` writes nothing at all.
    pub disk_cache: bool,
    /// Mod URIs to apply, in order.
    pub mods: Vec<String>,
    /// Registry configuration (default: read from the environment).
    pub config: Option<Config>,
    /// The dtype to compute in, overriding `[model].dtype` (ODEs need a float type).
    pub dtype: Option<String>,
}

impl SetupOptions {
    /// Chooses the stepper.
    pub fn stepper(mut self, name: impl Into<String>) -> Self {
        self.stepper = Some(name.into());
        self
    }

    /// Asks for native code.
    pub fn jit(mut self, on: bool) -> Self {
        self.jit = on;
        self
    }

    /// Asks for the disk cache.
    pub fn disk_cache(mut self, on: bool) -> Self {
        self.disk_cache = on;
        self
    }

    /// Applies a mod after loading.
    pub fn with_mod(mut self, uri: impl Into<String>) -> Self {
        self.mods.push(uri.into());
        self
    }

    /// Computes in this dtype (`float64`, `float32`, `int64`, `int32` or an alias).
    pub fn dtype(mut self, dtype: impl Into<String>) -> Self {
        self.dtype = Some(dtype.into());
        self
    }

    /// Uses this registry configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
}

impl AsRef<SetupOptions> for SetupOptions {
    fn as_ref(&self) -> &SetupOptions {
        self
    }
}

impl AsRef<RunOptions> for RunOptions {
    fn as_ref(&self) -> &RunOptions {
        self
    }
}

/// Loads the model at `uri` and builds its kernel (the options by value or by reference).
pub fn build(uri: &str, options: impl AsRef<SetupOptions>) -> Result<Arc<Kernel>, RuntimeError> {
    let options = options.as_ref();
    if options.jit && !cfg!(feature = "jit") {
        return Err(RuntimeError::JitUnavailable);
    }
    let load_options = LoadOptions {
        mods: options.mods.clone(),
        config: options.config.clone(),
    };
    let mut model = load(uri, &load_options)?;
    if let Some(name) = &options.dtype {
        let dtype = dynlib_model::Dtype::parse(name).ok_or_else(|| {
            RuntimeError::option(
                "dtype",
                format!("'{name}' is not a dtype; use float64 (float, double), float32 (single), int64 or int32"),
            )
        })?;
        if model.kind == ModelKind::Ode && !dtype.is_float() {
            return Err(RuntimeError::option(
                "dtype",
                format!("ODE models need a float dtype (float64 or float32), got '{name}'"),
            ));
        }
        model.dtype = dtype;
        // The model's values were checked against its own dtype; check them against this
        // one (a float model run as int32 may hold values it cannot).
        if !dtype.is_float() {
            let elem = dynlib_ir::lower::elem_of(dtype);
            for v in model.states.iter().chain(&model.params) {
                let out_of_range = match (v.value, dtype) {
                    (dynlib_model::expr::Number::Int(i), dynlib_model::Dtype::Int32) => {
                        i32::try_from(i).is_err()
                    }
                    (dynlib_model::expr::Number::Int(_), _) => false,
                    (dynlib_model::expr::Number::Float(f), _) => {
                        // A fraction would be truncated silently: 0.1 becomes 0.
                        f.fract() != 0.0 || cast(elem, "dtype", &v.name, Number::Float(f)).is_err()
                    }
                };
                if out_of_range {
                    return Err(RuntimeError::option(
                        "dtype",
                        format!(
                            "{} = {} is not a whole number in the range of {} (the model's \
                             values would change silently)",
                            v.name,
                            v.value,
                            dtype.as_str()
                        ),
                    ));
                }
            }
        }
    }
    // The disk cache only matters for native code; without `disk_cache` nothing is
    // resolved, created or written.
    let disk = if options.jit && options.disk_cache {
        let config = match &options.config {
            Some(c) => c.clone(),
            None => Config::load()?,
        };
        match dynlib_cache::resolve(config.cache_root()) {
            dynlib_cache::Root::Disk(root) => Some(dynlib_cache::DiskCache::new(root)),
            dynlib_cache::Root::ReadOnly(root) => {
                Some(dynlib_cache::DiskCache::new(root).read_only(true))
            }
            dynlib_cache::Root::Memory => None,
        }
    } else {
        None
    };
    let build = crate::kernel::BuildOptions {
        jit: options.jit,
        disk,
        ..Default::default()
    };
    // `[sim]` stepper settings are checked once, here (before anything is compiled), so a
    // bad `[sim].rtol` is reported as the model's, not as a run option.
    let stepper = crate::stepper::resolve(&model, options.stepper.as_deref())?;
    crate::stepper::check_sim(&model, stepper)?;
    let kernel = Kernel::build_with(Arc::new(model), options.stepper.as_deref(), &build)?;
    Ok(Arc::new(kernel))
}

/// Builds the model at `uri` and opens a session on it.
pub fn setup(uri: &str, options: impl AsRef<SetupOptions>) -> Result<Sim, RuntimeError> {
    Ok(Sim::new(build(uri, options)?))
}

/// Options of one run; unset options take the session's configuration, then the model's
/// `[sim]` defaults.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Start time (fresh runs; default `[sim].t0`).
    pub t0: Option<f64>,
    /// Absolute horizon (ODE; for maps it sets N = round((T - t0) / dt)).
    pub t_end: Option<f64>,
    /// Absolute number of iterations (maps only).
    pub n: Option<u64>,
    /// Step (ODE; for adaptive steppers a cap on the first step) or label spacing (map).
    pub dt: Option<f64>,
    /// Step cap of this run (ODE).
    pub max_steps: Option<u64>,
    /// Whether to record samples (events are logged either way).
    pub record: Option<bool>,
    /// Record every k steps.
    pub record_interval: Option<u64>,
    /// What to record: state names and `aux.NAME` (or bare aux names); default all states.
    pub record_vars: Option<Vec<String>>,
    /// Warm-up before recording: time (ODE) or iterations (map).
    pub transient: Option<f64>,
    /// Continue the previous run instead of starting a fresh one.
    pub resume: bool,
    /// A name for the recorded segment.
    pub tag: Option<String>,
    /// Initial state overrides by name (exact: an int stays an int for integer models).
    pub ic: Vec<(String, Number)>,
    /// Parameter overrides by name.
    pub params: Vec<(String, Number)>,
    /// Initial record capacity (samples).
    pub cap_rec: Option<usize>,
    /// Initial event capacity (rows).
    pub cap_evt: Option<usize>,
    /// Stepper configuration overrides by field name (merged onto the stored ones).
    pub stepper_config: Vec<(String, f64)>,
    /// The most the record and event buffers may take, in bytes (default: half the
    /// machine's memory, [`crate::run::default_memory_limit`]). A run that would need more
    /// stops with `MEMORY_LIMIT`, keeping what it recorded; a run that certainly needs more
    /// (a map recording more samples than fit) is refused before it starts.
    pub memory_limit: Option<u64>,
    /// Stops the run at the next chunk boundary once requested (status `USER_BREAK`).
    pub interrupt: Option<crate::Interrupt>,
}

impl RunOptions {
    /// Sets the start time.
    pub fn t0(mut self, t0: f64) -> Self {
        self.t0 = Some(t0);
        self
    }

    /// Sets the absolute horizon.
    pub fn t_end(mut self, t: f64) -> Self {
        self.t_end = Some(t);
        self
    }

    /// Sets the absolute iteration count (maps).
    pub fn n(mut self, n: u64) -> Self {
        self.n = Some(n);
        self
    }

    /// Sets the step.
    pub fn dt(mut self, dt: f64) -> Self {
        self.dt = Some(dt);
        self
    }

    /// Caps the number of steps.
    pub fn max_steps(mut self, n: u64) -> Self {
        self.max_steps = Some(n);
        self
    }

    /// Turns recording on or off.
    pub fn record(mut self, on: bool) -> Self {
        self.record = Some(on);
        self
    }

    /// Records every k steps.
    pub fn record_interval(mut self, k: u64) -> Self {
        self.record_interval = Some(k);
        self
    }

    /// Chooses what to record.
    pub fn record_vars<S: AsRef<str>>(mut self, vars: &[S]) -> Self {
        self.record_vars = Some(vars.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Warms up for this long (ODE time, map iterations) before recording.
    pub fn transient(mut self, x: f64) -> Self {
        self.transient = Some(x);
        self
    }

    /// Continues the previous run.
    pub fn resume(mut self) -> Self {
        self.resume = true;
        self
    }

    /// Names the recorded segment.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Overrides an initial state (`0.5`, or an integer such as `9007199254740993i64`).
    pub fn ic(mut self, name: &str, value: impl Into<Number>) -> Self {
        self.ic.push((name.to_string(), value.into()));
        self
    }

    /// Overrides a parameter.
    pub fn param(mut self, name: &str, value: impl Into<Number>) -> Self {
        self.params.push((name.to_string(), value.into()));
        self
    }

    /// Sets the initial buffer capacities.
    pub fn capacities(mut self, records: usize, events: usize) -> Self {
        self.cap_rec = Some(records);
        self.cap_evt = Some(events);
        self
    }

    /// Overrides a stepper configuration field (e.g. `rtol`).
    pub fn stepper_option(mut self, name: &str, value: f64) -> Self {
        self.stepper_config.push((name.to_string(), value));
        self
    }

    /// Caps the memory of the record and event buffers, in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Watches `interrupt`: once it is requested the run stops with `USER_BREAK`.
    pub fn interrupt(mut self, interrupt: &crate::Interrupt) -> Self {
        self.interrupt = Some(interrupt.clone());
        self
    }
}

/// Persistent session defaults ([`Sim::configure`]); they apply to every later run that does
/// not give the option itself.
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// Nominal step; also becomes the session's current step.
    pub dt: Option<f64>,
    /// Step cap (ODE), default iteration count (map).
    pub max_steps: Option<u64>,
    /// Whether to record.
    pub record: Option<bool>,
    /// Record every k steps.
    pub record_interval: Option<u64>,
    /// Initial record capacity.
    pub cap_rec: Option<usize>,
    /// Initial event capacity.
    pub cap_evt: Option<usize>,
    /// Stepper configuration overrides (merged onto the stored configuration).
    pub stepper_config: Vec<(String, f64)>,
}

/// The mutable state of a session; snapshots copy it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionState {
    /// Current (absolute) time.
    pub t: f64,
    /// Current state, in the model dtype.
    pub y: DVec,
    /// Current parameters, in the model dtype.
    pub params: DVec,
    /// The step the stepper suggested last (adaptive steppers continue with it).
    pub dt: f64,
    /// Steps taken since the last fresh run, transient included.
    pub step_count: u64,
    /// Stepper histories and lag rings (`None` before the first run).
    pub workspace: Option<Workspace>,
    /// How the last run ended.
    pub status: Status,
    /// The stepper configuration, in [`crate::stepper::StepperSpec::config`] order.
    pub stepper_config: Vec<f64>,
}

/// What the recording of the current results is: frozen by a fresh run, reused by resumes.
#[derive(Clone, Debug)]
struct Recording {
    states: Vec<usize>,
    aux: Vec<usize>,
    interval: u64,
    /// The `t0` of the fresh run (the origin of map horizons given as `T`).
    t0: f64,
    /// Steps of the transient (the recorded STEP axis starts after them).
    transient_steps: u64,
}

/// A simulation session: a kernel, the current state, parameters and time, results,
/// snapshots and presets.
pub struct Sim {
    pub(crate) kernel: Arc<Kernel>,
    machine: Machine,
    pub(crate) state: SessionState,
    pub(crate) nominal_dt: f64,
    pub(crate) time_shift: f64,
    defaults: SessionConfig,
    recording: Option<Recording>,
    pub(crate) results: Option<Results>,
    pub(crate) snapshots: Vec<Snapshot>,
    pub(crate) presets: Vec<Preset>,
}

impl Sim {
    /// A session at the model's initial state and `[sim]` defaults, with the model's presets.
    pub fn new(kernel: Arc<Kernel>) -> Sim {
        let m = &kernel.model;
        let stepper_config = config_defaults(&kernel);
        let elem = kernel.elem();
        // Exact: the model's ints stay ints (the checker made sure they fit the dtype).
        let values = |v: &[dynlib_model::Var]| {
            DVec::from_numbers(elem, &v.iter().map(|s| s.value).collect::<Vec<_>>())
        };
        let state = SessionState {
            t: m.sim.t0,
            y: values(&m.states),
            params: values(&m.params),
            dt: m.sim.dt,
            step_count: 0,
            workspace: None,
            status: Status::Done,
            stepper_config,
        };
        Sim {
            machine: kernel.machine(),
            nominal_dt: m.sim.dt,
            time_shift: 0.0,
            defaults: SessionConfig::default(),
            recording: None,
            results: None,
            snapshots: Vec::new(),
            presets: Preset::from_model(m),
            state,
            kernel,
        }
    }

    /// The kernel (model, stepper, program).
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// The model.
    pub fn model(&self) -> &dynlib_model::Model {
        &self.kernel.model
    }

    /// The session's current state (time, state, parameters, step count, workspace).
    pub fn session(&self) -> &SessionState {
        &self.state
    }

    /// The nominal step of later runs.
    pub fn nominal_dt(&self) -> f64 {
        self.nominal_dt
    }

    /// The results of the last fresh run and the runs that resumed it.
    pub fn results(&self) -> Result<&Results, RuntimeError> {
        self.results
            .as_ref()
            .ok_or_else(|| RuntimeError::Session("no results yet: run the simulation first".into()))
    }

    /// The stored stepper configuration as (field, value) pairs.
    pub fn stepper_config(&self) -> Vec<(&'static str, f64)> {
        self.kernel
            .stepper
            .config
            .iter()
            .map(|f| f.name)
            .zip(self.state.stepper_config.iter().copied())
            .collect()
    }

    /// Sets persistent defaults for later runs. Nothing changes if any value is invalid.
    pub fn configure(&mut self, c: &SessionConfig) -> Result<(), RuntimeError> {
        if let Some(dt) = c.dt {
            check_dt(dt)?;
        }
        check_counts(c.max_steps, c.record_interval, c.cap_rec, c.cap_evt)?;
        let config = self.merged_config(&c.stepper_config)?;
        if let Some(dt) = c.dt {
            self.nominal_dt = dt;
            self.state.dt = dt;
        }
        let d = &mut self.defaults;
        d.max_steps = c.max_steps.or(d.max_steps);
        d.record = c.record.or(d.record);
        d.record_interval = c.record_interval.or(d.record_interval);
        d.cap_rec = c.cap_rec.or(d.cap_rec);
        d.cap_evt = c.cap_evt.or(d.cap_evt);
        self.state.stepper_config = config;
        Ok(())
    }

    /// The stored stepper configuration with `overrides` merged on (fixing the reference's
    /// C1: earlier overrides are kept).
    fn merged_config(&self, overrides: &[(String, f64)]) -> Result<Vec<f64>, RuntimeError> {
        let mut config = self.state.stepper_config.clone();
        let fields: Vec<&str> = self.kernel.stepper.config.iter().map(|f| f.name).collect();
        for (name, v) in overrides {
            let i = fields.iter().position(|f| f == name).ok_or_else(|| {
                if fields.is_empty() {
                    RuntimeError::option(
                        name,
                        format!(
                            "stepper '{}' has no configuration fields",
                            self.kernel.stepper.name
                        ),
                    )
                } else {
                    RuntimeError::not_found(
                        "stepper configuration field",
                        name,
                        fields.iter().copied(),
                    )
                }
            })?;
            config[i] = *v;
        }
        self.kernel
            .stepper
            .check_config(&config)
            .map_err(|(field, message)| RuntimeError::option(field, message))?;
        Ok(config)
    }

    /// Resolves `record_vars` into state and aux indices. A variable named twice is an
    /// error (the reference records it twice, under one column name).
    fn selection(&self, vars: Option<&[String]>) -> Result<(Vec<usize>, Vec<usize>), RuntimeError> {
        let m = &self.kernel.model;
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

    /// Runs the model (runtime.md §1.4). Every option is checked before anything changes:
    /// an invalid option returns an error and leaves the session as it was.
    pub fn run(&mut self, o: impl AsRef<RunOptions>) -> Result<&Results, RuntimeError> {
        let o = o.as_ref();
        let kernel = self.kernel.clone();
        let m = &kernel.model;
        let elem = kernel.elem();

        // --- Validate and resolve every option before touching the session. ---
        if o.resume {
            for (given, name) in [
                (!o.ic.is_empty(), "ic"),
                (!o.params.is_empty(), "params"),
                (o.t0.is_some(), "t0"),
                (o.dt.is_some(), "dt"),
                (o.transient.is_some_and(|x| x > 0.0), "transient"),
                (o.record_vars.is_some(), "record_vars"),
            ] {
                if given {
                    return Err(RuntimeError::option(
                        name,
                        "cannot be given when resuming: a resumed run continues the previous one",
                    ));
                }
            }
        }
        if let Some(dt) = o.dt {
            check_dt(dt)?;
        }
        check_counts(o.max_steps, o.record_interval, o.cap_rec, o.cap_evt)?;
        if let Some(tr) = o.transient {
            if !(tr >= 0.0 && tr.is_finite()) {
                return Err(RuntimeError::option(
                    "transient",
                    format!("must be a finite number >= 0, got {}", Num(tr)),
                ));
            }
            if m.kind == ModelKind::Map && (tr.fract() != 0.0 || tr > MAX_COUNT as f64) {
                return Err(RuntimeError::option(
                    "transient",
                    format!(
                        "a map's transient is a number of iterations, a whole number of at most {MAX_COUNT}; got {}",
                        Num(tr)
                    ),
                ));
            }
        }
        check_count("n", o.n)?;
        if let Some(tag) = &o.tag {
            if tag.trim().is_empty() {
                return Err(RuntimeError::option("tag", "must not be empty"));
            }
        }
        if let Some(t0) = o.t0 {
            if !t0.is_finite() {
                return Err(RuntimeError::option(
                    "t0",
                    format!("must be finite, got {}", Num(t0)),
                ));
            }
        }
        let mut y = self.state.y.clone();
        for (name, v) in &o.ic {
            let i = m.state_index(name).ok_or_else(|| {
                RuntimeError::option(
                    "ic",
                    RuntimeError::not_found("state", name, m.state_names().into_iter()).to_string(),
                )
            })?;
            y.set_number(i, cast(elem, "ic", name, *v)?);
        }
        let mut params = self.state.params.clone();
        for (name, v) in &o.params {
            let i = m.param_index(name).ok_or_else(|| {
                RuntimeError::option(
                    "params",
                    RuntimeError::not_found("parameter", name, m.param_names().into_iter())
                        .to_string(),
                )
            })?;
            params.set_number(i, cast(elem, "params", name, *v)?);
        }
        let config = self.merged_config(&o.stepper_config)?;
        let record = o.record.or(self.defaults.record).unwrap_or(m.sim.record);
        let max_steps = o
            .max_steps
            .or(self.defaults.max_steps)
            .unwrap_or(m.sim.max_steps);
        let cap_rec = o.cap_rec.or(self.defaults.cap_rec).unwrap_or(1024);
        let cap_evt = o.cap_evt.or(self.defaults.cap_evt).unwrap_or(1);
        let resume_rec = if o.resume {
            self.recording.clone()
        } else {
            None
        };
        let (rec_states, rec_aux) = match &resume_rec {
            Some(r) => (r.states.clone(), r.aux.clone()),
            None => self.selection(o.record_vars.as_deref())?,
        };
        // S5: a resumed run keeps the record interval of the run it continues.
        let interval = o
            .record_interval
            .or(resume_rec.as_ref().map(|r| r.interval))
            .or(self.defaults.record_interval)
            .unwrap_or(1);
        let dt = o.dt.unwrap_or(self.nominal_dt);
        let t0 = if o.resume {
            resume_rec.as_ref().map_or(self.state.t, |r| r.t0)
        } else {
            o.t0.unwrap_or(m.sim.t0)
        };
        let transient = if o.resume {
            0.0
        } else {
            o.transient.unwrap_or(0.0)
        };
        let shift = if o.resume { self.time_shift } else { 0.0 };
        // The horizon: absolute time (ODE) or absolute iteration count (map).
        let (t_end, iterations) = match m.kind {
            ModelKind::Ode => {
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
                    if t_end + shift <= self.state.t {
                        return Err(RuntimeError::option(
                            "T",
                            format!(
                                "resuming needs a horizon after the session time {}, got T = {}",
                                Num(self.state.t - shift),
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
                (t_end, max_steps)
            }
            ModelKind::Map => {
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
                let iterations = if o.resume {
                    let done = resume_rec
                        .as_ref()
                        .map_or(0, |r| self.state.step_count - r.transient_steps);
                    if n <= done {
                        return Err(RuntimeError::option(
                            "N",
                            format!("resuming needs N beyond the {done} iterations already done, got N = {n}"),
                        ));
                    }
                    n - done
                } else {
                    n
                };
                (0.0, iterations)
            }
        };

        let memory_limit = o
            .memory_limit
            .unwrap_or_else(crate::run::default_memory_limit);
        let fixed = !kernel.stepper.adaptive;
        // A fixed step that cannot move time from where the run starts never will.
        let start_t = if o.resume { self.state.t } else { t0 };
        if m.kind == ModelKind::Ode && fixed {
            check_time_resolution(start_t, t_end + shift, dt)?;
        }
        // A run that must record more samples than the memory limit allows is refused
        // before it starts (runs whose length is not known up front stop at the limit).
        if record {
            let steps = match m.kind {
                ModelKind::Map => Some(iterations as f64),
                ModelKind::Ode if fixed => {
                    Some((((t_end + shift - start_t) / dt).ceil()).min(max_steps as f64))
                }
                ModelKind::Ode => None,
            };
            if let Some(steps) = steps {
                let samples = (steps / interval as f64).floor() + 1.0;
                let row = crate::run::record_row_bytes(elem, rec_states.len(), rec_aux.len());
                let bytes = samples * row as f64;
                if bytes > memory_limit as f64 {
                    let option = match (m.kind, o.n, o.t_end) {
                        (ModelKind::Map, Some(_), _) => "n",
                        (_, _, Some(_)) => "T",
                        _ => "max_steps",
                    };
                    return Err(RuntimeError::option(
                        option,
                        format!(
                            "recording {} samples of {row} bytes needs {} bytes, more than the \
                             memory limit of {memory_limit} bytes; record less often \
                             (record_interval), fewer variables (record_vars), or not at all",
                            Num(samples),
                            Num(bytes)
                        ),
                    ));
                }
            }
        }

        // --- The seed. ---
        let seed = if o.resume {
            let mut s = self.state.clone();
            if fixed || s.step_count == 0 {
                s.dt = self.nominal_dt;
            }
            s.stepper_config = config.clone();
            s
        } else {
            SessionState {
                t: t0,
                y,
                params,
                dt,
                step_count: 0,
                workspace: None,
                status: Status::Done,
                stepper_config: config.clone(),
            }
        };
        if !self.snapshots.iter().any(|s| s.name == "initial") {
            self.snapshots.push(Snapshot::new(
                "initial",
                "the seed of the first run",
                seed.clone(),
                0.0,
                dt,
            ));
        }
        let base = RunSpec {
            t0: seed.t,
            t_end: 0.0,
            dt: seed.dt,
            max_steps: iterations,
            record_interval: 0,
            y0: seed.y.clone(),
            params: seed.params.clone(),
            config: config.clone(),
            explicit_dt: if o.resume { None } else { o.dt },
            wrms_first_step: !o.resume,
            workspace: seed.workspace.clone(),
            rec_states: rec_states.clone(),
            rec_aux: rec_aux.clone(),
            cap_rec,
            cap_evt,
            memory_limit,
            interrupt: o.interrupt.clone(),
        };

        // --- Transient: a run without recording; the recorded run continues from it. ---
        let mut time_shift = shift;
        let mut transient_steps = resume_rec.as_ref().map_or(0, |r| r.transient_steps);
        let mut spec = base.clone();
        if transient > 0.0 {
            let mut warm = base.clone();
            match m.kind {
                ModelKind::Ode => warm.t_end = seed.t + transient,
                ModelKind::Map => warm.max_steps = transient as u64,
            }
            let out = kernel.run(&mut self.machine, &warm)?;
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
            spec.dt = dt;
            spec.workspace = Some(out.workspace);
            time_shift = out.t_final - t0;
            transient_steps = out.steps;
        }
        spec.record_interval = if record { interval } else { 0 };
        if m.kind == ModelKind::Ode {
            spec.t_end = t_end + time_shift;
        }
        let step_offset = if o.resume {
            (self.state.step_count - transient_steps) as i64
        } else {
            0
        };

        // --- The recorded run. ---
        let mut out = kernel.run(&mut self.machine, &spec)?;
        let mut results = match (o.resume, self.results.take()) {
            (true, Some(r)) => r,
            (_, old) => {
                self.results = old;
                Results::new(kernel.model.clone(), &rec_states, &rec_aux)
            }
        };
        if m.kind == ModelKind::Ode && out.steps >= max_steps && out.status == Status::Done {
            results.warnings.push(format!(
                "the run stopped after max_steps = {max_steps} steps at t = {}, before T = {}",
                Num(out.t_final - time_shift),
                Num(t_end)
            ));
        }
        results.warnings.extend(out.warnings.iter().cloned());
        Results::unshift(m, &mut out, time_shift);
        results.stitch(&out, step_offset, o.resume, o.tag.as_deref())?;

        // --- Commit to the session. ---
        if !o.resume {
            self.nominal_dt = dt;
        }
        self.time_shift = time_shift;
        let steps_before = if o.resume {
            self.state.step_count
        } else {
            transient_steps
        };
        self.state = SessionState {
            t: out.t_final,
            y: out.y_final.clone(),
            params: out.params_final.clone(),
            dt: out.dt_final,
            step_count: steps_before + out.steps,
            workspace: Some(out.workspace),
            status: out.status,
            stepper_config: config,
        };
        self.recording = Some(Recording {
            states: rec_states,
            aux: rec_aux,
            interval,
            t0,
            transient_steps,
        });
        results.t_final = self.state.t;
        results.y_final = self.state.y.clone();
        results.params_final = self.state.params.clone();
        results.step_count = self.state.step_count;
        let status = out.status;
        let results = self.results.insert(results);
        if !status.is_success() {
            return Err(RuntimeError::RunFailed {
                status,
                reason: out.warnings.first().cloned(),
                t: out.t_final - time_shift,
            });
        }
        Ok(results)
    }

    /// Writes state and parameter values by name (states first, then parameters), cast to the
    /// model dtype (floats or exact integers: `&[("x", 0.5)]`, `&[("n", 1i64 << 60)]`). All
    /// names are checked before anything changes. With `clear_results` the results are
    /// dropped (time, step count and workspace stay).
    pub fn assign<V: Into<Number> + Copy>(
        &mut self,
        values: &[(&str, V)],
        clear_results: bool,
    ) -> Result<(), RuntimeError> {
        let m = &self.kernel.model;
        let elem = self.kernel.elem();
        let mut state = self.state.clone();
        for (name, v) in values {
            let v: Number = (*v).into();
            if let Some(i) = m.state_index(name) {
                state.y.set_number(i, cast(elem, "assign", name, v)?);
            } else if let Some(i) = m.param_index(name) {
                state.params.set_number(i, cast(elem, "assign", name, v)?);
            } else {
                let mut known = m.state_names();
                known.extend(m.param_names());
                return Err(RuntimeError::not_found(
                    "state or parameter",
                    name,
                    known.into_iter(),
                ));
            }
        }
        self.state = state;
        if clear_results {
            self.results = None;
            self.recording = None;
        }
        Ok(())
    }

    /// The current value of a state, exactly (an int for integer models).
    pub fn state_value(&self, name: &str) -> Result<Number, RuntimeError> {
        let m = &self.kernel.model;
        m.state_index(name)
            .map(|i| self.state.y.number(i))
            .ok_or_else(|| RuntimeError::not_found("state", name, m.state_names().into_iter()))
    }

    /// The current value of a state as f64 (exact for float models and integers up to
    /// 2**53; [`Sim::state_value`] is always exact).
    pub fn state(&self, name: &str) -> Result<f64, RuntimeError> {
        self.state_value(name).map(Number::as_f64)
    }

    /// The current value of a parameter, exactly.
    pub fn param_value(&self, name: &str) -> Result<Number, RuntimeError> {
        let m = &self.kernel.model;
        m.param_index(name)
            .map(|i| self.state.params.number(i))
            .ok_or_else(|| RuntimeError::not_found("parameter", name, m.param_names().into_iter()))
    }

    /// The current value of a parameter as f64 (see [`Sim::state`]).
    pub fn param(&self, name: &str) -> Result<f64, RuntimeError> {
        self.param_value(name).map(Number::as_f64)
    }

    /// The current states by name, in declaration order, exactly.
    pub fn state_values(&self) -> Vec<(&str, Number)> {
        let m = &self.kernel.model;
        m.state_names()
            .into_iter()
            .zip(self.state.y.numbers())
            .collect()
    }

    /// The current states by name as f64 (see [`Sim::state`]).
    pub fn states(&self) -> Vec<(&str, f64)> {
        self.state_values()
            .into_iter()
            .map(|(n, v)| (n, v.as_f64()))
            .collect()
    }

    /// The current parameters by name, exactly.
    pub fn param_values(&self) -> Vec<(&str, Number)> {
        let m = &self.kernel.model;
        m.param_names()
            .into_iter()
            .zip(self.state.params.numbers())
            .collect()
    }

    /// The current parameters by name as f64 (see [`Sim::state`]).
    pub fn params(&self) -> Vec<(&str, f64)> {
        self.param_values()
            .into_iter()
            .map(|(n, v)| (n, v.as_f64()))
            .collect()
    }

    /// Restores the named snapshot (`"initial"`: the seed of the first run, or the model's
    /// initial values if nothing ran yet) and drops the results.
    pub fn reset(&mut self, name: &str) -> Result<(), RuntimeError> {
        if name == "initial" && !self.snapshots.iter().any(|s| s.name == "initial") {
            // Nothing ran yet: back to the model's values; the configuration (defaults,
            // nominal step, stepper configuration) stays.
            let (nominal_dt, config) = (self.nominal_dt, self.state.stepper_config.clone());
            *self = Sim {
                snapshots: std::mem::take(&mut self.snapshots),
                presets: std::mem::take(&mut self.presets),
                defaults: std::mem::take(&mut self.defaults),
                ..Sim::new(self.kernel.clone())
            };
            self.nominal_dt = nominal_dt;
            self.state.dt = nominal_dt;
            self.state.stepper_config = config;
            return Ok(());
        }
        let snap = self.snapshot(name)?.clone();
        self.restore(&snap);
        Ok(())
    }

    /// Makes `snap` the session (its pins were checked by the caller).
    pub(crate) fn restore(&mut self, snap: &Snapshot) {
        self.state = snap.state.clone();
        self.time_shift = snap.time_shift;
        self.nominal_dt = snap.nominal_dt;
        self.results = None;
        self.recording = None;
    }
}

/// The stepper configuration a session starts with: each field's `[sim]` value, else its
/// default.
fn config_defaults(kernel: &Kernel) -> Vec<f64> {
    kernel
        .stepper
        .config
        .iter()
        .map(|f| kernel.model.sim.number(f.name).unwrap_or(f.default))
        .collect()
}

/// Checks that fixed steps of `dt` from `t_start` to `t_end` move time as they should:
/// `t + dt == t` never advances, and where floats are coarser than a small fraction of `dt`
/// every `t + dt` rounds, so time would advance by another amount than the state is
/// integrated with. Errors name `dt`.
pub fn check_time_resolution(t_start: f64, t_end: f64, dt: f64) -> Result<(), RuntimeError> {
    let h = dt.min(t_end - t_start);
    if h.is_nan() || h <= 0.0 {
        return Ok(());
    }
    if t_start + h == t_start {
        return Err(RuntimeError::option(
            "dt",
            format!(
                "dt = {} does not advance time from t = {} (t + dt == t: floats \
                 there are {} apart); use a larger dt or start nearer 0",
                Num(dt),
                Num(t_start),
                Num(crate::run::spacing(t_start))
            ),
        ));
    }
    let far = t_start.abs().max(t_end.abs());
    let gap = crate::run::spacing(far);
    if gap > 2e-3 * dt {
        return Err(RuntimeError::option(
            "dt",
            format!(
                "dt = {} is too fine for times near {}: floats there are {} apart, so each \
                 step would advance time by a rounded amount (off by up to {:.1}% of dt); use \
                 a larger dt, or measure time from an origin nearer the run",
                Num(dt),
                Num(far),
                Num(gap),
                50.0 * gap / dt
            ),
        ));
    }
    Ok(())
}

/// Checks a step size.
fn check_dt(dt: f64) -> Result<(), RuntimeError> {
    if dt > 0.0 && dt.is_finite() {
        Ok(())
    } else {
        Err(RuntimeError::option(
            "dt",
            format!("must be a positive finite number, got {}", Num(dt)),
        ))
    }
}

/// A float in a message, as Python writes it: `1e+300`, not three hundred digits.
pub(crate) struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Number::Float(self.0))
    }
}

/// The largest count of steps, iterations or samples a run can hold (the runner counts in
/// signed 64-bit integers).
pub const MAX_COUNT: u64 = i64::MAX as u64;

/// Checks a count option: at least 1 and at most [`MAX_COUNT`].
fn check_count(option: &str, n: Option<u64>) -> Result<(), RuntimeError> {
    match n {
        Some(0) => Err(RuntimeError::option(option, "must be at least 1")),
        Some(n) if n > MAX_COUNT => Err(RuntimeError::option(
            option,
            format!("{n} is more than the {MAX_COUNT} a run can count"),
        )),
        _ => Ok(()),
    }
}

/// Checks the counts `run` and `configure` share: each, when given, at least 1 and
/// countable.
fn check_counts(
    max_steps: Option<u64>,
    record_interval: Option<u64>,
    cap_rec: Option<usize>,
    cap_evt: Option<usize>,
) -> Result<(), RuntimeError> {
    check_count("max_steps", max_steps)?;
    check_count("record_interval", record_interval)?;
    if cap_rec == Some(0) || cap_evt == Some(0) {
        return Err(RuntimeError::option(
            "cap_rec/cap_evt",
            "capacities must be at least 1",
        ));
    }
    Ok(())
}

/// A value cast to the model dtype: exact for float64 (an int rounds to the nearest float),
/// rounded for float32; integer models take ints exactly and refuse fractions and values
/// out of range rather than silently truncating or saturating them.
pub(crate) fn cast(
    elem: Elem,
    option: &str,
    name: &str,
    v: Number,
) -> Result<Number, RuntimeError> {
    let bad = |why: &str| RuntimeError::option(option, format!("{name} = {v}: {why}"));
    match (elem, v) {
        (Elem::F64, v) => Ok(Number::Float(v.as_f64())),
        (Elem::F32, v) => {
            let x = v.as_f64() as f32;
            if x.is_infinite() && v.as_f64().is_finite() {
                return Err(bad("out of range for float32"));
            }
            Ok(Number::Float(x as f64))
        }
        (Elem::I64, Number::Int(i)) => Ok(Number::Int(i)),
        (Elem::I32, Number::Int(i)) => i32::try_from(i)
            .map(|_| Number::Int(i))
            .map_err(|_| bad("out of range for int32")),
        (Elem::I64 | Elem::I32, Number::Float(f)) => {
            if f.fract() != 0.0 || !f.is_finite() {
                return Err(bad("an integer model needs whole numbers"));
            }
            let fits = if elem == Elem::I64 {
                (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            } else {
                (i32::MIN as f64..=i32::MAX as f64).contains(&f)
            };
            if !fits {
                return Err(bad("out of range for the model's integer type"));
            }
            Ok(Number::Int(f as i64))
        }
    }
}
