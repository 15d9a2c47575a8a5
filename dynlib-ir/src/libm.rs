//! The C library's math functions: the one place both backends get them from.
//!
//! A `math` instruction means "call the process's libm function of that name"
//! ([`MathFn::name`]). "The process's" needs care: an executable can hold its own
//! definition of a name (Rust's compiler builtins provide `floor`, `ceil`, `trunc`,
//! `fmod`, ... as weak symbols, which the static linker prefers to the shared libm), while
//! a JIT that looked names up in the dynamic symbol table would find glibc's. The two can
//! differ (glibc's `floor` quiets a signaling NaN, the builtin returns it unchanged). So the
//! interpreter calls these declarations, and the LLVM backend binds every libm symbol its
//! code calls to the addresses in [`symbols`]: the very same functions, by construction.
//!
//! `sqrt`, `fabs` and `copysign` are single instructions in both backends and have no
//! entry here.

use crate::ir::MathFn;

// `atan2`, `pow` and `hypot` are public so the interpreter can call them directly (its
// two-argument operations); the rest are reached through `unary`.
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
    safe fn floor(x: f64) -> f64;
    safe fn ceil(x: f64) -> f64;
    safe fn trunc(x: f64) -> f64;
    safe fn roundeven(x: f64) -> f64;
    safe fn erf(x: f64) -> f64;
    safe fn erfc(x: f64) -> f64;
    pub safe fn atan2(y: f64, x: f64) -> f64;
    pub safe fn pow(x: f64, y: f64) -> f64;
    pub safe fn hypot(x: f64, y: f64) -> f64;
    safe fn fmod(x: f64, y: f64) -> f64;
}

// SAFETY: as above: the C99/glibc `float` versions, pure, defined on every input.
#[link(name = "m")]
unsafe extern "C" {
    safe fn sinf(x: f32) -> f32;
    safe fn cosf(x: f32) -> f32;
    safe fn tanf(x: f32) -> f32;
    safe fn asinf(x: f32) -> f32;
    safe fn acosf(x: f32) -> f32;
    safe fn atanf(x: f32) -> f32;
    safe fn sinhf(x: f32) -> f32;
    safe fn coshf(x: f32) -> f32;
    safe fn tanhf(x: f32) -> f32;
    safe fn asinhf(x: f32) -> f32;
    safe fn acoshf(x: f32) -> f32;
    safe fn atanhf(x: f32) -> f32;
    safe fn expf(x: f32) -> f32;
    safe fn expm1f(x: f32) -> f32;
    safe fn logf(x: f32) -> f32;
    safe fn log10f(x: f32) -> f32;
    safe fn log2f(x: f32) -> f32;
    safe fn log1pf(x: f32) -> f32;
    safe fn floorf(x: f32) -> f32;
    safe fn ceilf(x: f32) -> f32;
    safe fn truncf(x: f32) -> f32;
    safe fn roundevenf(x: f32) -> f32;
    safe fn erff(x: f32) -> f32;
    safe fn erfcf(x: f32) -> f32;
    pub safe fn atan2f(y: f32, x: f32) -> f32;
    pub safe fn powf(x: f32, y: f32) -> f32;
    pub safe fn hypotf(x: f32, y: f32) -> f32;
    safe fn fmodf(x: f32, y: f32) -> f32;
}

/// A one-argument libm function.
pub type Unary = extern "C" fn(f64) -> f64;

/// A one-argument float32 libm function (`sinf`).
pub type UnaryF32 = extern "C" fn(f32) -> f32;

/// A two-argument float32 libm function (`powf`).
pub type BinaryF32 = extern "C" fn(f32, f32) -> f32;

/// The float32 libm function of a one-argument [`MathFn`] (`sinf` for `sin`); `None` where
/// [`unary`] has none.
pub fn unary_f32(f: MathFn) -> Option<UnaryF32> {
    Some(match f {
        MathFn::Sin => sinf,
        MathFn::Cos => cosf,
        MathFn::Tan => tanf,
        MathFn::Asin => asinf,
        MathFn::Acos => acosf,
        MathFn::Atan => atanf,
        MathFn::Sinh => sinhf,
        MathFn::Cosh => coshf,
        MathFn::Tanh => tanhf,
        MathFn::Asinh => asinhf,
        MathFn::Acosh => acoshf,
        MathFn::Atanh => atanhf,
        MathFn::Exp => expf,
        MathFn::Expm1 => expm1f,
        MathFn::Log => logf,
        MathFn::Log10 => log10f,
        MathFn::Log2 => log2f,
        MathFn::Log1p => log1pf,
        MathFn::Floor => floorf,
        MathFn::Ceil => ceilf,
        MathFn::Trunc => truncf,
        MathFn::RoundEven => roundevenf,
        MathFn::Erf => erff,
        MathFn::Erfc => erfcf,
        _ => return None,
    })
}

