//! Lanes: runs packed side by side into one run of the replicated model give every run the
//! bits it gives alone — for every builtin model without events, every stepper that can
//! run lanes, both backends, with aux, lags, transients, record intervals and selections,
//! float32 and integer models; a run that fails in a pack fails alone; what cannot run in
//! lanes says why.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynlib_model::Config;
use dynlib_runtime::{
    run_batch, BatchOptions, BatchRun, Column, Kernel, LyapunovMle, Observers, Results, RunOptions,
    SessionCore, SetupOptions, Status,
};

/// Every recorded series as bits (float or integer models alike), times first.
fn series(r: &Results) -> Vec<Vec<u64>> {
    let mut all = vec![r.t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()];
    for name in r.names() {
        all.push(match r.column(name).unwrap() {
            Column::Float(v) => v.iter().map(|x| x.to_bits()).collect(),
            Column::Int(v) => v.iter().map(|&x| x as u64).collect(),
        });
    }
    all
}

fn backends() -> Vec<bool> {
    if cfg!(feature = "jit") {
        vec![false, true]
    } else {
        vec![false]
    }
}

fn kernel(uri: &str, stepper: &str, jit: bool) -> Arc<Kernel> {
    let o = SetupOptions::default()
        .stepper(stepper)
        .jit(jit)
        .tiered(false)
        .config(Config::default());
    dynlib_runtime::build(uri, o).unwrap()
}

/// Everything observable of one run's outcome, as bits and text.
fn observed(run: &BatchRun) -> String {
    match run {
        Err(e) => format!("error: {e}"),
        Ok(ex) => {
            let r = ex.results();
            let out = ex.output();
            let c = ex.committed();
            let w = c.state.workspace.as_ref().unwrap();
            format!(
                "{:?} {} bits {:?} step {:?} names {:?} y {:?} p {:?} t {:x} dt {:x} steps {} \
                 count {} warnings {:?} variant {} ws {:?} {:?} {:?} {:?} shift {:x}",
                out.status,
                ex.failure().map(|e| e.to_string()).unwrap_or_default(),
                series(&r),
                r.step,
                r.names(),
                out.y_final.bits(),
                out.params_final.bits(),
                out.t_final.to_bits(),
                out.dt_final.to_bits(),
                out.steps,
                c.state.step_count,
                r.warnings,
                out.variant.name(),
                w.vectors.iter().map(|v| v.bits()).collect::<Vec<_>>(),
                w.scalars.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                w.ring.bits(),
                w.head,
                ex.time_shift().to_bits(),
            )
        }
    }
}

/// The batch with `width` lanes equals the batch without, run for run; returns how many
/// runs went in a pack.
fn same_with_lanes(k: &Arc<Kernel>, runs: &[RunOptions], width: usize, what: &str) -> usize {
    let core = SessionCore::new(k);
    let alone = run_batch(k, &core, runs, &BatchOptions::default().lanes(1)).unwrap();
    let packed = run_batch(
        k,
        &core,
        runs,
        &BatchOptions::default().lanes(width).threads(2),
    )
    .unwrap();
    assert_eq!(alone.len(), packed.len());
    let mut in_lanes = 0;
    for (i, (a, p)) in alone.iter().zip(&packed).enumerate() {
        assert_eq!(observed(p), observed(a), "{what}: run {i}");
        assert_eq!(a.as_ref().map_or(1, |ex| ex.output().lanes), 1);
        in_lanes += p.as_ref().map_or(0, |ex| (ex.output().lanes > 1) as usize);
    }
    in_lanes
}

/// `count` runs whose parameters differ by a few percent each.
fn varied(k: &Kernel, base: RunOptions, count: usize) -> Vec<RunOptions> {
    let m = k.model();
    (0..count)
        .map(|i| {
            let mut o = base.clone();
            for (j, p) in m.params.iter().enumerate() {
                let f = 1.0 + 0.01 * ((i * (j + 1)) % 7) as f64;
                o = o.param(&p.name, p.value.as_f64() * f);
            }
            o
        })
        .collect()
}

