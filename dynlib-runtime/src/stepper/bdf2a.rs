//! `bdf2a`: variable-step BDF2 with a backward-Euler partner for its error estimate
//! (runtime.md §2.5), full Newton; started by a Richardson-style step (one backward-Euler
//! step against two half steps).

use super::emit::{finite, Emit};
use super::implicit::{abs, ld, st, Buffers, NewtonConfig, Solve};
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "bdf2a",
    aliases: &["bdf2a_jit"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: Some(1),
    adaptive: true,
    implicit: true,
    family: "bdf",
    config: ADAPTIVE_NEWTON_CONFIG,
    workspace: Layout {
        vectors: &[
            "y_nm1", "y_guess", "y_bdf2", "f_val", "f_tmp", "residual", "y_tmp",
        ],
        matrices: &["J"],
        indices: &[],
        scalars: &["step_index", "dt_nm1"],
    },
    config_rules: adaptive_rules,
    tangents: Tangents::None,
    lanes: false,
    emit: emit_bdf2a,
};

/// The configuration of the adaptive implicit steppers, in the reference's order.
pub(super) const ADAPTIVE_NEWTON_CONFIG: &[ConfigField] = &[
    fields::ATOL,
    fields::RTOL,
    fields::SAFETY,
    fields::MIN_FACTOR,
    fields::MAX_FACTOR,
    fields::MAX_TRIES,
    fields::MIN_STEP,
    fields::NEWTON_TOL,
    fields::NEWTON_MAX_ITER,
    fields::JAC_EPS,
    fields::DT_MAX,
    fields::JACOBIAN_MODE,
];

/// As rk45's: tolerances not both zero, `min_step <= dt_max`.
pub(super) fn adaptive_rules(c: &[f64]) -> Result<(), ConfigError> {
    fields::adaptive_rules(c, [0, 1, 6, 10])
}

/// The controller's settings (the first seven fields and `dt_max`).
pub(super) struct Controller {
    pub(super) atol: Value,
    pub(super) rtol: Value,
    pub(super) safety: Value,
    pub(super) min_factor: Value,
    pub(super) max_factor: Value,
    pub(super) max_tries: Value,
    pub(super) min_step: Value,
    pub(super) dt_max: Value,
}

impl Controller {
    pub(super) fn load(e: &mut Emit) -> Controller {
        let max_tries = e.cfg(5);
        let max_tries = e.b.convert(max_tries, Type::I64);
        Controller {
            atol: e.cfg(0),
            rtol: e.cfg(1),
            safety: e.cfg(2),
            min_factor: e.cfg(3),
            max_factor: e.cfg(4),
            max_tries,
            min_step: e.cfg(6),
            dt_max: e.cfg(10),
        }
    }
}

/// `out[2] = err`, `out[1] = dt_next` when given, then `STEPFAIL`.
pub(super) fn step_fail(e: &mut Emit, err: Value, dt_next: Option<Value>) {
    if let Some(d) = dt_next {
        let i = e.idx(1);
        e.b.store(e.out, i, d);
    }
    let i = e.idx(2);
    e.b.store(e.out, i, err);
    let s = e.b.i32(status::STEPFAIL);
    e.b.ret(&[s]);
}

/// `sqrt(Σ (|a_i − b_i| / (atol + rtol·max(|y_i|, |s_i|)))² / n)`, summed in order, and
/// infinity when not finite: the reference's error norm, `s` the solution it keeps.
pub(super) fn error_norm(e: &mut Emit, c: &Controller, a: Value, b: Value, s: Value) -> Value {
    let y = e.y;
    let n = e.b.i64(e.n as i64);
    let zero_i = e.b.i64(0);
    let z = e.c(0.0);
    let (atol, rtol) = (c.atol, c.rtol);
    let acc = e.b.for_range(zero_i, n, &[z], |bb, i, acc| {
        let (x, w) = (ld(bb, a, i), ld(bb, b, i));
        let d = bb.sub(x, w);
        let d = abs(bb, d);
        let yi = ld(bb, y, i);
        let ys = abs(bb, yi);
        let si = ld(bb, s, i);
        let s2 = abs(bb, si);
        let gt = bb.cmp(CmpOp::Gt, s2, ys);
        let scale = bb.select(gt, s2, ys);
        let rs = bb.mul(rtol, scale);
        let sc = bb.add(atol, rs);
        let ratio = bb.div(d, sc);
        let sq = bb.mul(ratio, ratio);
        vec![bb.add(acc[0], sq)]
    })[0];
    let nf = e.c(e.n as f64);
    let mean = e.b.div(acc, nf);
    let err = e.b.math(MathFn::Sqrt, &[mean]);
    let inf = e.c(f64::INFINITY);
    let ok = finite(&mut e.b, err, inf);
    e.b.select(ok, err, inf)
}

