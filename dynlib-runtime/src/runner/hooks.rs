//! The analysis phases: the observers' pre- and post-step hooks, the combined tangent
//! step in place of the stepper, and the trace's room check (runtime.md §3.5, §4.1).
//! Every phase is a no-op in a runner without observers.

use dynlib_ir::*;

use super::{Carried, Runner};
use crate::abi::*;
use crate::observer::{Hook, TangentCall};
use crate::stepper::TangentMode;

impl<'f> Runner<'f, '_> {
    /// The combined state-and-tangent step and its vectors after the step arguments
    /// (`v`, `v_prop`, the twins), when an observer needs it.
    pub(super) fn combined_step(&self) -> Option<(FuncId, Vec<Value>)> {
        let a = self.analysis.as_ref()?;
        let func = a.observed.combined?;
        let (v, v_prop) = a.combined_vectors?;
        let mut vectors = vec![self.analysis_vector(v), self.analysis_vector(v_prop)];
        vectors.extend(a.twins.clone().map(|k| self.analysis_vector(k)));
        Some((func, vectors))
    }

    fn analysis_vector(&self, k: usize) -> Value {
        self.prm(RunnerParam::Analysis(k))
    }

    /// Before any work of the iteration: a trace row due at `next_step` fits, else
    /// GROW_TRACE with nothing done.
    pub(super) fn trace_check(&mut self, cur: &Carried, next_step: Value) {
        let Some(a) = &self.analysis else { return };
        if a.layout.total_traces == 0 {
            return;
        }
        let stride = a.stride;
        let due = self.trace_due(stride, next_step);
        let count = self.iget(ICTL_TRACE);
        let cap = self.iget(ICTL_TRACE_CAP);
        let full = self.b.cmp(CmpOp::Ge, count, cap);
        let blocked = self.b.binary(BinaryOp::And, due, full);
        self.exit_if(blocked, status::GROW_TRACE, cur);
    }

    /// `stride > 0 && step % stride == 0`.
    fn trace_due(&mut self, stride: Value, step: Value) -> Value {
        let on = self.b.cmp(CmpOp::Gt, stride, self.ctl.zero_i);
        self.due(on, stride, step)
    }

    /// A hook context for module `k` at (t, dt, step) on state `y`; `due` says whether a
    /// trace row is due.
    fn hook(
        &mut self,
        k: usize,
        at: (Value, Value, Value),
        due: Value,
        c: &Carried,
    ) -> Hook<'_, 'f> {
        use RunnerParam as R;
        let a = self
            .analysis
            .as_ref()
            .expect("hooks run in analysis runners");
        let module = &a.observed.observers.modules()[k];
        let first = a.layout.vectors[k];
        let vectors: Vec<Value> = (first..first + module.vectors(self.facts.n))
            .map(|v| self.prm(R::Analysis(v)))
            .collect();
        let tangent_mode = a.observed.modes[k];
        let tangent = a
            .observed
            .frozen
            .filter(|_| tangent_mode == Some(TangentMode::Frozen))
            .map(|func| {
                let before = match a.own_scheme {
                    true => {
                        vec![
                            at.0,
                            at.1,
                            self.prm(R::Y),
                            self.prm(R::P),
                            self.prm(R::Ring),
                            self.prm(R::Head),
                            at.2,
                        ]
                    }
                    false => self.step_args(at.0, at.1),
                };
                let per = a.per_vector;
                let history = (first..first + module.vectors(self.facts.n))
                    .map(|v| {
                        let h0 = a.history.start + v * per;
                        (h0..h0 + per).map(|h| self.prm(R::Analysis(h))).collect()
                    })
                    .collect();
                TangentCall {
                    func,
                    sig: self.tangent_sig.clone(),
                    before,
                    scratch: a.twins.clone().map(|v| self.prm(R::Analysis(v))).collect(),
                    history,
                }
            });
        let (out_base, trace_base, width) = (
            a.layout.outputs[k],
            a.layout.traces[k],
            a.layout.trace_width(),
        );
        let (out_len, trace_len) = (module.outputs().len(), module.traces().len());
        let kind = a.kind;
        let trace_row = {
            let ictl = self.prm(R::Ictl);
            let s = self.b.i64(ICTL_TRACE);
            self.b.load(ictl, s)
        };
        Hook {
            t: at.0,
            dt: at.1,
            step: at.2,
            y: self.prm(R::Y),
            p: self.prm(R::P),
            ring: self.prm(R::Ring),
            head: self.prm(R::Head),
            vectors,
            aout: self.prm(R::AnalysisOut),
            out_base,
            out_len,
            trace_len,
            trace: self.prm(R::Trace),
            trace_row,
            trace_width: width,
            trace_base,
            trace_due: due,
            n: self.facts.n,
            elem: self.facts.elem,
            kind,
            jvp: self.mf.jvp,
            tangent_mode,
            tangent,
            fault_exit: (self.exit, c.args().to_vec()),
            b: &mut self.b,
        }
    }

    fn modules(&self) -> usize {
        self.analysis
            .as_ref()
            .map_or(0, |a| a.observed.observers.modules().len())
    }

    /// Every module's pre-step hook at (t, unclipped dt, steps before the step).
    pub(super) fn pre_hooks(&mut self, cur: &Carried) {
        for k in 0..self.modules() {
            let no = self.b.bool(false);
            let module = self.analysis.as_ref().unwrap().observed.observers.modules()[k].clone();
            let mut h = self.hook(k, (cur.t, cur.dt, cur.step), no, cur);
            module.emit_pre(&mut h);
        }
    }

    /// Emits `body` under `cond` with the current trace row: `body(b, row, at)` gets the
    /// row index (`ICTL_TRACE`) and the index of its first value in the trace buffer.
    fn in_trace_row(&mut self, cond: Value, body: impl FnOnce(&mut FunctionBuilder, Value, Value)) {
        let width = self
            .analysis
            .as_ref()
            .expect("analysis runner")
            .layout
            .trace_width();
        let ictl = self.prm(RunnerParam::Ictl);
        let b = &mut self.b;
        let yes = b.create_block();
        let join = b.create_block();
        b.brif(cond, yes, &[], join, &[]);
        b.switch_to(yes);
        let s = b.i64(ICTL_TRACE);
        let row = b.load(ictl, s);
        let w = b.i64(width as i64);
        let at = b.mul(row, w);
        body(b, row, at);
        b.jump(join, &[]);
        b.switch_to(join);
    }

    /// Every module's post-step hook at (time of the committed state, the step taken,
    /// steps after it); then the trace row's time and step, and the row count, when a
    /// module wrote the row. On a trace step the row's columns start as NaN, so a module
    /// that does not write its columns of a row another module writes leaves NaN there,
    /// not a number that looks real (room was made for the row on due steps).
    pub(super) fn post_hooks(&mut self, t_new: Value, dt: Value, committed: &Carried) {
        let Some(a) = self.analysis.as_ref() else {
            return;
        };
        let (stride, traced, width) = (a.stride, a.layout.total_traces > 0, a.layout.trace_width());
        let due = self.trace_due(stride, committed.step);
        let trace = self.prm(RunnerParam::Trace);
        if traced {
            self.in_trace_row(due, |b, _, at| {
                let nan = b.f64(f64::NAN);
                for c in 2..width {
                    let cc = b.i64(c as i64);
                    let i = b.add(at, cc);
                    b.store(trace, i, nan);
                }
            });
        }
        let mut wrote = self.b.bool(false);
        for k in 0..self.modules() {
            let module = self.analysis.as_ref().unwrap().observed.observers.modules()[k].clone();
            let mut h = self.hook(k, (t_new, dt, committed.step), due, committed);
            if let Some(w) = module.emit_post(&mut h) {
                wrote = self.b.binary(BinaryOp::Or, wrote, w);
            }
        }
        if !traced {
            return;
        }
        // Rows only on due steps, whatever a hook reports: the room for them is made for
        // due steps (`trace_check`, and the fast path's `fast_room`).
        let wrote = self.b.binary(BinaryOp::And, wrote, due);
        let ictl = self.prm(RunnerParam::Ictl);
        let step = committed.step;
        self.in_trace_row(wrote, |b, row, at| {
            b.store(trace, at, t_new);
            let one = b.i64(1);
            let at1 = b.add(at, one);
            let step = b.convert(step, Type::F64);
            b.store(trace, at1, step);
            let next = b.add(row, one);
            let s = b.i64(ICTL_TRACE);
            b.store(ictl, s, next);
        });
    }
}
