//! `rk45`: Dormand–Prince 5(4), adaptive, with the reference's controller.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "rk45",
    aliases: &["dopri5", "dormand_prince"],
    kind: StepperKind::Ode,
    order: 5,
    max_order: None,
    embedded_order: Some(4),
    adaptive: true,
    implicit: false,
    family: "runge-kutta",
    config: RK45_CONFIG,
    workspace: Layout {
        vectors: &["k1", "k2", "k3", "k4", "k5", "k6", "k7", "y_stage"],
        ..Layout::EMPTY
    },
    config_rules: rk45_rules,
    tangents: Tangents::None,
    lanes: false,
    emit: emit_rk45,
};

/// The rules between the adaptive Runge–Kutta fields (in [`RK45_CONFIG`] order; the
/// factors cannot cross: `min_factor <= 1 <= max_factor` by their ranges).
fn rk45_rules(c: &[f64]) -> Result<(), ConfigError> {
    fields::adaptive_rules(c, [0, 1, 6, 7])
}

const RK45_CONFIG: &[ConfigField] = &[
    fields::ATOL,
    fields::RTOL,
    fields::SAFETY,
    fields::MIN_FACTOR,
    fields::MAX_FACTOR,
    fields::MAX_TRIES,
    fields::MIN_STEP,
    fields::DT_MAX,
];

/// The Dormand–Prince tableau: stage coefficients `a[s][j]` of stages 2..6.
const A: [&[f64]; 5] = [
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
];
/// Stage times `c[s]` of stages 2..6.
const C: [f64; 5] = [1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0];
/// Fifth-order weights of k1, k3, k4, k5, k6 (b2 = b7 = 0), by stage index.
const B: [(usize, f64); 5] = [
    (0, 35.0 / 384.0),
    (2, 500.0 / 1113.0),
    (3, 125.0 / 192.0),
    (4, -2187.0 / 6784.0),
    (5, 11.0 / 84.0),
];
/// Fourth-order weights of k1, k3, k4, k5, k6 and k7.
const B_STAR: [f64; 6] = [
    5179.0 / 57600.0,
    7571.0 / 16695.0,
    393.0 / 640.0,
    -92097.0 / 339200.0,
    187.0 / 2100.0,
    1.0 / 40.0,
];

/// The controller's raw step factor `safety * (1 / err) ** p` (reciprocal, then power, as
/// the reference computes it): p = 0.2 to grow after an accepted step, 0.25 to shrink
/// after a rejected one.
fn step_factor(e: &mut Emit, safety: Value, one: Value, err: Value, p: f64) -> Value {
    let inv = e.b.div(one, err);
    let p = e.c(p);
    let pw = e.b.math(MathFn::Pow, &[inv, p]);
    e.b.mul(safety, pw)
}

