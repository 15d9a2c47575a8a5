//! The emission context of a step function and the helpers every emitter shares.

use dynlib_ir::*;

use dynlib_ir::lower::{jvp_signature, rhs_signature, ModelFunctions};

use super::StepperSpec;
use crate::abi::{status, Abi, StepParam};

/// `arr[i]` converted to f64.
pub(crate) fn load_f64(b: &mut FunctionBuilder, arr: Value, i: impl Index) -> Value {
    let idx = i.value(b);
    let raw = b.load(arr, idx);
    b.convert(raw, Type::F64)
}

/// `arr[i] = x`: `x` (f64) converted to the array's element type `ty` and stored.
pub(crate) fn store_f64(b: &mut FunctionBuilder, arr: Value, i: impl Index, x: Value, ty: Type) {
    let idx = i.value(b);
    let raw = b.convert(x, ty);
    b.store(arr, idx, raw);
}

/// Models with at most this many states get their per-state stepper and runner work
/// unrolled (straight-line code, each index a constant); larger ones get IR loops of
/// [`UNROLL_BY`] states an iteration, so code grows with the model only in the model's own
/// functions. Unrolled code is faster in the interpreter (no counter, compare and branch)
/// and lets both backends forward a stage's stores to the next stage's loads: a lane batch
/// of 8 Lorenz systems (24 states) ran 1.4× slower natively with loops. Above a few dozen
/// states it only costs compile time and instruction cache.
pub const UNROLL_STATES: usize = 32;

thread_local! {
    /// The unroll limit and states per loop iteration of this thread's emitters.
    static UNROLL: std::cell::Cell<(usize, usize)> =
        const { std::cell::Cell::new((UNROLL_STATES, UNROLL_BY)) };
}

