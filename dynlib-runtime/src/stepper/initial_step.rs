//! The WRMS initial-step heuristic of adaptive steppers (runtime.md §2.6).

use super::emit::{for_each_index, load_f64 as get, numpy_sum_each};
use dynlib_ir::lower::{rhs_signature, ModelFunctions};
use dynlib_ir::*;

use crate::abi::{Abi, InitialStepAbi, InitialStepParam as I};

/// Emits the WRMS initial-step heuristic of adaptive steppers (runtime.md §2.6).
pub fn emit_initial_step(mf: &mut ModelFunctions, n: usize, order: u32) -> FuncId {
    let elem = mf.elem;
    let mut f = Function::new("initial_step", InitialStepAbi.signature(elem));
    {
        let mut b = FunctionBuilder::new(&mut f);
        let prm = |b: &FunctionBuilder, q: I| b.param(InitialStepAbi.index(q));
        let (t0, t_end, y, p, ring, head) = (
            prm(&b, I::T0),
            prm(&b, I::TEnd),
            prm(&b, I::Y),
            prm(&b, I::P),
            prm(&b, I::Ring),
            prm(&b, I::Head),
        );
        let (f0, y1, f1, atol, rtol, max_dt) = (
            prm(&b, I::F0),
            prm(&b, I::Y1),
            prm(&b, I::F1),
            prm(&b, I::Atol),
            prm(&b, I::Rtol),
            prm(&b, I::MaxDt),
        );
        let rhs_sig = rhs_signature(elem);
        b.call(mf.rhs, &rhs_sig, &[t0, y, f0, p, ring, head]);
        // Every per-state quantity is recomputed from the arrays where a norm or the
        // probe step needs it (the same operations on the same inputs, so the same bits),
        // so large models get loops instead of code per state.
        let scale = move |b: &mut FunctionBuilder, yi: Value| {
            let a = b.math(MathFn::Fabs, &[yi]);
            let r = b.mul(rtol, a);
            b.add(atol, r)
        };
        // sqrt(mean((x_i / scale_i)^2)), numpy's pairwise sum.
        let wrms = |b: &mut FunctionBuilder, x: &dyn Fn(&mut FunctionBuilder, Value) -> Value| {
            let sum = numpy_sum_each(b, n, &mut |b, i| {
                let xi = x(b, i);
                let yi = get(b, y, i);
                let s = scale(b, yi);
                let q = b.div(xi, s);
                b.mul(q, q)
            });
            let nf = b.f64(n as f64);
            let mean = b.div(sum, nf);
            b.math(MathFn::Sqrt, &[mean])
        };
        let d0 = wrms(&mut b, &|b, i| get(b, y, i));
        let d1 = wrms(&mut b, &|b, i| get(b, f0, i));
        let tiny = b.f64(1e-5);
        let small0 = b.cmp(CmpOp::Lt, d0, tiny);
        let small1 = b.cmp(CmpOp::Lt, d1, tiny);
        let small = b.binary(BinaryOp::Or, small0, small1);
        let c001 = b.f64(0.01);
        let h0a = b.mul(c001, d0);
        let h0a = b.div(h0a, d1);
        let span = b.sub(t_end, t0);
        let span = b.math(MathFn::Fabs, &[span]);
        let micro = b.f64(1e-6);
        let less = b.cmp(CmpOp::Lt, span, micro);
        let h0b = b.select(less, span, micro);
        let h0 = b.select(small, h0b, h0a);
        for_each_index(&mut b, n, |b, i| {
            let yi = get(b, y, i);
            let fi = get(b, f0, i);
            let prod = b.mul(h0, fi);
            let s = b.add(yi, prod);
            let raw = b.convert(s, elem.ty());
            b.store(y1, i, raw);
        });
        let t1 = b.add(t0, h0);
        b.call(mf.rhs, &rhs_sig, &[t1, y1, f1, p, ring, head]);
        let w = wrms(&mut b, &|b, i| {
            let a = get(b, f1, i);
            let f = get(b, f0, i);
            b.sub(a, f)
        });
        let min_dt = b.f64(1e-16);
        let bigger = b.cmp(CmpOp::Gt, min_dt, h0);
        let denom = b.select(bigger, min_dt, h0);
        let d2 = b.div(w, denom);
        // max(d1, d2, 1e-15), first maximum wins.
        let g = b.cmp(CmpOp::Gt, d2, d1);
        let d = b.select(g, d2, d1);
        let floor = b.f64(1e-15);
        let g = b.cmp(CmpOp::Gt, floor, d);
        let d = b.select(g, floor, d);
        let one = b.f64(1.0);
        let expo = b.f64(1.0 / (order as f64 + 1.0));
        let inv = b.div(one, d);
        let pw = b.math(MathFn::Pow, &[inv, expo]);
        let h = b.mul(c001, pw);
        let capped = b.cmp(CmpOp::Lt, max_dt, h);
        let h = b.select(capped, max_dt, h);
        let capped = b.cmp(CmpOp::Lt, span, h);
        let h = b.select(capped, span, h);
        let low = b.cmp(CmpOp::Gt, min_dt, h);
        let h = b.select(low, min_dt, h);
        b.ret(&[h]);
    }
    mf.program.add(f)
}
