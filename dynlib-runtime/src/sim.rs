//! The session API: `build()`, `setup()` and [`Sim`]: runs (resolved by [`crate::plan`]),
//! results, resume, transients, session configuration, state access, snapshots
//! ([`crate::snapshot`]) and presets ([`crate::preset`]). The options are in
//! [`crate::options`].
//!
//! ```no_run
//! use dynlib_runtime::{setup, RunOptions, SetupOptions};
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

use std::path::Path;
use std::sync::Arc;

use dynlib_interp::Machine;
use dynlib_model::{load, Config, LoadOptions, ModelKind, Number};

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::options::cast;
use crate::options::{RunOptions, SessionConfig, SetupOptions};
use crate::plan::Execution;
use crate::preset::{OnConflict, Preset, Presets};
use crate::results::Results;
use crate::snapshot::{Snapshot, SnapshotInfo};
use crate::state::{SessionCore, SessionState};

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
        tiered: options.tiered,
        disk,
        observers: options.observers.clone(),
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

/// A simulation session: a kernel, the current state, parameters and time, results,
/// snapshots and presets.
pub struct Sim {
    kernel: Arc<Kernel>,
    machine: Machine,
    core: SessionCore,
    results: Option<Results>,
    snapshots: Vec<Snapshot>,
    presets: Presets,
}

