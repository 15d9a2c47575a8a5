//! `ab2` and `ab3`: explicit Adams–Bashforth methods, started with one Heun step.

use super::emit::Emit;
use super::heun::heun_step;
use super::tangent::TangentEmit;
use super::*;

/// The registry entry of `ab2`.
pub(super) const AB2: StepperSpec = StepperSpec {
    name: "ab2",
    aliases: &["adams_bashforth_2"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "adams-bashforth",
    config: &[],
    workspace: Layout {
        vectors: &["f_prev", "f_curr", "f_next", "y_stage"],
        scalars: &["step_index"],
        ..Layout::EMPTY
    },
    config_rules: no_rules,
    tangents: Tangents::Own(TangentScheme {
        history: &["g_prev"],
        scratch: &["v_stage", "g_curr"],
        emit: tangent_ab2,
    }),
    lanes: true,
    emit: emit_ab2,
};

/// The registry entry of `ab3`.
pub(super) const AB3: StepperSpec = StepperSpec {
    name: "ab3",
    aliases: &["adams_bashforth_3"],
    kind: StepperKind::Ode,
    order: 3,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "adams-bashforth",
    config: &[],
    workspace: Layout {
        vectors: &["f_nm2", "f_nm1", "f_n", "f_next", "y_stage"],
        scalars: &["step_index"],
        ..Layout::EMPTY
    },
    config_rules: no_rules,
    tangents: Tangents::Own(TangentScheme {
        history: &["g_nm2", "g_nm1"],
        scratch: &["v_stage", "g_curr"],
        emit: tangent_ab3,
    }),
    lanes: true,
    emit: emit_ab3,
};

/// The Heun start of both methods: one [`heun_step`] (`fa = f(t, y)`, `fb = f(t+dt, y*)`),
/// then `fb = f(t+dt, y1)` at the accepted proposal, the history the next step needs.
fn heun_start(e: &mut Emit, fa: Value, fb: Value, y_stage: Value) {
    let t1 = heun_step(e, fa, fb, y_stage);
    e.call_rhs(t1, e.y_prop, fb);
}

/// Increments the step index slot.
fn bump_step_index(e: &mut Emit, index: Value) {
    let one = e.c(1.0);
    let next = e.b.add(index, one);
    let slot = e.idx(e.slot("step_index"));
    e.b.store(e.sc, slot, next);
}

/// Loads the step index slot (0 before the first step).
fn step_index(e: &mut Emit) -> Value {
    let slot = e.idx(e.slot("step_index"));
    e.b.load(e.sc, slot)
}

/// `y_prop[i] = y[i] + dt * slope(i)` for every state, then `f_next = f(t+dt, y_prop)`:
/// the step both methods take, `slope` their combination of the history.
fn advance(e: &mut Emit, f_next: Value, slope: impl Fn(&mut Emit, Value) -> Value) {
    e.for_states(|e, i| {
        let d = slope(e, i);
        let term = e.b.mul(e.dt, d);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    });
    let t1 = e.b.add(e.t, e.dt);
    e.call_rhs(t1, e.y_prop, f_next);
}

/// `y_prop = y + dt * (1.5 f_curr - 0.5 f_prev)`, then `f_next = f(t+dt, y_prop)`.
fn ab2_step(e: &mut Emit, f_curr: Value, f_prev: Value, f_next: Value) {
    let (c15, c05) = (e.c(1.5), e.c(0.5));
    advance(e, f_next, |e, i| {
        let fc = e.get(f_curr, i);
        let fp = e.get(f_prev, i);
        let a = e.b.mul(c15, fc);
        let b = e.b.mul(c05, fp);
        e.b.sub(a, b)
    });
}

fn emit_ab2(e: &mut Emit) {
    let [f_prev, f_curr, f_next, y_stage] = e.bufs(["f_prev", "f_curr", "f_next", "y_stage"]);
    let index = step_index(e);
    let zero = e.c(0.0);
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let start = e.b.create_block();
    let steady = e.b.create_block();
    e.b.brif(first, start, &[], steady, &[]);

    e.b.switch_to(start);
    heun_start(e, f_prev, f_curr, y_stage);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(steady);
    ab2_step(e, f_curr, f_prev, f_next);
    e.copy(f_prev, f_curr);
    e.copy(f_curr, f_next);
    bump_step_index(e, index);
    e.accept_fixed();
}

fn emit_ab3(e: &mut Emit) {
    let [f_nm2, f_nm1, f_n, f_next, y_stage] =
        e.bufs(["f_nm2", "f_nm1", "f_n", "f_next", "y_stage"]);
    let index = step_index(e);
    let (zero, one) = (e.c(0.0), e.c(1.0));
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let second = e.b.cmp(CmpOp::Eq, index, one);
    let start = e.b.create_block();
    let not_start = e.b.create_block();
    let ab2 = e.b.create_block();
    let steady = e.b.create_block();
    e.b.brif(first, start, &[], not_start, &[]);

    e.b.switch_to(start);
    heun_start(e, f_nm1, f_n, y_stage);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(not_start);
    e.b.brif(second, ab2, &[], steady, &[]);

    e.b.switch_to(ab2);
    ab2_step(e, f_n, f_nm1, f_next);
    e.copy(f_nm2, f_nm1);
    e.copy(f_nm1, f_n);
    e.copy(f_n, f_next);
    bump_step_index(e, index);
    e.accept_fixed();

    e.b.switch_to(steady);
    let (c23, c16, c5) = (e.c(23.0 / 12.0), e.c(16.0 / 12.0), e.c(5.0 / 12.0));
    // y_prop = y + dt * (23/12 f_n - 16/12 f_nm1 + 5/12 f_nm2)
    advance(e, f_next, |e, i| {
        let a = e.get(f_n, i);
        let b = e.get(f_nm1, i);
        let c = e.get(f_nm2, i);
        let a = e.b.mul(c23, a);
        let b = e.b.mul(c16, b);
        let c = e.b.mul(c5, c);
        let s = e.b.sub(a, b);
        e.b.add(s, c)
    });
    e.copy(f_nm2, f_nm1);
    e.copy(f_nm1, f_n);
    e.copy(f_n, f_next);
    bump_step_index(e, index);
    e.accept_fixed();
}

// The tangent-only steps (the reference's `emit_tangent_step`): the Jacobian frozen at the
// step's start, `g = J·v` evaluated afresh each step and kept as the history the
// Adams–Bashforth combination needs. The history is of `J·v` for the vectors as they were
// (the observers renormalise `v` between steps; the reference does not rescale the
// history, and neither does this, so the exponents are the reference's).

/// Branches on `step == k`: `then` emitted in the taken block (it returns), the builder
/// left in the other.
fn on_step(e: &mut TangentEmit, k: i64, then: impl FnOnce(&mut TangentEmit)) {
    let is = e.step_is(k);
    let yes = e.b.create_block();
    let no = e.b.create_block();
    e.b.brif(is, yes, &[], no, &[]);
    e.b.switch_to(yes);
    then(e);
    e.b.switch_to(no);
}

/// The first step of both schemes: the midpoint rule with the frozen Jacobian,
/// `v_stage = v + dt/2 · g`, `v_prop = v + dt · J·v_stage`, with `g = J·v` (in `g_curr`)
/// kept as the newest history `g_last`.
fn midpoint_start(e: &mut TangentEmit, g_last: Value) {
    let [v_stage, g_curr] = e.bufs(["v_stage", "g_curr"]);
    let half = e.b.f64(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.for_states(|e, i| {
        let vi = e.get(e.v, i);
        let g = e.get(g_curr, i);
        let term = e.b.mul(half_dt, g);
        let x = e.b.add(vi, term);
        e.set(v_stage, i, x);
        e.set(g_last, i, g);
    });
    e.jvp(v_stage, g_curr);
    e.for_states(|e, i| {
        let vi = e.get(e.v, i);
        let g = e.get(g_curr, i);
        let term = e.b.mul(e.dt, g);
        let x = e.b.add(vi, term);
        e.set(e.v_prop, i, x);
    });
    e.done();
}

/// `v_prop = v + dt · (c_0 h_0 ± |c_1| h_1 ± ...)` over `terms` (`(c, h)`: a negative `c`
/// subtracts its product), folded left to right as the reference writes it.
fn ab_update(e: &mut TangentEmit, terms: &[(f64, Value)]) {
    let cs: Vec<Value> = terms.iter().map(|&(c, _)| e.b.f64(c.abs())).collect();
    e.for_states(|e, i| {
        let mut acc: Option<Value> = None;
        for (&(c, h), &cv) in terms.iter().zip(&cs) {
            let x = e.get(h, i);
            let p = e.b.mul(cv, x);
            acc = Some(match acc {
                None => p,
                Some(a) if c < 0.0 => e.b.sub(a, p),
                Some(a) => e.b.add(a, p),
            });
        }
        let slope = acc.expect("terms");
        let term = e.b.mul(e.dt, slope);
        let vi = e.get(e.v, i);
        let x = e.b.add(vi, term);
        e.set(e.v_prop, i, x);
    });
}

fn tangent_ab2(e: &mut TangentEmit) {
    let [g_prev, g_curr] = e.bufs(["g_prev", "g_curr"]);
    e.jvp(e.v, g_curr);
    on_step(e, 0, |e| midpoint_start(e, g_prev));
    // v + dt * (1.5 g_curr - 0.5 g_prev)
    ab_update(e, &[(1.5, g_curr), (-0.5, g_prev)]);
    e.copy(g_prev, g_curr);
    e.done();
}

fn tangent_ab3(e: &mut TangentEmit) {
    let [g_nm2, g_nm1, g_curr] = e.bufs(["g_nm2", "g_nm1", "g_curr"]);
    e.jvp(e.v, g_curr);
    on_step(e, 0, |e| midpoint_start(e, g_nm1));
    on_step(e, 1, |e| {
        ab_update(e, &[(1.5, g_curr), (-0.5, g_nm1)]);
        e.copy(g_nm2, g_nm1);
        e.copy(g_nm1, g_curr);
        e.done();
    });
    // v + dt * (23/12 g_curr - 16/12 g_nm1 + 5/12 g_nm2)
    ab_update(
        e,
        &[
            (23.0 / 12.0, g_curr),
            (-16.0 / 12.0, g_nm1),
            (5.0 / 12.0, g_nm2),
        ],
    );
    e.copy(g_nm2, g_nm1);
    e.copy(g_nm1, g_curr);
    e.done();
}
