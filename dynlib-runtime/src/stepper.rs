//! Steppers: a registry of metadata and IR emitters (runtime.md §2).
//!
//! A stepper is emitted as one IR function that takes a single step, with this ABI (`D` is
//! the model dtype's element type, `V` the stepper's number of workspace vectors):
//!
//! ```text
//! step(t: f64, dt: f64, y: ptr<D>, p: ptr<D>, ring: ptr<D>, head: ptr<i64>,
//!      ws_0: ptr<D>, ..., ws_{V-1}: ptr<D>, sc: ptr<f64>, cfg: ptr<f64>,
//!      y_prop: ptr<D>, out: ptr<f64>) -> i32
//! ```
//!
//! `out` receives `[t_prop, dt_next, err_est]`; `sc` holds the stepper's scalar state (the
//! Adams–Bashforth step index); `cfg` its configuration, in [`StepperSpec::config`] order.
//! The return value is a [`status`] code. Arithmetic follows the reference's expression
//! order exactly, so results match it to the bit where libm does.

use dynlib_ir::lower::{rhs_signature, status, ModelFunctions};
use dynlib_ir::*;

/// Whether a stepper integrates ODEs or iterates maps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StepperKind {
    /// Continuous time.
    Ode,
    /// Discrete time.
    Map,
}

impl StepperKind {
    /// `"ode"` or `"map"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepperKind::Ode => "ode",
            StepperKind::Map => "map",
        }
    }
}

/// One configuration field with its default and the values it accepts.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ConfigField {
    /// The name (also the `[sim]` key and run option that override it).
    pub name: &'static str,
    /// The default value.
    pub default: f64,
    /// The values it accepts (checked before every run and by `configure`).
    pub range: ValueRange,
}

/// An interval of accepted values: `min`..`max`, each end open or closed; `integer` asks
/// for whole numbers. NaN is never accepted; infinity only as a closed end.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ValueRange {
    /// The lower end.
    pub min: f64,
    /// True when `min` itself is excluded.
    pub min_open: bool,
    /// The upper end.
    pub max: f64,
    /// True when `max` itself is excluded.
    pub max_open: bool,
    /// True when only whole numbers are accepted.
    pub integer: bool,
}

impl ValueRange {
    /// Finite numbers `>= 0`.
    pub const NON_NEGATIVE: ValueRange = ValueRange {
        min: 0.0,
        min_open: false,
        max: f64::INFINITY,
        max_open: true,
        integer: false,
    };
    /// Numbers `> 0`, infinity included (no limit).
    pub const POSITIVE_OR_INF: ValueRange = ValueRange {
        min: 0.0,
        min_open: true,
        max: f64::INFINITY,
        max_open: false,
        integer: false,
    };
    /// Numbers in `(0, 1]`.
    pub const FRACTION: ValueRange = ValueRange {
        min: 0.0,
        min_open: true,
        max: 1.0,
        max_open: false,
        integer: false,
    };
    /// Finite numbers `>= 1`.
    pub const AT_LEAST_ONE: ValueRange = ValueRange {
        min: 1.0,
        min_open: false,
        max: f64::INFINITY,
        max_open: true,
        integer: false,
    };
    /// Whole numbers from 1 to a million.
    pub const COUNT: ValueRange = ValueRange {
        min: 1.0,
        min_open: false,
        max: 1e6,
        max_open: false,
        integer: true,
    };

    /// True when `v` is accepted.
    pub fn contains(&self, v: f64) -> bool {
        let above = if self.min_open {
            v > self.min
        } else {
            v >= self.min
        };
        let below = if self.max_open {
            v < self.max
        } else {
            v <= self.max
        };
        above && below && (!self.integer || v.fract() == 0.0)
    }

    /// The range in words, for error messages: `a number in (0, 1]`.
    pub fn describe(&self) -> String {
        let what = if self.integer {
            "a whole number"
        } else {
            "a number"
        };
        let open = if self.min_open { '(' } else { '[' };
        let close = if self.max_open { ')' } else { ']' };
        let max = if self.max == f64::INFINITY {
            "inf".to_string()
        } else {
            self.max.to_string()
        };
        format!("{what} in {open}{}, {max}{close}", self.min)
    }
}

/// A registered stepper.
#[derive(Debug)]
pub struct StepperSpec {
    /// Canonical name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// ODE or map.
    pub kind: StepperKind,
    /// Order of accuracy.
    pub order: u32,
    /// Order of the embedded error estimate (adaptive steppers).
    pub embedded_order: Option<u32>,
    /// True when the stepper chooses its own step size.
    pub adaptive: bool,
    /// True for implicit methods.
    pub implicit: bool,
    /// Method family (`runge-kutta`, `adams-bashforth`, ...).
    pub family: &'static str,
    /// Configuration fields, in `cfg` order.
    pub config: &'static [ConfigField],
    /// Names of the workspace vectors (each `n_state` long, model dtype).
    pub vectors: &'static [&'static str],
    /// Number of f64 scalar workspace slots.
    pub scalars: usize,
    /// Rules between configuration fields (beyond each field's range): a message naming
    /// the field at fault.
    pub config_rules: fn(&[f64]) -> Result<(), ConfigError>,
    emit: fn(&mut Emit),
}

