//! Runs that cannot end well end well anyway: interrupted runs, runs that would record more
//! than memory holds, horizons and counts that cannot be reached, stepper configurations
//! out of range, and time that stops advancing. Each ends with a clear error before it
//! starts, or with a status, a reason and the partial results (issue 8, items 7, 10, 11,
//! 14, 15).

use dynlib_model::Config;
use dynlib_runtime::{
    Interrupt, RunOptions, RuntimeError, SessionConfig, SetupOptions, Sim, Status,
};

fn sim(uri: &str, stepper: &str) -> Sim {
    let options = SetupOptions::default()
        .stepper(stepper)
        .config(Config::default());
    dynlib_runtime::setup(uri, options).unwrap()
}

fn option_error(e: RuntimeError) -> (String, String) {
    match e {
        RuntimeError::InvalidOption { option, message } => (option, message),
        other => panic!("expected an invalid option, got {other}"),
    }
}

fn failed(e: &RuntimeError) -> Status {
    match e {
        RuntimeError::RunFailed { status, .. } => *status,
        other => panic!("expected a failed run, got {other}"),
    }
}

#[test]
fn an_interrupt_stops_a_run_at_a_step_boundary_and_keeps_its_results() {
    let mut s = sim("builtin://ode/lorenz", "rk4");
    let stop = Interrupt::new();
    let watcher = stop.clone();
    // Another thread asks for the stop while the run is under way.
    let asker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        watcher.request();
    });
    let o = RunOptions::default()
        .t_end(1e6)
        .max_steps(i64::MAX as u64)
        .record_interval(100)
        .interrupt(&stop);
    let e = s.run(&o).unwrap_err();
    asker.join().unwrap();
    assert_eq!(failed(&e), Status::UserBreak, "{e}");
    assert!(e.to_string().contains("interrupted"), "{e}");
    let res = s.results().unwrap();
    assert_eq!(res.status, Status::UserBreak);
    assert!(res.len() > 1, "partial results are kept");
    assert!(res.warnings.iter().any(|w| w.contains("interrupted")));
    // The session stands at the step boundary where the run stopped; the results end there.
    assert_eq!(s.session().t, res.t_final);
    assert!(*res.t.last().unwrap() <= s.session().t);
    let at = s.session().t;
    // Withdrawn, the same run resumes from there as if nothing happened.
    stop.clear();
    s.run(RunOptions::default().t_end(at + 1.0).resume())
        .unwrap();
    assert!(s.session().t >= at + 1.0 - 1e-9);
}

#[test]
fn chunked_runs_equal_one_long_run_to_the_bit() {
    // Chunk boundaries re-enter the runner; nothing observable may change. Both runs are
    // chunked (every run is); the golden and growth suites compare chunked runs with the
    // reference and with huge buffers, so here the two must simply agree with each other
    // whether or not an interrupt is watched.
    let mut a = sim("builtin://ode/lorenz", "rk45");
    let mut b = sim("builtin://ode/lorenz", "rk45");
    let stop = Interrupt::new();
    a.run(RunOptions::default().t_end(1000.0).interrupt(&stop))
        .unwrap();
    b.run(RunOptions::default().t_end(1000.0)).unwrap();
    let (ra, rb) = (a.results().unwrap(), b.results().unwrap());
    assert!(
        ra.step_count > 10 * 1024,
        "long enough for several chunks: {}",
        ra.step_count
    );
    assert_eq!(ra.t, rb.t);
    assert_eq!(ra.series("x").unwrap(), rb.series("x").unwrap());
    assert_eq!(a.session().y, b.session().y);
}

#[test]
fn a_run_that_must_record_more_than_memory_holds_is_refused_before_it_starts() {
    let mut s = sim("builtin://map/logistic", "map");
    let (option, message) = option_error(
        s.run(RunOptions::default().n(1_000_000).memory_limit(1 << 20))
            .unwrap_err(),
    );
    assert_eq!(option, "n");
    assert!(message.contains("memory limit"), "{message}");
    assert!(s.results().is_err(), "nothing ran");
    // Recording less often fits.
    s.run(
        RunOptions::default()
            .n(1_000_000)
            .record_interval(1000)
            .memory_limit(1 << 20),
    )
    .unwrap();
    assert_eq!(s.results().unwrap().len(), 1001);
    // A fixed-step ODE knows its length too.
    let mut o = sim("builtin://ode/lorenz", "rk4");
    let (option, _) = option_error(
        o.run(
            RunOptions::default()
                .t_end(1e4)
                .dt(1e-3)
                .max_steps(u32::MAX as u64)
                .memory_limit(1 << 20),
        )
        .unwrap_err(),
    );
    assert_eq!(option, "T");
}

