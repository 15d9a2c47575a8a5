//! Every IR operation, compiled natively, gives the interpreter's bits: arithmetic on every
//! type, Python's floored `//` and `%` (division by zero and `MIN // -1` included),
//! comparisons, selects, every conversion, and every libm function, on edge values
//! (signed zeros, infinities, NaN, extremes, subnormals).

use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::{
    Arg, BinaryOp, CmpOp, FuncId, Function, FunctionBuilder, MathFn, Program, Scalar, Signature,
    Type, UnaryOp,
};
use dynlib_llvm::{compile, CodegenOptions, OptLevel};

const TYPES: [Type; 5] = [Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool];

fn f64s() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.5,
        -2.5,
        3.0,
        -7.0,
        0.1,
        7.5,
        1e-10,
        2.0e9,
        9.3e18,
        -9.3e18,
        1e300,
        -1e300,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ]
}

fn values(ty: Type) -> Vec<Scalar> {
    match ty {
        Type::F64 => f64s().into_iter().map(Scalar::F64).collect(),
        Type::F32 => f64s().into_iter().map(|x| Scalar::F32(x as f32)).collect(),
        Type::I64 => [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -7,
            7,
            1001,
            -1000,
            1 << 40,
            i64::MAX,
            i64::MIN,
        ]
        .into_iter()
        .map(Scalar::I64)
        .collect(),
        Type::I32 => [0, 1, -1, 2, -2, 3, -7, 7, 1001, -1000, i32::MAX, i32::MIN]
            .into_iter()
            .map(Scalar::I32)
            .collect(),
        _ => vec![Scalar::Bool(false), Scalar::Bool(true)],
    }
}

fn arg(s: Scalar) -> Arg<'static> {
    match s {
        Scalar::F64(x) => Arg::F64(x),
        Scalar::F32(x) => Arg::F32(x),
        Scalar::I64(x) => Arg::I64(x),
        Scalar::I32(x) => Arg::I32(x),
        Scalar::Bool(x) => Arg::Bool(x),
    }
}

/// A test case: a one-instruction function and the argument types it takes.
struct Case {
    id: FuncId,
    params: Vec<Type>,
}

fn add_case(
    program: &mut Program,
    cases: &mut Vec<Case>,
    name: String,
    params: Vec<Type>,
    ret: Type,
    body: impl FnOnce(&mut FunctionBuilder) -> dynlib_ir::Value,
) {
    let mut f = Function::new(
        name,
        Signature {
            params: params.clone(),
            returns: vec![ret],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let v = body(&mut b);
    b.ret(&[v]);
    cases.push(Case {
        id: program.add(f),
        params,
    });
}

fn all_cases() -> (Program, Vec<Case>) {
    let mut p = Program::new();
    let mut cases = Vec::new();
    for ty in TYPES {
        let numeric = ty != Type::Bool;
        for op in [UnaryOp::Neg, UnaryOp::Not] {
            if (op == UnaryOp::Neg) == numeric {
                add_case(
                    &mut p,
                    &mut cases,
                    format!("{op:?}_{ty}"),
                    vec![ty],
                    ty,
                    |b| {
                        let x = b.param(0);
                        b.unary(op, x)
                    },
                );
            }
        }
        let binops: &[BinaryOp] = match ty {
            Type::Bool => &[BinaryOp::And, BinaryOp::Or],
            t if t.is_float() => &[
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Div,
                BinaryOp::FloorDiv,
                BinaryOp::Mod,
            ],
            _ => &[
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::FloorDiv,
                BinaryOp::Mod,
            ],
        };
        for &op in binops {
            add_case(
                &mut p,
                &mut cases,
                format!("{op:?}_{ty}"),
                vec![ty, ty],
                ty,
                |b| {
                    let (x, y) = (b.param(0), b.param(1));
                    b.binary(op, x, y)
                },
            );
        }
        for op in [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ] {
            add_case(
                &mut p,
                &mut cases,
                format!("{op:?}_{ty}"),
                vec![ty, ty],
                Type::Bool,
                |b| {
                    let (x, y) = (b.param(0), b.param(1));
                    b.cmp(op, x, y)
                },
            );
        }
        add_case(
            &mut p,
            &mut cases,
            format!("select_{ty}"),
            vec![Type::Bool, ty, ty],
            ty,
            |b| {
                let (c, x, y) = (b.param(0), b.param(1), b.param(2));
                b.select(c, x, y)
            },
        );
        for to in TYPES {
            if to != ty {
                add_case(
                    &mut p,
                    &mut cases,
                    format!("convert_{ty}_{to}"),
                    vec![ty],
                    to,
                    |b| {
                        let x = b.param(0);
                        b.convert(x, to)
                    },
                );
            }
        }
    }
    for &m in MathFn::ALL {
        let params = vec![Type::F64; m.arity()];
        add_case(
            &mut p,
            &mut cases,
            format!("math_{}", m.name()),
            params,
            Type::F64,
            |b| {
                let args: Vec<_> = (0..m.arity()).map(|i| b.param(i)).collect();
                b.math(m, &args)
            },
        );
    }
    (p, cases)
}

/// Every combination of the argument types' edge values.
fn inputs(params: &[Type]) -> Vec<Vec<Scalar>> {
    let mut out: Vec<Vec<Scalar>> = vec![vec![]];
    for &t in params {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values(t).into_iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(v);
                    p
                })
            })
            .collect();
    }
    out
}

fn check_level(level: OptLevel) {
    let (program, cases) = all_cases();
    let exports: Vec<FuncId> = cases.iter().map(|c| c.id).collect();
    let jit = compile(&program, &exports, &CodegenOptions { opt_level: level })
        .unwrap()
        .load()
        .unwrap();
    let interp = Interpreter::new(&program).unwrap();
    let mut machine = Machine::new();
    let mut checked = 0;
    for case in &cases {
        let name = &program.func(case.id).name;
        for input in inputs(&case.params) {
            let mut a: Vec<Arg> = input.iter().map(|&s| arg(s)).collect();
            let expected = interp.call(&mut machine, case.id, &mut a).unwrap();
            let mut got = [Scalar::Bool(false)];
            // SAFETY: the functions take no arrays.
            unsafe { jit.call(case.id, &mut a, &mut got).unwrap() };
            assert_eq!(
                got[0].to_bits(),
                expected[0].to_bits(),
                "{name}{input:?} at {level:?}: native {:?}, interpreter {:?}",
                got[0],
                expected[0]
            );
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} cases");
}

#[test]
fn every_operation_matches_the_interpreter_at_o2() {
    check_level(OptLevel::O2);
}

#[test]
fn every_operation_matches_the_interpreter_at_o0_and_o3() {
    check_level(OptLevel::O0);
    check_level(OptLevel::O3);
}
