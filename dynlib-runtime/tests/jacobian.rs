//! The Jacobian derived from the right-hand side's IR (`dynlib_ir::ad`): central finite
//! differences agree with it on every builtin float model at points near its initial
//! state, its product with a vector is the matrix's, a declared Jacobian agrees with the
//! derived one, and both backends give the same bits.

use std::sync::Arc;

use dynlib_model::uri::builtin_models;
use dynlib_model::{load, Config, LoadOptions, Model};
use dynlib_runtime::jacobian::ModelEval as Env;
use dynlib_runtime::kernel::BuildOptions;
use dynlib_runtime::Kernel;

fn model(uri: &str) -> Model {
    let options = LoadOptions::default().with_config(Config::default());
    load(uri, &options).unwrap_or_else(|e| panic!("{uri} loads: {e}"))
}

fn derived(model: Model, jit: bool) -> Kernel {
    let o = BuildOptions {
        jit,
        derive_jacobian: true,
        ..Default::default()
    };
    Kernel::build_with(Arc::new(model), None, &o).unwrap()
}

/// A deterministic generator of numbers in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn rhs(k: &Kernel, env: &mut Env, t: f64, y: &[f64]) -> Vec<f64> {
    env.rhs(k, t, y).unwrap()
}

fn jacobian(k: &Kernel, env: &mut Env, t: f64, y: &[f64]) -> Vec<f64> {
    env.jacobian(k, t, y).unwrap()
}

fn jvp(k: &Kernel, env: &mut Env, t: f64, y: &[f64], v: &[f64]) -> Vec<f64> {
    env.jvp(k, t, y, v).unwrap()
}

/// Points near the model's initial state (each state moved by up to 10% of its size, or
/// 0.1), at times in [0, 1).
fn points(m: &Model, seed: u64) -> Vec<(f64, Vec<f64>)> {
    let mut r = Lcg(seed);
    (0..4)
        .map(|_| {
            let y = m
                .states
                .iter()
                .map(|s| {
                    let x = s.value.as_f64();
                    x + 0.1 * x.abs().max(1.0) * r.next()
                })
                .collect();
            (0.5 + 0.5 * r.next(), y)
        })
        .collect()
}

fn float_builtins() -> Vec<(String, Model)> {
    builtin_models()
        .iter()
        .map(|b| {
            let uri = b.uri();
            let m = model(&uri);
            (uri, m)
        })
        .filter(|(_, m)| m.dtype.is_float())
        .collect()
}