/// Runs `f` with this thread's emitters unrolling up to `limit` states (0: every per-state
/// piece of work of at least `by` states is a loop; `usize::MAX`: none is) and taking `by` states a loop iteration
/// (at least 1): the tests' way to check that loops, their remainders and unrolled code
/// give the same bits on small models. Emission happens where a kernel is built, on the
/// calling thread.
#[doc(hidden)]
pub fn with_unrolling<T>(limit: usize, by: usize, f: impl FnOnce() -> T) -> T {
    struct Restore((usize, usize));
    impl Drop for Restore {
        fn drop(&mut self) {
            UNROLL.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(UNROLL.with(|l| l.replace((limit, by.max(1)))));
    f()
}

/// An array index while emitting: a constant (`usize`, unrolled code) or a value (a loop
/// counter).
pub trait Index: Copy {
    /// The index as an `i64` value.
    fn value(self, b: &mut FunctionBuilder) -> Value;
    /// The index, when it is a constant (what bounds can be checked on while emitting).
    fn constant(self) -> Option<usize>;
}

impl Index for usize {
    fn value(self, b: &mut FunctionBuilder) -> Value {
        b.i64(self as i64)
    }
    fn constant(self) -> Option<usize> {
        Some(self)
    }
}

impl Index for Value {
    fn value(self, _: &mut FunctionBuilder) -> Value {
        self
    }
    fn constant(self) -> Option<usize> {
        None
    }
}

/// Runs `body` for every index `i` in `0..n`, in order, threading `carried` through (the
/// body returns the next values): unrolled up to [`UNROLL_STATES`], where straight-line
/// code is fastest, and as one IR loop above, so the function's size does not grow with
/// the model. The body emits the same operations in the same order either way, so the
/// choice never changes a result. `cx` is whatever the body needs (an emitter holding the
/// builder).
pub(crate) fn each_index<'f, C: Builds<'f>>(
    cx: &mut C,
    n: usize,
    carried: &[Value],
    mut body: impl FnMut(&mut C, Value, &[Value]) -> Vec<Value>,
) -> Vec<Value> {
    let (limit, by) = UNROLL.with(|l| l.get());
    if n <= limit {
        let mut state = carried.to_vec();
        for k in 0..n {
            let i = cx.builder().i64(k as i64);
            state = body(cx, i, &state);
        }
        return state;
    }
    // The loop takes `by` (UNROLL_BY) states an iteration (the body emitted that many
    // times, at `by * k + j`), so its counter, compare and branch cost an interpreter an
    // eighth of an operation a state, and the native code gets straight-line work to
    // vectorize; the remaining `n % by` states follow, unrolled.
    let chunks = n / by;
    let mut state = carried.to_vec();
    if chunks > 0 {
        let fb = cx.builder();
        let (zero, end) = (fb.i64(0), fb.i64(chunks as i64));
        let head = fb.loop_start(zero, end, &state);
        let step = fb.i64(by as i64);
        let first = fb.mul(head.counter, step);
        state = head.carried.clone();
        for j in 0..by {
            let i = offset(cx.builder(), first, j);
            state = body(cx, i, &state);
        }
        state = cx.builder().loop_finish(head, &state);
    }
    for k in chunks * by..n {
        let i = cx.builder().i64(k as i64);
        state = body(cx, i, &state);
    }
    state
}

/// `base + j` as an index (`base` itself for 0: the loops' first copy adds nothing).
fn offset(b: &mut FunctionBuilder, base: Value, j: usize) -> Value {
    if j == 0 {
        return base;
    }
    let jj = b.i64(j as i64);
    b.add(base, jj)
}

/// How many states one iteration of a per-state loop handles ([`each_index`]).
pub const UNROLL_BY: usize = 8;

/// [`each_index`] with nothing carried.
pub(crate) fn for_each_index<'f, C: Builds<'f>>(
    cx: &mut C,
    n: usize,
    mut body: impl FnMut(&mut C, Value),
) {
    each_index(cx, n, &[], |cx, i, _| {
        body(cx, i);
        Vec::new()
    });
}

/// An emission context that holds the function's builder.
pub(crate) trait Builds<'f> {
    /// The builder.
    fn builder(&mut self) -> &mut FunctionBuilder<'f>;
}

impl<'f> Builds<'f> for FunctionBuilder<'f> {
    fn builder(&mut self) -> &mut FunctionBuilder<'f> {
        self
    }
}

impl<'f> Builds<'f> for Emit<'f> {
    fn builder(&mut self) -> &mut FunctionBuilder<'f> {
        &mut self.b
    }
}

/// Returns `FAULT + mask` when `mask` (a model function's fault bits) is not zero: a
/// step function's exit when the model faults (nothing is accepted).
pub(crate) fn return_on_fault(b: &mut FunctionBuilder, mask: Value) {
    let zero = b.i32(0);
    let faulted = b.cmp(CmpOp::Ne, mask, zero);
    let fail = b.create_block();
    let fine = b.create_block();
    b.brif(faulted, fail, &[], fine, &[]);
    b.switch_to(fail);
    let base = b.i32(status::FAULT);
    let code = b.add(base, mask);
    b.ret(&[code]);
    b.switch_to(fine);
}

/// `stats[slot] += 1`: a solver statistics counter (`abi::STAT_*`).
pub(crate) fn count(b: &mut FunctionBuilder, stats: Value, slot: usize) {
    let i = b.i64(slot as i64);
    let x = b.load(stats, i);
    let one = b.i64(1);
    let y = b.add(x, one);
    b.store(stats, i, y);
}

/// `|x| < inf` (`inf` the constant, emitted once by the caller): false for NaN and ±inf.
pub(crate) fn finite(b: &mut FunctionBuilder, x: Value, inf: Value) -> Value {
    let a = b.math(MathFn::Fabs, &[x]);
    b.cmp(CmpOp::Lt, a, inf)
}