/// A configuration problem: the field at fault and why.
pub type ConfigError = (&'static str, String);

/// No rules between fields.
fn no_rules(_: &[f64]) -> Result<(), ConfigError> {
    Ok(())
}

/// The rules between the adaptive Runge–Kutta fields (in [`RK45_CONFIG`] order): a
/// tolerance that is all zero makes every error infinite; the step bounds must not cross.
/// (The factors cannot cross: `min_factor <= 1 <= max_factor` by their ranges.)
fn rk45_rules(c: &[f64]) -> Result<(), ConfigError> {
    let [atol, rtol, _, _, _, _, min_step, dt_max] = c else {
        return Ok(());
    };
    if *atol == 0.0 && *rtol == 0.0 {
        return Err((
            "rtol",
            "atol and rtol cannot both be 0 (every error estimate would be infinite)".into(),
        ));
    }
    if min_step > dt_max {
        return Err((
            "min_step",
            format!("min_step = {min_step} is larger than dt_max = {dt_max}"),
        ));
    }
    Ok(())
}

const RK45_CONFIG: &[ConfigField] = &[
    ConfigField {
        name: "atol",
        default: 1e-8,
        range: ValueRange::NON_NEGATIVE,
    },
    ConfigField {
        name: "rtol",
        default: 1e-5,
        range: ValueRange::NON_NEGATIVE,
    },
    ConfigField {
        name: "safety",
        default: 0.9,
        range: ValueRange::FRACTION,
    },
    ConfigField {
        name: "min_factor",
        default: 0.2,
        range: ValueRange::FRACTION,
    },
    ConfigField {
        name: "max_factor",
        default: 5.0,
        range: ValueRange::AT_LEAST_ONE,
    },
    ConfigField {
        name: "max_tries",
        default: 10.0,
        range: ValueRange::COUNT,
    },
    ConfigField {
        name: "min_step",
        default: 1e-12,
        range: ValueRange::NON_NEGATIVE,
    },
    ConfigField {
        name: "dt_max",
        default: f64::INFINITY,
        range: ValueRange::POSITIVE_OR_INF,
    },
];

static REGISTRY: &[StepperSpec] = &[
    StepperSpec {
        name: "map",
        aliases: &["iter", "discrete"],
        kind: StepperKind::Map,
        order: 1,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "iter",
        config: &[],
        vectors: &[],
        scalars: 0,
        config_rules: no_rules,
        emit: emit_map,
    },
    StepperSpec {
        name: "euler",
        aliases: &["fwd_euler", "forward_euler"],
        kind: StepperKind::Ode,
        order: 1,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "euler",
        config: &[],
        vectors: &["dy"],
        scalars: 0,
        config_rules: no_rules,
        emit: emit_euler,
    },
    StepperSpec {
        name: "rk2",
        aliases: &["rk2_midpoint"],
        kind: StepperKind::Ode,
        order: 2,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "runge-kutta",
        config: &[],
        vectors: &["k1", "k2", "y_stage"],
        scalars: 0,
        config_rules: no_rules,
        emit: emit_rk2,
    },
    StepperSpec {
        name: "rk4",
        aliases: &["rk4_classic", "classical_rk4"],
        kind: StepperKind::Ode,
        order: 4,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "runge-kutta",
        config: &[],
        vectors: &["k1", "k2", "k3", "k4", "y_stage"],
        scalars: 0,
        config_rules: no_rules,
        emit: emit_rk4,
    },
    StepperSpec {
        name: "rk45",
        aliases: &["dopri5", "dormand_prince"],
        kind: StepperKind::Ode,
        order: 5,
        embedded_order: Some(4),
        adaptive: true,
        implicit: false,
        family: "runge-kutta",
        config: RK45_CONFIG,
        vectors: &["k1", "k2", "k3", "k4", "k5", "k6", "k7", "y_stage"],
        scalars: 0,
        config_rules: rk45_rules,
        emit: emit_rk45,
    },
    StepperSpec {
        name: "ab2",
        aliases: &["adams_bashforth_2"],
        kind: StepperKind::Ode,
        order: 2,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "adams-bashforth",
        config: &[],
        vectors: &["f_prev", "f_curr", "f_next", "y_stage"],
        scalars: 1,
        config_rules: no_rules,
        emit: emit_ab2,
    },
    StepperSpec {
        name: "ab3",
        aliases: &["adams_bashforth_3"],
        kind: StepperKind::Ode,
        order: 3,
        embedded_order: None,
        adaptive: false,
        implicit: false,
        family: "adams-bashforth",
        config: &[],
        vectors: &["f_nm2", "f_nm1", "f_n", "f_next", "y_stage"],
        scalars: 1,
        config_rules: no_rules,
        emit: emit_ab3,
    },
];

/// Every registered stepper, sorted by name.
pub fn registry() -> &'static [StepperSpec] {
    REGISTRY
}

/// A stepper by name or alias.
pub fn lookup(name: &str) -> Option<&'static StepperSpec> {
    REGISTRY
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name))
}

