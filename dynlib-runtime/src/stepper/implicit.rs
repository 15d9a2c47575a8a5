//! The Newton machinery the implicit steppers share (runtime.md §2.5), emitted as IR
//! loops: the code stays the size of one iteration whatever the number of states.
//!
//! A solve finds `Y` with `G(Y) = 0` for a method's residual `G`, whose Jacobian is
//! `M = I − c·h·J`: each iteration evaluates `f(t_new, Y)` and the residual, builds `M`
//! (the model's Jacobian: declared with `jacobian_mode = 1`, declared or derived with
//! `auto` = 2, the default; else forward differences column by column), solves `M δ = −G` by Gaussian elimination with partial pivoting in
//! place, and updates `Y += δ`; it has converged when `‖G‖∞ ≤ newton_tol · max(1, S)` and
//! `max |δ_i| / max(1, |Y_old,i|) ≤ newton_tol`, `S` the largest magnitude over `Y` and the
//! method's known vectors. Every operation is the reference's, in its order.

use dynlib_ir::lower::jacobian_signature;
use dynlib_ir::*;

use super::emit::{count, finite, return_on_fault, Emit};
use crate::abi::{status, STAT_JACOBIANS, STAT_LU, STAT_NEWTON, STAT_RHS};

/// The configuration fields every implicit stepper has, by name.
pub(super) struct NewtonConfig {
    pub(super) tol: Value,
    /// As i64.
    pub(super) max_iter: Value,
    pub(super) jac_eps: Value,
    /// True when `jacobian_mode` asks for a Jacobian the model has (`external`: declared;
    /// `auto`: declared or derived); false: forward differences.
    pub(super) external: Value,
}

impl NewtonConfig {
    /// Reads the fields from `cfg` at their positions in the stepper's configuration.
    pub(super) fn load(e: &mut Emit, at: [usize; 4]) -> NewtonConfig {
        let tol = e.cfg(at[0]);
        NewtonConfig::with_tol(e, tol, [at[1], at[2], at[3]])
    }

    /// As [`NewtonConfig::load`] with a tolerance the stepper computes (`bdf`'s follows
    /// `rtol`), `at` the positions of `newton_max_iter`, `jac_eps` and `jacobian_mode`.
    pub(super) fn with_tol(e: &mut Emit, tol: Value, at: [usize; 3]) -> NewtonConfig {
        let iters = e.cfg(at[0]);
        let max_iter = e.b.convert(iters, Type::I64);
        let jac_eps = e.cfg(at[1]);
        // `external` uses a declared Jacobian, `auto` any (the declared one wins where
        // there is one); otherwise forward differences.
        let mode = e.cfg(at[2]);
        let (one, two) = (e.c(1.0), e.c(2.0));
        let external = match (e.jacobian, e.jacobian_declared) {
            (Some(_), true) => {
                let ext = e.b.cmp(CmpOp::Eq, mode, one);
                let auto = e.b.cmp(CmpOp::Eq, mode, two);
                e.b.binary(BinaryOp::Or, ext, auto)
            }
            (Some(_), false) => e.b.cmp(CmpOp::Eq, mode, two),
            (None, _) => e.b.bool(false),
        };
        NewtonConfig {
            tol,
            max_iter,
            jac_eps,
            external,
        }
    }
}

/// See [`Solve::residual`].
pub(super) type Residual<'r> =
    dyn Fn(&mut FunctionBuilder, Value, Value, Value) -> (Value, Vec<Value>) + 'r;

/// One implicit solve.
pub(super) struct Solve<'r> {
    /// The time `f` is evaluated at.
    pub(super) t_new: Value,
    /// `c·h`: the iteration matrix is `I − factor·J`.
    pub(super) factor: Value,
    /// The iterate (holding the initial guess).
    pub(super) y: Value,
    /// The residual `G_i` (f64) from the iterate's `Y_i` and `f_i` (both f64) and the
    /// state index `i` (i64), with the method's known values of component `i` whose
    /// magnitudes enter `S` besides `Y_i`.
    pub(super) residual: &'r Residual<'r>,
    /// Rebuild the Jacobian every iteration (full Newton) or only on the first (modified
    /// Newton: the reference then refactors a copy every iteration).
    pub(super) full: bool,
}

