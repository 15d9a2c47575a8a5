//! `bdf`: a variable-order (1–5), variable-step BDF, beyond the reference.
//!
//! The method is scipy's `BDF` (Shampine and Reichelt's quasi-constant-step NDF, as in
//! MATLAB's `ode15s`; diffsol's `Bdf` is the same scheme): the history is a backward
//! difference array `D` (rows `D_0 = y_n`, `D_1 = ∇y_n`, … scaled to the current step `h`),
//! a step predicts `y = Σ_{r≤k} D_r`, solves the order-`k` NDF formula by Newton's method
//! with the iteration matrix `I − c·J` (`c = h / α_k`), and estimates its error from the
//! Newton correction `d = D_{k+1}`. After `k + 1` steps of the same size it compares the
//! error estimates of orders `k − 1`, `k` and `k + 1` and moves to the order that allows
//! the longest step. A change of step rescales `D` (the `R·U` interpolation matrices).
//!
//! Work is reused: the Jacobian `J` is kept across steps and recomputed only when Newton
//! fails to converge with a stale one; the LU factors of `I − c·J` are kept until `c`
//! changes (a new step size or order) or `J` is recomputed. Newton stops after
//! `newton_max_iter` iterations (4) or as soon as its rate of convergence says it will not
//! reach the tolerance `max(10 ε / rtol, min(0.03, √rtol))` in the scaled norm.
//!
//! Where this differs from scipy:
//! - the runner clips the last step to the horizon (scipy does it in the stepper); the
//!   step the runner asks for is always tried, however small (a clipped last step can be
//!   an ulp), and only a step shrunk by rejections must stay above the minimum
//!   `max(min_step, 10 ε |t|)` (scipy: ten ulps of `t`) or the step fails;
//! - the LU factors follow `c`: an error rejection changes the step, so the next attempt
//!   refactors (scipy keeps the old factors for it);
//! - the first Jacobian is evaluated at the first prediction `(t + h, y_pred)` and counts as
//!   current (scipy evaluates it at `(t0, y0)` and counts it stale), and a restarted history
//!   starts without one; with `jacobian_mode = internal` it is plain forward differences
//!   with `jac_eps` (scipy's `num_jac` adapts its increments);
//! - `rtol` below 100 ε is raised to it only in Newton's tolerance (scipy raises it
//!   everywhere, with a warning);
//! - after each accepted step `D_0` is the returned solution itself.
//!
//! The history restarts at order 1 whenever the step does not continue it: the first step,
//! any step whose `(t, y)` is not the last accepted solution (an event reset the state, or
//! a session changed it), and a workspace holding an order or step this stepper could not
//! have written (a snapshot file's is checked for shape only). Kept LU pivots outside
//! `k..n` are refactored rather than used: native code does not check bounds.

use super::bdf2a::step_fail;
use super::emit::Emit;
use super::implicit::{
    abs, all_finite, iteration_matrix, ld, lu_apply, lu_factor, st, JacobianAt, NewtonConfig,
};
use super::*;
use crate::abi::{STAT_LU, STAT_NEWTON, STAT_REJECTED};

/// The highest order.
const MAX_ORDER: usize = 5;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "bdf",
    aliases: &["ndf"],
    kind: StepperKind::Ode,
    order: 1,
    max_order: Some(MAX_ORDER as u32),
    embedded_order: None,
    adaptive: true,
    implicit: true,
    family: "bdf",
    config: CONFIG,
    workspace: Layout {
        vectors: &[
            "D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "y_pred", "psi", "scale", "d", "dy",
            "f_val", "f_tmp", "y_tmp",
        ],
        matrices: &["J", "LU"],
        indices: &["piv"],
        scalars: &SLOTS,
    },
    config_rules,
    tangents: Tangents::None,
    lanes: false,
    emit: emit_bdf,
};

/// The scalar slots: the order, steps taken at the current size, the step the history is
/// scaled to, the history's time, the `c` of the kept LU factors
/// (NaN: none), whether `J` holds a Jacobian, and whether it was computed in this step.
const SLOTS: [&str; 7] = [
    "order",
    "n_equal",
    "h_abs",
    "t_hist",
    "lu_c",
    "jac_ok",
    "jac_current",
];

/// The highest order the controller may choose.
const MAX_ORDER_FIELD: ConfigField = ConfigField {
    name: "max_order",
    default: MAX_ORDER as f64,
    range: ValueRange {
        min: 1.0,
        min_open: false,
        max: MAX_ORDER as f64,
        max_open: false,
        integer: true,
    },
    choices: &[],
};

/// The smallest step, besides `10 ε |t|`: none by default (scipy's rule).
const MIN_STEP: ConfigField = ConfigField {
    default: 0.0,
    ..fields::MIN_STEP
};

/// Newton iterations per solve (scipy's `NEWTON_MAXITER`).
const NEWTON_MAX_ITER: ConfigField = ConfigField {
    default: 4.0,
    ..fields::NEWTON_MAX_ITER
};

