//! Micro-benchmark of the dispatch loop: classical RK4 on the Lorenz system, the runner
//! loop, the stepper and four right-hand-side evaluations all in one IR function (the rhs
//! inlined by hand, as the inlining pass would), 10^6 steps.
//!
//! ```text
//! cargo run --release -p dynlib-interp --example lorenz_bench
//! ```
//!
//! Prints ns per RK4 step and ns per executed IR instruction (constants excluded: they
//! cost nothing at run time) and per decoded operation (after fusion into
//! superinstructions). The program and the Rust reference are `tests/common/lorenz.rs`,
//! shared with the tests and the criterion benchmark (`benches/dispatch.rs`), which is the
//! statistically sound measurement; this is the quick one.

use std::time::Instant;

use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
use dynlib_ir::InstData;

#[path = "../tests/common/lorenz.rs"]
mod lorenz;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = lorenz::program();
    dynlib_ir::verify_program(&program).map_err(|e| format!("{e:?}"))?;
    let func = program.find(lorenz::RUN).expect("built above");
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
    let want = lorenz::reference([1.0; 3], steps as usize, dt);
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
