//! Floats in JSON, shared by snapshot files and the CLI's output: finite values as numbers
//! (shortest round-trip form), NaN and the infinities as the strings `"nan"`, `"inf"`,
//! `"-inf"` (JSON has no literal for them; `"+inf"` is read too).

use serde_json::{json, Value};

/// A float as JSON; non-finite values as strings.
pub fn float(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

/// Floats as a JSON array, non-finite ones as strings.
pub fn floats(xs: &[f64]) -> Value {
    Value::Array(xs.iter().map(|&x| float(x)).collect())
}

/// A float written by [`float`] (or any JSON number).
pub fn read_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => non_finite(s),
        _ => None,
    }
}

/// The non-finite float a string names (`nan`, `inf`, `+inf`, `-inf`); preset files use the
/// same spelling.
pub fn non_finite(s: &str) -> Option<f64> {
    match s {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}