impl Sim {
    /// A session at the model's initial state and `[sim]` defaults, with the model's presets.
    pub fn new(kernel: Arc<Kernel>) -> Sim {
        Sim {
            machine: kernel.machine(),
            core: SessionCore::new(&kernel),
            results: None,
            snapshots: Vec::new(),
            presets: Presets::from_model(&kernel.model),
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
        &self.core.state
    }

    /// Everything a run reads from this session besides its options: what
    /// [`crate::plan::resolve`] takes.
    pub fn core(&self) -> &SessionCore {
        &self.core
    }

    /// The nominal step of later runs.
    pub fn nominal_dt(&self) -> f64 {
        self.core.nominal_dt
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
            .zip(self.core.state.stepper_config.iter().copied())
            .collect()
    }

    /// Sets persistent defaults for later runs. Nothing changes if any value is invalid.
    pub fn configure(&mut self, c: &SessionConfig) -> Result<(), RuntimeError> {
        self.core.configure(&self.kernel, c)
    }

    /// Runs the model (runtime.md §1.4): [`crate::plan::resolve`], then
    /// [`crate::plan::Plan::execute`], then the commit. Every option is checked before anything
    /// changes: an invalid option returns an error and leaves the session as it was.
    pub fn run(&mut self, o: impl AsRef<RunOptions>) -> Result<&Results, RuntimeError> {
        let kernel = self.kernel.clone();
        let plan = crate::plan::resolve(&kernel, &self.core, o.as_ref())?;
        if !self.snapshots.iter().any(|s| s.name == "initial") {
            self.snapshots.push(Snapshot::new(
                "initial",
                "the seed of the first run",
                plan.seed().clone(),
                0.0,
                plan.nominal_dt(),
            ));
        }
        let ex = plan.execute(&kernel, &mut self.machine)?;
        match self.commit(ex)? {
            Some(e) => Err(e),
            None => self.results(),
        }
    }

    /// Adds a run's outcome to the results (a resumed run's to the ones it continues; a
    /// fresh run's samples are moved, not copied) and makes its final state the session's.
    /// Results are changed only when the run's samples fit them (`record` checks before it
    /// writes), so nothing held is lost. Returns the run's failure, if it failed.
    fn commit(&mut self, ex: Execution) -> Result<Option<RuntimeError>, RuntimeError> {
        let failure = ex.failure();
        let core = ex.committed();
        match self.results.as_mut().filter(|_| ex.plan().resume()) {
            Some(results) => ex.record(results)?,
            None => self.results = Some(ex.into_results()),
        }
        self.core = core;
        Ok(failure)
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
        let mut state = self.core.state.clone();
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
        self.core.state = state;
        if clear_results {
            self.results = None;
            self.core.recording = None;
        }
        Ok(())
    }

    /// The current value of a state, exactly (an int for integer models).
    pub fn state_value(&self, name: &str) -> Result<Number, RuntimeError> {
        let m = &self.kernel.model;
        m.state_index(name)
            .map(|i| self.core.state.y.number(i))
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
            .map(|i| self.core.state.params.number(i))
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
            .zip(self.core.state.y.numbers())
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
            .zip(self.core.state.params.numbers())
            .collect()
    }

    /// The current parameters by name as f64 (see [`Sim::state`]).
    pub fn params(&self) -> Vec<(&str, f64)> {
        self.param_values()
            .into_iter()
            .map(|(n, v)| (n, v.as_f64()))
            .collect()
    }

    /// A snapshot by name.
    pub fn snapshot(&self, name: &str) -> Result<&Snapshot, RuntimeError> {
        self.snapshots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                RuntimeError::not_found(
                    "snapshot",
                    name,
                    self.snapshots.iter().map(|s| s.name.as_str()),
                )
            })
    }

    /// Saves the current session under `name` (which must be new). The `initial` snapshot is
    /// created first if it does not exist yet.
    pub fn create_snapshot(&mut self, name: &str, description: &str) -> Result<(), RuntimeError> {
        if name.trim().is_empty() {
            return Err(RuntimeError::Session(
                "a snapshot needs a non-empty name".into(),
            ));
        }
        if self.snapshots.iter().any(|s| s.name == name) {
            return Err(RuntimeError::Session(format!(
                "a snapshot named '{name}' already exists"
            )));
        }
        if name != "initial" && !self.snapshots.iter().any(|s| s.name == "initial") {
            let fresh = SessionCore::new(&self.kernel);
            let initial = Snapshot::of("initial", "the model's initial values", &fresh);
            self.snapshots.push(initial);
        }
        self.snapshots
            .push(Snapshot::of(name, description, &self.core));
        Ok(())
    }

    /// The snapshots, in creation order.
    pub fn list_snapshots(&self) -> Vec<SnapshotInfo> {
        self.snapshots.iter().map(Snapshot::info).collect()
    }

    /// Writes the current session (`name = None`) or a named snapshot to `path` as JSON.
    pub fn export_snapshot(&self, path: &Path, name: Option<&str>) -> Result<(), RuntimeError> {
        match name {
            Some(n) => self.snapshot(n)?.write(&self.kernel, path),
            None => Snapshot::of("current", "", &self.core).write(&self.kernel, path),
        }
    }

    /// Reads a snapshot file without changing the session: checks its schema, shapes and
    /// pins against this session's kernel.
    pub fn inspect_snapshot(&self, path: &Path) -> Result<Snapshot, RuntimeError> {
        Snapshot::read(&self.kernel, path)
    }

    /// Replaces the session with the snapshot in `path` (checked first; on any problem the
    /// session is unchanged) and drops the results.
    pub fn import_snapshot(&mut self, path: &Path) -> Result<(), RuntimeError> {
        let snap = self.inspect_snapshot(path)?;
        self.restore(&snap);
        Ok(())
    }

    /// Restores the named snapshot (`"initial"`: the seed of the first run, or the model's
    /// initial values if nothing ran yet) and drops the results.
    pub fn reset(&mut self, name: &str) -> Result<(), RuntimeError> {
        if name == "initial" && !self.snapshots.iter().any(|s| s.name == "initial") {
            // Nothing ran yet: back to the model's values; the configuration (defaults,
            // nominal step, stepper configuration) stays.
            let mut core = SessionCore::new(&self.kernel);
            core.defaults = std::mem::take(&mut self.core.defaults);
            core.nominal_dt = self.core.nominal_dt;
            core.state.dt = self.core.nominal_dt;
            core.state.stepper_config = std::mem::take(&mut self.core.state.stepper_config);
            self.core = core;
            self.results = None;
            return Ok(());
        }
        let snap = self.snapshot(name)?.clone();
        self.restore(&snap);
        Ok(())
    }

    /// Makes `snap` the session (its pins were checked by the caller).
    fn restore(&mut self, snap: &Snapshot) {
        self.core.state = snap.state.clone();
        self.core.time_shift = snap.time_shift;
        self.core.nominal_dt = snap.nominal_dt;
        self.core.recording = None;
        self.results = None;
    }

    /// Names of the presets matching a glob pattern (`*`, `?`), sorted.
    pub fn list_presets(&self, pattern: &str) -> Vec<&str> {
        self.presets.list(pattern)
    }

    /// A preset by name.
    pub fn preset(&self, name: &str) -> Result<&Preset, RuntimeError> {
        self.presets.get(name)
    }

    /// Writes a preset's parameters, then its states, into the session (time, step,
    /// workspace and results are untouched).
    pub fn apply_preset(&mut self, name: &str) -> Result<(), RuntimeError> {
        self.presets.get(name)?.apply(&mut self.core.state);
        Ok(())
    }

    /// Adds a preset from (name, value) pairs; with neither states nor params given it takes
    /// all of the session's current values.
    pub fn add_preset(
        &mut self,
        name: &str,
        states: Option<&[(&str, f64)]>,
        params: Option<&[(&str, f64)]>,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let exact = |v: &[(&str, f64)]| -> Vec<(String, Number)> {
            v.iter()
                .map(|(n, x)| (n.to_string(), Number::Float(*x)))
                .collect()
        };
        self.add_preset_values(
            name,
            states.map(exact).as_deref(),
            params.map(exact).as_deref(),
            overwrite,
        )
    }

    /// [`Sim::add_preset`] with exact values (integers stay integers).
    pub fn add_preset_values(
        &mut self,
        name: &str,
        states: Option<&[(String, Number)]>,
        params: Option<&[(String, Number)]>,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        let p = Preset::from_values(&self.kernel, name, states, params, &self.core.state)?;
        let on_conflict = if overwrite {
            OnConflict::Replace
        } else {
            OnConflict::Error
        };
        self.presets.insert(p, on_conflict)
    }

    /// Loads the presets matching `pattern` from a preset file; returns how many were added
    /// or replaced. Everything is checked before the bank changes.
    pub fn load_presets(
        &mut self,
        path: &Path,
        pattern: &str,
        on_conflict: OnConflict,
    ) -> Result<usize, RuntimeError> {
        self.presets.load(&self.kernel, path, pattern, on_conflict)
    }

    /// Writes a preset into a preset file, merging with the presets already in it.
    pub fn save_preset(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
    ) -> Result<(), RuntimeError> {
        self.presets.save(&self.kernel.model, name, path, overwrite)
    }
}
