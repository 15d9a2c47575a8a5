//! A hand-written Lorenz RK4 (runner loop, stepper and right-hand side in IR) run for 10^4
//! steps in the interpreter is bit-identical to the same arithmetic written in Rust.

mod common;

use common::lorenz::{self, RUN};
use common::{interp, verified};
use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::Program;

/// Runs `steps` steps of [`RUN`] from `y` at time `t0`; returns the new state and time.
fn run(
    interp: &Interpreter,
    machine: &mut Machine,
    y: [f64; 3],
    steps: i64,
    dt: f64,
    t0: f64,
) -> ([f64; 3], f64) {
    let func = interp
        .program()
        .find(RUN)
        .expect("the program has the runner");
    let mut y = y;
    let mut scratch = [[0.0f64; 3]; 5];
    let [k1, k2, k3, k4, ys] = &mut scratch;
    let out = interp
        .call(
            machine,
            func,
            &mut [
                Arg::PtrF64(&mut y),
                Arg::PtrF64(k1),
                Arg::PtrF64(k2),
                Arg::PtrF64(k3),
                Arg::PtrF64(k4),
                Arg::PtrF64(ys),
                Arg::I64(steps),
                Arg::F64(dt),
                Arg::F64(t0),
            ],
        )
        .unwrap_or_else(|t| panic!("trap: {t}"));
    let Scalar::F64(t) = out[0] else {
        panic!("the runner returns f64, got {out:?}");
    };
    (y, t)
}

/// The time after `steps` additions of `dt` to `t0`, in Rust.
fn time_after(t0: f64, steps: usize, dt: f64) -> f64 {
    (0..steps).fold(t0, |t, _| t + dt)
}

fn check_program(program: &Program, label: &str) {
    let i = interp(&verified(program.clone()));
    let mut machine = Machine::new();
    let steps = 10_000;
    for (y0, dt) in [
        ([1.0, 1.0, 1.0], 0.001),
        ([-8.0, 7.5, 27.0], 0.01),
        ([0.1, -0.2, 0.3], 1.0 / 3.0 * 0.01),
    ] {
        let (y, t) = run(&i, &mut machine, y0, steps, dt, 0.0);
        let want = lorenz::reference(y0, steps as usize, dt);
        assert_eq!(
            y.map(f64::to_bits),
            want.map(f64::to_bits),
            "{label}: y0 = {y0:?}, dt = {dt}: interpreter {y:?}, Rust {want:?}"
        );
        assert_eq!(t.to_bits(), time_after(0.0, steps as usize, dt).to_bits());
        // The trajectory went somewhere: a test that compares two fixed points proves
        // nothing.
        assert!(
            y.iter().zip(&y0).any(|(a, b)| (a - b).abs() > 1e-3),
            "{y:?}"
        );
    }
}

#[test]
fn rk4_in_one_function_is_bit_identical_to_rust() {
    check_program(&lorenz::program(), "inlined");
}

#[test]
fn rk4_calling_the_rhs_is_bit_identical_to_rust() {
    check_program(&lorenz::program_with_calls(), "with calls");
}

#[test]
fn optimised_programs_give_the_same_bits() {
    // The passes inline the calls and fold constants; nothing may change a bit.
    for mut p in [lorenz::program(), lorenz::program_with_calls()] {
        dynlib_ir::passes::optimize(&mut p);
        check_program(&p, "optimised");
    }
}

#[test]
fn a_run_split_in_two_calls_continues_exactly() {
    let i = interp(&lorenz::program());
    let mut machine = Machine::new();
    let dt = 0.005;
    let (y, t) = run(&i, &mut machine, [1.0, 2.0, 3.0], 4_000, dt, 0.0);
    let (y, t) = run(&i, &mut machine, y, 6_000, dt, t);
    let want = lorenz::reference([1.0, 2.0, 3.0], 10_000, dt);
    assert_eq!(y.map(f64::to_bits), want.map(f64::to_bits));
    assert_eq!(t.to_bits(), time_after(0.0, 10_000, dt).to_bits());
    // Zero steps leave everything alone.
    let (y2, t2) = run(&i, &mut machine, y, 0, dt, t);
    assert_eq!((y2, t2.to_bits()), (y, t.to_bits()));
}

#[test]
fn one_interpreter_serves_many_threads() {
    let i = interp(&lorenz::program());
    let want = lorenz::reference([1.0, 1.0, 1.0], 2_000, 0.002);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut machine = Machine::new();
                let (y, _) = run(&i, &mut machine, [1.0; 3], 2_000, 0.002, 0.0);
                assert_eq!(y.map(f64::to_bits), want.map(f64::to_bits));
            });
        }
    });
}