/// The stepper a model runs with: `name`, else the model's default (`[sim].stepper`, else
/// `rk4` / `map`); it must exist and be for the model's kind.
pub fn resolve(
    model: &dynlib_model::Model,
    name: Option<&str>,
) -> Result<&'static StepperSpec, crate::RuntimeError> {
    let name = name.unwrap_or_else(|| model.default_stepper());
    let stepper = lookup(name).ok_or_else(|| crate::RuntimeError::UnknownStepper {
        name: name.to_string(),
        known: REGISTRY
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let wanted = match model.kind {
        dynlib_model::ModelKind::Ode => StepperKind::Ode,
        dynlib_model::ModelKind::Map => StepperKind::Map,
    };
    if stepper.kind != wanted {
        return Err(crate::RuntimeError::StepperKindMismatch {
            stepper: stepper.name.to_string(),
            stepper_kind: stepper.kind.as_str(),
            model_kind: model.kind.as_str(),
        });
    }
    Ok(stepper)
}

/// Checks a model's `[sim]` stepper settings for `stepper`: each configuration field's
/// `[sim]` value in its range and the rules between fields; and no `[sim]` key that looks
/// like a misspelled setting (`rtoll`, `max_factr`: the reference would ignore it, losing
/// what it meant to set). Keys that are some other stepper's setting are fine (a model can
/// be run with several steppers). Errors name `[sim].key`.
pub fn check_sim(
    model: &dynlib_model::Model,
    stepper: &StepperSpec,
) -> Result<(), crate::RuntimeError> {
    let values: Vec<f64> = stepper
        .config
        .iter()
        .map(|f| model.sim.number(f.name).unwrap_or(f.default))
        .collect();
    stepper.check_config(&values).map_err(|(field, message)| {
        crate::RuntimeError::option(&format!("[sim].{field}"), message)
    })?;
    let mut known: Vec<&str> = vec![
        "t0",
        "t_end",
        "dt",
        "stepper",
        "record",
        "atol",
        "rtol",
        "max_steps",
        "stop",
    ];
    known.extend(
        REGISTRY
            .iter()
            .flat_map(|s| s.config.iter().map(|f| f.name)),
    );
    for (key, _) in &model.sim.extras {
        if known.contains(&key.as_str()) {
            continue;
        }
        if let Some(meant) = dynlib_model::diag::did_you_mean(key, known.iter().copied()) {
            return Err(crate::RuntimeError::option(
                &format!("[sim].{key}"),
                format!(
                    "no stepper has this setting (did you mean '{meant}'?); it would be ignored"
                ),
            ));
        }
    }
    Ok(())
}

impl StepperSpec {
    /// Checks a full configuration (in [`StepperSpec::config`] order): each field in its
    /// range, then the rules between fields. The error names the field and says why.
    pub fn check_config(&self, values: &[f64]) -> Result<(), ConfigError> {
        for (f, &v) in self.config.iter().zip(values) {
            if !f.range.contains(v) {
                return Err((f.name, format!("must be {}, got {v}", f.range.describe())));
            }
        }
        (self.config_rules)(values)
    }

    /// The IR signature of this stepper's step function for dtype element `elem`.
    pub fn signature(&self, elem: Elem) -> Signature {
        let d = Type::Ptr(elem);
        let mut params = vec![Type::F64, Type::F64, d, d, d, Type::Ptr(Elem::I64)];
        params.extend(self.vectors.iter().map(|_| d));
        params.extend([
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::F64),
            d,
            Type::Ptr(Elem::F64),
        ]);
        Signature {
            params,
            returns: vec![Type::I32],
        }
    }

    /// Emits the step function into `mf.program` for a model with `n` states.
    pub fn emit(&self, mf: &mut ModelFunctions, n: usize) -> FuncId {
        let elem = mf.elem;
        let rhs = mf.rhs;
        let mut f = Function::new(
            format!("step_{}", self.name.replace('-', "_")),
            self.signature(elem),
        );
        {
            let b = FunctionBuilder::new(&mut f);
            let v = self.vectors.len();
            let mut e = Emit {
                t: b.param(0),
                dt: b.param(1),
                y: b.param(2),
                p: b.param(3),
                ring: b.param(4),
                head: b.param(5),
                ws: (0..v).map(|i| b.param(6 + i)).collect(),
                sc: b.param(6 + v),
                cfg: b.param(7 + v),
                y_prop: b.param(8 + v),
                out: b.param(9 + v),
                b,
                rhs,
                rhs_sig: rhs_signature(elem),
                elem,
                n,
            };
            (self.emit)(&mut e);
        }
        mf.program.add(f)
    }
}

/// The emission context: the builder, the step function's parameters and model facts.
pub struct Emit<'f> {
    /// The builder, positioned in the step function.
    pub b: FunctionBuilder<'f>,
    t: Value,
    dt: Value,
    y: Value,
    p: Value,
    ring: Value,
    head: Value,
    ws: Vec<Value>,
    sc: Value,
    cfg: Value,
    y_prop: Value,
    out: Value,
    rhs: FuncId,
    rhs_sig: Signature,
    elem: Elem,
    n: usize,
}

