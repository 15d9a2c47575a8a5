//! A program printed with `dynlib_ir::print_program` and parsed back with
//! `dynlib_ir::parse_program` executes identically (same result bits, same array contents).

mod common;

use common::*;
use dynlib_interp::{Arg, Machine, Scalar};
use dynlib_ir::{
    BinaryOp, CmpOp, Elem, FuncId, Function, FunctionBuilder, MathFn, Program, Signature, Type,
    UnaryOp, Value,
};

/// Prints and parses `program`, checking that the text is stable.
fn reparse(program: &Program) -> Program {
    let text = dynlib_ir::print_program(program);
    let back = dynlib_ir::parse_program(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(dynlib_ir::print_program(&back), text, "printing is stable");
    back
}

const ARRAY_PARAMS: [Elem; 4] = [Elem::F64, Elem::F32, Elem::I64, Elem::I32];

/// One function using every instruction kind on every type it applies to:
/// `@all(f64, f32, i64, i32, bool, ptr<f64>, ptr<f32>, ptr<i64>, ptr<i32>) -> (...)`.
/// It returns every computed scalar and stores some of them into the arrays.
fn everything() -> Program {
    let scalars = [Type::F64, Type::F32, Type::I64, Type::I32, Type::Bool];
    let mut params: Vec<Type> = scalars.to_vec();
    params.extend(ARRAY_PARAMS.map(Type::Ptr));
    // The returns are only known once the body is built; build into a scratch function
    // first, then copy with the signature fixed.
    let mut f = Function::new(
        "all",
        Signature {
            params: params.clone(),
            returns: vec![],
        },
    );
    let mut out: Vec<Value> = Vec::new();
    {
        let mut b = FunctionBuilder::new(&mut f);
        let p: Vec<Value> = (0..params.len()).map(|i| b.param(i)).collect();
        let (num, arrays) = (&p[..5], &p[5..]);
        // Constants with awkward bits.
        let nan = b.f64(f64::from_bits(0x7ff8_0000_0000_0abc));
        let negz = b.f32(-0.0);
        let fnan = b.f32(f32::from_bits(0x7fc0_0123));
        let imin = b.i64(i64::MIN);
        let jm = b.i32(-7);
        let t = b.bool(true);
        out.extend([nan, negz, fnan, imin, jm, t]);
        let others = [b.f64(-2.5), b.f32(3.5), b.i64(-3), b.i32(4), b.bool(false)];
        for (k, &ty) in scalars.iter().enumerate() {
            let (x, y) = (num[k], others[k]);
            let ops: &[BinaryOp] = match ty {
                Type::F64 | Type::F32 => &[
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::FloorDiv,
                    BinaryOp::Mod,
                ],
                Type::Bool => &[BinaryOp::And, BinaryOp::Or],
                _ => &[
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::FloorDiv,
                    BinaryOp::Mod,
                ],
            };
            for &op in ops {
                out.push(b.binary(op, x, y));
                out.push(b.binary(op, y, x));
            }
            let un = if ty == Type::Bool {
                UnaryOp::Not
            } else {
                UnaryOp::Neg
            };
            out.push(b.unary(un, x));
            for op in [
                CmpOp::Eq,
                CmpOp::Ne,
                CmpOp::Lt,
                CmpOp::Le,
                CmpOp::Gt,
                CmpOp::Ge,
            ] {
                out.push(b.cmp(op, x, y));
            }
            out.push(b.select(num[4], x, y));
            for &to in &scalars {
                if to != ty {
                    out.push(b.convert(x, to));
                }
            }
        }
        for &m in MathFn::ALL {
            let args = [num[0], others[0]];
            out.push(b.math(m, &args[..m.arity()]));
        }
        // Loads and stores on every element type, with constant and computed indices.
        let zero = b.i64(0);
        let one = b.i64(1);
        let two = b.i64(2);
        let three = b.i64(3);
        for (k, &a) in arrays.iter().enumerate() {
            let x = b.load(a, zero);
            let idx = b.binary(BinaryOp::Mod, num[2], three);
            let idx = b.add(idx, one); // 1..=3
            let y = b.load(a, idx);
            out.extend([x, y]);
            let s = b.add(x, y);
            b.store(a, two, s);
            // The scalar parameters come in the arrays' element order.
            b.store(a, idx, num[k]);
        }
        b.ret(&out);
    }
    f.sig.returns = out.iter().map(|&v| f.value_type(v)).collect();
    let mut program = Program::new();
    program.add(f);
    verified(program)
}

/// Runs `@all` on one input; returns the result bits and the arrays afterwards.
fn run_all(program: &Program, x: f64, y: f32, i: i64, j: i32, c: bool) -> (Vec<u64>, String) {
    let interp = interp(program);
    let mut a = [1.5, -0.0, 2.25, f64::NAN];
    let mut bf = [0.5f32, 1.0, -3.0, 7.0];
    let mut ci = [5i64, -6, 7, i64::MAX];
    let mut di = [-1i32, 2, i32::MIN, 9];
    let out = interp
        .call(
            &mut Machine::new(),
            FuncId(0),
            &mut [
                Arg::F64(x),
                Arg::F32(y),
                Arg::I64(i),
                Arg::I32(j),
                Arg::Bool(c),
                Arg::PtrF64(&mut a),
                Arg::PtrF32(&mut bf),
                Arg::PtrI64(&mut ci),
                Arg::PtrI32(&mut di),
            ],
        )
        .unwrap_or_else(|t| panic!("trap: {t}"));
    let arrays = format!(
        "{:?} {:?} {ci:?} {di:?}",
        a.map(f64::to_bits),
        bf.map(f32::to_bits)
    );
    (out.into_iter().map(Scalar::to_bits).collect(), arrays)
}

#[test]
fn every_instruction_kind_survives_print_and_parse() {
    let program = everything();
    let back = reparse(&program);
    let text = dynlib_ir::print_program(&program);
    assert!(
        text.contains("floordiv") && text.contains("math erfc"),
        "{text}"
    );
    let mut cases = 0;
    for &x in &[0.7, -0.0, f64::NAN, -1e300, 3.0] {
        for &(y, i, j, c) in &[
            (1.25f32, 5i64, -9i32, true),
            (-0.0, -4, i32::MAX, false),
            (f32::INFINITY, i64::MIN, 0, true),
        ] {
            let want = run_all(&program, x, y, i, j, c);
            let got = run_all(&back, x, y, i, j, c);
            assert_eq!(got, want, "x={x} y={y} i={i} j={j} c={c}");
            cases += 1;
        }
    }
    assert_eq!(cases, 15);
}

#[test]
fn lorenz_survives_print_and_parse() {
    for program in [
        common::lorenz::program(),
        common::lorenz::program_with_calls(),
    ] {
        let back = reparse(&program);
        let run = |p: &Program| {
            let i = interp(p);
            let f = p.find(common::lorenz::RUN).unwrap();
            let mut y = [1.0, 1.0, 1.0];
            let mut s = [[0.0f64; 3]; 5];
            let [k1, k2, k3, k4, ys] = &mut s;
            let out = i
                .call(
                    &mut Machine::new(),
                    f,
                    &mut [
                        Arg::PtrF64(&mut y),
                        Arg::PtrF64(k1),
                        Arg::PtrF64(k2),
                        Arg::PtrF64(k3),
                        Arg::PtrF64(k4),
                        Arg::PtrF64(ys),
                        Arg::I64(500),
                        Arg::F64(0.01),
                        Arg::F64(0.0),
                    ],
                )
                .unwrap();
            (y.map(f64::to_bits), out[0].to_bits())
        };
        assert_eq!(run(&back), run(&program));
    }
}

#[test]
fn control_flow_and_calls_survive_print_and_parse() {
    // A recursive function with a loop, block parameters in a cycle and a call with two
    // results.
    let mut program = Program::new();
    let sig = Signature {
        params: vec![Type::I64, Type::F64],
        returns: vec![Type::F64, Type::I64],
    };
    let mut f = Function::new("walk", sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (n, x) = (b.param(0), b.param(1));
        let head = b.create_block();
        let rec = b.create_block();
        let done = b.create_block();
        let (a, c, k) = (
            b.block_param(head, Type::F64),
            b.block_param(head, Type::F64),
            b.block_param(head, Type::I64),
        );
        let zero = b.i64(0);
        let one = b.i64(1);
        let half = b.f64(0.5);
        b.jump(head, &[x, half, zero]);
        b.switch_to(head);
        let more = b.cmp(CmpOp::Lt, k, n);
        let k1 = b.add(k, one);
        let s = b.add(a, c);
        b.brif(more, head, &[c, s, k1], rec, &[]);
        b.switch_to(rec);
        let small = b.cmp(CmpOp::Le, n, one);
        b.brif(small, done, &[], done, &[]);
        b.switch_to(done);
        let r = b.convert(a, Type::I64);
        b.ret(&[c, r]);
    }
    program.add(f);
    let mut g = Function::new(
        "main",
        Signature {
            params: vec![Type::I64],
            returns: vec![Type::F64, Type::I64, Type::F64],
        },
    );
    {
        let mut b = FunctionBuilder::new(&mut g);
        let n = b.param(0);
        let x = b.f64(1.0);
        let r = b.call(FuncId(0), &sig, &[n, x]);
        let y = b.convert(r[1], Type::F64);
        let z = b.math(MathFn::Sqrt, &[y]);
        b.ret(&[r[0], r[1], z]);
    }
    program.add(g);
    let program = verified(program);
    let back = reparse(&program);
    let (a, b) = (interp(&program), interp(&back));
    let mut m = Machine::new();
    for n in [0i64, 1, 2, 10, 40] {
        let x = a.call(&mut m, FuncId(1), &mut [Arg::I64(n)]).unwrap();
        let y = b.call(&mut m, FuncId(1), &mut [Arg::I64(n)]).unwrap();
        assert_eq!(
            x.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            y.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
        assert!(matches!(x[0], Scalar::F64(_)));
    }
}