/// The float32 libm function of a two-argument [`MathFn`]; `None` where [`binary`] has
/// none. `round(x, n)` has no C version: [`round_digits_f32`] rounds the float64 result.
pub fn binary_f32(f: MathFn) -> Option<BinaryF32> {
    Some(match f {
        MathFn::Atan2 => atan2f,
        MathFn::Pow => powf,
        MathFn::Hypot => hypotf,
        MathFn::RoundDigits => round_digits_f32,
        _ => return None,
    })
}

/// `round(x, ndigits)` of a float32: the float64 rounding of the exact float32 value,
/// rounded to float32 (the decimal result is not a float32 in general, so one more
/// rounding is unavoidable).
pub extern "C" fn round_digits_f32(x: f32, ndigits: f32) -> f32 {
    crate::semantics::round_digits(x as f64, ndigits as f64) as f32
}

/// The symbol of `f`'s float32 version: the C name with an `f` (`sinf`); the project's
/// own `dynlib_round_digits_f32` for `round(x, n)`.
pub fn name_f32(f: MathFn) -> String {
    match f {
        MathFn::RoundDigits => "dynlib_round_digits_f32".to_string(),
        _ => format!("{}f", f.name()),
    }
}

/// A two-argument libm function.
pub type Binary = extern "C" fn(f64, f64) -> f64;

/// The libm function of a one-argument [`MathFn`]; `None` for `sqrt` and `fabs` (single
/// instructions) and for the two-argument functions.
pub fn unary(f: MathFn) -> Option<Unary> {
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
        MathFn::Floor => floor,
        MathFn::Ceil => ceil,
        MathFn::Trunc => trunc,
        MathFn::RoundEven => roundeven,
        MathFn::Erf => erf,
        MathFn::Erfc => erfc,
        MathFn::Sqrt
        | MathFn::Fabs
        | MathFn::Atan2
        | MathFn::Pow
        | MathFn::Hypot
        | MathFn::Copysign
        | MathFn::RoundDigits => return None,
    })
}

/// The libm function of a two-argument [`MathFn`]; `None` for `copysign` (an instruction)
/// and the one-argument functions.
pub fn binary(f: MathFn) -> Option<Binary> {
    Some(match f {
        MathFn::Atan2 => atan2,
        MathFn::Pow => pow,
        MathFn::Hypot => hypot,
        MathFn::RoundDigits => round_digits,
        _ => return None,
    })
}

/// [`crate::semantics::round_digits`] with the C ABI, so compiled code calls the very
/// function the interpreter calls.
pub extern "C" fn round_digits(x: f64, ndigits: f64) -> f64 {
    crate::semantics::round_digits(x, ndigits)
}

/// The C library's `fmod`: what Rust's `%` and LLVM's `frem` on `f64` call.
pub fn fmod_fn() -> Binary {
    fmod
}

/// Every libm symbol compiled code may call, with the address of the function the
/// interpreter calls under that name: the [`MathFn`]s that are calls, in float64 (`sin`)
/// and float32 (`sinf`), and `fmod`/`fmodf` (LLVM lowers `frem` to them).
pub fn symbols() -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for &m in MathFn::ALL {
        if let Some(addr) = unary(m)
            .map(|f| f as usize)
            .or_else(|| binary(m).map(|f| f as usize))
        {
            out.push((m.name().to_string(), addr));
        }
        if let Some(addr) = unary_f32(m)
            .map(|f| f as usize)
            .or_else(|| binary_f32(m).map(|f| f as usize))
        {
            out.push((name_f32(m), addr));
        }
    }
    out.push(("fmod".to_string(), fmod as Binary as usize));
    out.push(("fmodf".to_string(), fmodf as BinaryF32 as usize));
    out
}