#[test]
fn every_builtin_model_without_events_runs_the_same_in_lanes() {
    let models: Vec<String> = dynlib_model::uri::builtin_models()
        .iter()
        .map(|b| format!("builtin://{}/{}", b.kind, b.name))
        .collect();
    let steppers = dynlib_runtime::stepper::registry();
    let mut checked = 0;
    for jit in backends() {
        for uri in &models {
            let probe = kernel(
                uri,
                if uri.contains("/map/") { "map" } else { "rk4" },
                false,
            );
            if !probe.model().events.is_empty() {
                continue;
            }
            for s in steppers.iter().filter(|s| s.lanes) {
                if (s.kind == dynlib_runtime::stepper::StepperKind::Map) != uri.contains("/map/") {
                    continue;
                }
                // Native code for the common steppers; every stepper interpreted.
                if jit && !["rk4", "ab3", "map"].contains(&s.name) {
                    continue;
                }
                let k = kernel(uri, s.name, jit);
                let base = if uri.contains("/map/") {
                    RunOptions::default()
                        .n(300)
                        .record_interval(3)
                        .transient(20.0)
                } else {
                    RunOptions::default()
                        .t_end(2.0)
                        .dt(0.01)
                        .record_interval(3)
                        .transient(0.25)
                };
                // 11 runs in lanes of 4: two packs and three alone.
                let runs = varied(&k, base, 11);
                let what = format!("{uri} {} jit={jit}", s.name);
                let packed = same_with_lanes(&k, &runs, 4, &what);
                assert!(packed == 8 || packed == 0, "{what}: {packed} packed");
                checked += (packed == 8) as usize;
            }
        }
    }
    // A NaN in one of the pack's runs (a divergent parameter) sends a pack alone, so most
    // but not necessarily all packs stay packed; nearly every pair must have been.
    assert!(
        checked >= 30,
        "{checked} model and stepper pairs ran packed"
    );
}

/// Aux (one through a lag) and lags in the equations: the rings split back into lanes.
const LAGGED: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
v = 0.0
[params]
k = 4.0
c = 0.1
[functions.spring]
args = ["q"]
expr = "-k*q"
[equations.rhs]
x = "v"
v = "spring(x) - c*v + 0.5*lag_x(3)"
[aux]
energy = "0.5*v*v + 0.5*k*x*x"
prev_v = "lag_v(2)"
"#;

#[test]
fn lags_aux_functions_and_selections_split_back_into_lanes() {
    for jit in backends() {
        for stepper in ["rk4", "ab2", "euler"] {
            let k = kernel(&format!("inline:{LAGGED}"), stepper, jit);
            let base = RunOptions::default()
                .t_end(3.0)
                .dt(0.01)
                .transient(0.5)
                .record_interval(7)
                .record_vars(&["v", "aux.prev_v", "energy"]);
            let runs: Vec<RunOptions> = (0..10)
                .map(|i| {
                    base.clone()
                        .param("k", 1.0 + i as f64 * 0.5)
                        .ic("x", 0.1 * i as f64)
                })
                .collect();
            assert_eq!(same_with_lanes(&k, &runs, 5, stepper), 10);
            // Recording nothing, and the default recording (every state).
            let quiet: Vec<RunOptions> = runs.iter().map(|o| o.clone().record(false)).collect();
            same_with_lanes(&k, &quiet, 5, "no record");
            let every: Vec<RunOptions> = (0..6)
                .map(|i| RunOptions::default().t_end(1.0).param("c", i as f64))
                .collect();
            same_with_lanes(&k, &every, 3, "defaults");
        }
    }
}

#[test]
fn float32_and_integer_models_run_the_same_in_lanes() {
    const INT_MAP: &str = r#"
[model]
type = "map"
dtype = "int64"
[states]
x = 7
[params]
a = 1103515245
c = 12345
m = 2147483648
[equations.rhs]
x = "(a*x + c) % m"
"#;
    for jit in backends() {
        let k = kernel(&format!("inline:{INT_MAP}"), "map", jit);
        let runs: Vec<RunOptions> = (0..8)
            .map(|i| RunOptions::default().n(100).param("c", 12345 + i))
            .collect();
        assert_eq!(same_with_lanes(&k, &runs, 4, "int64"), 8);
        let o = SetupOptions::default()
            .stepper("rk4")
            .jit(jit)
            .tiered(false)
            .dtype("float32")
            .config(Config::default());
        let k = dynlib_runtime::build("builtin://ode/lorenz", o).unwrap();
        let runs = varied(&k, RunOptions::default().t_end(1.0).dt(0.001), 8);
        assert_eq!(same_with_lanes(&k, &runs, 8, "float32"), 8);
    }
}

