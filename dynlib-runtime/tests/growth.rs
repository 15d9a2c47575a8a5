//! Buffer growth never replays or loses anything: runs with capacity 1 equal runs with
//! huge buffers, for every stepper, with logged events, aux, lags and a stop condition.

use std::sync::Arc;

use dynlib_model::{load_text, Config, LoadOptions};
use dynlib_runtime::{DVec, Kernel, RunOutput, RunSpec};

const ODE: &str = r#"
[model]
type = "ode"
[states]
v = -65.0
w = 0.0
[params]
I = 20.0
v_th = -50.0
[equations.rhs]
v = "(-65.0 - v + I) / 10.0 - 0.01*w"
w = "0.1*(v + 65.0) - 0.05*w"
[aux]
en = "v*v"
lv = "lag_v(2)"
[events.up]
phase = "start"
cond = "cross_up(w, 5.0)"
log = ["t", "w"]
[events.reset]
cond = "v >= v_th"
action = "v = -65.0"
log = ["t", "v", "aux:en"]
"#;

const MAP: &str = r#"
[model]
type = "map"
[states]
x = 0.1
[params]
r = 3.9
[equations.rhs]
x = "r*x*(1-x)"
[aux]
big = "x > 0.9"
[events.high]
phase = "both"
cond = "x > 0.95"
log = ["t", "x"]
"#;

fn run(kernel: &Kernel, caps: usize, interval: u64) -> RunOutput {
    kernel
        .run(&mut kernel.machine(), &spec(kernel, caps, interval))
        .unwrap()
}

fn spec(kernel: &Kernel, caps: usize, interval: u64) -> RunSpec {
    let m = kernel.model();
    RunSpec {
        t0: 0.0,
        t_end: 60.0,
        dt: 0.05,
        max_steps: if m.kind == dynlib_model::ModelKind::Map {
            400
        } else {
            100_000
        },
        record_interval: interval,
        y0: DVec::from_numbers(
            kernel.elem(),
            &m.states.iter().map(|s| s.value).collect::<Vec<_>>(),
        ),
        params: DVec::from_numbers(
            kernel.elem(),
            &m.params.iter().map(|s| s.value).collect::<Vec<_>>(),
        ),
        config: kernel.stepper().config.iter().map(|f| f.default).collect(),
        explicit_dt: Some(0.05),
        wrms_first_step: true,
        workspace: None,
        rec_states: (0..m.states.len()).collect(),
        rec_aux: (0..m.aux.len()).collect(),
        cap_rec: caps,
        cap_evt: caps,
        memory_limit: dynlib_runtime::run::default_memory_limit(),
        interrupt: None,
        progress: None,
        observe: false,
        fastpath: false,
        tier_switch_step: None,
        trace_stride: 0,
        cap_trace: 0,
    }
}

fn same(a: &RunOutput, b: &RunOutput, what: &str) {
    assert_eq!(a.status, b.status, "{what}");
    assert_eq!(a.steps, b.steps, "{what}");
    assert_eq!(a.t, b.t, "{what}");
    assert_eq!(a.step, b.step, "{what}");
    assert_eq!(a.states, b.states, "{what}");
    assert_eq!(a.aux, b.aux, "{what}");
    assert_eq!(a.events, b.events, "{what}");
    assert_eq!(a.y_final, b.y_final, "{what}");
}

/// Every registered ODE stepper.
fn ode_steppers() -> impl Iterator<Item = &'static str> {
    dynlib_runtime::stepper::registry()
        .iter()
        .filter(|s| s.kind == dynlib_runtime::stepper::StepperKind::Ode)
        .map(|s| s.name)
}

