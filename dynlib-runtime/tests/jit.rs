//! DESIGN.md invariant 2: `jit = true` and `jit = false` agree bit for bit.
//!
//! For every builtin model and every stepper of its kind (and float32 and int64 variants,
//! and models written to touch every operation: Python's floored `//` and `%`, conversions,
//! every libm function, lags, events with actions and logs, stop conditions), the same
//! session script runs on both backends: a fresh run recording every state and aux, a
//! resumed continuation, and a fresh session with a transient, a record interval and
//! capacity-1 buffers. Every recorded time, step, series value, event row, status, step
//! count, final state and warning must be identical, floats compared by their bits.

#![cfg(feature = "jit")]

use dynlib_ir::{Arg, Scalar};
use dynlib_model::uri::builtin_models;
use dynlib_model::{Config, ModelKind};
use dynlib_runtime::stepper::{registry, StepperKind};
use dynlib_runtime::{Role, RunOptions, RuntimeError, SetupOptions, Sim};

/// An event row: the event, its record index, and each value as (is an int, bits).
type LoggedRow = (usize, i64, Vec<(bool, u64)>);

/// Everything observable about a session after a run, floats as bits.
#[derive(Debug, PartialEq)]
struct Observed {
    outcome: String,
    status: &'static str,
    t: Vec<u64>,
    step: Vec<i64>,
    series: Vec<(String, Vec<u64>)>,
    events: Vec<LoggedRow>,
    warnings: Vec<String>,
    step_count: u64,
    t_final: u64,
    y_final: Vec<u64>,
    params_final: Vec<u64>,
    /// The solver's counters: the same work on both backends.
    stats: dynlib_runtime::SolverStats,
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// Logged values as bits: floats' bit patterns, integers themselves (and which is which).
fn number_bits(xs: &[dynlib_model::Number]) -> Vec<(bool, u64)> {
    xs.iter()
        .map(|x| match x {
            dynlib_model::Number::Float(f) => (false, f.to_bits()),
            dynlib_model::Number::Int(i) => (true, *i as u64),
        })
        .collect()
}

/// A recorded series as bits: float bit patterns, or the integers themselves.
fn column_bits(c: dynlib_runtime::Column<'_>) -> Vec<u64> {
    match c {
        dynlib_runtime::Column::Float(v) => bits(v),
        dynlib_runtime::Column::Int(v) => v.iter().map(|&x| x as u64).collect(),
    }
}

fn observe(sim: &Sim, outcome: Result<(), RuntimeError>) -> Observed {
    let outcome = match outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let Ok(res) = sim.results() else {
        return Observed {
            outcome,
            status: "",
            t: vec![],
            step: vec![],
            series: vec![],
            events: vec![],
            warnings: vec![],
            step_count: 0,
            t_final: 0,
            y_final: vec![],
            params_final: vec![],
            stats: Default::default(),
        };
    };
    Observed {
        outcome,
        status: res.status.name(),
        t: bits(&res.t),
        step: res.step.clone(),
        series: res
            .all_series()
            .map(|(n, s)| (n.to_string(), column_bits(s)))
            .collect(),
        events: res
            .events
            .iter()
            .map(|r| (r.event, r.record_index, number_bits(&r.values)))
            .collect(),
        warnings: res.warnings.clone(),
        step_count: res.step_count,
        t_final: res.t_final.to_bits(),
        y_final: res.y_final.bits(),
        params_final: res.params_final.bits(),
        stats: res.stats,
    }
}

/// How a script's sessions run.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Backend {
    Interp,
    /// Every step native (not tiered).
    Native,
    /// Tiered, switching from the interpreter to native code at this step of each run.
    SwitchAt(u64),
}

impl Backend {
    fn of(jit: bool) -> Backend {
        if jit {
            Backend::Native
        } else {
            Backend::Interp
        }
    }
}

fn setup(uri: &str, stepper: &str, dtype: Option<&str>, jit: bool) -> Sim {
    setup_on(uri, stepper, dtype, Backend::of(jit))
}