/// How a tangent step is emitted (runtime.md §2.7): the stepper's own emitter runs with
/// every state vector twinned by a tangent vector, so the tangent is integrated by exactly
/// the scheme (and the floating-point order) of the state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TangentMode {
    /// State and tangent together (the runner calls it instead of the stepper): the
    /// Jacobian-vector product at each stage's time and state.
    Combined,
    /// The tangent alone, with the Jacobian frozen at the step's start `(t, y)` for every
    /// stage; the state is not touched.
    Frozen,
}

impl TangentMode {
    /// The function's name prefix.
    fn prefix(self) -> &'static str {
        match self {
            TangentMode::Combined => "tangent",
            TangentMode::Frozen => "tangent_frozen",
        }
    }
}

/// The tangent twins of a tangent step: `v` of `y`, `v_prop` of `y_prop`, one twin per
/// workspace vector, and the model's JVP.
pub(super) struct Tangent {
    v: Value,
    v_prop: Value,
    twins: Vec<Value>,
    jvp: FuncId,
    jvp_sig: Signature,
    mode: TangentMode,
}

impl StepperSpec {
    /// Emits the step function into `mf.program` for a model with `n` states.
    pub fn emit(&self, mf: &mut ModelFunctions, n: usize) -> FuncId {
        let f = self.emit_function(mf, n, None);
        mf.program.add(f)
    }

    /// The tangent step in `mode`, when the stepper has one ([`StepperSpec::tangent_modes`])
    /// and the model declares a Jacobian; its parameters are
    /// [`StepperSpec::tangent_signature`]'s.
    pub fn emit_tangent(
        &self,
        mf: &mut ModelFunctions,
        n: usize,
        mode: TangentMode,
    ) -> Option<FuncId> {
        if !self.tangent_modes().contains(&mode) {
            return None;
        }
        let jvp = mf.jvp?;
        let f = match self.tangents {
            super::Tangents::Own(scheme) => super::tangent::emit_own(self, scheme, mf, n, jvp),
            _ => self.emit_function(mf, n, Some((jvp, mode))),
        };
        Some(mf.program.add(f))
    }

    fn emit_function(
        &self,
        mf: &ModelFunctions,
        n: usize,
        tangent: Option<(FuncId, TangentMode)>,
    ) -> Function {
        let elem = mf.elem;
        let rhs = mf.rhs;
        let (name, sig) = match tangent {
            None => (self.ir_name("step"), self.signature(elem)),
            Some((_, mode)) => (self.ir_name(mode.prefix()), self.tangent_signature(elem)),
        };
        let base = sig.params.len() - tangent.map_or(0, |_| 2 + self.workspace.vectors.len());
        let mut f = Function::new(name, sig);
        {
            let b = FunctionBuilder::new(&mut f);
            let abi = self.abi();
            let prm = |p: StepParam| b.param(abi.index(p));
            let mut e = Emit {
                t: prm(StepParam::T),
                dt: prm(StepParam::Dt),
                y: prm(StepParam::Y),
                p: prm(StepParam::P),
                ring: prm(StepParam::Ring),
                head: prm(StepParam::Head),
                layout: self.workspace,
                work: self
                    .workspace
                    .buffers()
                    .map(|k| prm(StepParam::Work(k)))
                    .collect(),
                sc: prm(StepParam::Scalars),
                cfg: prm(StepParam::Config),
                y_prop: prm(StepParam::YProp),
                out: prm(StepParam::Out),
                stats: prm(StepParam::Stats),
                b,
                rhs,
                rhs_sig: rhs_signature(elem),
                jacobian: mf.jacobian,
                jacobian_declared: mf.jacobian.is_some() && !mf.derived_jacobian,
                elem,
                n,
                tangent: None,
            };
            e.tangent = tangent.map(|(jvp, mode)| Tangent {
                v: e.b.param(base),
                v_prop: e.b.param(base + 1),
                twins: (0..self.workspace.vectors.len())
                    .map(|k| e.b.param(base + 2 + k))
                    .collect(),
                jvp,
                jvp_sig: jvp_signature(elem),
                mode,
            });
            (self.emit)(&mut e);
        }
        f
    }
}

