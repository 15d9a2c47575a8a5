//! Every instruction kind of the IR, executed by the interpreter and compared bit for bit
//! (`to_bits`) with the reference semantics ([`dynlib_ir::semantics`], Rust's IEEE
//! arithmetic) or with values computed by hand (CPython for `//` and `%`).

mod common;

use common::*;
use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::semantics;
use dynlib_ir::{BinaryOp, CmpOp, Elem, FuncId, Function, FunctionBuilder, Program, Signature};
use dynlib_ir::{Type, UnaryOp};

const FLOATS: [Type; 2] = [Type::F64, Type::F32];
const INTS: [Type; 2] = [Type::I64, Type::I32];
const NUMBERS: [Type; 4] = [Type::F64, Type::F32, Type::I64, Type::I32];

fn f64b(b: u64) -> f64 {
    f64::from_bits(b)
}
fn f32b(b: u64) -> f32 {
    f32::from_bits(b as u32)
}

/// The reference result of `op` on operands of type `ty`, as register bits.
fn reference_binary(op: BinaryOp, ty: Type, a: u64, b: u64) -> u64 {
    use BinaryOp::*;
    match ty {
        Type::F64 => {
            let (x, y) = (f64b(a), f64b(b));
            match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv => semantics::floordiv_f64(x, y),
                Mod => semantics::mod_f64(x, y),
                And | Or => unreachable!(),
            }
            .to_bits()
        }
        // f32 `//` and `%`: widened exactly to f64, the f64 rule, rounded once (the
        // interpreter's documented rule; semantics.rs has no f32 version).
        Type::F32 => {
            let (x, y) = (f32b(a), f32b(b));
            let r = match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv => semantics::floordiv_f64(x as f64, y as f64) as f32,
                Mod => semantics::mod_f64(x as f64, y as f64) as f32,
                And | Or => unreachable!(),
            };
            r.to_bits() as u64
        }
        Type::I64 => {
            let (x, y) = (a as i64, b as i64);
            (match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i64(x, y),
                Mod => semantics::mod_i64(x, y),
                Div | And | Or => unreachable!(),
            }) as u64
        }
        Type::I32 => {
            let (x, y) = (a as i32, b as i32);
            (match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i32(x, y),
                Mod => semantics::mod_i32(x, y),
                Div | And | Or => unreachable!(),
            }) as i64 as u64
        }
        Type::Bool => match op {
            And => ((a != 0) && (b != 0)) as u64,
            Or => ((a != 0) || (b != 0)) as u64,
            _ => unreachable!(),
        },
        Type::Ptr(_) => unreachable!(),
    }
}

/// The binary operators defined on `ty`.
fn binary_ops(ty: Type) -> Vec<BinaryOp> {
    use BinaryOp::*;
    match ty {
        Type::F64 | Type::F32 => vec![Add, Sub, Mul, Div, FloorDiv, Mod],
        Type::I64 | Type::I32 => vec![Add, Sub, Mul, FloorDiv, Mod],
        Type::Bool => vec![And, Or],
        Type::Ptr(_) => vec![],
    }
}

/// `@f(a: ty, b: ty) -> (ty) { return op a, b }`.
fn binary_program(op: BinaryOp, ty: Type) -> Program {
    single(&[ty, ty], &[ty], |b, p| vec![b.binary(op, p[0], p[1])])
}

