//! The session API: `setup()`, `Sim::run()` with the run options of runtime.md §1.4, and
//! results.
//!
//! ```no_run
//! use dynlib_runtime::sim::{setup, RunOptions, SetupOptions};
//! let mut sim = setup("builtin://ode/vanderpol", &SetupOptions::default().stepper("rk4"))?;
//! sim.run(&RunOptions::default().t_end(20.0))?;
//! let x = sim.results().unwrap().series("x")?;
//! # Ok::<(), dynlib_runtime::RuntimeError>(())
//! ```

use std::sync::Arc;

use dynlib_model::{load, Config, LoadOptions, Model, ModelKind};

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::run::{RunOutput, RunSpec, Status};

/// How to build a model.
#[derive(Clone, Debug, Default)]
pub struct SetupOptions {
    /// Stepper name or alias (default: `[sim].stepper`, else `rk4` / `map`).
    pub stepper: Option<String>,
    /// Compile with LLVM (not available yet: `build` refuses rather than interpreting).
    pub jit: bool,
    /// Keep compiled objects on disk (meaningful with `jit`).
    pub disk_cache: bool,
    /// Mod URIs to apply.
    pub mods: Vec<String>,
    /// Registry configuration (default: read from the environment).
    pub config: Option<Config>,
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

    /// Uses this registry configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
}

/// Loads the model at `uri` and builds its kernel.
pub fn build(uri: &str, options: &SetupOptions) -> Result<Arc<Kernel>, RuntimeError> {
    if options.jit {
        return Err(RuntimeError::JitUnavailable);
    }
    let load_options = LoadOptions {
        mods: options.mods.clone(),
        config: options.config.clone(),
    };
    let model = Arc::new(load(uri, &load_options)?);
    Ok(Arc::new(Kernel::build(model, options.stepper.as_deref())?))
}

/// Builds the model at `uri` and opens a session on it.
pub fn setup(uri: &str, options: &SetupOptions) -> Result<Sim, RuntimeError> {
    Ok(Sim::new(build(uri, options)?))
}

/// Options of one run; unset options take the session's or the model's `[sim]` defaults.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Start time (a fresh run only).
    pub t0: Option<f64>,
    /// Horizon (ODE; for maps it sets N = round((T - t0) / dt)).
    pub t_end: Option<f64>,
    /// Number of iterations (maps only).
    pub n: Option<u64>,
    /// Step (ODE) or label spacing (map).
    pub dt: Option<f64>,
    /// Step cap (ODE).
    pub max_steps: Option<u64>,
    /// Whether to record samples.
    pub record: Option<bool>,
    /// Record every k steps.
    pub record_interval: Option<u64>,
    /// What to record: state names and `aux.NAME` (or aux names); default all states.
    pub record_vars: Option<Vec<String>>,
    /// Warm-up before recording: time (ODE) or iterations (map).
    pub transient: Option<f64>,
    /// Initial state overrides by name.
    pub ic: Vec<(String, f64)>,
    /// Parameter overrides by name.
    pub params: Vec<(String, f64)>,
    /// Initial record capacity.
    pub cap_rec: Option<usize>,
    /// Initial event capacity.
    pub cap_evt: Option<usize>,
    /// Stepper configuration overrides by field name.
    pub stepper_config: Vec<(String, f64)>,
}

impl RunOptions {
    /// Sets the horizon.
    pub fn t_end(mut self, t: f64) -> Self {
        self.t_end = Some(t);
        self
    }

    /// Sets the iteration count (maps).
    pub fn n(mut self, n: u64) -> Self {
        self.n = Some(n);
        self
    }

    /// Sets the step.
    pub fn dt(mut self, dt: f64) -> Self {
        self.dt = Some(dt);
        self
    }

    /// Records every k steps.
    pub fn record_interval(mut self, k: u64) -> Self {
        self.record_interval = Some(k);
        self
    }