#[test]
fn a_run_that_fails_in_a_pack_fails_alone() {
    for jit in backends() {
        // r = 5 leaves [0, 1] and diverges to -inf, then NaN.
        let k = kernel("builtin://map/logistic", "map", jit);
        let runs: Vec<RunOptions> = (0..8)
            .map(|i| {
                let r = if i == 5 { 5.0 } else { 3.5 + 0.05 * i as f64 };
                RunOptions::default().n(2000).param("r", r)
            })
            .collect();
        same_with_lanes(&k, &runs, 8, "divergent lane");
        let core = SessionCore::new(&k);
        let out = run_batch(&k, &core, &runs, &BatchOptions::default().lanes(8)).unwrap();
        for (i, run) in out.iter().enumerate() {
            let ex = run.as_ref().unwrap();
            let failed = i == 5;
            assert_eq!(ex.output().status == Status::NanDetected, failed, "run {i}");
            // The pack could not finish, so its runs went alone.
            assert_eq!(ex.output().lanes, 1);
        }
        // An integer division by zero in one lane.
        const DIV: &str = r#"
[model]
type = "map"
dtype = "int64"
[states]
x = 100
[params]
d = 3
[equations.rhs]
x = "x // d + 50"
"#;
        let k = kernel(&format!("inline:{DIV}"), "map", jit);
        let runs: Vec<RunOptions> = (0..4)
            .map(|i| {
                RunOptions::default()
                    .n(10)
                    .param("d", i + 1 - 2 * (i == 2) as i64 * 2)
            })
            .collect();
        same_with_lanes(&k, &runs, 4, "integer fault");
        // A bad option stays with its run; the rest of the group goes alone.
        let mut runs = varied(&k, RunOptions::default().n(10), 4);
        runs[1] = runs[1].clone().param("nope", 1.0);
        same_with_lanes(&k, &runs, 4, "bad option");
    }
}

#[test]
fn batches_pack_by_default_where_it_pays_and_progress_counts_runs() {
    let k = kernel("builtin://ode/lorenz", "rk4", false);
    let core = SessionCore::new(&k);
    let base = RunOptions::default().t_end(0.05).dt(0.01);
    let done = Arc::new(AtomicUsize::new(0));
    let seen = done.clone();
    let batch = BatchOptions::default().progress(move |p| {
        seen.fetch_max(p.done, Ordering::SeqCst);
    });
    // 64 runs of a 3-state model: 8 packs of the default 8 lanes.
    let runs = varied(&k, base.clone(), 64);
    let out = run_batch(&k, &core, &runs, &batch).unwrap();
    assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 8));
    assert_eq!(done.load(Ordering::SeqCst), 64);
    // Fewer runs than that go alone by default.
    let few = varied(&k, base, 20);
    let out = run_batch(&k, &core, &few, &BatchOptions::default()).unwrap();
    assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 1));
    // Runs that differ in more than values (here the horizon) are not packed together.
    let mut mixed = varied(&k, RunOptions::default().dt(0.01), 8);
    for (i, o) in mixed.iter_mut().enumerate() {
        *o = o.clone().t_end(0.01 * (1 + i % 2) as f64);
    }
    same_with_lanes(&k, &mixed, 4, "mixed horizons");
    // Native code without a disk cache packs by default only a batch of many steps (the
    // lane kernel's compile must pay for itself).
    if cfg!(feature = "jit") {
        let native = kernel("builtin://ode/lorenz", "rk4", true);
        let core = SessionCore::new(&native);
        let short = varied(&native, RunOptions::default().t_end(0.05).dt(0.01), 64);
        let out = run_batch(&native, &core, &short, &BatchOptions::default()).unwrap();
        assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 1));
        let long = varied(&native, RunOptions::default().t_end(2000.0).dt(0.01), 64);
        let out = run_batch(&native, &core, &long, &BatchOptions::default()).unwrap();
        assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 8));
    }
    let out = run_batch(&k, &core, &mixed, &BatchOptions::default().lanes(4)).unwrap();
    assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 1));
}

