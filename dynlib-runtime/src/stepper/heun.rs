//! `heun`: Heun's method, the explicit trapezoid rule (order 2). Its step is also the start
//! of the Adams–Bashforth methods, which the reference begins with exactly this step.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "heun",
    aliases: &["explicit_trapezoid", "improved_euler"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "runge-kutta",
    config: &[],
    workspace: Layout {
        vectors: &["k1", "k2", "y_stage"],
        ..Layout::EMPTY
    },
    config_rules: no_rules,
    tangents: Tangents::None,
    lanes: true,
    emit: emit_heun,
};

/// `k1 = f(t, y)`, `y* = y + dt k1`, `k2 = f(t + dt, y*)`, `y1 = y + (0.5 dt)(k1 + k2)`:
/// the products and sums in that order. Returns `t + dt`.
pub(super) fn heun_step(e: &mut Emit, k1: Value, k2: Value, y_stage: Value) -> Value {
    e.call_rhs(e.t, e.y, k1);
    let dt = e.dt;
    e.axpy(y_stage, dt, k1);
    let t1 = e.b.add(e.t, e.dt);
    e.call_rhs(t1, y_stage, k2);
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.for_states(|e, i| {
        let a = e.get(k1, i);
        let b = e.get(k2, i);
        let s = e.b.add(a, b);
        let term = e.b.mul(half_dt, s);
        let yi = e.get(e.y, i);
        let r = e.b.add(yi, term);
        e.set(e.y_prop, i, r);
    });
    t1
}

fn emit_heun(e: &mut Emit) {
    let [k1, k2, y_stage] = e.bufs(["k1", "k2", "y_stage"]);
    heun_step(e, k1, k2, y_stage);
    e.accept_fixed();
}