impl Emit<'_> {
    fn idx(&mut self, i: usize) -> Value {
        self.b.i64(i as i64)
    }

    /// `arr[i]` as f64 (the reference computes stage arithmetic in float64).
    fn get(&mut self, arr: Value, i: usize) -> Value {
        let idx = self.idx(i);
        let raw = self.b.load(arr, idx);
        self.b.convert(raw, Type::F64)
    }

    /// `arr[i] = x` (x is f64, stored in the dtype).
    fn set(&mut self, arr: Value, i: usize, x: Value) {
        let idx = self.idx(i);
        let raw = self.b.convert(x, self.elem.ty());
        self.b.store(arr, idx, raw);
    }

    /// Calls the model's `rhs`; an arithmetic fault in it ends the step at once with
    /// status `FAULT + mask` (nothing is accepted).
    fn call_rhs(&mut self, t: Value, y: Value, out: Value) {
        let args = [t, y, out, self.p, self.ring, self.head];
        let sig = self.rhs_sig.clone();
        let mask = self.b.call(self.rhs, &sig, &args)[0];
        let zero = self.b.i32(0);
        let faulted = self.b.cmp(CmpOp::Ne, mask, zero);
        let fail = self.b.create_block();
        let fine = self.b.create_block();
        self.b.brif(faulted, fail, &[], fine, &[]);
        self.b.switch_to(fail);
        let base = self.b.i32(status::FAULT);
        let code = self.b.add(base, mask);
        self.b.ret(&[code]);
        self.b.switch_to(fine);
    }

    fn c(&mut self, x: f64) -> Value {
        self.b.f64(x)
    }

    /// `out = [t + h, dt_next, err]`, then return `OK`.
    fn accept(&mut self, t_prop: Value, dt_next: Value, err: Value) {
        for (i, v) in [t_prop, dt_next, err].into_iter().enumerate() {
            let idx = self.idx(i);
            self.b.store(self.out, idx, v);
        }
        let ok = self.b.i32(status::OK);
        self.b.ret(&[ok]);
    }

    fn accept_fixed(&mut self) {
        let t_prop = self.b.add(self.t, self.dt);
        let zero = self.c(0.0);
        self.accept(t_prop, self.dt, zero);
    }

    /// `dst[i] = y[i] + scale * src[i]` for every state; `scale` is computed by the caller
    /// in the reference's order.
    fn axpy(&mut self, dst: Value, scale: Value, src: Value) {
        for i in 0..self.n {
            let yi = self.get(self.y, i);
            let ki = self.get(src, i);
            let term = self.b.mul(scale, ki);
            let s = self.b.add(yi, term);
            self.set(dst, i, s);
        }
    }

    fn copy(&mut self, dst: Value, src: Value) {
        for i in 0..self.n {
            let idx = self.idx(i);
            let raw = self.b.load(src, idx);
            self.b.store(dst, idx, raw);
        }
    }

    /// True when every element of `arr` is finite (`|x| < inf`, false for NaN).
    fn all_finite(&mut self, arr: Value) -> Value {
        let inf = self.c(f64::INFINITY);
        let mut acc = self.b.bool(true);
        for i in 0..self.n {
            let x = self.get(arr, i);
            let a = self.b.math(MathFn::Fabs, &[x]);
            let ok = self.b.cmp(CmpOp::Lt, a, inf);
            acc = self.b.binary(BinaryOp::And, acc, ok);
        }
        acc
    }

    fn cfg(&mut self, i: usize) -> Value {
        let idx = self.idx(i);
        self.b.load(self.cfg, idx)
    }
}

fn emit_map(e: &mut Emit) {
    let (t, y, y_prop) = (e.t, e.y, e.y_prop);
    e.call_rhs(t, y, y_prop);
    e.accept_fixed();
}

fn emit_euler(e: &mut Emit) {
    let dy = e.ws[0];
    e.call_rhs(e.t, e.y, dy);
    let dt = e.dt;
    e.axpy(e.y_prop, dt, dy);
    e.accept_fixed();
}

fn emit_rk2(e: &mut Emit) {
    let (k1, k2, y_stage) = (e.ws[0], e.ws[1], e.ws[2]);
    e.call_rhs(e.t, e.y, k1);
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.axpy(y_stage, half_dt, k1);
    let t2 = e.b.add(e.t, half_dt);
    e.call_rhs(t2, y_stage, k2);
    let dt = e.dt;
    e.axpy(e.y_prop, dt, k2);
    e.accept_fixed();
}

fn emit_rk4(e: &mut Emit) {
    let (k1, k2, k3, k4, y_stage) = (e.ws[0], e.ws[1], e.ws[2], e.ws[3], e.ws[4]);
    e.call_rhs(e.t, e.y, k1);
    // `0.5 * dt * k` evaluates as `(0.5 * dt) * k`; `t + 0.5 * dt` likewise.
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.axpy(y_stage, half_dt, k1);
    let t_half = e.b.add(e.t, half_dt);
    e.call_rhs(t_half, y_stage, k2);
    e.axpy(y_stage, half_dt, k2);
    e.call_rhs(t_half, y_stage, k3);
    let dt = e.dt;
    e.axpy(y_stage, dt, k3);
    let t_full = e.b.add(e.t, e.dt);
    e.call_rhs(t_full, y_stage, k4);
    let six = e.c(6.0);
    let dt6 = e.b.div(e.dt, six);
    let two = e.c(2.0);
    for i in 0..e.n {
        let (a, b2, c3, d) = (e.get(k1, i), e.get(k2, i), e.get(k3, i), e.get(k4, i));
        let b2 = e.b.mul(two, b2);
        let c3 = e.b.mul(two, c3);
        let s = e.b.add(a, b2);
        let s = e.b.add(s, c3);
        let s = e.b.add(s, d);
        let term = e.b.mul(dt6, s);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    }
    e.accept_fixed();
}