#[test]
fn tiny_buffers_give_identical_results() {
    let opts = LoadOptions::default().with_config(Config::default());
    let ode = Arc::new(load_text(ODE, &opts).unwrap());
    let map = Arc::new(load_text(MAP, &opts).unwrap());
    for stepper in ode_steppers() {
        let k = Kernel::build(ode.clone(), Some(stepper)).unwrap();
        for interval in [1, 3] {
            let big = run(&k, 1 << 20, interval);
            assert!(
                !big.events.is_empty(),
                "{stepper}: the test model must log events"
            );
            same(&run(&k, 1, interval), &big, stepper);
        }
    }
    let k = Kernel::build(map, None).unwrap();
    let big = run(&k, 1 << 20, 1);
    assert!(!big.events.is_empty());
    assert_eq!(
        big.t[..4],
        [0.0, 0.05, 0.1, 0.15000000000000002],
        "map labels are t0 + k dt"
    );
    same(&run(&k, 1, 1), &big, "map");
}

/// The same through the session, with a resume in the middle: tiny capacities give exactly
/// the results of huge ones.
#[test]
fn tiny_buffers_with_resume_through_the_session() {
    let opts = dynlib_runtime::SetupOptions::default().config(Config::default());
    let cases = ode_steppers()
        .map(|s| (ODE, s, 20.0, 60.0))
        .chain([(MAP, "map", 150.0, 400.0)]);
    for (model, stepper, first, second) in cases {
        let uri = format!("inline:{model}");
        let run = |caps: usize| {
            let mut sim = dynlib_runtime::setup(&uri, opts.clone().stepper(stepper)).unwrap();
            let o = dynlib_runtime::RunOptions::default()
                .dt(0.05)
                .record_vars(
                    &["v", "w", "aux.en", "x", "aux.big"]
                        .iter()
                        .filter(|v| {
                            let m = sim.model();
                            let bare = v.trim_start_matches("aux.");
                            m.state_index(bare).is_some() || m.aux_index(bare).is_some()
                        })
                        .copied()
                        .collect::<Vec<_>>(),
                )
                .capacities(caps, caps);
            let o = if stepper == "map" {
                o.n(first as u64)
            } else {
                o.t_end(first)
            };
            sim.run(&o).unwrap();
            let o = dynlib_runtime::RunOptions::default()
                .resume()
                .capacities(caps, caps);
            let o = if stepper == "map" {
                o.n(second as u64)
            } else {
                o.t_end(second)
            };
            sim.run(&o).unwrap();
            sim.results().unwrap().clone()
        };
        let (a, b) = (run(1), run(1 << 20));
        assert!(
            !b.events.is_empty(),
            "{stepper}: the test model must log events"
        );
        assert_eq!(a.t, b.t, "{stepper}");
        assert_eq!(a.step, b.step, "{stepper}");
        assert_eq!(a.events, b.events, "{stepper}");
        for (x, y) in a.all_series().zip(b.all_series()) {
            assert_eq!(x, y, "{stepper}");
        }
        assert_eq!(a.y_final, b.y_final, "{stepper}");
    }
}

#[test]
fn a_workspace_of_another_shape_is_refused_naming_the_buffer() {
    let opts = LoadOptions::default().with_config(Config::default());
    let model = Arc::new(load_text(ODE, &opts).unwrap());
    let k = Kernel::build(model, Some("rk4")).unwrap();
    let out = run(&k, 8, 1);
    let mut resume = spec(&k, 8, 1);
    resume.workspace = Some(out.workspace.clone());
    k.run(&mut k.machine(), &resume).unwrap();
    let mut short = out.workspace.clone();
    short.vectors[1].resize(1);
    resume.workspace = Some(short);
    let err = k.run(&mut k.machine(), &resume).unwrap_err().to_string();
    assert_eq!(
        err,
        "vector 'k2' of the workspace to resume from needs 2 values, got 1"
    );
    let mut rings = out.workspace;
    rings.head.push(0);
    resume.workspace = Some(rings);
    let err = k.run(&mut k.machine(), &resume).unwrap_err().to_string();
    assert!(err.starts_with("the lag heads of the workspace"), "{err}");
}