/// The emission context: the builder, the step function's parameters and model facts.
pub struct Emit<'f> {
    /// The builder, positioned in the step function.
    pub b: FunctionBuilder<'f>,
    pub(super) t: Value,
    pub(super) dt: Value,
    pub(super) y: Value,
    pub(super) p: Value,
    pub(super) ring: Value,
    pub(super) head: Value,
    pub(super) layout: crate::workspace::Layout,
    /// The workspace buffers' parameters, in [`crate::workspace::Layout::buffers`] order.
    pub(super) work: Vec<Value>,
    pub(super) sc: Value,
    pub(super) cfg: Value,
    pub(super) y_prop: Value,
    pub(super) out: Value,
    /// The solver statistics counters (`abi::STAT_*`).
    pub(super) stats: Value,
    pub(super) rhs: FuncId,
    pub(super) rhs_sig: Signature,
    /// The model's Jacobian, `jacobian(t, y, p, jac, ring, head)`: declared, or derived
    /// from the right-hand side when it declares none and a stepper asked for it.
    pub(super) jacobian: Option<FuncId>,
    /// True when `jacobian` is the model's declared one (the reference's `external`).
    pub(super) jacobian_declared: bool,
    pub(super) elem: Elem,
    pub(super) n: usize,
    /// Set when emitting a tangent step: every state-vector operation is repeated on the
    /// vectors' twins.
    pub(super) tangent: Option<Tangent>,
}

