//! New-process start-up with the disk cache (`jit = true, disk_cache = true`).
//!
//! ```text
//! cargo bench --bench cache
//! ```
//!
//! Each iteration starts a new `dynlib` process that builds Lorenz with RK4 and runs it for
//! one step (`dynlib run builtin://ode/lorenz --jit [--disk-cache] --t-end 0.01 --format
//! json`). Two measures per case:
//!
//! - `ready/*`: from the start of `main` to a ready kernel, as the process reports it
//!   (`timing.ready_s`): configuration, model load, lowering, IR passes, cache keys, and
//!   either compiling the runner unit the run takes (`jit_cold`, no disk cache; the other
//!   units compile only when called) or reading, verifying and loading it (`jit_warm`).
//!   Target: warm under 5 ms.
//! - `process/*`: the whole process, spawn to exit, which adds what the OS does before
//!   `main`: mapping the binary and `libLLVM-14.so` and running LLVM's static
//!   initialisers. `interp` (no jit at all) shows that floor.
//!
//! Measured on the project's machine (2 cores) on 2026-11-30: ready/jit_warm 3.04 ms,
//! ready/jit_cold 35.6 ms, ready/interp 1.52 ms; process/jit_warm 22.8 ms,
//! process/jit_cold 59.7 ms, process/interp 19.5 ms. The ~19 ms floor of every process is
//! the dynamic loading of libLLVM-14.so and its static constructors (an empty C program
//! linked against it takes 20–30 ms), paid even by runs that never compile.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

fn dynlib(config: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "builtin://ode/lorenz",
        "--t-end",
        "0.01",
        "--format",
        "json",
    ];
    args.extend(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args(&args)
        .env("DYNLIB_CONFIG", config)
        .output()
        .expect("dynlib runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn startup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "cache_root = {:?}\n",
            dir.path().join("cache").to_str().unwrap()
        ),
    )
    .unwrap();
    // Warm the cache, and check that warm processes really compile nothing.
    dynlib(&config, &["--jit", "--disk-cache"]);
    let warm = dynlib(&config, &["--jit", "--disk-cache"]);
    assert_eq!(warm["cache"]["compiled"], 0, "{warm}");
    assert_eq!(warm["cache"]["hits"], 3, "{warm}");

    let cases: [(&str, &[&str]); 3] = [
        ("interp", &[]),
        ("jit_cold", &["--jit"]),
        ("jit_warm", &["--jit", "--disk-cache"]),
    ];
    let mut group = c.benchmark_group("startup_lorenz_rk4");
    group.sample_size(20);
    for (name, extra) in cases {
        group.bench_function(format!("ready/{name}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let v = dynlib(&config, extra);
                        Duration::from_secs_f64(v["timing"]["ready_s"].as_f64().unwrap())
                    })
                    .sum()
            })
        });
        group.bench_function(format!("process/{name}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    dynlib(&config, extra);
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, startup);
criterion_main!(benches);
