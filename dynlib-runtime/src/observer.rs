//! Observers: analyses compiled into the runner loop (runtime.md §4).
//!
//! An observer is an IR emitter behind the [`Observer`] trait: it declares what it needs
//! (the model's Jacobian-vector product, a fixed step, a tangent step of the stepper), how
//! many state-sized vectors, outputs and trace columns it keeps, and emits a pre-step and a
//! post-step hook into the analysis runner at the reference's positions (pre: after the
//! start-phase events, before the step is clipped, with the unclipped step; post: after the
//! commit, the aux update and the lag push, with the clipped step and the committed step
//! number). Because hooks are IR in the runner, they run on either backend, inline, and a
//! runner compiled with one observer configuration is its own cached unit (the
//! configuration's [`Observers::signature`] enters its key). A user-defined observer
//! implements the trait; [`LyapunovMle`] and [`LyapunovSpectrum`] are the built-in ones,
//! and [`Observers`] combines several (runtime.md §4.1 `CombinedObserver`).
//!
//! Decisions that differ from the reference: observers' vectors are initialised before the
//! run (not by a step-0 branch of the pre hook), their outputs and arithmetic are float64
//! whatever the model dtype, a full trace buffer grows like the record buffer (no
//! `TRACE_OVERFLOW`, no lost rows), each trace row carries its time and step, and the
//! maximum exponent reported is `log_growth / denom` (analysis.md A6: the reference
//! reports the last trace value, which differs when the run does not end on a trace step).

use std::sync::Arc;

use dynlib_ir::lower::jvp_signature;
use dynlib_ir::*;
use dynlib_model::ModelKind;

use crate::abi::status;
use crate::stepper::emit::Index;
use crate::stepper::TangentMode;

/// What an observer needs from the model, the stepper and the runner.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The model's Jacobian-vector product (`[equations.jacobian]`, or derived from the
    /// right-hand side when the model declares none).
    pub jvp: bool,
    /// A fixed-step stepper.
    pub fixed_step: bool,
    /// A tangent step of the stepper (see [`TangentNeed`]; [`Hook::tangent_mode`] says
    /// which mode the observer got).
    pub tangent: Option<TangentNeed>,
}

/// The tangent step an observer asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TangentNeed {
    /// The runner advances the state and the observer's vectors 0 (`v`) and 1 (`v_prop`)
    /// together, instead of calling the stepper ([`TangentMode::Combined`]).
    Combined,
    /// The hooks call [`Hook::tangent_step`] ([`TangentMode::Frozen`]).
    Frozen,
    /// `Combined` where the stepper has it and no other observer takes it, else `Frozen`
    /// (the reference's maximum exponent: the Adams–Bashforth steppers advance a tangent
    /// alone only); the observer's hooks ask [`Hook::tangent_mode`] which.
    CombinedOrFrozen,
}

/// An analysis compiled into the runner. `kind` is the model's kind (flows and maps are
/// observed differently); `n` its number of states.
///
/// # Safety
///
/// The hooks become native code that indexes its buffers without bounds checks. An
/// implementation must touch only its own vectors (indices below `n`), outputs (below
/// `outputs().len()`) and trace columns (below `traces().len()`, and only on a step where
/// [`Hook::trace_due`] holds), through the [`Hook`]'s methods; anything it emits directly
/// with [`Hook::builder`] must stay within the same bounds. `Hook`'s methods check their
/// indices as the code is emitted (a panic at build time, never a wild write).
pub unsafe trait Observer: Send + Sync + std::fmt::Debug {
    /// A short unique name (`lyapunov_mle`): the key of its results.
    fn key(&self) -> &str;
    /// Everything that shapes the code it emits, for the unit key (its key and settings).
    fn signature(&self) -> String;
    /// What it needs.
    fn requirements(&self, kind: ModelKind) -> Requirements;
    /// How many state-sized vectors (model dtype) it keeps between steps.
    fn vectors(&self, n: usize) -> usize;
    /// The names of its outputs (float64 values it accumulates).
    fn outputs(&self) -> Vec<String>;
    /// The names of its trace columns (empty: no trace).
    fn traces(&self) -> Vec<String>;
    /// Checks its settings against a model of `n` states.
    fn check(&self, n: usize) -> Result<(), String> {
        let _ = n;
        Ok(())
    }
    /// The vectors' values before the run (`vectors[k]` has `n` zeros) and the outputs';
    /// `tangent` is the tangent mode the observer got (`None`: none asked for, or a map).
    fn initialise(
        &self,
        kind: ModelKind,
        tangent: Option<TangentMode>,
        vectors: &mut [Vec<f64>],
        outputs: &mut [f64],
    );
    /// Emits the pre-step hook.
    fn emit_pre(&self, h: &mut Hook<'_, '_>);
    /// Emits the post-step hook; returns a bool value that is true when the hook wrote its
    /// trace columns of this step's row (`None`: it never traces).
    fn emit_post(&self, h: &mut Hook<'_, '_>) -> Option<Value>;
}