/// The workspace buffers a solve uses: `f_val` (f at the iterate), `f_tmp` (perturbed f),
/// `y_tmp` (the perturbed state), `residual`, `J` (n×n) and, for modified Newton, `J0`
/// (the Jacobian kept across iterations).
pub(super) struct Buffers {
    pub(super) f_val: Value,
    pub(super) f_tmp: Value,
    pub(super) y_tmp: Value,
    pub(super) residual: Value,
    pub(super) jac: Value,
    pub(super) jac0: Option<Value>,
}

/// `arr[idx]` as f64.
pub(super) fn ld(b: &mut FunctionBuilder, arr: Value, idx: Value) -> Value {
    let raw = b.load(arr, idx);
    b.convert(raw, Type::F64)
}

/// `arr[idx] = x` (f64, stored in the dtype `elem`).
pub(super) fn st(b: &mut FunctionBuilder, elem: Elem, arr: Value, idx: Value, x: Value) {
    let raw = b.convert(x, elem.ty());
    b.store(arr, idx, raw);
}

/// `x if x >= 0 else -x`, the reference's absolute value.
pub(super) fn abs(b: &mut FunctionBuilder, x: Value) -> Value {
    let zero = b.f64(0.0);
    let pos = b.cmp(CmpOp::Ge, x, zero);
    let neg = b.neg(x);
    b.select(pos, x, neg)
}

/// `x if x > m else m`.
fn max_of(b: &mut FunctionBuilder, m: Value, x: Value) -> Value {
    let gt = b.cmp(CmpOp::Gt, x, m);
    b.select(gt, x, m)
}

/// `i * n + j`.
pub(super) fn at(b: &mut FunctionBuilder, n: Value, i: Value, j: Value) -> Value {
    let r = b.mul(i, n);
    b.add(r, j)
}

/// Branches to `fail` when `cond` holds; the builder continues on the other side.
fn fail_if(b: &mut FunctionBuilder, cond: Value, fail: Block) {
    let go = b.create_block();
    b.brif(cond, fail, &[], go, &[]);
    b.switch_to(go);
}

/// True when every one of the `n` values of `arr` is finite (`allfinite1d`).
pub(super) fn all_finite(b: &mut FunctionBuilder, arr: Value, n: Value) -> Value {
    let zero = b.i64(0);
    let yes = b.bool(true);
    let inf = b.f64(f64::INFINITY);
    b.for_range(zero, n, &[yes], |b, i, st| {
        let x = ld(b, arr, i);
        let ok = finite(b, x, inf);
        vec![b.binary(BinaryOp::And, st[0], ok)]
    })[0]
}

/// What the solve's code needs of the step function besides the builder: the model's
/// functions and the step's model arguments.
#[derive(Clone)]
pub(super) struct Ctx {
    rhs: FuncId,
    rhs_sig: Signature,
    jacobian: Option<FuncId>,
    p: Value,
    ring: Value,
    head: Value,
    stats: Value,
    elem: Elem,
    n: usize,
}

impl Ctx {
    /// `f(t, y) → out`, counted, a fault ending the step (`Emit::call_rhs`'s call).
    pub(super) fn rhs(&self, b: &mut FunctionBuilder, t: Value, y: Value, out: Value) {
        let args = [t, y, out, self.p, self.ring, self.head];
        let mask = b.call(self.rhs, &self.rhs_sig, &args)[0];
        count(b, self.stats, STAT_RHS);
        return_on_fault(b, mask);
    }
}

