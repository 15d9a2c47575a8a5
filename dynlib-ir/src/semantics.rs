//! The exact meaning of the IR operations whose meaning differs between Rust, LLVM, C and
//! Python. The interpreter calls these functions; the LLVM backend emits the same sequence
//! of operations. Python's rules are the reference: floored `//` and `%`, `int()` truncates.

use crate::ir::Type;

/// Python's float `%` (CPython `float_rem`): the result has the sign of `b`; `b == 0` gives NaN.
pub fn mod_f64(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

/// Python's float `//` (CPython `float_floor_div`); `b == 0` gives ±inf or NaN like `a / b`.
pub fn floordiv_f64(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv + 1.0
        } else {
            floordiv
        }
    } else {
        0.0f64.copysign(a / b)
    }
}

/// Python's `round(x, ndigits)` for a float `x` (CPython's `float.__round__`): the decimal
/// number with `ndigits` places nearest to the exact binary value of `x`, ties to even,
/// then the double nearest to that. `round(2.675, 2)` is 2.67, because 2.675 is stored as
/// 2.67499999999999982236431605997495353221893310546875. NaN and infinities are returned
/// unchanged, as is `x` for `ndigits > 323` (more digits than any double has); for
/// `ndigits < -308` the result is a zero with the sign of `x`. A result too large for a
/// double is infinite (Python raises `OverflowError`). `ndigits` is a whole number.
pub fn round_digits(x: f64, ndigits: f64) -> f64 {
    if !x.is_finite() || ndigits.is_nan() || ndigits > 323.0 {
        return x;
    }
    if ndigits < -308.0 {
        return 0.0 * x;
    }
    let n = ndigits as i32;
    let rounded = if n >= 0 {
        // Rust's fixed-precision formatting is exact and rounds ties to even, which is
        // exactly CPython's `_Py_dg_dtoa(x, 3, n)`; parsing back is correctly rounded.
        format!("{:.*}", n as usize, x)
    } else {
        round_integer_digits(x, n.unsigned_abs() as usize)
    };
    let r: f64 = rounded.parse().unwrap_or(f64::NAN);
    r.copysign(x)
}

/// `x` rounded to a multiple of `10^m`, as decimal text: the exact integer part of `x`
/// gives the digits, the fraction breaks ties.
fn round_integer_digits(x: f64, m: usize) -> String {
    let a = x.abs();
    let whole = a.trunc();
    let fraction_nonzero = a != whole;
    let digits = format!("{whole:.0}");
    let (head, tail) = if digits.len() > m {
        digits.split_at(digits.len() - m)
    } else {
        ("", digits.as_str())
    };
    let tail = format!("{tail:0>m$}");
    let half = format!("5{}", "0".repeat(m - 1));
    let last_odd = head.bytes().last().is_some_and(|d| (d - b'0') % 2 == 1);
    let up = match tail.as_str().cmp(half.as_str()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => fraction_nonzero || last_odd,
    };
    let mut q: Vec<u8> = if head.is_empty() {
        vec![b'0']
    } else {
        head.bytes().collect()
    };
    if up {
        let mut i = q.len();
        loop {
            if i == 0 {
                q.insert(0, b'1');
                break;
            }
            i -= 1;
            if q[i] == b'9' {
                q[i] = b'0';
            } else {
                q[i] += 1;
                break;
            }
        }
    }
    format!("{}e{m}", String::from_utf8(q).unwrap_or_default())
}

/// Python's int `//`, wrapping on overflow; division by zero gives 0 (Python would raise,
/// and an integer has no NaN to carry the failure).
pub fn floordiv_i64(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    let q = a.wrapping_div(b);
    if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) {
        q.wrapping_sub(1)
    } else {
        q
    }
}

/// Python's int `%`: the result has the sign of `b`; `b == 0` gives 0.
pub fn mod_i64(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    let r = a.wrapping_rem(b);
    if r != 0 && ((r < 0) != (b < 0)) {
        r.wrapping_add(b)
    } else {
        r
    }
}

/// [`floordiv_i64`] on i32.
pub fn floordiv_i32(a: i32, b: i32) -> i32 {
    if b == 0 {
        return 0;
    }
    let q = a.wrapping_div(b);
    if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) {
        q.wrapping_sub(1)
    } else {
        q
    }
}

/// [`mod_i64`] on i32.
pub fn mod_i32(a: i32, b: i32) -> i32 {
    if b == 0 {
        return 0;
    }
    let r = a.wrapping_rem(b);
    if r != 0 && ((r < 0) != (b < 0)) {
        r.wrapping_add(b)
    } else {
        r
    }
}

/// A scalar as raw bits, the way registers hold it: f64 bits; f32 bits in the low half;
/// integers sign-extended; bool 0 or 1.
pub type Bits = u64;

