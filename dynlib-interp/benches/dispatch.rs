//! Dispatch-loop benchmark: classical RK4 on the Lorenz system in the interpreter.
//!
//! ```text
//! cargo bench -p dynlib-interp --bench dispatch -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! - `lorenz_rk4/step`: ns per RK4 step inside one long call (runner loop, stepper and
//!   right-hand side in one IR function): criterion's "time" is the time of one step.
//! - `lorenz_rk4/step_with_calls`: the same with the right-hand side a separate IR
//!   function called four times per step (call overhead included).
//! - `lorenz_rk4/call_one_step`: one call from Rust doing one step (the boundary cost:
//!   argument checks, frame setup, result conversion).
//!
//! The programs are those of `tests/common/lorenz.rs`, shared with the tests and the
//! `lorenz_bench` example; each benchmark first checks its result against plain Rust.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::Program;

#[path = "../tests/common/lorenz.rs"]
mod lorenz;

const DT: f64 = 0.001;

/// Runs `steps` steps from `y` with the program's runner; returns the time it took.
fn run(interp: &Interpreter, machine: &mut Machine, y: &mut [f64; 3], steps: u64) -> Duration {
    let start = Instant::now();
    call(interp, machine, y, steps);
    start.elapsed()
}

/// One call of the program's runner: `steps` steps from `y`.
fn call(interp: &Interpreter, machine: &mut Machine, y: &mut [f64; 3], steps: u64) {
    let func = interp.program().find(lorenz::RUN).expect("the runner");
    let mut scratch = [[0.0f64; 3]; 5];
    let [k1, k2, k3, k4, ys] = &mut scratch;
    let mut out = [Scalar::F64(0.0)];
    interp
        .call_into(
            machine,
            func,
            &mut [
                Arg::PtrF64(y),
                Arg::PtrF64(k1),
                Arg::PtrF64(k2),
                Arg::PtrF64(k3),
                Arg::PtrF64(k4),
                Arg::PtrF64(ys),
                Arg::I64(steps as i64),
                Arg::F64(DT),
                Arg::F64(0.0),
            ],
            &mut out,
        )
        .expect("no trap");
    std::hint::black_box(out);
}

/// Checks the interpreter against plain Rust before timing it.
fn checked(program: Program) -> Interpreter {
    let interp = Interpreter::new(&program).expect("the Lorenz program decodes");
    let mut y = [1.0; 3];
    run(&interp, &mut Machine::new(), &mut y, 1000);
    let want = lorenz::reference([1.0; 3], 1000, DT);
    assert_eq!(
        y.map(f64::to_bits),
        want.map(f64::to_bits),
        "interpreter != Rust"
    );
    interp
}

fn lorenz_rk4(c: &mut Criterion) {
    let mut group = c.benchmark_group("lorenz_rk4");
    for (name, program) in [
        ("step", lorenz::program()),
        ("step_with_calls", lorenz::program_with_calls()),
    ] {
        let interp = checked(program);
        let mut machine = Machine::new();
        // One call of `iters` steps: the reported time per iteration is per step. The
        // state stays on the attractor however long the run.
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut y = [1.0; 3];
                run(&interp, &mut machine, &mut y, iters)
            })
        });
    }
    let interp = checked(lorenz::program());
    let mut machine = Machine::new();
    let mut y = [1.0; 3];
    group.bench_function("call_one_step", |b| {
        b.iter(|| call(&interp, &mut machine, &mut y, 1))
    });
    group.finish();
}

criterion_group!(benches, lorenz_rk4);
criterion_main!(benches);
