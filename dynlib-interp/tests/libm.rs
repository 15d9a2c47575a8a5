//! libm parity: every math function the IR can call gives, in the interpreter, the same
//! bits as the C library function of the same name called directly (what LLVM-compiled
//! code calls), on a spread of inputs including 0, -0, infinities, NaNs, huge, tiny and
//! out-of-domain arguments. The exact operations are also checked against Rust's own.

mod common;

use common::*;
use dynlib_interp::Machine;
use dynlib_ir::{MathFn, Type};

// SAFETY: the C99 declarations of pure libm functions on doubles; every input is defined.
#[link(name = "m")]
unsafe extern "C" {
    safe fn sin(x: f64) -> f64;
    safe fn cos(x: f64) -> f64;
    safe fn tan(x: f64) -> f64;
    safe fn asin(x: f64) -> f64;
    safe fn acos(x: f64) -> f64;
    safe fn atan(x: f64) -> f64;
    safe fn atan2(y: f64, x: f64) -> f64;
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
    safe fn sqrt(x: f64) -> f64;
    safe fn pow(x: f64, y: f64) -> f64;
    safe fn fabs(x: f64) -> f64;
    safe fn floor(x: f64) -> f64;
    safe fn ceil(x: f64) -> f64;
    safe fn trunc(x: f64) -> f64;
    safe fn roundeven(x: f64) -> f64;
    safe fn hypot(x: f64, y: f64) -> f64;
    safe fn copysign(x: f64, y: f64) -> f64;
    safe fn erf(x: f64) -> f64;
    safe fn erfc(x: f64) -> f64;
}

/// The C library's function for `m` (exhaustive: a new [`MathFn`] fails to compile here).
fn c_libm(m: MathFn, a: f64, b: f64) -> f64 {
    match m {
        MathFn::Sin => sin(a),
        MathFn::Cos => cos(a),
        MathFn::Tan => tan(a),
        MathFn::Asin => asin(a),
        MathFn::Acos => acos(a),
        MathFn::Atan => atan(a),
        MathFn::Atan2 => atan2(a, b),
        MathFn::Sinh => sinh(a),
        MathFn::Cosh => cosh(a),
        MathFn::Tanh => tanh(a),
        MathFn::Asinh => asinh(a),
        MathFn::Acosh => acosh(a),
        MathFn::Atanh => atanh(a),
        MathFn::Exp => exp(a),
        MathFn::Expm1 => expm1(a),
        MathFn::Log => log(a),
        MathFn::Log10 => log10(a),
        MathFn::Log2 => log2(a),
        MathFn::Log1p => log1p(a),
        MathFn::Sqrt => sqrt(a),
        MathFn::Pow => pow(a, b),
        MathFn::Fabs => fabs(a),
        MathFn::Floor => floor(a),
        MathFn::Ceil => ceil(a),
        MathFn::Trunc => trunc(a),
        MathFn::RoundEven => roundeven(a),
        MathFn::Hypot => hypot(a, b),
        MathFn::Copysign => copysign(a, b),
        MathFn::Erf => erf(a),
        MathFn::Erfc => erfc(a),
        // Not a libm function: dynlib's own (the JIT calls it by address, like libm).
        MathFn::RoundDigits => dynlib_ir::semantics::round_digits(a, b),
    }
}

/// Rust's version of the exactly rounded (correctly defined) operations.
fn rust_exact(m: MathFn, a: f64, b: f64) -> Option<f64> {
    Some(match m {
        MathFn::Sqrt => a.sqrt(),
        MathFn::Fabs => a.abs(),
        MathFn::Floor => a.floor(),
        MathFn::Ceil => a.ceil(),
        MathFn::Trunc => a.trunc(),
        MathFn::RoundEven => a.round_ties_even(),
        MathFn::Copysign => a.copysign(b),
        _ => return None,
    })
}

