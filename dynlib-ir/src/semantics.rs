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
