//! Arithmetic that Python refuses is never a silent wrong number (issue 8, items 13 and 16):
//! integer maps stop with `ARITHMETIC_FAULT` and a reason where Python would raise (only
//! where Python would evaluate the operation), out-of-range values are refused when the
//! model is loaded, and float models compute `round`, `int` and big literals as Python.

use dynlib_model::Config;
use dynlib_runtime::{RunOptions, RuntimeError, SetupOptions, Sim, Status};

fn map(dtype: &str, states: &str, rhs: &str, aux: &str) -> String {
    format!(
        "inline:[model]\ntype='map'\ndtype='{dtype}'\n[states]\n{states}\n[equations.rhs]\n{rhs}\n[aux]\n{aux}\n"
    )
}

fn sim(uri: &str) -> Result<Sim, RuntimeError> {
    dynlib_runtime::setup(uri, SetupOptions::default().config(Config::default()))
}

/// Runs `n` iterations; returns the status, the warnings and the recorded `x`. With the
/// JIT built, native code must end the same way, with the same samples.
fn run(uri: &str, n: u64) -> (Status, Vec<String>, Vec<f64>) {
    let interpreted = run_with(uri, n, false);
    #[cfg(feature = "jit")]
    assert_eq!(
        run_with(uri, n, true),
        interpreted,
        "{uri}: native code differs"
    );
    interpreted
}

fn run_with(uri: &str, n: u64, jit: bool) -> (Status, Vec<String>, Vec<f64>) {
    let options = SetupOptions::default()
        .jit(jit)
        .tiered(false)
        .config(Config::default());
    let mut s = dynlib_runtime::setup(uri, options).unwrap_or_else(|e| panic!("{uri}: {e}"));
    let failed = s.run(RunOptions::default().n(n)).err().map(|e| match e {
        RuntimeError::RunFailed { status, .. } => status,
        other => panic!("{uri}: {other}"),
    });
    let res = s.results().unwrap();
    if let Some(status) = failed {
        assert_eq!(status, res.status);
    }
    let x = res.column(&res.names()[0]).unwrap().to_f64();
    (res.status, res.warnings.clone(), x)
}

fn faulted(uri: &str, n: u64, why: &str) -> Vec<f64> {
    let (status, warnings, x) = run(uri, n);
    assert_eq!(status, Status::ArithmeticFault, "{uri}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(why) && w.contains("arithmetic fault")),
        "{uri}: {warnings:?}"
    );
    x
}

#[test]
fn integer_division_and_modulo_by_zero_fault() {
    // x counts down to 0, then divides by it: the samples before the fault are kept.
    let x = faulted(
        &map("int64", "x=3", "x='x - 1 + 0 * (7 // x)'", ""),
        10,
        "division",
    );
    assert_eq!(x, [3.0, 2.0, 1.0, 0.0]);
    faulted(
        &map("int64", "x=3", "x='x - 1 + 0 * (7 % x)'", ""),
        10,
        "modulo by zero",
    );
    faulted(
        &map("int32", "x=3", "x='x - 1 + 0 * (x // x)'", ""),
        10,
        "division",
    );
}

#[test]
fn values_an_integer_cannot_hold_fault_instead_of_saturating() {
    let conv = "fractional value converted to an integer";
    faulted(&map("int64", "x=1", "x='x / 0.0'", ""), 3, conv);
    faulted(&map("int64", "x=2", "x='x ** 1000'", ""), 3, conv);
    faulted(&map("int64", "x=1", "x='int(1e300)'", ""), 3, conv);
    faulted(&map("int64", "x=1", "x='x + 0.0 * 1e309'", ""), 3, conv);
    faulted(&map("int64", "x=1", "x='round(x * 1e30)'", ""), 3, conv);
    // int32: a product past 2**31 is out of range when stored.
    let x = faulted(&map("int32", "x=5", "x='x * 1000'", ""), 10, conv);
    assert_eq!(x, [5.0, 5000.0, 5_000_000.0]);
    // Right at the edges is fine.
    let (status, _, x) = run(
        &map(
            "int32",
            "x=2147483646",
            "x='x + 1 if x < 2147483647 else x'",
            "",
        ),
        3,
    );
    assert_eq!(status, Status::Done);
    assert_eq!(x, [2147483646.0, 2147483647.0, 2147483647.0, 2147483647.0]);
}

