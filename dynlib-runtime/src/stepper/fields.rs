//! Configuration fields several steppers share (the reference's names, defaults and the
//! values they accept), and the rules between the adaptive steppers' fields.

use super::{ConfigError, ConfigField, ValueRange, JACOBIAN_MODES};

const fn field(name: &'static str, default: f64, range: ValueRange) -> ConfigField {
    ConfigField {
        name,
        default,
        range,
        choices: &[],
    }
}

/// Absolute tolerance of the error estimate.
pub(super) const ATOL: ConfigField = field("atol", 1e-8, ValueRange::NON_NEGATIVE);
/// Relative tolerance of the error estimate.
pub(super) const RTOL: ConfigField = field("rtol", 1e-5, ValueRange::NON_NEGATIVE);
/// The controller's safety factor.
pub(super) const SAFETY: ConfigField = field("safety", 0.9, ValueRange::FRACTION);
/// The smallest factor a step changes by.
pub(super) const MIN_FACTOR: ConfigField = field("min_factor", 0.2, ValueRange::FRACTION);
/// The largest factor a step grows by.
pub(super) const MAX_FACTOR: ConfigField = field("max_factor", 5.0, ValueRange::AT_LEAST_ONE);
/// Attempts per step.
pub(super) const MAX_TRIES: ConfigField = field("max_tries", 10.0, ValueRange::COUNT);
/// The smallest step.
pub(super) const MIN_STEP: ConfigField = field("min_step", 1e-12, ValueRange::NON_NEGATIVE);
/// The largest step.
pub(super) const DT_MAX: ConfigField = field("dt_max", f64::INFINITY, ValueRange::POSITIVE_OR_INF);
/// Newton's convergence tolerance.
pub(super) const NEWTON_TOL: ConfigField = field("newton_tol", 1e-8, ValueRange::POSITIVE_OR_INF);
/// Newton iterations per solve.
pub(super) const NEWTON_MAX_ITER: ConfigField = field("newton_max_iter", 50.0, ValueRange::COUNT);
/// The finite-difference step's scale.
pub(super) const JAC_EPS: ConfigField = field("jac_eps", 1e-8, ValueRange::POSITIVE_OR_INF);
/// Which Jacobian Newton uses: `internal` (0), `external` (1), `auto` (2, the default).
pub(super) const JACOBIAN_MODE: ConfigField = ConfigField {
    name: "jacobian_mode",
    default: 2.0,
    range: ValueRange::JACOBIAN_MODE,
    choices: JACOBIAN_MODES,
};

/// The rules between an adaptive stepper's fields, `at` the positions of `atol`, `rtol`,
/// `min_step` and `dt_max`: a tolerance that is all zero makes every error infinite; the
/// step bounds must not cross.
pub(super) fn adaptive_rules(c: &[f64], at: [usize; 4]) -> Result<(), ConfigError> {
    let [Some(&atol), Some(&rtol), Some(&min_step), Some(&dt_max)] = at.map(|i| c.get(i)) else {
        return Ok(());
    };
    if atol == 0.0 && rtol == 0.0 {
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
