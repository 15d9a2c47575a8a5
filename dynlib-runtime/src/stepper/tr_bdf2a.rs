//! `tr-bdf2a`: one-step TR-BDF2 (L-stable) with a backward-Euler partner for its error
//! estimate (runtime.md §2.5), modified Newton (the Jacobian built once per solve at its
//! initial guess), the controller of `bdf2a`.

use super::bdf2a::{
    adaptive_rules, decide, error_norm, retry_loop, rhs_finite, Controller, ADAPTIVE_NEWTON_CONFIG,
};
use super::emit::Emit;
use super::implicit::{ld, st, Buffers, NewtonConfig, Solve};
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "tr-bdf2a",
    aliases: &["trbdf2a"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: Some(1),
    adaptive: true,
    implicit: true,
    family: "tr-bdf2",
    config: ADAPTIVE_NEWTON_CONFIG,
    workspace: Layout {
        vectors: &[
            "f_n", "y_stage", "y_guess", "y_trbdf2", "y_be", "f_val", "f_tmp", "residual", "y_tmp",
        ],
        matrices: &["J_base", "J"],
        indices: &[],
        scalars: &["step_index"],
    },
    config_rules: adaptive_rules,
    tangents: Tangents::None,
    lanes: false,
    emit: emit_tr_bdf2a,
};

fn emit_tr_bdf2a(e: &mut Emit) {
    let [f_n, y_stage, y_guess, y_trbdf2, y_be, f_val, f_tmp, residual, y_tmp, jac0, jac] =
        e.bufs([
            "f_n", "y_stage", "y_guess", "y_trbdf2", "y_be", "f_val", "f_tmp", "residual", "y_tmp",
            "J_base", "J",
        ]);
    let ctl = Controller::load(e);
    let cfg = NewtonConfig::load(e, [7, 8, 9, 11]);
    let index_slot = e.idx(e.slot("step_index"));
    let index = e.b.load(e.sc, index_slot);
    // The constants as the reference computes them.
    let g = 2.0 - 2f64.sqrt();
    let (gamma, gamma2, gamma3, theta) = (
        e.c(g),
        e.c((1.0 - g) / (2.0 - g)),
        e.c(1.0 / (g * (2.0 - g))),
        e.c(0.5 * g),
    );
    let w = Buffers {
        f_val,
        f_tmp,
        y_tmp,
        residual,
        jac,
        jac0: Some(jac0),
    };
    let (y, elem) = (e.y, e.elem);
    retry_loop(e, &ctl, |e, a| {
        let h = a.h;
        let t_new = e.b.add(e.t, h);
        let gh = e.b.mul(gamma, h);
        let t_stage = e.b.add(e.t, gh);
        rhs_finite(e, e.t, y, f_n);
        let n = e.b.i64(e.n as i64);
        let zero_i = e.b.i64(0);
        // y + γ h f_n
        e.b.for_range(zero_i, n, &[], |b, i, _| {
            let yc = ld(b, y, i);
            let f = ld(b, f_n, i);
            let d = b.mul(gh, f);
            let v = b.add(yc, d);
            st(b, elem, y_guess, i, v);
            vec![]
        });
        let solve = |t_new, factor, residual| Solve {
            t_new,
            factor,
            y: y_guess,
            residual,
            full: false,
        };
        // The trapezoidal stage to t + γ h.
        let th = e.b.mul(theta, h);
        let tr = move |b: &mut FunctionBuilder, yg: Value, fv: Value, i: Value| {
            let yc = ld(b, y, i);
            let f = ld(b, f_n, i);
            let d = b.mul(th, f);
            let base = b.add(yc, d);
            let df = b.mul(th, fv);
            let r = b.sub(yg, df);
            (b.sub(r, base), vec![yc, f])
        };
        e.newton(&solve(t_stage, th, &tr), &w, &cfg, a.newton_failed);
        e.copy(y_stage, y_guess);
        // The BDF2 stage to t + h, from y_γ.
        let g2h = e.b.mul(gamma2, h);
        let bdf = move |b: &mut FunctionBuilder, yg: Value, fv: Value, i: Value| {
            let yc = ld(b, y, i);
            let ys = ld(b, y_stage, i);
            let one = b.f64(1.0);
            let c = b.sub(one, gamma3);
            let a1 = b.mul(c, yc);
            let a2 = b.mul(gamma3, ys);
            let base = b.add(a1, a2);
            let df = b.mul(g2h, fv);
            let r = b.sub(yg, df);
            (b.sub(r, base), vec![yc, ys])
        };
        e.newton(&solve(t_new, g2h, &bdf), &w, &cfg, a.newton_failed);
        e.copy(y_trbdf2, y_guess);
        // Backward Euler from the TR-BDF2 solution.
        let be = move |b: &mut FunctionBuilder, yg: Value, fv: Value, i: Value| {
            let yc = ld(b, y, i);
            let df = b.mul(h, fv);
            let r = b.sub(yg, df);
            (b.sub(r, yc), vec![yc])
        };
        e.newton(&solve(t_new, h, &be), &w, &cfg, a.newton_failed);
        e.copy(y_be, y_guess);
        let err = error_norm(e, &ctl, y_trbdf2, y_be, y_trbdf2);
        decide(e, &ctl, a, t_new, err, |e| {
            e.copy(e.y_prop, y_trbdf2);
            let one = e.c(1.0);
            let next = e.b.add(index, one);
            e.b.store(e.sc, index_slot, next);
        });
    });
}
