//! Integer models keep every value exact, all 64 bits, end to end (issue 8, item 12): model
//! values, run options, assignments, presets, lag rings, aux, recorded series, event logs,
//! final states and snapshot files. 2**53 + 1 is the first integer a float cannot hold.

use dynlib_model::{Config, Number};
use dynlib_runtime::{Column, RunOptions, SetupOptions, Sim};

const BIG: i64 = 9_007_199_254_740_993; // 2**53 + 1

fn model(dtype: &str) -> String {
    format!(
        "inline:[model]\ntype='map'\ndtype='{dtype}'\n[states]\nx = {BIG}\ny = 0\n[params]\nk = {}\n\
         [equations.rhs]\nx = 'x + 2'\ny = 'lag_x(1) - k'\n[aux]\nd = 'x - k'\n\
         [events.big]\nphase = 'end'\ncond = 'x > {}'\nlog = ['t', 'x', 'k', 'aux:d']\n",
        BIG + 2,
        BIG + 2
    )
}

fn sim(uri: &str, jit: bool) -> Sim {
    let o = SetupOptions::default()
        .config(Config::default())
        .jit(jit)
        .tiered(false);
    dynlib_runtime::setup(uri, o).unwrap()
}

#[test]
fn an_int64_run_records_every_value_exactly() {
    let mut s = sim(&model("int64"), false);
    let res = s
        .run(RunOptions::default().n(3).record_vars(&["x", "y", "aux.d"]))
        .unwrap();
    assert_eq!(
        res.int_series("x").unwrap(),
        [BIG, BIG + 2, BIG + 4, BIG + 6]
    );
    // lag_x(1) is the x before the current one, exactly: y(n+1) = x(n-1) - k.
    assert_eq!(res.int_series("y").unwrap(), [0, -2, -2, 0]);
    assert_eq!(res.int_series("d").unwrap(), [-2, 0, 2, 4]);
    assert!(matches!(res.column("x").unwrap(), Column::Int(_)));
    let log = res.event("big").unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log.values("x").unwrap(),
        [Number::Int(BIG + 4), Number::Int(BIG + 6)]
    );
    assert_eq!(log.values("k").unwrap(), [Number::Int(BIG + 2); 2]);
    assert!(matches!(log.values("t").unwrap()[0], Number::Float(_)));
    assert_eq!(s.state_value("x").unwrap(), Number::Int(BIG + 6));
    assert_eq!(s.param_value("k").unwrap(), Number::Int(BIG + 2));
    assert_eq!(
        s.results().unwrap().y_final.numbers()[0],
        Number::Int(BIG + 6)
    );
}

#[test]
fn run_options_assignments_and_presets_take_exact_integers() {
    let mut s = sim(&model("int64"), false);
    s.run(
        RunOptions::default()
            .n(1)
            .ic("x", i64::MAX - 2)
            .param("k", i64::MAX - 7),
    )
    .unwrap();
    assert_eq!(s.state_value("x").unwrap(), Number::Int(i64::MAX));
    assert_eq!(s.state_value("y").unwrap(), Number::Int(5));
    assert_eq!(s.param_value("k").unwrap(), Number::Int(i64::MAX - 7));
    // One more step would overflow x: a fault, not a wrapped number.
    assert!(s.run(RunOptions::default().n(1)).is_err());
    s.run(RunOptions::default().n(1).param("k", i64::MIN)).ok();
    assert_eq!(s.param_value("k").unwrap(), Number::Int(i64::MIN));
    s.assign(&[("x", BIG)], false).unwrap();
    assert_eq!(s.state_value("x").unwrap(), Number::Int(BIG));
    s.add_preset_values(
        "p",
        Some(&[("x".to_string(), Number::Int(BIG + 8))]),
        None,
        false,
    )
    .unwrap();
    s.apply_preset("p").unwrap();
    assert_eq!(s.state_value("x").unwrap(), Number::Int(BIG + 8));
    // Through a preset file and back.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("presets.toml");
    s.save_preset("p", &file, false).unwrap();
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains(&(BIG + 8).to_string()));
    let mut t = sim(&model("int64"), false);
    t.load_presets(&file, "*", dynlib_runtime::OnConflict::Replace)
        .unwrap();
    t.apply_preset("p").unwrap();
    assert_eq!(t.state_value("x").unwrap(), Number::Int(BIG + 8));
    // int32 models refuse what does not fit, exactly at the edge.
    let mut s32 = sim(
        "inline:[model]\ntype='map'\ndtype='int32'\n[states]\nn=0\n[equations.rhs]\nn='n'\n",
        false,
    );
    s32.assign(&[("n", i32::MAX as i64)], false).unwrap();
    assert!(s32.assign(&[("n", i32::MAX as i64 + 1)], false).is_err());
}

#[test]
fn snapshots_keep_integers_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let mut s = sim(&model("int64"), false);
    s.run(RunOptions::default().n(2)).unwrap();
    s.export_snapshot(&file, None).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&(BIG + 4).to_string()), "{text}");
    let mut t = sim(&model("int64"), false);
    t.import_snapshot(&file).unwrap();
    // State, parameters and the lag ring came back exactly.
    assert_eq!(t.session(), s.session());
    let ring = t.session().workspace.as_ref().unwrap().ring.numbers();
    assert!(ring.contains(&Number::Int(BIG + 2)), "{ring:?}");
}

#[cfg(feature = "jit")]
#[test]
fn native_code_keeps_them_exact_too() {
    for dtype in ["int64", "int32"] {
        let uri = if dtype == "int64" {
            model(dtype)
        } else {
            "inline:[model]\ntype='map'\ndtype='int32'\n[states]\nx=2147483000\n[equations.rhs]\nx='x + 1'\n[events.e]\ncond='x > 0'\nlog=['x']\n".to_string()
        };
        let mut a = sim(&uri, false);
        let mut b = sim(&uri, true);
        let ra = a.run(RunOptions::default().n(5)).unwrap().clone();
        let rb = b.run(RunOptions::default().n(5)).unwrap().clone();
        let cols = |r: &dynlib_runtime::Results| -> Vec<Vec<Number>> {
            r.all_series()
                .map(|(_, c)| (0..c.len()).map(|i| c.number(i)).collect())
                .collect()
        };
        assert_eq!(cols(&ra), cols(&rb), "{dtype}");
        assert_eq!(ra.events, rb.events, "{dtype}");
        assert_eq!(ra.y_final, rb.y_final, "{dtype}");
    }
}
