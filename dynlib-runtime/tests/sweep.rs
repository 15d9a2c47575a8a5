//! Sweeps against the reference's worked example (analysis.md §1.9: the logistic map's
//! scalar and trajectory sweeps, to the bit), on any thread count and both backends;
//! shards that concatenate into the whole sweep; a two-parameter grid; failures as NaN.

use std::sync::Arc;

use dynlib_model::Config;
use dynlib_runtime::{
    linspace, sweep, sweep_blocks, Axis, BatchOptions, Grid, Keep, Kernel, RunOptions, SessionCore,
    SetupOptions, Stat, Status,
};
use serde_json::Value;

mod common;
use common::OSC;

fn golden() -> Value {
    let path = format!(
        "{}/../tests/data/golden/sweeps_ex1.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn logistic(jit: bool) -> Arc<Kernel> {
    let o = SetupOptions::default()
        .jit(jit)
        .tiered(false)
        .config(Config::default());
    dynlib_runtime::build("builtin://map/logistic", o).unwrap()
}

fn r_grid(values: Vec<f64>) -> Grid {
    Grid::new(vec![("r".into(), Axis::Values(values))]).unwrap()
}

#[test]
fn the_scalar_sweep_gives_the_references_numbers() {
    let g = golden();
    let s = &g["scalar"];
    let r = linspace(2.5, 4.0, 50);
    let base = RunOptions::default()
        .n(1000)
        .transient(500.0)
        .record_vars(&["x"]);
    let mut backends = vec![false];
    if cfg!(feature = "jit") {
        backends.push(true);
    }
    for jit in backends {
        let k = logistic(jit);
        let core = SessionCore::new(&k);
        let grid = r_grid(r.clone());
        for threads in [1, 2] {
            let batch = BatchOptions::default().threads(threads);
            let sw = sweep(&k, &core, &grid, &base, 0..grid.len(), &batch).unwrap();
            assert_eq!(sw.scalar("x", Stat::Final).unwrap(), floats(&s["final"]));
            let idx: Vec<usize> = s["indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            for stat in [Stat::Mean, Stat::Max, Stat::Min] {
                let all = sw.scalar("x", stat).unwrap();
                let picked: Vec<f64> = idx.iter().map(|&i| all[i]).collect();
                assert_eq!(picked, floats(&s[stat.name()]), "{} jit={jit}", stat.name());
            }
        }
    }
}

#[test]
fn the_trajectory_sweep_gives_the_references_samples() {
    let g = golden();
    let tr = &g["trajectory"];
    let k = logistic(false);
    let grid = r_grid(floats(&tr["values"]));
    let base = RunOptions::default()
        .n(20)
        .transient(100.0)
        .record_interval(1)
        .record_vars(&["x"]);
    let sw = sweep(
        &k,
        &SessionCore::new(&k),
        &grid,
        &base,
        0..4,
        &BatchOptions::default(),
    )
    .unwrap();
    let runs: Vec<_> = sw.results().into_iter().map(Option::unwrap).collect();
    for r in &runs {
        assert_eq!(r.len(), 21);
        assert_eq!(&r.t[..3], floats(&tr["t_first"]).as_slice());
        assert_eq!(r.t[20], tr["t_last"].as_f64().unwrap());
    }
    let x = |i: usize| runs[i].series("x").unwrap().to_vec();
    assert_eq!(&x(1)[..2], floats(&tr["r3.2_first"]).as_slice());
    assert_eq!(&x(2)[..4], floats(&tr["r3.5_cycle"]).as_slice());
    assert_eq!(&x(3)[..3], floats(&tr["r3.9_first"]).as_slice());
    let finals: Vec<f64> = (0..4).map(|i| x(i)[20]).collect();
    assert_eq!(finals, floats(&tr["final"]));
    assert_eq!(sw.scalar("x", Stat::Final).unwrap(), floats(&tr["final"]));
}

#[test]
fn shards_concatenate_into_the_whole_sweep_on_a_two_parameter_grid() {
    let k = dynlib_runtime::build(
        &format!("inline:{OSC}"),
        SetupOptions::default()
            .stepper("rk4")
            .config(Config::default()),
    )
    .unwrap();
    let core = SessionCore::new(&k);
    let grid = Grid::new(vec![
        ("k".into(), Axis::parse("1:4:4").unwrap()),
        ("c".into(), Axis::parse("0,0.1,0.5").unwrap()),
    ])
    .unwrap();
    assert_eq!(grid.len(), 12);
    let base = RunOptions::default().t_end(3.0).dt(0.01);
    let batch = BatchOptions::default();
    let whole = sweep(&k, &core, &grid, &base, 0..12, &batch).unwrap();
    let whole_x = whole.scalar("x", Stat::Final).unwrap();
    let mut joined = Vec::new();
    for s in 0..3 {
        let part = sweep(&k, &core, &grid, &base, grid.shard(s, 3).unwrap(), &batch).unwrap();
        joined.extend(part.scalar("x", Stat::Final).unwrap());
    }
    assert_eq!(
        joined.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        whole_x.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // Each point ran with its own parameters: point 5 is k = 2, c = 0.5, as one run gives.
    assert_eq!(grid.point(5), [2.0, 0.5]);
    let mut one = dynlib_runtime::Sim::new(k.clone());
    let r = one
        .run(base.clone().param("k", 2.0).param("c", 0.5))
        .unwrap();
    assert_eq!(whole_x[5], *r.series("x").unwrap().last().unwrap());
}

#[test]
fn failed_points_are_nan_with_their_status_and_bad_sweeps_are_refused() {
    let k = logistic(false);
    let core = SessionCore::new(&k);
    // r = 4.5 diverges: the reference returned its last finite value; here it is NaN.
    let grid = r_grid(vec![3.0, 4.5]);
    let base = RunOptions::default().n(50).record_vars(&["x"]);
    let sw = sweep(&k, &core, &grid, &base, 0..2, &BatchOptions::default()).unwrap();
    let y = sw.scalar("x", Stat::Final).unwrap();
    assert!(y[0].is_finite() && y[1].is_nan(), "{y:?}");
    assert_eq!(sw.statuses()[1], Ok(Status::NanDetected));
    assert!(sw.scalar("y", Stat::Final).is_err());
    let bad = r_grid(vec![1.0]);
    let renamed = Grid::new(vec![("rr".into(), Axis::Values(vec![1.0]))]).unwrap();
    let e = sweep(&k, &core, &renamed, &base, 0..1, &BatchOptions::default()).unwrap_err();
    assert!(e.to_string().contains("did you mean 'r'"), "{e}");
    assert!(sweep(&k, &core, &bad, &base, 0..2, &BatchOptions::default()).is_err());
    // The core was not changed by any of it.
    assert_eq!(core.state.y.to_f64(), [0.1]);
}

fn lyapunov_golden() -> Value {
    let path = format!(
        "{}/../tests/data/golden/lyapunov_sweeps.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The reference's Lyapunov sweeps (analysis.md §1.4–1.5, made by
/// tools/golden_lyapunov_sweeps.py with its Numba path): the same exponents to the bit,
/// on both backends, recording nothing.
#[test]
fn lyapunov_sweeps_give_the_references_exponents() {
    use dynlib_runtime::{LyapunovMle, LyapunovSpectrum, Observers};
    let g = lyapunov_golden();
    let mut backends = vec![false];
    if cfg!(feature = "jit") {
        backends.push(true);
    }
    let build = |uri: &str, obs: Observers, jit: bool| {
        let o = SetupOptions::default()
            .jit(jit)
            .tiered(false)
            .config(Config::default())
            .observers(obs);
        dynlib_runtime::build(uri, o).unwrap()
    };
    let run = |k: &Arc<Kernel>, name: &str, values: Vec<f64>, base: RunOptions| {
        let grid = Grid::new(vec![(name.into(), Axis::Values(values))]).unwrap();
        let batch = BatchOptions::default().threads(2);
        let n = grid.len();
        sweep(
            k,
            &SessionCore::new(k),
            &grid,
            &base.record(false),
            0..n,
            &batch,
        )
        .unwrap()
    };
    for jit in backends {
        let k = build("builtin://map/logistic", Observers::one(LyapunovMle), jit);
        let sw = run(
            &k,
            "r",
            linspace(3.5, 4.0, 6),
            RunOptions::default().n(1000).transient(500.0),
        );
        assert_eq!(sw.mle(), floats(&g["logistic"]["mle"]));
        let growth: Vec<f64> = sw
            .observers()
            .iter()
            .map(|o| o[0].output("log_growth").unwrap())
            .collect();
        assert_eq!(growth, floats(&g["logistic"]["log_growth"]));
        // Recording nothing traces nothing.
        assert!(sw.observers()[0][0].trace_t.is_empty());

        let k = build(
            "builtin://map/henon",
            Observers::one(LyapunovSpectrum::new(2)),
            jit,
        );
        let sw = run(&k, "a", vec![1.2, 1.4], RunOptions::default().n(2000));
        let want: Vec<Vec<f64>> = g["henon"]["spectrum"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        assert_eq!(sw.spectrum(2), want);

        let k = build("builtin://ode/lorenz", Observers::one(LyapunovMle), jit);
        let sw = run(
            &k,
            "rho",
            linspace(20.0, 30.0, 3),
            RunOptions::default().t_end(20.0).dt(0.01),
        );
        assert_eq!(sw.mle(), floats(&g["lorenz"]["mle"]));
    }
}

/// A sweep that keeps only statistics gives the numbers of one that keeps everything,
/// drops the samples as runs end, and refuses a statistic it did not keep.
#[test]
fn a_sweep_keeping_statistics_drops_samples_and_gives_the_same_numbers() {
    use dynlib_runtime::{sweep_keeping, Keep};
    let k = logistic(false);
    let core = SessionCore::new(&k);
    let grid = r_grid(linspace(2.5, 4.0, 50));
    let base = RunOptions::default()
        .n(1000)
        .transient(500.0)
        .record_vars(&["x"]);
    let batch = BatchOptions::default().threads(2);
    let all = sweep(&k, &core, &grid, &base, 0..50, &batch).unwrap();
    let keep = Keep::Stats {
        vars: vec!["x".into()],
        stat: Stat::Mean,
    };
    let kept = sweep_keeping(&k, &core, &grid, &base, 0..50, &batch, &keep).unwrap();
    assert_eq!(
        kept.scalar("x", Stat::Mean).unwrap(),
        all.scalar("x", Stat::Mean).unwrap()
    );
    assert!(kept
        .results()
        .iter()
        .all(|r| r.as_ref().unwrap().is_empty()));
    assert_eq!(kept.statuses(), all.statuses());
    let e = kept.scalar("x", Stat::Max).unwrap_err().to_string();
    assert!(e.contains("kept only the mean of x"), "{e}");
    // A variable the runs do not record is the sweep's error, before anything runs.
    let keep = Keep::Stats {
        vars: vec!["y".into()],
        stat: Stat::Final,
    };
    let e = sweep_keeping(&k, &core, &grid, &base, 0..50, &batch, &keep).unwrap_err();
    assert!(e.to_string().contains("'y' is not recorded"), "{e}");
}

#[test]
fn a_sweep_in_blocks_is_the_sweep_in_one_point_for_point() {
    // Blocks of 5 over a 2-parameter grid of 21 points, in lanes of 4 (each block one
    // pack and a run alone), against one batch: the same bits, statuses and counts, and
    // progress counted over the whole sweep.
    let k = dynlib_runtime::build(
        "builtin://ode/lorenz",
        SetupOptions::default()
            .stepper("rk4")
            .config(Config::default()),
    )
    .unwrap();
    let core = SessionCore::new(&k);
    let grid = Grid::new(vec![
        ("rho".into(), Axis::parse("20:30:7").unwrap()),
        ("sigma".into(), Axis::parse("9,10,11").unwrap()),
    ])
    .unwrap();
    let base = RunOptions::default().t_end(2.0).dt(0.01).record_interval(3);
    let mut batch = BatchOptions::default().threads(2);
    batch.lanes = Some(4);
    let whole = sweep(&k, &core, &grid, &base, 0..21, &batch).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let counted = batch
        .clone()
        .progress(move |p| log.lock().unwrap().push((p.done, p.total, p.steps)));
    let keep = Keep::Runs;
    let blocks = sweep_blocks(&k, &core, &grid, &base, 0..21, &counted, &keep, Some(5)).unwrap();
    assert_eq!(blocks.block_points(), 5);
    let parts: Vec<_> = blocks.map(Result::unwrap).collect();
    assert_eq!(
        parts.iter().map(|p| p.points()).collect::<Vec<_>>(),
        [0..5, 5..10, 10..15, 15..20, 20..21]
    );
    let mut k_run = 0;
    for part in &parts {
        for j in 0..part.runs().len() {
            let (a, b) = (part.result(j).unwrap(), whole.result(k_run).unwrap());
            assert_eq!(a.len(), b.len());
            for name in ["x", "z"] {
                let bits = |r: &dynlib_runtime::Results| {
                    r.series(name)
                        .unwrap()
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(&a), bits(&b), "point {k_run} {name}");
            }
            assert_eq!(part.statuses()[j], whole.statuses()[k_run]);
            // Each block of 5: one pack of 4, then its fifth point alone (and the last
            // block's one point alone).
            let lanes = part.runs()[j].as_ref().unwrap().output().lanes;
            assert_eq!(
                lanes,
                if j < 4 && part.runs().len() == 5 {
                    4
                } else {
                    1
                }
            );
            k_run += 1;
        }
    }
    assert_eq!(k_run, 21);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
        (1..=21).map(|d| (d, 21)).collect::<Vec<_>>()
    );
    // Steps count on over the blocks, to every point's.
    let steps: u64 = parts
        .iter()
        .flat_map(|p| p.runs().iter().flatten().map(|e| e.output().steps))
        .sum();
    assert!(seen.windows(2).all(|w| w[0].2 <= w[1].2));
    assert_eq!(seen.last().unwrap().2, steps);
    // A sweep of no points is one empty block (its checks run); no block has no points.
    let none = sweep_blocks(&k, &core, &grid, &base, 3..3, &batch, &keep, None).unwrap();
    assert_eq!(
        none.map(|b| b.unwrap().runs().len()).collect::<Vec<_>>(),
        [0]
    );
    let e = sweep_blocks(&k, &core, &grid, &base, 0..21, &batch, &keep, Some(0)).err();
    assert!(e.unwrap().to_string().contains("at least 1"));
}

#[test]
fn a_later_block_s_failing_first_point_fails_alone() {
    // Only the sweep's first point is checked for options wrong for every point; a later
    // block's first point whose run cannot start is that point's failure, as in one batch.
    const INT_MAP: &str = r#"
[model]
type = "map"
dtype = "int64"
[states]
x = 7
[params]
a = 3
[equations.rhs]
x = "a*x % 1000"
"#;
    let k = dynlib_runtime::build(
        &format!("inline:{INT_MAP}"),
        SetupOptions::default().config(Config::default()),
    )
    .unwrap();
    let core = SessionCore::new(&k);
    let grid = Grid::new(vec![("a".into(), Axis::Values(vec![2.0, 3.0, 1e30, 5.0]))]).unwrap();
    let base = RunOptions::default().n(4);
    let batch = BatchOptions::default();
    let whole = sweep(&k, &core, &grid, &base, 0..4, &batch).unwrap();
    assert!(whole.statuses()[2].is_err(), "{:?}", whole.statuses());
    let keep = Keep::Runs;
    let parts: Vec<_> = sweep_blocks(&k, &core, &grid, &base, 0..4, &batch, &keep, Some(2))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let statuses: Vec<_> = parts.iter().flat_map(|p| p.statuses()).collect();
    assert_eq!(statuses, whole.statuses());
}