impl Emit<'_> {
    /// The workspace buffer called `name` (a vector, matrix or index vector of the
    /// stepper's layout). Emitters name their buffers, so the layout alone says where each
    /// one is.
    pub(super) fn buf(&self, name: &str) -> Value {
        let b = self
            .layout
            .find(name)
            .unwrap_or_else(|| panic!("the stepper's layout has no buffer '{name}'"));
        let k = self
            .layout
            .buffers()
            .position(|c| c == b)
            .expect("a buffer of the layout");
        self.work[k]
    }

    /// The buffers called `names`, in that order.
    pub(super) fn bufs<const N: usize>(&self, names: [&str; N]) -> [Value; N] {
        names.map(|n| self.buf(n))
    }

    /// The index in `sc` of scalar slot `name`.
    pub(super) fn slot(&self, name: &str) -> usize {
        self.layout
            .scalar(name)
            .unwrap_or_else(|| panic!("the stepper's layout has no scalar slot '{name}'"))
    }

    pub(super) fn idx(&mut self, i: usize) -> Value {
        self.b.i64(i as i64)
    }

    /// `arr[i]` as f64 (the reference computes stage arithmetic in float64).
    pub(super) fn get(&mut self, arr: Value, i: impl Index) -> Value {
        load_f64(&mut self.b, arr, i)
    }

    /// `c_0 * a_0[i] + c_1 * a_1[i] + ...`, each product `(c * a[i])` and the sum folded
    /// left to right from the first term, as the reference's expressions evaluate.
    pub(super) fn lin_comb(&mut self, i: impl Index, terms: &[(f64, Value)]) -> Value {
        let i = i.value(&mut self.b);
        let mut sum: Option<Value> = None;
        for &(c, arr) in terms {
            let c = self.c(c);
            let x = self.get(arr, i);
            let term = self.b.mul(c, x);
            sum = Some(match sum {
                None => term,
                Some(acc) => self.b.add(acc, term),
            });
        }
        sum.expect("a linear combination has terms")
    }

    /// `arr[i] = x` (x is f64, stored in the dtype).
    pub(super) fn set(&mut self, arr: Value, i: impl Index, x: Value) {
        store_f64(&mut self.b, arr, i, x, self.elem.ty());
    }

    /// [`each_index`] over the states.
    pub(super) fn each_state(
        &mut self,
        carried: &[Value],
        body: impl FnMut(&mut Self, Value, &[Value]) -> Vec<Value>,
    ) -> Vec<Value> {
        let n = self.n;
        each_index(self, n, carried, body)
    }

    /// [`Emit::each_state`] with nothing carried.
    pub(super) fn for_states(&mut self, body: impl FnMut(&mut Self, Value)) {
        let n = self.n;
        for_each_index(self, n, body);
    }

    /// True unless this is a frozen tangent step (which leaves the state alone).
    fn steps_state(&self) -> bool {
        self.tangent
            .as_ref()
            .is_none_or(|t| t.mode == TangentMode::Combined)
    }

    /// The tangent twin of state vector `buf` (`y`, `y_prop` or a workspace vector).
    fn twin(&self, buf: Value) -> Value {
        let t = self.tangent.as_ref().expect("a tangent step");
        if buf == self.y {
            return t.v;
        }
        if buf == self.y_prop {
            return t.v_prop;
        }
        let k = self.work[..t.twins.len()]
            .iter()
            .position(|&w| w == buf)
            .expect("a state vector of the stepper has a twin");
        t.twins[k]
    }

    /// Calls the model's `rhs` (and in a tangent step the JVP on the twins: at the same
    /// stage, or frozen at the step's start); an arithmetic fault in either ends the step at
    /// once with status `FAULT + mask` (nothing is accepted).
    pub(super) fn call_rhs(&mut self, t: Value, y: Value, out: Value) {
        if self.steps_state() {
            let cx = self.ctx();
            cx.rhs(&mut self.b, t, y, out);
        }
        if let Some(tg) = &self.tangent {
            let (tj, yj) = match tg.mode {
                TangentMode::Combined => (t, y),
                TangentMode::Frozen => (self.t, self.y),
            };
            let (jvp, sig) = (tg.jvp, tg.jvp_sig.clone());
            let args = [
                tj,
                yj,
                self.p,
                self.twin(y),
                self.twin(out),
                self.ring,
                self.head,
            ];
            let mask = self.b.call(jvp, &sig, &args)[0];
            self.fault_exit(mask);
        }
    }

    fn fault_exit(&mut self, mask: Value) {
        return_on_fault(&mut self.b, mask);
    }

    pub(super) fn c(&mut self, x: f64) -> Value {
        self.b.f64(x)
    }

    /// `out = [t + h, dt_next, err]`, then return `OK`.
    pub(super) fn accept(&mut self, t_prop: Value, dt_next: Value, err: Value) {
        for (i, v) in [t_prop, dt_next, err].into_iter().enumerate() {
            let idx = self.idx(i);
            self.b.store(self.out, idx, v);
        }
        let ok = self.b.i32(status::OK);
        self.b.ret(&[ok]);
    }

    pub(super) fn accept_fixed(&mut self) {
        if !self.steps_state() {
            let ok = self.b.i32(status::OK);
            self.b.ret(&[ok]);
            return;
        }
        let t_prop = self.b.add(self.t, self.dt);
        let zero = self.c(0.0);
        self.accept(t_prop, self.dt, zero);
    }

    /// `dst[i] = y[i] + scale * src[i]` for every state (and on the twins in a tangent
    /// step); `scale` is computed by the caller in the reference's order.
    pub(super) fn axpy(&mut self, dst: Value, scale: Value, src: Value) {
        self.combine(dst, scale, &[(1.0, src)]);
    }

    /// `dst[i] = y[i] + scale * (w_0 * a_0[i] + w_1 * a_1[i] + ...)` for every state (and
    /// on the twins in a tangent step): the terms loaded in order, weights of 1 not
    /// multiplied, the sum folded left to right, as the reference's expressions evaluate.
    pub(super) fn combine(&mut self, dst: Value, scale: Value, terms: &[(f64, Value)]) {
        let weights: Vec<Option<Value>> = terms
            .iter()
            .map(|&(w, _)| (w != 1.0).then(|| self.c(w)))
            .collect();
        let mut passes = Vec::new();
        if self.steps_state() {
            passes.push((dst, self.y, terms.to_vec()));
        }
        if self.tangent.is_some() {
            let twins = terms.iter().map(|&(w, a)| (w, self.twin(a))).collect();
            passes.push((self.twin(dst), self.twin(self.y), twins));
        }
        for (dst, base, terms) in passes {
            self.for_states(|e, i| {
                // A single term loads `y[i]` first (the order of loads never changes a
                // value; this is the order the plain steppers have always emitted).
                let early = (terms.len() == 1).then(|| e.get(base, i));
                let xs: Vec<Value> = terms.iter().map(|&(_, a)| e.get(a, i)).collect();
                let weighted: Vec<Value> = xs
                    .into_iter()
                    .zip(&weights)
                    .map(|(x, w)| match w {
                        Some(w) => e.b.mul(*w, x),
                        None => x,
                    })
                    .collect();
                let mut sum: Option<Value> = None;
                for x in weighted {
                    sum = Some(match sum {
                        None => x,
                        Some(acc) => e.b.add(acc, x),
                    });
                }
                let sum = sum.expect("a combination has terms");
                let term = e.b.mul(scale, sum);
                let yi = early.unwrap_or_else(|| e.get(base, i));
                let r = e.b.add(yi, term);
                e.set(dst, i, r);
            });
        }
    }

    pub(super) fn copy(&mut self, dst: Value, src: Value) {
        self.for_states(|e, i| {
            let raw = e.b.load(src, i);
            e.b.store(dst, i, raw);
        });
    }

    /// True when every element of `arr` is finite (`|x| < inf`, false for NaN).
    pub(super) fn all_finite(&mut self, arr: Value) -> Value {
        let inf = self.c(f64::INFINITY);
        let yes = self.b.bool(true);
        self.each_state(&[yes], |e, i, acc| {
            let x = e.get(arr, i);
            let ok = finite(&mut e.b, x, inf);
            vec![e.b.binary(BinaryOp::And, acc[0], ok)]
        })[0]
    }

    pub(super) fn cfg(&mut self, i: usize) -> Value {
        let idx = self.idx(i);
        self.b.load(self.cfg, idx)
    }
}