/// Heun start shared by ab2 and ab3: `fa = f(t, y)`, `y* = y + dt fa`, `fb = f(t+dt, y*)`,
/// `y1 = y + 0.5 dt (fa + fb)`, then `fb = f(t+dt, y1)` at the accepted proposal.
fn heun_start(e: &mut Emit, fa: Value, fb: Value, y_stage: Value) {
    e.call_rhs(e.t, e.y, fa);
    let dt = e.dt;
    e.axpy(y_stage, dt, fa);
    let t1 = e.b.add(e.t, e.dt);
    e.call_rhs(t1, y_stage, fb);
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    for i in 0..e.n {
        let a = e.get(fa, i);
        let b = e.get(fb, i);
        let s = e.b.add(a, b);
        let term = e.b.mul(half_dt, s);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    }
    e.call_rhs(t1, e.y_prop, fb);
}

/// Increments the step index in `sc[0]`.
fn bump_step_index(e: &mut Emit, index: Value) {
    let one = e.c(1.0);
    let next = e.b.add(index, one);
    let zero = e.idx(0);
    e.b.store(e.sc, zero, next);
}

/// `y_prop = y + dt * (1.5 f_curr - 0.5 f_prev)`, then `f_next = f(t+dt, y_prop)`.
fn ab2_step(e: &mut Emit, f_curr: Value, f_prev: Value, f_next: Value) {
    let (c15, c05) = (e.c(1.5), e.c(0.5));
    for i in 0..e.n {
        let fc = e.get(f_curr, i);
        let fp = e.get(f_prev, i);
        let a = e.b.mul(c15, fc);
        let b = e.b.mul(c05, fp);
        let d = e.b.sub(a, b);
        let term = e.b.mul(e.dt, d);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    }
    let t1 = e.b.add(e.t, e.dt);
    e.call_rhs(t1, e.y_prop, f_next);
}

fn emit_ab2(e: &mut Emit) {
    let (f_prev, f_curr, f_next, y_stage) = (e.ws[0], e.ws[1], e.ws[2], e.ws[3]);
    let zero_i = e.idx(0);
    let index = e.b.load(e.sc, zero_i);
    let zero = e.c(0.0);
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let start = e.b.create_block();
    let steady = e.b.create_block();
    e.b.brif(first, start, &[], steady, &[]);

    e.b.switch_to(start);
    heun_start(e, f_prev, f_curr, y_stage);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(steady);
    ab2_step(e, f_curr, f_prev, f_next);
    e.copy(f_prev, f_curr);
    e.copy(f_curr, f_next);
    bump_step_index(e, index);
    e.accept_fixed();
}

fn emit_ab3(e: &mut Emit) {
    let (f_nm2, f_nm1, f_n, f_next, y_stage) = (e.ws[0], e.ws[1], e.ws[2], e.ws[3], e.ws[4]);
    let zero_i = e.idx(0);
    let index = e.b.load(e.sc, zero_i);
    let (zero, one) = (e.c(0.0), e.c(1.0));
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let second = e.b.cmp(CmpOp::Eq, index, one);
    let start = e.b.create_block();
    let not_start = e.b.create_block();
    let ab2 = e.b.create_block();
    let steady = e.b.create_block();
    e.b.brif(first, start, &[], not_start, &[]);

    e.b.switch_to(start);
    heun_start(e, f_nm1, f_n, y_stage);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(not_start);
    e.b.brif(second, ab2, &[], steady, &[]);

    e.b.switch_to(ab2);
    ab2_step(e, f_n, f_nm1, f_next);
    e.copy(f_nm2, f_nm1);
    e.copy(f_nm1, f_n);
    e.copy(f_n, f_next);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(steady);
    let (c23, c16, c5) = (e.c(23.0 / 12.0), e.c(16.0 / 12.0), e.c(5.0 / 12.0));
    for i in 0..e.n {
        let a = e.get(f_n, i);
        let b = e.get(f_nm1, i);
        let c = e.get(f_nm2, i);
        let a = e.b.mul(c23, a);
        let b = e.b.mul(c16, b);
        let c = e.b.mul(c5, c);
        let s = e.b.sub(a, b);
        let s = e.b.add(s, c);
        let term = e.b.mul(e.dt, s);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    }
    let t1 = e.b.add(e.t, e.dt);
    e.call_rhs(t1, e.y_prop, f_next);
    e.copy(f_nm2, f_nm1);
    e.copy(f_nm1, f_n);
    e.copy(f_n, f_next);
    bump_step_index(e, index);
    e.accept_fixed();
}

