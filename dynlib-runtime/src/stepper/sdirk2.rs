//! `sdirk2`: Alexander's two-stage, L-stable, stiffly accurate SDIRK (runtime.md §2.5),
//! fixed step, modified Newton (the Jacobian built once per stage at its initial guess).

use super::bdf2::NEWTON_CONFIG;
use super::emit::Emit;
use super::implicit::{ld, st, stepfail_block, Buffers, NewtonConfig, Solve};
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "sdirk2",
    aliases: &["sdirk2_jit", "alexander2"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: true,
    family: "dirk",
    config: NEWTON_CONFIG,
    workspace: Layout {
        vectors: &["k1", "k2", "y_stage", "y_tmp", "f_val", "f_tmp", "residual"],
        matrices: &["J_base", "J"],
        indices: &[],
        scalars: &[],
    },
    config_rules: no_rules,
    tangents: Tangents::None,
    lanes: false,
    emit: emit_sdirk2,
};

/// γ = (2 − √2) / 2, as the reference computes it.
fn gamma() -> f64 {
    0.5 * (2.0 - 2f64.sqrt())
}

fn emit_sdirk2(e: &mut Emit) {
    let [k1, k2, y_stage, y_tmp, f_val, f_tmp, residual, jac0, jac] = e.bufs([
        "k1", "k2", "y_stage", "y_tmp", "f_val", "f_tmp", "residual", "J_base", "J",
    ]);
    let cfg = NewtonConfig::load(e, [0, 1, 2, 3]);
    let fail = stepfail_block(&mut e.b);
    let (y, elem, dt) = (e.y, e.elem, e.dt);
    let g = e.c(gamma());
    let omg = e.c(1.0 - gamma());
    let dt_gamma = e.b.mul(dt, g);
    let w = Buffers {
        f_val,
        f_tmp,
        y_tmp,
        residual,
        jac,
        jac0: Some(jac0),
    };
    // Stage 1 at t + γ dt: Y1 = y + dt γ f(t1, Y1), from y.
    let gdt = e.b.mul(g, dt);
    let t1 = e.b.add(e.t, gdt);
    e.copy(y_stage, y);
    let stage1 = move |b: &mut FunctionBuilder, ys: Value, fv: Value, i: Value| {
        let yc = ld(b, y, i);
        let a = b.sub(ys, yc);
        let d = b.mul(dt_gamma, fv);
        (b.sub(a, d), vec![yc])
    };
    let solve = Solve {
        t_new: t1,
        factor: dt_gamma,
        y: y_stage,
        residual: &stage1,
        full: false,
    };
    e.newton(&solve, &w, &cfg, fail);
    e.call_rhs(t1, y_stage, f_val);
    e.copy(k1, f_val);
    // Stage 2 at t + dt: Y2 = y + dt (1 − γ) k1 + dt γ f(t2, Y2), from its base.
    let t2 = e.b.add(e.t, dt);
    let base_of = move |b: &mut FunctionBuilder, i: Value| {
        let yc = ld(b, y, i);
        let k = ld(b, k1, i);
        let h = b.mul(dt, omg);
        let d = b.mul(h, k);
        (yc, b.add(yc, d))
    };
    let n = e.b.i64(e.n as i64);
    let zero_i = e.b.i64(0);
    e.b.for_range(zero_i, n, &[], |b, i, _| {
        let (_, base) = base_of(b, i);
        st(b, elem, y_stage, i, base);
        vec![]
    });
    let stage2 = move |b: &mut FunctionBuilder, ys: Value, fv: Value, i: Value| {
        let (yc, base) = base_of(b, i);
        let a = b.sub(ys, base);
        let d = b.mul(dt_gamma, fv);
        (b.sub(a, d), vec![yc, base])
    };
    let solve = Solve {
        t_new: t2,
        factor: dt_gamma,
        y: y_stage,
        residual: &stage2,
        full: false,
    };
    e.newton(&solve, &w, &cfg, fail);
    e.call_rhs(t2, y_stage, f_val);
    e.copy(k2, f_val);
    e.copy(e.y_prop, y_stage);
    e.accept_fixed();
}
