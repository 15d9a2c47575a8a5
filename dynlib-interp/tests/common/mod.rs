//! Test support: building small programs, passing arguments as raw bits, and interesting
//! sample values of every scalar type.

#![allow(dead_code)]

pub mod lorenz;

use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::{FuncId, Function, FunctionBuilder, Program, Signature, Type, Value};

/// Builds a program of one function `@f(params) -> (returns)` whose body `body` emits
/// (given the builder and the parameters) and returns the values to return. The program
/// must pass the verifier.
pub fn single(
    params: &[Type],
    returns: &[Type],
    body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Vec<Value>,
) -> Program {
    let mut f = Function::new(
        "f",
        Signature {
            params: params.to_vec(),
            returns: returns.to_vec(),
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let ps: Vec<Value> = (0..params.len()).map(|i| b.param(i)).collect();
    let out = body(&mut b, &ps);
    b.ret(&out);
    let mut program = Program::new();
    program.add(f);
    verified(program)
}

/// Asserts that `program` passes the verifier and returns it.
pub fn verified(program: Program) -> Program {
    if let Err(errors) = dynlib_ir::verify_program(&program) {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!(
            "test program does not verify:\n{}\n{program}",
            list.join("\n")
        );
    }
    program
}

/// An interpreter for `program`, which must decode.
pub fn interp(program: &Program) -> Interpreter {
    Interpreter::new(program).unwrap_or_else(|e| panic!("does not decode: {e}\n{program}"))
}

/// A scalar argument of type `ty` from raw bits.
pub fn arg(ty: Type, bits: u64) -> Arg<'static> {
    match ty {
        Type::F64 => Arg::F64(f64::from_bits(bits)),
        Type::F32 => Arg::F32(f32::from_bits(bits as u32)),
        Type::I64 => Arg::I64(bits as i64),
        Type::I32 => Arg::I32(bits as i32),
        Type::Bool => Arg::Bool(bits != 0),
        Type::Ptr(_) => panic!("no scalar argument for {ty}"),
    }
}

/// Runs function 0 of the interpreter's program on scalar arguments given as bits, and
/// returns the results as bits, checking their types against the signature.
pub fn call_bits(interp: &Interpreter, machine: &mut Machine, args: &[u64]) -> Vec<u64> {
    let f = FuncId(0);
    let sig = interp.program().func(f).sig.clone();
    let mut args: Vec<Arg> = args
        .iter()
        .zip(&sig.params)
        .map(|(&b, &ty)| arg(ty, b))
        .collect();
    let out = interp
        .call(machine, f, &mut args)
        .unwrap_or_else(|t| panic!("trap: {t}"));
    assert_eq!(out.len(), sig.returns.len());
    for (s, &ty) in out.iter().zip(&sig.returns) {
        assert_eq!(s.ty(), ty, "result type");
    }
    out.into_iter().map(Scalar::to_bits).collect()
}

/// Describes raw bits of type `ty` for assertion messages.
pub fn show(ty: Type, bits: u64) -> String {
    match ty {
        Type::F64 => format!("{:?} (0x{bits:016x})", f64::from_bits(bits)),
        Type::F32 => format!("{:?} (0x{bits:08x})", f32::from_bits(bits as u32)),
        Type::I64 => format!("{}", bits as i64),
        Type::I32 => format!("{} (0x{bits:x})", bits as i64),
        _ => format!("{bits}"),
    }
}

/// Interesting f64 values: signed zeros, infinities, NaNs (with payloads and signs),
/// subnormals, extremes, integers, halves and values near integer limits.
pub fn f64_samples() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        2.0,
        3.0,
        -3.0,
        7.0,
        -7.0,
        7.5,
        -7.5,
        0.1,
        -0.1,
        1.0 / 3.0,
        std::f64::consts::PI,
        -std::f64::consts::E,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0001),
        f64::EPSILON,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0abc),
        f64::from_bits(0xfff8_0000_0000_0001),
        f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
        9007199254740993.0,
        4503599627370495.5,
        2147483647.0,
        2147483648.0,
        -2147483648.0,
        -2147483649.0,
        9.223_372_036_854_776e18,  // 2^63
        -9.223_372_036_854_776e18, // -2^63
        1.8446744073709552e19,
        3e9,
        -3e9,
        12345.678,
        -98765.4321,
    ];
    v.push(f64::from_bits(2f64.powi(63).to_bits() - 1));
    v
}

/// Interesting f32 values (same idea as [`f64_samples`]).
pub fn f32_samples() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -2.5,
        3.0,
        -7.0,
        7.5,
        0.1,
        -0.1,
        1.0 / 3.0,
        1e-40,
        -1e-40,
        1e38,
        -1e38,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::EPSILON,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fc0_0123),
        f32::from_bits(0x7f80_0001),
        16777217.0,
        2147483647.0,
        2147483648.0,
        -2147483648.0,
        9.223372e18,
        -9.223372e18,
        3e9,
        -3e9,
        12345.678,
    ]
}

/// Interesting i64 values.
pub fn i64_samples() -> Vec<i64> {
    vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        7,
        -7,
        10,
        -10,
        i32::MAX as i64,
        i32::MIN as i64,
        i32::MAX as i64 + 1,
        i32::MIN as i64 - 1,
        1 << 32,
        (1 << 32) + 5,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        i64::MIN + 1,
        123456789012345,
        -987654321098765,
    ]
}

/// Interesting i32 values.
pub fn i32_samples() -> Vec<i32> {
    vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        7,
        -7,
        10,
        -10,
        16777217,
        -16777217,
        i32::MAX,
        i32::MIN,
        i32::MAX - 1,
        i32::MIN + 1,
        123456789,
        -987654321,
    ]
}

/// Samples of a scalar type as raw register bits.
pub fn samples(ty: Type) -> Vec<u64> {
    match ty {
        Type::F64 => f64_samples().into_iter().map(f64::to_bits).collect(),
        Type::F32 => f32_samples()
            .into_iter()
            .map(|x| x.to_bits() as u64)
            .collect(),
        Type::I64 => i64_samples().into_iter().map(|x| x as u64).collect(),
        Type::I32 => i32_samples().into_iter().map(|x| x as i64 as u64).collect(),
        Type::Bool => vec![0, 1],
        Type::Ptr(_) => Vec::new(),
    }
}

/// Every scalar type.
pub const SCALARS: [Type; 5] = [Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool];
