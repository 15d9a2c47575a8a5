//! The session API end to end: events, aux, lags, transients, resume and stitching,
//! record_interval, stop conditions, failures, snapshots, presets, configuration, and bad
//! options (a clear error, the session unchanged).

use dynlib_model::Config;
use dynlib_runtime::{
    OnConflict, RunOptions, RuntimeError, SessionConfig, SetupOptions, Sim, Status,
};

mod common;
use common::OSC;

fn sim(model: &str, stepper: &str) -> Sim {
    let options = SetupOptions::default()
        .stepper(stepper)
        .config(Config::default());
    dynlib_runtime::setup(&format!("inline:{model}"), options).unwrap()
}

#[test]
fn events_log_by_name_and_by_tag_with_global_codes() {
    let mut s = sim(OSC, "rk4");
    let res = s.run(RunOptions::default().t_end(10.0).dt(0.0625)).unwrap();
    let up = res.event("upcross").unwrap();
    let down = res.event("downcross").unwrap();
    let kick = res.event("kick").unwrap();
    assert_eq!(up.fields, ["t", "x", "v", "aux:energy"]);
    assert!(
        up.len() >= 2 && down.len() >= 2,
        "{} {}",
        up.len(),
        down.len()
    );
    // The start-phase kick fires while 3 <= t < 3.06: once at t = 3.0 (the step grid is
    // 1/16), logging v after its action.
    assert_eq!(kick.len(), 1);
    assert_eq!(kick.column("t").unwrap(), [3.0]);
    let i = res.t.iter().position(|&t| t == 3.0).unwrap();
    assert_eq!(
        kick.column("v").unwrap()[0],
        res.series("v").unwrap()[i] + 1.0,
        "logs show post-action values"
    );
    // Rows belong to the event that logged them (the reference's E1 is fixed): every
    // upcross row has v > 0, every downcross row v < 0.
    assert!(up.column("v").unwrap().iter().all(|&v| v > 0.0));
    assert!(down.column("v").unwrap().iter().all(|&v| v < 0.0));
    // By tag: the rows of both, in firing order, with the fields both log.
    let cross = res.events_by_tag("cross").unwrap();
    assert_eq!(cross.fields, ["t", "v"]);
    assert_eq!(cross.len(), up.len() + down.len());
    let t = cross.column("t").unwrap();
    assert!(t.windows(2).all(|w| w[0] < w[1]));
    assert!(
        cross.events.iter().any(|e| e == "upcross")
            && cross.events.iter().any(|e| e == "downcross")
    );
    // End-phase rows point at the pre-step sample.
    let up_t = up.column("t").unwrap();
    for (k, &idx) in up.record_index.iter().enumerate() {
        assert_eq!(res.t[idx as usize + 1], up_t[k]);
    }
    let err = res.event("upcros").unwrap_err().to_string();
    assert!(err.contains("did you mean 'upcross'"), "{err}");
    assert!(res.events_by_tag("nope").is_err());
    assert_eq!(res.event_counts().len(), 3);
}

#[test]
fn first_matching_event_wins_per_phase() {
    let model = r#"
[model]
type = "map"
[states]
n = 0.0
[equations.rhs]
n = "n + 1"
[events.a]
cond = "n >= 2"
log = ["n"]
[events.b]
cond = "n >= 1"
log = ["n"]
"#;
    let mut s = sim(model, "map");
    let res = s.run(RunOptions::default().n(4)).unwrap();
    assert_eq!(res.event("b").unwrap().column("n").unwrap(), [1.0]);
    assert_eq!(
        res.event("a").unwrap().column("n").unwrap(),
        [2.0, 3.0, 4.0]
    );
}