/// Arguments for the one-argument functions: special values, domain edges of every
/// function, and a deterministic spread over all exponents of both signs.
fn unary_inputs() -> Vec<f64> {
    let mut xs = f64_samples();
    xs.extend([
        1.0 + f64::EPSILON,
        1.0 - f64::EPSILON / 2.0,
        -1.0 - f64::EPSILON,
        -1.0 + f64::EPSILON / 2.0,
        0.99999,
        -0.99999,
        709.782712893384,
        709.79,
        -745.13,
        -708.4,
        710.5,
        -1e-17,
        1e-17,
        1e22,
        -1e22,
        1e-310,
        3.0e-8,
        2.0f64.powi(52) + 0.5,
        0.5000000000000001,
        -0.49999999999999994,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::PI,
        std::f64::consts::TAU,
        26.5,
        -26.5,
        5.9,
        -5.9,
        1e10,
        -1e10,
        100.0,
        1000.0,
        -1000.0,
    ]);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..1500 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Spread the exponent over [-70, 70] binary orders and both signs, plus some raw
        // bit patterns (any exponent, NaNs included).
        let x = if rng.is_multiple_of(8) {
            f64::from_bits(rng)
        } else {
            let mant = (rng >> 11) as f64 / (1u64 << 53) as f64 + 0.5;
            let e = ((rng >> 3) % 141) as i32 - 70;
            let s = if rng & 4 == 0 { 1.0 } else { -1.0 };
            s * mant * 2f64.powi(e)
        };
        xs.push(x);
    }
    xs
}

/// Argument pairs for the two-argument functions.
fn binary_inputs() -> Vec<(f64, f64)> {
    let mut base: Vec<f64> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
        3.0,
        -3.0,
        1.0 / 3.0,
        -8.0,
        10.0,
        0.1,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
        f64::MAX,
        f64::from_bits(1),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0abc),
        1.0 + f64::EPSILON,
        1024.0,
        -1075.0,
        0.5000000000000001,
        1e15 + 0.5,
        2f64.powi(53),
        -2f64.powi(53) - 2.0,
        std::f64::consts::PI,
        -std::f64::consts::E,
    ];
    let extra: Vec<f64> = unary_inputs().into_iter().step_by(60).collect();
    base.extend(extra);
    let mut pairs = Vec::new();
    for &a in &base {
        for &b in &base {
            pairs.push((a, b));
        }
    }
    pairs
}