/// Observers compiled together into one runner, in order: their vectors, outputs and
/// trace columns are concatenated, and all modules tracing in one step share its row.
#[derive(Clone, Debug)]
pub struct Observers {
    modules: Vec<Arc<dyn Observer>>,
}

impl Observers {
    /// Combines `modules`: their keys must be unique and at most one may make the runner
    /// advance a tangent with the state.
    pub fn new(modules: Vec<Arc<dyn Observer>>) -> Result<Observers, String> {
        if modules.is_empty() {
            return Err("no observer given".into());
        }
        let mut keys = std::collections::HashSet::new();
        for m in &modules {
            if !keys.insert(m.key().to_string()) {
                return Err(format!("the observer '{}' is given twice", m.key()));
            }
        }
        Ok(Observers { modules })
    }

    /// One observer.
    pub fn one(module: impl Observer + 'static) -> Observers {
        Observers {
            modules: vec![Arc::new(module)],
        }
    }

    /// The modules, in order.
    pub fn modules(&self) -> &[Arc<dyn Observer>] {
        &self.modules
    }

    /// What shapes the analysis runner's code: each module's signature, in order.
    pub fn signature(&self) -> String {
        self.modules
            .iter()
            .map(|m| m.signature())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The tangent mode each module gets from a stepper that has the modes `available`
    /// (in module order; `None` where a module asks for none). The runner's combined step
    /// carries one tangent: a module that insists on it takes it, else the first that
    /// would take either; the others that would take either get the frozen step. An error
    /// when two insist, or a module asks for a mode the stepper lacks.
    pub fn grant(
        &self,
        kind: ModelKind,
        available: &[TangentMode],
    ) -> Result<Vec<Option<TangentMode>>, String> {
        let has = |m: TangentMode| available.contains(&m);
        let needs: Vec<Option<TangentNeed>> = self
            .modules
            .iter()
            .map(|m| m.requirements(kind).tangent)
            .collect();
        let insisting = needs
            .iter()
            .filter(|&&n| n == Some(TangentNeed::Combined))
            .count();
        let mut combined_taken = false;
        let mut modes = Vec::new();
        for (m, need) in self.modules.iter().zip(needs) {
            let lacks = |mode: &str| format!("'{}' needs the {mode} tangent step", m.key());
            let mode = match need {
                None => None,
                Some(TangentNeed::Combined) if combined_taken => {
                    return Err(format!(
                        "at most one observer may advance a tangent with the state; '{}' is \
                         the second",
                        m.key()
                    ))
                }
                Some(TangentNeed::Combined) if has(TangentMode::Combined) => {
                    combined_taken = true;
                    Some(TangentMode::Combined)
                }
                Some(TangentNeed::Combined) => return Err(lacks("combined")),
                Some(TangentNeed::Frozen) if has(TangentMode::Frozen) => Some(TangentMode::Frozen),
                Some(TangentNeed::Frozen) => return Err(lacks("frozen")),
                Some(TangentNeed::CombinedOrFrozen)
                    if insisting == 0 && !combined_taken && has(TangentMode::Combined) =>
                {
                    combined_taken = true;
                    Some(TangentMode::Combined)
                }
                Some(TangentNeed::CombinedOrFrozen) if has(TangentMode::Frozen) => {
                    Some(TangentMode::Frozen)
                }
                Some(TangentNeed::CombinedOrFrozen) => return Err(lacks("frozen")),
            };
            modes.push(mode);
        }
        Ok(modes)
    }

    /// Where each module's vectors, outputs and trace columns start, and the totals.
    pub fn layout(&self, n: usize) -> ObserverLayout {
        let mut l = ObserverLayout::default();
        for m in &self.modules {
            l.vectors.push(l.total_vectors);
            l.outputs.push(l.total_outputs);
            l.traces.push(l.total_traces);
            l.total_vectors += m.vectors(n);
            l.total_outputs += m.outputs().len();
            l.total_traces += m.traces().len();
        }
        l
    }
}

/// Offsets of each module's parts in the runner's observer buffers.
#[derive(Clone, Debug, Default)]
pub struct ObserverLayout {
    /// First vector of each module.
    pub vectors: Vec<usize>,
    /// First output of each module.
    pub outputs: Vec<usize>,
    /// First trace column of each module (after the row's time and step).
    pub traces: Vec<usize>,
    /// Vectors of all modules.
    pub total_vectors: usize,
    /// Outputs of all modules.
    pub total_outputs: usize,
    /// Trace columns of all modules.
    pub total_traces: usize,
}

impl ObserverLayout {
    /// The width of a trace row: time, step, then every module's columns.
    pub fn trace_width(&self) -> usize {
        2 + self.total_traces
    }
}

/// A call of the frozen tangent step: its arguments before `v`, `w`, the shared scratch
/// after them, then the history of the module's vector `v` (a scheme of its own).
#[derive(Clone)]
pub(crate) struct TangentCall {
    pub(crate) func: FuncId,
    pub(crate) sig: Signature,
    pub(crate) before: Vec<Value>,
    pub(crate) scratch: Vec<Value>,
    /// `history[k]`: the history vectors of the module's vector `k` (empty for twinned
    /// steppers).
    pub(crate) history: Vec<Vec<Value>>,
}

/// The emission context of one hook: the runner's builder, the step's values, the module's
/// vectors, outputs and trace columns. Arithmetic is float64.
pub struct Hook<'a, 'f> {
    pub(crate) b: &'a mut FunctionBuilder<'f>,
    pub(crate) t: Value,
    pub(crate) dt: Value,
    pub(crate) step: Value,
    pub(crate) y: Value,
    pub(crate) p: Value,
    pub(crate) ring: Value,
    pub(crate) head: Value,
    pub(crate) vectors: Vec<Value>,
    pub(crate) aout: Value,
    pub(crate) out_base: usize,
    /// The module's outputs and trace columns (what its indices are checked against).
    pub(crate) out_len: usize,
    pub(crate) trace_len: usize,
    pub(crate) trace: Value,
    pub(crate) trace_row: Value,
    pub(crate) trace_width: usize,
    pub(crate) trace_base: usize,
    pub(crate) trace_due: Value,
    pub(crate) n: usize,
    pub(crate) elem: Elem,
    pub(crate) kind: ModelKind,
    pub(crate) jvp: Option<FuncId>,
    /// The tangent mode the module got.
    pub(crate) tangent_mode: Option<TangentMode>,
    /// The frozen tangent step, when the module got it.
    pub(crate) tangent: Option<TangentCall>,
    /// Where a fault goes: the runner's exit and the arguments after the status.
    pub(crate) fault_exit: (Block, Vec<Value>),
}

impl<'f> crate::stepper::emit::Builds<'f> for Hook<'_, 'f> {
    fn builder(&mut self) -> &mut FunctionBuilder<'f> {
        self.b
    }
}