#[test]
fn what_cannot_run_in_lanes_says_why() {
    let refused = |k: &Arc<Kernel>| {
        let core = SessionCore::new(k);
        let runs = vec![RunOptions::default().t_end(0.1); 4];
        run_batch(k, &core, &runs, &BatchOptions::default().lanes(4))
            .unwrap_err()
            .to_string()
    };
    let k = kernel("builtin://ode/lorenz", "rk45", false);
    let e = refused(&k);
    assert!(e.contains("rk45") && e.contains("rk4"), "{e}");
    let k = kernel("builtin://ode/izhikevich", "rk4", false);
    let e = refused(&k);
    assert!(e.contains("event"), "{e}");
    let o = SetupOptions::default()
        .stepper("rk4")
        .observers(Observers::one(LyapunovMle))
        .config(Config::default());
    let k = dynlib_runtime::build("builtin://ode/lorenz", o).unwrap();
    let e = refused(&k);
    assert!(e.contains("observers"), "{e}");
    // By default such kernels simply run alone.
    let core = SessionCore::new(&k);
    let runs = vec![RunOptions::default().t_end(0.1); 64];
    let out = run_batch(&k, &core, &runs, &BatchOptions::default()).unwrap();
    assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 1));
    let k = kernel("builtin://ode/lorenz", "rk4", false);
    let core = SessionCore::new(&k);
    let e = run_batch(&k, &core, &runs, &BatchOptions::default().lanes(0)).unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
}

#[test]
fn sweeps_pack_their_points_and_give_the_same_numbers() {
    use dynlib_runtime::{sweep, sweep_keeping, Axis, Grid, Keep, Stat};
    for jit in backends() {
        let k = kernel("builtin://map/logistic", "map", jit);
        let core = SessionCore::new(&k);
        let grid = Grid::new(vec![("r".into(), Axis::parse("2.5:4.0:101").unwrap())]).unwrap();
        let base = RunOptions::default().n(200).transient(100.0);
        let alone = BatchOptions::default().lanes(1);
        // By default interpreted (native code packs so short a sweep only when asked).
        let packed = if jit {
            BatchOptions::default().lanes(8)
        } else {
            BatchOptions::default()
        };
        let a = sweep(&k, &core, &grid, &base, 0..101, &alone).unwrap();
        let p = sweep(&k, &core, &grid, &base, 0..101, &packed).unwrap();
        let lanes: Vec<usize> = p
            .runs()
            .iter()
            .map(|r| r.as_ref().unwrap().output().lanes)
            .collect();
        assert_eq!(lanes.iter().filter(|&&l| l == 8).count(), 96, "{lanes:?}");
        for (x, y) in a.runs().iter().zip(p.runs()) {
            assert_eq!(observed(y), observed(x));
        }
        let keep = Keep::Stats {
            vars: vec!["x".into()],
            stat: Stat::Mean,
        };
        let shard = 7..90;
        let sa = sweep_keeping(&k, &core, &grid, &base, shard.clone(), &alone, &keep).unwrap();
        let sp = sweep_keeping(&k, &core, &grid, &base, shard, &packed, &keep).unwrap();
        let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(sp.scalar("x", Stat::Mean).unwrap()),
            bits(sa.scalar("x", Stat::Mean).unwrap())
        );
    }
}

#[test]
fn memory_limits_end_runs_as_they_end_alone() {
    // Limits near what the runs need, and buffers that must grow: outcomes that depend on
    // buffer sizes (a pack's differ) are never packed, so each run ends as it ends alone.
    let k = kernel("builtin://map/logistic", "map", false);
    let cases = [
        RunOptions::default().n(100).memory_limit(2430),
        RunOptions::default()
            .n(100)
            .capacities(1, 1)
            .memory_limit(3000),
        RunOptions::default()
            .n(50)
            .capacities(100, 1)
            .memory_limit(2000),
        RunOptions::default().n(100).capacities(1, 1),
        RunOptions::default().n(100).memory_limit(1 << 20),
    ];
    for (c, base) in cases.into_iter().enumerate() {
        let runs: Vec<RunOptions> = (0..8)
            .map(|i| base.clone().param("r", 3.0 + 0.1 * i as f64))
            .collect();
        let packed = same_with_lanes(&k, &runs, 8, &format!("case {c}"));
        // Only the last (every sample fits from the start, far within the limit) packs.
        assert_eq!(packed, if c == 4 { 8 } else { 0 }, "case {c}");
    }
    let core = SessionCore::new(&k);
    let runs = varied(&k, RunOptions::default().n(10), 8);
    let e = run_batch(&k, &core, &runs, &BatchOptions::default().lanes(65)).unwrap_err();
    assert!(e.to_string().contains("more than the 64"), "{e}");
    // Wider than the batch: nothing to pack, nothing refused.
    let out = run_batch(&k, &core, &runs, &BatchOptions::default().lanes(9)).unwrap();
    assert!(out.iter().all(|r| r.as_ref().unwrap().output().lanes == 1));
}