/// numpy's pairwise sum (its `pairwise_sum`: a plain sum below 8 items, 8 partial sums up
/// to 128, halves above) of `elem(i)` for `i` in `0..n`, so a mean matches numpy to the
/// bit. Each element is emitted where it is added: unrolled up to [`UNROLL_STATES`], and
/// above it each block of 16 to 128 items as a loop carrying its 8 partial sums, so the code
/// grows with the number of blocks (n / 64 or fewer) rather than with `n`. The additions
/// are the same, in the same order, either way.
pub(crate) fn numpy_sum_each<'f, C: Builds<'f>>(
    cx: &mut C,
    n: usize,
    elem: &mut dyn FnMut(&mut C, Value) -> Value,
) -> Value {
    let (limit, _) = UNROLL.with(|l| l.get());
    pairwise(cx, 0, n, n > limit, elem)
}

/// `elem` at the constant index `k`.
fn elem_at<'f, C: Builds<'f>>(
    cx: &mut C,
    k: usize,
    elem: &mut dyn FnMut(&mut C, Value) -> Value,
) -> Value {
    let i = cx.builder().i64(k as i64);
    elem(cx, i)
}

/// numpy's recursion over items `o..o + n`; `looped`: its blocks' chunks of 8 as a loop.
fn pairwise<'f, C: Builds<'f>>(
    cx: &mut C,
    o: usize,
    n: usize,
    looped: bool,
    elem: &mut dyn FnMut(&mut C, Value) -> Value,
) -> Value {
    if n > 128 {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let a = pairwise(cx, o, n2, looped, elem);
        let c = pairwise(cx, o + n2, n - n2, looped, elem);
        return cx.builder().add(a, c);
    }
    if n < 8 {
        let mut acc = cx.builder().f64(0.0);
        for k in o..o + n {
            let x = elem_at(cx, k, elem);
            acc = cx.builder().add(acc, x);
        }
        return acc;
    }
    let mut r: Vec<Value> = (o..o + 8).map(|k| elem_at(cx, k, elem)).collect();
    let chunks = n / 8;
    if looped && chunks > 1 {
        let fb = cx.builder();
        let (one, end) = (fb.i64(1), fb.i64(chunks as i64));
        let head = fb.loop_start(one, end, &r);
        let (eight, off) = (fb.i64(8), fb.i64(o as i64));
        let scaled = fb.mul(head.counter, eight);
        let base = fb.add(scaled, off);
        let mut next = head.carried.clone();
        for (j, acc) in next.iter_mut().enumerate() {
            let i = offset(cx.builder(), base, j);
            let x = elem(cx, i);
            *acc = cx.builder().add(*acc, x);
        }
        r = cx.builder().loop_finish(head, &next);
    } else {
        for c in 1..chunks {
            for (j, acc) in r.iter_mut().enumerate() {
                let x = elem_at(cx, o + 8 * c + j, elem);
                *acc = cx.builder().add(*acc, x);
            }
        }
    }
    let b = cx.builder();
    let a = b.add(r[0], r[1]);
    let c = b.add(r[2], r[3]);
    let l = b.add(a, c);
    let a = b.add(r[4], r[5]);
    let c = b.add(r[6], r[7]);
    let rr = b.add(a, c);
    let mut res = b.add(l, rr);
    for k in o + 8 * chunks..o + n {
        let x = elem_at(cx, k, elem);
        res = cx.builder().add(res, x);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numpy_sum_each` over an f64 array of `n`, interpreted.
    fn emitted_sum(xs: &[f64]) -> f64 {
        let mut f = Function::new(
            "sum",
            Signature {
                params: vec![Type::Ptr(Elem::F64)],
                returns: vec![Type::F64],
            },
        );
        {
            let mut b = FunctionBuilder::new(&mut f);
            let arr = b.param(0);
            let s = numpy_sum_each(&mut b, xs.len(), &mut |b, i| load_f64(b, arr, i));
            b.ret(&[s]);
        }
        let mut p = Program::new();
        let id = p.add(f);
        dynlib_ir::verify_program(&p).unwrap();
        let interp = dynlib_interp::Interpreter::new(&p).unwrap();
        let mut data = xs.to_vec();
        let mut out = [Scalar::F64(0.0)];
        interp
            .call_into(
                &mut dynlib_interp::Machine::new(),
                id,
                &mut [Arg::PtrF64(&mut data)],
                &mut out,
            )
            .unwrap();
        match out[0] {
            Scalar::F64(x) => x,
            other => panic!("{other:?}"),
        }
    }

    /// The emitted sum, unrolled and with its blocks as loops, is numpy's pairwise sum to
    /// the bit (the sweep statistics' Rust version), at every size where numpy's recursion
    /// changes shape: below 8, one block with and without a remainder, split halves with
    /// remainders.
    #[test]
    fn emitted_pairwise_sums_are_numpys() {
        for n in [
            0usize, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 137, 203, 300, 1000,
        ] {
            // Magnitudes spread over 30 decades and both signs, so any other order of
            // additions would round differently.
            let xs: Vec<f64> = (0..n as i32)
                .map(|i| {
                    let k = i * 7919 % 61 - 30;
                    let sign = if i % 3 == 0 { -1.0 } else { 1.0 };
                    sign * (1.0 + f64::from(i) * 0.123) * 10f64.powi(k)
                })
                .collect();
            let want = crate::sweep::numpy_sum(&xs).to_bits();
            let unrolled = with_unrolling(usize::MAX, 1, || emitted_sum(&xs));
            let looped = with_unrolling(0, 1, || emitted_sum(&xs));
            assert_eq!(unrolled.to_bits(), want, "n = {n}, unrolled");
            assert_eq!(looped.to_bits(), want, "n = {n}, looped");
        }
    }
}
