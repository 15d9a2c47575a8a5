//! `rk2`: the explicit midpoint rule.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "rk2",
    aliases: &["rk2_midpoint"],
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
    tangents: Tangents::Twinned,
    lanes: true,
    emit: emit_rk2,
};

fn emit_rk2(e: &mut Emit) {
    let [k1, k2, y_stage] = e.bufs(["k1", "k2", "y_stage"]);
    e.call_rhs(e.t, e.y, k1);
    let half = e.c(0.5);
    let half_dt = e.b.mul(half, e.dt);
    e.axpy(y_stage, half_dt, k1);
    let t2 = e.b.add(e.t, half_dt);
    e.call_rhs(t2, y_stage, k2);
    let dt = e.dt;
    e.axpy(e.y_prop, dt, k2);
    e.accept_fixed();
}