impl Emit<'_> {
    pub(super) fn ctx(&self) -> Ctx {
        Ctx {
            rhs: self.rhs,
            rhs_sig: self.rhs_sig.clone(),
            jacobian: self.jacobian,
            p: self.p,
            ring: self.ring,
            head: self.head,
            stats: self.stats,
            elem: self.elem,
            n: self.n,
        }
    }

    /// Emits Newton's method for `s`; on convergence the builder continues after it with
    /// the solution in `s.y`, on failure (a non-finite residual or perturbed `f`, a
    /// singular matrix, no convergence in `max_iter` iterations) it jumps to `fail`.
    pub(super) fn newton(&mut self, s: &Solve, w: &Buffers, cfg: &NewtonConfig, fail: Block) {
        let cx = self.ctx();
        let elem = cx.elem;
        let b = &mut self.b;
        let n = b.i64(cx.n as i64);
        let zero_i = b.i64(0);
        let header = b.create_block();
        let it = b.block_param(header, Type::I64);
        let body = b.create_block();
        let done = b.create_block();
        b.jump(header, &[zero_i]);
        b.switch_to(header);
        let more = b.cmp(CmpOp::Lt, it, cfg.max_iter);
        b.brif(more, body, &[], fail, &[]);

        b.switch_to(body);
        count(b, cx.stats, STAT_NEWTON);
        cx.rhs(b, s.t_new, s.y, w.f_val);
        // The residual, ‖G‖∞ and S.
        let z = b.f64(0.0);
        let st_ = b.for_range(zero_i, n, &[z, z], |b, i, c| {
            let yi = ld(b, s.y, i);
            let fi = ld(b, w.f_val, i);
            let (r, known) = (s.residual)(b, yi, fi, i);
            st(b, elem, w.residual, i, r);
            let max_r = {
                let a = abs(b, r);
                max_of(b, c[0], a)
            };
            let mut scale = {
                let a = abs(b, yi);
                max_of(b, c[1], a)
            };
            for x in known {
                let a = abs(b, x);
                scale = max_of(b, scale, a);
            }
            vec![max_r, scale]
        });
        let (max_r, max_scale) = (st_[0], st_[1]);
        let ok = all_finite(b, w.residual, n);
        let bad = b.not(ok);
        fail_if(b, bad, fail);
        // M = I − factor·J, rebuilt every iteration (full Newton) or on the first only.
        let first = b.cmp(CmpOp::Eq, it, zero_i);
        let build = if s.full { b.bool(true) } else { first };
        let (yes, no, join) = (b.create_block(), b.create_block(), b.create_block());
        b.brif(build, yes, &[], no, &[]);
        b.switch_to(yes);
        let target = w.jac0.unwrap_or(w.jac);
        cx.matrix(b, s, w, cfg, target, fail);
        b.jump(join, &[]);
        b.switch_to(no);
        b.jump(join, &[]);
        b.switch_to(join);
        if let Some(j0) = w.jac0 {
            // The factorisation works on a copy: the kept matrix stays whole.
            let nn = b.i64((cx.n * cx.n) as i64);
            b.for_range(zero_i, nn, &[], |b, k, _| {
                let x = b.load(j0, k);
                b.store(w.jac, k, x);
                vec![]
            });
        }
        // −G as the right-hand side, then M δ = −G in place.
        b.for_range(zero_i, n, &[], |b, i, _| {
            let r = ld(b, w.residual, i);
            let nr = b.neg(r);
            st(b, elem, w.residual, i, nr);
            vec![]
        });
        count(b, cx.stats, STAT_LU);
        lu_solve(b, elem, n, w.jac, w.residual, fail);
        // Y += δ, and the largest relative update.
        let z = b.f64(0.0);
        let one = b.f64(1.0);
        let mds = b.for_range(zero_i, n, &[z], |b, i, c| {
            let d = ld(b, w.residual, i);
            let y_old = ld(b, s.y, i);
            let y_new = b.add(y_old, d);
            st(b, elem, s.y, i, y_new);
            let ad = abs(b, d);
            let sc = abs(b, y_old);
            let small = b.cmp(CmpOp::Lt, sc, one);
            let sc = b.select(small, one, sc);
            let q = b.div(ad, sc);
            vec![max_of(b, c[0], q)]
        })[0];
        let over = b.cmp(CmpOp::Gt, max_scale, one);
        let scale_tol = b.select(over, max_scale, one);
        let lim = b.mul(cfg.tol, scale_tol);
        let r_ok = b.cmp(CmpOp::Le, max_r, lim);
        let d_ok = b.cmp(CmpOp::Le, mds, cfg.tol);
        let conv = b.binary(BinaryOp::And, r_ok, d_ok);
        let one_i = b.i64(1);
        let next = b.add(it, one_i);
        b.brif(conv, done, &[], header, &[next]);
        b.switch_to(done);
    }
}

impl Ctx {
    /// `target = I − factor·J` at the iterate ([`Ctx::jacobian`] with the factor).
    fn matrix(
        &self,
        b: &mut FunctionBuilder,
        s: &Solve,
        w: &Buffers,
        cfg: &NewtonConfig,
        target: Value,
        fail: Block,
    ) {
        let at_iterate = JacobianAt {
            t: s.t_new,
            y: s.y,
            f_y: w.f_val,
            f_tmp: w.f_tmp,
            y_tmp: w.y_tmp,
        };
        self.jacobian(b, &at_iterate, cfg, target, Some(s.factor), fail);
    }

