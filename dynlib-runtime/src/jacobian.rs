//! Checking a model's Jacobian (`dynlib model check-jacobian`): the declared
//! `[equations.jacobian]` against the one derived from the right-hand side
//! ([`dynlib_ir::ad`]), and both against central finite differences, at the model's
//! initial state and at points near it.

use std::sync::Arc;

use dynlib_ir::Arg;
use dynlib_model::Model;

use crate::error::RuntimeError;
use crate::kernel::{BuildOptions, Kernel, Role};

/// How far apart two Jacobians may be, relative to the largest entry of their column
/// (and at least 1), before an entry counts as a disagreement: the derived and the
/// declared Jacobians are exact up to rounding, finite differences to about `1e-8` here.
pub const DECLARED_TOLERANCE: f64 = 1e-9;
/// See [`DECLARED_TOLERANCE`]: the derived Jacobian against finite differences.
pub const DIFFERENCES_TOLERANCE: f64 = 1e-6;

/// One point the Jacobians were compared at.
#[derive(Clone, Debug)]
pub struct Point {
    /// The time.
    pub t: f64,
    /// The state.
    pub y: Vec<f64>,
    /// Row-major `n × n`: the derived Jacobian.
    pub derived: Vec<f64>,
    /// The declared one, when the model declares one.
    pub declared: Option<Vec<f64>>,
    /// Central finite differences of the right-hand side.
    pub differences: Vec<f64>,
}

/// An entry where two Jacobians disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    /// The point's index in [`JacobianCheck::points`].
    pub point: usize,
    /// The row (the equation's state).
    pub row: usize,
    /// The column (the state it is differentiated by).
    pub col: usize,
    /// The two values.
    pub values: (f64, f64),
}

/// The comparison's results.
#[derive(Clone, Debug)]
pub struct JacobianCheck {
    /// The states' names, in order (rows and columns).
    pub states: Vec<String>,
    /// The points.
    pub points: Vec<Point>,
    /// Declared against derived (empty: they agree, or nothing is declared).
    pub declared_vs_derived: Vec<Disagreement>,
    /// Declared against finite differences.
    pub declared_vs_differences: Vec<Disagreement>,
    /// Derived against finite differences (a kink, a discontinuity, or a point where the
    /// differences are poor).
    pub derived_vs_differences: Vec<Disagreement>,
}

impl JacobianCheck {
    /// True when the declared Jacobian is wrong somewhere: it disagrees with the finite
    /// differences, or with the derived Jacobian where that agrees with them (at a kink the
    /// derived one takes a side, documented in `dynlib_ir::ad`, and finite differences
    /// decide).
    pub fn declared_is_wrong(&self) -> bool {
        let at = |d: &Disagreement| (d.point, d.row, d.col);
        !self.declared_vs_differences.is_empty()
            || self
                .declared_vs_derived
                .iter()
                .any(|d| !self.derived_vs_differences.iter().any(|e| at(e) == at(d)))
    }
}

/// Compares the Jacobians of `model` at its initial state (its parameters) and at `more`
/// points near it (each state moved by up to 10% of its size, or 0.1, deterministically).
/// A float32 model is compared in float64 (the formulas are the same; float32's rounding
/// would swamp the finite differences).
pub fn check(model: &Model, more: usize) -> Result<JacobianCheck, RuntimeError> {
    let mut model = model.clone();
    if model.dtype == dynlib_model::Dtype::Float32 {
        model.dtype = dynlib_model::Dtype::Float64;
    }
    let model = &model;
    if !model.dtype.is_float() {
        return Err(RuntimeError::option(
            "model",
            format!(
                "a model that computes in {} has no Jacobian",
                model.dtype.as_str()
            ),
        ));
    }
    let build = |m: Model| {
        let o = BuildOptions {
            derive_jacobian: true,
            ..Default::default()
        };
        Kernel::build_with(Arc::new(m), None, &o)
    };
    let mut bare = model.clone();
    bare.jacobian = None;
    let derived = build(bare)?;
    if !derived.functions().derived_jacobian {
        return Err(RuntimeError::Internal(
            "the right-hand side could not be differentiated".into(),
        ));
    }
    let declared = match model.jacobian {
        Some(_) => Some(build(model.clone())?),
        None => None,
    };
    let n = model.states.len();
    let y0: Vec<f64> = model.states.iter().map(|s| s.value.as_f64()).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    let mut at = vec![(model.sim.t0, y0.clone())];
    for _ in 0..more {
        let y = y0
            .iter()
            .map(|&x| x + 0.1 * x.abs().max(1.0) * next())
            .collect();
        at.push((model.sim.t0, y));
    }
    let mut env = ModelEval::of(&derived);
    let mut points = Vec::new();
    for (t, y) in at {
        let d = env.jacobian(&derived, t, &y)?;
        let decl = match &declared {
            Some(k) => Some(ModelEval::of(k).jacobian(k, t, &y)?),
            None => None,
        };
        let mut fd = vec![0.0; n * n];
        for c in 0..n {
            let h = 1e-6 * y[c].abs().max(1.0);
            let (mut up, mut down) = (y.clone(), y.clone());
            up[c] += h;
            down[c] -= h;
            let (fu, fdn) = (env.rhs(&derived, t, &up)?, env.rhs(&derived, t, &down)?);
            for r in 0..n {
                fd[r * n + c] = (fu[r] - fdn[r]) / (up[c] - down[c]);
            }
        }
        points.push(Point {
            t,
            y,
            derived: d,
            declared: decl,
            differences: fd,
        });
    }
    Ok(JacobianCheck {
        states: model.states.iter().map(|s| s.name.clone()).collect(),
        declared_vs_derived: disagreements(&points, n, DECLARED_TOLERANCE, |p| {
            p.declared.as_deref().map(|d| (d, &p.derived[..]))
        }),
        declared_vs_differences: disagreements(&points, n, DIFFERENCES_TOLERANCE, |p| {
            p.declared.as_deref().map(|d| (d, &p.differences[..]))
        }),
        derived_vs_differences: disagreements(&points, n, DIFFERENCES_TOLERANCE, |p| {
            Some((&p.derived[..], &p.differences[..]))
        }),
        points,
    })
}

