//! Lorenz-96 at growing sizes (issue 12): how the kernels scale with the number of states.
//!
//! ```text
//! cargo bench --bench lorenz96
//! ```
//!
//! The model has N states, each `(x[i+1] - x[i-2]) * x[i-1] - x[i] + F` written out state
//! by state in the TOML (indices cyclic), F = 8, x0 = 8.01 and the others 8; RK4,
//! dt = 0.01 to T = 10 (1,001 steps: the last a sliver), nothing recorded.
//!
//! - `lorenz96/steady/N/jit`: a whole `Sim::run` natively;
//! - `lorenz96/steady/N/hand_written`: the same arithmetic in the same order in a Rust loop
//!   (checked first to land on the JIT's final state bit for bit);
//! - `lorenz96/build/N`: from `build()` to a ready native kernel, cold (the in-process
//!   cache emptied each time, no disk cache), for N = 10, 40, 100, 400 and 2,000.
//!
//! The issue's targets: JIT within 1.2× of the hand-written loop at N = 400 and 1.3× at
//! N = 10; build under 0.5 s at N = 400 and under 3 s at N = 2,000.
//!
//! The baseline, measured on the project's machine (2 cores) on 2026-12-02 before any of
//! issue 12's work (criterion medians): hand-written / JIT 56.5 / 56.5 µs at N = 10
//! (1.00×), 345 / 349 µs at 100 (1.01×), 1.23 / 2.52 ms at 400 (2.04×), 6.5 / 15.3 ms at
//! 2,000 (2.35×); build 72 ms, 402 ms, 3.41 s, and 82 s at N = 2,000 (one build).
//!
//! After the per-state loops, the inlining size rule and results stored as computed
//! (2026-12-03, same machine, busier: the hand-written loop itself ran 1.7× slower than the
//! day before): hand-written / JIT 97.0 / 81.6 µs at N = 10, 739 / 310 µs at 100,
//! 2.99 / 1.19 ms at 400, 14.3 / 8.6 ms at 2,000 (the JIT vectorizes what the loop does
//! not); builds 0.14 s, 0.09 s, 0.24 s and 2.5 s (`steady`'s one build each), against
//! 5.2 s and 177 s for N = 400 and 2,000 with the code before, in the same session.
//!
//! After long blocks are outlined for LLVM (dynlib-ir `passes::outline`; 2026-12-06, same
//! machine): hand-written / JIT 78.7 / 57.2 µs at N = 10, 619 / 258 µs at 100, 1.89 /
//! 0.97 ms at 400, 9.68 / 6.12 ms at 2,000; builds (medians) 63 ms, 126 ms (N = 40), 100 ms,
//! 166 ms and 448 ms (was about 1.4 s at N = 2,000 the day before): from N = 40 to 2,000
//! the build grows 3.6× for 50× the states.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dynlib::{RunOptions, SetupOptions};

const F: f64 = 8.0;
const DT: f64 = 0.01;
const T_END: f64 = 10.0;

/// The model's TOML, as an `inline:` URI.
fn model(n: usize) -> String {
    let mut s = String::from("inline:\n[model]\ntype = \"ode\"\n[states]\n");
    for i in 0..n {
        s.push_str(&format!("x{i} = {}\n", if i == 0 { F + 0.01 } else { F }));
    }
    s.push_str(&format!("[params]\nF = {F}\n[equations.rhs]\n"));
    for i in 0..n {
        let (a, b, c) = ((i + 1) % n, (i + n - 2) % n, (i + n - 1) % n);
        s.push_str(&format!("x{i} = \"(x{a} - x{b}) * x{c} - x{i} + F\"\n"));
    }
    s
}

/// The right-hand side in the model's operation order (N >= 4): the three states whose
/// neighbours wrap around apart, so the loop over the others indexes directly.
#[inline(always)]
fn rhs(x: &[f64], out: &mut [f64]) {
    let n = x.len();
    out[0] = (x[1] - x[n - 2]) * x[n - 1] - x[0] + F;
    out[1] = (x[2] - x[n - 1]) * x[0] - x[1] + F;
    for i in 2..n - 1 {
        out[i] = (x[i + 1] - x[i - 2]) * x[i - 1] - x[i] + F;
    }
    out[n - 1] = (x[0] - x[n - 3]) * x[n - 2] - x[n - 1] + F;
}

/// The BASE runner with RK4 written by hand: clip the step to the horizon, the RK4 step in
/// the reference's operation order, a finite proposal, commit.
fn hand_written(y0: &[f64]) -> Vec<f64> {
    let n = y0.len();
    let mut y = y0.to_vec();
    let (mut k1, mut k2, mut k3, mut k4, mut ys, mut prop) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    let mut t = 0.0f64;
    while t < T_END {
        let remaining = T_END - t;
        let dt = if DT > remaining && remaining > 0.0 {
            remaining
        } else {
            DT
        };
        rhs(&y, &mut k1);
        let half_dt = 0.5 * dt;
        for i in 0..n {
            ys[i] = y[i] + half_dt * k1[i];
        }
        rhs(&ys, &mut k2);
        for i in 0..n {
            ys[i] = y[i] + half_dt * k2[i];
        }
        rhs(&ys, &mut k3);
        for i in 0..n {
            ys[i] = y[i] + dt * k3[i];
        }
        rhs(&ys, &mut k4);
        let dt6 = dt / 6.0;
        for i in 0..n {
            prop[i] = y[i] + dt6 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        let t_prop = t + dt;
        if !(t_prop.abs() < f64::INFINITY && prop.iter().all(|x| x.abs() < f64::INFINITY)) {
            break;
        }
        std::mem::swap(&mut y, &mut prop);
        t = t_prop;
    }
    y
}

fn setup(n: usize) -> dynlib::Sim {
    dynlib::setup(
        &model(n),
        SetupOptions::default()
            .stepper("rk4")
            .jit(true)
            .tiered(false),
    )
    .unwrap()
}

fn steady(c: &mut Criterion) {
    let options = RunOptions::default().t_end(T_END).dt(DT).record(false);
    for n in [10, 100, 400, 2000] {
        let start = Instant::now();
        let mut jit = setup(n);
        eprintln!(
            "lorenz96 N = {n}: built in {:.3} s",
            start.elapsed().as_secs_f64()
        );
        let y0: Vec<f64> = (0..n).map(|i| if i == 0 { F + 0.01 } else { F }).collect();
        let res = jit.run(&options).unwrap();
        let hand = hand_written(&y0);
        let got: Vec<u64> = (0..n).map(|i| res.y_final.get(i).to_bits()).collect();
        let want: Vec<u64> = hand.iter().map(|x| x.to_bits()).collect();
        assert_eq!(
            got, want,
            "N = {n}: the hand-written loop computes something else"
        );
        let mut group = c.benchmark_group(format!("lorenz96/steady/{n}"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("hand_written", |b| {
            b.iter(|| hand_written(std::hint::black_box(&y0)))
        });
        group.bench_function("jit", |b| {
            b.iter(|| {
                jit.reset("initial").unwrap();
                jit.run(&options).unwrap().step_count
            })
        });
        group.finish();
    }
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("lorenz96/build");
    group.sample_size(10);
    for n in [10, 40, 100, 400, 2000] {
        let uri = model(n);
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                dynlib::runtime::clear_memory_cache();
                dynlib::build(
                    &uri,
                    SetupOptions::default()
                        .stepper("rk4")
                        .jit(true)
                        .tiered(false),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, steady, build);
criterion_main!(benches);