fn setup_on(uri: &str, stepper: &str, dtype: Option<&str>, backend: Backend) -> Sim {
    let jit = backend != Backend::Interp;
    let mut options = SetupOptions::default()
        .stepper(stepper)
        .jit(jit)
        .tiered(matches!(backend, Backend::SwitchAt(_)))
        .config(Config::default());
    if let Some(d) = dtype {
        options = options.dtype(d);
    }
    let sim = dynlib_runtime::setup(uri, options)
        .unwrap_or_else(|e| panic!("{uri} {stepper} jit={jit}: {e}"));
    let k = sim.kernel();
    for role in Role::ALL {
        assert_eq!(
            k.is_jitted(role),
            jit && k.func(role).is_some(),
            "{uri} {stepper}: is_jitted({})",
            role.name()
        );
    }
    assert_eq!(k.backend_name(), if jit { "llvm" } else { "interp" });
    sim
}

/// The session script; returns what each step of it left behind.
fn script(uri: &str, stepper: &str, dtype: Option<&str>, jit: bool) -> Vec<Observed> {
    script_on(uri, stepper, dtype, Backend::of(jit))
}

/// [`script`] on `backend`; checks how many steps ran natively.
fn script_on(uri: &str, stepper: &str, dtype: Option<&str>, backend: Backend) -> Vec<Observed> {
    let mut sim = setup_on(uri, stepper, dtype, backend);
    let m = sim.kernel().model().clone();
    let mut vars: Vec<String> = m.states.iter().map(|s| s.name.clone()).collect();
    vars.extend(m.aux.iter().map(|a| format!("aux.{}", a.name)));
    let map = m.kind == ModelKind::Map;
    let (t0, dt) = (m.sim.t0, m.sim.dt);
    let horizon = |steps: u64, mut o: RunOptions| {
        if let Backend::SwitchAt(k) = backend {
            o.tier_switch_step = Some(k);
        }
        if map {
            o.n(steps)
        } else {
            o.t_end(t0 + steps as f64 * dt)
        }
    };
    let mut out = Vec::new();

    let r = sim
        .run(horizon(240, RunOptions::default().record_vars(&vars)))
        .map(|_| ());
    out.push(observe(&sim, r));
    if let Ok(res) = sim.results() {
        // A fresh run counts its steps from 0: the switch at k leaves steps - k native.
        let expect = match backend {
            Backend::Interp => 0,
            Backend::Native => res.step_count,
            Backend::SwitchAt(k) => res.step_count.saturating_sub(k),
        };
        assert_eq!(res.native_steps, expect, "{uri} {stepper} {backend:?}");
    }
    let r = sim
        .run(horizon(400, RunOptions::default().resume()))
        .map(|_| ());
    out.push(observe(&sim, r));

    let mut sim = setup_on(uri, stepper, dtype, backend);
    let warm = if map { 25.0 } else { 25.0 * dt };
    let r = sim
        .run(horizon(
            300,
            RunOptions::default()
                .record_vars(&vars)
                .transient(warm)
                .record_interval(3)
                .capacities(1, 1),
        ))
        .map(|_| ());
    out.push(observe(&sim, r));
    out
}

fn assert_same(uri: &str, stepper: &str, dtype: Option<&str>) {
    let interp = script(uri, stepper, dtype, false);
    let native = script(uri, stepper, dtype, true);
    for (k, (a, b)) in interp.iter().zip(&native).enumerate() {
        assert!(
            a == b,
            "{uri} {stepper} {dtype:?}: run {k} differs between the interpreter and the JIT\n\
             interp: {a:?}\njit:    {b:?}"
        );
    }
    assert!(
        interp.iter().any(|o| !o.t.is_empty()),
        "{uri} {stepper}: nothing was recorded, so nothing was compared"
    );
}

fn steppers(kind: ModelKind) -> Vec<&'static str> {
    let want = match kind {
        ModelKind::Ode => StepperKind::Ode,
        ModelKind::Map => StepperKind::Map,
    };
    registry()
        .iter()
        .filter(|s| s.kind == want)
        .map(|s| s.name)
        .collect()
}

#[test]
fn every_builtin_ode_model_and_stepper() {
    for b in builtin_models().iter().filter(|b| b.kind == "ode") {
        for stepper in steppers(ModelKind::Ode) {
            assert_same(&b.uri(), stepper, None);
        }
    }
}