#[test]
fn a_run_that_outgrows_its_memory_limit_stops_with_its_partial_results() {
    // An adaptive run's length is unknown up front: it stops when the buffers would pass
    // the limit, with status MEMORY_LIMIT, a reason, and everything recorded so far.
    let mut s = sim("builtin://ode/lorenz", "rk45");
    let e = s
        .run(
            RunOptions::default()
                .t_end(1e6)
                .max_steps(u32::MAX as u64)
                .capacities(16, 1)
                .memory_limit(64 << 10),
        )
        .unwrap_err();
    assert_eq!(failed(&e), Status::MemoryLimit, "{e}");
    let res = s.results().unwrap();
    assert!(res.len() >= 1024, "{}", res.len());
    assert!(
        res.len() * 40 <= 64 << 10,
        "within the limit: {}",
        res.len()
    );
    assert!(
        res.warnings.iter().any(|w| w.contains("memory limit")),
        "{:?}",
        res.warnings
    );
    // The recorded part is the same as an unlimited run's beginning.
    let mut full = sim("builtin://ode/lorenz", "rk45");
    full.run(RunOptions::default().t_end(50.0)).unwrap();
    let n = res.len().min(full.results().unwrap().len());
    assert_eq!(res.t[..n], full.results().unwrap().t[..n]);
    // Too large initial capacities are refused up front.
    let (option, _) = option_error(
        s.run(
            RunOptions::default()
                .t_end(1.0)
                .capacities(1 << 40, 1)
                .memory_limit(1 << 30),
        )
        .unwrap_err(),
    );
    assert_eq!(option, "cap_rec/cap_evt");
}