const CONFIG: &[ConfigField] = &[
    fields::ATOL,
    fields::RTOL,
    MAX_ORDER_FIELD,
    MIN_STEP,
    fields::DT_MAX,
    NEWTON_MAX_ITER,
    fields::JAC_EPS,
    fields::JACOBIAN_MODE,
];

fn config_rules(c: &[f64]) -> Result<(), ConfigError> {
    fields::adaptive_rules(c, [0, 1, 3, 4])
}

/// The NDF coefficients κ_k (Shampine and Reichelt; κ_5 = 0: order 5 is plain BDF).
const KAPPA: [f64; MAX_ORDER + 1] = [0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0];

/// `γ_k = Σ_{j≤k} 1/j`, `α_k = (1 − κ_k) γ_k` and the error constants
/// `κ_k γ_k + 1/(k + 1)`, as scipy computes them.
fn coefficients() -> ([f64; 6], [f64; 6], [f64; 6]) {
    let mut gamma = [0.0; 6];
    for k in 1..=MAX_ORDER {
        gamma[k] = gamma[k - 1] + 1.0 / k as f64;
    }
    let alpha = std::array::from_fn(|k| (1.0 - KAPPA[k]) * gamma[k]);
    let error = std::array::from_fn(|k| KAPPA[k] * gamma[k] + 1.0 / (k + 1) as f64);
    (gamma, alpha, error)
}

/// scipy's `compute_R(5, factor)` entry `(i, j)` with `factor` a number: the matrix that
/// moves a difference array to a step `factor` times as long (`R[0][j] = 1`,
/// `R[i][j] = R[i−1][j] · ((i − 1) − factor·j) / i`).
#[allow(clippy::needless_range_loop)]
fn r_const(factor: f64) -> [[f64; 6]; 6] {
    let mut r = [[0.0; 6]; 6];
    r[0] = [1.0; 6];
    for i in 1..6 {
        for j in 1..6 {
            r[i][j] = r[i - 1][j] * (((i - 1) as f64 - factor * j as f64) / i as f64);
        }
    }
    r
}

/// `table[k]` for the i64 `k` in `0..=5`.
fn pick(b: &mut FunctionBuilder, k: Value, table: &[Value]) -> Value {
    let mut v = table[0];
    for (j, &x) in table.iter().enumerate().skip(1) {
        let jj = b.i64(j as i64);
        let is = b.cmp(CmpOp::Eq, k, jj);
        v = b.select(is, x, v);
    }
    v
}

/// `pick` over constants.
fn pick_const(b: &mut FunctionBuilder, k: Value, table: &[f64]) -> Value {
    let vals: Vec<Value> = table.iter().map(|&x| b.f64(x)).collect();
    pick(b, k, &vals)
}

/// `sqrt(Σ (w·v_i / s_i)² / n)`, summed in order: scipy's RMS norm of `w·v` scaled by `s`,
/// `v_i` as `load(i)` gives it.
fn rms_by(
    b: &mut FunctionBuilder,
    n: usize,
    w: Value,
    s: Value,
    load: impl FnOnce(&mut FunctionBuilder, Value) -> Value,
) -> Value {
    let zero_i = b.i64(0);
    let ni = b.i64(n as i64);
    let z = b.f64(0.0);
    let sum = b.for_range(zero_i, ni, &[z], |b, i, acc| {
        let x = load(b, i);
        let wx = b.mul(w, x);
        let si = ld(b, s, i);
        let q = b.div(wx, si);
        let sq = b.mul(q, q);
        vec![b.add(acc[0], sq)]
    })[0];
    let nf = b.f64(n as f64);
    let mean = b.div(sum, nf);
    b.math(MathFn::Sqrt, &[mean])
}

/// [`rms_by`] of the vector `v`.
fn rms(b: &mut FunctionBuilder, n: usize, w: Value, v: Value, s: Value) -> Value {
    rms_by(b, n, w, s, |b, i| ld(b, v, i))
}

/// The i64 value of the scalar slot at `slot`.
fn load_int(e: &mut Emit, slot: Value) -> Value {
    let x = e.b.load(e.sc, slot);
    e.b.convert(x, Type::I64)
}

/// Stores the i64 `v` in the scalar slot at `slot`.
fn store_int(e: &mut Emit, slot: Value, v: Value) {
    let x = e.b.convert(v, Type::F64);
    e.b.store(e.sc, slot, x);
}