impl<'f> Hook<'_, 'f> {
    /// The builder, positioned in the hook.
    pub fn builder(&mut self) -> &mut FunctionBuilder<'f> {
        self.b
    }

    /// The time: the step's start (pre) or the committed state's (post).
    pub fn t(&self) -> Value {
        self.t
    }

    /// The step: unclipped (pre) or as taken (post).
    pub fn dt(&self) -> Value {
        self.dt
    }

    /// Steps taken: before the step (pre) or after it (post).
    pub fn step(&self) -> Value {
        self.step
    }

    /// The state pointer: before the step (pre) or the committed state (post).
    pub fn y(&self) -> Value {
        self.y
    }

    /// The number of states.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Whether the model is a flow or a map.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The module's vector `k` (a pointer to `n` model-dtype values).
    pub fn vector(&self, k: usize) -> Value {
        self.vectors[k]
    }

    /// `vec[i]` as f64 (`vec` one of the module's vectors or the state, `i < n`).
    pub fn get(&mut self, vec: Value, i: impl Index) -> Value {
        self.check_vector(vec, i);
        crate::stepper::emit::load_f64(self.b, vec, i)
    }

    /// `vec[i] = x` (f64, stored in the model dtype; `vec` one of the module's vectors).
    pub fn set(&mut self, vec: Value, i: impl Index, x: Value) {
        assert!(
            self.vectors.contains(&vec),
            "an observer writes only its own vectors"
        );
        self.check_vector(vec, i);
        crate::stepper::emit::store_f64(self.b, vec, i, x, self.elem.ty());
    }

    /// `vec` is the state or one of the module's vectors, and a constant `i` is below n
    /// (a loop's index is, by the loop).
    fn check_vector(&self, vec: Value, i: impl Index) {
        assert!(
            i.constant().is_none_or(|i| i < self.n)
                && (vec == self.y || self.vectors.contains(&vec)),
            "an observer reads its own vectors and the state, within the {} states",
            self.n
        );
    }

    /// `v` is read (one of the module's vectors or the state), `out` written (the
    /// module's).
    fn check_pair(&self, v: Value, out: Value) {
        assert!(
            (v == self.y || self.vectors.contains(&v)) && self.vectors.contains(&out),
            "an observer passes its own vectors (or the state, to read)"
        );
    }

    fn check_output(&self, k: usize) {
        assert!(
            k < self.out_len,
            "output {k} of an observer with {} outputs",
            self.out_len
        );
    }

    /// The module's output `k`.
    pub fn output(&mut self, k: usize) -> Value {
        self.check_output(k);
        let idx = self.b.i64((self.out_base + k) as i64);
        self.b.load(self.aout, idx)
    }

    /// Sets the module's output `k`.
    pub fn set_output(&mut self, k: usize, x: Value) {
        self.check_output(k);
        let idx = self.b.i64((self.out_base + k) as i64);
        self.b.store(self.aout, idx, x);
    }

    /// `output(k) += x`.
    pub fn add_output(&mut self, k: usize, x: Value) {
        let o = self.output(k);
        let s = self.b.add(o, x);
        self.set_output(k, s);
    }

    /// True when this step is a trace step (post hook: the committed step is a multiple
    /// of the trace stride).
    pub fn trace_due(&self) -> Value {
        self.trace_due
    }

    /// Writes the module's trace column `col` of this step's row, on a trace step only
    /// (the store is guarded by [`Hook::trace_due`]: the runner makes room for a row on due
    /// steps only); report the write from [`Observer::emit_post`].
    pub fn write_trace(&mut self, col: usize, x: Value) {
        assert!(
            col < self.trace_len,
            "trace column {col} of an observer with {} columns",
            self.trace_len
        );
        let due = self.trace_due;
        self.when(due, |h| {
            let w = h.b.i64(h.trace_width as i64);
            let row = h.b.mul(h.trace_row, w);
            let c = h.b.i64((2 + h.trace_base + col) as i64);
            let at = h.b.add(row, c);
            h.b.store(h.trace, at, x);
            h.b.bool(true)
        });
    }

    /// `out = J(t, y) · v` with the model's Jacobian (all pointers to `n` values); a fault
    /// ends the run with it.
    pub fn jvp(&mut self, t: Value, y: Value, v: Value, out: Value) {
        self.check_pair(v, out);
        assert!(
            y == self.y || self.vectors.contains(&y),
            "the JVP is taken at the state or at one of the observer's vectors"
        );
        let jvp = self
            .jvp
            .expect("an observer that needs the JVP declares it");
        let args = [t, y, self.p, v, out, self.ring, self.head];
        let mask = self.b.call(jvp, &jvp_signature(self.elem), &args)[0];
        self.check(mask, status::FAULT);
    }

    /// The tangent mode this observer got (`None`: it asked for none, or a map).
    pub fn tangent_mode(&self) -> Option<TangentMode> {
        self.tangent_mode
    }

    /// `w` = `v` advanced over this step by the stepper's scheme with the Jacobian frozen
    /// at the step's start (pre hook only, once per step for each `v`; needs the
    /// [`TangentMode::Frozen`] mode). `v` is one of the module's vectors: a multistep
    /// scheme (ab2, ab3) keeps its history of `J·v` for that vector from step to step,
    /// starting afresh with each observed run and counted by the run's steps, so a vector
    /// it advances must be advanced on every step from the first.
    pub fn tangent_step(&mut self, v: Value, w: Value) {
        self.check_pair(v, w);
        let call = self
            .tangent
            .clone()
            .expect("an observer that takes tangent steps requires them");
        let k = self
            .vectors
            .iter()
            .position(|&x| x == v)
            .expect("a tangent step advances one of the module's vectors");
        let mut args = call.before;
        args.extend([v, w]);
        args.extend(call.history.get(k).into_iter().flatten().copied());
        args.extend(call.scratch);
        let st = self.b.call(call.func, &call.sig, &args)[0];
        // The tangent step returns OK or FAULT + mask.
        let ok = self.b.i32(status::OK);
        let failed = self.b.cmp(CmpOp::Ne, st, ok);
        self.exit_if(failed, st);
    }

    /// Exits the run with `base + mask` when `mask` is not zero.
    fn check(&mut self, mask: Value, base: i32) {
        let zero = self.b.i32(0);
        let faulted = self.b.cmp(CmpOp::Ne, mask, zero);
        let b0 = self.b.i32(base);
        let code = self.b.add(b0, mask);
        self.exit_if(faulted, code);
    }

    fn exit_if(&mut self, cond: Value, code: Value) {
        let fail = self.b.create_block();
        let fine = self.b.create_block();
        self.b.brif(cond, fail, &[], fine, &[]);
        self.b.switch_to(fail);
        let mut a = vec![code];
        a.extend(self.fault_exit.1.iter().copied());
        self.b.jump(self.fault_exit.0, &a);
        self.b.switch_to(fine);
    }

    /// `sqrt(sum_i vec[i]^2)`, summed in order from 0.
    pub fn norm(&mut self, vec: Value) -> Value {
        let zero = self.b.f64(0.0);
        let acc = self.each_state(&[zero], |h, i, acc| {
            let x = h.get(vec, i);
            let sq = h.b.mul(x, x);
            vec![h.b.add(acc[0], sq)]
        })[0];
        self.b.math(MathFn::Sqrt, &[acc])
    }

    /// Runs `body` for every state index in order, threading `carried` through (the body
    /// returns the next values): unrolled for small models, an IR loop for large ones
    /// (the stepper emitters' rule, `stepper::emit::UNROLL_STATES`); the index is a value,
    /// so `get` and `set` take it directly.
    pub fn each_state(
        &mut self,
        carried: &[Value],
        body: impl FnMut(&mut Self, Value, &[Value]) -> Vec<Value>,
    ) -> Vec<Value> {
        let n = self.n;
        crate::stepper::emit::each_index(self, n, carried, body)
    }

    /// [`Hook::each_state`] with nothing carried.
    pub fn for_states(&mut self, mut body: impl FnMut(&mut Self, Value)) {
        self.each_state(&[], |h, i, _| {
            body(h, i);
            Vec::new()
        });
    }

    /// Emits `body` under `cond`; the value it returns (a bool) is the result when `cond`
    /// holds, else false.
    pub fn when(&mut self, cond: Value, body: impl FnOnce(&mut Self) -> Value) -> Value {
        let yes = self.b.create_block();
        let join = self.b.create_block();
        let out = self.b.block_param(join, Type::Bool);
        let no = self.b.bool(false);
        self.b.brif(cond, yes, &[], join, &[no]);
        self.b.switch_to(yes);
        let v = body(self);
        self.b.jump(join, &[v]);
        self.b.switch_to(join);
        out
    }

    /// What one step adds to an exponent's denominator: the step (flows) or 1 (maps).
    fn denominator_step(&mut self) -> Value {
        match self.kind {
            ModelKind::Ode => self.dt,
            ModelKind::Map => self.b.f64(1.0),
        }
    }

    /// `x / d`, with a denominator `<= 0` taken as 1 (as the reference's traces do).
    fn per(&mut self, x: Value, d: Value) -> Value {
        let zero = self.b.f64(0.0);
        let one = self.b.f64(1.0);
        let bad = self.b.cmp(CmpOp::Le, d, zero);
        let d = self.b.select(bad, one, d);
        self.b.div(x, d)
    }
}

