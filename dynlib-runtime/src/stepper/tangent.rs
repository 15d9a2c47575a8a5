//! Tangent-only schemes of their own ([`super::Tangents::Own`]): the emission context of
//! the function a stepper such as `ab2` advances a tangent vector with, when its state
//! emitter cannot simply be twinned (runtime.md §2.7).
//!
//! The function is `(t, dt, y, p, ring, head, step, v, v_prop, history.., scratch..)`:
//! it writes `v_prop`, `v` advanced over the step with the Jacobian frozen at `(t, y)`,
//! and keeps the scheme's history for `v` (its `J·v` of earlier steps) in `history`.
//! `step` counts the observed run's steps before this one, so a history starts afresh
//! with every observed run, whatever the state's stepper carried over from a transient
//! (the reference keeps its own step index in the observer's workspace, zero at the run's
//! start; the two agree for a vector advanced on every step from the first).

use dynlib_ir::lower::{jvp_signature, ModelFunctions};
use dynlib_ir::*;

use super::emit::{for_each_index, load_f64, return_on_fault, store_f64, Builds, Index};
use super::{StepperSpec, TangentScheme};
use crate::abi::status;

/// The emission context of a tangent-only step.
pub struct TangentEmit<'f> {
    /// The builder, positioned in the function.
    pub b: FunctionBuilder<'f>,
    /// The step's start time.
    pub t: Value,
    /// The step, unclipped (the observers' pre hook's; runtime.md R9).
    pub dt: Value,
    /// The observed run's steps before this one (i64).
    pub step: Value,
    /// The tangent vector at the step's start.
    pub v: Value,
    /// The tangent vector after the step (written).
    pub v_prop: Value,
    y: Value,
    p: Value,
    ring: Value,
    head: Value,
    scheme: TangentScheme,
    history: Vec<Value>,
    scratch: Vec<Value>,
    jvp: FuncId,
    elem: Elem,
    n: usize,
}

/// Emits `scheme`'s function for a model with `n` states and Jacobian-vector product `jvp`.
pub(super) fn emit_own(
    stepper: &StepperSpec,
    scheme: TangentScheme,
    mf: &ModelFunctions,
    n: usize,
    jvp: FuncId,
) -> Function {
    let mut f = Function::new(
        stepper.ir_name("tangent_only"),
        stepper.tangent_signature(mf.elem),
    );
    {
        let b = FunctionBuilder::new(&mut f);
        let (h, s) = (scheme.history.len(), scheme.scratch.len());
        let prm = |i: usize| b.param(i);
        let mut e = TangentEmit {
            t: prm(0),
            dt: prm(1),
            y: prm(2),
            p: prm(3),
            ring: prm(4),
            head: prm(5),
            step: prm(6),
            v: prm(7),
            v_prop: prm(8),
            history: (9..9 + h).map(prm).collect(),
            scratch: (9 + h..9 + h + s).map(prm).collect(),
            b,
            scheme,
            jvp,
            elem: mf.elem,
            n,
        };
        (scheme.emit)(&mut e);
    }
    f
}

impl<'f> Builds<'f> for TangentEmit<'f> {
    fn builder(&mut self) -> &mut FunctionBuilder<'f> {
        &mut self.b
    }
}

impl TangentEmit<'_> {
    /// The number of states.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The history or scratch vector called `name`.
    pub fn buf(&self, name: &str) -> Value {
        let s = &self.scheme;
        if let Some(k) = s.history.iter().position(|&x| x == name) {
            return self.history[k];
        }
        let k = s
            .scratch
            .iter()
            .position(|&x| x == name)
            .unwrap_or_else(|| panic!("the tangent scheme has no vector '{name}'"));
        self.scratch[k]
    }

    /// The vectors called `names`, in that order.
    pub fn bufs<const N: usize>(&self, names: [&str; N]) -> [Value; N] {
        names.map(|n| self.buf(n))
    }

    /// `out = J(t, y) · x`, the Jacobian frozen at the step's start; a fault returns
    /// `FAULT + mask` at once.
    pub fn jvp(&mut self, x: Value, out: Value) {
        let args = [self.t, self.y, self.p, x, out, self.ring, self.head];
        let mask = self.b.call(self.jvp, &jvp_signature(self.elem), &args)[0];
        return_on_fault(&mut self.b, mask);
    }

    /// `arr[i]` as f64.
    pub fn get(&mut self, arr: Value, i: impl Index) -> Value {
        load_f64(&mut self.b, arr, i)
    }

    /// `arr[i] = x` (x f64, stored in the dtype).
    pub fn set(&mut self, arr: Value, i: impl Index, x: Value) {
        store_f64(&mut self.b, arr, i, x, self.elem.ty());
    }

    /// `body(i)` for every state `i`, unrolled or as a loop ([`each_index`]).
    pub(crate) fn for_states(&mut self, body: impl FnMut(&mut Self, Value)) {
        let n = self.n;
        for_each_index(self, n, body);
    }

    /// `dst[i] = src[i]` for every state.
    pub fn copy(&mut self, dst: Value, src: Value) {
        self.for_states(|e, i| {
            let raw = e.b.load(src, i);
            e.b.store(dst, i, raw);
        });
    }

    /// `step == k`.
    pub fn step_is(&mut self, k: i64) -> Value {
        let k = self.b.i64(k);
        self.b.cmp(CmpOp::Eq, self.step, k)
    }

    /// Returns `OK`.
    pub fn done(&mut self) {
        let ok = self.b.i32(status::OK);
        self.b.ret(&[ok]);
    }
}