/// Dormand–Prince 5(4) with the reference's controller (runtime.md §2.4).
fn emit_rk45(e: &mut Emit) {
    const A: [&[f64]; 5] = [
        &[1.0 / 5.0],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[
            19372.0 / 6561.0,
            -25360.0 / 2187.0,
            64448.0 / 6561.0,
            -212.0 / 729.0,
        ],
        &[
            9017.0 / 3168.0,
            -355.0 / 33.0,
            46732.0 / 5247.0,
            49.0 / 176.0,
            -5103.0 / 18656.0,
        ],
    ];
    const C: [f64; 5] = [1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0];
    let (b1, b3, b4, b5, b6) = (
        35.0 / 384.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    );
    let (bs1, bs3, bs4, bs5, bs6, bs7) = (
        5179.0 / 57600.0,
        7571.0 / 16695.0,
        393.0 / 640.0,
        -92097.0 / 339200.0,
        187.0 / 2100.0,
        1.0 / 40.0,
    );
    let k: Vec<Value> = e.ws[0..7].to_vec();
    let y_stage = e.ws[7];

    let (atol, rtol, safety, min_factor, max_factor) =
        (e.cfg(0), e.cfg(1), e.cfg(2), e.cfg(3), e.cfg(4));
    let max_tries_f = e.cfg(5);
    let (min_step, dt_max) = (e.cfg(6), e.cfg(7));
    let max_tries = e.b.convert(max_tries_f, Type::I64);
    let one_i = e.b.i64(1);
    let few = e.b.cmp(CmpOp::Lt, max_tries, one_i);
    let max_tries = e.b.select(few, one_i, max_tries);
    let inf = e.c(f64::INFINITY);

    // k1 once, outside the retry loop.
    e.call_rhs(e.t, e.y, k[0]);
    let k1_ok = e.all_finite(k[0]);
    let k1_bad = e.b.create_block();
    let start = e.b.create_block();
    e.b.brif(k1_ok, start, &[], k1_bad, &[]);
    e.b.switch_to(k1_bad);
    let fail = |e: &mut Emit, err: Value| {
        let idx = e.idx(2);
        e.b.store(e.out, idx, err);
        let s = e.b.i32(status::STEPFAIL);
        e.b.ret(&[s]);
    };
    fail(e, inf);

    e.b.switch_to(start);
    let too_big = e.b.cmp(CmpOp::Gt, e.dt, dt_max);
    let h0 = e.b.select(too_big, dt_max, e.dt);
    // Loop header: (attempt, h, error).
    let header = e.b.create_block();
    let attempt = e.b.block_param(header, Type::I64);
    let h = e.b.block_param(header, Type::F64);
    let error = e.b.block_param(header, Type::F64);
    let zero_i = e.b.i64(0);
    e.b.jump(header, &[zero_i, h0, inf]);

    let exhausted = e.b.create_block();
    let body = e.b.create_block();
    e.b.switch_to(header);
    let more = e.b.cmp(CmpOp::Lt, attempt, max_tries);
    // Computed here so that every retry path (all dominated by the header) can use it.
    let next_attempt = e.b.add(attempt, one_i);
    e.b.brif(more, body, &[], exhausted, &[]);

    e.b.switch_to(exhausted);
    fail(e, error);

    // A non-finite intermediate: fail if h is already minimal, else shrink and retry.
    let shrink = e.b.create_block();
    let shrink_fail = e.b.create_block();
    let shrink_retry = e.b.create_block();
    e.b.switch_to(shrink);
    let at_min = e.b.cmp(CmpOp::Le, h, min_step);
    e.b.brif(at_min, shrink_fail, &[], shrink_retry, &[]);
    e.b.switch_to(shrink_fail);
    fail(e, inf);
    e.b.switch_to(shrink_retry);
    let hs = e.b.mul(h, min_factor);
    let below = e.b.cmp(CmpOp::Lt, hs, min_step);
    let hs = e.b.select(below, min_step, hs);
    e.b.jump(header, &[next_attempt, hs, inf]);

    e.b.switch_to(body);
    // Stages 2..6, each followed by a finiteness check.
    for s in 0..5 {
        let coeffs = A[s];
        for i in 0..e.n {
            let yi = e.get(e.y, i);
            let inc = if s == 0 {
                // `h * a21 * k1[i]` is `(h * a21) * k1[i]`.
                let a = e.c(coeffs[0]);
                let ha = e.b.mul(h, a);
                let k0 = e.get(k[0], i);
                e.b.mul(ha, k0)
            } else {
                let mut sum: Option<Value> = None;
                for (j, &a) in coeffs.iter().enumerate() {
                    let a = e.c(a);
                    let kj = e.get(k[j], i);
                    let term = e.b.mul(a, kj);
                    sum = Some(match sum {
                        None => term,
                        Some(acc) => e.b.add(acc, term),
                    });
                }
                let sum = sum.expect("stage coefficients");
                e.b.mul(h, sum)
            };
            let r = e.b.add(yi, inc);
            e.set(y_stage, i, r);
        }
        let c = e.c(C[s]);
        let ch = e.b.mul(c, h);
        let ts = e.b.add(e.t, ch);
        e.call_rhs(ts, y_stage, k[s + 1]);
        let ok = e.all_finite(k[s + 1]);
        let cont = e.b.create_block();
        e.b.brif(ok, cont, &[], shrink, &[]);
        e.b.switch_to(cont);
    }
    // Fifth-order solution (b2 = 0 omitted).
    for i in 0..e.n {
        let mut sum: Option<Value> = None;
        for (j, b) in [(0, b1), (2, b3), (3, b4), (4, b5), (5, b6)] {
            let bc = e.c(b);
            let kj = e.get(k[j], i);
            let term = e.b.mul(bc, kj);
            sum = Some(match sum {
                None => term,
                Some(acc) => e.b.add(acc, term),
            });
        }
        let sum = sum.expect("weights");
        let inc = e.b.mul(h, sum);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, inc);
        e.set(e.y_prop, i, r);
    }
    let ok = e.all_finite(e.y_prop);
    let cont = e.b.create_block();
    e.b.brif(ok, cont, &[], shrink, &[]);
    e.b.switch_to(cont);
    let th = e.b.add(e.t, h);
    e.call_rhs(th, e.y_prop, k[6]);
    let ok = e.all_finite(k[6]);
    let cont = e.b.create_block();
    e.b.brif(ok, cont, &[], shrink, &[]);
    e.b.switch_to(cont);

    // Error norm: sqrt(mean((e_i / sc_i)^2)) written as a power, as the reference does.
    let mut acc = e.c(0.0);
    for i in 0..e.n {
        let mut sum: Option<Value> = None;
        for (j, w) in [
            (0, b1 - bs1),
            (2, b3 - bs3),
            (3, b4 - bs4),
            (4, b5 - bs5),
            (5, b6 - bs6),
        ] {
            let wc = e.c(w);
            let kj = e.get(k[j], i);
            let term = e.b.mul(wc, kj);
            sum = Some(match sum {
                None => term,
                Some(a) => e.b.add(a, term),
            });
        }
        let bs7c = e.c(bs7);
        let k7 = e.get(k[6], i);
        let last = e.b.mul(bs7c, k7);
        let diff = e.b.sub(sum.expect("weights"), last);
        let ad = e.b.math(MathFn::Fabs, &[diff]);
        let ei = e.b.mul(h, ad);
        let yc = e.get(e.y, i);
        let yp = e.get(e.y_prop, i);
        let ayc = e.b.math(MathFn::Fabs, &[yc]);
        let ayp = e.b.math(MathFn::Fabs, &[yp]);
        // Python's max keeps the first unless the second is larger.
        let bigger = e.b.cmp(CmpOp::Gt, ayp, ayc);
        let m = e.b.select(bigger, ayp, ayc);
        let rm = e.b.mul(rtol, m);
        let scale = e.b.add(atol, rm);
        let q = e.b.div(ei, scale);
        let q2 = e.b.mul(q, q);
        acc = e.b.add(acc, q2);
    }
    let nf = e.c(e.n as f64);
    let mean = e.b.div(acc, nf);
    let half = e.c(0.5);
    let err = e.b.math(MathFn::Pow, &[mean, half]);
    let err_abs = e.b.math(MathFn::Fabs, &[err]);
    let finite = e.b.cmp(CmpOp::Lt, err_abs, inf);
    let judged = e.b.create_block();
    e.b.brif(finite, judged, &[], shrink, &[]);

    e.b.switch_to(judged);
    let one = e.c(1.0);
    let small = e.b.cmp(CmpOp::Le, err, one);
    let tiny_h = e.b.cmp(CmpOp::Le, h, min_step);
    let accept = e.b.binary(BinaryOp::Or, small, tiny_h);
    let accept_block = e.b.create_block();
    let reject_block = e.b.create_block();
    e.b.brif(accept, accept_block, &[], reject_block, &[]);

    e.b.switch_to(accept_block);
    let zero = e.c(0.0);
    let positive = e.b.cmp(CmpOp::Gt, err, zero);
    let inv = e.b.div(one, err);
    let p02 = e.c(0.2);
    let pw = e.b.math(MathFn::Pow, &[inv, p02]);
    let factor = e.b.mul(safety, pw);
    // max(min_factor, min(factor, max_factor)) with Python's first-wins ties.
    let over = e.b.cmp(CmpOp::Lt, max_factor, factor);
    let capped = e.b.select(over, max_factor, factor);
    let under = e.b.cmp(CmpOp::Gt, capped, min_factor);
    let factor = e.b.select(under, capped, min_factor);
    let grown = e.b.mul(h, factor);
    let maxed = e.b.mul(h, max_factor);
    let dt_next = e.b.select(positive, grown, maxed);
    let over_max = e.b.cmp(CmpOp::Gt, dt_next, dt_max);
    let dt_next = e.b.select(over_max, dt_max, dt_next);
    let t_prop = e.b.add(e.t, h);
    e.accept(t_prop, dt_next, err);

    e.b.switch_to(reject_block);
    let inv = e.b.div(one, err);
    let p025 = e.c(0.25);
    let pw = e.b.math(MathFn::Pow, &[inv, p025]);
    let factor = e.b.mul(safety, pw);
    let under = e.b.cmp(CmpOp::Gt, factor, min_factor);
    let factor = e.b.select(under, factor, min_factor);
    let hn = e.b.mul(h, factor);
    let too_small = e.b.cmp(CmpOp::Lt, hn, min_step);
    let reject_fail = e.b.create_block();
    let retry = e.b.create_block();
    e.b.brif(too_small, reject_fail, &[], retry, &[]);
    e.b.switch_to(reject_fail);
    fail(e, err);
    e.b.switch_to(retry);
    e.b.jump(header, &[next_attempt, hn, err]);
}

