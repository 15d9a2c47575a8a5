//! `bdf2`: the fixed-step, constant-coefficient BDF2 (runtime.md §2.5), backward Euler on
//! its first step, full Newton (the Jacobian rebuilt every iteration).

use super::emit::Emit;
use super::implicit::{ld, st, stepfail_block, Buffers, NewtonConfig, Solve};
use super::*;

/// The registry entry.
pub(super) const SPEC: StepperSpec = StepperSpec {
    name: "bdf2",
    aliases: &["bdf2_jit"],
    kind: StepperKind::Ode,
    order: 2,
    max_order: None,
    embedded_order: None,
    adaptive: false,
    implicit: true,
    family: "bdf",
    config: NEWTON_CONFIG,
    workspace: Layout {
        vectors: &["y_nm1", "y_guess", "y_tmp", "f_val", "f_tmp", "residual"],
        matrices: &["J"],
        indices: &[],
        scalars: &["step_index"],
    },
    config_rules: no_rules,
    tangents: Tangents::None,
    // Newton's convergence test takes norms over every component.
    lanes: false,
    emit: emit_bdf2,
};

/// The configuration of the fixed-step implicit steppers, in the reference's order.
pub(super) const NEWTON_CONFIG: &[ConfigField] = &[
    fields::NEWTON_TOL,
    fields::NEWTON_MAX_ITER,
    fields::JAC_EPS,
    fields::JACOBIAN_MODE,
];

fn emit_bdf2(e: &mut Emit) {
    let [y_nm1, y_guess, y_tmp, f_val, f_tmp, residual, jac] = e.bufs([
        "y_nm1", "y_guess", "y_tmp", "f_val", "f_tmp", "residual", "J",
    ]);
    let cfg = NewtonConfig::load(e, [0, 1, 2, 3]);
    let fail = stepfail_block(&mut e.b);
    let slot = e.idx(e.slot("step_index"));
    let index = e.b.load(e.sc, slot);
    let zero = e.c(0.0);
    let first = e.b.cmp(CmpOp::Eq, index, zero);
    let t_new = e.b.add(e.t, e.dt);
    let (c43, c13, c23) = (e.c(4.0 / 3.0), e.c(1.0 / 3.0), e.c(2.0 / 3.0));
    let dt = e.dt;
    // The predictor, from f(t, y).
    e.call_rhs(e.t, e.y, f_tmp);
    let (y, elem) = (e.y, e.elem);
    let n = e.b.i64(e.n as i64);
    let zero_i = e.b.i64(0);
    e.b.for_range(zero_i, n, &[], |b, i, _| {
        let yc = ld(b, y, i);
        let f = ld(b, f_tmp, i);
        // y + dt f (first step), (4/3) y − (1/3) y_{n−1} + (2/3) dt f
        let euler = {
            let d = b.mul(dt, f);
            b.add(yc, d)
        };
        let bdf = {
            let a = b.mul(c43, yc);
            let p = ld(b, y_nm1, i);
            let c = b.mul(c13, p);
            let ac = b.sub(a, c);
            let h = b.mul(c23, dt);
            let d = b.mul(h, f);
            b.add(ac, d)
        };
        let g = b.select(first, euler, bdf);
        st(b, elem, y_guess, i, g);
        vec![]
    });
    let two_thirds_dt = e.b.mul(c23, dt);
    let factor = e.b.select(first, dt, two_thirds_dt);
    // Y − y − dt f(Y) (first step), Y − (4/3) y + (1/3) y_{n−1} − (2/3) dt f(Y)
    let residual_of = move |b: &mut FunctionBuilder, yg: Value, fv: Value, i: Value| {
        let yc = ld(b, y, i);
        let euler = {
            let a = b.sub(yg, yc);
            let d = b.mul(dt, fv);
            b.sub(a, d)
        };
        let bdf = {
            let a = b.mul(c43, yc);
            let ya = b.sub(yg, a);
            let p = ld(b, y_nm1, i);
            let c = b.mul(c13, p);
            let yac = b.add(ya, c);
            let h = b.mul(c23, dt);
            let d = b.mul(h, fv);
            b.sub(yac, d)
        };
        // S: |Y|, |y| and (after the first step) |y_{n−1}|; before it y_{n−1} is zero,
        // which adds nothing to a maximum of magnitudes.
        let p = ld(b, y_nm1, i);
        (b.select(first, euler, bdf), vec![yc, p])
    };
    let solve = Solve {
        t_new,
        factor,
        y: y_guess,
        residual: &residual_of,
        full: true,
    };
    let w = Buffers {
        f_val,
        f_tmp,
        y_tmp,
        residual,
        jac,
        jac0: None,
    };
    e.newton(&solve, &w, &cfg, fail);
    e.copy(y_nm1, y);
    e.copy(e.y_prop, y_guess);
    let one = e.c(1.0);
    let next = e.b.add(index, one);
    e.b.store(e.sc, slot, next);
    e.accept_fixed();
}
