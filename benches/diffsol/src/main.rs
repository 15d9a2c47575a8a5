//! dynlib's `bdf` (natively, `jit = true`) against diffsol 0.19's BDF on the same stiff
//! problems, tolerances and exact Jacobians (issue 11's target: `bdf` no slower):
//!
//! ```text
//! cargo run --release --manifest-path benches/diffsol/Cargo.toml
//! ```
//!
//! - Van der Pol, mu = 100, from (2, 0) to t = 300, rtol 1e-5, atol 1e-8;
//! - Robertson (k1 = 0.04, k2 = 3e7, k3 = 1e4) from (1, 0, 0) to t = 1e5, rtol 1e-6,
//!   atol 1e-10.
//!
//! Each solve is timed from a fresh initial state to the end time, keeping only the final
//! state (dynlib records it, diffsol is stepped to its stop time); the figure is the median
//! of 101 solves after 10 unmeasured ones, the two libraries interleaved so that the
//! machine's noise hits both alike.

use std::time::Instant;

use diffsol::{NalgebraLU, NalgebraMat, OdeBuilder, OdeSolverMethod, OdeSolverStopReason};
use dynlib::{RunOptions, SetupOptions};

type M = NalgebraMat<f64>;
type LS = NalgebraLU<f64>;

const REPS: usize = 101;
const WARMUP: usize = 10;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// Steps diffsol's BDF to `t_end`; returns (steps, final state).
fn diffsol_solve<'a, S: OdeSolverMethod<'a, E>, E: diffsol::OdeEquations<T = f64> + 'a>(
    mut s: S,
    t_end: f64,
) -> (usize, Vec<f64>)
where
    E::V: diffsol::Vector<T = f64>,
{
    s.set_stop_time(t_end).unwrap();
    loop {
        match s.step() {
            Ok(OdeSolverStopReason::TstopReached) => break,
            Ok(_) => {}
            Err(e) => panic!("diffsol: {e}"),
        }
    }
    let steps = s.get_statistics().number_of_steps;
    (steps, diffsol::Vector::clone_as_vec(s.state().y))
}

struct Case {
    name: &'static str,
    uri: &'static str,
    params: &'static [(&'static str, f64)],
    t_end: f64,
    rtol: f64,
    atol: f64,
}

fn main() {
    let robertson = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/models/robertson.toml"
    );
    let cases = [
        Case {
            name: "vanderpol_mu100",
            uri: "builtin://ode/vanderpol",
            params: &[("mu", 100.0)],
            t_end: 300.0,
            rtol: 1e-5,
            atol: 1e-8,
        },
        Case {
            name: "robertson_1e5",
            uri: robertson,
            params: &[],
            t_end: 1e5,
            rtol: 1e-6,
            atol: 1e-10,
        },
    ];
    for case in cases {
        let mut sim =
            dynlib::setup(case.uri, SetupOptions::default().stepper("bdf").jit(true).tiered(false)).unwrap();
        let mut o = RunOptions::default()
            .t_end(case.t_end)
            .record_interval(u64::MAX / 2)
            .stepper_option("rtol", case.rtol)
            .stepper_option("atol", case.atol);
        for &(k, v) in case.params {
            o = o.param(k, v);
        }
        let mut dynlib_run = || {
            sim.reset("initial").unwrap();
            let r = sim.run(&o).unwrap();
            (
                r.stats.accepted as usize,
                (0..r.y_final.len()).map(|k| r.y_final.get(k)).collect(),
            )
        };
        let diffsol_run: Box<dyn Fn() -> (usize, Vec<f64>)> = match case.name {
            "vanderpol_mu100" => {
                let (rtol, atol, t_end) = (case.rtol, case.atol, case.t_end);
                Box::new(move || {
                    let problem = OdeBuilder::<M>::new()
                        .rtol(rtol)
                        .atol([atol])
                        .p([100.0])
                        .rhs_implicit(
                            |x, p, _t, y| {
                                y[0] = x[1];
                                y[1] = p[0] * (1.0 - x[0] * x[0]) * x[1] - x[0];
                            },
                            |x, p, _t, v, y| {
                                y[0] = v[1];
                                y[1] = (-2.0 * p[0] * x[0] * x[1] - 1.0) * v[0]
                                    + p[0] * (1.0 - x[0] * x[0]) * v[1];
                            },
                        )
                        .init(
                            |_p, _t, y| {
                                y[0] = 2.0;
                                y[1] = 0.0;
                            },
                            2,
                        )
                        .build()
                        .unwrap();
                    diffsol_solve(problem.bdf::<LS>().unwrap(), t_end)
                })
            }
            _ => {
                let (rtol, atol, t_end) = (case.rtol, case.atol, case.t_end);
                Box::new(move || {
                    let problem = OdeBuilder::<M>::new()
                        .rtol(rtol)
                        .atol([atol])
                        .p([0.04, 3e7, 1e4])
                        .rhs_implicit(
                            |x, p, _t, y| {
                                y[0] = -p[0] * x[0] + p[2] * x[1] * x[2];
                                y[1] = p[0] * x[0] - p[1] * x[1] * x[1] - p[2] * x[1] * x[2];
                                y[2] = p[1] * x[1] * x[1];
                            },
                            |x, p, _t, v, y| {
                                y[0] = -p[0] * v[0] + p[2] * x[2] * v[1] + p[2] * x[1] * v[2];
                                y[1] = p[0] * v[0]
                                    - (2.0 * p[1] * x[1] + p[2] * x[2]) * v[1]
                                    - p[2] * x[1] * v[2];
                                y[2] = 2.0 * p[1] * x[1] * v[1];
                            },
                        )
                        .init(
                            |_p, _t, y| {
                                y[0] = 1.0;
                                y[1] = 0.0;
                                y[2] = 0.0;
                            },
                            3,
                        )
                        .build()
                        .unwrap();
                    diffsol_solve(problem.bdf::<LS>().unwrap(), t_end)
                })
            }
        };
        let (mut td, mut ts) = (Vec::new(), Vec::new());
        let (mut last_d, mut last_s) = ((0, vec![]), (0, vec![]));
        for k in 0..WARMUP + REPS {
            let a = Instant::now();
            last_d = dynlib_run();
            let b = Instant::now();
            last_s = diffsol_run();
            let c = Instant::now();
            if k >= WARMUP {
                td.push((b - a).as_secs_f64() * 1e3);
                ts.push((c - b).as_secs_f64() * 1e3);
            }
        }
        let (md, ms) = (median(td), median(ts));
        println!(
            "{:<16} dynlib bdf {:>8.3} ms ({} steps, y = {:?})",
            case.name, md, last_d.0, last_d.1
        );
        println!(
            "{:<16} diffsol    {:>8.3} ms ({} steps, y = {:?})",
            "", ms, last_s.0, last_s.1
        );
        println!("{:<16} dynlib / diffsol = {:.2}", "", md / ms);
    }
}
