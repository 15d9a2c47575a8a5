//! End-to-end simulation speed in the interpreter (`jit = false`): a whole `Sim::run`
//! (option resolution, buffers, the runner loop, results), per model and stepper.
//!
//! ```text
//! cargo bench --bench simulate
//! ```
//!
//! Each benchmark runs 10^4 steps; criterion reports the time per run, so divide by 10^4
//! for the time per step. For comparison, the Python reference (dynlib 0.42.0, same run:
//! `sim.run(T=100, dt=0.01)` after a reset, best of 3) took 15.3 µs per Lorenz RK4 step
//! interpreted (`jit=False`) and 0.204 µs with numba (`jit=True`) on the project's machine
//! (`tools/bench_reference.py`);
//! this benchmark measured 0.50 µs per step there (2026-11-25).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dynlib::{RunOptions, SetupOptions};

fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("interp_10k_steps");
    group.sample_size(20);
    for (model, stepper, t_end, dt) in [
        ("ode/lorenz", "rk4", 100.0, 0.01),
        ("ode/lorenz", "euler", 100.0, 0.01),
        ("ode/vanderpol", "ab3", 100.0, 0.01),
        ("ode/hodgkin-huxley", "rk4", 100.0, 0.01),
        ("map/logistic", "map", 0.0, 0.0),
    ] {
        let uri = format!("builtin://{model}");
        let mut sim = dynlib::setup(&uri, SetupOptions::default().stepper(stepper)).unwrap();
        let o = if stepper == "map" {
            RunOptions::default().n(10_000)
        } else {
            RunOptions::default().t_end(t_end).dt(dt)
        };
        group.bench_function(BenchmarkId::new(model, stepper), |b| {
            b.iter(|| {
                sim.reset("initial").unwrap();
                sim.run(&o).unwrap().len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
