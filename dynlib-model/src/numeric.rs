//! Numeric values of states, params and constants (dsl.md §3.1).
//!
//! A value is a TOML number or a string holding a small arithmetic expression (`"8/3"`,
//! `"2*pi"`, `"tau_base * 2"` with an earlier constant). It is evaluated once, when the model
//! loads, with Python's numeric rules: ints and floats stay apart, `/` gives a float, `//`
//! and `%` are floored, `**` of two ints is an int unless the exponent is negative.

use crate::expr::{self, BinOp, Expr, ExprKind, Number, UnaryOp};

/// Why a numeric expression could not be evaluated; the caller prefixes the location.
#[derive(Clone, Debug, PartialEq)]
pub struct NumericError {
    /// The message after the `[section].key` prefix.
    pub message: String,
    /// Byte range in the expression text, when one token is to blame.
    pub span: Option<std::ops::Range<usize>>,
}

fn err<T>(
    message: impl Into<String>,
    span: Option<std::ops::Range<usize>>,
) -> Result<T, NumericError> {
    Err(NumericError {
        message: message.into(),
        span,
    })
}

/// Evaluates `text`; `lookup` answers names (constants, `pi`, `e`) and `allowed` lists them
/// for the error message.
pub fn eval_str(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Number>,
    allowed: &[String],
) -> Result<Number, NumericError> {
    if text.trim().is_empty() {
        return err(
            "must be a numeric literal or expression, got empty string",
            None,
        );
    }
    let tree = match expr::parse(text) {
        Ok(t) => t,
        Err(e) => {
            return err(
                format!(
                    "must be a numeric literal or arithmetic expression (e.g. '8/3'): {}",
                    e.message
                ),
                Some(e.span),
            )
        }
    };
    eval(&tree, lookup, allowed)
}

/// Evaluates an expression made of numbers, names `lookup` knows and arithmetic.
pub(crate) fn eval(
    e: &Expr,
    lookup: &dyn Fn(&str) -> Option<Number>,
    allowed: &[String],
) -> Result<Number, NumericError> {
    let span = Some(e.span.clone());
    match &e.kind {
        ExprKind::Int(i) => Ok(Number::Int(*i)),
        ExprKind::Float(f) | ExprKind::BigInt(f) => Ok(Number::Float(*f)),
        ExprKind::Bool(_) => err("must evaluate to a number, got bool", span),
        ExprKind::Name(id) => lookup(&id.name).ok_or_else(|| NumericError {
            message: format!(
                "contains unknown identifier '{}'. Allowed constants: {}.",
                id.name,
                allowed.join(", ")
            ),
            span,
        }),
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => err("contains an unsupported unary operator", span),
        ExprKind::Unary { op, operand } => {
            let v = eval(operand, lookup, allowed)?;
            Ok(match (op, v) {
                (UnaryOp::Neg, Number::Int(i)) => {
                    Number::Int(i.checked_neg().ok_or_else(|| overflow(&span))?)
                }
                (UnaryOp::Neg, Number::Float(f)) => Number::Float(-f),
                (_, v) => v,
            })
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let a = eval(lhs, lookup, allowed)?;
            let b = eval(rhs, lookup, allowed)?;
            binary(*op, a, b).map_err(|m| NumericError { message: m, span })
        }
        _ => err(
            "must be composed of numbers and arithmetic operators (e.g. '8/3')",
            span,
        ),
    }
}

fn overflow(span: &Option<std::ops::Range<usize>>) -> NumericError {
    NumericError {
        message: "overflows a 64-bit integer".into(),
        span: span.clone(),
    }
}