/// Dormand–Prince 5(4) with the reference's controller (runtime.md §2.4).
fn emit_rk45(e: &mut Emit) {
    let k = e.bufs(["k1", "k2", "k3", "k4", "k5", "k6", "k7"]).to_vec();
    let y_stage = e.buf("y_stage");

    let (atol, rtol, safety, min_factor, max_factor) =
        (e.cfg(0), e.cfg(1), e.cfg(2), e.cfg(3), e.cfg(4));
    let max_tries_f = e.cfg(5);
    let (min_step, dt_max) = (e.cfg(6), e.cfg(7));
    let max_tries = e.b.convert(max_tries_f, Type::I64);
    let one_i = e.b.i64(1);
    let few = e.b.cmp(CmpOp::Lt, max_tries, one_i);
    let max_tries = e.b.select(few, one_i, max_tries);
    let inf = e.c(f64::INFINITY);

    // k1 once, outside the retry loop.
    e.call_rhs(e.t, e.y, k[0]);
    let k1_ok = e.all_finite(k[0]);
    let k1_bad = e.b.create_block();
    let start = e.b.create_block();
    e.b.brif(k1_ok, start, &[], k1_bad, &[]);
    e.b.switch_to(k1_bad);
    let fail = |e: &mut Emit, err: Value| {
        let idx = e.idx(2);
        e.b.store(e.out, idx, err);
        let s = e.b.i32(status::STEPFAIL);
        e.b.ret(&[s]);
    };
    fail(e, inf);

    e.b.switch_to(start);
    let too_big = e.b.cmp(CmpOp::Gt, e.dt, dt_max);
    let h0 = e.b.select(too_big, dt_max, e.dt);
    // Loop header: (attempt, h, error).
    let header = e.b.create_block();
    let attempt = e.b.block_param(header, Type::I64);
    let h = e.b.block_param(header, Type::F64);
    let error = e.b.block_param(header, Type::F64);
    let zero_i = e.b.i64(0);
    e.b.jump(header, &[zero_i, h0, inf]);

    let exhausted = e.b.create_block();
    let body = e.b.create_block();
    e.b.switch_to(header);
    let more = e.b.cmp(CmpOp::Lt, attempt, max_tries);
    // Computed here so that every retry path (all dominated by the header) can use it.
    let next_attempt = e.b.add(attempt, one_i);
    e.b.brif(more, body, &[], exhausted, &[]);

    e.b.switch_to(exhausted);
    fail(e, error);

    // A non-finite intermediate: fail if h is already minimal, else shrink and retry.
    let shrink = e.b.create_block();
    let shrink_fail = e.b.create_block();
    let shrink_retry = e.b.create_block();
    e.b.switch_to(shrink);
    let at_min = e.b.cmp(CmpOp::Le, h, min_step);
    e.b.brif(at_min, shrink_fail, &[], shrink_retry, &[]);
    e.b.switch_to(shrink_fail);
    fail(e, inf);
    e.b.switch_to(shrink_retry);
    let hs = e.b.mul(h, min_factor);
    let below = e.b.cmp(CmpOp::Lt, hs, min_step);
    let hs = e.b.select(below, min_step, hs);
    super::emit::count(&mut e.b, e.stats, crate::abi::STAT_REJECTED);
    e.b.jump(header, &[next_attempt, hs, inf]);

    e.b.switch_to(body);
    stages(e, &k, y_stage, h, shrink);
    solution(e, &k, h, shrink);

    let err = error_norm(e, &k, h, atol, rtol);
    let err_abs = e.b.math(MathFn::Fabs, &[err]);
    let finite = e.b.cmp(CmpOp::Lt, err_abs, inf);
    let judged = e.b.create_block();
    e.b.brif(finite, judged, &[], shrink, &[]);

    e.b.switch_to(judged);
    let one = e.c(1.0);
    let small = e.b.cmp(CmpOp::Le, err, one);
    let tiny_h = e.b.cmp(CmpOp::Le, h, min_step);
    let accept = e.b.binary(BinaryOp::Or, small, tiny_h);
    let accept_block = e.b.create_block();
    let reject_block = e.b.create_block();
    e.b.brif(accept, accept_block, &[], reject_block, &[]);

    e.b.switch_to(accept_block);
    let zero = e.c(0.0);
    let positive = e.b.cmp(CmpOp::Gt, err, zero);
    let factor = step_factor(e, safety, one, err, 0.2);
    // max(min_factor, min(factor, max_factor)) with Python's first-wins ties.
    let over = e.b.cmp(CmpOp::Lt, max_factor, factor);
    let capped = e.b.select(over, max_factor, factor);
    let under = e.b.cmp(CmpOp::Gt, capped, min_factor);
    let factor = e.b.select(under, capped, min_factor);
    let grown = e.b.mul(h, factor);
    let maxed = e.b.mul(h, max_factor);
    let dt_next = e.b.select(positive, grown, maxed);
    let over_max = e.b.cmp(CmpOp::Gt, dt_next, dt_max);
    let dt_next = e.b.select(over_max, dt_max, dt_next);
    let t_prop = e.b.add(e.t, h);
    e.accept(t_prop, dt_next, err);

    e.b.switch_to(reject_block);
    let factor = step_factor(e, safety, one, err, 0.25);
    let under = e.b.cmp(CmpOp::Gt, factor, min_factor);
    let factor = e.b.select(under, factor, min_factor);
    let hn = e.b.mul(h, factor);
    let too_small = e.b.cmp(CmpOp::Lt, hn, min_step);
    let reject_fail = e.b.create_block();
    let retry = e.b.create_block();
    e.b.brif(too_small, reject_fail, &[], retry, &[]);
    e.b.switch_to(reject_fail);
    fail(e, err);
    e.b.switch_to(retry);
    super::emit::count(&mut e.b, e.stats, crate::abi::STAT_REJECTED);
    e.b.jump(header, &[next_attempt, hn, err]);
}