#[test]
fn a_range_step_of_zero_faults_at_run_time_and_is_a_model_error_when_constant() {
    faulted(
        &map(
            "int64",
            "x=3",
            "x='x - 1 + 0 * sum(1 for i in range(0, 5, x - 1))'",
            "",
        ),
        10,
        "range() with step 0",
    );
    let e = sim(&map(
        "float64",
        "x=1.0",
        "x='sum(1.0 for i in range(0, 10, 0))'",
        "",
    ))
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("range() step must not be zero"),
        "{e}"
    );
    let e = sim(&map(
        "float64",
        "x=1.0",
        "x='sum(1.0 for i in range(0, 10, 2 - 2))'",
        "",
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("step must not be zero"), "{e}");
}

#[test]
fn faults_count_only_where_python_evaluates() {
    // x runs 0, 1, 2, 3, 4, ...: every guard below keeps the division away from x == 3.
    for rhs in [
        "x + 1 + (0 if x == 3 else 0 * (7 // (x - 3)))",
        "x + 1 + (x != 3 and 0 * (7 // (x - 3)))",
        "x + 1 + (x == 3 or 0 * (7 // (x - 3)))",
        "x + 1 + 0 * sum(7 // (i - 3) for i in range(x + 1) if i != 3)",
        "x + 1 + (0 if x == 3 else 0 * guarded(x))",
    ] {
        let model = format!(
            "inline:[model]\ntype='map'\ndtype='int64'\n[states]\nx=0\n[functions.guarded]\nargs=['u']\nexpr='7 // (u - 3)'\n[equations.rhs]\nx='{rhs}'\n"
        );
        let (status, warnings, x) = run(&model, 8);
        assert_eq!(status, Status::Done, "{rhs}: {warnings:?}");
        assert_eq!(x.len(), 9, "{rhs}");
    }
    // Without the guard the same division faults at x == 3.
    let x = faulted(
        &map("int64", "x=0", "x='x + 1 + 0 * (7 // (x - 3))'", ""),
        8,
        "division",
    );
    assert_eq!(x, [0.0, 1.0, 2.0, 3.0]);
    // Aux are computed at every step (they are recorded), guard or not where used.
    let x = faulted(
        &map(
            "int64",
            "x=0",
            "x='x + 1 + (0 if x == 3 else 0 * a)'",
            "a='7 // (x - 3)'",
        ),
        8,
        "division",
    );
    assert_eq!(x, [0.0, 1.0, 2.0]);
}

