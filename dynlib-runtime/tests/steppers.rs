//! Steppers the reference does not have, checked against steps computed by hand here in
//! the same operation order, on both backends.

use dynlib_model::Config;
use dynlib_runtime::{RunOptions, SetupOptions};

/// `x' = t - y`, `y' = x y`: both states and the time enter every stage.
const MODEL: &str =
    "inline:[model]\ntype='ode'\n[states]\nx=1.3\ny=0.45\n[equations.rhs]\nx='t - y'\ny='x * y'\n";

fn f(t: f64, y: [f64; 2]) -> [f64; 2] {
    [t - y[1], y[0] * y[1]]
}

/// One step from t = 0.1 with dt = 0.07 (`0.17 - 0.1` is exactly 0.07, so the step is not
/// clipped), on each backend built. The values are not exact binary fractions, so a sum
/// in another order gives other bits.
fn one_step(stepper: &str) -> Vec<[f64; 2]> {
    let mut backends = vec![false];
    if cfg!(feature = "jit") {
        backends.push(true);
    }
    backends
        .into_iter()
        .map(|jit| {
            let options = SetupOptions::default()
                .stepper(stepper)
                .jit(jit)
                .tiered(false)
                .config(Config::default());
            let mut sim = dynlib_runtime::setup(MODEL, options).unwrap();
            let r = sim
                .run(RunOptions::default().t0(0.1).t_end(0.17).dt(0.07))
                .unwrap();
            assert_eq!(r.step_count, 1, "{stepper}");
            [r.y_final.get(0), r.y_final.get(1)]
        })
        .collect()
}

#[test]
fn heun_takes_the_explicit_trapezoid_step() {
    let (t, dt, y) = (0.1, 0.07, [1.3, 0.45]);
    let k1 = f(t, y);
    let stage = [y[0] + dt * k1[0], y[1] + dt * k1[1]];
    let k2 = f(t + dt, stage);
    let half_dt = 0.5 * dt;
    let want = [
        y[0] + half_dt * (k1[0] + k2[0]),
        y[1] + half_dt * (k1[1] + k2[1]),
    ];
    for got in one_step("heun") {
        assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{got:?}");
    }
    // The sums in another order differ in the last bit here: the test can tell.
    let sequential = [
        (y[0] + half_dt * k1[0]) + half_dt * k2[0],
        (y[1] + half_dt * k1[1]) + half_dt * k2[1],
    ];
    assert_ne!(sequential, want, "inputs that cannot tell the orders apart");
    // Its aliases name it, and it is the same step as the Heun start of ab2.
    let spec = dynlib_runtime::stepper::lookup("explicit_trapezoid").unwrap();
    assert_eq!((spec.name, spec.order), ("heun", 2));
    assert_eq!(one_step("ab2"), one_step("heun"));
}