/// Signature of the initial-step function: `(t0, t_end, y, p, ring, head, f0, y1, f1, atol,
/// rtol, max_dt) -> h`; `max_dt` is `+inf` when there is no cap.
pub fn initial_step_signature(elem: Elem) -> Signature {
    let d = Type::Ptr(elem);
    Signature {
        params: vec![
            Type::F64,
            Type::F64,
            d,
            d,
            d,
            Type::Ptr(Elem::I64),
            d,
            d,
            d,
            Type::F64,
            Type::F64,
            Type::F64,
        ],
        returns: vec![Type::F64],
    }
}

/// numpy's pairwise sum of `xs` (its `pairwise_sum`: plain loop below 8 items, 8 partial
/// sums up to 128, halves above), so `mean` matches numpy to the bit.
fn numpy_sum(b: &mut FunctionBuilder, xs: &[Value]) -> Value {
    let n = xs.len();
    if n < 8 {
        let mut acc = b.f64(0.0);
        for &x in xs {
            acc = b.add(acc, x);
        }
        acc
    } else if n <= 128 {
        let mut r: Vec<Value> = xs[..8].to_vec();
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] = b.add(r[j], xs[i + j]);
            }
            i += 8;
        }
        let a = b.add(r[0], r[1]);
        let c = b.add(r[2], r[3]);
        let l = b.add(a, c);
        let a = b.add(r[4], r[5]);
        let c = b.add(r[6], r[7]);
        let rr = b.add(a, c);
        let mut res = b.add(l, rr);
        for &x in &xs[i..] {
            res = b.add(res, x);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let a = numpy_sum(b, &xs[..n2]);
        let c = numpy_sum(b, &xs[n2..]);
        b.add(a, c)
    }
}