/// Stages 2..6 at step `h`, each followed by a finiteness check that jumps to `shrink`.
fn stages(e: &mut Emit, k: &[Value], y_stage: Value, h: Value, shrink: Block) {
    // Stages 2..6, each followed by a finiteness check.
    for s in 0..5 {
        let coeffs = A[s];
        e.for_states(|e, i| {
            let yi = e.get(e.y, i);
            let inc = if s == 0 {
                // `h * a21 * k1[i]` is `(h * a21) * k1[i]`.
                let a = e.c(coeffs[0]);
                let ha = e.b.mul(h, a);
                let k0 = e.get(k[0], i);
                e.b.mul(ha, k0)
            } else {
                let terms: Vec<(f64, Value)> =
                    coeffs.iter().copied().zip(k.iter().copied()).collect();
                let sum = e.lin_comb(i, &terms);
                e.b.mul(h, sum)
            };
            let r = e.b.add(yi, inc);
            e.set(y_stage, i, r);
        });
        let c = e.c(C[s]);
        let ch = e.b.mul(c, h);
        let ts = e.b.add(e.t, ch);
        e.call_rhs(ts, y_stage, k[s + 1]);
        let ok = e.all_finite(k[s + 1]);
        let cont = e.b.create_block();
        e.b.brif(ok, cont, &[], shrink, &[]);
        e.b.switch_to(cont);
    }
}

/// The fifth-order solution into `y_prop` and `k7 = f(t + h, y_prop)`, both checked finite
/// (else `shrink`).
fn solution(e: &mut Emit, k: &[Value], h: Value, shrink: Block) {
    // Fifth-order solution (b2 = 0 omitted).
    let weights = B.map(|(j, b)| (b, k[j]));
    e.for_states(|e, i| {
        let sum = e.lin_comb(i, &weights);
        let inc = e.b.mul(h, sum);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, inc);
        e.set(e.y_prop, i, r);
    });
    let ok = e.all_finite(e.y_prop);
    let cont = e.b.create_block();
    e.b.brif(ok, cont, &[], shrink, &[]);
    e.b.switch_to(cont);
    let th = e.b.add(e.t, h);
    e.call_rhs(th, e.y_prop, k[6]);
    let ok = e.all_finite(k[6]);
    let cont = e.b.create_block();
    e.b.brif(ok, cont, &[], shrink, &[]);
    e.b.switch_to(cont);
}

/// The error norm `sqrt(mean((e_i / sc_i)^2))`, written as a power as the reference does.
fn error_norm(e: &mut Emit, k: &[Value], h: Value, atol: Value, rtol: Value) -> Value {
    // Error norm: sqrt(mean((e_i / sc_i)^2)) written as a power, as the reference does.
    let zero = e.c(0.0);
    let error_weights: [(f64, Value); 5] = std::array::from_fn(|m| (B[m].1 - B_STAR[m], k[B[m].0]));
    let bs7 = B_STAR[5];
    let acc = e.each_state(&[zero], |e, i, acc| {
        let sum = e.lin_comb(i, &error_weights);
        let bs7c = e.c(bs7);
        let k7 = e.get(k[6], i);
        let last = e.b.mul(bs7c, k7);
        let diff = e.b.sub(sum, last);
        let ad = e.b.math(MathFn::Fabs, &[diff]);
        let ei = e.b.mul(h, ad);
        let yc = e.get(e.y, i);
        let yp = e.get(e.y_prop, i);
        let ayc = e.b.math(MathFn::Fabs, &[yc]);
        let ayp = e.b.math(MathFn::Fabs, &[yp]);
        // Python's max keeps the first unless the second is larger.
        let bigger = e.b.cmp(CmpOp::Gt, ayp, ayc);
        let m = e.b.select(bigger, ayp, ayc);
        let rm = e.b.mul(rtol, m);
        let scale = e.b.add(atol, rm);
        let q = e.b.div(ei, scale);
        let q2 = e.b.mul(q, q);
        vec![e.b.add(acc[0], q2)]
    })[0];
    let nf = e.c(e.n as f64);
    let mean = e.b.div(acc, nf);
    let half = e.c(0.5);
    e.b.math(MathFn::Pow, &[mean, half])
}
