//! Micro-benchmark of the dispatch loop: classical RK4 on the Lorenz system, the runner
//! loop, the stepper and four right-hand-side evaluations all in one IR function (the rhs
//! inlined by hand, as the inlining pass would), 10^6 steps.
//!
//! ```text
//! cargo run --release -p dynlib-interp --example lorenz_bench
//! ```
//!
//! Prints ns per RK4 step and ns per executed IR instruction (constants excluded: they
//! cost nothing at run time) and per decoded operation.

use std::time::Instant;

use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::{
    BinaryOp, CmpOp, Elem, Function, FunctionBuilder, InstData, Program, Signature, Type, Value,
};

const SIGMA: f64 = 10.0;
const RHO: f64 = 28.0;
const BETA: f64 = 8.0 / 3.0;

/// `out = lorenz(y)`, emitted inline.
fn rhs(b: &mut FunctionBuilder, y: Value, out: Value, idx: &[Value; 3]) {
    let (sigma, rho, beta) = (b.f64(SIGMA), b.f64(RHO), b.f64(BETA));
    let x = b.load(y, idx[0]);
    let yy = b.load(y, idx[1]);
    let z = b.load(y, idx[2]);
    let t = b.sub(yy, x);
    let dx = b.mul(sigma, t);
    let t = b.sub(rho, z);
    let t = b.mul(x, t);
    let dy = b.sub(t, yy);
    let t = b.mul(x, yy);
    let u = b.mul(beta, z);
    let dz = b.sub(t, u);
    b.store(out, idx[0], dx);
    b.store(out, idx[1], dy);
    b.store(out, idx[2], dz);
}

/// `dst[i] = y[i] + scale * k[i]`.
fn axpy(b: &mut FunctionBuilder, dst: Value, y: Value, scale: Value, k: Value, idx: &[Value; 3]) {
    for &i in idx {
        let yi = b.load(y, i);
        let ki = b.load(k, i);
        let t = b.mul(scale, ki);
        let s = b.add(yi, t);
        b.store(dst, i, s);
    }
}

/// `run(y, k1, k2, k3, k4, ys, n, dt, t0) -> t`: n RK4 steps in place on y.
fn program() -> Program {
    let p = Type::Ptr(Elem::F64);
    let mut f = Function::new(
        "lorenz_rk4",
        Signature {
            params: vec![p, p, p, p, p, p, Type::I64, Type::F64, Type::F64],
            returns: vec![Type::F64],
        },
    );
    let mut b = FunctionBuilder::new(&mut f);
    let [y, k1, k2, k3, k4, ys, n, dt, t0] = std::array::from_fn(|i| b.param(i));
    let idx = [b.i64(0), b.i64(1), b.i64(2)];
    let zero = b.i64(0);
    let one = b.i64(1);
    let half = b.f64(0.5);
    let two = b.f64(2.0);
    let six = b.f64(6.0);
    let head = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    let i = b.block_param(head, Type::I64);
    let t = b.block_param(head, Type::F64);
    b.jump(head, &[zero, t0]);

    b.switch_to(head);
    let go = b.cmp(CmpOp::Lt, i, n);
    b.brif(go, body, &[], exit, &[]);

    b.switch_to(body);
    rhs(&mut b, y, k1, &idx);
    let h2 = b.mul(half, dt);
    axpy(&mut b, ys, y, h2, k1, &idx);
    rhs(&mut b, ys, k2, &idx);
    axpy(&mut b, ys, y, h2, k2, &idx);
    rhs(&mut b, ys, k3, &idx);
    axpy(&mut b, ys, y, dt, k3, &idx);
    rhs(&mut b, ys, k4, &idx);
    let h6 = b.div(dt, six);
    for &j in &idx {
        let a = b.load(k1, j);
        let b2 = b.load(k2, j);
        let c3 = b.load(k3, j);
        let d = b.load(k4, j);
        let b2 = b.mul(two, b2);
        let c3 = b.mul(two, c3);
        let s = b.add(a, b2);
        let s = b.add(s, c3);
        let s = b.add(s, d);
        let term = b.mul(h6, s);
        let yj = b.load(y, j);
        let r = b.add(yj, term);
        b.store(y, j, r);
    }
    let t_next = b.add(t, dt);
    let i_next = b.binary(BinaryOp::Add, i, one);
    b.jump(head, &[i_next, t_next]);

    b.switch_to(exit);
    b.ret(&[t]);

    let mut program = Program::new();
    program.add(f);
    program
}

/// The same arithmetic in plain Rust, for a correctness check.
fn reference(steps: usize, dt: f64) -> [f64; 3] {
    let f = |y: [f64; 3]| {
        [
            SIGMA * (y[1] - y[0]),
            y[0] * (RHO - y[2]) - y[1],
            y[0] * y[1] - BETA * y[2],
        ]
    };
    let mut y = [1.0, 1.0, 1.0];
    for _ in 0..steps {
        let k1 = f(y);
        let h2 = 0.5 * dt;
        let k2 = f(std::array::from_fn(|j| y[j] + h2 * k1[j]));
        let k3 = f(std::array::from_fn(|j| y[j] + h2 * k2[j]));
        let k4 = f(std::array::from_fn(|j| y[j] + dt * k3[j]));
        let h6 = dt / 6.0;
        y = std::array::from_fn(|j| y[j] + h6 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
    }
    y
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = program();
    dynlib_ir::verify_program(&program).map_err(|e| format!("{e:?}"))?;
    let func = program.find("lorenz_rk4").expect("built above");
    // Executed IR instructions per step: the loop header and body (constants are free).
    let f = program.func(func);
    let per_step: usize = f.blocks[1..3]
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|&&i| !matches!(f.inst(i), InstData::Const { .. }))
        .count();

    let interp = Interpreter::new(&program)?;
    let ops_per_step = {
        let listing = interp.disassemble(func)?;
        // Ops of the loop: everything from the header's compare to the back edge.
        listing.lines().count() - 2 // the entry's jump and the exit's return
    };
    let mut machine = Machine::new();
    let steps: i64 = 1_000_000;
    let dt = 0.001;
    let mut best = f64::INFINITY;
    let mut y = [1.0f64; 3];
    for _ in 0..5 {
        y = [1.0; 3];
        let (mut k1, mut k2, mut k3, mut k4, mut ys) =
            ([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3]);
        let start = Instant::now();
        let out = interp.call(
            &mut machine,
            func,
            &mut [
                Arg::PtrF64(&mut y),
                Arg::PtrF64(&mut k1),
                Arg::PtrF64(&mut k2),
                Arg::PtrF64(&mut k3),
                Arg::PtrF64(&mut k4),
                Arg::PtrF64(&mut ys),
                Arg::I64(steps),
                Arg::F64(dt),
                Arg::F64(0.0),
            ],
        )?;
        best = best.min(start.elapsed().as_secs_f64());
        assert!(matches!(out[0], Scalar::F64(_)));
    }
    let want = reference(steps as usize, dt);
    assert_eq!(
        y.map(f64::to_bits),
        want.map(f64::to_bits),
        "interpreter and Rust disagree"
    );
    let ns_step = best * 1e9 / steps as f64;
    println!("Lorenz RK4, {steps} steps, everything in one IR function (best of 5)");
    println!("  {ns_step:.1} ns per step");
    println!(
        "  {per_step} IR instructions per step: {:.2} ns per instruction",
        ns_step / per_step as f64
    );
    println!(
        "  {ops_per_step} decoded operations per step: {:.2} ns per operation",
        ns_step / ops_per_step as f64
    );
    println!("  final state {y:?} (bit-identical to plain Rust)");
    Ok(())
}