#[test]
fn the_derived_jacobian_is_the_finite_differences_of_every_builtin_model() {
    let mut checked = 0;
    for (uri, mut m) in float_builtins() {
        m.jacobian = None;
        let k = derived(m.clone(), false);
        assert!(k.functions().derived_jacobian, "{uri}");
        let mut env = Env::of(&k);
        let n = m.states.len();
        for (t, y) in points(&m, 7) {
            let j = jacobian(&k, &mut env, t, &y);
            for c in 0..n {
                // Central differences, the step scaled to the state.
                let h = 1e-6 * y[c].abs().max(1.0);
                let (mut up, mut down) = (y.clone(), y.clone());
                up[c] += h;
                down[c] -= h;
                let (fu, fd) = (rhs(&k, &mut env, t, &up), rhs(&k, &mut env, t, &down));
                // The column's scale: a small entry beside large ones is compared to them.
                let scale = (0..n).map(|r| j[r * n + c].abs()).fold(1.0f64, f64::max);
                for r in 0..n {
                    let fdiff = (fu[r] - fd[r]) / (up[c] - down[c]);
                    let got = j[r * n + c];
                    assert!(
                        (got - fdiff).abs() <= 1e-6 * scale,
                        "{uri} at t={t} y={y:?}: J[{r}][{c}] = {got}, differences {fdiff}"
                    );
                }
            }
            // J·v through the product function is the matrix's.
            let mut rv = Lcg(11);
            let v: Vec<f64> = (0..n).map(|_| rv.next()).collect();
            let jv = jvp(&k, &mut env, t, &y, &v);
            for r in 0..n {
                let want: f64 = (0..n).map(|c| j[r * n + c] * v[c]).sum();
                let scale = (0..n).map(|c| (j[r * n + c] * v[c]).abs()).sum::<f64>();
                assert!(
                    (jv[r] - want).abs() <= 1e-12 * scale.max(1e-300),
                    "{uri}: (J v)[{r}] = {} against {want}",
                    jv[r]
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 15, "{checked} models");
}

#[test]
fn a_declared_jacobian_wins_and_agrees_with_the_derived_one() {
    let mut declared_models = 0;
    for (uri, m) in float_builtins() {
        if m.jacobian.is_none() {
            continue;
        }
        declared_models += 1;
        let declared = derived(m.clone(), false);
        assert!(
            !declared.functions().derived_jacobian,
            "{uri}: the declared one wins"
        );
        let mut bare = m.clone();
        bare.jacobian = None;
        let k = derived(bare, false);
        let n = m.states.len();
        let (mut e1, mut e2) = (Env::of(&declared), Env::of(&k));
        for (t, y) in points(&m, 3) {
            let a = jacobian(&declared, &mut e1, t, &y);
            let b = jacobian(&k, &mut e2, t, &y);
            let scale = a.iter().fold(1.0f64, |s, x| s.max(x.abs()));
            for i in 0..n * n {
                assert!(
                    (a[i] - b[i]).abs() <= 1e-12 * scale,
                    "{uri} entry {i}: declared {} derived {}",
                    a[i],
                    b[i]
                );
            }
        }
    }
    assert!(declared_models >= 3, "{declared_models}");
}

#[test]
fn both_backends_derive_the_same_bits() {
    if !cfg!(feature = "jit") {
        return;
    }
    for (uri, mut m) in float_builtins() {
        m.jacobian = None;
        let (a, b) = (derived(m.clone(), false), derived(m.clone(), true));
        let (mut ea, mut eb) = (Env::of(&a), Env::of(&b));
        for (t, y) in points(&m, 5) {
            let bits = |x: Vec<f64>| x.into_iter().map(f64::to_bits).collect::<Vec<_>>();
            assert_eq!(
                bits(jacobian(&a, &mut ea, t, &y)),
                bits(jacobian(&b, &mut eb, t, &y)),
                "{uri}"
            );
            let v: Vec<f64> = (0..y.len()).map(|i| 0.5 - i as f64).collect();
            assert_eq!(
                bits(jvp(&a, &mut ea, t, &y, &v)),
                bits(jvp(&b, &mut eb, t, &y, &v)),
                "{uri}"
            );
        }
    }
}

/// Every function and operator of the expression language that a derivative passes
/// through, in one model (the states stay inside every function's domain near the start).
const EVERYTHING: &str = r#"
[model]
type = "ode"
[states]
x = 0.3
y = 1.7
z = 0.6
[params]
a = 1.3
[functions.f]
args = ["u", "w"]
expr = "u*w - u/w"
[aux]
s = "sin(x)*cos(y) + tan(z)"
[equations.rhs]
x = "asin(x) + acos(x)*y + atan(z*x) + atan2(x, y) + sinh(x) - cosh(z) + tanh(y*z) + s - -x"
y = "asinh(y) + acosh(y) + atanh(x) + expm1(z) + log10(y) + log2(z) + log1p(x) + sqrt(y*z) + log(y, 3) + exp(x/y)"
z = "x**y + z**2.5 + a**z + abs(x - 0.5) + floor(y)*z + hypot(x, y, z) + copysign(z, x - 1) + erf(x) + erfc(z) + (x % 0.7)*y + (y // 0.5) + (x if y > z else z) + min(x, y) + max(y, z) + f(x, z) + sum(x*i for i in range(3)) + prod(z + i for i in range(2)) + clip(x, 0, 1)*y + relu(z - 0.1) + round(y, 2)*0 + sign(x)*x + float(int(y))*z"
"#;

#[test]
fn every_function_of_the_language_is_differentiated() {
    let m = model(&format!("inline:{EVERYTHING}"));
    for jit in [false, cfg!(feature = "jit")] {
        let k = derived(m.clone(), jit);
        assert!(k.functions().derived_jacobian);
        let mut env = Env::of(&k);
        for (t, y) in points(&m, 19).into_iter().map(|(t, y)| {
            // Within every domain: x in (0, 0.5), y in (1.1, 2), z in (0.2, 1).
            let y = vec![
                y[0].clamp(0.05, 0.45),
                y[1].clamp(1.1, 1.95),
                y[2].clamp(0.25, 0.95),
            ];
            (t, y)
        }) {
            let j = jacobian(&k, &mut env, t, &y);
            for c in 0..3 {
                let h = 1e-7;
                let (mut up, mut down) = (y.clone(), y.clone());
                up[c] += h;
                down[c] -= h;
                let (fu, fd) = (rhs(&k, &mut env, t, &up), rhs(&k, &mut env, t, &down));
                for r in 0..3 {
                    let fdiff = (fu[r] - fd[r]) / (up[c] - down[c]);
                    let got = j[r * 3 + c];
                    assert!(
                        (got - fdiff).abs() <= 1e-6 * got.abs().max(1.0),
                        "at {y:?}: J[{r}][{c}] = {got}, differences {fdiff}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_implicit_steppers_use_the_exact_jacobian_by_default() {
    use dynlib_runtime::{RunOptions, SetupOptions};
    let run = |uri: &str, stepper: &str, mode: Option<f64>| {
        let o = SetupOptions::default()
            .stepper(stepper)
            .config(Config::default());
        let mut s = dynlib_runtime::setup(uri, o).unwrap();
        let mut r = RunOptions::default().t_end(20.0);
        if let Some(m) = mode {
            r = r.stepper_option("jacobian_mode", m);
        }
        let res = s.run(r).unwrap();
        (res.step_count, res.y_final.bits(), res.y_final.get(0))
    };
    for stepper in ["bdf2a", "tr-bdf2a"] {
        // A declared Jacobian wins: `auto` (the default) is `external`.
        let vdp = "builtin://ode/vanderpol";
        assert_eq!(
            run(vdp, stepper, None),
            run(vdp, stepper, Some(1.0)),
            "{stepper}"
        );
        // None declared: `auto` differentiates the right-hand side, `external` falls back
        // to finite differences like `internal`; exact and differenced agree closely.
        let hh = "builtin://ode/hodgkin-huxley";
        let (auto, internal) = (run(hh, stepper, None), run(hh, stepper, Some(0.0)));
        assert_eq!(run(hh, stepper, Some(1.0)), internal, "{stepper}");
        assert_ne!(
            auto.1, internal.1,
            "{stepper}: the derived Jacobian is used"
        );
        assert!(
            (auto.2 - internal.2).abs() <= 1e-6 * internal.2.abs(),
            "{stepper}"
        );
    }
}

#[test]
fn a_still_argument_of_an_infinite_derivative_gives_zero_not_nan() {
    // At the origin sqrt(x² + y²) has no derivative, but each term's argument does not move
    // along the other state (a unit seed's other states have no tangent) or moves by
    // exactly 0: the Jacobian is finite and exact, [[0, a], [-a, 0]].
    let m = model(
        r#"inline:
[model]
type = "ode"
[states]
x = 0.0
y = 0.0
z = 2.0
[params]
a = 1.5
[equations.rhs]
x = "a*y - x*sqrt(x**2 + y**2)"
y = "-a*x - y*sqrt(x**2 + y**2)"
z = "sqrt(x) + z + log(x + 1)*z"
"#,
    );
    let k = derived(m, false);
    let mut env = Env::of(&k);
    let j = jacobian(&k, &mut env, 0.0, &[0.0, 0.0, 2.0]);
    // dz'/dx is infinite (sqrt at 0); nothing else is touched by it.
    assert_eq!(j[..8], [0.0, 1.5, 0.0, -1.5, 0.0, 0.0, f64::INFINITY, 0.0]);
    assert_eq!(j[8], 1.0);
    let jv = jvp(&k, &mut env, 0.0, &[0.0, 0.0, 2.0], &[0.0, 1.0, 1.0]);
    assert_eq!(jv, [1.5, 0.0, 1.0]);
}