    /// Chooses what to record.
    pub fn record_vars(mut self, vars: &[&str]) -> Self {
        self.record_vars = Some(vars.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Overrides an initial state.
    pub fn ic(mut self, name: &str, value: f64) -> Self {
        self.ic.push((name.to_string(), value));
        self
    }

    /// Overrides a parameter.
    pub fn param(mut self, name: &str, value: f64) -> Self {
        self.params.push((name.to_string(), value));
        self
    }

    /// Sets the initial buffer capacities.
    pub fn capacities(mut self, records: usize, events: usize) -> Self {
        self.cap_rec = Some(records);
        self.cap_evt = Some(events);
        self
    }
}

/// Results of the last run.
#[derive(Clone, Debug)]
pub struct Results {
    model: Arc<Model>,
    /// How the run ended.
    pub status: Status,
    /// Recorded times.
    pub t: Vec<f64>,
    /// Recorded step numbers.
    pub step: Vec<i64>,
    /// Recorded series: (name, values), states first, then aux (`aux.NAME` recorded as NAME).
    pub series: Vec<(String, Vec<f64>)>,
    /// The raw run output (events, final values).
    pub output: RunOutput,
}

impl Results {
    /// A recorded series by name.
    pub fn series(&self, name: &str) -> Result<&[f64], RuntimeError> {
        let name = name.strip_prefix("aux.").unwrap_or(name);
        self.series
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| RuntimeError::InvalidOption {
                option: "series".into(),
                message: format!(
                    "'{name}' was not recorded; recorded: {}",
                    self.series
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// The logged rows of an event, by name: (field names, rows).
    pub fn event(&self, name: &str) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
        let idx = self.model.events.iter().position(|e| e.name == name)?;
        let rows = self
            .output
            .events
            .iter()
            .filter(|r| r.event == idx)
            .map(|r| r.values.clone())
            .collect();
        Some((self.model.events[idx].log_names.clone(), rows))
    }

    /// Names of the events carrying `tag`.
    pub fn events_by_tag(&self, tag: &str) -> Vec<&str> {
        self.model
            .tag_index
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, idx)| {
                idx.iter()
                    .map(|&i| self.model.events[i].name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A simulation session: the kernel, the current state, parameters and time.
pub struct Sim {
    kernel: Arc<Kernel>,
    machine: dynlib_interp::Machine,
    /// Current state.
    pub y: Vec<f64>,
    /// Current parameters.
    pub params: Vec<f64>,
    /// Current time.
    pub t: f64,
    /// Stepper configuration (model defaults merged with overrides).
    pub stepper_config: Vec<f64>,
    results: Option<Results>,
}

impl Sim {
    /// A session at the model's initial state and `[sim]` defaults.
    pub fn new(kernel: Arc<Kernel>) -> Sim {
        let m = &kernel.model;
        let stepper_config =
            kernel
                .stepper
                .config
                .iter()
                .map(|f| {
                    match f.name {
                        "atol" => Some(m.sim.atol),
                        "rtol" => Some(m.sim.rtol),
                        _ => {
                            m.sim.extras.iter().find(|(k, _)| k == f.name).and_then(
                                |(_, v)| match v {
                                    dynlib_model::SimValue::Int(i) => Some(*i as f64),
                                    dynlib_model::SimValue::Float(x) => Some(*x),
                                    _ => None,
                                },
                            )
                        }
                    }
                    .unwrap_or(f.default)
                })
                .collect();
        Sim {
            machine: kernel.machine(),
            y: m.states.iter().map(|s| s.value.as_f64()).collect(),
            params: m.params.iter().map(|s| s.value.as_f64()).collect(),
            t: m.sim.t0,
            stepper_config,
            results: None,
            kernel,
        }
    }

    /// The kernel (model, stepper, program).
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// The results of the last run.
    pub fn results(&self) -> Option<&Results> {
        self.results.as_ref()
    }

    fn bad(option: &str, message: impl Into<String>) -> RuntimeError {
        RuntimeError::InvalidOption {
            option: option.to_string(),
            message: message.into(),
        }
    }

    /// Runs from the session's state; on failure the session is unchanged. A run that
    /// ends with `STEPFAIL` or `NAN_DETECTED` returns [`RuntimeError::RunFailed`], and its
    /// partial results stay readable through [`Sim::results`].
    pub fn run(&mut self, o: &RunOptions) -> Result<&Results, RuntimeError> {
        let kernel = self.kernel.clone();
        let m = &kernel.model;
        let mut y = self.y.clone();
        let mut params = self.params.clone();
        for (name, v) in &o.ic {
            let i = m
                .state_index(name)
                .ok_or_else(|| Self::bad("ic", unknown(name, &m.state_names())))?;
            y[i] = *v;
        }
        for (name, v) in &o.params {
            let i = m
                .param_index(name)
                .ok_or_else(|| Self::bad("params", unknown(name, &m.param_names())))?;
            params[i] = *v;
        }
        let mut config = self.stepper_config.clone();
        for (name, v) in &o.stepper_config {
            let fields: Vec<&str> = kernel.stepper.config.iter().map(|f| f.name).collect();
            let i = fields.iter().position(|f| f == name).ok_or_else(|| {
                Self::bad(
                    "stepper_config",
                    format!(
                        "stepper '{}' has no field '{name}'; fields: {}",
                        kernel.stepper.name,
                        if fields.is_empty() {
                            "none".to_string()
                        } else {
                            fields.join(", ")
                        }
                    ),
                )
            })?;
            config[i] = *v;
        }
        let dt = o.dt.unwrap_or(m.sim.dt);
        if !(dt > 0.0 && dt.is_finite()) {
            return Err(Self::bad(
                "dt",
                format!("must be a positive finite number, got {dt}"),
            ));
        }
        let t0 = o.t0.unwrap_or(self.t);
        let (t_end, max_steps) = match m.kind {
            ModelKind::Ode => {
                if o.n.is_some() {
                    return Err(Self::bad(
                        "N",
                        "N is for map models; give T (t_end) for an ODE",
                    ));
                }
                let t_end = o.t_end.unwrap_or(m.sim.t_end);
                if !(t_end.is_finite()) || t_end < t0 {
                    return Err(Self::bad(
                        "T",
                        format!("the horizon {t_end} must be finite and not before t0 = {t0}"),
                    ));
                }
                (t_end, o.max_steps.unwrap_or(m.sim.max_steps))
            }
            ModelKind::Map => {
                let n = match (o.n, o.t_end) {
                    (Some(_), Some(_)) => {
                        return Err(Self::bad("N", "give either N or T for a map, not both"))
                    }
                    (Some(n), None) => n,
                    (None, Some(t)) => ((t - t0) / dt).round().max(0.0) as u64,
                    (None, None) => m.sim.max_steps,
                };
                (0.0, n)
            }
        };
        let record = o.record.unwrap_or(m.sim.record);
        let interval = o.record_interval.unwrap_or(1);
        if interval == 0 {
            return Err(Self::bad("record_interval", "must be at least 1"));
        }
        let (rec_states, rec_aux) = match &o.record_vars {
            None => ((0..m.states.len()).collect(), Vec::new()),
            Some(vars) => {
                let (mut s, mut a) = (Vec::new(), Vec::new());
                for v in vars {
                    let bare = v.strip_prefix("aux.").unwrap_or(v);
                    match (
                        m.state_index(bare).filter(|_| !v.starts_with("aux.")),
                        m.aux_index(bare),
                    ) {
                        (Some(i), _) => s.push(i),
                        (None, Some(i)) => a.push(i),
                        _ => {
                            let mut known: Vec<&str> = m.state_names();
                            known.extend(m.aux.iter().map(|x| x.name.as_str()));
                            return Err(Self::bad("record_vars", unknown(v, &known)));
                        }
                    }
                }
                (s, a)
            }
        };
        let base = RunSpec {
            t0,
            t_end,
            dt,
            max_steps,
            record_interval: if record { interval } else { 0 },
            y0: y,
            params,
            config: config.clone(),
            explicit_dt: o.dt,
            rec_states: rec_states.clone(),
            rec_aux: rec_aux.clone(),
            cap_rec: o.cap_rec.unwrap_or(1024),
            cap_evt: o.cap_evt.unwrap_or(16),
        };
        // A transient is a first run without recording; the recorded run starts where it
        // ended, with times shifted back so the record starts at t0.
        let mut spec = base.clone();
        let mut shift = 0.0;
        if let Some(tr) = o.transient.filter(|&x| x > 0.0) {
            let mut warm = base.clone();
            warm.record_interval = 0;
            match m.kind {
                ModelKind::Ode => warm.t_end = t0 + tr,
                ModelKind::Map => warm.max_steps = tr.round() as u64,
            }
            let out = kernel.run(&mut self.machine, &warm)?;
            if !out.status.is_success() {
                return Err(RuntimeError::RunFailed {
                    status: out.status.name(),
                    t: out.t_final,
                });
            }
            spec.y0 = out.y_final;
            spec.params = out.params_final;
            spec.t0 = out.t_final;
            if m.kind == ModelKind::Ode {
                spec.t_end = out.t_final + (t_end - t0);
            }
            shift = out.t_final - t0;
        }
        let mut out = kernel.run(&mut self.machine, &spec)?;
        for t in &mut out.t {
            *t -= shift;
        }
        let mut series: Vec<(String, Vec<f64>)> = rec_states
            .iter()
            .zip(&out.states)
            .map(|(&i, v)| (m.states[i].name.clone(), v.clone()))
            .collect();
        series.extend(
            rec_aux
                .iter()
                .zip(&out.aux)
                .map(|(&i, v)| (m.aux[i].name.clone(), v.clone())),
        );
        self.y = out.y_final.clone();
        self.params = out.params_final.clone();
        self.t = out.t_final;
        self.stepper_config = config;
        let status = out.status;
        let t_final = out.t_final;
        self.results = Some(Results {
            model: kernel.model.clone(),
            status,
            t: out.t.clone(),
            step: out.step.clone(),
            series,
            output: out,
        });
        if !status.is_success() {
            return Err(RuntimeError::RunFailed {
                status: status.name(),
                t: t_final,
            });
        }
        Ok(self.results.as_ref().expect("just stored"))
    }
}

fn unknown(name: &str, known: &[&str]) -> String {
    let hint = dynlib_model::diag::did_you_mean(name, known.iter().copied())
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default();
    format!("unknown name '{name}'{hint}; known: {}", known.join(", "))
}