/// The `variational_mode` output: 1 combined, 2 tangent-only, 0 maps.
fn variational_mode(kind: ModelKind, flow: Option<TangentMode>) -> f64 {
    match (kind, flow) {
        (ModelKind::Map, _) | (_, None) => 0.0,
        (ModelKind::Ode, Some(TangentMode::Combined)) => 1.0,
        (ModelKind::Ode, Some(TangentMode::Frozen)) => 2.0,
    }
}

/// The maximum Lyapunov exponent (runtime.md §4.2): one tangent vector `v`, advanced with
/// the state (flows: the stepper's combined tangent step, or its tangent-only step in the
/// pre hook where it has no combined one — ab2, ab3 — as the reference does; maps:
/// `J(y_new) · v` after each iteration), renormalised every step; `log_growth` accumulates
/// `ln |w|` and `denom` the time (flows) or iterations (maps). Outputs `log_growth`,
/// `denom`, `steps`, `variational_mode`; trace column `mle` = `log_growth / denom`.
#[derive(Clone, Debug, Default)]
pub struct LyapunovMle;

// SAFETY: the hooks use only `Hook`'s checked accessors on their two vectors, four
// outputs and one trace column, the trace under `trace_due`.
unsafe impl Observer for LyapunovMle {
    fn key(&self) -> &str {
        "lyapunov_mle"
    }