/// Converts `bits` of type `from` to type `to`:
/// float → int truncates toward zero and saturates (NaN gives 0; LLVM `fptosi.sat`);
/// int → float rounds to nearest; f64 → f32 rounds to nearest; ints wrap or sign-extend;
/// bool → number is 0 or 1; number → bool is `!= 0` (so NaN is true, as in Python).
pub fn convert(bits: Bits, from: Type, to: Type) -> Bits {
    let as_f64 = |b: Bits| -> f64 {
        match from {
            Type::F64 => f64::from_bits(b),
            Type::F32 => f32::from_bits(b as u32) as f64,
            Type::I64 => b as i64 as f64,
            Type::I32 => b as i64 as i32 as f64,
            Type::Bool => (b != 0) as u8 as f64,
            Type::Ptr(_) => 0.0,
        }
    };
    match (from, to) {
        _ if from == to => bits,
        (_, Type::Bool) => match from {
            Type::F64 => (f64::from_bits(bits) != 0.0) as u64,
            Type::F32 => (f32::from_bits(bits as u32) != 0.0) as u64,
            _ => (bits != 0) as u64,
        },
        (Type::F32, Type::F64) => (f32::from_bits(bits as u32) as f64).to_bits(),
        (Type::I64, Type::F32) => ((bits as i64) as f32).to_bits() as u64,
        (Type::I32, Type::F32) => ((bits as i64 as i32) as f32).to_bits() as u64,
        (_, Type::F64) => as_f64(bits).to_bits(),
        (_, Type::F32) => (as_f64(bits) as f32).to_bits() as u64,
        (Type::F64, Type::I64) => (f64::from_bits(bits) as i64) as u64,
        (Type::F32, Type::I64) => (f32::from_bits(bits as u32) as i64) as u64,
        (Type::F64, Type::I32) => (f64::from_bits(bits) as i32) as i64 as u64,
        (Type::F32, Type::I32) => (f32::from_bits(bits as u32) as i32) as i64 as u64,
        (Type::I64 | Type::Bool, Type::I32) => (bits as i64 as i32) as i64 as u64,
        (Type::I32 | Type::Bool, Type::I64) => bits,
        _ => bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_modulo_and_floor_division() {
        assert_eq!(mod_f64(-7.0, 3.0), 2.0);
        assert_eq!(mod_f64(7.5, -2.0), -0.5);
        assert_eq!(floordiv_f64(-7.0, 2.0), -4.0);
        assert_eq!(floordiv_i64(-7, 2), -4);
        assert_eq!(mod_i64(-7, 3), 2);
        assert_eq!(mod_i64(7, -3), -2);
        assert_eq!(floordiv_i64(7, 0), 0);
        assert_eq!(floordiv_i64(i64::MIN, -1), i64::MIN);
        assert!(mod_f64(1.0, 0.0).is_nan());
    }

    #[test]
    fn conversions() {
        assert_eq!(convert(2.7f64.to_bits(), Type::F64, Type::I64), 2);
        assert_eq!(
            convert((-2.7f64).to_bits(), Type::F64, Type::I64) as i64,
            -2
        );
        assert_eq!(convert(f64::NAN.to_bits(), Type::F64, Type::I64), 0);
        assert_eq!(convert(f64::NAN.to_bits(), Type::F64, Type::Bool), 1);
        assert_eq!(f64::from_bits(convert(1, Type::Bool, Type::F64)), 1.0);
        assert_eq!(convert((-1i64) as u64, Type::I64, Type::I32) as i64, -1);
    }
}

#[cfg(test)]
mod round_tests {
    use super::round_digits;

    #[test]
    fn round_matches_cpython() {
        // Values from CPython 3.11.
        let cases: &[(f64, f64, f64)] = &[
            (2.675, 2.0, 2.67),
            (0.125, 2.0, 0.12),
            (0.375, 2.0, 0.38),
            (2.5, 0.0, 2.0),
            (3.5, 0.0, 4.0),
            (-2.5, 0.0, -2.0),
            (1234.5678, 2.0, 1234.57),
            (1234.5678, -2.0, 1200.0),
            (1250.0, -2.0, 1200.0),
            (1350.0, -2.0, 1400.0),
            (1250.0001, -2.0, 1300.0),
            (-1250.0, -2.0, -1200.0),
            (5e-324, 400.0, 5e-324),
            (5e-324, 323.0, 0.0),
            (1e300, 2.0, 1e300),
            (1e300, -299.0, 1e300),
            (123.0, -400.0, 0.0),
            (0.5, -1.0, 0.0),
            (5.0, -1.0, 0.0),
            (15.0, -1.0, 20.0),
            (95.0, -1.0, 100.0),
            (999.0, -3.0, 1000.0),
            (0.1 + 0.2, 15.0, 0.3),
            (1.7976931348623157e308, -308.0, f64::INFINITY),
        ];
        for &(x, n, want) in cases {
            let got = round_digits(x, n);
            assert!(
                got == want && got.is_sign_negative() == want.is_sign_negative(),
                "round({x}, {n}) = {got}, want {want}"
            );
        }
        assert!(
            round_digits(-0.4, 0.0).is_sign_negative(),
            "round(-0.4, 0) is -0.0"
        );
        assert!(
            round_digits(-3.0, -1.0).is_sign_negative(),
            "round(-3.0, -1) is -0.0"
        );
        assert!(round_digits(f64::NAN, 2.0).is_nan());
        assert_eq!(round_digits(f64::NEG_INFINITY, 2.0), f64::NEG_INFINITY);
    }
}