    /// `target = J(t, y)` at `fd`'s point, or with `factor` the iteration matrix
    /// `I − factor·J`, counted: the model's Jacobian when `cfg.external`, else forward
    /// differences column by column (`ε_j = jac_eps·max(1, |y_j|)`, `fd.f_y` holding
    /// `f(t, y)`; a non-finite perturbed `f` jumps to `fail`). The reference's operation
    /// order: the model's matrix is scaled in place (`−factor·J_ij`, then `+ 1` on the
    /// diagonal); a difference quotient goes into the matrix in one rounding
    /// (`1 − factor·df`, `−factor·df`).
    pub(super) fn jacobian(
        &self,
        b: &mut FunctionBuilder,
        fd: &JacobianAt,
        cfg: &NewtonConfig,
        target: Value,
        factor: Option<Value>,
        fail: Block,
    ) {
        let (t, y) = (fd.t, fd.y);
        let elem = self.elem;
        let n = b.i64(self.n as i64);
        let zero_i = b.i64(0);
        count(b, self.stats, STAT_JACOBIANS);
        let (ext, diff, join) = (b.create_block(), b.create_block(), b.create_block());
        b.brif(cfg.external, ext, &[], diff, &[]);
        b.switch_to(ext);
        if let Some(jf) = self.jacobian {
            let args = [t, y, self.p, target, self.ring, self.head];
            let mask = b.call(jf, &jacobian_signature(elem), &args)[0];
            return_on_fault(b, mask);
            if let Some(factor) = factor {
                iteration_matrix(b, elem, n, target, target, factor);
            }
        }
        b.jump(join, &[]);
        b.switch_to(diff);
        b.for_range(zero_i, n, &[], |b, j, _| {
            b.for_range(zero_i, n, &[], |b, i, _| {
                let x = b.load(y, i);
                b.store(fd.y_tmp, i, x);
                vec![]
            });
            let base = ld(b, y, j);
            let a = abs(b, base);
            let one = b.f64(1.0);
            let big = b.cmp(CmpOp::Gt, a, one);
            let scale = b.select(big, a, one);
            let eps = b.mul(cfg.jac_eps, scale);
            let zero = b.f64(0.0);
            let is0 = b.cmp(CmpOp::Eq, eps, zero);
            let eps = b.select(is0, cfg.jac_eps, eps);
            let yj = ld(b, fd.y_tmp, j);
            let yp = b.add(yj, eps);
            st(b, elem, fd.y_tmp, j, yp);
            self.rhs(b, t, fd.y_tmp, fd.f_tmp);
            let ok = all_finite(b, fd.f_tmp, n);
            let bad = b.not(ok);
            fail_if(b, bad, fail);
            let inv = b.div(one, eps);
            b.for_range(zero_i, n, &[], |b, i, _| {
                let ft = ld(b, fd.f_tmp, i);
                let fv = ld(b, fd.f_y, i);
                let d = b.sub(ft, fv);
                let df = b.mul(d, inv);
                let v = match factor {
                    Some(factor) => {
                        let diag = b.cmp(CmpOp::Eq, i, j);
                        let fdf = b.mul(factor, df);
                        let on = b.sub(one, fdf);
                        let nf = b.neg(factor);
                        let off = b.mul(nf, df);
                        b.select(diag, on, off)
                    }
                    None => df,
                };
                let k = at(b, n, i, j);
                st(b, elem, target, k, v);
                vec![]
            });
            vec![]
        });
        b.jump(join, &[]);
        b.switch_to(join);
    }
}

/// `dst = I − factor·src` for n×n matrices (`dst` may be `src`): `(−factor)·src_ij`, then
/// `+ 1` on the diagonal, the reference's order.
pub(super) fn iteration_matrix(
    b: &mut FunctionBuilder,
    elem: Elem,
    n: Value,
    src: Value,
    dst: Value,
    factor: Value,
) {
    let zero_i = b.i64(0);
    b.for_range(zero_i, n, &[], |b, i, _| {
        b.for_range(zero_i, n, &[], |b, j, _| {
            let k = at(b, n, i, j);
            let x = ld(b, src, k);
            let nf = b.neg(factor);
            let v = b.mul(nf, x);
            st(b, elem, dst, k, v);
            vec![]
        });
        let k = at(b, n, i, i);
        let x = ld(b, dst, k);
        let one = b.f64(1.0);
        let v = b.add(x, one);
        st(b, elem, dst, k, v);
        vec![]
    });
}

