//! `map`: one iteration of a discrete map, `y_prop = f(t, y)`.

use super::emit::Emit;
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "map",
    aliases: &["iter", "discrete"],
    kind: StepperKind::Map,
    order: 1,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: false,
    family: "iter",
    config: &[],
    workspace: Layout::EMPTY,
    config_rules: no_rules,
    tangents: Tangents::None,
    lanes: true,
    emit: emit_map,
};

fn emit_map(e: &mut Emit) {
    let (t, y, y_prop) = (e.t, e.y, e.y_prop);
    e.call_rhs(t, y, y_prop);
    e.accept_fixed();
}