/// Steppers and runners unroll their per-state work for small models and emit it as IR
/// loops for large ones (`stepper::emit::UNROLL_STATES`), several states an iteration and
/// the remainder unrolled. With every such loop forced (limit 0), one state an iteration
/// and two (so a 3-state model has a remainder), both backends give the bits of the
/// unrolled code: every stepper, on models with events, aux and lags as well as plain
/// ones, and in float32.
#[test]
fn loops_give_the_bits_of_unrolled_code() {
    use dynlib_runtime::stepper::emit::with_unrolling;
    let mut cases: Vec<(&str, &str, Option<&str>)> = Vec::new();
    for uri in ["builtin://ode/lorenz", "builtin://ode/izhikevich"] {
        cases.extend(steppers(ModelKind::Ode).into_iter().map(|s| (uri, s, None)));
    }
    cases.push(("builtin://ode/vanderpol", "rk45", Some("float32")));
    cases.push(("builtin://ode/hodgkin-huxley", "rk4", None));
    for uri in ["builtin://map/henon", "builtin://map/logistic"] {
        cases.extend(steppers(ModelKind::Map).into_iter().map(|s| (uri, s, None)));
    }
    // And the loops as they are made for large models (8 states an iteration and a
    // remainder of 3), at the default settings, on a Lorenz-96 of 43 states.
    let mut l96 = String::from("inline:\n[model]\ntype = \"ode\"\n[states]\n");
    for i in 0..43 {
        l96.push_str(&format!("x{i} = {}\n", 8.0 + 0.01 * (i % 3) as f64));
    }
    l96.push_str("[params]\nF = 8.0\n[equations.rhs]\n");
    for i in 0..43 {
        let (a, b, c) = ((i + 1) % 43, (i + 41) % 43, (i + 42) % 43);
        l96.push_str(&format!("x{i} = \"(x{a} - x{b}) * x{c} - x{i} + F\"\n"));
    }
    for stepper in ["rk4", "rk45", "ab3", "heun"] {
        let unrolled = with_unrolling(usize::MAX, 1, || script(&l96, stepper, None, false));
        for jit in [false, true] {
            let looped = script(&l96, stepper, None, jit);
            assert_eq!(unrolled.len(), looped.len());
            for (k, (a, b)) in unrolled.iter().zip(&looped).enumerate() {
                assert!(
                    a == b,
                    "Lorenz-96 (43) {stepper}: run {k} (jit = {jit}) differs from unrolled code"
                );
            }
        }
    }
    for (uri, stepper, dtype) in cases {
        let unrolled = with_unrolling(usize::MAX, 1, || script(uri, stepper, dtype, false));
        assert!(unrolled.iter().any(|o| !o.t.is_empty()), "{uri} {stepper}");
        for (by, jit) in [(1, false), (1, true), (2, false), (2, true)] {
            let looped = with_unrolling(0, by, || script(uri, stepper, dtype, jit));
            assert_eq!(unrolled.len(), looped.len());
            for (k, (a, b)) in unrolled.iter().zip(&looped).enumerate() {
                assert!(
                    a == b,
                    "{uri} {stepper} {dtype:?}: run {k} with loops of {by} (jit = {jit}) differs from \
                     the unrolled interpreter\nunrolled: {a:?}\nloops:    {b:?}"
                );
            }
        }
    }
}

