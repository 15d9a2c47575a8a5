//! `ab2` and `ab3`: explicit Adams–Bashforth methods, started with one Heun step.

use super::emit::Emit;
use super::heun::heun_step;
use super::*;

/// The registry entry of `ab2`.
pub(super) const AB2: StepperSpec = StepperSpec {
    name: "ab2",
    aliases: &["adams_bashforth_2"],
    kind: StepperKind::Ode,
    order: 2,
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
    variational: false,
    lanes: true,
    emit: emit_ab2,
};

/// The registry entry of `ab3`.
pub(super) const AB3: StepperSpec = StepperSpec {
    name: "ab3",
    aliases: &["adams_bashforth_3"],
    kind: StepperKind::Ode,
    order: 3,
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
    variational: false,
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
fn advance(e: &mut Emit, f_next: Value, slope: impl Fn(&mut Emit, usize) -> Value) {
    for i in 0..e.n {
        let d = slope(e, i);
        let term = e.b.mul(e.dt, d);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    }
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
