//! Every IR operation, compiled natively, gives the interpreter's bits: arithmetic on every
//! type, Python's floored `//` and `%` (division by zero and `MIN // -1` included),
//! comparisons, selects, every conversion, and every libm function, on edge values
//! (signed zeros, infinities, NaN, extremes, subnormals).

#[path = "../../dynlib-interp/tests/common/mod.rs"]
mod common;

use common::{arg, samples, SCALARS};
use dynlib_interp::{Interpreter, Machine};
use dynlib_ir::{
    Arg, BinaryOp, CmpOp, FuncId, Function, FunctionBuilder, MathFn, Program, Scalar, Signature,
    Type, UnaryOp,
};
use dynlib_llvm::{compile, CodegenOptions, OptLevel};

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
    for ty in SCALARS {
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
        for to in SCALARS {
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
    // In float64, and in float32 (the C library's float versions, `sinf`).
    for ty in [Type::F64, Type::F32] {
        for &m in MathFn::ALL {
            let params = vec![ty; m.arity()];
            add_case(
                &mut p,
                &mut cases,
                format!("math_{}_{ty}", m.name()),
                params,
                ty,
                |b| {
                    let args: Vec<_> = (0..m.arity()).map(|i| b.param(i)).collect();
                    b.math(m, &args)
                },
            );
        }
    }
    (p, cases)
}

/// Every combination of the argument types' sample values, as bits.
fn inputs(params: &[Type]) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = vec![vec![]];
    for &t in params {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                samples(t).into_iter().map(move |v| {
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
    let jit = compile(
        &program,
        &exports,
        &CodegenOptions {
            opt_level: level,
            ..Default::default()
        },
        "ops",
    )
    .unwrap()
    .load()
    .unwrap();
    let interp = Interpreter::new(&program).unwrap();
    let mut machine = Machine::new();
    let mut checked = 0;
    for case in &cases {
        let name = &program.func(case.id).name;
        for input in inputs(&case.params) {
            let mut a: Vec<Arg> = input
                .iter()
                .zip(&case.params)
                .map(|(&bits, &ty)| arg(ty, bits))
                .collect();
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