    fn signature(&self) -> String {
        "lyapunov_mle/1".into()
    }

    fn requirements(&self, kind: ModelKind) -> Requirements {
        Requirements {
            jvp: true,
            fixed_step: true,
            tangent: (kind == ModelKind::Ode).then_some(TangentNeed::CombinedOrFrozen),
        }
    }

    fn vectors(&self, _: usize) -> usize {
        2
    }

    fn outputs(&self) -> Vec<String> {
        ["log_growth", "denom", "steps", "variational_mode"]
            .map(String::from)
            .to_vec()
    }

    fn traces(&self) -> Vec<String> {
        vec!["mle".into()]
    }

    fn initialise(
        &self,
        kind: ModelKind,
        tangent: Option<TangentMode>,
        vectors: &mut [Vec<f64>],
        outputs: &mut [f64],
    ) {
        if let Some(x) = vectors[0].first_mut() {
            *x = 1.0;
        }
        outputs[3] = variational_mode(kind, tangent);
    }

    fn emit_pre(&self, h: &mut Hook<'_, '_>) {
        if h.tangent_mode() == Some(TangentMode::Frozen) {
            let (v, w) = (h.vector(0), h.vector(1));
            h.tangent_step(v, w);
        }
    }

    fn emit_post(&self, h: &mut Hook<'_, '_>) -> Option<Value> {
        let (v, w) = (h.vector(0), h.vector(1));
        if h.kind() == ModelKind::Map {
            let (t, y) = (h.t(), h.y());
            h.jvp(t, y, v, w);
        }
        let norm = h.norm(w);
        let zero = h.b.f64(0.0);
        let grew = h.b.cmp(CmpOp::Ne, norm, zero);
        // A vector that collapsed to zero adds nothing (the reference returns early).
        Some(h.when(grew, |h| {
            let one = h.b.f64(1.0);
            let inv = h.b.div(one, norm);
            h.for_states(|h, i| {
                let x = h.get(w, i);
                let x = h.b.mul(x, inv);
                h.set(v, i, x);
            });
            let ln = h.b.math(MathFn::Log, &[norm]);
            h.add_output(0, ln);
            let d = h.denominator_step();
            h.add_output(1, d);
            let one = h.b.f64(1.0);
            h.add_output(2, one);
            let due = h.trace_due();
            h.when(due, |h| {
                let (g, d) = (h.output(0), h.output(1));
                let mle = h.per(g, d);
                h.write_trace(0, mle);
                h.b.bool(true)
            })
        }))
    }
}