/// Where a Jacobian is evaluated, `(t, y)`, and the vectors forward differences use:
/// `f_y = f(t, y)` (read), the perturbed `f` and the perturbed state (scratch).
pub(super) struct JacobianAt {
    pub(super) t: Value,
    pub(super) y: Value,
    pub(super) f_y: Value,
    pub(super) f_tmp: Value,
    pub(super) y_tmp: Value,
}

/// Factors `m = P·L·U` in place (LAPACK's `getrf` order: at column `k` the row with the
/// largest `|m_ik|`, the first on ties, is swapped up, `piv[k]` records it; `L` below the
/// diagonal without its unit diagonal, `U` on and above). A zero (or NaN) pivot jumps to
/// `singular`. The factors serve any number of [`lu_apply`] solves.
pub(super) fn lu_factor(
    b: &mut FunctionBuilder,
    elem: Elem,
    n: Value,
    m: Value,
    piv: Value,
    singular: Block,
) {
    let zero_i = b.i64(0);
    b.for_range(zero_i, n, &[], |b, k, _| {
        let (pivot_val, pivot_row) = find_pivot(b, n, m, k);
        let zero = b.f64(0.0);
        let usable = b.cmp(CmpOp::Gt, pivot_val, zero);
        let bad = b.not(usable);
        fail_if(b, bad, singular);
        b.store(piv, k, pivot_row);
        swap_rows(b, n, m, k, pivot_row);
        eliminate_below(b, elem, n, m, k, None);
        vec![]
    });
}

/// Column `k` eliminated below the diagonal: row `i > k` of `m` minus `f = m_ik / m_kk`
/// times row `k` (columns after `k`). Without `r`, `f` stays in `m_ik` (the factor `L`);
/// with it (the reference's elimination) `m_ik` becomes 0 and `r_i` loses `f·r_k` too.
fn eliminate_below(
    b: &mut FunctionBuilder,
    elem: Elem,
    n: Value,
    m: Value,
    k: Value,
    r: Option<Value>,
) {
    let kk = at(b, n, k, k);
    let one_i = b.i64(1);
    let k1 = b.add(k, one_i);
    let diag = ld(b, m, kk);
    let one = b.f64(1.0);
    let inv = b.div(one, diag);
    b.for_range(k1, n, &[], |b, i, _| {
        let ik = at(b, n, i, k);
        let x = ld(b, m, ik);
        let f = b.mul(x, inv);
        let kept = match r {
            None => f,
            Some(_) => b.f64(0.0),
        };
        st(b, elem, m, ik, kept);
        b.for_range(k1, n, &[], |b, j, _| {
            let ij = at(b, n, i, j);
            let kj = at(b, n, k, j);
            let (a, c) = (ld(b, m, ij), ld(b, m, kj));
            let p = b.mul(f, c);
            let v = b.sub(a, p);
            st(b, elem, m, ij, v);
            vec![]
        });
        if let Some(r) = r {
            let (ri, rk) = (ld(b, r, i), ld(b, r, k));
            let p = b.mul(f, rk);
            let v = b.sub(ri, p);
            st(b, elem, r, i, v);
        }
        vec![]
    });
}

/// The largest `|m_ik|` for `i >= k` and its row (the first on ties).
fn find_pivot(b: &mut FunctionBuilder, n: Value, m: Value, k: Value) -> (Value, Value) {
    let kk = at(b, n, k, k);
    let v = ld(b, m, kk);
    let pv = abs(b, v);
    let one_i = b.i64(1);
    let k1 = b.add(k, one_i);
    let found = b.for_range(k1, n, &[pv, k], |b, i, c| {
        let ik = at(b, n, i, k);
        let x = ld(b, m, ik);
        let a = abs(b, x);
        let gt = b.cmp(CmpOp::Gt, a, c[0]);
        vec![b.select(gt, a, c[0]), b.select(gt, i, c[1])]
    });
    (found[0], found[1])
}