#[test]
fn aux_and_lags_are_recorded() {
    let mut s = sim(OSC, "rk4");
    let res = s
        .run(RunOptions::default().t_end(2.0).dt(0.125).record_vars(&[
            "x",
            "aux.energy",
            "prev_x",
            "v",
        ]))
        .unwrap();
    assert_eq!(res.names(), ["x", "v", "energy", "prev_x"]);
    let (x, v, e, p) = (
        res.series("x").unwrap(),
        res.series("v").unwrap(),
        res.series("aux.energy").unwrap(),
        res.series("prev_x").unwrap(),
    );
    for i in 0..res.len() {
        assert_eq!(e[i], 0.5 * v[i] * v[i] + 0.5 * 4.0 * x[i] * x[i]);
        // As in the reference, aux are evaluated after a commit but before the lag rings take
        // the new value, so at sample i lag_x(1) reads x[i-2] (the rings start full of x0).
        assert_eq!(p[i], x[i.saturating_sub(2)]);
    }
    let err = s
        .run(RunOptions::default().record_vars(&["x", "energi"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did you mean 'aux.energy'") || err.contains("energy"),
        "{err}"
    );
}

#[test]
fn record_interval_and_record_false() {
    let mut s = sim(OSC, "euler");
    let res = s
        .run(
            RunOptions::default()
                .t_end(1.0)
                .dt(0.125)
                .record_interval(3),
        )
        .unwrap();
    assert_eq!(res.step, [0, 3, 6]);
    assert_eq!(res.t, [0.0, 0.375, 0.75]);
    assert_eq!(
        s.session().step_count,
        8,
        "the final state need not be recorded"
    );
    let res = s
        .run(RunOptions::default().t_end(10.0).dt(0.0625).record(false))
        .unwrap();
    assert!(res.is_empty());
    let up = res.event("upcross").unwrap();
    assert!(!up.is_empty(), "events are logged without recording");
    assert!(up.record_index.iter().all(|&i| i == -1));
}

#[test]
fn fresh_runs_chain_state_but_restart_time() {
    let mut s = sim(OSC, "rk4");
    s.run(RunOptions::default().t_end(1.0).dt(0.125)).unwrap();
    let end = s.session().y.clone();
    let res = s.run(RunOptions::default().t_end(1.0)).unwrap();
    assert_eq!(res.t[0], 0.0);
    assert_eq!(res.series("x").unwrap()[0], end.get(0));
    assert_eq!(res.step[0], 0);
    s.reset("initial").unwrap();
    assert_eq!(s.session().y, [1.0, 0.0]);
    assert_eq!(s.session().t, 0.0);
    assert!(s.results().is_err(), "reset drops the results");
}

/// Splitting a run with resume gives exactly the samples of one long run (fixed steps on an
/// exact binary grid, so no sliver steps at the split), for every fixed stepper, including
/// the multistep ones whose history must survive the split.
#[test]
fn resume_equals_one_long_run() {
    let fixed = dynlib_runtime::stepper::registry()
        .iter()
        .filter(|s| s.kind == dynlib_runtime::stepper::StepperKind::Ode && !s.adaptive)
        .map(|s| s.name);
    for stepper in fixed {
        let mut one = sim(OSC, stepper);
        let whole = one
            .run(
                RunOptions::default()
                    .t_end(10.0)
                    .dt(0.0625)
                    .capacities(1, 1),
            )
            .unwrap()
            .clone();
        let mut two = sim(OSC, stepper);
        two.run(RunOptions::default().t_end(5.0).dt(0.0625).tag("first"))
            .unwrap();
        let split = two
            .run(RunOptions::default().t_end(10.0).resume().tag("first"))
            .unwrap();
        assert_eq!(split.t, whole.t, "{stepper}");
        assert_eq!(split.step, whole.step, "{stepper}");
        for (a, b) in split.all_series().zip(whole.all_series()) {
            assert_eq!(a, b, "{stepper}");
        }
        // Events of the whole run, including any in the first resumed step (S1 fixed).
        assert_eq!(split.events, whole.events, "{stepper}");
        assert_eq!(split.segments.len(), 2);
        assert_eq!(split.segments[0].name, "first");
        assert_eq!(split.segments[1].name, "first-2");
        assert!(split.segments[1].resume);
        assert_eq!(split.segments[1].step_start, 81);
        assert_eq!(two.session().step_count, 160);
    }
    // Maps: N is an absolute target.
    let logistic =
        "[model]\ntype='map'\n[states]\nx=0.2\n[params]\nr=3.7\n[equations.rhs]\nx='r*x*(1-x)'\n";
    let mut one = sim(logistic, "map");
    let whole = one.run(RunOptions::default().n(300)).unwrap().clone();
    let mut two = sim(logistic, "map");
    two.run(RunOptions::default().n(120)).unwrap();
    let split = two.run(RunOptions::default().n(300).resume()).unwrap();
    // Map labels are t0 + k dt from the resumed run's start, as in the reference, so they
    // may differ from one long run's in the last bit.
    for (a, b) in split.t.iter().zip(&whole.t) {
        assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{a} vs {b}");
    }
    assert_eq!(split.step, whole.step);
    assert_eq!(split.series("x").unwrap(), whole.series("x").unwrap());
    let err = two
        .run(RunOptions::default().n(300).resume())
        .unwrap_err()
        .to_string();
    assert!(err.contains("beyond the 300 iterations"), "{err}");
}

/// With record_interval > 1 a resumed run's STEP numbers continue the session's count
/// (S2 fixed): the state recorded at STEP k is the state after k steps.
#[test]
fn resumed_step_numbers_are_session_steps() {
    let mut one = sim(OSC, "rk4");
    let whole = one
        .run(RunOptions::default().t_end(10.0).dt(0.0625))
        .unwrap()
        .clone();
    let mut two = sim(OSC, "rk4");
    two.run(
        RunOptions::default()
            .t_end(5.0)
            .dt(0.0625)
            .record_interval(3),
    )
    .unwrap();
    let split = two.run(RunOptions::default().t_end(10.0).resume()).unwrap();
    assert!(
        split.step.windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        split.step
    );
    for (i, &k) in split.step.iter().enumerate() {
        assert_eq!(
            split.series("x").unwrap()[i],
            whole.series("x").unwrap()[k as usize]
        );
        assert_eq!(split.t[i], whole.t[k as usize]);
    }
}

#[test]
fn transient_shifts_recorded_time_but_not_the_session() {
    let mut warm = sim(OSC, "rk4");
    let res = warm
        .run(RunOptions::default().t_end(2.0).dt(0.125).transient(1.0))
        .unwrap()
        .clone();
    assert_eq!(res.t[0], 0.0);
    assert_eq!(*res.t.last().unwrap(), 2.0);
    assert_eq!(res.step[0], 0);
    assert_eq!(warm.session().t, 3.0, "session time is absolute");
    assert_eq!(warm.session().step_count, 24);
    let mut plain = sim(OSC, "rk4");
    let long = plain
        .run(RunOptions::default().t_end(3.0).dt(0.125))
        .unwrap();
    assert_eq!(res.series("x").unwrap(), &long.series("x").unwrap()[8..]);
    // Logged t is shifted the same way.
    let kick = res.event("kick");
    assert!(kick.unwrap().is_empty() || res.t.contains(&2.0));
    // Resume after a transient: T stays in the shifted axis.
    let more = warm.run(RunOptions::default().t_end(2.5).resume()).unwrap();
    assert_eq!(*more.t.last().unwrap(), 2.5);
    assert_eq!(more.series("x").unwrap(), &plain_run(3.5)[8..]);
}

fn plain_run(t_end: f64) -> Vec<f64> {
    let mut s = sim(OSC, "rk4");
    s.run(RunOptions::default().t_end(t_end).dt(0.125))
        .unwrap()
        .series("x")
        .unwrap()
        .to_vec()
}

#[test]
fn stop_condition_ends_early_after_recording_the_trigger() {
    let model = r#"
[model]
type = "ode"
[states]
x = 0.0
[equations.rhs]
x = "1.0"
[sim]
stop = "x > 0.5"
"#;
    let mut s = sim(model, "euler");
    let res = s.run(RunOptions::default().t_end(10.0).dt(0.125)).unwrap();
    assert_eq!(res.status, Status::EarlyExit);
    let x = res.series("x").unwrap();
    assert_eq!(*x.last().unwrap(), 0.625);
    assert!(x[x.len() - 2] <= 0.5);
}

#[test]
fn failures_keep_partial_results() {
    let blowup = "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='x*x'\n";
    let mut s = sim(blowup, "euler");
    let err = s.run(RunOptions::default().t_end(5.0).dt(0.1)).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::RunFailed {
                status: Status::NanDetected,
                ..
            }
        ),
        "{err}"
    );
    let res = s.results().unwrap();
    assert_eq!(res.status, Status::NanDetected);
    assert!(res.len() > 5);
    assert!(res.series("x").unwrap().iter().all(|x| x.is_finite()));
    assert!(
        s.session().y.get(0).is_finite(),
        "the session holds the last committed state"
    );
    assert_eq!(s.session().status, Status::NanDetected);
    // rk45 meets NaN beyond t = 1, shrinks to min_step and gives up.
    let wall = "[model]\ntype='ode'\n[states]\nx=0.0\n[equations.rhs]\nx='sqrt(1.0 - t)'\n";
    let mut s = sim(wall, "rk45");
    let err = s.run(RunOptions::default().t_end(2.0)).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::RunFailed {
                status: Status::StepFail,
                ..
            }
        ),
        "{err}"
    );
    let res = s.results().unwrap();
    assert!(*res.t.last().unwrap() <= 1.0);
}