/// The native backend cuts blocks longer than `OUTLINE_ABOVE` instructions into calls of
/// functions of at most `OUTLINE_CHUNK` (dynlib-ir's `passes::outline`): a Lorenz-96 of 300
/// states has a right-hand side of about 2,200 instructions, cut in three. The runs keep the
/// interpreter's bits, and the compiled code really calls the parts. And the per-state
/// loops of a model this size give the bits of unrolled code.
#[test]
fn outlined_blocks_give_the_bits_of_whole_ones() {
    let n = 300;
    let mut l96 = String::from("inline:\n[model]\ntype = \"ode\"\n[states]\n");
    for i in 0..n {
        l96.push_str(&format!("x{i} = {}\n", 8.0 + 0.01 * (i % 5) as f64));
    }
    l96.push_str("[params]\nF = 8.0\n[equations.rhs]\n");
    for i in 0..n {
        let (a, b, c) = ((i + 1) % n, (i + n - 2) % n, (i + n - 1) % n);
        l96.push_str(&format!("x{i} = \"(x{a} - x{b}) * x{c} - x{i} + F\"\n"));
    }
    let sim = setup(&l96, "rk4", None, true);
    let rhs = sim.kernel().func(Role::Rhs).unwrap();
    let size: usize = sim
        .kernel()
        .program()
        .func(rhs)
        .blocks
        .iter()
        .map(|b| b.insts.len())
        .sum();
    assert!(
        size > dynlib_ir::passes::outline::OUTLINE_ABOVE,
        "the right-hand side ({size} instructions) is too small to be outlined"
    );
    let dir = tempfile::tempdir().unwrap();
    sim.kernel().export_sources(dir.path()).unwrap();
    let ll = std::fs::read_to_string(dir.path().join("runner.ll")).unwrap();
    for part in ["@dl.rhs.part0(", "@dl.rhs.part1("] {
        let defined = ll
            .lines()
            .any(|l| l.starts_with("define internal") && l.contains(part));
        let called = ll.lines().any(|l| l.contains(" call ") && l.contains(part));
        assert!(
            defined && called,
            "{part} is not defined and called in runner.ll"
        );
    }
    for stepper in ["rk4", "rk45"] {
        assert_same(&l96, stepper, None);
    }
    // rk45's initial step: numpy's pairwise sums over 300 states (split 144 + 156, then
    // blocks of 72, 72, 72 and 84 items: one with a remainder of 4) as loops give the bits
    // of the unrolled sums.
    use dynlib_runtime::stepper::emit::with_unrolling;
    let unrolled = with_unrolling(usize::MAX, 1, || script(&l96, "rk45", None, false));
    assert!(
        unrolled == script(&l96, "rk45", None, true),
        "loops differ from unrolled code"
    );
}

#[test]
fn every_builtin_map_model() {
    for b in builtin_models().iter().filter(|b| b.kind == "map") {
        for stepper in steppers(ModelKind::Map) {
            assert_same(&b.uri(), stepper, None);
        }
    }
}

#[test]
fn float32_models() {
    for b in builtin_models() {
        let stepper = if b.kind == "ode" { "rk45" } else { "map" };
        assert_same(&b.uri(), stepper, Some("float32"));
    }
    assert_same("builtin://ode/vanderpol", "rk4", Some("float32"));
}

/// Every libm function, the operators whose meaning is Python's, conversions both ways,
/// lags, both event phases with actions and logs, aux and a stop condition.
const EVERYTHING_ODE: &str = r#"
[model]
type = "ode"
[states]
x = 0.5
y = -0.25
z = 1.5
[params]
a = 0.7
b = -1.3
[equations.rhs]
x = "sin(y) + cos(z) * tan(0.1*x) - asin(0.5*tanh(x)) + acos(0.3*tanh(y)) + atan(z)"
y = "atan2(x, y) + sinh(0.1*x) - cosh(0.1*y) + tanh(z) + asinh(x) + acosh(1.5 + x*x) + atanh(0.5*tanh(y))"
z = "exp(-z*z) + expm1(0.01*x) + log(1 + z*z) + log10(2 + x*x) + log2(3 + y*y) + log1p(x*x) + sqrt(1 + z*z) + abs(x)**a + abs(y)**a + x**2.5 if x > 0 else -x**3 + abs(b) * floor(y) - ceil(z) + trunc(x*3) + round(y*7) + hypot(x, z) + copysign(1.0, y) + erf(x) + erfc(y) + (x // a) + (y % b) + int(x*10) % 3 - lag_x(3)"
[aux]
m = "x % 0.3"
d = "z // -0.7"
i = "int(y * 100) // 7"
lz = "lag_z(2)"
[events.kick]
phase = "start"
cond = "cross_up(x, 0.6)"
action = "y = y - 0.5"
log = ["t", "x", "y", "aux:m"]
[events.bounce]
phase = "end"
cond = "z > 3.0"
action = "z = z * 0.5"
log = ["t", "z", "aux:d"]
[sim]
t_end = 5.0
dt = 0.01
stop = "abs(z) > 1e6"
"#;