/// One arithmetic operation with Python's rules. Errors are messages without location.
pub fn binary(op: BinOp, a: Number, b: Number) -> Result<Number, String> {
    use Number::{Float, Int};
    const DIV0: &str = "has a division by zero";
    const OVERFLOW: &str = "overflows a 64-bit integer";
    Ok(match (a, b) {
        (Int(x), Int(y)) => match op {
            BinOp::Add => Int(x.checked_add(y).ok_or(OVERFLOW)?),
            BinOp::Sub => Int(x.checked_sub(y).ok_or(OVERFLOW)?),
            BinOp::Mul => Int(x.checked_mul(y).ok_or(OVERFLOW)?),
            BinOp::Div if y == 0 => return Err(DIV0.into()),
            BinOp::Div => Float(x as f64 / y as f64),
            BinOp::FloorDiv | BinOp::Mod if y == 0 => return Err(DIV0.into()),
            BinOp::FloorDiv => Int(int_floordiv(x, y).ok_or(OVERFLOW)?),
            BinOp::Mod => Int(int_mod(x, y)),
            BinOp::Pow if y >= 0 => {
                let e = u32::try_from(y).map_err(|_| OVERFLOW)?;
                Int(x.checked_pow(e).ok_or(OVERFLOW)?)
            }
            BinOp::Pow if x == 0 => return Err(DIV0.into()),
            BinOp::Pow => Float((x as f64).powf(y as f64)),
        },
        (a, b) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            match op {
                BinOp::Add => Float(x + y),
                BinOp::Sub => Float(x - y),
                BinOp::Mul => Float(x * y),
                BinOp::Div if y == 0.0 => return Err(DIV0.into()),
                BinOp::Div => Float(x / y),
                BinOp::FloorDiv | BinOp::Mod if y == 0.0 => return Err(DIV0.into()),
                BinOp::FloorDiv => Float(py_floordiv(x, y)),
                BinOp::Mod => Float(py_mod(x, y)),
                BinOp::Pow if x == 0.0 && y < 0.0 => return Err(DIV0.into()),
                BinOp::Pow => {
                    let r = x.powf(y);
                    if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
                        return Err(
                            "has a non-real result (negative base, fractional exponent)".into()
                        );
                    }
                    Float(r)
                }
            }
        }
    })
}

fn int_floordiv(x: i64, y: i64) -> Option<i64> {
    let q = x.checked_div(y)?;
    Some(if (x % y != 0) && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    })
}

fn int_mod(x: i64, y: i64) -> i64 {
    let r = x.wrapping_rem(y);
    if r != 0 && ((r < 0) != (y < 0)) {
        r + y
    } else {
        r
    }
}

/// Python's float `%`: the result has the sign of `y` (CPython's `float_rem`).
pub fn py_mod(x: f64, y: f64) -> f64 {
    let m = x % y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m + y
        } else {
            m
        }
    } else {
        0.0f64.copysign(y)
    }
}

/// Python's float `//` (CPython's `float_floor_div`, via `divmod`).
pub fn py_floordiv(x: f64, y: f64) -> f64 {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let _ = m;
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0f64.copysign(x / y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<Number, NumericError> {
        let look = |n: &str| match n {
            "pi" => Some(Number::Float(std::f64::consts::PI)),
            "e" => Some(Number::Float(std::f64::consts::E)),
            "k" => Some(Number::Int(3)),
            _ => None,
        };
        eval_str(s, &look, &["e".into(), "pi".into(), "k".into()])
    }

    #[test]
    fn python_arithmetic() {
        assert_eq!(ev("8.0/3.0").unwrap(), Number::Float(2.6666666666666665));
        assert_eq!(ev("8/4").unwrap(), Number::Float(2.0));
        assert_eq!(ev("7//2").unwrap(), Number::Int(3));
        assert_eq!(ev("-7//2").unwrap(), Number::Int(-4));
        assert_eq!(ev("-7%3").unwrap(), Number::Int(2));
        assert_eq!(ev("7.5%-2").unwrap(), Number::Float(-0.5));
        assert_eq!(ev("2**3").unwrap(), Number::Int(8));
        assert_eq!(ev("2^3^2").unwrap(), Number::Int(512));
        assert_eq!(ev("-2**2").unwrap(), Number::Int(-4));
        assert_eq!(ev("2**-1").unwrap(), Number::Float(0.5));
        assert_eq!(
            ev("2*pi").unwrap(),
            Number::Float(2.0 * std::f64::consts::PI)
        );
        assert_eq!(ev("k*2").unwrap(), Number::Int(6));
        assert_eq!(ev("-7.0//2").unwrap(), Number::Float(-4.0));
    }

    #[test]
    fn errors_say_what() {
        assert!(ev("").unwrap_err().message.contains("got empty string"));
        assert!(ev("1/0").unwrap_err().message.contains("division by zero"));
        assert!(ev("5 % 0.0")
            .unwrap_err()
            .message
            .contains("division by zero"));
        assert!(ev("foo")
            .unwrap_err()
            .message
            .contains("unknown identifier 'foo'. Allowed constants: e, pi, k."));
        assert!(ev("True").unwrap_err().message.contains("got bool"));
        assert!(ev("not 1")
            .unwrap_err()
            .message
            .contains("unsupported unary"));
        assert!(ev("sin(1)")
            .unwrap_err()
            .message
            .contains("numbers and arithmetic operators"));
        assert!(ev("1 +")
            .unwrap_err()
            .message
            .contains("arithmetic expression"));
        assert!(ev("9223372036854775807 + 1")
            .unwrap_err()
            .message
            .contains("overflows"));
    }
}