/// Two matrices of a point to compare (`None`: this point has no such pair).
type Pair<'p> = Option<(&'p [f64], &'p [f64])>;

/// The entries where the matrices `pick` gives differ by more than `tol` of their column's
/// scale (its largest entry in either, at least 1); NaN on one side only differs.
fn disagreements(
    points: &[Point],
    n: usize,
    tol: f64,
    pick: impl for<'p> Fn(&'p Point) -> Pair<'p>,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (k, p) in points.iter().enumerate() {
        let Some((a, b)) = pick(p) else { continue };
        for c in 0..n {
            let scale = (0..n)
                .flat_map(|r| [a[r * n + c].abs(), b[r * n + c].abs()])
                .fold(1.0f64, f64::max);
            for r in 0..n {
                let (x, z) = (a[r * n + c], b[r * n + c]);
                let same = (x - z).abs() <= tol * scale || (x.is_nan() && z.is_nan());
                if !same {
                    out.push(Disagreement {
                        point: k,
                        row: r,
                        col: c,
                        values: (x, z),
                    });
                }
            }
        }
    }
    out
}

/// Calls a float64 kernel's model functions at a point: the buffers they take besides
/// the state (its parameters, as the model sets them; zero lag rings).
pub struct ModelEval {
    p: Vec<f64>,
    ring: Vec<f64>,
    head: Vec<i64>,
}

impl ModelEval {
    /// The buffers for `k`'s model.
    pub fn of(k: &Kernel) -> ModelEval {
        ModelEval {
            p: k.model().params.iter().map(|v| v.value.as_f64()).collect(),
            ring: vec![0.0; k.functions().lags.ring_len],
            head: vec![0; k.functions().lags.rings.len()],
        }
    }

    /// Sets the parameter `name` to `value` for the calls that follow.
    pub fn set_param(&mut self, k: &Kernel, name: &str, value: f64) -> Result<(), RuntimeError> {
        let params = &k.model().params;
        let i = params.iter().position(|p| p.name == name).ok_or_else(|| {
            RuntimeError::not_found("parameter", name, params.iter().map(|p| p.name.as_str()))
        })?;
        self.p[i] = value;
        Ok(())
    }

    /// `f(t, y)`.
    pub fn rhs(&mut self, k: &Kernel, t: f64, y: &[f64]) -> Result<Vec<f64>, RuntimeError> {
        let mut y = y.to_vec();
        let mut out = vec![0.0; y.len()];
        k.call(
            &mut k.machine(),
            Role::Rhs,
            &mut [
                Arg::F64(t),
                Arg::PtrF64(&mut y),
                Arg::PtrF64(&mut out),
                Arg::PtrF64(&mut self.p),
                Arg::PtrF64(&mut self.ring),
                Arg::PtrI64(&mut self.head),
            ],
        )?;
        Ok(out)
    }

    /// `J(t, y)`, row-major.
    pub fn jacobian(&mut self, k: &Kernel, t: f64, y: &[f64]) -> Result<Vec<f64>, RuntimeError> {
        let n = y.len();
        let mut y = y.to_vec();
        let mut jac = vec![0.0; n * n];
        k.call(
            &mut k.machine(),
            Role::Jacobian,
            &mut [
                Arg::F64(t),
                Arg::PtrF64(&mut y),
                Arg::PtrF64(&mut self.p),
                Arg::PtrF64(&mut jac),
                Arg::PtrF64(&mut self.ring),
                Arg::PtrI64(&mut self.head),
            ],
        )?;
        Ok(jac)
    }

    /// `J(t, y) · v`.
    pub fn jvp(
        &mut self,
        k: &Kernel,
        t: f64,
        y: &[f64],
        v: &[f64],
    ) -> Result<Vec<f64>, RuntimeError> {
        let mut y = y.to_vec();
        let mut v = v.to_vec();
        let mut out = vec![0.0; y.len()];
        k.call(
            &mut k.machine(),
            Role::Jvp,
            &mut [
                Arg::F64(t),
                Arg::PtrF64(&mut y),
                Arg::PtrF64(&mut self.p),
                Arg::PtrF64(&mut v),
                Arg::PtrF64(&mut out),
                Arg::PtrF64(&mut self.ring),
                Arg::PtrI64(&mut self.head),
            ],
        )?;
        Ok(out)
    }
}
