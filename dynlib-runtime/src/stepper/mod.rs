//! Steppers: a registry of metadata and IR emitters (runtime.md §2).
//!
//! A stepper is emitted as one IR function that takes a single step; its parameters, in
//! order, are [`StepAbi`]'s.
//!
//! `out` receives `[t_prop, dt_next, err_est]`; `sc` holds the stepper's scalar state (the
//! Adams–Bashforth step index); `cfg` its configuration, in [`StepperSpec::config`] order.
//! The return value is a [`status`] code. Arithmetic follows the reference's expression
//! order exactly, so results match it to the bit where libm does.
//!
//! Layout: this module holds the metadata ([`StepperSpec`], configuration ranges, the
//! workspace [`Layout`]) and the registry; the step signature is [`crate::abi`]'s; [`emit`]
//! holds [`StepperSpec::emit`], the emission context and the helpers every emitter shares; one file per stepper or family holds its registry entry (`SPEC`) and its
//! emitter. Adding a stepper is one new file and one line in `REGISTRY`.

use dynlib_ir::*;

use crate::abi::{status, Abi, StepAbi};
pub use crate::workspace::Layout;

mod adams_bashforth;
mod bdf;
mod bdf2;
mod bdf2a;
pub mod emit;
mod euler;
mod fields;
mod heun;
mod implicit;
mod initial_step;
mod map;
mod rk2;
mod rk4;
mod rk45;
mod sdirk2;
pub mod tangent;
mod tr_bdf2a;

pub use emit::{Emit, TangentMode};
pub use initial_step::emit_initial_step;

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
    /// Names of its values, where it is a choice (`jacobian_mode = "auto"`).
    pub choices: &'static [(&'static str, f64)],
}

/// The names of `jacobian_mode`'s values.
pub const JACOBIAN_MODES: &[(&str, f64)] = &[("internal", 0.0), ("external", 1.0), ("auto", 2.0)];

/// The value of a choice `name` of the configuration field `field` of any stepper
/// (`jacobian_mode`, `auto` → 2); an error lists the names.
pub fn config_choice(field: &str, name: &str) -> Result<f64, String> {
    let fields = || {
        REGISTRY
            .iter()
            .flat_map(|s| s.config)
            .filter(|f| f.name == field)
    };
    let Some(f) = fields().find(|f| !f.choices.is_empty()) else {
        return Err(format!(
            "'{name}' is not a number (and {field} has no named values)"
        ));
    };
    f.choices
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<&str> = f.choices.iter().map(|c| c.0).collect();
            format!(
                "{field} is one of {} (or its number), got '{name}'",
                names.join(", ")
            )
        })
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
    /// `jacobian_mode`: 0 (`internal`, forward differences), 1 (`external`, the model's
    /// declared Jacobian, else forward differences) or 2 (`auto`: the declared Jacobian, else
    /// the one derived from the right-hand side).
    pub const JACOBIAN_MODE: ValueRange = ValueRange {
        min: 0.0,
        min_open: false,
        max: 2.0,
        max_open: false,
        integer: true,
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
    /// Order of accuracy; for a variable-order method the order it starts at (the
    /// initial-step rule's order).
    pub order: u32,
    /// The highest order of a variable-order method (`bdf`: 5), `None` for a fixed order.
    pub max_order: Option<u32>,
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
    /// The buffers it keeps between steps (vectors, matrices, index vectors, scalars).
    pub workspace: Layout,
    /// Rules between configuration fields (beyond each field's range): a message naming
    /// the field at fault.
    pub config_rules: fn(&[f64]) -> Result<(), ConfigError>,
    /// How it advances tangent vectors for the Lyapunov observers (runtime.md §2.7).
    pub tangents: Tangents,
    /// True when its step treats every state component on its own (no norm, no error
    /// estimate, nothing summed across components): runs packed side by side into one
    /// state vector ([`crate::plan::lanes`]) then advance exactly as each would alone.
    pub lanes: bool,
    emit: fn(&mut Emit),
}

/// How a stepper advances tangent vectors (runtime.md §2.7), the Lyapunov observers' use.
#[derive(Copy, Clone, Debug)]
pub enum Tangents {
    /// It has no tangent steps.
    None,
    /// Its own emitter, run with every state vector twinned by a tangent vector
    /// ([`StepperSpec::emit_tangent`]): the tangent with the state ([`TangentMode::Combined`])
    /// or alone with the Jacobian frozen at the step's start ([`TangentMode::Frozen`]).
    /// Only for emitters whose every state-vector operation twins (the explicit
    /// Runge–Kutta ones).
    Twinned,
    /// A tangent-only scheme of its own ([`TangentMode::Frozen`] only): the
    /// Adams–Bashforth methods keep a history of `J·v` per tangent vector, which the
    /// state's history of `f` cannot stand for.
    Own(TangentScheme),
}

/// A stepper's own tangent-only scheme: its vectors and its emitter (see
/// [`tangent::TangentEmit`] for the function it emits).
#[derive(Copy, Clone, Debug)]
pub struct TangentScheme {
    /// Vectors each tangent vector keeps from one step to the next (its `J·v` history),
    /// zero before the observed run's first step.
    pub history: &'static [&'static str],
    /// Scratch vectors, shared by every tangent step of a step.
    pub scratch: &'static [&'static str],
    emit: fn(&mut tangent::TangentEmit),
}