/// `r = U⁻¹ r` for the upper triangle of `m`, from the last row up; a zero diagonal jumps
/// to `fail` when given.
fn back_substitute(
    b: &mut FunctionBuilder,
    elem: Elem,
    n: Value,
    m: Value,
    r: Value,
    fail: Option<Block>,
) {
    let zero_i = b.i64(0);
    let one_i = b.i64(1);
    b.for_range(zero_i, n, &[], |b, q, _| {
        let last = b.sub(n, one_i);
        let i = b.sub(last, q);
        let s0 = ld(b, r, i);
        let i1 = b.add(i, one_i);
        let sum = b.for_range(i1, n, &[s0], |b, j, c| {
            let ij = at(b, n, i, j);
            let (a, x) = (ld(b, m, ij), ld(b, r, j));
            let p = b.mul(a, x);
            vec![b.sub(c[0], p)]
        })[0];
        let ii = at(b, n, i, i);
        let diag = ld(b, m, ii);
        if let Some(fail) = fail {
            let zero = b.f64(0.0);
            let z = b.cmp(CmpOp::Eq, diag, zero);
            fail_if(b, z, fail);
        }
        let x = b.div(sum, diag);
        st(b, elem, r, i, x);
        vec![]
    });
}

/// Swaps rows `k` and `r` of the n×n `m` when they differ.
fn swap_rows(b: &mut FunctionBuilder, n: Value, m: Value, k: Value, r: Value) {
    let zero_i = b.i64(0);
    let swap = b.cmp(CmpOp::Ne, r, k);
    let (yes, join) = (b.create_block(), b.create_block());
    b.brif(swap, yes, &[], join, &[]);
    b.switch_to(yes);
    b.for_range(zero_i, n, &[], |b, j, _| {
        let a = at(b, n, k, j);
        let c = at(b, n, r, j);
        let (xa, xc) = (b.load(m, a), b.load(m, c));
        b.store(m, a, xc);
        b.store(m, c, xa);
        vec![]
    });
    b.jump(join, &[]);
    b.switch_to(join);
}

/// Solves `P·L·U x = r` in place with [`lu_factor`]'s factors: the row swaps in order,
/// forward substitution with the unit lower factor, back substitution with the upper.
pub(super) fn lu_apply(
    b: &mut FunctionBuilder,
    elem: Elem,
    n: Value,
    m: Value,
    piv: Value,
    r: Value,
) {
    let zero_i = b.i64(0);
    b.for_range(zero_i, n, &[], |b, k, _| {
        let p = b.load(piv, k);
        let (xk, xp) = (b.load(r, k), b.load(r, p));
        b.store(r, k, xp);
        b.store(r, p, xk);
        vec![]
    });
    b.for_range(zero_i, n, &[], |b, i, _| {
        let s0 = ld(b, r, i);
        let sum = b.for_range(zero_i, i, &[s0], |b, j, c| {
            let ij = at(b, n, i, j);
            let (a, x) = (ld(b, m, ij), ld(b, r, j));
            let p = b.mul(a, x);
            vec![b.sub(c[0], p)]
        })[0];
        st(b, elem, r, i, sum);
        vec![]
    });
    back_substitute(b, elem, n, m, r, None);
}

/// Solves `m x = r` in place (`r` becomes `x`, `m` its elimination): Gaussian elimination
/// with partial pivoting (a row is swapped up when a strictly larger `|pivot|` is below), a
/// pivot of magnitude `<= 1e-14` or a zero diagonal in back substitution jumps to `fail`.
fn lu_solve(b: &mut FunctionBuilder, elem: Elem, n: Value, m: Value, r: Value, fail: Block) {
    let zero_i = b.i64(0);
    b.for_range(zero_i, n, &[], |b, k, _| {
        let (pivot_val, pivot_row) = find_pivot(b, n, m, k);
        let tol = b.f64(1e-14);
        let singular = b.cmp(CmpOp::Le, pivot_val, tol);
        fail_if(b, singular, fail);
        swap_rows(b, n, m, k, pivot_row);
        let (xa, xc) = (b.load(r, k), b.load(r, pivot_row));
        b.store(r, k, xc);
        b.store(r, pivot_row, xa);
        eliminate_below(b, elem, n, m, k, Some(r));
        vec![]
    });
    back_substitute(b, elem, n, m, r, Some(fail));
}

/// A block that returns `STEPFAIL` (the fixed-step implicit steppers never retry).
pub(super) fn stepfail_block(b: &mut FunctionBuilder) -> Block {
    let here = b.current();
    let fail = b.create_block();
    b.switch_to(fail);
    let s = b.i32(status::STEPFAIL);
    b.ret(&[s]);
    b.switch_to(here);
    fail
}