#[test]
fn bad_options_leave_the_session_unchanged() {
    let mut s = sim(OSC, "rk4");
    s.run(RunOptions::default().t_end(1.0).dt(0.125)).unwrap();
    let before = s.session().clone();
    let results_before = s.results().unwrap().t.clone();
    let cases: Vec<(RunOptions, &str)> = vec![
        (RunOptions::default().dt(0.0), "dt"),
        (RunOptions::default().dt(f64::NAN), "dt"),
        (RunOptions::default().t_end(-1.0), "before t0"),
        (RunOptions::default().t_end(f64::INFINITY), "finite"),
        (RunOptions::default().n(3), "N is for map models"),
        (RunOptions::default().record_interval(0), "record_interval"),
        (RunOptions::default().max_steps(0), "max_steps"),
        (RunOptions::default().capacities(0, 1), "capacities"),
        (RunOptions::default().transient(-1.0), "transient"),
        (RunOptions::default().ic("q", 1.0), "unknown state 'q'"),
        (RunOptions::default().param("kk", 1.0), "did you mean 'k'"),
        (RunOptions::default().record_vars(&["nope"]), "nope"),
        (
            RunOptions::default().record_vars(&["x", "x"]),
            "names 'x' twice",
        ),
        (
            RunOptions::default().stepper_option("rtol", 1.0),
            "no configuration fields",
        ),
        (RunOptions::default().tag(" "), "tag"),
        (
            RunOptions::default().resume().dt(0.1),
            "cannot be given when resuming",
        ),
        (
            RunOptions::default().resume().ic("x", 0.0),
            "cannot be given when resuming",
        ),
        (
            RunOptions::default().resume().transient(1.0),
            "cannot be given when resuming",
        ),
        (
            RunOptions::default().resume().record_vars(&["x"]),
            "cannot be given when resuming",
        ),
        (
            RunOptions::default().resume().t_end(0.5),
            "after the session time",
        ),
    ];
    for (o, needle) in cases {
        let err = s.run(&o).unwrap_err().to_string();
        assert!(err.contains(needle), "{o:?}: {err}");
        assert_eq!(s.session(), &before, "{o:?}");
        assert_eq!(s.results().unwrap().t, results_before, "{o:?}");
    }
    let err = s
        .configure(&SessionConfig {
            dt: Some(-1.0),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("dt"));
    assert_eq!(s.session(), &before);
}

#[test]
fn configure_merges_stepper_overrides() {
    let mut s = sim(OSC, "rk45");
    let cfg = |s: &Sim, name: &str| {
        s.stepper_config()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
    };
    assert_eq!(cfg(&s, "atol"), 1e-8, "[sim] atol feeds the stepper");
    s.configure(&SessionConfig {
        stepper_config: vec![("rtol".into(), 1e-3)],
        ..Default::default()
    })
    .unwrap();
    s.run(
        RunOptions::default()
            .t_end(1.0)
            .stepper_option("atol", 1e-9),
    )
    .unwrap();
    assert_eq!(
        cfg(&s, "rtol"),
        1e-3,
        "earlier overrides are kept (C1 fixed)"
    );
    assert_eq!(cfg(&s, "atol"), 1e-9);
    let err = s.configure(&SessionConfig {
        stepper_config: vec![("rtoll".into(), 1.0)],
        ..Default::default()
    });
    assert!(err.unwrap_err().to_string().contains("did you mean 'rtol'"));
    s.configure(&SessionConfig {
        dt: Some(0.25),
        record_interval: Some(2),
        ..Default::default()
    })
    .unwrap();
    let mut e = sim(OSC, "euler");
    e.configure(&SessionConfig {
        dt: Some(0.25),
        record_interval: Some(2),
        ..Default::default()
    })
    .unwrap();
    let res = e.run(RunOptions::default().t_end(1.0)).unwrap();
    assert_eq!(res.t, [0.0, 0.5, 1.0]);
}

#[test]
fn assign_and_access() {
    let mut s = sim(OSC, "rk4");
    s.assign(&[("x", 3.0), ("k", 2.0)], false).unwrap();
    assert_eq!(s.state("x").unwrap(), 3.0);
    assert_eq!(s.param("k").unwrap(), 2.0);
    assert_eq!(s.states(), [("x", 3.0), ("v", 0.0)]);
    let err = s
        .assign(&[("x", 1.0), ("kk", 1.0)], false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean 'k'"), "{err}");
    assert_eq!(
        s.state("x").unwrap(),
        3.0,
        "nothing changes when a name is wrong"
    );
    assert!(s.param("q").is_err());
    let res = s.run(RunOptions::default().t_end(0.5).dt(0.125)).unwrap();
    assert_eq!(res.series("x").unwrap()[0], 3.0);
    // Integer models refuse fractions instead of truncating them.
    let int = "[model]\ntype='map'\ndtype='int64'\n[states]\nn=1\n[equations.rhs]\nn='n + 1'\n";
    let mut s = sim(int, "map");
    assert!(s
        .assign(&[("n", 1.5)], false)
        .unwrap_err()
        .to_string()
        .contains("whole numbers"));
    s.assign(&[("n", 7.0)], false).unwrap();
    let res = s.run(RunOptions::default().n(3)).unwrap();
    // An integer model's series are ints, read exactly; as floats they are refused.
    assert_eq!(res.int_series("n").unwrap(), [7, 8, 9, 10]);
    assert!(res
        .series("n")
        .unwrap_err()
        .to_string()
        .contains("int_series"));
}

#[test]
fn snapshots_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sim(OSC, "ab3");
    s.run(RunOptions::default().t_end(2.0).dt(0.0625)).unwrap();
    s.create_snapshot("mid", "after 2 s").unwrap();
    assert!(s
        .create_snapshot("mid", "")
        .unwrap_err()
        .to_string()
        .contains("already exists"));
    let names: Vec<String> = s.list_snapshots().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["initial", "mid"]);
    let path = dir.path().join("mid.json");
    s.export_snapshot(&path, Some("mid")).unwrap();
    // Continue in this session...
    let cont = s
        .run(RunOptions::default().t_end(4.0).resume())
        .unwrap()
        .clone();
    // ...and from the file in a new one: the same numbers, bit for bit (the ab3 history
    // travels with the snapshot).
    let mut t = sim(OSC, "ab3");
    t.import_snapshot(&path).unwrap();
    assert_eq!(t.session().t, 2.0);
    let again = t.run(RunOptions::default().t_end(4.0).resume()).unwrap();
    assert_eq!(
        again.series("x").unwrap(),
        &cont.series("x").unwrap()[cont.len() - again.len()..]
    );
    // reset(name) restores, in memory.
    s.reset("mid").unwrap();
    assert_eq!(s.session(), &s.snapshot("mid").unwrap().state.clone());
    s.reset("initial").unwrap();
    assert_eq!(s.session().y, [1.0, 0.0]);
    assert!(s
        .reset("nid")
        .unwrap_err()
        .to_string()
        .contains("did you mean 'mid'"));
    // A snapshot of another kernel is refused and changes nothing.
    let mut other = sim(OSC, "rk4");
    let before = other.session().clone();
    let err = other.import_snapshot(&path).unwrap_err().to_string();
    assert!(
        err.contains("incompatible") && err.contains("stepper"),
        "{err}"
    );
    assert_eq!(other.session(), &before);
    // Garbage is refused with the path in the message.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"schema\": 3}").unwrap();
    let err = t.import_snapshot(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.json") && err.contains("schema"), "{err}");
    // Non-finite values survive.
    let mut n = sim(OSC, "rk4");
    n.assign(&[("c", f64::INFINITY)], false).unwrap();
    let p = dir.path().join("inf.json");
    n.export_snapshot(&p, None).unwrap();
    let mut m = sim(OSC, "rk4");
    m.import_snapshot(&p).unwrap();
    assert_eq!(m.param("c").unwrap(), f64::INFINITY);
}

#[test]
fn snapshot_workspaces_are_checked_buffer_by_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sim(OSC, "ab3");
    s.run(RunOptions::default().t_end(1.0).dt(0.0625)).unwrap();
    let path = dir.path().join("ws.json");
    s.export_snapshot(&path, None).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Every buffer of the ab3 layout is there under its name.
    let ws = &doc["workspace"];
    for name in ["f_nm2", "f_nm1", "f_n", "f_next", "y_stage"] {
        assert_eq!(ws["vectors"][name].as_array().unwrap().len(), 2, "{name}");
    }
    // No matrices or index vectors in ab3's layout: no keys for them, so the file is what
    // it was before they existed.
    assert!(ws.get("matrices").is_none() && ws.get("indices").is_none());
    assert_eq!(ws["scalars"], serde_json::json!([16.0]));
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut d = doc.clone();
        edit(&mut d);
        let p = dir.path().join("edited.json");
        std::fs::write(&p, serde_json::to_string(&d).unwrap()).unwrap();
        let mut t = sim(OSC, "ab3");
        t.import_snapshot(&p).map(|()| t.session().clone())
    };
    // A short history vector is named, with the file.
    let err = edited(&|d| d["workspace"]["vectors"]["f_n"] = serde_json::json!([1.0]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("edited.json")
            && err.contains("'workspace.vectors.f_n' has 1 values, expected 2"),
        "{err}"
    );
    // The file loads back exactly.
    let same = edited(&|_| ()).unwrap();
    assert_eq!(&same, s.session());
}