/// `max(safety · sqrt(1 / err), min_factor)`: the controller's step factor before the
/// accepted step's cap at `max_factor`.
fn factor(e: &mut Emit, c: &Controller, err: Value) -> Value {
    let one = e.c(1.0);
    let inv = e.b.div(one, err);
    let sq = e.b.math(MathFn::Sqrt, &[inv]);
    let f = e.b.mul(c.safety, sq);
    let low = e.b.cmp(CmpOp::Lt, f, c.min_factor);
    e.b.select(low, c.min_factor, f)
}

/// The accepted step's `dt_next`: `h · clamp(safety · sqrt(1 / err), min_factor,
/// max_factor)` (`h · max_factor` for a zero error), at most `dt_max`.
pub(super) fn grown(e: &mut Emit, c: &Controller, h: Value, err: Value) -> Value {
    let f = factor(e, c, err);
    let high = e.b.cmp(CmpOp::Gt, f, c.max_factor);
    let f = e.b.select(high, c.max_factor, f);
    let zero = e.c(0.0);
    let pos = e.b.cmp(CmpOp::Gt, err, zero);
    let scaled = e.b.mul(h, f);
    let most = e.b.mul(h, c.max_factor);
    let next = e.b.select(pos, scaled, most);
    let over = e.b.cmp(CmpOp::Gt, next, c.dt_max);
    e.b.select(over, c.dt_max, next)
}

/// The rejected step's new size: `h · max(safety · sqrt(1 / err), min_factor)`.
pub(super) fn shrunk(e: &mut Emit, c: &Controller, h: Value, err: Value) -> Value {
    let f = factor(e, c, err);
    e.b.mul(h, f)
}

/// The retry loop of the adaptive implicit steppers: `attempt(e, ctl, h, t_new, retry)`
/// emits one attempt of step `h` (it returns, or jumps to `retry` with the next `h` and
/// the error so far); `newton_failed` is the block an attempt's failed solve jumps to.
pub(super) struct Attempt {
    pub(super) h: Value,
    /// `(next h, error)`: try again.
    pub(super) retry: Block,
    /// A Newton failure: STEPFAIL at the smallest step, else `h · min_factor` (at least
    /// `min_step`) and again.
    pub(super) newton_failed: Block,
}

/// Emits the loop: `h = min(dt, dt_max)`, at most `max_tries` attempts, then STEPFAIL
/// with the last error.
pub(super) fn retry_loop(e: &mut Emit, c: &Controller, attempt: impl FnOnce(&mut Emit, &Attempt)) {
    let too_big = e.b.cmp(CmpOp::Gt, e.dt, c.dt_max);
    let h0 = e.b.select(too_big, c.dt_max, e.dt);
    let header = e.b.create_block();
    let k = e.b.block_param(header, Type::I64);
    let h = e.b.block_param(header, Type::F64);
    let error = e.b.block_param(header, Type::F64);
    let zero_i = e.b.i64(0);
    let inf = e.c(f64::INFINITY);
    e.b.jump(header, &[zero_i, h0, inf]);
    let (body, exhausted) = (e.b.create_block(), e.b.create_block());
    e.b.switch_to(header);
    let more = e.b.cmp(CmpOp::Lt, k, c.max_tries);
    let one_i = e.b.i64(1);
    let next_k = e.b.add(k, one_i);
    e.b.brif(more, body, &[], exhausted, &[]);
    e.b.switch_to(exhausted);
    step_fail(e, error, None);
    // Try again with (h, error).
    let retry = e.b.create_block();
    let h_next = e.b.block_param(retry, Type::F64);
    let err_next = e.b.block_param(retry, Type::F64);
    e.b.switch_to(retry);
    super::emit::count(&mut e.b, e.stats, crate::abi::STAT_REJECTED);
    e.b.jump(header, &[next_k, h_next, err_next]);
    // A failed solve.
    let newton_failed = e.b.create_block();
    e.b.switch_to(newton_failed);
    let at_min = e.b.cmp(CmpOp::Le, h, c.min_step);
    let (give_up, smaller) = (e.b.create_block(), e.b.create_block());
    e.b.brif(at_min, give_up, &[], smaller, &[]);
    e.b.switch_to(give_up);
    step_fail(e, inf, None);
    e.b.switch_to(smaller);
    let hs = e.b.mul(h, c.min_factor);
    let below = e.b.cmp(CmpOp::Lt, hs, c.min_step);
    let hs = e.b.select(below, c.min_step, hs);
    e.b.jump(retry, &[hs, error]);
    e.b.switch_to(body);
    attempt(
        e,
        &Attempt {
            h,
            retry,
            newton_failed,
        },
    );
}