#[test]
fn every_math_function_matches_the_c_library_bit_for_bit() {
    let mut machine = Machine::new();
    let unary = unary_inputs();
    let binary = binary_inputs();
    let mut checked = 0usize;
    for &m in MathFn::ALL {
        let program = single(&vec![Type::F64; m.arity()], &[Type::F64], |b, p| {
            vec![b.math(m, p)]
        });
        let i = interp(&program);
        let cases: Vec<(f64, f64)> = if m.arity() == 1 {
            unary.iter().map(|&a| (a, 0.0)).collect()
        } else {
            binary.clone()
        };
        for (a, b) in cases {
            let args: Vec<u64> = [a, b][..m.arity()].iter().map(|x| x.to_bits()).collect();
            let got = call_bits(&i, &mut machine, &args)[0];
            let want = c_libm(m, a, b).to_bits();
            assert_eq!(
                got,
                want,
                "{}({a:?}{}) = {}, libm gives {}",
                m.name(),
                if m.arity() == 2 {
                    format!(", {b:?}")
                } else {
                    String::new()
                },
                show(Type::F64, got),
                show(Type::F64, want)
            );
            if let Some(r) = rust_exact(m, a, b) {
                // NaN payload propagation is the hardware's in both; compare values.
                let r = r.to_bits();
                assert!(
                    got == r || (f64::from_bits(got).is_nan() && f64::from_bits(r).is_nan()),
                    "{}({a:?}, {b:?}): interpreter {}, Rust {}",
                    m.name(),
                    show(Type::F64, got),
                    show(Type::F64, r)
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 30_000, "{checked} cases");
}

#[test]
fn math_edge_cases_by_hand() {
    let mut machine = Machine::new();
    let run = |m: MathFn, args: &[f64], machine: &mut Machine| -> f64 {
        let program = single(&vec![Type::F64; m.arity()], &[Type::F64], |b, p| {
            vec![b.math(m, p)]
        });
        let bits: Vec<u64> = args.iter().map(|x| x.to_bits()).collect();
        f64::from_bits(call_bits(&interp(&program), machine, &bits)[0])
    };
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    let cases: &[(MathFn, &[f64], f64)] = &[
        (MathFn::Sqrt, &[-1.0], f64::NAN),
        (MathFn::Sqrt, &[-0.0], -0.0),
        (MathFn::Sqrt, &[f64::INFINITY], f64::INFINITY),
        (MathFn::Log, &[0.0], f64::NEG_INFINITY),
        (MathFn::Log, &[-0.0], f64::NEG_INFINITY),
        (MathFn::Log, &[-1.0], f64::NAN),
        (MathFn::Log, &[1.0], 0.0),
        (MathFn::Log2, &[8.0], 3.0),
        (MathFn::Log10, &[1000.0], 3.0),
        (MathFn::Log1p, &[-1.0], f64::NEG_INFINITY),
        (MathFn::Log1p, &[-2.0], f64::NAN),
        (MathFn::Exp, &[f64::NEG_INFINITY], 0.0),
        (MathFn::Exp, &[710.0], f64::INFINITY),
        (MathFn::Expm1, &[-0.0], -0.0),
        (MathFn::Asin, &[2.0], f64::NAN),
        (MathFn::Acosh, &[0.5], f64::NAN),
        (MathFn::Atanh, &[1.0], f64::INFINITY),
        (MathFn::Atanh, &[-1.0], f64::NEG_INFINITY),
        (MathFn::Sin, &[-0.0], -0.0),
        (MathFn::Sin, &[f64::INFINITY], f64::NAN),
        (MathFn::Tanh, &[f64::NEG_INFINITY], -1.0),
        (MathFn::Atan2, &[0.0, -0.0], std::f64::consts::PI),
        (MathFn::Atan2, &[-0.0, -0.0], -std::f64::consts::PI),
        (MathFn::Atan2, &[-0.0, 0.0], -0.0),
        (MathFn::Pow, &[f64::NAN, 0.0], 1.0),
        (MathFn::Pow, &[1.0, f64::NAN], 1.0),
        (MathFn::Pow, &[-8.0, 1.0 / 3.0], f64::NAN),
        (MathFn::Pow, &[0.0, -1.0], f64::INFINITY),
        (MathFn::Pow, &[-0.0, -1.0], f64::NEG_INFINITY),
        (MathFn::Pow, &[-2.0, 3.0], -8.0),
        (MathFn::Hypot, &[f64::INFINITY, f64::NAN], f64::INFINITY),
        (MathFn::Hypot, &[3.0, -4.0], 5.0),
        (MathFn::Copysign, &[3.0, -0.0], -3.0),
        (MathFn::Copysign, &[-3.0, f64::NAN], 3.0),
        (MathFn::Fabs, &[-0.0], 0.0),
        (MathFn::Floor, &[-0.5], -1.0),
        (MathFn::Floor, &[-0.0], -0.0),
        (MathFn::Ceil, &[-0.5], -0.0),
        (MathFn::Trunc, &[-2.7], -2.0),
        (MathFn::RoundEven, &[0.5], 0.0),
        (MathFn::RoundEven, &[1.5], 2.0),
        (MathFn::RoundEven, &[2.5], 2.0),
        (MathFn::RoundEven, &[-2.5], -2.0),
        (MathFn::RoundEven, &[-0.4], -0.0),
        (MathFn::RoundEven, &[4503599627370497.0], 4503599627370497.0),
        (MathFn::Erf, &[f64::INFINITY], 1.0),
        (MathFn::Erf, &[-0.0], -0.0),
        (MathFn::Erfc, &[f64::NEG_INFINITY], 2.0),
        (MathFn::Erfc, &[f64::INFINITY], 0.0),
    ];
    for &(m, args, want) in cases {
        let got = run(m, args, &mut machine);
        assert!(
            same(got, want),
            "{}{args:?} = {got:?}, want {want:?}",
            m.name()
        );
    }
}

#[test]
fn one_function_calling_many_math_functions_keeps_them_apart() {
    // All one-argument functions in one function (the decoder shares a table of function
    // pointers per function): each result must come from its own function.
    let ones: Vec<MathFn> = MathFn::ALL
        .iter()
        .copied()
        .filter(|m| m.arity() == 1)
        .collect();
    let program = single(&[Type::F64], &vec![Type::F64; ones.len() * 2], |b, p| {
        let mut out = Vec::new();
        for &m in &ones {
            out.push(b.math(m, &[p[0]]));
        }
        // And again, in reverse order, on another argument.
        let half = b.f64(0.5);
        let y = b.mul(p[0], half);
        for &m in ones.iter().rev() {
            out.push(b.math(m, &[y]));
        }
        out
    });
    let i = interp(&program);
    let mut machine = Machine::new();
    for x in [0.3, -0.7, 1.7, 42.0] {
        let got = call_bits(&i, &mut machine, &[f64::to_bits(x)]);
        let mut want: Vec<u64> = ones.iter().map(|&m| c_libm(m, x, 0.0).to_bits()).collect();
        want.extend(
            ones.iter()
                .rev()
                .map(|&m| c_libm(m, x * 0.5, 0.0).to_bits()),
        );
        assert_eq!(got, want, "x = {x}");
    }
}