#[test]
fn presets_from_the_model_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sim(OSC, "rk4");
    assert_eq!(s.list_presets("*"), ["moved", "stiff"]);
    assert_eq!(s.list_presets("st*"), ["stiff"]);
    s.apply_preset("stiff").unwrap();
    assert_eq!(s.param("k").unwrap(), 9.0);
    s.apply_preset("moved").unwrap();
    assert_eq!(s.state("x").unwrap(), 2.0);
    assert!(s
        .apply_preset("stif")
        .unwrap_err()
        .to_string()
        .contains("did you mean 'stiff'"));
    s.add_preset(
        "mine",
        Some(&[("v", -1.5)]),
        Some(&[("c", f64::NAN)]),
        false,
    )
    .unwrap();
    assert!(s.add_preset("mine", None, None, false).is_err());
    assert!(s
        .add_preset("bad", Some(&[("vv", 1.0)]), None, false)
        .is_err());
    let path = dir.path().join("presets.toml");
    s.save_preset("mine", &path, false).unwrap();
    s.save_preset("stiff", &path, false).unwrap();
    assert!(s.save_preset("stiff", &path, false).is_err());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("dynlib-presets-v1") && text.contains("\"nan\""),
        "{text}"
    );
    let mut t = sim(OSC, "rk4");
    assert!(
        t.load_presets(&path, "*", OnConflict::Error).is_err(),
        "stiff exists already"
    );
    assert_eq!(t.list_presets("*").len(), 2, "nothing loaded on error");
    assert_eq!(t.load_presets(&path, "mi*", OnConflict::Error).unwrap(), 1);
    assert_eq!(t.load_presets(&path, "*", OnConflict::Replace).unwrap(), 2);
    t.apply_preset("mine").unwrap();
    assert_eq!(t.state("v").unwrap(), -1.5);
    assert!(t.param("c").unwrap().is_nan());
    let junk = dir.path().join("junk.toml");
    std::fs::write(&junk, "[presets.a.params]\nk = 1\n").unwrap();
    assert!(t
        .load_presets(&junk, "*", OnConflict::Error)
        .unwrap_err()
        .to_string()
        .contains("schema"));
}