/// An int64 map: floored division and modulo of ints, the negative cases, conversions from
/// floats, and divisions guarded the way Python needs them (`a // b if b != 0 else 0`,
/// `b != 0 and a % b`), which must not fault where the guard holds.
const INT_MAP: &str = r#"
[model]
type = "map"
dtype = "int64"
[states]
n = 7
m = -3
[params]
k = 5
[equations.rhs]
n = "(n * 37 + m) % 1001 - 500"
m = "(n // k) + (m % 7) - (n // -3) + int(sin(n) * 100) + (n // m if m != 0 else 0) + (m != 0 and n % m)"
[aux]
q = "n // 4"
r = "m % -6"
f = "n / 3"
[events.neg]
phase = "end"
cond = "n < 0"
log = ["t", "n", "aux:f"]
[sim]
dt = 1.0
"#;

#[test]
fn every_operation_and_libm_function() {
    for stepper in ["euler", "rk4", "rk45", "ab3"] {
        assert_same(&format!("inline:{EVERYTHING_ODE}"), stepper, None);
    }
    assert_same(&format!("inline:{EVERYTHING_ODE}"), "rk4", Some("float32"));
    assert_same(&format!("inline:{INT_MAP}"), "map", None);
    assert_same(&format!("inline:{INT_MAP}"), "map", Some("int32"));
}

/// Maps that fault (division by zero, conversions out of range, a zero range step): both
/// backends stop at the same step with the same status and warning.
#[test]
fn arithmetic_faults_stop_both_backends_alike() {
    for (dtype, rhs) in [
        ("int64", "n + 1 + 0 * (7 // (n - 3))"),
        ("int64", "n + 1 if n < 6 else n % (n - n)"),
        ("int64", "n + int(10.0 ** (n * 20))"),
        ("int32", "n * 100000"),
        ("int64", "n * 1000000007 + 3"),
        ("int64", "n + 9223372036854775000"),
        ("int64", "n + 1 + 0 * sum(1 for i in range(0, 3, n - 5))"),
        (
            "float64",
            "n + 1 + 0 * sum(1 for i in range(0, 2, round(n) - 3))",
        ),
    ] {
        let model = format!(
            "inline:[model]\ntype='map'\ndtype='{dtype}'\n[states]\nn=1\n[equations.rhs]\nn='{rhs}'\n"
        );
        let interp = script(&model, "map", None, false);
        let native = script(&model, "map", None, true);
        assert_eq!(interp, native, "{rhs}");
        assert_eq!(
            interp[0].status, "ARITHMETIC_FAULT",
            "{rhs}: {} {:?}",
            interp[0].outcome, interp[0].warnings
        );
    }
}

/// `rhs(0, y, p)` of a model without lags, called directly on `k`'s backend.
fn call_rhs(k: &dynlib_runtime::Kernel, y: &[f64], p: &[f64]) -> Vec<f64> {
    let (mut y, mut p, mut dy) = (y.to_vec(), p.to_vec(), vec![0.0; y.len()]);
    let (mut ring, mut head) = ([0.0; 0], [0i64; 0]);
    k.call(
        &mut k.machine(),
        Role::Rhs,
        &mut [
            Arg::F64(0.0),
            Arg::PtrF64(&mut y),
            Arg::PtrF64(&mut dy),
            Arg::PtrF64(&mut p),
            Arg::PtrF64(&mut ring),
            Arg::PtrI64(&mut head),
        ],
    )
    .unwrap();
    dy
}