fn emit_bdf(e: &mut Emit) {
    let d_rows = e.bufs(["D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7"]);
    let [y_pred, psi, scale, dsum, dy, f_val, f_tmp, y_tmp, jac, lu, piv] = e.bufs([
        "y_pred", "psi", "scale", "d", "dy", "f_val", "f_tmp", "y_tmp", "J", "LU", "piv",
    ]);
    let slots = SLOTS.map(|s| {
        let k = e.slot(s);
        e.idx(k)
    });
    let [s_order, s_equal, s_h, s_thist, s_luc, s_jac_ok, s_jac_cur] = slots;
    let (gamma, alpha, error_const) = coefficients();
    let (y, t, elem, n) = (e.y, e.t, e.elem, e.n);
    let ni = e.b.i64(n as i64);
    let zero_i = e.b.i64(0);
    let (zero, one) = (e.c(0.0), e.c(1.0));
    let nan = e.c(f64::NAN);
    let inf = e.c(f64::INFINITY);

    let (atol, rtol) = (e.cfg(0), e.cfg(1));
    let max_order = e.cfg(2);
    let max_order = e.b.convert(max_order, Type::I64);
    let (min_step, dt_max) = (e.cfg(3), e.cfg(4));
    let max_iter_f = e.cfg(5);
    // scipy's Newton tolerance, rtol at least 100 ε as scipy forces it.
    let tol = {
        let b = &mut e.b;
        let floor = b.f64(100.0 * f64::EPSILON);
        let low = b.cmp(CmpOp::Lt, rtol, floor);
        let r = b.select(low, floor, rtol);
        let ten_eps = b.f64(10.0 * f64::EPSILON);
        let a = b.div(ten_eps, r);
        let sq = b.math(MathFn::Sqrt, &[r]);
        let cap = b.f64(0.03);
        let small = b.cmp(CmpOp::Lt, sq, cap);
        let m = b.select(small, sq, cap);
        let gt = b.cmp(CmpOp::Gt, a, m);
        b.select(gt, a, m)
    };
    let cfg = NewtonConfig::with_tol(e, tol, [5, 6, 7]);
    let cx = e.ctx();

    // The step to take: the runner's, at most dt_max.
    let over = e.b.cmp(CmpOp::Gt, e.dt, dt_max);
    let h_in = e.b.select(over, dt_max, e.dt);

    // Does this step continue the history? From its time, from its state, with an order
    // and step it has (a fresh workspace's zeros have neither).
    let t_hist = e.b.load(e.sc, s_thist);
    let same_t = e.b.cmp(CmpOp::Eq, t, t_hist);
    let yes = e.b.bool(true);
    let d0 = d_rows[0];
    let same_y = e.b.for_range(zero_i, ni, &[yes], |b, i, acc| {
        let (a, c) = (ld(b, y, i), ld(b, d0, i));
        let eq = b.cmp(CmpOp::Eq, a, c);
        vec![b.binary(BinaryOp::And, acc[0], eq)]
    })[0];
    // A workspace from elsewhere (a snapshot file) is checked for shape only: an order or
    // step it could not have come from restarts the history rather than being trusted.
    let order_f = e.b.load(e.sc, s_order);
    let sane = {
        let b = &mut e.b;
        let whole = b.math(MathFn::Trunc, &[order_f]);
        let is_whole = b.cmp(CmpOp::Eq, whole, order_f);
        let lo = b.cmp(CmpOp::Ge, order_f, one);
        let top = b.convert(max_order, Type::F64);
        let hi = b.cmp(CmpOp::Le, order_f, top);
        let h_old = b.load(e.sc, s_h);
        let pos = b.cmp(CmpOp::Gt, h_old, zero);
        let fin = b.cmp(CmpOp::Lt, h_old, inf);
        let mut ok = b.binary(BinaryOp::And, is_whole, lo);
        for c in [hi, pos, fin] {
            ok = b.binary(BinaryOp::And, ok, c);
        }
        ok
    };
    let valid = e.b.binary(BinaryOp::And, same_t, same_y);
    let valid = e.b.binary(BinaryOp::And, valid, sane);
    // Kept LU factors are used only with pivots `k <= piv[k] < n` (native code does not
    // check bounds); anything else is refactored.
    let pivots_ok = e.b.for_range(zero_i, ni, &[yes], |b, k, acc| {
        let p = b.load(piv, k);
        let lo = b.cmp(CmpOp::Ge, p, k);
        let hi = b.cmp(CmpOp::Lt, p, ni);
        let both = b.binary(BinaryOp::And, lo, hi);
        vec![b.binary(BinaryOp::And, acc[0], both)]
    })[0];
    let lu_c_old = e.b.load(e.sc, s_luc);
    let lu_c_kept = e.b.select(pivots_ok, lu_c_old, nan);
    e.b.store(e.sc, s_luc, lu_c_kept);
    let (init, cont) = (e.b.create_block(), e.b.create_block());
    e.b.brif(valid, cont, &[], init, &[]);

    // A fresh history: D_0 = y, D_1 = h f(t, y), order 1, no Jacobian yet.
    e.b.switch_to(init);
    cx.rhs(&mut e.b, t, y, f_val);
    let ok = all_finite(&mut e.b, f_val, ni);
    let (bad_f, good_f) = (e.b.create_block(), e.b.create_block());
    e.b.brif(ok, good_f, &[], bad_f, &[]);
    e.b.switch_to(bad_f);
    step_fail(e, inf, None);
    e.b.switch_to(good_f);
    let rows = d_rows;
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let yi = b.load(y, i);
        b.store(rows[0], i, yi);
        let fi = ld(b, f_val, i);
        let hf = b.mul(h_in, fi);
        st(b, elem, rows[1], i, hf);
        for &r in &rows[2..] {
            st(b, elem, r, i, zero);
        }
        vec![]
    });
    let one_i = e.b.i64(1);
    store_int(e, s_order, one_i);
    for (s, v) in [
        (s_equal, zero),
        (s_h, h_in),
        (s_thist, t),
        (s_luc, nan),
        (s_jac_ok, zero),
    ] {
        e.b.store(e.sc, s, v);
    }
    e.b.jump(cont, &[]);

    // The step continues the history, rescaled when its size is not the history's.
    e.b.switch_to(cont);
    e.b.store(e.sc, s_jac_cur, zero);
    let header = e.b.create_block();
    let h = e.b.block_param(header, Type::F64);
    let first = e.b.block_param(header, Type::Bool);
    let change = e.b.create_block();
    let ch_order = e.b.block_param(change, Type::I64);
    let ch_factor = e.b.block_param(change, Type::F64);
    let ch_h = e.b.block_param(change, Type::F64);
    let ch_finish = e.b.block_param(change, Type::Bool);
    let ch_first = e.b.block_param(change, Type::Bool);
    let order0 = load_int(e, s_order);
    let h_abs = e.b.load(e.sc, s_h);
    let differs = e.b.cmp(CmpOp::Ne, h_in, h_abs);
    let ratio = e.b.div(h_in, h_abs);
    let (no, yes) = (e.b.bool(false), e.b.bool(true));
    e.b.brif(
        differs,
        change,
        &[order0, ratio, h_in, no, yes],
        header,
        &[h_in, yes],
    );

    // change_D: D_{0..k} ← (R·U)ᵀ D_{0..k} for a step `factor` times as long; then the
    // attempt with `h`, or (finish) the accepted step's return.
    e.b.switch_to(change);
    e.b.store(e.sc, s_equal, zero);
    e.b.store(e.sc, s_h, ch_h);
    change_d(&mut e.b, &d_rows, n, elem, ch_order, ch_factor);
    let (done, again) = (e.b.create_block(), e.b.create_block());
    e.b.brif(ch_finish, done, &[], again, &[]);
    e.b.switch_to(done);
    let okc = e.b.i32(status::OK);
    e.b.ret(&[okc]);
    e.b.switch_to(again);
    e.b.jump(header, &[ch_h, ch_first]);

    // An attempt with step h.
    e.b.switch_to(header);
    let ten_eps = e.c(10.0 * f64::EPSILON);
    let at_t = {
        let a = abs(&mut e.b, t);
        e.b.mul(ten_eps, a)
    };
    let bigger = e.b.cmp(CmpOp::Gt, at_t, min_step);
    let h_min = e.b.select(bigger, at_t, min_step);
    let t_new = e.b.add(t, h);
    // The step the runner asks for is tried whatever its size (its last step, clipped to
    // the horizon, can be an ulp); one shrunk by rejections must stay above the minimum.
    let big_enough = e.b.cmp(CmpOp::Ge, h, h_min);
    let allowed = e.b.binary(BinaryOp::Or, first, big_enough);
    let moves = e.b.cmp(CmpOp::Ne, t_new, t);
    let fine = e.b.binary(BinaryOp::And, allowed, moves);
    let (tiny, attempt) = (e.b.create_block(), e.b.create_block());
    e.b.brif(fine, attempt, &[], tiny, &[]);
    e.b.switch_to(tiny);
    step_fail(e, inf, Some(h));
    e.b.switch_to(attempt);
    // A retry: the attempt before it was rejected.
    let (retry, go) = (e.b.create_block(), e.b.create_block());
    e.b.brif(first, go, &[], retry, &[]);
    e.b.switch_to(retry);
    super::emit::count(&mut e.b, e.stats, STAT_REJECTED);
    e.b.jump(go, &[]);
    e.b.switch_to(go);
    let order = load_int(e, s_order);
    let gammas: Vec<Value> = gamma.iter().map(|&g| e.c(g)).collect();
    let alpha_k = pick_const(&mut e.b, order, &alpha);
    // The prediction Σ_{r≤k} D_r, its error scale, and ψ = Σ_{1≤r≤k} γ_r D_r / α_k.
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let vals: Vec<Value> = d_rows[..=MAX_ORDER].iter().map(|&r| ld(b, r, i)).collect();
        let (mut pred, mut p) = (vals[0], b.f64(0.0));
        for r in 1..=MAX_ORDER {
            let rr = b.i64(r as i64);
            let inside = b.cmp(CmpOp::Le, rr, order);
            let sum = b.add(pred, vals[r]);
            pred = b.select(inside, sum, pred);
            let g = b.mul(vals[r], gammas[r]);
            let ps = b.add(p, g);
            p = b.select(inside, ps, p);
        }
        st(b, elem, y_pred, i, pred);
        let ap = abs(b, pred);
        let rs = b.mul(rtol, ap);
        let sc = b.add(atol, rs);
        st(b, elem, scale, i, sc);
        let pa = b.div(p, alpha_k);
        st(b, elem, psi, i, pa);
        vec![]
    });
    let c = e.b.div(h, alpha_k);
    let solve = e.b.create_block();
    e.b.jump(solve, &[]);

    // The solve: a Jacobian if there is none, the factors of I − c·J if stale, Newton.
    e.b.switch_to(solve);
    let refresh = e.b.create_block();
    let newton_failed = e.b.create_block();
    let jac_ok = e.b.load(e.sc, s_jac_ok);
    let have_jac = e.b.cmp(CmpOp::Ne, jac_ok, zero);
    let factors = e.b.create_block();
    e.b.brif(have_jac, factors, &[], refresh, &[]);

    e.b.switch_to(refresh);
    // Current from here on, whether or not it succeeds: a failure below halves the step
    // (as scipy's does) instead of asking for another Jacobian at the same point.
    for (s, v) in [(s_jac_ok, zero), (s_jac_cur, one), (s_luc, nan)] {
        e.b.store(e.sc, s, v);
    }
    let (fd_base, got_base) = (e.b.create_block(), e.b.create_block());
    e.b.brif(cfg.external, got_base, &[], fd_base, &[]);
    e.b.switch_to(fd_base);
    // Forward differences around f(t_new, y_pred).
    cx.rhs(&mut e.b, t_new, y_pred, f_val);
    let ok = all_finite(&mut e.b, f_val, ni);
    let (good_base, _) = (e.b.create_block(), ());
    e.b.brif(ok, good_base, &[], newton_failed, &[]);
    e.b.switch_to(good_base);
    e.b.jump(got_base, &[]);
    e.b.switch_to(got_base);
    let fd = JacobianAt {
        t: t_new,
        y: y_pred,
        f_y: f_val,
        f_tmp,
        y_tmp,
    };
    cx.jacobian(&mut e.b, &fd, &cfg, jac, None, newton_failed);
    e.b.store(e.sc, s_jac_ok, one);
    e.b.jump(solve, &[]);

    e.b.switch_to(factors);
    let lu_c = e.b.load(e.sc, s_luc);
    let current = e.b.cmp(CmpOp::Eq, lu_c, c);
    let (factor_now, newton) = (e.b.create_block(), e.b.create_block());
    e.b.brif(current, newton, &[], factor_now, &[]);
    e.b.switch_to(factor_now);
    e.b.store(e.sc, s_luc, nan);
    iteration_matrix(&mut e.b, elem, ni, jac, lu, c);
    super::emit::count(&mut e.b, e.stats, STAT_LU);
    lu_factor(&mut e.b, elem, ni, lu, piv, newton_failed);
    e.b.store(e.sc, s_luc, c);
    e.b.jump(newton, &[]);

    // Newton from the prediction: y ← y + δ, d ← d + δ with (I − cJ) δ = c f − ψ − d.
    e.b.switch_to(newton);
    let yp = e.y_prop;
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let x = b.load(y_pred, i);
        b.store(yp, i, x);
        st(b, elem, dsum, i, zero);
        vec![]
    });
    let it_header = e.b.create_block();
    let k = e.b.block_param(it_header, Type::I64);
    let norm_old = e.b.block_param(it_header, Type::F64);
    let minus = e.c(-1.0);
    e.b.jump(it_header, &[zero_i, minus]);
    e.b.switch_to(it_header);
    let more = e.b.cmp(CmpOp::Lt, k, cfg.max_iter);
    let body = e.b.create_block();
    e.b.brif(more, body, &[], newton_failed, &[]);
    e.b.switch_to(body);
    super::emit::count(&mut e.b, e.stats, STAT_NEWTON);
    cx.rhs(&mut e.b, t_new, yp, f_val);
    let ok = all_finite(&mut e.b, f_val, ni);
    let finite_f = e.b.create_block();
    e.b.brif(ok, finite_f, &[], newton_failed, &[]);
    e.b.switch_to(finite_f);
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let fi = ld(b, f_val, i);
        let cf = b.mul(c, fi);
        let p = ld(b, psi, i);
        let a = b.sub(cf, p);
        let di = ld(b, dsum, i);
        let r = b.sub(a, di);
        st(b, elem, dy, i, r);
        vec![]
    });
    lu_apply(&mut e.b, elem, ni, lu, piv, dy);
    let dy_norm = rms(&mut e.b, n, one, dy, scale);
    let has_old = e.b.cmp(CmpOp::Ge, norm_old, zero);
    let rate = e.b.div(dy_norm, norm_old);
    let one_minus = e.b.sub(one, rate);
    let diverging = {
        let b = &mut e.b;
        let ge1 = b.cmp(CmpOp::Ge, rate, one);
        let kf = b.convert(k, Type::F64);
        let left = b.sub(max_iter_f, kf);
        let pw = b.math(MathFn::Pow, &[rate, left]);
        let q = b.div(pw, one_minus);
        let est = b.mul(q, dy_norm);
        let slow = b.cmp(CmpOp::Gt, est, tol);
        let either = b.binary(BinaryOp::Or, ge1, slow);
        b.binary(BinaryOp::And, has_old, either)
    };
    let update = e.b.create_block();
    e.b.brif(diverging, newton_failed, &[], update, &[]);
    e.b.switch_to(update);
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let di = ld(b, dy, i);
        let yi = ld(b, yp, i);
        let yn = b.add(yi, di);
        st(b, elem, yp, i, yn);
        let s = ld(b, dsum, i);
        let sn = b.add(s, di);
        st(b, elem, dsum, i, sn);
        vec![]
    });
    let one_i = e.b.i64(1);
    let k1 = e.b.add(k, one_i);
    let converged = {
        let b = &mut e.b;
        let exact = b.cmp(CmpOp::Eq, dy_norm, zero);
        let q = b.div(rate, one_minus);
        let est = b.mul(q, dy_norm);
        let close = b.cmp(CmpOp::Lt, est, tol);
        let close = b.binary(BinaryOp::And, has_old, close);
        b.binary(BinaryOp::Or, exact, close)
    };
    let solved = e.b.create_block();
    let iters = e.b.block_param(solved, Type::I64);
    e.b.brif(converged, solved, &[k1], it_header, &[k1, dy_norm]);

    // No convergence: with a stale Jacobian, a fresh one; else half the step.
    e.b.switch_to(newton_failed);
    let cur = e.b.load(e.sc, s_jac_cur);
    let is_cur = e.b.cmp(CmpOp::Ne, cur, zero);
    let halve = e.b.create_block();
    e.b.brif(is_cur, halve, &[], refresh, &[]);
    e.b.switch_to(halve);
    let half = e.c(0.5);
    let h2 = e.b.mul(h, half);
    let no = e.b.bool(false);
    e.b.jump(change, &[order, half, h2, no, no]);

    // Converged: the error estimate error_const_k · d, scaled by the new solution.
    e.b.switch_to(solved);
    let maxit2 = {
        let two = e.c(2.0);
        e.b.mul(two, max_iter_f)
    };
    let safety = {
        let b = &mut e.b;
        let num0 = b.add(maxit2, one);
        let c09 = b.f64(0.9);
        let num = b.mul(c09, num0);
        let itf = b.convert(iters, Type::F64);
        let den = b.add(maxit2, itf);
        b.div(num, den)
    };
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let x = ld(b, yp, i);
        let a = abs(b, x);
        let rs = b.mul(rtol, a);
        let sc = b.add(atol, rs);
        st(b, elem, scale, i, sc);
        vec![]
    });
    let ec = pick_const(&mut e.b, order, &error_const);
    let err = rms(&mut e.b, n, ec, dsum, scale);
    let small = e.b.cmp(CmpOp::Le, err, one);
    let (accept, reject) = (e.b.create_block(), e.b.create_block());
    e.b.brif(small, accept, &[], reject, &[]);

    // Too large: h · max(0.2, safety · err^(−1/(k+1))).
    e.b.switch_to(reject);
    let factor = {
        let b = &mut e.b;
        let of = b.convert(order, Type::F64);
        let k1f = b.add(of, one);
        let m1 = b.f64(-1.0);
        let ex = b.div(m1, k1f);
        let pw = b.math(MathFn::Pow, &[err, ex]);
        let f = b.mul(safety, pw);
        let lo = b.f64(0.2);
        let below = b.cmp(CmpOp::Lt, f, lo);
        b.select(below, lo, f)
    };
    let h2 = e.b.mul(h, factor);
    let no = e.b.bool(false);
    e.b.jump(change, &[order, factor, h2, no, no]);

    // Accepted: the differences of the new solution, then perhaps a new order and step.
    e.b.switch_to(accept);
    let equal = e.b.load(e.sc, s_equal);
    let equal = e.b.add(equal, one);
    e.b.store(e.sc, s_equal, equal);
    e.b.store(e.sc, s_thist, t_new);
    e.b.for_range(zero_i, ni, &[], |b, i, _| {
        let mut v: Vec<Value> = d_rows.iter().map(|&r| ld(b, r, i)).collect();
        let di = ld(b, dsum, i);
        let oi = b.i64(1);
        let k1 = b.add(order, oi);
        let k2 = b.add(k1, oi);
        // D_{k+2} = d − D_{k+1}, D_{k+1} = d, then D_r += D_{r+1} for r = k … 0.
        let dk1 = pick(b, k1, &v);
        let diff = b.sub(di, dk1);
        for (r, slot) in v.iter_mut().enumerate() {
            let rr = b.i64(r as i64);
            let at2 = b.cmp(CmpOp::Eq, rr, k2);
            let at1 = b.cmp(CmpOp::Eq, rr, k1);
            let x = b.select(at1, di, *slot);
            *slot = b.select(at2, diff, x);
        }
        for r in (0..=MAX_ORDER).rev() {
            let rr = b.i64(r as i64);
            let inside = b.cmp(CmpOp::Le, rr, order);
            let s = b.add(v[r], v[r + 1]);
            v[r] = b.select(inside, s, v[r]);
        }
        // D_0 is the solution the step returns.
        v[0] = ld(b, yp, i);
        for (&row, &x) in d_rows.iter().zip(&v) {
            st(b, elem, row, i, x);
        }
        vec![]
    });
    for (kk, v) in [(0, t_new), (2, err)] {
        let ix = e.idx(kk);
        e.b.store(e.out, ix, v);
    }
    let equal_i = e.b.convert(equal, Type::I64);
    let k1 = e.b.add(order, one_i);
    let settled = e.b.cmp(CmpOp::Ge, equal_i, k1);
    let (choose, keep) = (e.b.create_block(), e.b.create_block());
    e.b.brif(settled, choose, &[], keep, &[]);
    e.b.switch_to(keep);
    let ix = e.idx(1);
    e.b.store(e.out, ix, h);
    e.b.store(e.sc, s_h, h);
    let okk = e.b.i32(status::OK);
    e.b.ret(&[okk]);

    // k + 1 steps of one size: the order among k − 1, k, k + 1 that allows the longest step.
    e.b.switch_to(choose);
    let err_at = |e: &mut Emit, k: Value, row: Value, allowed: Value| {
        let ec = pick_const(&mut e.b, k, &error_const);
        let norm = rms_row(&mut e.b, n, ec, &d_rows, row, scale);
        e.b.select(allowed, norm, inf)
    };
    let minus_one = e.b.i64(-1);
    let km = e.b.add(order, minus_one);
    let kp = e.b.add(order, one_i);
    let kp2 = e.b.add(kp, one_i);
    let above_one = e.b.cmp(CmpOp::Gt, order, one_i);
    let below_max = e.b.cmp(CmpOp::Lt, order, max_order);
    let err_m = err_at(e, km, order, above_one);
    let err_p = err_at(e, kp, kp2, below_max);
    let factor_of = |e: &mut Emit, norm: Value, k: Value| {
        let kf = e.b.convert(k, Type::F64);
        let m1 = e.c(-1.0);
        let ex = e.b.div(m1, kf);
        e.b.math(MathFn::Pow, &[norm, ex])
    };
    let fm = factor_of(e, err_m, order);
    let f0 = factor_of(e, err, kp);
    let fp = factor_of(e, err_p, kp2);
    let (best, delta) = {
        let b = &mut e.b;
        let gt0 = b.cmp(CmpOp::Gt, f0, fm);
        let best = b.select(gt0, f0, fm);
        let d0 = b.i64(0);
        let delta = b.select(gt0, d0, minus_one);
        let gtp = b.cmp(CmpOp::Gt, fp, best);
        let best2 = b.select(gtp, fp, best);
        let delta = b.select(gtp, one_i, delta);
        (best2, delta)
    };
    let new_order = e.b.add(order, delta);
    store_int(e, s_order, new_order);
    let grow = {
        let b = &mut e.b;
        let f = b.mul(safety, best);
        let cap = b.f64(10.0);
        let over = b.cmp(CmpOp::Gt, f, cap);
        b.select(over, cap, f)
    };
    let h_next = e.b.mul(h, grow);
    let ix = e.idx(1);
    e.b.store(e.out, ix, h_next);
    let (yes, no) = (e.b.bool(true), e.b.bool(false));
    e.b.jump(change, &[new_order, grow, h_next, yes, no]);
}