/// The end of an attempt with error `err` of a step `h` to `t_new`: accept (`err <= 1` or
/// `h <= min_step`) with `accepted` (which writes the proposal and history), else shrink
/// and retry, or STEPFAIL below `min_step`.
pub(super) fn decide(
    e: &mut Emit,
    c: &Controller,
    a: &Attempt,
    t_new: Value,
    err: Value,
    accepted: impl FnOnce(&mut Emit),
) {
    let one = e.c(1.0);
    let small = e.b.cmp(CmpOp::Le, err, one);
    let tiny = e.b.cmp(CmpOp::Le, a.h, c.min_step);
    let ok = e.b.binary(BinaryOp::Or, small, tiny);
    let (yes, no) = (e.b.create_block(), e.b.create_block());
    e.b.brif(ok, yes, &[], no, &[]);
    e.b.switch_to(yes);
    accepted(e);
    let next = grown(e, c, a.h, err);
    e.accept(t_new, next, err);
    e.b.switch_to(no);
    let h2 = shrunk(e, c, a.h, err);
    let below = e.b.cmp(CmpOp::Lt, h2, c.min_step);
    let (stop, again) = (e.b.create_block(), e.b.create_block());
    e.b.brif(below, stop, &[], again, &[]);
    e.b.switch_to(stop);
    step_fail(e, err, Some(h2));
    e.b.switch_to(again);
    e.b.jump(a.retry, &[h2, err]);
}

/// The backward-Euler residual `Y − base − h f(Y)` from `base`, with `S` over `|base|`.
fn backward_euler(
    base: Value,
    h: Value,
) -> impl Fn(&mut FunctionBuilder, Value, Value, Value) -> (Value, Vec<Value>) {
    move |b, yg, fv, i| {
        let yb = ld(b, base, i);
        let a = b.sub(yg, yb);
        let d = b.mul(h, fv);
        (b.sub(a, d), vec![yb])
    }
}

/// `dst = src + h · f` for every state.
fn euler_guess(e: &mut Emit, dst: Value, src: Value, h: Value, f: Value) {
    let elem = e.elem;
    let n = e.b.i64(e.n as i64);
    let zero_i = e.b.i64(0);
    e.b.for_range(zero_i, n, &[], |b, i, _| {
        let x = ld(b, src, i);
        let fi = ld(b, f, i);
        let d = b.mul(h, fi);
        let v = b.add(x, d);
        st(b, elem, dst, i, v);
        vec![]
    });
}

/// `f(t, y) → f_tmp`; a non-finite value is STEPFAIL with an infinite error.
pub(super) fn rhs_finite(e: &mut Emit, t: Value, y: Value, out: Value) {
    e.call_rhs(t, y, out);
    let ok = e.all_finite(out);
    let (bad, good) = (e.b.create_block(), e.b.create_block());
    e.b.brif(ok, good, &[], bad, &[]);
    e.b.switch_to(bad);
    let inf = e.c(f64::INFINITY);
    step_fail(e, inf, None);
    e.b.switch_to(good);
}

