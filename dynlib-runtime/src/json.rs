//! Floats in JSON, shared by snapshot files and the CLI's output: finite values as numbers
//! (shortest round-trip form), NaN and the infinities as the strings `"nan"`, `"inf"`,
//! `"-inf"` (JSON has no literal for them; `"+inf"` is read too).

use dynlib_ir::Elem;
use dynlib_model::Number;
use serde_json::{json, Value};

use crate::run::DVec;

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

/// A number as JSON: an int exactly (a JSON integer, never through a float), a float by
/// [`float`].
pub fn number(x: Number) -> Value {
    match x {
        Number::Int(i) => json!(i),
        Number::Float(f) => float(f),
    }
}

/// The values of a vector as a JSON array, exactly ([`number`]).
pub fn dvec(v: &DVec) -> Value {
    Value::Array(v.numbers().into_iter().map(number).collect())
}

/// A number written by [`number`]: JSON integers exactly, other numbers and the
/// non-finite strings as floats.
pub fn read_number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(Number::Int(i)),
            None => n.as_f64().map(Number::Float),
        },
        Value::String(s) => non_finite(s).map(Number::Float),
        _ => None,
    }
}

/// An array written by [`dvec`] as a vector of `elem`, or why not: an integer dtype takes
/// integers only (a whole float is accepted), every value must fit.
pub fn read_dvec(elem: Elem, v: &Value) -> Result<DVec, String> {
    let items = v.as_array().ok_or("must be an array")?;
    let mut out = DVec::zeros(elem, items.len());
    for (i, item) in items.iter().enumerate() {
        let x = read_number(item).ok_or_else(|| format!("value {i} is not a number"))?;
        let x =
            crate::options::cast(elem, "value", &format!("[{i}]"), x).map_err(|e| e.to_string())?;
        out.set_number(i, x);
    }
    Ok(out)
}