/// [`rms`] of `w · D_row` for the i64 `row`, the row picked per component.
fn rms_row(
    b: &mut FunctionBuilder,
    n: usize,
    w: Value,
    rows: &[Value; 8],
    row: Value,
    s: Value,
) -> Value {
    rms_by(b, n, w, s, |b, i| {
        let vals: Vec<Value> = rows.iter().map(|&r| ld(b, r, i)).collect();
        pick(b, row, &vals)
    })
}

/// scipy's `change_D(D, order, factor)`: `D_{0..k} ← (R(factor)·U)ᵀ D_{0..k}` with
/// `U = R(1)`, both `(k+1)×(k+1)`: the differences of the same interpolating polynomial on
/// a grid of steps `factor` times as long. `R` is built from `factor` at run time (the
/// 6×6 of order 5, of which order `k` uses the leading block); `U` is constant.
#[allow(clippy::needless_range_loop)]
fn change_d(
    b: &mut FunctionBuilder,
    rows: &[Value; 8],
    n: usize,
    elem: Elem,
    order: Value,
    factor: Value,
) {
    let u = r_const(1.0);
    // R[i][j], row by row as scipy's cumulative product.
    let mut r = vec![vec![b.f64(1.0); 6]; 6];
    let zero = b.f64(0.0);
    for i in 1..6 {
        r[i][0] = zero;
        let fi = b.f64(i as f64);
        let im1 = b.f64((i - 1) as f64);
        for j in 1..6 {
            let fj = b.f64(j as f64);
            let fj = b.mul(factor, fj);
            let num = b.sub(im1, fj);
            let m = b.div(num, fi);
            r[i][j] = b.mul(r[i - 1][j], m);
        }
    }
    let inside: Vec<Value> = (0..6)
        .map(|l| {
            let ll = b.i64(l as i64);
            b.cmp(CmpOp::Le, ll, order)
        })
        .collect();
    // RU[m][i] = Σ_{l≤k} R[m][l] U[l][i]; U is upper triangular (U[l][i] = 0 for l > i)
    // and only i ≤ k is used, so the sum runs over l ≤ i whatever the order.
    let mut ru = vec![vec![zero; 6]; 6];
    for (m, row) in ru.iter_mut().enumerate() {
        for (i, slot) in row.iter_mut().enumerate() {
            let mut acc: Option<Value> = None;
            for l in 0..=i {
                let ul = b.f64(u[l][i]);
                let p = b.mul(r[m][l], ul);
                acc = Some(match acc {
                    None => p,
                    Some(a) => b.add(a, p),
                });
            }
            *slot = acc.expect("l = 0 is a term");
        }
    }
    let zero_i = b.i64(0);
    let ni = b.i64(n as i64);
    b.for_range(zero_i, ni, &[], |b, j, _| {
        let old: Vec<Value> = rows[..6].iter().map(|&row| ld(b, row, j)).collect();
        for i in 0..6 {
            let mut acc = b.f64(0.0);
            for m in 0..6 {
                let p = b.mul(ru[m][i], old[m]);
                let s = b.add(acc, p);
                acc = b.select(inside[m], s, acc);
            }
            let v = b.select(inside[i], acc, old[i]);
            st(b, elem, rows[i], j, v);
        }
        vec![]
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(xs: &[f64]) -> Vec<u64> {
        xs.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn the_coefficients_are_scipys_to_the_bit() {
        // scipy 1.17's `alpha`, `error_const` and `compute_R(5, 0.37)` rows 3 and 5.
        let (_, alpha, error) = coefficients();
        assert_eq!(
            bits(&alpha),
            [
                0x0,
                0x3ff2f5c28f5c28f6,
                0x3ffaaaaaaaaaaaab,
                0x3fffbf59f9b82ef8,
                0x40015bbbbbbbbbbb,
                0x4002444444444444
            ]
        );
        assert_eq!(
            bits(&error),
            [
                0x3ff0000000000000,
                0x3fd428f5c28f5c29,
                0x3fc5555555555555,
                0x3fb95fb5b9d265dc,
                0x3fbd111111111112,
                0x3fc5555555555555
            ]
        );
        let r = r_const(0.37);
        assert_eq!(
            bits(&r[3]),
            [
                0x0,
                0xbfb036199780baa6,
                0xbfa4afd5454152b1,
                0x3f928bd230b9dc29,
                0x3faf85d744f5d356,
                0x3fa420c49ba5e351
            ]
        );
        assert_eq!(
            bits(&r[5]),
            [
                0x0,
                0xbf9ef41e2d2e35c5,
                0xbf8e7b8416bad679,
                0x3f74429d5b89804f,
                0x3f882624ca6a3cfa,
                0x3f73e81669ced0b0
            ]
        );
    }

    #[test]
    fn u_is_upper_triangular_and_its_own_inverse() {
        // change_d sums R·U only over l <= i (U's zeros), and a step change by a factor of
        // 1 must leave the differences alone: U·U = I.
        let u = r_const(1.0);
        for (l, row) in u.iter().enumerate() {
            for (i, &x) in row.iter().enumerate() {
                if l > i {
                    assert_eq!(x, 0.0, "U[{l}][{i}]");
                }
            }
        }
        for i in 0..6 {
            for j in 0..6 {
                let s: f64 = (0..6).map(|l| u[i][l] * u[l][j]).sum();
                assert_eq!(s, if i == j { 1.0 } else { 0.0 }, "(U·U)[{i}][{j}]");
            }
        }
    }
}