/// The first `k` Lyapunov exponents (runtime.md §4.3): `k` tangent vectors, advanced each
/// step (flows: by the stepper's tangent step with the Jacobian frozen at the step's
/// start; maps: `J(y_new) · v_j`), re-orthonormalised by modified Gram–Schmidt, a column
/// that collapses re-seeded with `e_(j mod n)`; `log_r_j` accumulates `ln r_jj`. Outputs
/// `log_r0..`, `denom`, `steps`, `variational_mode`; traces `lyap0..` = `log_r_j / denom`.
#[derive(Clone, Debug)]
pub struct LyapunovSpectrum {
    k: usize,
    /// `n × k` initial basis, by columns (`None`: the first `k` unit vectors).
    basis: Option<Vec<Vec<f64>>>,
}

impl LyapunovSpectrum {
    /// The first `k` exponents (1 ≤ k ≤ n, checked when the kernel is built).
    pub fn new(k: usize) -> LyapunovSpectrum {
        LyapunovSpectrum { k, basis: None }
    }

    /// Starts from the basis `columns` (`k` columns of `n` values) instead of `e_0..e_(k-1)`.
    pub fn with_basis(columns: Vec<Vec<f64>>) -> LyapunovSpectrum {
        LyapunovSpectrum {
            k: columns.len(),
            basis: Some(columns),
        }
    }