/// Emits the WRMS initial-step heuristic of adaptive steppers (runtime.md §2.6).
pub fn emit_initial_step(mf: &mut ModelFunctions, n: usize, order: u32) -> FuncId {
    let elem = mf.elem;
    let mut f = Function::new("initial_step", initial_step_signature(elem));
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (t0, t_end, y, p, ring, head) = (
            b.param(0),
            b.param(1),
            b.param(2),
            b.param(3),
            b.param(4),
            b.param(5),
        );
        let (f0, y1, f1, atol, rtol, max_dt) = (
            b.param(6),
            b.param(7),
            b.param(8),
            b.param(9),
            b.param(10),
            b.param(11),
        );
        let rhs_sig = rhs_signature(elem);
        let get = |b: &mut FunctionBuilder, arr: Value, i: usize| {
            let idx = b.i64(i as i64);
            let raw = b.load(arr, idx);
            b.convert(raw, Type::F64)
        };
        b.call(mf.rhs, &rhs_sig, &[t0, y, f0, p, ring, head]);
        let y0: Vec<Value> = (0..n).map(|i| get(&mut b, y, i)).collect();
        let scale: Vec<Value> = y0
            .iter()
            .map(|&yi| {
                let a = b.math(MathFn::Fabs, &[yi]);
                let r = b.mul(rtol, a);
                b.add(atol, r)
            })
            .collect();
        let wrms = |b: &mut FunctionBuilder, v: &[Value]| {
            let sq: Vec<Value> = v
                .iter()
                .zip(&scale)
                .map(|(&x, &s)| {
                    let q = b.div(x, s);
                    b.mul(q, q)
                })
                .collect();
            let sum = numpy_sum(b, &sq);
            let nf = b.f64(n as f64);
            let mean = b.div(sum, nf);
            b.math(MathFn::Sqrt, &[mean])
        };
        let d0 = wrms(&mut b, &y0);
        let fv0: Vec<Value> = (0..n).map(|i| get(&mut b, f0, i)).collect();
        let d1 = wrms(&mut b, &fv0);
        let tiny = b.f64(1e-5);
        let small0 = b.cmp(CmpOp::Lt, d0, tiny);
        let small1 = b.cmp(CmpOp::Lt, d1, tiny);
        let small = b.binary(BinaryOp::Or, small0, small1);
        let c001 = b.f64(0.01);
        let h0a = b.mul(c001, d0);
        let h0a = b.div(h0a, d1);
        let span = b.sub(t_end, t0);
        let span = b.math(MathFn::Fabs, &[span]);
        let micro = b.f64(1e-6);
        let less = b.cmp(CmpOp::Lt, span, micro);
        let h0b = b.select(less, span, micro);
        let h0 = b.select(small, h0b, h0a);
        for i in 0..n {
            let prod = b.mul(h0, fv0[i]);
            let s = b.add(y0[i], prod);
            let raw = b.convert(s, elem.ty());
            let idx = b.i64(i as i64);
            b.store(y1, idx, raw);
        }
        let t1 = b.add(t0, h0);
        b.call(mf.rhs, &rhs_sig, &[t1, y1, f1, p, ring, head]);
        let diff: Vec<Value> = (0..n)
            .map(|i| {
                let a = get(&mut b, f1, i);
                b.sub(a, fv0[i])
            })
            .collect();
        let w = wrms(&mut b, &diff);
        let min_dt = b.f64(1e-16);
        let bigger = b.cmp(CmpOp::Gt, min_dt, h0);
        let denom = b.select(bigger, min_dt, h0);
        let d2 = b.div(w, denom);
        // max(d1, d2, 1e-15), first maximum wins.
        let g = b.cmp(CmpOp::Gt, d2, d1);
        let d = b.select(g, d2, d1);
        let floor = b.f64(1e-15);
        let g = b.cmp(CmpOp::Gt, floor, d);
        let d = b.select(g, floor, d);
        let one = b.f64(1.0);
        let expo = b.f64(1.0 / (order as f64 + 1.0));
        let inv = b.div(one, d);
        let pw = b.math(MathFn::Pow, &[inv, expo]);
        let h = b.mul(c001, pw);
        let capped = b.cmp(CmpOp::Lt, max_dt, h);
        let h = b.select(capped, max_dt, h);
        let capped = b.cmp(CmpOp::Lt, span, h);
        let h = b.select(capped, span, h);
        let low = b.cmp(CmpOp::Gt, min_dt, h);
        let h = b.select(low, min_dt, h);
        b.ret(&[h]);
    }
    mf.program.add(f)
}
