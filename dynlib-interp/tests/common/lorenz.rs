//! Classical RK4 on the Lorenz system as IR, and the same arithmetic in plain Rust.
//!
//! Shared by the tests (`tests/lorenz.rs`, `tests/roundtrip.rs`), the `dispatch` benchmark
//! and the `lorenz_bench` example, which include this file with `#[path]`.
//!
//! Operation order (the Rust reference follows it exactly): stage arguments
//! `y + (0.5 * h) * k`, the last one `y + h * k3`, and the combination
//! `y + (h / 6) * (((k1 + 2 * k2) + 2 * k3) + k4)`.

#![allow(dead_code)]

use dynlib_ir::{
    BinaryOp, CmpOp, Elem, Function, FunctionBuilder, Program, Signature, Type, Value,
};

/// σ of the Lorenz system.
pub const SIGMA: f64 = 10.0;
/// ρ of the Lorenz system.
pub const RHO: f64 = 28.0;
/// β of the Lorenz system.
pub const BETA: f64 = 8.0 / 3.0;

/// The name of the stepping function in both programs.
pub const RUN: &str = "lorenz_rk4";

/// `out = lorenz(y)`, emitted at the builder's position.
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

/// The signature of [`RUN`]: `(y, k1, k2, k3, k4, ys, n, dt, t0) -> t`.
fn run_signature() -> Signature {
    let p = Type::Ptr(Elem::F64);
    Signature {
        params: vec![p, p, p, p, p, p, Type::I64, Type::F64, Type::F64],
        returns: vec![Type::F64],
    }
}

/// Emits `out = lorenz(y)` given the builder, `y`, `out` and the index constants.
type EmitRhs<'a> = dyn Fn(&mut FunctionBuilder, Value, Value, &[Value; 3]) + 'a;

/// Builds [`RUN`]: `n` RK4 steps in place on `y`, returning `t0 + n * dt` (summed step by
/// step). `emit_rhs(b, y, out, idx)` writes `out = lorenz(y)`.
fn build_run(f: &mut Function, emit_rhs: &EmitRhs) {
    let mut b = FunctionBuilder::new(f);
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
    emit_rhs(&mut b, y, k1, &idx);
    let h2 = b.mul(half, dt);
    axpy(&mut b, ys, y, h2, k1, &idx);
    emit_rhs(&mut b, ys, k2, &idx);
    axpy(&mut b, ys, y, h2, k2, &idx);
    emit_rhs(&mut b, ys, k3, &idx);
    axpy(&mut b, ys, y, dt, k3, &idx);
    emit_rhs(&mut b, ys, k4, &idx);
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
}

/// The runner loop, the stepper and four right-hand-side evaluations all in one function
/// (the right-hand side inlined by hand, as the inlining pass would).
pub fn program() -> Program {
    let mut f = Function::new(RUN, run_signature());
    build_run(&mut f, &rhs);
    let mut program = Program::new();
    program.add(f);
    program
}

/// The same computation with the right-hand side as its own function
/// `lorenz_rhs(y: ptr<f64>, out: ptr<f64>)`, called four times per step.
pub fn program_with_calls() -> Program {
    let p = Type::Ptr(Elem::F64);
    let mut program = Program::new();
    let sig = Signature {
        params: vec![p, p],
        returns: vec![],
    };
    let mut f = Function::new("lorenz_rhs", sig.clone());
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (y, out) = (b.param(0), b.param(1));
        let idx = [b.i64(0), b.i64(1), b.i64(2)];
        rhs(&mut b, y, out, &idx);
        b.ret(&[]);
    }
    let rhs_id = program.add(f);
    let mut run = Function::new(RUN, run_signature());
    build_run(&mut run, &|b, y, out, _| {
        b.call(rhs_id, &sig, &[y, out]);
    });
    program.add(run);
    program
}

/// The Lorenz right-hand side in plain Rust, in the IR's operation order.
pub fn lorenz(y: [f64; 3]) -> [f64; 3] {
    [
        SIGMA * (y[1] - y[0]),
        y[0] * (RHO - y[2]) - y[1],
        y[0] * y[1] - BETA * y[2],
    ]
}

/// `steps` RK4 steps of size `dt` from `y`, in plain Rust; the same operations in the same
/// order as [`program`].
pub fn reference(mut y: [f64; 3], steps: usize, dt: f64) -> [f64; 3] {
    let f = lorenz;
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
