//! `FunctionBuilder::for_range`: loops with carried values, nested, and empty, executed by
//! the interpreter.

use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::{verify_program, Function, FunctionBuilder, Program, Signature, Type};

/// `f(n) = (Σ i for i < n, Π (i + 1.5) for i < n, Σ 1 for i < n for j < n)`.
fn program() -> (Program, dynlib_ir::FuncId) {
    let mut f = Function::new(
        "loops",
        Signature {
            params: vec![Type::I64],
            returns: vec![Type::I64, Type::F64, Type::I64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut f);
        let n = b.param(0);
        let zero = b.i64(0);
        let one = b.f64(1.0);
        let out = b.for_range(zero, n, &[zero, one], |b, i, acc| {
            let sum = b.add(acc[0], i);
            let x = b.convert(i, Type::F64);
            let half = b.f64(1.5);
            let x = b.add(x, half);
            let prod = b.mul(acc[1], x);
            vec![sum, prod]
        });
        let z = b.i64(0);
        let cells = b.for_range(z, n, &[z], |b, _, acc| {
            let z = b.i64(0);
            b.for_range(z, n, &[acc[0]], |b, _, inner| {
                let one = b.i64(1);
                vec![b.add(inner[0], one)]
            })
        });
        b.ret(&[out[0], out[1], cells[0]]);
    }
    let mut p = Program::default();
    let id = p.add(f);
    (p, id)
}

#[test]
fn for_range_carries_values_nests_and_may_run_zero_times() {
    let (p, id) = program();
    verify_program(&p).unwrap();
    let interp = Interpreter::new(&p).unwrap();
    let mut m = Machine::new();
    for n in [0i64, 1, 5, 40] {
        let mut out = [Scalar::I64(0), Scalar::F64(0.0), Scalar::I64(0)];
        interp
            .call_into(&mut m, id, &mut [Arg::I64(n)], &mut out)
            .unwrap();
        let prod = (0..n).fold(1.0f64, |acc, i| acc * (i as f64 + 1.5));
        assert_eq!(
            out,
            [
                Scalar::I64(n * (n - 1) / 2),
                Scalar::F64(prod),
                Scalar::I64(n * n)
            ],
            "n = {n}"
        );
    }
}
