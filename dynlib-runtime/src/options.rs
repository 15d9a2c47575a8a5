//! The options of building, of a run and of a session's defaults, and the checks on them
//! that need nothing but the options (the ones that need the session are in
//! [`crate::plan`]).

use dynlib_ir::Elem;
use dynlib_model::{Config, ModelKind, Number};

use crate::error::RuntimeError;

/// How to build a model.
#[derive(Clone, Debug)]
pub struct SetupOptions {
    /// Stepper name or alias (default: `[sim].stepper`, else `rk4` / `map`).
    pub stepper: Option<String>,
    /// Compile the kernel to native code with LLVM (cargo feature `jit`, on by default);
    /// results are bit-identical to the interpreter's. Not tiered, any LLVM failure is an
    /// error from `build`; tiered (the default), runs go on in the interpreter and their
    /// warnings say why no native code ran. Never a silent fallback; without the feature
    /// it is `JitUnavailable`.
    pub jit: bool,
    /// Tiered execution (with `jit`; on by default): runs start at once in the interpreter
    /// while the kernel compiles on a thread of its own, and switch to native code at a
    /// chunk boundary as soon as it is ready. Both backends give the same bits, so results
    /// are those of either alone; [`crate::Results::native_steps`] says how many steps ran
    /// natively. `false`: `build` waits for the compiled kernel and every step is native
    /// (for timing native code).
    pub tiered: bool,
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
    /// Observers compiled into the kernel's analysis runner: every fresh run of the
    /// kernel runs them ([`crate::observer`]).
    pub observers: Option<crate::observer::Observers>,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            stepper: None,
            jit: false,
            tiered: true,
            disk_cache: false,
            mods: Vec::new(),
            config: None,
            dtype: None,
            observers: None,
        }
    }
}

impl SetupOptions {
    /// Compiles `observers` into the kernel.
    pub fn observers(mut self, observers: crate::observer::Observers) -> Self {
        self.observers = Some(observers);
        self
    }

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

    /// Turns tiered execution on (the default) or off: off, every step of a `jit` kernel
    /// runs natively and `build` waits for the compiled kernel.
    pub fn tiered(mut self, on: bool) -> Self {
        self.tiered = on;
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

/// How far a run has come ([`RunOptions::progress`]): one part of it (a transient, or the
/// run after it) from `t0` towards `t_end` in at most `max_steps` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunProgress {
    /// The time reached (a map: its iteration label).
    pub t: f64,
    /// The steps taken in this part.
    pub step: u64,
    /// Where this part started.
    pub t0: f64,
    /// Where it ends (ODE; a map's last label).
    pub t_end: f64,
    /// Its step cap (a map: its iterations).
    pub max_steps: u64,
}

impl RunProgress {
    /// The fraction done, 0 to 1: of the time span, or of the steps when they bind (maps,
    /// or a step cap reached before `t_end`).
    pub fn fraction(&self) -> f64 {
        let by_steps = self.step as f64 / self.max_steps.max(1) as f64;
        let span = self.t_end - self.t0;
        let by_time = if span.is_finite() && span > 0.0 {
            (self.t - self.t0) / span
        } else {
            0.0
        };
        by_steps.max(by_time).clamp(0.0, 1.0)
    }
}

/// A progress callback ([`RunOptions::progress`]): called on the thread running the run.
#[derive(Clone)]
pub struct ProgressHook(pub std::sync::Arc<dyn Fn(RunProgress) + Send + Sync>);

impl ProgressHook {
    /// A callback of `f`.
    pub fn new(f: impl Fn(RunProgress) + Send + Sync + 'static) -> ProgressHook {
        ProgressHook(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook(Fn)")
    }
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
    /// Called between chunks of steps (about fifty times a second) with how far the run
    /// has come: for progress displays. A transient reports as a part of its own.
    pub progress: Option<ProgressHook>,
    /// Testing tiered execution: on a tiered kernel, the steps of each run (a transient and
    /// the run after it count apart, each from its start) before this one run in the
    /// interpreter and the rest natively (waiting for the compiled kernel), switching at
    /// exactly this step. Ignored by other kernels.
    #[doc(hidden)]
    pub tier_switch_step: Option<u64>,
    /// The observers' trace (a kernel with observers): `None` or `true` traces at the
    /// record interval when the run records, `false` never (the outputs are all that is
    /// kept).
    pub trace: Option<bool>,
    /// The fast path (a runner loop without capacity checks; the same results): `None`
    /// takes it whenever the run can (a fixed-step stepper, no event that logs), `false`
    /// never, `true` insists (an error says why a run cannot).
    pub fastpath: Option<bool>,
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

    /// Keeps (`true`, the default when recording) or leaves out (`false`) the observers'
    /// trace.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = Some(on);
        self
    }

    /// Takes (`true`) or avoids (`false`) the fast path instead of choosing.
    pub fn fastpath(mut self, on: bool) -> Self {
        self.fastpath = Some(on);
        self
    }
}

impl RunOptions {
    /// The checks that need only the options and the model's kind: no option a resumed
    /// run cannot take, a valid step, counts, transient, tag and start time.
    pub fn check(&self, kind: ModelKind) -> Result<(), RuntimeError> {
        if self.resume {
            for (given, name) in [
                (!self.ic.is_empty(), "ic"),
                (!self.params.is_empty(), "params"),
                (self.t0.is_some(), "t0"),
                (self.dt.is_some(), "dt"),
                (self.transient.is_some_and(|x| x > 0.0), "transient"),
                (self.record_vars.is_some(), "record_vars"),
            ] {
                if given {
                    return Err(RuntimeError::option(
                        name,
                        "cannot be given when resuming: a resumed run continues the previous one",
                    ));
                }
            }
        }
        if let Some(dt) = self.dt {
            check_dt(dt)?;
        }
        check_counts(
            self.max_steps,
            self.record_interval,
            self.cap_rec,
            self.cap_evt,
        )?;
        if let Some(tr) = self.transient {
            if !(tr >= 0.0 && tr.is_finite()) {
                return Err(RuntimeError::option(
                    "transient",
                    format!("must be a finite number >= 0, got {}", Num(tr)),
                ));
            }
            if kind == ModelKind::Map && (tr.fract() != 0.0 || tr > MAX_COUNT as f64) {
                return Err(RuntimeError::option(
                    "transient",
                    format!(
                        "a map's transient is a number of iterations, a whole number of at most {MAX_COUNT}; got {}",
                        Num(tr)
                    ),
                ));
            }
        }
        check_count("n", self.n)?;
        if let Some(tag) = &self.tag {
            if tag.trim().is_empty() {
                return Err(RuntimeError::option("tag", "must not be empty"));
            }
        }
        if let Some(t0) = self.t0 {
            if !t0.is_finite() {
                return Err(RuntimeError::option(
                    "t0",
                    format!("must be finite, got {}", Num(t0)),
                ));
            }
        }
        Ok(())
    }
}

/// Persistent session defaults ([`crate::Sim::configure`]); they apply to every later run that does
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
pub(crate) fn check_dt(dt: f64) -> Result<(), RuntimeError> {
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
pub(crate) fn check_count(option: &str, n: Option<u64>) -> Result<(), RuntimeError> {
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
pub(crate) fn check_counts(
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