/// A configuration problem: the field at fault and why.
pub type ConfigError = (&'static str, String);

/// No rules between fields.
fn no_rules(_: &[f64]) -> Result<(), ConfigError> {
    Ok(())
}

/// Every stepper, in the order `dynlib steppers list` shows them.
static REGISTRY: &[StepperSpec] = &[
    map::SPEC,
    euler::SPEC,
    rk2::SPEC,
    heun::SPEC,
    rk4::SPEC,
    rk45::SPEC,
    adams_bashforth::AB2,
    adams_bashforth::AB3,
    bdf2::SPEC,
    bdf2a::SPEC,
    sdirk2::SPEC,
    tr_bdf2a::SPEC,
    bdf::SPEC,
];

/// Every registered stepper, in `REGISTRY` order (as `dynlib steppers list` shows them).
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

/// `stepper`'s configuration from the model's `[sim]` table, else the defaults: each field
/// a number, or the name of one of its values (`jacobian_mode = "external"`); anything
/// else is an error naming `[sim].key`, never a setting silently dropped.
pub fn sim_config(
    model: &dynlib_model::Model,
    stepper: &StepperSpec,
) -> Result<Vec<f64>, crate::RuntimeError> {
    use dynlib_model::raw::SimValue;
    stepper
        .config
        .iter()
        .map(|f| {
            let Some((_, v)) = model.sim.extras.iter().find(|(k, _)| k == f.name) else {
                return Ok(model.sim.number(f.name).unwrap_or(f.default));
            };
            let bad = |why: String| crate::RuntimeError::option(&format!("[sim].{}", f.name), why);
            match v {
                SimValue::Str(name) => config_choice(f.name, name).map_err(bad),
                _ => model
                    .sim
                    .number(f.name)
                    .ok_or_else(|| bad("must be a number".into())),
            }
        })
        .collect()
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
    let values = sim_config(model, stepper)?;
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

    /// The name of this stepper's `prefix` function in the IR (`step_rk45`, `runner_rk4`).
    pub fn ir_name(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.name.replace('-', "_"))
    }

    /// The step function's parameters.
    pub fn abi(&self) -> StepAbi {
        StepAbi {
            layout: self.workspace,
        }
    }

    /// The IR signature of this stepper's step function for dtype element `elem`.
    pub fn signature(&self, elem: Elem) -> Signature {
        self.abi().signature(elem)
    }

    /// The tangent modes it has: both for a twinned emitter, the tangent-only step for a
    /// scheme of its own, none otherwise.
    pub fn tangent_modes(&self) -> &'static [TangentMode] {
        match self.tangents {
            Tangents::None => &[],
            Tangents::Twinned => &[TangentMode::Combined, TangentMode::Frozen],
            Tangents::Own(_) => &[TangentMode::Frozen],
        }
    }

    /// The signature of [`StepperSpec::emit_tangent`]'s functions. Twinned: the step's,
    /// then `v`, `v_prop` and the twins of the workspace vectors. A scheme of its own:
    /// `(t: f64, dt: f64, y, p, ring, head, step: i64, v, v_prop, history.., scratch..)`,
    /// `step` the observed run's steps before this one (its history starts at 0).
    pub fn tangent_signature(&self, elem: Elem) -> Signature {
        let ptrs = |k| std::iter::repeat_n(Type::Ptr(elem), k);
        match self.tangents {
            Tangents::Own(s) => {
                let mut params = vec![Type::F64, Type::F64];
                params.extend(ptrs(3));
                params.extend([Type::Ptr(Elem::I64), Type::I64]);
                params.extend(ptrs(2 + s.history.len() + s.scratch.len()));
                Signature {
                    params,
                    returns: vec![Type::I32],
                }
            }
            _ => {
                let mut sig = self.signature(elem);
                sig.params.extend(ptrs(2 + self.workspace.vectors.len()));
                sig
            }
        }
    }

    /// Vectors each tangent vector keeps between tangent steps (a scheme's history).
    pub fn tangent_history(&self) -> usize {
        match self.tangents {
            Tangents::Own(s) => s.history.len(),
            _ => 0,
        }
    }

    /// Scratch vectors the tangent steps share: the workspace vectors' twins, or a
    /// scheme's scratch.
    pub fn tangent_scratch(&self) -> usize {
        match self.tangents {
            Tangents::None => 0,
            Tangents::Twinned => self.workspace.vectors.len(),
            Tangents::Own(s) => s.scratch.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workspace_name_is_unique_and_found() {
        for s in registry() {
            let l = &s.workspace;
            let mut seen = std::collections::HashSet::new();
            for b in l.buffers() {
                let name = l.name(b);
                assert!(seen.insert(name), "{}: buffer '{name}' twice", s.name);
                assert_eq!(l.find(name), Some(b), "{}: '{name}'", s.name);
            }
            let mut slots = std::collections::HashSet::new();
            for (k, &name) in l.scalars.iter().enumerate() {
                assert!(slots.insert(name), "{}: scalar slot '{name}' twice", s.name);
                assert_eq!(l.scalar(name), Some(k), "{}: '{name}'", s.name);
            }
        }
    }
}