#[test]
fn every_binary_operator_on_every_type_matches_the_reference() {
    let mut machine = Machine::new();
    let mut checked = 0;
    for ty in common::SCALARS {
        let xs = samples(ty);
        for op in binary_ops(ty) {
            let interp = interp(&binary_program(op, ty));
            for &a in &xs {
                for &b in &xs {
                    let got = call_bits(&interp, &mut machine, &[a, b])[0];
                    let want = reference_binary(op, ty, a, b);
                    assert_eq!(
                        got,
                        want,
                        "{op:?} {ty}: {} , {} gave {}, want {}",
                        show(ty, a),
                        show(ty, b),
                        show(ty, got),
                        show(ty, want)
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 20_000, "{checked} cases");
}

/// `(a, b, a // b, a % b)` as computed by CPython 3 (`float.__floordiv__`, `__mod__`);
/// division by zero, where Python raises, is semantics.rs's choice: `a / b` and NaN.
const PY_FLOAT_FLOORDIV_MOD: &[(f64, f64, f64, f64)] = &[
    (-7.0, 2.0, -4.0, 1.0),
    (7.0, -2.0, -4.0, -1.0),
    (-7.0, -2.0, 3.0, -1.0),
    (7.0, 2.0, 3.0, 1.0),
    (-7.5, 2.0, -4.0, 0.5),
    (7.5, -2.0, -4.0, -0.5),
    (0.0, -3.0, -0.0, -0.0),
    (-0.0, 3.0, -0.0, 0.0),
    (-0.0, -3.0, 0.0, -0.0),
    (5.0, f64::INFINITY, 0.0, 5.0),
    (-5.0, f64::INFINITY, -1.0, f64::INFINITY),
    (5.0, f64::NEG_INFINITY, -1.0, f64::NEG_INFINITY),
    (-5.0, f64::NEG_INFINITY, 0.0, -5.0),
    (f64::INFINITY, 2.0, f64::NAN, f64::NAN),
    (f64::NEG_INFINITY, 2.0, f64::NAN, f64::NAN),
    (f64::NAN, 1.0, f64::NAN, f64::NAN),
    (1.0, f64::NAN, f64::NAN, f64::NAN),
    (1e300, 1e-300, f64::INFINITY, 4.891554850853602e-301),
    (-1e-300, 1e300, -1.0, 1e300),
    (0.1, 0.01, 10.0, 3.469446951953614e-18),
    (-0.1, 0.03, -4.0, 0.01999999999999999),
    (3.0, 1.5, 2.0, 0.0),
    (-3.0, 1.5, -2.0, 0.0),
    (1.0000000000000002e16, 3.0, 3333333333333334.0, 0.0),
    (-9007199254740992.0, 7.0, -1286742750677285.0, 3.0),
    // Division by zero (Python raises ZeroDivisionError).
    (1.0, 0.0, f64::INFINITY, f64::NAN),
    (-1.0, 0.0, f64::NEG_INFINITY, f64::NAN),
    (-1.0, -0.0, f64::INFINITY, f64::NAN),
    (0.0, 0.0, f64::NAN, f64::NAN),
];

/// `(a, b, a // b, a % b)` from CPython, wrapped to 64 bits (`i64::MIN // -1`); division
/// by zero gives 0 (semantics.rs).
const PY_INT_FLOORDIV_MOD: &[(i64, i64, i64, i64)] = &[
    (-7, 2, -4, 1),
    (7, -2, -4, -1),
    (-7, -2, 3, -1),
    (7, 2, 3, 1),
    (-1, 3, -1, 2),
    (1, -3, -1, -2),
    (0, -5, 0, 0),
    (-9, 3, -3, 0),
    (9, -3, -3, 0),
    (i64::MIN, -1, i64::MIN, 0),
    (i64::MIN, 1, i64::MIN, 0),
    (i64::MIN, 3, -3074457345618258603, 1),
    (i64::MAX, -2, -4611686018427387904, -1),
    (i64::MIN, i64::MAX, -2, 9223372036854775806),
    (7, 0, 0, 0),
    (-7, 0, 0, 0),
    (0, 0, 0, 0),
];

fn same_float(got: f64, want: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

#[test]
fn float_floor_division_and_modulo_are_pythons() {
    let mut machine = Machine::new();
    let fd = interp(&binary_program(BinaryOp::FloorDiv, Type::F64));
    let md = interp(&binary_program(BinaryOp::Mod, Type::F64));
    let fd32 = interp(&binary_program(BinaryOp::FloorDiv, Type::F32));
    let md32 = interp(&binary_program(BinaryOp::Mod, Type::F32));
    for &(a, b, q, r) in PY_FLOAT_FLOORDIV_MOD {
        let args = [a.to_bits(), b.to_bits()];
        let got_q = f64b(call_bits(&fd, &mut machine, &args)[0]);
        let got_r = f64b(call_bits(&md, &mut machine, &args)[0]);
        assert!(
            same_float(got_q, q),
            "{a:?} // {b:?} = {got_q:?}, want {q:?}"
        );
        assert!(
            same_float(got_r, r),
            "{a:?} % {b:?} = {got_r:?}, want {r:?}"
        );
        // f32, where the operands are f32 values (the rule is the same).
        if (a as f32) as f64 == a && (b as f32) as f64 == b || a.is_nan() || b.is_nan() {
            let args = [(a as f32).to_bits() as u64, (b as f32).to_bits() as u64];
            let got_q = f32b(call_bits(&fd32, &mut machine, &args)[0]) as f64;
            let got_r = f32b(call_bits(&md32, &mut machine, &args)[0]) as f64;
            let (q, r) = (q as f32 as f64, r as f32 as f64);
            assert!(same_float(got_q, q), "f32 {a:?} // {b:?} = {got_q:?}");
            assert!(same_float(got_r, r), "f32 {a:?} % {b:?} = {got_r:?}");
        }
    }
}

#[test]
fn integer_floor_division_and_modulo_are_pythons() {
    let mut machine = Machine::new();
    let programs: Vec<(Type, Interpreter, Interpreter)> = INTS
        .iter()
        .map(|&ty| {
            (
                ty,
                interp(&binary_program(BinaryOp::FloorDiv, ty)),
                interp(&binary_program(BinaryOp::Mod, ty)),
            )
        })
        .collect();
    for &(a, b, q, r) in PY_INT_FLOORDIV_MOD {
        for (ty, fd, md) in &programs {
            if *ty == Type::I32 {
                // Only cases inside i32 (the table's wrap cases are i64 specific).
                let fits = |x: i64| x as i32 as i64 == x;
                if !(fits(a) && fits(b) && fits(q) && fits(r)) {
                    continue;
                }
            }
            let args = [a as u64, b as u64];
            let got_q = call_bits(fd, &mut machine, &args)[0] as i64;
            let got_r = call_bits(md, &mut machine, &args)[0] as i64;
            assert_eq!(got_q, q, "{ty}: {a} // {b}");
            assert_eq!(got_r, r, "{ty}: {a} % {b}");
        }
    }
    // The i32 wrap case: i32::MIN // -1 wraps to i32::MIN, remainder 0.
    let args = [i32::MIN as i64 as u64, (-1i64) as u64];
    let (_, fd, md) = &programs[1];
    assert_eq!(
        call_bits(fd, &mut machine, &args)[0] as i64,
        i32::MIN as i64
    );
    assert_eq!(call_bits(md, &mut machine, &args)[0], 0);
}

#[test]
fn integer_arithmetic_wraps_and_stays_sign_extended() {
    let mut machine = Machine::new();
    let add = interp(&binary_program(BinaryOp::Add, Type::I32));
    let mul = interp(&binary_program(BinaryOp::Mul, Type::I32));
    let sub = interp(&binary_program(BinaryOp::Sub, Type::I64));
    let m = (i32::MAX as i64) as u64;
    // i32::MAX + 1 wraps to i32::MIN, held sign-extended.
    assert_eq!(
        call_bits(&add, &mut machine, &[m, 1])[0],
        i32::MIN as i64 as u64
    );
    assert_eq!(
        call_bits(&mul, &mut machine, &[65536, 65536])[0],
        0,
        "2^16 * 2^16 wraps to 0 in i32"
    );
    assert_eq!(
        call_bits(&sub, &mut machine, &[i64::MIN as u64, 1])[0],
        i64::MAX as u64
    );
    // An i32 result fed to an i32 comparison with a negative number: only right when the
    // register holds the sign-extended value.
    let p = single(&[Type::I32, Type::I32], &[Type::Bool, Type::I64], |b, p| {
        let s = b.add(p[0], p[1]);
        let zero = b.i32(0);
        let neg = b.cmp(CmpOp::Lt, s, zero);
        let wide = b.convert(s, Type::I64);
        vec![neg, wide]
    });
    let i = interp(&p);
    let out = call_bits(&i, &mut machine, &[m, 1]);
    assert_eq!(out, vec![1, i32::MIN as i64 as u64]);
}

#[test]
fn unary_operators_match_the_reference() {
    let mut machine = Machine::new();
    for ty in NUMBERS {
        let i = interp(&single(&[ty], &[ty], |b, p| vec![b.neg(p[0])]));
        for a in samples(ty) {
            let got = call_bits(&i, &mut machine, &[a])[0];
            let want = match ty {
                Type::F64 => (-f64b(a)).to_bits(),
                Type::F32 => (-f32b(a)).to_bits() as u64,
                Type::I64 => (a as i64).wrapping_neg() as u64,
                Type::I32 => (a as i32).wrapping_neg() as i64 as u64,
                _ => unreachable!(),
            };
            assert_eq!(got, want, "neg {ty} {}", show(ty, a));
        }
    }
    // neg flips the sign bit only, NaN payloads included.
    let i = interp(&single(
        &[Type::F64],
        &[Type::F64],
        |b, p| vec![b.neg(p[0])],
    ));
    for bits in [
        0u64,
        0x8000_0000_0000_0000,
        0x7ff8_0000_0000_0abc,
        0xfff0_0000_0000_0001,
    ] {
        assert_eq!(
            call_bits(&i, &mut machine, &[bits])[0],
            bits ^ (1 << 63),
            "neg 0x{bits:x}"
        );
    }
    let i = interp(&single(
        &[Type::F32],
        &[Type::F32],
        |b, p| vec![b.neg(p[0])],
    ));
    for bits in [0u64, 0x8000_0000, 0x7fc0_0123, 0x7f80_0001] {
        assert_eq!(call_bits(&i, &mut machine, &[bits])[0], bits ^ (1 << 31));
    }
    let i = interp(&single(
        &[Type::I64],
        &[Type::I64],
        |b, p| vec![b.neg(p[0])],
    ));
    assert_eq!(
        call_bits(&i, &mut machine, &[i64::MIN as u64])[0],
        i64::MIN as u64
    );
    let i = interp(&single(
        &[Type::I32],
        &[Type::I32],
        |b, p| vec![b.neg(p[0])],
    ));
    assert_eq!(
        call_bits(&i, &mut machine, &[i32::MIN as i64 as u64])[0],
        i32::MIN as i64 as u64
    );
    let i = interp(&single(&[Type::Bool], &[Type::Bool], |b, p| {
        vec![b.unary(UnaryOp::Not, p[0])]
    }));
    assert_eq!(call_bits(&i, &mut machine, &[0])[0], 1);
    assert_eq!(call_bits(&i, &mut machine, &[1])[0], 0);
}

fn reference_cmp(op: CmpOp, ty: Type, a: u64, b: u64) -> bool {
    fn c<T: PartialOrd>(op: CmpOp, x: T, y: T) -> bool {
        match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
        }
    }
    match ty {
        Type::F64 => c(op, f64b(a), f64b(b)),
        Type::F32 => c(op, f32b(a), f32b(b)),
        Type::I64 => c(op, a as i64, b as i64),
        Type::I32 => c(op, a as i32, b as i32),
        Type::Bool => c(op, a != 0, b != 0),
        Type::Ptr(_) => unreachable!(),
    }
}

const CMPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
];

#[test]
fn every_comparison_on_every_type_matches_the_reference() {
    let mut machine = Machine::new();
    for ty in common::SCALARS {
        let xs = samples(ty);
        for op in CMPS {
            let i = interp(&single(&[ty, ty], &[Type::Bool], |b, p| {
                vec![b.cmp(op, p[0], p[1])]
            }));
            for &a in &xs {
                for &b in &xs {
                    let got = call_bits(&i, &mut machine, &[a, b])[0];
                    let want = reference_cmp(op, ty, a, b) as u64;
                    assert_eq!(got, want, "{op:?} {ty} {} {}", show(ty, a), show(ty, b));
                }
            }
        }
    }
}

#[test]
fn comparisons_with_nan_are_false_except_ne() {
    let mut machine = Machine::new();
    for ty in FLOATS {
        let nan = if ty == Type::F64 {
            f64::NAN.to_bits()
        } else {
            f32::NAN.to_bits() as u64
        };
        let one = if ty == Type::F64 {
            1f64.to_bits()
        } else {
            1f32.to_bits() as u64
        };
        for op in CMPS {
            let i = interp(&single(&[ty, ty], &[Type::Bool], |b, p| {
                vec![b.cmp(op, p[0], p[1])]
            }));
            for args in [[nan, one], [one, nan], [nan, nan]] {
                let got = call_bits(&i, &mut machine, &args)[0];
                assert_eq!(got, (op == CmpOp::Ne) as u64, "{op:?} {ty} with NaN");
            }
        }
    }
    // -0.0 == 0.0, and bools order false < true.
    let i = interp(&single(&[Type::F64, Type::F64], &[Type::Bool], |b, p| {
        vec![b.cmp(CmpOp::Eq, p[0], p[1])]
    }));
    assert_eq!(call_bits(&i, &mut machine, &[0, (-0.0f64).to_bits()])[0], 1);
    let i = interp(&single(&[Type::Bool, Type::Bool], &[Type::Bool], |b, p| {
        vec![b.cmp(CmpOp::Lt, p[0], p[1])]
    }));
    assert_eq!(call_bits(&i, &mut machine, &[0, 1])[0], 1);
    assert_eq!(call_bits(&i, &mut machine, &[1, 0])[0], 0);
}

#[test]
fn select_picks_an_arm_on_every_type() {
    let mut machine = Machine::new();
    for ty in common::SCALARS {
        let i = interp(&single(&[Type::Bool, ty, ty], &[ty], |b, p| {
            vec![b.select(p[0], p[1], p[2])]
        }));
        let xs = samples(ty);
        for w in xs.windows(2) {
            let (x, y) = (w[0], w[1]);
            assert_eq!(call_bits(&i, &mut machine, &[1, x, y])[0], x, "{ty}");
            assert_eq!(call_bits(&i, &mut machine, &[0, x, y])[0], y, "{ty}");
        }
    }
    // A select between constants, and a select of the same value twice.
    let i = interp(&single(&[Type::Bool], &[Type::F64, Type::F64], |b, p| {
        let (x, y) = (b.f64(-0.0), b.f64(0.0));
        let s = b.select(p[0], x, y);
        let t = b.select(p[0], y, y);
        vec![s, t]
    }));
    assert_eq!(
        call_bits(&i, &mut machine, &[1]),
        vec![(-0.0f64).to_bits(), 0]
    );
    assert_eq!(call_bits(&i, &mut machine, &[0]), vec![0, 0]);
}

#[test]
fn select_between_pointers_picks_the_array() {
    let pf = Type::Ptr(Elem::F64);
    let p = single(&[Type::Bool, pf, pf], &[Type::F64], |b, p| {
        let arr = b.select(p[0], p[1], p[2]);
        let one = b.i64(1);
        let x = b.load(arr, one);
        let k = b.f64(10.0);
        let y = b.mul(x, k);
        let two = b.i64(2);
        b.store(arr, two, y);
        vec![x]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    let (mut a, mut c) = ([1.0, 2.0, 0.0], [3.0, 4.0, 0.0]);
    let out = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::Bool(false), Arg::PtrF64(&mut a), Arg::PtrF64(&mut c)],
        )
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(4.0)]);
    assert_eq!((a, c), ([1.0, 2.0, 0.0], [3.0, 4.0, 40.0]));
    let out = i
        .call(
            &mut m,
            FuncId(0),
            &mut [Arg::Bool(true), Arg::PtrF64(&mut a), Arg::PtrF64(&mut c)],
        )
        .unwrap();
    assert_eq!(out, vec![Scalar::F64(2.0)]);
    assert_eq!(a, [1.0, 2.0, 20.0]);
}

#[test]
fn every_conversion_matches_semantics_convert() {
    let mut machine = Machine::new();
    let mut pairs = 0;
    for from in common::SCALARS {
        for to in common::SCALARS {
            if from == to {
                continue;
            }
            pairs += 1;
            let i = interp(&single(&[from], &[to], |b, p| vec![b.convert(p[0], to)]));
            for a in samples(from) {
                let got = call_bits(&i, &mut machine, &[a])[0];
                let want = semantics::convert(a, from, to);
                assert_eq!(
                    got,
                    want,
                    "{from} -> {to}: {} gave {}, want {}",
                    show(from, a),
                    show(to, got),
                    show(to, want)
                );
            }
        }
    }
    assert_eq!(pairs, 20);
}

/// Runs the conversion `from -> to` on one value.
fn convert1(from: Type, to: Type, a: u64) -> u64 {
    let i = interp(&single(&[from], &[to], |b, p| vec![b.convert(p[0], to)]));
    call_bits(&i, &mut Machine::new(), &[a])[0]
}

#[test]
fn float_to_int_truncates_and_saturates() {
    let f = |x: f64| x.to_bits();
    let cases_i64: &[(f64, i64)] = &[
        (2.7, 2),
        (-2.7, -2),
        (-0.0, 0),
        (0.5, 0),
        (-0.99, 0),
        (f64::NAN, 0),
        (-f64::NAN, 0),
        (f64::INFINITY, i64::MAX),
        (f64::NEG_INFINITY, i64::MIN),
        (1e300, i64::MAX),
        (-1e300, i64::MIN),
        (9.223_372_036_854_776e18, i64::MAX),  // 2^63 saturates
        (-9.223_372_036_854_776e18, i64::MIN), // -2^63 is exact
        (9007199254740993.0, 9007199254740992),
        (4503599627370495.5, 4503599627370495),
    ];
    for &(x, want) in cases_i64 {
        assert_eq!(
            convert1(Type::F64, Type::I64, f(x)) as i64,
            want,
            "{x:?} -> i64"
        );
        if (x as f32) as f64 == x || x.is_nan() || x.is_infinite() {
            let b = (x as f32).to_bits() as u64;
            assert_eq!(
                convert1(Type::F32, Type::I64, b) as i64,
                want,
                "{x:?}f32 -> i64"
            );
        }
    }
    let cases_i32: &[(f64, i32)] = &[
        (2.7, 2),
        (-2.7, -2),
        (f64::NAN, 0),
        (f64::INFINITY, i32::MAX),
        (f64::NEG_INFINITY, i32::MIN),
        (3e9, i32::MAX),
        (-3e9, i32::MIN),
        (2147483647.9, i32::MAX),
        (-2147483648.9, i32::MIN),
        (2147483648.0, i32::MAX),
    ];
    for &(x, want) in cases_i32 {
        let got = convert1(Type::F64, Type::I32, f(x));
        assert_eq!(got, want as i64 as u64, "{x:?} -> i32 (sign-extended)");
        let b = (x as f32).to_bits() as u64;
        let want32 = (x as f32) as i32;
        assert_eq!(convert1(Type::F32, Type::I32, b), want32 as i64 as u64);
    }
}

#[test]
fn int_to_float_and_narrowing_round_to_nearest_even() {
    let i = |x: i64| x as u64;
    // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: even wins.
    assert_eq!(
        f64b(convert1(Type::I64, Type::F64, i((1 << 53) + 1))),
        9007199254740992.0
    );
    assert_eq!(
        f64b(convert1(Type::I64, Type::F64, i((1 << 53) + 3))),
        9007199254740996.0
    );
    assert_eq!(
        f64b(convert1(Type::I64, Type::F64, i(i64::MAX))),
        9.223_372_036_854_776e18
    );
    // i64 -> f32 rounds once (not via f64): 2^24 + 1 -> 2^24.
    assert_eq!(
        f32b(convert1(Type::I64, Type::F32, i((1 << 24) + 1))),
        16777216.0
    );
    // A value where rounding through f64 first would differ: 2^60 + 2^36 + 1.
    let x: i64 = (1 << 60) + (1 << 36) + 1;
    assert_eq!(
        convert1(Type::I64, Type::F32, i(x)),
        (x as f32).to_bits() as u64
    );
    assert_eq!(
        f32b(convert1(Type::I32, Type::F32, i(16777217))),
        16777216.0
    );
    assert_eq!(
        f64b(convert1(Type::I32, Type::F64, i(i32::MIN as i64))),
        -2147483648.0
    );
    // f64 -> f32: overflow to infinity, underflow to (signed) zero, ties to even.
    assert_eq!(
        f32b(convert1(Type::F64, Type::F32, 1e300f64.to_bits())),
        f32::INFINITY
    );
    assert_eq!(
        convert1(Type::F64, Type::F32, (-1e-300f64).to_bits()),
        (-0.0f32).to_bits() as u64
    );
    let tie = 1.0 + f64::powi(2.0, -24); // halfway between 1 and the next f32
    assert_eq!(f32b(convert1(Type::F64, Type::F32, tie.to_bits())), 1.0);
    assert!(f32b(convert1(Type::F64, Type::F32, f64::NAN.to_bits())).is_nan());
    // f32 -> f64 is exact.
    assert_eq!(
        f64b(convert1(Type::F32, Type::F64, 0.1f32.to_bits() as u64)),
        0.1f32 as f64
    );
}

#[test]
fn conversions_between_ints_and_bools() {
    let i = |x: i64| x as u64;
    // i64 -> i32 wraps and sign-extends.
    assert_eq!(convert1(Type::I64, Type::I32, i((1 << 32) + 5)), 5);
    assert_eq!(convert1(Type::I64, Type::I32, i(-1)), i(-1));
    assert_eq!(convert1(Type::I64, Type::I32, i(i64::MIN)), 0);
    assert_eq!(
        convert1(Type::I64, Type::I32, i(0x8000_0000)),
        i(i32::MIN as i64)
    );
    // i32 -> i64 keeps the value.
    assert_eq!(convert1(Type::I32, Type::I64, i(-7)), i(-7));
    // number -> bool is `!= 0`: NaN is true, -0.0 is false.
    assert_eq!(convert1(Type::F64, Type::Bool, f64::NAN.to_bits()), 1);
    assert_eq!(convert1(Type::F64, Type::Bool, (-0.0f64).to_bits()), 0);
    assert_eq!(
        convert1(Type::F32, Type::Bool, (-0.0f32).to_bits() as u64),
        0
    );
    assert_eq!(
        convert1(Type::F32, Type::Bool, f32::MIN_POSITIVE.to_bits() as u64),
        1
    );
    assert_eq!(convert1(Type::I64, Type::Bool, i(i64::MIN)), 1);
    assert_eq!(convert1(Type::I32, Type::Bool, i(-1)), 1);
    assert_eq!(convert1(Type::I32, Type::Bool, 0), 0);
    // bool -> number is 0 or 1.
    assert_eq!(f64b(convert1(Type::Bool, Type::F64, 1)), 1.0);
    assert_eq!(f32b(convert1(Type::Bool, Type::F32, 1)), 1.0);
    assert_eq!(convert1(Type::Bool, Type::I64, 1), 1);
    assert_eq!(convert1(Type::Bool, Type::I32, 1), 1);
    assert_eq!(convert1(Type::Bool, Type::F64, 0), 0);
}

#[test]
fn constants_of_every_type_keep_their_bits() {
    let f64s = [
        0.0,
        -0.0,
        f64::from_bits(0x7ff8_0000_0000_0abc),
        f64::from_bits(0xfff0_0000_0000_0001),
        f64::from_bits(1),
        f64::NEG_INFINITY,
        1.0 / 3.0,
    ];
    let f32s = [-0.0f32, f32::from_bits(0x7fc0_0123), f32::from_bits(1), 0.1];
    let i64s = [i64::MIN, -1, 0, i64::MAX];
    let i32s = [i32::MIN, -1, i32::MAX];
    let mut returns = Vec::new();
    returns.extend(f64s.iter().map(|_| Type::F64));
    returns.extend(f32s.iter().map(|_| Type::F32));
    returns.extend(i64s.iter().map(|_| Type::I64));
    returns.extend(i32s.iter().map(|_| Type::I32));
    returns.extend([Type::Bool, Type::Bool]);
    let p = single(&[], &returns, |b, _| {
        let mut out = Vec::new();
        out.extend(f64s.iter().map(|&x| b.f64(x)));
        out.extend(f32s.iter().map(|&x| b.f32(x)));
        out.extend(i64s.iter().map(|&x| b.i64(x)));
        out.extend(i32s.iter().map(|&x| b.i32(x)));
        out.push(b.bool(true));
        out.push(b.bool(false));
        out
    });
    let got = call_bits(&interp(&p), &mut Machine::new(), &[]);
    let mut want: Vec<u64> = Vec::new();
    want.extend(f64s.iter().map(|x| x.to_bits()));
    want.extend(f32s.iter().map(|x| x.to_bits() as u64));
    want.extend(i64s.iter().map(|&x| x as u64));
    want.extend(i32s.iter().map(|&x| x as i64 as u64));
    want.extend([1, 0]);
    assert_eq!(got, want);
}

#[test]
fn scalar_arguments_and_results_cross_the_boundary_exactly() {
    // The identity on every type: what goes in comes out, bit for bit.
    let mut machine = Machine::new();
    for ty in common::SCALARS {
        let i = interp(&single(&[ty], &[ty], |_, p| vec![p[0]]));
        for a in samples(ty) {
            assert_eq!(call_bits(&i, &mut machine, &[a]), vec![a], "{ty}");
        }
    }
}

/// `@f(p: ptr<e>, i: i64, v: e) -> (e, e)`: `old = p[i]; p[i] = v; return (old, p[2])`
/// (the second load has a constant index).
fn load_store_program(e: Elem) -> Program {
    single(
        &[Type::Ptr(e), Type::I64, e.ty()],
        &[e.ty(), e.ty()],
        |b, p| {
            let old = b.load(p[0], p[1]);
            b.store(p[0], p[1], p[2]);
            let two = b.i64(2);
            let at2 = b.load(p[0], two);
            vec![old, at2]
        },
    )
}

#[test]
fn loads_and_stores_on_every_element_type() {
    let mut m = Machine::new();
    let f = FuncId(0);

    let i = interp(&load_store_program(Elem::F64));
    let mut a = [1.5, -0.0, f64::from_bits(0x7ff8_0000_0000_0abc), 4.0];
    let out = i
        .call(
            &mut m,
            f,
            &mut [Arg::PtrF64(&mut a), Arg::I64(2), Arg::F64(-2.5)],
        )
        .unwrap();
    assert_eq!(out[0].to_bits(), 0x7ff8_0000_0000_0abc);
    assert_eq!(out[1], Scalar::F64(-2.5));
    assert_eq!(a, [1.5, -0.0, -2.5, 4.0]);
    let out = i
        .call(
            &mut m,
            f,
            &mut [Arg::PtrF64(&mut a), Arg::I64(1), Arg::F64(9.0)],
        )
        .unwrap();
    assert_eq!(out[0].to_bits(), (-0.0f64).to_bits());
    assert_eq!(a[1], 9.0);

    let i = interp(&load_store_program(Elem::F32));
    let mut a = [1.5f32, f32::from_bits(0x7fc0_0123), 3.0];
    let out = i
        .call(
            &mut m,
            f,
            &mut [Arg::PtrF32(&mut a), Arg::I64(1), Arg::F32(-0.0)],
        )
        .unwrap();
    assert_eq!(out[0].to_bits(), 0x7fc0_0123);
    assert_eq!(out[1], Scalar::F32(3.0));
    assert_eq!(a[1].to_bits(), (-0.0f32).to_bits());

    let i = interp(&load_store_program(Elem::I64));
    let mut a = [i64::MIN, 2, i64::MAX];
    let out = i
        .call(
            &mut m,
            f,
            &mut [Arg::PtrI64(&mut a), Arg::I64(0), Arg::I64(-5)],
        )
        .unwrap();
    assert_eq!(out, vec![Scalar::I64(i64::MIN), Scalar::I64(i64::MAX)]);
    assert_eq!(a, [-5, 2, i64::MAX]);

    let i = interp(&load_store_program(Elem::I32));
    let mut a = [7, i32::MIN, -1];
    let out = i
        .call(
            &mut m,
            f,
            &mut [Arg::PtrI32(&mut a), Arg::I64(1), Arg::I32(i32::MAX)],
        )
        .unwrap();
    assert_eq!(out, vec![Scalar::I32(i32::MIN), Scalar::I32(-1)]);
    assert_eq!(a, [7, i32::MAX, -1]);
    // A loaded i32 is sign-extended in its register: -1 converts to -1 as i64.
    let p = single(&[Type::Ptr(Elem::I32)], &[Type::I64], |b, p| {
        let k = b.i64(0);
        let x = b.load(p[0], k);
        vec![b.convert(x, Type::I64)]
    });
    let mut a = [-1i32];
    let out = interp(&p)
        .call(&mut m, f, &mut [Arg::PtrI32(&mut a)])
        .unwrap();
    assert_eq!(out, vec![Scalar::I64(-1)]);
}

#[test]
fn a_pointer_argument_may_be_passed_twice_and_arrays_of_each_type_mix() {
    // f(a: ptr<f64>, n: ptr<i64>, c: ptr<f32>, d: ptr<i32>): a[n[0]] = f64(c[0]) + f64(d[0])
    let p = single(
        &[
            Type::Ptr(Elem::F64),
            Type::Ptr(Elem::I64),
            Type::Ptr(Elem::F32),
            Type::Ptr(Elem::I32),
        ],
        &[],
        |b, p| {
            let zero = b.i64(0);
            let k = b.load(p[1], zero);
            let c = b.load(p[2], zero);
            let d = b.load(p[3], zero);
            let c = b.convert(c, Type::F64);
            let d = b.convert(d, Type::F64);
            let s = b.add(c, d);
            b.store(p[0], k, s);
            vec![]
        },
    );
    let mut a = [0.0; 4];
    let (mut n, mut c, mut d) = ([3i64], [0.25f32], [-2i32]);
    interp(&p)
        .call(
            &mut Machine::new(),
            FuncId(0),
            &mut [
                Arg::PtrF64(&mut a),
                Arg::PtrI64(&mut n),
                Arg::PtrF32(&mut c),
                Arg::PtrI32(&mut d),
            ],
        )
        .unwrap();
    assert_eq!(a, [0.0, 0.0, 0.0, -1.75]);
}

/// A program with `@divmod(a: i64, b: i64) -> (i64, i64)`, `@fact(n: i64) -> (i64)`
/// (recursive), `@axpy(y: ptr<f64>, a: f64, x: ptr<f64>, i: i64) -> ()` and
/// `@main(...)` calling them.
fn calls_program() -> Program {
    let mut program = Program::new();
    let i64s = Signature {
        params: vec![Type::I64, Type::I64],
        returns: vec![Type::I64, Type::I64],
    };
    let mut f = Function::new("divmod", i64s.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (x, y) = (b.param(0), b.param(1));
        let q = b.binary(BinaryOp::FloorDiv, x, y);
        let r = b.binary(BinaryOp::Mod, x, y);
        b.ret(&[q, r]);
    }
    let divmod = program.add(f);

    let fact_sig = Signature {
        params: vec![Type::I64],
        returns: vec![Type::I64],
    };
    let fact = FuncId(1);
    let mut f = Function::new("fact", fact_sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let n = b.param(0);
        let one = b.i64(1);
        let small = b.cmp(CmpOp::Le, n, one);
        let base = b.create_block();
        let rec = b.create_block();
        b.brif(small, base, &[], rec, &[]);
        b.switch_to(base);
        b.ret(&[one]);
        b.switch_to(rec);
        let m = b.sub(n, one);
        let r = b.call(fact, &fact_sig, &[m])[0];
        let p = b.mul(n, r);
        b.ret(&[p]);
    }
    assert_eq!(program.add(f), fact);

    let pf = Type::Ptr(Elem::F64);
    let axpy_sig = Signature {
        params: vec![pf, Type::F64, pf, Type::I64],
        returns: vec![],
    };
    let mut f = Function::new("axpy", axpy_sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (y, a, x, i) = (b.param(0), b.param(1), b.param(2), b.param(3));
        let yi = b.load(y, i);
        let xi = b.load(x, i);
        let t = b.mul(a, xi);
        let s = b.add(yi, t);
        b.store(y, i, s);
        b.ret(&[]);
    }
    let axpy = program.add(f);

    // main(y, x, a, b) -> (q, r, fact(b), r, q): results in another order than returned,
    // and a call whose results are ignored.
    let mut f = Function::new(
        "main",
        Signature {
            params: vec![pf, pf, Type::I64, Type::I64],
            returns: vec![Type::I64, Type::I64, Type::I64, Type::I64, Type::I64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (y, x, a, n) = (b.param(0), b.param(1), b.param(2), b.param(3));
        let qr = b.call(divmod, &i64s, &[a, n]);
        let fact_n = b.call(fact, &fact_sig, &[n])[0];
        let half = b.f64(0.5);
        let one = b.i64(1);
        b.call(axpy, &axpy_sig, &[y, half, x, one]);
        b.call(divmod, &i64s, &[n, a]);
        // Swapped arguments: divmod(b, a) in other registers.
        b.ret(&[qr[0], qr[1], fact_n, qr[1], qr[0]]);
    }
    program.add(f);
    verified(program)
}

#[test]
fn calls_with_multiple_results_recursion_and_pointers() {
    let program = calls_program();
    let i = interp(&program);
    let main = program.find("main").unwrap();
    let mut m = Machine::new();
    let mut x = [10.0, 20.0, 30.0];
    for _ in 0..2 {
        // Twice: the machine's frames are reused.
        let mut y = [1.0, 2.0, 3.0];
        let out = i
            .call(
                &mut m,
                main,
                &mut [
                    Arg::PtrF64(&mut y),
                    Arg::PtrF64(&mut x),
                    Arg::I64(-7),
                    Arg::I64(5),
                ],
            )
            .unwrap();
        assert_eq!(
            out,
            vec![
                Scalar::I64(-2),
                Scalar::I64(3),
                Scalar::I64(120),
                Scalar::I64(3),
                Scalar::I64(-2)
            ]
        );
        assert_eq!(y, [1.0, 12.0, 3.0]);
    }
    // Callees can be called directly too.
    let fact = program.find("fact").unwrap();
    let out = i.call(&mut m, fact, &mut [Arg::I64(20)]).unwrap();
    assert_eq!(out, vec![Scalar::I64(2432902008176640000)]);
    let divmod = program.find("divmod").unwrap();
    let out = i
        .call(&mut m, divmod, &mut [Arg::I64(7), Arg::I64(-2)])
        .unwrap();
    assert_eq!(out, vec![Scalar::I64(-4), Scalar::I64(-1)]);
}

#[test]
fn recursion_up_to_the_depth_limit_works() {
    // fact(n) nests n calls (n - 1 below the outermost): the deepest that fits is the limit.
    let program = calls_program();
    let i = interp(&program);
    let fact = program.find("fact").unwrap();
    let n = dynlib_interp::MAX_CALL_DEPTH as i64;
    let out = i
        .call(&mut Machine::new(), fact, &mut [Arg::I64(n)])
        .unwrap();
    // n! wraps in i64; compare with the same wrapping product.
    let want = (1..=n).fold(1i64, |acc, k| acc.wrapping_mul(k));
    assert_eq!(out, vec![Scalar::I64(want)]);
}

#[test]
fn branches_with_block_params_and_loops() {
    // sum_{k=0}^{n-1} k*k via a loop with block params (i, acc); then a diamond that
    // passes different values to a join block.
    let p = single(&[Type::I64], &[Type::I64, Type::F64], |b, p| {
        let n = p[0];
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let neg = b.create_block();
        let pos = b.create_block();
        let join = b.create_block();
        let i = b.block_param(head, Type::I64);
        let acc = b.block_param(head, Type::I64);
        let zero = b.i64(0);
        let one = b.i64(1);
        b.jump(head, &[zero, zero]);
        b.switch_to(head);
        let go = b.cmp(CmpOp::Lt, i, n);
        b.brif(go, body, &[], exit, &[acc]);
        let total = b.block_param(exit, Type::I64);
        b.switch_to(body);
        let sq = b.mul(i, i);
        let acc2 = b.add(acc, sq);
        let i2 = b.add(i, one);
        b.jump(head, &[i2, acc2]);
        b.switch_to(exit);
        let two = b.i64(2);
        let odd = b.binary(BinaryOp::Mod, total, two);
        let is_odd = b.cmp(CmpOp::Eq, odd, one);
        let fa = b.f64(-1.5);
        let fb = b.f64(2.5);
        b.brif(is_odd, neg, &[], pos, &[]);
        let x = b.block_param(join, Type::F64);
        b.switch_to(neg);
        b.jump(join, &[fa]);
        b.switch_to(pos);
        b.jump(join, &[fb]);
        b.switch_to(join);
        vec![total, x]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    for n in [0i64, 1, 2, 3, 10, 1000] {
        let total: i64 = (0..n).map(|k| k * k).sum();
        let x = if total % 2 == 1 { -1.5 } else { 2.5 };
        let out = call_bits(&i, &mut m, &[n as u64]);
        assert_eq!(out, vec![total as u64, f64::to_bits(x)], "n = {n}");
    }
}

#[test]
fn nested_loops_and_a_branch_straight_to_a_block_with_arguments() {
    // count = #{(i, j) : 0 <= j < i < n, (i + j) % 3 == 0}, with the inner loop's exit
    // passing the count back to the outer loop's header through brif arguments.
    let p = single(&[Type::I32], &[Type::I32], |b, p| {
        let n = p[0];
        let outer = b.create_block();
        let inner = b.create_block();
        let inner_body = b.create_block();
        let done = b.create_block();
        let (i, c) = (
            b.block_param(outer, Type::I32),
            b.block_param(outer, Type::I32),
        );
        let (j, c2, i2) = (
            b.block_param(inner, Type::I32),
            b.block_param(inner, Type::I32),
            b.block_param(inner, Type::I32),
        );
        let zero = b.i32(0);
        let one = b.i32(1);
        let three = b.i32(3);
        b.jump(outer, &[zero, zero]);
        b.switch_to(outer);
        let go = b.cmp(CmpOp::Lt, i, n);
        b.brif(go, inner, &[zero, c, i], done, &[]);
        b.switch_to(inner);
        let more = b.cmp(CmpOp::Lt, j, i2);
        let ip1 = b.add(i2, one);
        b.brif(more, inner_body, &[], outer, &[ip1, c2]);
        b.switch_to(inner_body);
        let s = b.add(i2, j);
        let r = b.binary(BinaryOp::Mod, s, three);
        let hit = b.cmp(CmpOp::Eq, r, zero);
        let inc = b.convert(hit, Type::I32);
        let c3 = b.add(c2, inc);
        let j1 = b.add(j, one);
        b.jump(inner, &[j1, c3, i2]);
        b.switch_to(done);
        vec![c]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    for n in [0i32, 1, 5, 40] {
        let want = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i + j) % 3 == 0))
            .filter(|&x| x)
            .count() as i32;
        let out = call_bits(&i, &mut m, &[n as i64 as u64]);
        assert_eq!(out, vec![want as i64 as u64], "n = {n}");
    }
}

#[test]
fn bool_operators_evaluate_both_sides() {
    let mut m = Machine::new();
    let p = single(
        &[Type::Bool, Type::Bool],
        &[Type::Bool, Type::Bool],
        |b, p| {
            let a = b.binary(BinaryOp::And, p[0], p[1]);
            let o = b.binary(BinaryOp::Or, p[0], p[1]);
            vec![a, o]
        },
    );
    let i = interp(&p);
    for (x, y) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        assert_eq!(call_bits(&i, &mut m, &[x, y]), vec![x & y, x | y]);
    }
}

#[test]
fn a_function_without_results_and_one_returning_many_types() {
    let p = single(
        &[Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool],
        &[Type::Bool, Type::I32, Type::I64, Type::F32, Type::F64],
        |_, p| p.iter().rev().copied().collect(),
    );
    let i = interp(&p);
    let out = i
        .call(
            &mut Machine::new(),
            FuncId(0),
            &mut [
                Arg::F64(1.25),
                Arg::F32(-2.5),
                Arg::I64(-3),
                Arg::I32(-4),
                Arg::Bool(true),
            ],
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Scalar::Bool(true),
            Scalar::I32(-4),
            Scalar::I64(-3),
            Scalar::F32(-2.5),
            Scalar::F64(1.25)
        ]
    );
    let p = single(&[], &[], |_, _| vec![]);
    let out = interp(&p)
        .call(&mut Machine::new(), FuncId(0), &mut [])
        .unwrap();
    assert!(out.is_empty());
}

#[test]
fn call_into_reuses_the_result_buffer() {
    let p = single(&[Type::F64], &[Type::F64, Type::F64], |b, p| {
        let s = b.mul(p[0], p[0]);
        vec![s, p[0]]
    });
    let i = interp(&p);
    let mut m = Machine::new();
    let mut out = [Scalar::Bool(false); 2];
    for k in 0..5 {
        i.call_into(&mut m, FuncId(0), &mut [Arg::F64(k as f64)], &mut out)
            .unwrap();
        assert_eq!(out, [Scalar::F64((k * k) as f64), Scalar::F64(k as f64)]);
    }
}

#[test]
fn disassembly_lists_every_operation() {
    let i = interp(&calls_program());
    let text = i.disassemble(FuncId(3)).unwrap();
    assert!(text.contains("Call"), "{text}");
    assert!(text.lines().count() >= 5, "{text}");
    assert!(i.disassemble(FuncId(9)).is_err());
}