#[test]
fn counts_that_do_not_fit_are_refused_naming_the_option() {
    let mut s = sim("builtin://map/logistic", "map");
    let cases: Vec<(RunOptions, &str)> = vec![
        (RunOptions::default().t_end(1e300).record(false), "T"),
        (RunOptions::default().n(u64::MAX).record(false), "n"),
        (RunOptions::default().n(5).transient(1e20), "transient"),
        (RunOptions::default().n(5).transient(2.5), "transient"),
        (
            RunOptions::default().n(5).record_interval(1 << 63),
            "record_interval",
        ),
        (RunOptions::default().n(5).max_steps(u64::MAX), "max_steps"),
    ];
    for (o, want) in cases {
        let (option, message) = option_error(s.run(&o).unwrap_err());
        assert_eq!(option, want, "{message}");
    }
    assert!(s.results().is_err(), "nothing ran");
    let e = s
        .configure(&SessionConfig {
            record_interval: Some(u64::MAX),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(option_error(e).0, "record_interval");
    // The largest countable interval still records t0.
    s.run(RunOptions::default().n(5).record_interval(i64::MAX as u64))
        .unwrap();
    assert_eq!(s.results().unwrap().len(), 1);
}

#[test]
fn stepper_configuration_values_out_of_range_are_refused_naming_the_field() {
    let mut s = sim("builtin://ode/vanderpol", "rk45");
    for (field, value, why) in [
        ("dt_max", -1.0, "(0, inf]"),
        ("rtol", -1.0, "[0, inf)"),
        ("rtol", f64::NAN, "[0, inf)"),
        ("atol", -1.0, "[0, inf)"),
        ("max_factor", 0.0, "[1, inf)"),
        ("max_tries", 2.5, "whole number"),
        ("min_factor", 0.0, "(0, 1]"),
        ("safety", 1.5, "(0, 1]"),
        ("min_step", -1e-9, "[0, inf)"),
    ] {
        let e = s
            .run(
                RunOptions::default()
                    .t_end(1.0)
                    .stepper_option(field, value),
            )
            .unwrap_err();
        let (option, message) = option_error(e);
        assert_eq!(option, field);
        assert!(message.contains(why), "{field}: {message}");
    }
    // Rules between fields: `min_factor > max_factor` cannot happen (min_factor <= 1 <=
    // max_factor by their ranges); the tolerances and step bounds are checked together.
    let (option, message) = option_error(
        s.run(
            RunOptions::default()
                .t_end(1.0)
                .stepper_option("dt_max", 1e-13),
        )
        .unwrap_err(),
    );
    assert_eq!(option, "min_step", "{message}");
    let e = s
        .configure(&SessionConfig {
            stepper_config: vec![("atol".into(), 0.0), ("rtol".into(), 0.0)],
            ..Default::default()
        })
        .unwrap_err();
    assert!(option_error(e).1.contains("both be 0"));
    // [sim] values are checked when the model is built, named as [sim] keys.
    let model =
        "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n[sim]\nsafety=0\n";
    let e = dynlib_runtime::build(
        model,
        SetupOptions::default()
            .stepper("rk45")
            .config(Config::default()),
    )
    .err()
    .unwrap();
    let (option, message) = option_error(e);
    assert_eq!(option, "[sim].safety", "{message}");
}

#[test]
fn time_that_cannot_advance_is_a_failure_with_a_reason_not_a_long_silent_run() {
    // A fixed step smaller than the float spacing at t0: refused before the run.
    let mut s = sim("builtin://ode/lorenz", "rk4");
    let (option, message) = option_error(
        s.run(RunOptions::default().t0(1e17).t_end(1.00000000000001e17))
            .unwrap_err(),
    );
    assert_eq!(option, "dt");
    assert!(message.contains("does not advance"), "{message}");
    // One that advances, but by amounts rounded to a large part of dt: refused too.
    let (option, message) = option_error(
        s.run(RunOptions::default().t0(1e6).t_end(1e6 + 1.0).dt(1e-10))
            .unwrap_err(),
    );
    assert_eq!(option, "dt");
    assert!(
        message.contains("too fine for times near 1000001.0"),
        "{message}"
    );
    // An adaptive stepper finds out at its first step: STEPFAIL, with the reason.
    let mut s = sim("builtin://ode/lorenz", "rk45");
    let e = s
        .run(RunOptions::default().t0(1e17).t_end(1.00000000000001e17))
        .unwrap_err();
    assert_eq!(failed(&e), Status::StepFail, "{e}");
    let res = s.results().unwrap();
    assert_eq!(res.step_count, 0, "no step was taken, let alone a million");
    assert!(
        res.warnings
            .iter()
            .any(|w| w.contains("no longer advances")),
        "{:?}",
        res.warnings
    );
}

#[test]
fn nested_functions_inline_in_linear_size_or_fail_naming_the_function() {
    // f_i(u) = f_{i+1}(u) * f_{i+1}(u): 2^60 copies naively; one per level when calls with
    // the same arguments are shared.
    let chain = |levels: usize, second_arg: &str| {
        let mut src = String::from(
            "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x + 1e-30*f0(x)'\n",
        );
        for i in 0..levels {
            src.push_str(&format!(
                "[functions.f{i}]\nargs=['u']\nexpr='f{n}(u) * f{n}({second_arg})'\n",
                n = i + 1
            ));
        }
        src.push_str(&format!("[functions.f{levels}]\nargs=['u']\nexpr='u'\n"));
        src
    };
    let mut s = sim(&chain(60, "u"), "rk4");
    s.run(RunOptions::default().t_end(0.1)).unwrap();
    let rhs = dynlib_runtime::Role::Rhs;
    let size = dynlib_ir::print_function(
        s.kernel().program().func(s.kernel().func(rhs).unwrap()),
        None,
    )
    .lines()
    .count();
    assert!(size < 2000, "rhs has {size} lines");
    // With different arguments every call is a different copy: a clear error, quickly.
    let started = std::time::Instant::now();
    let e = dynlib_runtime::build(
        &chain(40, "u + 1"),
        SetupOptions::default().config(Config::default()),
    )
    .err()
    .unwrap();
    let text = e.to_string();
    assert!(
        text.contains("too large to compile") && text.contains("the calls f0 → f1"),
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
}

#[test]
fn long_chains_of_aux_build_and_deep_function_nesting_is_a_model_error() {
    // a0 = x, a_i = a_{i-1} + 1: a chain 5000 deep builds in constant stack and runs.
    let mut src = String::from("inline:[model]\ntype='map'\n[states]\nx=0.0\n[aux]\na0='x'\n");
    for i in 1..5000 {
        src.push_str(&format!("a{i}='a{} + 1'\n", i - 1));
    }
    src.push_str("[equations.rhs]\nx='a4999 - x'\n");
    let mut s = sim(&src, "map");
    // Aux are lowered one after another: the chain's length adds no depth.
    assert!(s.kernel().model().lowering_depth_bound() <= 8);
    let r = s.run(RunOptions::default().n(2)).unwrap();
    assert_eq!(r.column("x").unwrap().to_f64(), [0.0, 4999.0, 4999.0]);
    // f0 calls f1 ... calls f150: refused before lowering, naming the chain.
    let mut src =
        String::from("inline:[model]\ntype='map'\n[states]\nx=0.0\n[equations.rhs]\nx='f0(x)'\n");
    for i in 0..150 {
        src.push_str(&format!(
            "[functions.f{i}]\nargs=['u']\nexpr='f{}(u) + 1'\n",
            i + 1
        ));
    }
    src.push_str("[functions.f150]\nargs=['u']\nexpr='u'\n");
    let e = dynlib_runtime::build(&src, SetupOptions::default().config(Config::default()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("151 levels deep (f0 → f1 → f2 → … → f149 → f150)") && e.contains("at most 100"),
        "{e}"
    );
    // At 100 levels it is fine.
    let mut src =
        String::from("inline:[model]\ntype='map'\n[states]\nx=0.0\n[equations.rhs]\nx='f0(x)'\n");
    for i in 0..99 {
        src.push_str(&format!(
            "[functions.f{i}]\nargs=['u']\nexpr='f{}(u) + 1'\n",
            i + 1
        ));
    }
    src.push_str("[functions.f99]\nargs=['u']\nexpr='u'\n");
    let mut s = sim(&src, "map");
    let r = s.run(RunOptions::default().n(1)).unwrap();
    assert_eq!(r.column("x").unwrap().to_f64(), [0.0, 99.0]);
}

#[test]
fn shallow_models_lower_in_place_within_a_small_stack() {
    // The deepest model lowered on the caller's thread (a lowering depth bound of 64, every
    // level on one path: an equation nested 16 deep calling f0, each f_i nested 12 deep
    // calling f_{i+1}) builds on a thread with a quarter of the 2 MiB threads usually get.
    let nest = |depth: usize, inner: &str| {
        let mut e = inner.to_string();
        for _ in 1..depth {
            e = format!("1.0 + ({e})");
        }
        e
    };
    let mut src = format!(
        "inline:[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='{}'\n",
        nest(15, "f0(x)")
    );
    for i in 0..4 {
        let body = if i < 3 {
            nest(11, &format!("f{}(u)", i + 1))
        } else {
            nest(12, "u")
        };
        src.push_str(&format!("[functions.f{i}]\nargs=['u']\nexpr='{body}'\n"));
    }
    let bound = sim(&src, "rk4").kernel().model().lowering_depth_bound();
    assert!((60..=64).contains(&bound), "bound {bound}");
    std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || {
            let mut s = sim(&src, "rk4");
            s.run(RunOptions::default().t_end(0.01)).unwrap();
        })
        .unwrap()
        .join()
        .expect("built and ran within 512 KiB of stack");
}

#[test]
fn a_run_that_fits_its_memory_limit_exactly_is_not_refused_by_its_own_sizing() {
    // 32,768 samples of 24 bytes (t, step, x) are 786,432 bytes: within 788,000, also with
    // the event buffer's first row, however the record buffer is sized up front.
    for cap_evt in [None, Some(8)] {
        let mut s = sim("builtin://map/logistic", "map");
        let mut o = RunOptions::default().n(32767).memory_limit(788_000);
        if let Some(c) = cap_evt {
            o = o.capacities(1024, c);
        }
        let r = s.run(o).unwrap();
        assert_eq!((r.status, r.len()), (Status::Done, 32768));
    }
}

#[test]
fn a_resume_without_results_to_continue_is_still_a_resumed_segment() {
    let mut s = sim("builtin://map/logistic", "map");
    let r = s.run(RunOptions::default().n(10).resume()).unwrap();
    assert!(r.segments[0].resume);
}