#[test]
fn model_functions_and_stepper_are_callable_natively() {
    let uri = "builtin://ode/lorenz";
    let sims = [
        setup(uri, "rk45", None, false),
        setup(uri, "rk45", None, true),
    ];
    let mut outs = Vec::new();
    for sim in &sims {
        let k = sim.kernel();
        let mut machine = k.machine();
        let y = [1.0, 2.0, 3.0];
        let p: Vec<f64> = sim.params().iter().map(|(_, v)| *v).collect();
        let mut dy = call_rhs(k, &y, &p);
        let (mut ring, mut head, mut pp, mut yy) = ([0.0; 0], [0i64; 0], p.clone(), y);
        // One rk45 step.
        let nv = k.stepper().workspace.vectors.len();
        let mut ws = vec![[0.0f64; 3]; nv];
        let mut sc = vec![0.0; k.stepper().workspace.scalar_slots()];
        let mut cfg: Vec<f64> = k.stepper().config.iter().map(|f| f.default).collect();
        let mut y_prop = [0.0; 3];
        let mut sout = [0.0; 3];
        let mut stats = [0i64; dynlib_runtime::abi::STATS_LEN];
        let mut args = vec![
            Arg::F64(0.0),
            Arg::F64(0.01),
            Arg::PtrF64(&mut yy),
            Arg::PtrF64(&mut pp),
            Arg::PtrF64(&mut ring),
            Arg::PtrI64(&mut head),
        ];
        args.extend(ws.iter_mut().map(|w| Arg::PtrF64(&mut w[..])));
        args.extend([
            Arg::PtrF64(&mut sc),
            Arg::PtrF64(&mut cfg),
            Arg::PtrF64(&mut y_prop),
            Arg::PtrF64(&mut sout),
            Arg::PtrI64(&mut stats),
        ]);
        let status = k.call(&mut machine, Role::Stepper, &mut args).unwrap();
        assert_eq!(status, [Scalar::I32(0)]);
        // One accepted attempt: k1 and six more stages.
        assert_eq!(stats[dynlib_runtime::abi::STAT_RHS], 7);
        outs.push((bits(&dy), bits(&y_prop), bits(&sout)));

        // Too-short arrays are refused before any native code runs.
        let mut short = [0.0; 2];
        let err = k
            .call(
                &mut machine,
                Role::Rhs,
                &mut [
                    Arg::F64(0.0),
                    Arg::PtrF64(&mut short),
                    Arg::PtrF64(&mut dy),
                    Arg::PtrF64(&mut pp),
                    Arg::PtrF64(&mut ring),
                    Arg::PtrI64(&mut head),
                ],
            )
            .unwrap_err();
        assert!(err.to_string().contains("at least 3 elements"), "{err}");
        assert!(
            matches!(
                err,
                dynlib_runtime::RuntimeError::Shape {
                    expected: 3,
                    found: 2,
                    at_least: true,
                    ..
                }
            ),
            "a caller can act on the lengths: {err:?}"
        );
        assert!(k
            .call(
                &mut machine,
                Role::Runner(dynlib_runtime::runner::RunnerVariant::Base),
                &mut []
            )
            .is_err());
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(
        outs[0].0,
        bits(&[10.0, 28.0 - 3.0 - 2.0, 2.0 - 8.0 / 3.0 * 3.0])
    );
}

#[test]
fn native_sources_are_exported() {
    let sim = setup("builtin://ode/vanderpol", "rk4", None, true);
    let dir = tempfile::tempdir().unwrap();
    let files = sim.kernel().export_sources(dir.path()).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for unit in sim.kernel().units() {
        for ext in ["ll", "s"] {
            let name = format!("{}.{ext}", unit.name());
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
    let runner_ll = std::fs::read_to_string(dir.path().join("runner.ll")).unwrap();
    assert!(
        runner_ll.contains("define void @dynlib_entry_runner"),
        "{runner_ll}"
    );
    // No fast-math flags anywhere: they would let LLVM change results.
    for flag in [
        " fast ",
        " contract ",
        " reassoc ",
        " nnan ",
        " ninf ",
        " afn ",
    ] {
        assert!(!runner_ll.contains(flag), "runner.ll contains `{flag}`");
    }
    assert!(std::fs::read_to_string(dir.path().join("runner.s"))
        .unwrap()
        .contains("dynlib_entry_runner"));
}

/// Kernels are shared across threads: each thread runs the same compiled kernel with its
/// own session, and all get the single-threaded answer.
#[test]
fn one_native_kernel_many_threads() {
    let kernel = dynlib_runtime::build(
        "builtin://ode/lorenz",
        SetupOptions::default()
            .stepper("rk45")
            .jit(true)
            .tiered(false)
            .config(Config::default()),
    )
    .unwrap();
    let expect = {
        let mut sim = Sim::new(kernel.clone());
        sim.run(RunOptions::default().t_end(5.0)).unwrap();
        sim.results().unwrap().y_final.bits()
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let kernel = kernel.clone();
                s.spawn(move || {
                    let mut sim = Sim::new(kernel);
                    sim.run(RunOptions::default().t_end(5.0)).unwrap();
                    sim.results().unwrap().y_final.bits()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expect);
        }
    });
}

/// A second `build` of the same units in the same process compiles nothing: the in-process
/// cache hands out the loaded code (and the kernels agree to the bit).
#[test]
fn a_second_build_in_the_same_process_compiles_nothing() {
    // A model no other test builds, so the process-wide cache starts without it.
    let uri = "inline:[model]\ntype='ode'\nname='second-build-test'\n[states]\nx=1.0\n[params]\nk=0.123456\n[equations.rhs]\nx='-k*x + 0.000123'\n";
    let options = SetupOptions::default()
        .stepper("rk4")
        .jit(true)
        .tiered(false)
        .config(Config::default());
    let run = |k: &std::sync::Arc<dynlib_runtime::Kernel>| {
        let mut sim = Sim::new(k.clone());
        sim.run(RunOptions::default().t_end(2.0)).unwrap();
        sim.results().unwrap().y_final.bits()
    };
    // The build compiles the runner its runs take (the fast path); the ordinary loop only
    // when a run first needs it, the model functions and the stepper when first called.
    let first = dynlib_runtime::build(uri, &options).unwrap();
    let s = first.cache_stats();
    assert_eq!((s.hits, s.misses, s.compiled, s.recovered), (0, 1, 1, 0));
    assert!(first.is_jitted(Role::Rhs) && first.is_jitted(Role::Stepper));
    let bits = run(&first);
    assert_eq!(first.cache_stats(), s);
    let mut sim = Sim::new(first.clone());
    sim.run(RunOptions::default().t_end(2.0).fastpath(false))
        .unwrap();
    assert_eq!(sim.results().unwrap().y_final.bits(), bits);
    let s = first.cache_stats();
    assert_eq!((s.hits, s.misses, s.compiled, s.recovered), (0, 2, 2, 0));
    // A direct call of a model function compiles the model functions' unit, once.
    let rhs = |k: &dynlib_runtime::Kernel| call_rhs(k, &[1.5], &[0.123456])[0].to_bits();
    let dy = rhs(&first);
    assert_eq!(dy, (-0.123456f64 * 1.5 + 0.000123).to_bits());
    assert_eq!(rhs(&first), dy);
    let s = first.cache_stats();
    assert_eq!((s.hits, s.misses, s.compiled, s.recovered), (0, 3, 3, 0));
    let second = dynlib_runtime::build(uri, &options).unwrap();
    assert_eq!(run(&second), bits);
    let s = second.cache_stats();
    assert_eq!((s.hits, s.misses, s.compiled, s.recovered), (1, 0, 0, 0));
    assert_eq!(rhs(&second), dy);
    assert_eq!(second.cache_stats().hits, 2);
    // Other parameter values are runtime data: still no compilation.
    let third = dynlib_runtime::build(&uri.replace("0.123456", "9.5"), &options).unwrap();
    assert_eq!(third.cache_stats().compiled, 0);
}

/// The same stepper and runner code at other function ids (the model without its
/// Jacobian has two functions fewer) is another unit: a loaded unit is never called by the
/// ids of a different program.
#[test]
fn units_from_programs_with_other_function_ids_are_not_mixed_up() {
    let with = dynlib_model::uri::builtin_models()
        .iter()
        .find(|b| b.name == "lorenz")
        .unwrap()
        .text;
    let cut = with.find("[equations.jacobian]").unwrap();
    let without = format!("{}\n", &with[..cut]);
    let options = SetupOptions::default()
        .stepper("rk4")
        .jit(true)
        .tiered(false)
        .config(Config::default());
    let mut finals = Vec::new();
    for text in [with.to_string(), without, with.to_string()] {
        let mut sim = dynlib_runtime::setup(&format!("inline:{text}"), &options).unwrap();
        sim.run(RunOptions::default().t_end(1.0)).unwrap();
        finals.push(sim.results().unwrap().y_final.bits());
    }
    assert_eq!(finals[0], finals[1]);
    assert_eq!(finals[0], finals[2]);
}

/// Tiered execution: a run that switches from the interpreter to native code at any step
/// (the first, mid-chunk, at a resume, inside a transient, after the end) gives the bits of
/// a pure run, and counts its native steps.
#[test]
fn tiered_runs_switch_backend_at_any_step_with_the_same_bits() {
    for (uri, stepper) in [
        ("builtin://ode/lorenz", "rk4"),
        ("builtin://ode/vanderpol", "rk45"),
        ("builtin://ode/izhikevich", "euler"),
        ("builtin://map/logistic", "map"),
        ("builtin://ode/vanderpol", "bdf"),
    ] {
        let pure = script(uri, stepper, None, false);
        for k in [0, 1, 2, 3, 7, 24, 25, 26, 100, 239, 240, 241, 333, 10_000] {
            let mixed = script_on(uri, stepper, None, Backend::SwitchAt(k));
            for (run, (a, b)) in pure.iter().zip(&mixed).enumerate() {
                assert!(
                    a == b,
                    "{uri} {stepper}: run {run} switching at step {k} differs\n\
                     pure:  {a:?}\nmixed: {b:?}"
                );
            }
        }
    }
}

/// A tiered kernel is ready at once: its runs never wait for native code, and take it
/// from the first chunk boundary after it is loaded.
#[test]
fn a_tiered_run_never_waits_for_its_native_code() {
    use dynlib_runtime::background;
    // A structure no other test compiles, so no cache has its runner.
    let model = "inline:
[model]
type = \"ode\"
[states]
u = 1.0
[params]
k = 0.75
[equations.rhs]
u = \"-k * u + 0.003125 * sin(u)\"
";
    /// Releases the hold however the test ends (a held gate would stall other tests).
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            dynlib_runtime::background::hold(false);
        }
    }
    let _release = Release;
    background::hold(true);
    let options = SetupOptions::default()
        .stepper("rk4")
        .jit(true)
        .config(Config::default());
    let mut sim = dynlib_runtime::setup(model, options).unwrap();
    assert!(sim.kernel().is_tiered());
    let run = |sim: &mut Sim| {
        sim.run(RunOptions::default().t_end(5.0).dt(0.01)).unwrap();
        let r = sim.results().unwrap();
        (r.step_count, r.native_steps, r.y_final.bits())
    };
    let (steps, native, held_bits) = run(&mut sim);
    assert!(steps > 400);
    assert_eq!(native, 0, "no native code exists yet");
    assert!(background::in_flight() >= 1);
    background::hold(false);
    sim.kernel().wait_native().unwrap();
    let (steps_after, native, bits) = run(&mut sim);
    assert_eq!((steps_after, native), (steps, steps));
    // The same two runs in the interpreter.
    let mut interp = dynlib_runtime::setup(
        model,
        SetupOptions::default()
            .stepper("rk4")
            .config(Config::default()),
    )
    .unwrap();
    assert_eq!(run(&mut interp).2, held_bits);
    assert_eq!(run(&mut interp).2, bits);
    assert_eq!(sim.kernel().cache_stats().compiled, 1);
    assert!(sim.kernel().tier_failure().is_none());

    // A run on another runner variant starts that runner's compilation, and once it is
    // done runs natively too.
    let base = |sim: &mut Sim| {
        let mut o = RunOptions::default().t_end(5.0).dt(0.01);
        o.fastpath = Some(false);
        sim.run(o).unwrap();
        let r = sim.results().unwrap();
        (r.variant.name(), r.step_count, r.native_steps)
    };
    assert_eq!(base(&mut sim).0, "base");
    background::wait();
    let (variant, steps, native) = base(&mut sim);
    assert_eq!((variant, native), ("base", steps));
    assert_eq!(sim.kernel().cache_stats().compiled, 2);
}