fn emit_bdf2a(e: &mut Emit) {
    let [y_nm1, y_guess, y_bdf2, f_val, f_tmp, residual, y_tmp, jac] = e.bufs([
        "y_nm1", "y_guess", "y_bdf2", "f_val", "f_tmp", "residual", "y_tmp", "J",
    ]);
    let ctl = Controller::load(e);
    let cfg = NewtonConfig::load(e, [7, 8, 9, 11]);
    let (index_slot, dt_slot) = (e.idx(e.slot("step_index")), e.idx(e.slot("dt_nm1")));
    let index = e.b.load(e.sc, index_slot);
    let zero = e.c(0.0);
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let w = Buffers {
        f_val,
        f_tmp,
        y_tmp,
        residual,
        jac,
        jac0: None,
    };
    let y = e.y;
    retry_loop(e, &ctl, |e, a| {
        let h = a.h;
        let t_new = e.b.add(e.t, h);
        let (start, main) = (e.b.create_block(), e.b.create_block());
        e.b.brif(first, start, &[], main, &[]);

        // The start: one backward-Euler step of h against two of h/2.
        e.b.switch_to(start);
        rhs_finite(e, e.t, y, f_tmp);
        euler_guess(e, y_guess, y, h, f_tmp);
        let coarse = backward_euler(y, h);
        let solve = |t_new, factor, residual| Solve {
            t_new,
            factor,
            y: y_guess,
            residual,
            full: true,
        };
        e.newton(&solve(t_new, h, &coarse), &w, &cfg, a.newton_failed);
        e.copy(y_bdf2, y_guess);
        let half = e.c(0.5);
        let h_half = e.b.mul(half, h);
        let t_half = e.b.add(e.t, h_half);
        rhs_finite(e, e.t, y, f_tmp);
        euler_guess(e, y_guess, y, h_half, f_tmp);
        let fine1 = backward_euler(y, h_half);
        e.newton(&solve(t_half, h_half, &fine1), &w, &cfg, a.newton_failed);
        e.copy(y_nm1, y_guess);
        rhs_finite(e, t_half, y_nm1, f_tmp);
        euler_guess(e, y_guess, y_nm1, h_half, f_tmp);
        let fine2 = backward_euler(y_nm1, h_half);
        e.newton(&solve(t_new, h_half, &fine2), &w, &cfg, a.newton_failed);
        let err = error_norm(e, &ctl, y_guess, y_bdf2, y_guess);
        decide(e, &ctl, a, t_new, err, |e| {
            e.copy(y_nm1, y);
            e.copy(e.y_prop, y_guess);
            let one = e.c(1.0);
            e.b.store(e.sc, index_slot, one);
            e.b.store(e.sc, dt_slot, h);
        });

        // BDF2 with the step ratio ω = h / h_prev, then backward Euler from its solution.
        e.b.switch_to(main);
        let dt_old = e.b.load(e.sc, dt_slot);
        let one = e.c(1.0);
        let unset = e.b.cmp(CmpOp::Le, dt_old, zero);
        let ratio = e.b.div(h, dt_old);
        let rho = e.b.select(unset, one, ratio);
        let two = e.c(2.0);
        let two_rho = e.b.mul(two, rho);
        let denom = e.b.add(one, two_rho);
        let inv = e.b.div(one, denom);
        let opr = e.b.add(one, rho);
        let opr2 = e.b.mul(opr, opr);
        let c_curr = e.b.mul(opr2, inv);
        let rho2 = e.b.mul(rho, rho);
        let c_prev = e.b.mul(rho2, inv);
        let c_beta = e.b.mul(opr, inv);
        let (elem, n) = (e.elem, e.b.i64(e.n as i64));
        let zero_i = e.b.i64(0);
        // (1 + ρ) y − ρ y_{n−1}
        e.b.for_range(zero_i, n, &[], |b, i, _| {
            let yc = ld(b, y, i);
            let p = ld(b, y_nm1, i);
            let one = b.f64(1.0);
            let k = b.add(one, rho);
            let a1 = b.mul(k, yc);
            let a2 = b.mul(rho, p);
            let v = b.sub(a1, a2);
            st(b, elem, y_guess, i, v);
            vec![]
        });
        let beta_h = e.b.mul(c_beta, h);
        let bdf = move |b: &mut FunctionBuilder, yg: Value, fv: Value, i: Value| {
            let yc = ld(b, y, i);
            let p = ld(b, y_nm1, i);
            let a1 = b.mul(c_curr, yc);
            let r = b.sub(yg, a1);
            let a2 = b.mul(c_prev, p);
            let r = b.add(r, a2);
            let d = b.mul(beta_h, fv);
            (b.sub(r, d), vec![yc, p])
        };
        e.newton(&solve(t_new, beta_h, &bdf), &w, &cfg, a.newton_failed);
        e.copy(y_bdf2, y_guess);
        let be = backward_euler(y, h);
        e.newton(&solve(t_new, h, &be), &w, &cfg, a.newton_failed);
        let err = error_norm(e, &ctl, y_bdf2, y_guess, y_bdf2);
        decide(e, &ctl, a, t_new, err, |e| {
            e.copy(y_nm1, y);
            e.copy(e.y_prop, y_bdf2);
            let one = e.c(1.0);
            let next = e.b.add(index, one);
            e.b.store(e.sc, index_slot, next);
            e.b.store(e.sc, dt_slot, h);
        });
    });
}