#[test]
fn integer_values_out_of_range_are_refused_when_the_model_loads() {
    for (dtype, value) in [
        ("int32", "3000000000"),
        ("int32", "-2147483649"),
        ("int32", "1e10"),
        ("int64", "1e19"),
        ("int64", "'99999999999999999999'"),
    ] {
        let e = sim(&map(dtype, &format!("x={value}"), "x='x'", ""))
            .err()
            .unwrap_or_else(|| panic!("{dtype} x = {value} was accepted"));
        let text = e.to_string();
        assert!(
            text.contains("[states].x") && text.contains("out of range") && text.contains(dtype),
            "{text}"
        );
    }
    // Parameters too, and the edges are fine.
    let e = sim(&format!(
        "{}[params]\nk=2147483648\n",
        map("int32", "x=1", "x='x + k'", "").replace("[aux]\n", "")
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("[params].k"), "{e}");
    sim(&map("int32", "x=2147483647", "x='x'", "")).unwrap();
    sim(&map("int64", "x=-9223372036854775808", "x='x'", "")).unwrap();
    // A float model run as int32 is checked against int32 too.
    let e = dynlib_runtime::setup(
        "inline:[model]\ntype='map'\n[states]\nx=1e12\n[equations.rhs]\nx='x'\n",
        SetupOptions::default()
            .config(Config::default())
            .dtype("int32"),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .contains("not a whole number in the range of int32"),
        "{e}"
    );
    // So is a fraction, which int32 would truncate.
    let e = dynlib_runtime::setup(
        "inline:[model]\ntype='map'\n[states]\nx=2.5\n[equations.rhs]\nx='x'\n",
        SetupOptions::default()
            .config(Config::default())
            .dtype("int32"),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("x = 2.5 is not a whole number"),
        "{e}"
    );
}

#[test]
fn float_models_round_and_truncate_as_python() {
    let model = "inline:[model]\ntype='map'\n[states]\n\
        a=0.0\nb=0.0\nc=0.0\nd=0.0\ne2=0.0\nf=0.0\ng=0.0\nh=0.0\n\
        [equations.rhs]\n\
        a='round(2.675, 2)'\n\
        b='round(5e-324, 400)'\n\
        c='round(1e300)'\n\
        d='int(1e300)'\n\
        e2='floor(-1e300) + ceil(1e299) - trunc(2.5e300)'\n\
        f='99999999999999999999 + 0.5'\n\
        g='round(1234.5678, -2) + round(25, -1)'\n\
        h='round(-0.4)'\n";
    let mut s = sim(model).unwrap();
    s.run(RunOptions::default().n(1)).unwrap();
    let got: Vec<f64> = s.states().iter().map(|(_, v)| *v).collect();
    // CPython 3.11: round(2.675, 2) == 2.67; round(5e-324, 400) == 5e-324; round(1e300)
    // and int(1e300) are 10**300, which a float model holds as 1e300; the big literal is
    // 10**20; round(1234.5678, -2) == 1200.0, round(25, -1) == 20; round(-0.4) == 0.
    let want = [
        2.67,
        5e-324,
        1e300,
        1e300,
        -1e300 + 1e299 - 2.5e300,
        1e20 + 0.5,
        1220.0,
        0.0,
    ];
    assert_eq!(got, want);
    // An integer literal beyond 64 bits cannot be an integer model's.
    let e = sim(&map("int64", "x=1", "x='x + 99999999999999999999'", ""))
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("does not fit the model's dtype int64"),
        "{e}"
    );
}

#[test]
fn integer_overflow_faults_instead_of_wrapping() {
    let over = "does not fit 64 bits";
    for (x0, rhs) in [
        ("9223372036854775806", "x + 1"),
        ("-9223372036854775807", "x - 1"),
        ("3037000499", "x + 1 + 0 * (x * x)"),
        ("2097151", "x + 1 + 0 * x ** 3"),
        ("-9223372036854775807", "x - 1 + 0 * -x"),
        ("-9223372036854775807", "x - 1 + 0 * abs(x)"),
        ("-9223372036854775807", "x - 1 + 0 * (x * -1)"),
        (
            "12345",
            "(6364136223846793005 * x + 1442695040888963407) % 9223372036854775807",
        ),
    ] {
        let (status, warnings, _) = run(
            &map("int64", &format!("x={x0}"), &format!("x='{rhs}'"), ""),
            4,
        );
        assert_eq!(status, Status::ArithmeticFault, "{rhs}");
        assert!(
            warnings.iter().any(|w| w.contains(over)),
            "{rhs}: {warnings:?}"
        );
    }
    // Right at the edges nothing overflows.
    for (x0, rhs) in [
        (
            "9223372036854775806",
            "x + 1 if x < 9223372036854775807 else x",
        ),
        (
            "-9223372036854775807",
            "x - 1 if x > -9223372036854775807 else x",
        ),
        ("3037000499", "0 * x + 3037000499 * 3037000499"),
        ("-9223372036854775808", "x * 1 + 0 * (x // 2 * 2)"),
        ("9223372036854775807", "-x"),
        (
            "0",
            "x * -9223372036854775807 + (-9223372036854775807 - 1) * 0",
        ),
    ] {
        let (status, warnings, _) = run(
            &map("int64", &format!("x={x0}"), &format!("x='{rhs}'"), ""),
            2,
        );
        assert_eq!(status, Status::Done, "{rhs}: {warnings:?}");
    }
}

