//! The C library's math functions, called by their libm names.
//!
//! The LLVM backend calls the same symbols of the same libm, so a `math` instruction gives
//! the same bits in both backends (invariant 2). Rust's own `f64::sin` and friends are not
//! used for the inexact functions: they are free to go through LLVM intrinsics, which LLVM
//! may expand or constant-fold differently from the libm the process runs with.
//! `sqrt`, `fabs`, `floor`, `ceil`, `trunc` and `copysign` are exact IEEE operations, so
//! the standard library's versions (single instructions) give the same bits as libm.

use dynlib_ir::MathFn;

// SAFETY: these are the C99/glibc declarations of pure functions on `double` (`roundeven`
// is in glibc since 2.25; the project requires a newer glibc). They take and return plain
// `f64` by value, touch no memory we own, and have no preconditions: every input, NaN and
// infinities included, is defined (a domain error returns NaN and may set `errno`, which
// nobody reads). Declaring them `safe` is therefore sound.
#[link(name = "m")]
unsafe extern "C" {
    safe fn sin(x: f64) -> f64;
    safe fn cos(x: f64) -> f64;
    safe fn tan(x: f64) -> f64;
    safe fn asin(x: f64) -> f64;
    safe fn acos(x: f64) -> f64;
    safe fn atan(x: f64) -> f64;
    pub(crate) safe fn atan2(y: f64, x: f64) -> f64;
    safe fn sinh(x: f64) -> f64;
    safe fn cosh(x: f64) -> f64;
    safe fn tanh(x: f64) -> f64;
    safe fn asinh(x: f64) -> f64;
    safe fn acosh(x: f64) -> f64;
    safe fn atanh(x: f64) -> f64;
    safe fn exp(x: f64) -> f64;
    safe fn expm1(x: f64) -> f64;
    safe fn log(x: f64) -> f64;
    safe fn log10(x: f64) -> f64;
    safe fn log2(x: f64) -> f64;
    safe fn log1p(x: f64) -> f64;
    pub(crate) safe fn pow(x: f64, y: f64) -> f64;
    safe fn roundeven(x: f64) -> f64;
    pub(crate) safe fn hypot(x: f64, y: f64) -> f64;
    safe fn erf(x: f64) -> f64;
    safe fn erfc(x: f64) -> f64;
}

/// A one-argument libm function.
pub(crate) type Unary = extern "C" fn(f64) -> f64;

/// The libm implementation of a one-argument function; `None` for the two-argument ones
/// and for the exact operations the executor performs itself (`sqrt`, `fabs`, `floor`,
/// `ceil`, `trunc`).
pub(crate) fn unary(f: MathFn) -> Option<Unary> {
    Some(match f {
        MathFn::Sin => sin,
        MathFn::Cos => cos,
        MathFn::Tan => tan,
        MathFn::Asin => asin,
        MathFn::Acos => acos,
        MathFn::Atan => atan,
        MathFn::Sinh => sinh,
        MathFn::Cosh => cosh,
        MathFn::Tanh => tanh,
        MathFn::Asinh => asinh,
        MathFn::Acosh => acosh,
        MathFn::Atanh => atanh,
        MathFn::Exp => exp,
        MathFn::Expm1 => expm1,
        MathFn::Log => log,
        MathFn::Log10 => log10,
        MathFn::Log2 => log2,
        MathFn::Log1p => log1p,
        MathFn::RoundEven => roundeven,
        MathFn::Erf => erf,
        MathFn::Erfc => erfc,
        MathFn::Sqrt
        | MathFn::Fabs
        | MathFn::Floor
        | MathFn::Ceil
        | MathFn::Trunc
        | MathFn::Atan2
        | MathFn::Pow
        | MathFn::Hypot
        | MathFn::Copysign => return None,
    })
}