#[test]
fn dtype_override_at_setup() {
    let setup = |dtype: &str| {
        let options = SetupOptions::default()
            .stepper("rk4")
            .dtype(dtype)
            .config(Config::default());
        dynlib_runtime::setup(&format!("inline:{OSC}"), options)
    };
    let mut s32 = setup("single").unwrap();
    assert_eq!(s32.model().dtype.as_str(), "float32");
    let res = s32
        .run(RunOptions::default().t_end(1.0).dt(0.125))
        .unwrap()
        .clone();
    let mut s64 = setup("float64").unwrap();
    let wide = s64.run(RunOptions::default().t_end(1.0).dt(0.125)).unwrap();
    for (a, b) in res
        .series("x")
        .unwrap()
        .iter()
        .zip(wide.series("x").unwrap())
    {
        assert_eq!(*a, (*a as f32) as f64, "float32 states hold float32 values");
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert!(res.series("x").unwrap() != wide.series("x").unwrap());
    let err = setup("int64").err().unwrap().to_string();
    assert!(err.contains("ODE models need a float dtype"), "{err}");
    let err = setup("float16").err().unwrap().to_string();
    assert!(err.contains("not a dtype"), "{err}");
}

#[test]
fn reset_before_any_run_keeps_the_configuration() {
    let mut s = sim(OSC, "rk45");
    s.configure(&SessionConfig {
        dt: Some(0.25),
        stepper_config: vec![("rtol".into(), 1e-3)],
        ..Default::default()
    })
    .unwrap();
    s.assign(&[("x", 5.0)], false).unwrap();
    s.reset("initial").unwrap();
    assert_eq!(s.state("x").unwrap(), 1.0);
    assert_eq!(s.nominal_dt(), 0.25);
    assert!(s.stepper_config().contains(&("rtol", 1e-3)));
}

#[test]
fn sim_table_values_feed_stepper_fields_of_the_same_name() {
    let model = format!("{OSC}\n[sim]\nsafety = 0.45\nmax_tries = 3\nrtol = 1e-6\n");
    let s = sim(&model, "rk45");
    let config = s.stepper_config();
    for (name, want) in [
        ("safety", 0.45),
        ("max_tries", 3.0),
        ("rtol", 1e-6),
        ("atol", 1e-8),
        ("min_factor", 0.2),
    ] {
        assert!(config.contains(&(name, want)), "{name}: {config:?}");
    }
}

/// Without the `jit` feature, `jit = true` is refused with a message that says how to get
/// it; it never quietly interprets (DESIGN.md invariant 5).
#[cfg(not(feature = "jit"))]
#[test]
fn jit_without_the_feature_is_refused() {
    let options = SetupOptions::default()
        .jit(true)
        .tiered(false)
        .config(Config::default());
    match dynlib_runtime::setup(&format!("inline:{OSC}"), options) {
        Err(e @ RuntimeError::JitUnavailable) => {
            assert!(e.to_string().contains("--features jit"), "{e}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("jit = true built without the jit feature"),
    }
}

/// A progress hook hears every chunk of a long run (the transient as a part of its own),
/// in order, and changes nothing in the results.
#[test]
fn progress_reports_each_part_in_order_and_changes_no_bit() {
    use std::sync::{Arc, Mutex};
    let opts = || {
        RunOptions::default()
            .t_end(2000.0)
            .dt(0.01)
            .transient(500.0)
            .record_interval(97)
    };
    let mut plain = sim(OSC, "rk4");
    let want = plain.run(opts()).unwrap();
    let heard: Arc<Mutex<Vec<dynlib_runtime::RunProgress>>> = Arc::default();
    let mut heard_sim = sim(OSC, "rk4");
    let sink = heard.clone();
    let got = heard_sim
        .run(RunOptions {
            progress: Some(dynlib_runtime::ProgressHook::new(move |p| {
                sink.lock().unwrap().push(p)
            })),
            ..opts()
        })
        .unwrap();
    assert_eq!(
        got.t.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        want.t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let bits = |r: &dynlib_runtime::Results| -> Vec<(String, Vec<u64>)> {
        r.all_series()
            .map(|(name, c)| match c {
                dynlib_runtime::Column::Float(v) => {
                    (name.to_string(), v.iter().map(|x| x.to_bits()).collect())
                }
                dynlib_runtime::Column::Int(v) => {
                    (name.to_string(), v.iter().map(|&x| x as u64).collect())
                }
            })
            .collect()
    };
    assert!(bits(got) == bits(want), "the hook changed a result");
    let heard = heard.lock().unwrap();
    // Chunks grow from one step to about 20 ms each: 200,000 steps make several.
    assert!(heard.len() >= 5, "{} reports", heard.len());
    let parts: Vec<(u64, u64)> = heard
        .iter()
        .map(|p| (p.t0.to_bits(), p.t_end.to_bits()))
        .collect();
    assert_eq!(
        parts.first(),
        Some(&(0f64.to_bits(), 500f64.to_bits())),
        "the transient first"
    );
    // The recorded part follows the warm-up for the horizon's length (t0 + transient on).
    assert_eq!(
        parts.last(),
        Some(&(500f64.to_bits(), 2500f64.to_bits())),
        "the recorded part last"
    );
    for w in heard.windows(2) {
        if (w[0].t0, w[0].t_end) == (w[1].t0, w[1].t_end) {
            assert!(w[1].t > w[0].t && w[1].step > w[0].step, "{w:?}");
        }
    }
    for p in heard.iter() {
        let f = p.fraction();
        assert!((0.0..=1.0).contains(&f), "{p:?}");
        let by_time = (p.t - p.t0) / (p.t_end - p.t0);
        assert!(
            (f - by_time).abs() < 1e-9,
            "a fixed-step ODE goes by time: {p:?}"
        );
    }
}