    /// The number of exponents.
    pub fn k(&self) -> usize {
        self.k
    }

    fn check_against(&self, n: usize) -> Result<(), String> {
        if self.k < 1 || self.k > n {
            return Err(format!(
                "needs k between 1 and the number of states ({n}), got {}",
                self.k
            ));
        }
        if let Some(cols) = &self.basis {
            if let Some(c) = cols.iter().find(|c| c.len() != n) {
                return Err(format!(
                    "needs {n} values (one per state) in each basis column, got {}",
                    c.len()
                ));
            }
        }
        Ok(())
    }
}

// SAFETY: as for `LyapunovMle`: 2k vectors, k + 3 outputs, k trace columns.
unsafe impl Observer for LyapunovSpectrum {
    fn key(&self) -> &str {
        "lyapunov_spectrum"
    }

    fn signature(&self) -> String {
        format!("lyapunov_spectrum/1(k={})", self.k)
    }

    fn requirements(&self, kind: ModelKind) -> Requirements {
        Requirements {
            jvp: true,
            fixed_step: true,
            tangent: (kind == ModelKind::Ode).then_some(TangentNeed::Frozen),
        }
    }

    /// `V` (k columns) then `W` (k columns).
    fn vectors(&self, _: usize) -> usize {
        2 * self.k
    }

