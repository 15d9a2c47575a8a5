//! `euler`: forward Euler, `y + dt f(t, y)`.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "euler",
    aliases: &["fwd_euler", "forward_euler"],
    kind: StepperKind::Ode,
    order: 1,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "euler",
    config: &[],
    workspace: Layout {
        vectors: &["dy"],
        ..Layout::EMPTY
    },
    config_rules: no_rules,
    tangents: Tangents::Twinned,
    lanes: true,
    emit: emit_euler,
};

fn emit_euler(e: &mut Emit) {
    let dy = e.buf("dy");
    e.call_rhs(e.t, e.y, dy);
    let dt = e.dt;
    e.axpy(e.y_prop, dt, dy);
    e.accept_fixed();
}
