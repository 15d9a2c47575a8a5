//! What a session holds between runs, as plain data: the state a run starts from
//! ([`SessionState`], which snapshots copy) and the rest a run reads ([`SessionCore`]: the
//! nominal step, the transient's time shift, the persistent defaults, the recording that a
//! resumed run continues). [`crate::plan::resolve`] reads a core and never changes it; a
//! [`crate::Sim`] owns one, and a batch can share one read-only across its runs. The
//! bounded read and atomic write of session files (snapshots, presets) are here too.

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::options::{check_counts, check_dt, SessionConfig};
use crate::run::{DVec, Status};
use crate::workspace::Workspace;

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
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Indices of the recorded states.
    pub states: Vec<usize>,
    /// Indices of the recorded aux.
    pub aux: Vec<usize>,
    /// Record every k steps.
    pub interval: u64,
    /// The `t0` of the fresh run (the origin of map horizons given as `T`).
    pub t0: f64,
    /// Steps of the transient (the recorded STEP axis starts after them).
    pub transient_steps: u64,
}

/// Everything a run reads from a session besides its options.
#[derive(Clone, Debug)]
pub struct SessionCore {
    /// The state the next run starts from.
    pub state: SessionState,
    /// The nominal step of later runs.
    pub nominal_dt: f64,
    /// The last fresh run's transient time shift (recorded time = session time − shift).
    pub time_shift: f64,
    /// Persistent run defaults ([`crate::Sim::configure`]).
    pub defaults: SessionConfig,
    /// The recording a resumed run continues (`None`: no results to continue).
    pub recording: Option<Recording>,
    /// The kernel this core belongs to ([`Kernel::id`]).
    pub(crate) kernel: u64,
}

impl SessionCore {
    /// A session at the model's initial values and `[sim]` defaults.
    pub fn new(kernel: &Kernel) -> SessionCore {
        let m = &kernel.model;
        let elem = kernel.elem();
        // Exact: the model's ints stay ints (the checker made sure they fit the dtype).
        let values = |v: &[dynlib_model::Var]| {
            DVec::from_numbers(elem, &v.iter().map(|s| s.value).collect::<Vec<_>>())
        };
        // Each stepper field's `[sim]` value, else its default (checked when the model was
        // built: `check_sim`).
        let stepper_config = crate::stepper::sim_config(m, kernel.stepper)
            .unwrap_or_else(|_| kernel.stepper.config.iter().map(|f| f.default).collect());
        SessionCore {
            state: SessionState {
                t: m.sim.t0,
                y: values(&m.states),
                params: values(&m.params),
                dt: m.sim.dt,
                step_count: 0,
                workspace: None,
                status: Status::Done,
                stepper_config,
            },
            nominal_dt: m.sim.dt,
            time_shift: 0.0,
            defaults: SessionConfig::default(),
            recording: None,
            kernel: kernel.id(),
        }
    }

    /// Checks that this core belongs to `kernel` and has its shapes: one value per state and
    /// parameter in the model dtype, one per stepper configuration field, a workspace of the
    /// stepper's layout, recorded indices that exist, a transient within the step count.
    /// [`crate::plan::resolve`] calls it first: the fields are public, and native code
    /// indexes without bounds checks.
    pub fn check(&self, kernel: &Kernel) -> Result<(), RuntimeError> {
        if self.kernel != kernel.id() {
            return Err(RuntimeError::Incompatible(
                "the session core belongs to another kernel (make one with SessionCore::new)"
                    .into(),
            ));
        }
        let m = &kernel.model;
        let s = &self.state;
        let whose = "the session core";
        for (what, expected, found) in [
            ("state values", m.states.len(), s.y.len()),
            ("parameter values", m.params.len(), s.params.len()),
            (
                "stepper configuration values",
                kernel.stepper.config.len(),
                s.stepper_config.len(),
            ),
        ] {
            if expected != found {
                return Err(RuntimeError::Shape {
                    whose: whose.into(),
                    what,
                    expected,
                    at_least: false,
                    found,
                });
            }
        }
        if s.y.elem() != kernel.elem() || s.params.elem() != kernel.elem() {
            return Err(RuntimeError::Incompatible(format!(
                "the values of {whose} are not in the model's dtype {}",
                m.dtype.as_str()
            )));
        }
        if let Some(w) = &s.workspace {
            kernel.check_workspace(w, "the session core's workspace")?;
        }
        if let Some(r) = &self.recording {
            let bad = r.states.iter().any(|&i| i >= m.states.len())
                || r.aux.iter().any(|&i| i >= m.aux.len());
            if bad || r.transient_steps > s.step_count {
                return Err(RuntimeError::Incompatible(format!(
                    "the recording of {whose} does not fit its model or step count"
                )));
            }
        }
        Ok(())
    }

    /// Sets persistent defaults for later runs. Nothing changes if any value is invalid.
    pub fn configure(&mut self, kernel: &Kernel, c: &SessionConfig) -> Result<(), RuntimeError> {
        self.check(kernel)?;
        if let Some(dt) = c.dt {
            check_dt(dt)?;
        }
        check_counts(c.max_steps, c.record_interval, c.cap_rec, c.cap_evt)?;
        let config = self.merged_config(kernel, &c.stepper_config)?;
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
    /// C1: earlier overrides are kept), checked.
    pub(crate) fn merged_config(
        &self,
        kernel: &Kernel,
        overrides: &[(String, f64)],
    ) -> Result<Vec<f64>, RuntimeError> {
        let stepper = kernel.stepper;
        let mut config = self.state.stepper_config.clone();
        let fields: Vec<&str> = stepper.config.iter().map(|f| f.name).collect();
        for (name, v) in overrides {
            let i = fields.iter().position(|f| f == name).ok_or_else(|| {
                if fields.is_empty() {
                    RuntimeError::option(
                        name,
                        format!("stepper '{}' has no configuration fields", stepper.name),
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
        stepper
            .check_config(&config)
            .map_err(|(field, message)| RuntimeError::option(field, message))?;
        Ok(config)
    }
}

/// The most a snapshot or preset file may hold (a snapshot of a model with a million
/// states and deep lags is tens of megabytes).
pub const SESSION_FILE_LIMIT: u64 = 1 << 30;

/// Reads a snapshot or preset file: a regular file (never a FIFO or device) within
/// [`SESSION_FILE_LIMIT`], as UTF-8.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, RuntimeError> {
    dynlib_fs::read_text(path, SESSION_FILE_LIMIT, dynlib_fs::Follow::Yes)
        .map_err(|e| RuntimeError::file(path, e))
}

/// Writes a snapshot or preset file through a temporary file in the same directory renamed
/// into place, so a reader never sees half a file and a link at `path` is replaced, never
/// written through.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    dynlib_fs::write_atomic(path, bytes).map_err(|e| RuntimeError::file(path, e))
}