#[test]
fn the_rest_of_pythons_integer_arithmetic_is_exact_or_faults() {
    // MIN // -1 is the one quotient int64 cannot hold.
    let (status, warnings, _) = run(
        &map(
            "int64",
            "x=-9223372036854775807",
            "x='x - 1 + 0 * (x // -1)'",
            "",
        ),
        3,
    );
    assert_eq!(status, Status::ArithmeticFault, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("does not fit 64 bits")));
    // round(n, -k) of an int is exact at any size, ties to even, as Python's.
    for (x0, rhs, want) in [
        ("9007199254740993", "round(x, -1)", 9007199254740990),
        ("25", "round(x, -1)", 20),
        ("35", "round(x, -1)", 40),
        ("-25", "round(x, -1)", -20),
        (
            "1234567890123456789",
            "round(x, -18)",
            1_000_000_000_000_000_000,
        ),
        ("1234567890123456789", "round(x, -19)", 0),
        ("1234567890123456789", "round(x, 3)", 1234567890123456789),
        // 10**19 is out of int64 but only |x| > 5e18 rounds to it; ties go to the even 0.
        ("5000000000000000000", "round(x, -19)", 0),
        ("-5000000000000000000", "round(x, -19)", 0),
        // From -20 on, |x| < 10**20 / 2 always: 0, never an overflow.
        ("6000000000000000000", "round(x, -20)", 0),
        ("9223372036854775807", "round(x, -25)", 0),
        ("-9223372036854775808", "round(x, -25)", 0),
    ] {
        let uri = map("int64", &format!("x={x0}"), &format!("x='{rhs}'"), "");
        let mut s = sim(&uri).unwrap();
        let r = s.run(RunOptions::default().n(1)).unwrap();
        let got = r.column("x").unwrap().number(1);
        assert_eq!(got, dynlib_model::Number::Int(want), "{rhs} of {x0}");
        // And no fault, in native code as well.
        assert_eq!(run(&uri, 1).0, Status::Done, "{rhs} of {x0}");
    }
    // Past int64: round(±6e18, -19) is ±1e19 in Python.
    for x0 in ["6000000000000000000", "-6000000000000000000"] {
        let (status, _, _) = run(
            &map("int64", &format!("x={x0}"), "x='round(x, -19)'", ""),
            1,
        );
        assert_eq!(status, Status::ArithmeticFault, "round({x0}, -19)");
    }
    // A range that would step past int64 stops where Python's does (after the last value
    // below `stop`), instead of wrapping round forever.
    let (status, warnings, x) = run(
        &map(
            "int64",
            "x=0",
            "x='sum(1 for i in range(9223372036854775800, 9223372036854775807, 3))'",
            "",
        ),
        1,
    );
    assert_eq!(status, Status::Done, "{warnings:?}");
    assert_eq!(x, [0.0, 3.0]);
    let (status, _, x) = run(
        &map(
            "int64",
            "x=0",
            "x='sum(1 for i in range(-9223372036854775800, -9223372036854775807 - 1, -5))'",
            "",
        ),
        1,
    );
    assert_eq!(status, Status::Done);
    assert_eq!(x, [0.0, 2.0]);
    // range() takes whole numbers only: range(2.5) raises in Python.
    faulted(
        &map("float64", "x=2.5", "x='sum(1.0 for i in range(x))'", ""),
        1,
        "integer",
    );
    let (status, _, x) = run(
        &map("float64", "x=3.0", "x='sum(1.0 for i in range(x))'", ""),
        1,
    );
    assert_eq!(status, Status::Done);
    assert_eq!(x, [3.0, 3.0]);
}
