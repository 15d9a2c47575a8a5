//! `rk4`: the classical fourth-order Runge–Kutta method.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "rk4",
    aliases: &["rk4_classic", "classical_rk4"],
    kind: StepperKind::Ode,
    order: 4,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "runge-kutta",
    config: &[],
    workspace: Layout {
        vectors: &["k1", "k2", "k3", "k4", "y_stage"],
        ..Layout::EMPTY
    },
    config_rules: no_rules,
    tangents: Tangents::Twinned,
    lanes: true,
    emit: emit_rk4,
};

fn emit_rk4(e: &mut Emit) {
    let [k1, k2, k3, k4, y_stage] = e.bufs(["k1", "k2", "k3", "k4", "y_stage"]);
    e.call_rhs(e.t, e.y, k1);
    // `0.5 * dt * k` evaluates as `(0.5 * dt) * k`; `t + 0.5 * dt` likewise.
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.axpy(y_stage, half_dt, k1);
    let t_half = e.b.add(e.t, half_dt);
    e.call_rhs(t_half, y_stage, k2);
    e.axpy(y_stage, half_dt, k2);
    e.call_rhs(t_half, y_stage, k3);
    let dt = e.dt;
    e.axpy(y_stage, dt, k3);
    let t_full = e.b.add(e.t, e.dt);
    e.call_rhs(t_full, y_stage, k4);
    let six = e.c(6.0);
    let dt6 = e.b.div(e.dt, six);
    e.combine(e.y_prop, dt6, &[(1.0, k1), (2.0, k2), (2.0, k3), (1.0, k4)]);
    e.accept_fixed();
}
