//! The values that cross the boundary between Rust and a running IR program, shared by both
//! backends so that a caller switches backend without changing a line: [`Arg`]s in (scalars,
//! and mutable slices for pointer parameters), [`Scalar`]s out.

use crate::ir::{Elem, Type};

/// An argument of a call from Rust: a scalar, or an array for a pointer parameter.
///
/// The array is borrowed mutably for the whole call: the program reads and writes it in
/// place, and whatever it stored stays there after the call (also after a trap).
#[derive(Debug)]
pub enum Arg<'a> {
    /// An `f64` parameter.
    F64(f64),
    /// An `f32` parameter.
    F32(f32),
    /// An `i64` parameter.
    I64(i64),
    /// An `i32` parameter.
    I32(i32),
    /// A `bool` parameter.
    Bool(bool),
    /// A `ptr<f64>` parameter.
    PtrF64(&'a mut [f64]),
    /// A `ptr<f32>` parameter.
    PtrF32(&'a mut [f32]),
    /// A `ptr<i64>` parameter.
    PtrI64(&'a mut [i64]),
    /// A `ptr<i32>` parameter.
    PtrI32(&'a mut [i32]),
}

impl Arg<'_> {
    /// The IR type of a parameter this argument can be passed to.
    pub fn ty(&self) -> Type {
        match self {
            Arg::F64(_) => Type::F64,
            Arg::F32(_) => Type::F32,
            Arg::I64(_) => Type::I64,
            Arg::I32(_) => Type::I32,
            Arg::Bool(_) => Type::Bool,
            Arg::PtrF64(_) => Type::Ptr(Elem::F64),
            Arg::PtrF32(_) => Type::Ptr(Elem::F32),
            Arg::PtrI64(_) => Type::Ptr(Elem::I64),
            Arg::PtrI32(_) => Type::Ptr(Elem::I32),
        }
    }
}

/// A value returned by a call.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Scalar {
    /// An `f64` result.
    F64(f64),
    /// An `f32` result.
    F32(f32),
    /// An `i64` result.
    I64(i64),
    /// An `i32` result.
    I32(i32),
    /// A `bool` result.
    Bool(bool),
}

impl Scalar {
    /// The IR type of the value.
    pub fn ty(self) -> Type {
        match self {
            Scalar::F64(_) => Type::F64,
            Scalar::F32(_) => Type::F32,
            Scalar::I64(_) => Type::I64,
            Scalar::I32(_) => Type::I32,
            Scalar::Bool(_) => Type::Bool,
        }
    }

    /// Reads the raw bits of a value of type `ty` as both backends hold it: f64 bits, f32
    /// bits in the low half, integers sign-extended, bool 0 or 1 (a pointer type, which no
    /// function returns, reads as a bool).
    pub fn from_bits(bits: u64, ty: Type) -> Scalar {
        match ty {
            Type::F64 => Scalar::F64(f64::from_bits(bits)),
            Type::F32 => Scalar::F32(f32::from_bits(bits as u32)),
            Type::I64 => Scalar::I64(bits as i64),
            Type::I32 => Scalar::I32(bits as i32),
            Type::Bool | Type::Ptr(_) => Scalar::Bool(bits != 0),
        }
    }
}

impl Scalar {
    /// The raw bits, the inverse of [`Scalar::from_bits`].
    pub fn to_bits(self) -> u64 {
        match self {
            Scalar::F64(x) => x.to_bits(),
            Scalar::F32(x) => x.to_bits() as u64,
            Scalar::I64(x) => x as u64,
            Scalar::I32(x) => x as i64 as u64,
            Scalar::Bool(x) => x as u64,
        }
    }
}