    fn outputs(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.k).map(|j| format!("log_r{j}")).collect();
        v.extend(["denom", "steps", "variational_mode"].map(String::from));
        v
    }

    fn traces(&self) -> Vec<String> {
        (0..self.k).map(|j| format!("lyap{j}")).collect()
    }

    fn check(&self, n: usize) -> Result<(), String> {
        self.check_against(n)
    }

    fn initialise(
        &self,
        kind: ModelKind,
        tangent: Option<TangentMode>,
        vectors: &mut [Vec<f64>],
        outputs: &mut [f64],
    ) {
        for j in 0..self.k {
            match &self.basis {
                Some(cols) => vectors[j].copy_from_slice(&cols[j]),
                None => vectors[j][j] = 1.0,
            }
        }
        outputs[self.k + 2] = variational_mode(kind, tangent);
    }

    fn emit_pre(&self, h: &mut Hook<'_, '_>) {
        if h.kind() == ModelKind::Ode {
            for j in 0..self.k {
                let (v, w) = (h.vector(j), h.vector(self.k + j));
                h.tangent_step(v, w);
            }
        }
    }

    fn emit_post(&self, h: &mut Hook<'_, '_>) -> Option<Value> {
        let (k, n) = (self.k, h.n());
        let (zero, one) = (h.b.f64(0.0), h.b.f64(1.0));
        let cols: Vec<(Value, Value)> = (0..k).map(|j| (h.vector(j), h.vector(k + j))).collect();
        if h.kind() == ModelKind::Map {
            let (t, y) = (h.t(), h.y());
            for &(v, w) in &cols {
                h.jvp(t, y, v, w);
            }
        }
        for j in 0..k {
            let wj = cols[j].1;
            for &(_, wi) in &cols[..j] {
                let dot = h.each_state(&[zero], |h, r, dot| {
                    let a = h.get(wi, r);
                    let c = h.get(wj, r);
                    let pr = h.b.mul(a, c);
                    vec![h.b.add(dot[0], pr)]
                })[0];
                h.for_states(|h, r| {
                    let a = h.get(wi, r);
                    let pr = h.b.mul(dot, a);
                    let x = h.get(wj, r);
                    let x = h.b.sub(x, pr);
                    h.set(wj, r, x);
                });
            }
            let norm = h.norm(wj);
            let collapsed = h.b.cmp(CmpOp::Eq, norm, zero);
            let seeded = h.b.i64((j % n) as i64);
            h.for_states(|h, r| {
                let x = h.get(wj, r);
                let at_seed = h.b.cmp(CmpOp::Eq, r, seeded);
                let seed = h.b.select(at_seed, one, zero);
                let x = h.b.select(collapsed, seed, x);
                h.set(wj, r, x);
            });
            let norm = h.b.select(collapsed, one, norm);
            let ln = h.b.math(MathFn::Log, &[norm]);
            h.add_output(j, ln);
            let inv = h.b.div(one, norm);
            h.for_states(|h, r| {
                let x = h.get(wj, r);
                let x = h.b.mul(x, inv);
                h.set(wj, r, x);
            });
        }
        for &(v, w) in &cols {
            h.for_states(|h, r| {
                let x = h.get(w, r);
                h.set(v, r, x);
            });
        }
        h.add_output(k + 1, one);
        let d = h.denominator_step();
        h.add_output(k, d);
        let due = h.trace_due();
        Some(h.when(due, |h| {
            let d = h.output(k);
            for j in 0..k {
                let g = h.output(j);
                let x = h.per(g, d);
                h.write_trace(j, x);
            }
            h.b.bool(true)
        }))
    }
}

/// One observer's results from a run: its outputs by name and its trace.
#[derive(Clone, Debug, PartialEq)]
pub struct ObserverResult {
    /// The observer's key.
    pub key: String,
    /// Output names and values, in the observer's order.
    pub outputs: Vec<(String, f64)>,
    /// Trace column names.
    pub trace_names: Vec<String>,
    /// Time of each trace row (recorded time).
    pub trace_t: Vec<f64>,
    /// Step of each trace row (counted from the recorded run's start).
    pub trace_step: Vec<i64>,
    /// Trace columns: `trace[c][row]`.
    pub trace: Vec<Vec<f64>>,
}

impl ObserverResult {
    /// The output `name`.
    pub fn output(&self, name: &str) -> Option<f64> {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }

    /// The trace column `name`.
    pub fn trace(&self, name: &str) -> Option<&[f64]> {
        let c = self.trace_names.iter().position(|n| n == name)?;
        Some(&self.trace[c])
    }

    /// The maximum exponent of [`LyapunovMle`]: `log_growth / denom` (analysis.md A6).
    pub fn mle(&self) -> Option<f64> {
        let g = self.output("log_growth")?;
        let d = self.output("denom")?;
        Some(g / if d > 0.0 { d } else { 1.0 })
    }

    /// The exponents of [`LyapunovSpectrum`]: `log_r_j / denom`.
    pub fn spectrum(&self) -> Option<Vec<f64>> {
        let d = self.output("denom")?;
        let d = if d > 0.0 { d } else { 1.0 };
        let logs: Vec<f64> = self
            .outputs
            .iter()
            .filter(|(n, _)| n.starts_with("log_r"))
            .map(|&(_, v)| v / d)
            .collect();
        (!logs.is_empty()).then_some(logs)
    }
}
