//! Runner loops as IR, continuous and discrete (runtime.md §3.3–3.4).
//!
//! This module holds what every variant shares: the emission context (`Runner`) whose
//! methods are the loop's phases (first call, loop header, capacity check, pre events,
//! clipping, step, guards, post events, commit, lags, record, next iteration, exit) and
//! [`emit_runner`]. Each [`RunnerVariant`] composes the phases in its own file (`base.rs`:
//! the ordinary loop); adding a variant is its file and its arm in `emit_runner`.
//!
//! One runner function per model and stepper, calling the stepper and the model functions
//! (an inlining pass may merge them). Its parameters, in order, are
//! [`crate::abi::RunnerAbi`]'s.
//!
//! `scratch`/`evt_log` hold the f64 log fields and `iscratch`/`evt_ilog` the integer ones
//! (`dynlib_ir::lower::log_is_int`: an integer model's values, exact); a float model never
//! touches the integer pair.
//!
//! `fctl` (slots in [`crate::abi`]) = [`FCTL_T`] time, [`FCTL_DT`] step, [`FCTL_T_END`] horizon (ODE), [`FCTL_T_LABEL0`]
//! the origin of map time labels. `ictl` = [`ICTL_STEP`] steps taken, [`ICTL_REC`] samples
//! written, [`ICTL_EVT`] event rows written, [`ICTL_MAX_STEPS`] (ODE cap, map iteration
//! count), [`ICTL_INTERVAL`] (0: no recording), [`ICTL_CAP_REC`], [`ICTL_CAP_EVT`],
//! [`ICTL_STARTED`] (0 on the first call of a run), [`ICTL_N_REC_STATES`],
//! [`ICTL_N_REC_AUX`]. Every exit writes the cursors back.
//!
//! Buffer growth never replays or loses anything (DESIGN.md invariant 6, fixing the
//! reference's R1–R3): before an iteration does any work, the runner checks that the rows
//! it may write (one record, one event row per phase) fit; if not it returns `GROW_REC` or
//! `GROW_EVT` with nothing half done, the caller grows the buffers and calls again, and the
//! loop resumes exactly there.

use std::ops::Range;

use dynlib_ir::lower::{events_signature, update_aux_signature, ModelFunctions};
use dynlib_ir::*;
use dynlib_model::{Model, ModelKind, Phase};

use crate::abi::*;
use crate::observer::{ObserverLayout, Observers};
use crate::stepper::emit::{each_index, for_each_index};
use crate::stepper::StepperSpec;

mod base;
mod hooks;

/// A runner variant (runtime.md §3.5): each is its own compiled and cached unit, and a
/// run gives the same bits through every variant that can run it (they compose the same
/// phases; DESIGN.md R8: all use the BASE ordering).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RunnerVariant {
    /// The ordinary loop: before each iteration it checks that the rows it may write fit,
    /// else returns `GROW_*` for the caller to grow the buffers and re-enter.
    Base,
    /// The loop without capacity checks: the driver bounds each call's steps so that every
    /// row it can write fits, growing buffers between calls (`Kernel::fast_room` in
    /// [`crate::run`]); chosen for fixed-step runs without logged events, whose record
    /// buffers are sized up front, so they rarely grow at all.
    Fastpath,
    /// BASE with the observers' hooks compiled in (and, for an observer that advances a
    /// tangent with the state, the stepper's combined tangent step in place of the
    /// stepper); the kernel's observers are part of its key.
    Analysis,
    /// FASTPATH with the observers' hooks.
    FastpathAnalysis,
}

impl RunnerVariant {
    /// Every variant.
    pub const ALL: [RunnerVariant; 4] = [
        RunnerVariant::Base,
        RunnerVariant::Fastpath,
        RunnerVariant::Analysis,
        RunnerVariant::FastpathAnalysis,
    ];

    /// Its name in cache keys, `meta.json`, results and messages (`base`, `fastpath`,
    /// `analysis`, `fastpath_analysis`).
    pub fn name(self) -> &'static str {
        match self {
            RunnerVariant::Base => "base",
            RunnerVariant::Fastpath => "fastpath",
            RunnerVariant::Analysis => "analysis",
            RunnerVariant::FastpathAnalysis => "fastpath_analysis",
        }
    }

    /// True for the variants that run observers.
    pub fn observes(self) -> bool {
        matches!(
            self,
            RunnerVariant::Analysis | RunnerVariant::FastpathAnalysis
        )
    }

    /// True for the variants that check capacity before each iteration.
    pub fn checks_capacity(self) -> bool {
        matches!(self, RunnerVariant::Base | RunnerVariant::Analysis)
    }

    /// The variant with (`observe`) or without observers and with or without checks.
    pub fn of(observe: bool, fast: bool) -> RunnerVariant {
        match (observe, fast) {
            (false, false) => RunnerVariant::Base,
            (false, true) => RunnerVariant::Fastpath,
            (true, false) => RunnerVariant::Analysis,
            (true, true) => RunnerVariant::FastpathAnalysis,
        }
    }

    /// The IR function's (and its exported file's) name stem: `runner`, `runner_fastpath`,
    /// `runner_analysis`, `runner_fastpath_analysis`.
    pub fn stem(self) -> &'static str {
        match self {
            RunnerVariant::Base => "runner",
            RunnerVariant::Fastpath => "runner_fastpath",
            RunnerVariant::Analysis => "runner_analysis",
            RunnerVariant::FastpathAnalysis => "runner_fastpath_analysis",
        }
    }
}

/// The observers an analysis runner runs, with the tangent steps they use (emitted by
/// the stepper, [`StepperSpec::emit_tangent`]).
#[derive(Copy, Clone)]
pub struct Observed<'o> {
    /// The observers.
    pub observers: &'o Observers,
    /// The tangent mode each module got ([`Observers::grant`]).
    pub modes: &'o [Option<crate::stepper::TangentMode>],
    /// The combined state-and-tangent step, when an observer needs it.
    pub combined: Option<FuncId>,
    /// The frozen tangent step, when an observer needs it.
    pub frozen: Option<FuncId>,
}

impl Observed<'_> {
    /// The analysis vectors of the runner: every module's, then the tangent steps'
    /// scratch (shared: the twins of the stepper's workspace vectors, or its scheme's
    /// scratch), then with frozen steps of a scheme that keeps a history, that history for
    /// each module vector in turn.
    pub fn vectors(&self, n: usize, stepper: &StepperSpec) -> usize {
        let (_, history) = self.ranges(n, stepper);
        history.end
    }

    /// The scratch and history ranges of the analysis vectors (see [`Observed::vectors`]).
    fn ranges(&self, n: usize, stepper: &StepperSpec) -> (Range<usize>, Range<usize>) {
        let modules = self.observers.layout(n).total_vectors;
        let scratch = match self.combined.is_some() || self.frozen.is_some() {
            true => stepper.tangent_scratch(),
            false => 0,
        };
        let history = match self.frozen {
            Some(_) => modules * stepper.tangent_history(),
            None => 0,
        };
        let h0 = modules + scratch;
        (modules..h0, h0..h0 + history)
    }
}

/// What the analysis phases need while the runner is emitted.
struct Analysis<'o> {
    observed: Observed<'o>,
    layout: ObserverLayout,
    kind: dynlib_model::ModelKind,
    /// The tangent steps' shared scratch (the twins of a twinned stepper).
    twins: Range<usize>,
    /// The tangent scheme's history, `per_vector` vectors for each module vector in turn.
    history: Range<usize>,
    per_vector: usize,
    /// The frozen step is a scheme of the stepper's own ([`crate::stepper::TangentScheme`]),
    /// with its own signature.
    own_scheme: bool,
    /// The absolute vectors `v` and `v_prop` of the module that needs the combined step.
    combined_vectors: Option<(usize, usize)>,
    /// `ICTL_TRACE_STRIDE`.
    stride: Value,
}

/// `ctl[slot]`: a control slot.
fn load_slot(b: &mut FunctionBuilder, ctl: Value, slot: i64) -> Value {
    let i = b.i64(slot);
    b.load(ctl, i)
}

/// Loop-carried scalars.
#[derive(Copy, Clone)]
struct Carried {
    t: Value,
    dt: Value,
    step: Value,
    i: Value,
    m: Value,
}

impl Carried {
    fn args(&self) -> [Value; 5] {
        [self.t, self.dt, self.step, self.i, self.m]
    }
}

/// What the model and stepper decide about the code the runner needs.
struct Facts {
    elem: Elem,
    n: usize,
    width: usize,
    has_aux: bool,
    has_stop: bool,
    pre_logs: bool,
    post_logs: bool,
    has_pre: bool,
    has_post: bool,
    is_map: bool,
    float_state: bool,
    int_logs: bool,
}

impl Facts {
    fn of(model: &Model, mf: &ModelFunctions) -> Facts {
        let elem = mf.elem;
        let events = &model.events;
        Facts {
            elem,
            n: model.states.len(),
            width: mf.max_log_width,
            has_aux: !model.aux.is_empty(),
            has_stop: model.sim.stop.is_some(),
            pre_logs: logs_in(model, Phase::Start),
            post_logs: logs_in(model, Phase::End),
            has_pre: events.iter().any(|e| e.phase != Phase::End),
            has_post: events.iter().any(|e| e.phase != Phase::Start),
            is_map: model.kind == ModelKind::Map,
            float_state: elem == Elem::F64 || elem == Elem::F32,
            int_logs: !model.dtype.is_float(),
        }
    }
}

/// True when an event that runs in `phase` (start-phase events run before the step,
/// end-phase after; events of both phases in both) logs rows: each such phase writes at
/// most one event row per step, which the runner's room checks and the fast path's
/// `fast_room` both count.
pub(crate) fn logs_in(model: &Model, phase: Phase) -> bool {
    let runs_in = |e: Phase| match phase {
        Phase::Start => e != Phase::End,
        Phase::End => e != Phase::Start,
        Phase::Both => true,
    };
    model
        .events
        .iter()
        .any(|e| runs_in(e.phase) && !e.log.is_empty())
}

/// The control values read from `fctl`/`ictl` on entry, and constants every phase uses.
struct Control {
    t_end: Value,
    t_label0: Value,
    max_steps: Value,
    interval: Value,
    cap_rec: Value,
    cap_evt: Value,
    n_rec_states: Value,
    n_rec_aux: Value,
    zero_i: Value,
    one_i: Value,
    recording: Value,
}

/// The runner being emitted: the builder, its parameters, the model facts and the exit
/// block; each phase of the loop is one method, in the order the loop runs them.
struct Runner<'f, 'm> {
    b: FunctionBuilder<'f>,
    abi: RunnerAbi,
    step_abi: StepAbi,
    step_sig: Signature,
    /// The signature of the stepper's tangent steps.
    tangent_sig: Signature,
    step_fn: FuncId,
    mf: &'m ModelFunctions,
    facts: Facts,
    ctl: Control,
    exit: Block,
    analysis: Option<Analysis<'m>>,
    /// False for the fast-path variants: no capacity checks (the caller sized the call).
    checks: bool,
}

impl Runner<'_, '_> {
    fn prm(&self, p: RunnerParam) -> Value {
        self.b.param(self.abi.index(p))
    }

    fn fget(&mut self, slot: i64) -> Value {
        let fctl = self.prm(RunnerParam::Fctl);
        load_slot(&mut self.b, fctl, slot)
    }

    fn iget(&mut self, slot: i64) -> Value {
        let ictl = self.prm(RunnerParam::Ictl);
        load_slot(&mut self.b, ictl, slot)
    }

    /// Jumps to the exit with status `code` and the cursors `c`.
    fn exit_with(&mut self, code: i32, c: &Carried) {
        let st = self.b.i32(code);
        let mut a = vec![st];
        a.extend(c.args());
        self.b.jump(self.exit, &a);
    }

    /// Exits with `FAULT + mask` when a model function raised an arithmetic fault.
    fn check_fault(&mut self, mask: Value, c: &Carried) {
        let b = &mut self.b;
        let zero = b.i32(0);
        let faulted = b.cmp(CmpOp::Ne, mask, zero);
        let fail = b.create_block();
        let fine = b.create_block();
        b.brif(faulted, fail, &[], fine, &[]);
        b.switch_to(fail);
        let base = b.i32(status::FAULT);
        let code = b.add(base, mask);
        let mut a = vec![code];
        a.extend(c.args());
        b.jump(self.exit, &a);
        b.switch_to(fine);
    }

    /// Writes one sample (time, selected states, selected aux, step) at row `i`; the
    /// recorded states and aux are column-major, column k at `k * capacity`.
    fn record(&mut self, t: Value, step: Value, i: Value) {
        use RunnerParam as R;
        let (rec_t, rec_step) = (self.prm(R::RecT), self.prm(R::RecStep));
        let selections = [
            (
                self.prm(R::RecStates),
                self.prm(R::Y),
                self.ctl.n_rec_states,
                self.prm(R::RecY),
            ),
            (
                self.prm(R::RecAuxIdx),
                self.prm(R::Aux),
                self.ctl.n_rec_aux,
                self.prm(R::RecAux),
            ),
        ];
        let b = &mut self.b;
        b.store(rec_t, i, t);
        b.store(rec_step, i, step);
        let cap = self.ctl.cap_rec;
        for (sel, src, count, dst) in selections {
            // for k in 0..count: dst[k * cap + i] = src[sel[k]] (column-major: each
            // recorded series is contiguous, as the results keep it)
            let z = b.i64(0);
            b.for_range(z, count, &[], |b, k, _| {
                let src_idx = b.load(sel, k);
                let x = b.load(src, src_idx);
                let col = b.mul(k, cap);
                let at = b.add(col, i);
                b.store(dst, at, x);
                Vec::new()
            });
        }
    }

    /// Appends the event row for a fired event with a log; returns the new `m`.
    fn log_event(&mut self, code: Value, width_v: Value, i: Value, m: Value) -> Value {
        use RunnerParam as R;
        let (evt_code, evt_index, evt_log) = (
            self.prm(R::EvtCode),
            self.prm(R::EvtIndex),
            self.prm(R::EvtLog),
        );
        let (scratch, iscratch, evt_ilog) = (
            self.prm(R::Scratch),
            self.prm(R::IScratch),
            self.prm(R::EvtILog),
        );
        let (width, int_logs) = (self.facts.width, self.facts.int_logs);
        let b = &mut self.b;
        let zero32 = b.i32(0);
        let fired = b.cmp(CmpOp::Ge, code, zero32);
        let logs = b.cmp(CmpOp::Gt, width_v, zero32);
        let write = b.binary(BinaryOp::And, fired, logs);
        let yes = b.create_block();
        let join = b.create_block();
        let m_out = b.block_param(join, Type::I64);
        b.brif(write, yes, &[], join, &[m]);
        b.switch_to(yes);
        let code64 = b.convert(code, Type::I64);
        b.store(evt_code, m, code64);
        let one = b.i64(1);
        let last = b.sub(i, one);
        b.store(evt_index, m, last);
        let w = b.i64(width as i64);
        let row = b.mul(m, w);
        for k in 0..width {
            let kk = b.i64(k as i64);
            let at = b.add(row, kk);
            let x = b.load(scratch, kk);
            b.store(evt_log, at, x);
            if int_logs {
                let xi = b.load(iscratch, kk);
                b.store(evt_ilog, at, xi);
            }
        }
        let m1 = b.add(m, one);
        b.jump(join, &[m1]);
        b.switch_to(join);
        m_out
    }

    /// First call of a run: aux at t0, then the t0 sample (growing the record buffer
    /// first if it is full); then the loop header.
    fn first_call(&mut self, start: &Carried, started: Value, header: Block) {
        let ictl = self.prm(RunnerParam::Ictl);
        let (zero_i, one_i, recording, cap_rec) = (
            self.ctl.zero_i,
            self.ctl.one_i,
            self.ctl.recording,
            self.ctl.cap_rec,
        );
        let init = self.b.create_block();
        let fresh = self.b.cmp(CmpOp::Eq, started, zero_i);
        self.b.brif(fresh, init, &[], header, &start.args());
        self.b.switch_to(init);
        {
            let one = self.b.i64(1);
            let s = self.b.i64(ICTL_STARTED);
            self.b.store(ictl, s, one);
        }
        if self.facts.has_aux {
            self.update_aux(start.t, start);
        }
        let rec0 = self.b.create_block();
        let first = self.b.cmp(CmpOp::Eq, start.step, zero_i);
        let want0 = self.b.binary(BinaryOp::And, recording, first);
        self.b.brif(want0, rec0, &[], header, &start.args());
        self.b.switch_to(rec0);
        if !self.checks {
            self.record(start.t, start.step, start.i);
            let i1 = self.b.add(start.i, one_i);
            self.b
                .jump(header, &[start.t, start.dt, start.step, i1, start.m]);
            return;
        }
        let full = self.b.cmp(CmpOp::Ge, start.i, cap_rec);
        let grow = self.b.create_block();
        let write = self.b.create_block();
        self.b.brif(full, grow, &[], write, &[]);
        self.b.switch_to(grow);
        // Undo the started flag so the t0 sample is written on re-entry.
        let s = self.b.i64(ICTL_STARTED);
        let z = self.b.i64(0);
        self.b.store(ictl, s, z);
        let st = self.b.i32(status::GROW_REC);
        let mut a = vec![st];
        a.extend(start.args());
        self.b.jump(self.exit, &a);
        self.b.switch_to(write);
        self.record(start.t, start.step, start.i);
        let i1 = self.b.add(start.i, one_i);
        self.b
            .jump(header, &[start.t, start.dt, start.step, i1, start.m]);
    }

    /// The loop header: continue while step < max and (ODE) t < t_end, else DONE. Leaves
    /// the builder in the loop body.
    fn loop_header(&mut self, header: Block, cur: &Carried) {
        self.b.switch_to(header);
        let body = self.b.create_block();
        let done = self.b.create_block();
        let more = self.b.cmp(CmpOp::Lt, cur.step, self.ctl.max_steps);
        let more = if self.facts.is_map {
            more
        } else {
            let before_end = self.b.cmp(CmpOp::Lt, cur.t, self.ctl.t_end);
            self.b.binary(BinaryOp::And, more, before_end)
        };
        self.b.brif(more, body, &[], done, &[]);
        self.b.switch_to(done);
        self.exit_with(status::DONE, cur);
        self.b.switch_to(body);
    }

    /// Before any work of this iteration: the event rows and the record it may write fit,
    /// else GROW_EVT / GROW_REC with nothing done. Returns (next step, will it record).
    fn capacity_check(&mut self, cur: &Carried) -> (Value, Value) {
        let (one_i, recording) = (self.ctl.one_i, self.ctl.recording);
        let rows = (self.facts.pre_logs as i64) + (self.facts.post_logs as i64);
        if rows > 0 && self.checks {
            let need = self.b.i64(rows);
            let after = self.b.add(cur.m, need);
            let full = self.b.cmp(CmpOp::Gt, after, self.ctl.cap_evt);
            self.exit_if(full, status::GROW_EVT, cur);
        }
        let next_step = self.b.add(cur.step, one_i);
        let will_record = self.due(recording, self.ctl.interval, next_step);
        if !self.checks {
            return (next_step, will_record);
        }
        let full = self.b.cmp(CmpOp::Ge, cur.i, self.ctl.cap_rec);
        let blocked = self.b.binary(BinaryOp::And, will_record, full);
        self.exit_if(blocked, status::GROW_REC, cur);
        self.trace_check(cur, next_step);
        (next_step, will_record)
    }

    /// `on && step % every == 0` (`on` says `every > 0`; a zero `every` divides nothing).
    fn due(&mut self, on: Value, every: Value, step: Value) -> Value {
        let (zero_i, one_i) = (self.ctl.zero_i, self.ctl.one_i);
        let b = &mut self.b;
        let safe = b.select(on, every, one_i);
        let r = b.binary(BinaryOp::Mod, step, safe);
        let at = b.cmp(CmpOp::Eq, r, zero_i);
        b.binary(BinaryOp::And, on, at)
    }

    /// Exits with status `code` and the cursors `c` when `cond` holds.
    fn exit_if(&mut self, cond: Value, code: i32, c: &Carried) {
        let exit = self.b.create_block();
        let ok = self.b.create_block();
        self.b.brif(cond, exit, &[], ok, &[]);
        self.b.switch_to(exit);
        self.exit_with(code, c);
        self.b.switch_to(ok);
    }

    /// Calls the event function `func` on `(t, y)`; a fault exits with the cursors `c`; a
    /// fired event with a log appends its row. Returns the event cursor after it.
    fn events(&mut self, func: FuncId, t: Value, y: Value, c: &Carried) -> Value {
        use RunnerParam as R;
        let args = [
            t,
            y,
            self.prm(R::P),
            self.prm(R::Scratch),
            self.prm(R::IScratch),
            self.prm(R::Ring),
            self.prm(R::Head),
        ];
        let sig = events_signature(self.facts.elem);
        let r = self.b.call(func, &sig, &args);
        self.check_fault(r[2], c);
        self.log_event(r[0], r[1], c.i, c.m)
    }

    /// Updates aux (and the stop flag, returned) at time `t` from the committed state; a
    /// fault exits with the cursors `c`.
    fn update_aux(&mut self, t: Value, c: &Carried) -> Value {
        use RunnerParam as R;
        let args = [
            t,
            self.prm(R::Y),
            self.prm(R::P),
            self.prm(R::Aux),
            self.prm(R::Ring),
            self.prm(R::Head),
        ];
        let sig = update_aux_signature(self.facts.elem);
        let r = self.b.call(self.mf.update_aux, &sig, &args);
        self.check_fault(r[1], c);
        r[0]
    }

    /// Start-phase events on (t, y); returns the event cursor after their rows.
    fn pre_events(&mut self, cur: &Carried) -> Value {
        if !self.facts.has_pre {
            return cur.m;
        }
        let y = self.prm(RunnerParam::Y);
        self.events(self.mf.events_pre, cur.t, y, cur)
    }

    /// The step to try: clipped to the horizon (ODE).
    fn clip(&mut self, cur: &Carried) -> Value {
        if self.facts.is_map {
            return cur.dt;
        }
        let b = &mut self.b;
        let remaining = b.sub(self.ctl.t_end, cur.t);
        let over = b.cmp(CmpOp::Gt, cur.dt, remaining);
        let zero = b.f64(0.0);
        let pos = b.cmp(CmpOp::Gt, remaining, zero);
        let clip = b.binary(BinaryOp::And, over, pos);
        b.select(clip, remaining, cur.dt)
    }

    /// The runner's own buffers, in the stepper's parameter order, for a step from `t`
    /// with step `dt`.
    fn step_args(&self, t: Value, dt: Value) -> Vec<Value> {
        self.step_abi
            .order()
            .into_iter()
            .map(|sp| match (sp, RunnerParam::forwarded(sp)) {
                (StepParam::T, _) => t,
                (StepParam::Dt, _) => dt,
                (_, Some(r)) => self.prm(r),
                (_, None) => unreachable!("only t and dt are not forwarded"),
            })
            .collect()
    }

    /// One call of the stepper (or of its combined tangent step, when an observer
    /// advances a tangent with the state); a status other than OK exits with it.
    fn step(&mut self, cur: &Carried, dt: Value, m: Value) {
        let mut step_args = self.step_args(cur.t, dt);
        let (func, sig) = match self.combined_step() {
            Some((func, vectors)) => {
                step_args.extend(vectors);
                (func, self.tangent_sig.clone())
            }
            None => (self.step_fn, self.step_sig.clone()),
        };
        let b = &mut self.b;
        let st = b.call(func, &sig, &step_args)[0];
        let ok32 = b.i32(status::OK);
        let accepted = b.cmp(CmpOp::Eq, st, ok32);
        let fail = b.create_block();
        let stepped = b.create_block();
        b.brif(accepted, stepped, &[], fail, &[]);
        b.switch_to(fail);
        b.jump(self.exit, &[st, cur.t, cur.dt, cur.step, cur.i, m]);
        b.switch_to(stepped);
    }

    /// The proposal must be finite (NAN_DETECTED) and, for ODEs, move time (STALLED).
    /// Returns (time of the new state, next step size).
    fn guards(&mut self, cur: &Carried, m: Value, dt: Value, next_step: Value) -> (Value, Value) {
        let (sout, y_prop) = (self.prm(RunnerParam::StepOut), self.prm(RunnerParam::YProp));
        let (n, float_state, is_map) = (self.facts.n, self.facts.float_state, self.facts.is_map);
        let b = &mut self.b;
        let i0 = b.i64(0);
        let i1 = b.i64(1);
        let t_prop = b.load(sout, i0);
        let dt_next = b.load(sout, i1);
        let inf = b.f64(f64::INFINITY);
        let finite = |b: &mut FunctionBuilder, x: Value| crate::stepper::emit::finite(b, x, inf);
        let mut ok = finite(b, t_prop);
        let okd = finite(b, dt_next);
        ok = b.binary(BinaryOp::And, ok, okd);
        if float_state {
            ok = each_index(b, n, &[ok], |b, kk, acc| {
                let raw = b.load(y_prop, kk);
                let x = b.convert(raw, Type::F64);
                let okk = finite(b, x);
                vec![b.binary(BinaryOp::And, acc[0], okk)]
            })[0];
        }
        let nan = b.create_block();
        let fine = b.create_block();
        b.brif(ok, fine, &[], nan, &[]);
        b.switch_to(nan);
        self.exit_with(status::NAN_DETECTED, &Carried { m, ..*cur });
        self.b.switch_to(fine);

        // A step that does not move time (`t + dt == t` far from 0) would repeat forever.
        if !is_map {
            let advances = self.b.cmp(CmpOp::Gt, t_prop, cur.t);
            let moving = self.b.create_block();
            let stalled = self.b.create_block();
            self.b.brif(advances, moving, &[], stalled, &[]);
            self.b.switch_to(stalled);
            self.exit_with(status::STALLED, &Carried { m, ..*cur });
            self.b.switch_to(moving);
        }

        // The time of the new state: the stepper's for ODEs, the exact label for maps.
        let t_new = if is_map {
            let k1 = self.b.convert(next_step, Type::F64);
            let off = self.b.mul(k1, dt);
            self.b.add(self.ctl.t_label0, off)
        } else {
            t_prop
        };
        (t_new, dt_next)
    }

    /// End-phase events on the proposal; returns the event cursor after their rows.
    fn post_events(&mut self, cur: &Carried, t_new: Value, m: Value) -> Value {
        if !self.facts.has_post {
            return m;
        }
        let y_prop = self.prm(RunnerParam::YProp);
        self.events(self.mf.events_post, t_new, y_prop, &Carried { m, ..*cur })
    }

    /// Commits the proposal, updates aux and the stop flag (returned, if the model has
    /// one); a fault reports the committed step.
    fn commit(&mut self, committed: &Carried) -> Option<Value> {
        let (y, y_prop) = (self.prm(RunnerParam::Y), self.prm(RunnerParam::YProp));
        for_each_index(&mut self.b, self.facts.n, |b, kk| {
            let x = b.load(y_prop, kk);
            b.store(y, kk, x);
        });
        // The state is committed; a failed update reports the step's time and count.
        (self.facts.has_aux || self.facts.has_stop).then(|| self.update_aux(committed.t, committed))
    }

    /// Pushes the committed state into each lag ring.
    fn lags(&mut self) {
        use RunnerParam as R;
        let (y, ring, head) = (self.prm(R::Y), self.prm(R::Ring), self.prm(R::Head));
        let one_i = self.ctl.one_i;
        let b = &mut self.b;
        for (j, r) in self.mf.lags.rings.iter().enumerate() {
            let jj = b.i64(j as i64);
            let h = b.load(head, jj);
            let h1 = b.add(h, one_i);
            let len = b.i64(r.len as i64);
            let h2 = b.binary(BinaryOp::Mod, h1, len);
            b.store(head, jj, h2);
            let off = b.i64(r.offset as i64);
            let at = b.add(off, h2);
            let sk = b.i64(r.state as i64);
            let x = b.load(y, sk);
            b.store(ring, at, x);
        }
    }

    /// Records the new state when due; returns the record cursor after it.
    fn record_step(
        &mut self,
        will_record: Value,
        t_new: Value,
        next_step: Value,
        i: Value,
    ) -> Value {
        let rec = self.b.create_block();
        let after_rec = self.b.create_block();
        let i_after = self.b.block_param(after_rec, Type::I64);
        self.b.brif(will_record, rec, &[], after_rec, &[i]);
        self.b.switch_to(rec);
        self.record(t_new, next_step, i);
        let i_next = self.b.add(i, self.ctl.one_i);
        self.b.jump(after_rec, &[i_next]);
        self.b.switch_to(after_rec);
        i_after
    }

    /// Back to the header, unless the stop condition fired (EARLY_EXIT, after the record
    /// so the triggering sample is kept).
    fn next_iteration(&mut self, stop: Option<Value>, header: Block, next: &Carried) {
        if let Some(stop) = stop {
            let early = self.b.create_block();
            let cont = self.b.create_block();
            self.b.brif(stop, early, &[], cont, &[]);
            self.b.switch_to(early);
            self.exit_with(status::EARLY_EXIT, next);
            self.b.switch_to(cont);
        }
        self.b.jump(header, &next.args());
    }

    /// The exit block: writes the cursors back and returns the status.
    fn exit_block(&mut self, status: Value, ex: &Carried) {
        let (fctl, ictl) = (self.prm(RunnerParam::Fctl), self.prm(RunnerParam::Ictl));
        let b = &mut self.b;
        b.switch_to(self.exit);
        for (slot, v) in [(FCTL_T, ex.t), (FCTL_DT, ex.dt)] {
            let s = b.i64(slot);
            b.store(fctl, s, v);
        }
        for (slot, v) in [(ICTL_STEP, ex.step), (ICTL_REC, ex.i), (ICTL_EVT, ex.m)] {
            let s = b.i64(slot);
            b.store(ictl, s, v);
        }
        b.ret(&[status]);
    }
}

/// Emits the runner `variant` for `model` with the stepper `step_fn` (already in the
/// program): the prologue reading the control slots and the exit block's parameters are
/// shared; the variant's file composes the phases in between.
pub fn emit_runner(
    model: &Model,
    mf: &mut ModelFunctions,
    stepper: &StepperSpec,
    step_fn: FuncId,
    variant: RunnerVariant,
    observed: Option<Observed<'_>>,
) -> FuncId {
    assert_eq!(
        variant.observes(),
        observed.is_some(),
        "observers exactly for the analysis variants"
    );
    let facts = Facts::of(model, mf);
    let n = model.states.len();
    let abi = RunnerAbi {
        layout: stepper.workspace,
        analysis: observed.map(|o| o.vectors(n, stepper)),
    };
    let step_abi = stepper.abi();
    let name = stepper.ir_name(variant.stem());
    let mut f = Function::new(name, abi.signature(facts.elem));
    {
        let mut b = FunctionBuilder::new(&mut f);
        let (fctl, ictl) = (
            b.param(abi.index(RunnerParam::Fctl)),
            b.param(abi.index(RunnerParam::Ictl)),
        );
        let fget = |b: &mut FunctionBuilder, slot: i64| load_slot(b, fctl, slot);
        let iget = |b: &mut FunctionBuilder, slot: i64| load_slot(b, ictl, slot);
        let t_end = fget(&mut b, FCTL_T_END);
        let t_label0 = fget(&mut b, FCTL_T_LABEL0);
        let max_steps = iget(&mut b, ICTL_MAX_STEPS);
        let interval = iget(&mut b, ICTL_INTERVAL);
        let cap_rec = iget(&mut b, ICTL_CAP_REC);
        let cap_evt = iget(&mut b, ICTL_CAP_EVT);
        let n_rec_states = iget(&mut b, ICTL_N_REC_STATES);
        let n_rec_aux = iget(&mut b, ICTL_N_REC_AUX);
        let zero_i = b.i64(0);
        let one_i = b.i64(1);
        let recording = b.cmp(CmpOp::Gt, interval, zero_i);
        let ctl = Control {
            t_end,
            t_label0,
            max_steps,
            interval,
            cap_rec,
            cap_evt,
            n_rec_states,
            n_rec_aux,
            zero_i,
            one_i,
            recording,
        };
        let exit = b.create_block();
        let analysis = observed.map(|o| {
            let layout = o.observers.layout(n);
            let combined_vectors = o.combined.map(|_| {
                let k = o
                    .modes
                    .iter()
                    .position(|&m| m == Some(crate::stepper::TangentMode::Combined))
                    .expect("a combined step is emitted for a module that got it");
                (layout.vectors[k], layout.vectors[k] + 1)
            });
            let (twins, history) = o.ranges(n, stepper);
            Analysis {
                twins,
                history,
                per_vector: stepper.tangent_history(),
                own_scheme: matches!(stepper.tangents, crate::stepper::Tangents::Own(_)),
                layout,
                kind: model.kind,
                combined_vectors,
                stride: iget(&mut b, ICTL_TRACE_STRIDE),
                observed: o,
            }
        });
        let mut r = Runner {
            b,
            abi,
            step_sig: step_abi.signature(facts.elem),
            tangent_sig: stepper.tangent_signature(facts.elem),
            step_abi,
            step_fn,
            mf,
            facts,
            ctl,
            exit,
            analysis,
            checks: variant.checks_capacity(),
        };
        let ex_status = r.b.block_param(exit, Type::I32);
        let ex = Carried {
            t: r.b.block_param(exit, Type::F64),
            dt: r.b.block_param(exit, Type::F64),
            step: r.b.block_param(exit, Type::I64),
            i: r.b.block_param(exit, Type::I64),
            m: r.b.block_param(exit, Type::I64),
        };
        let start = Carried {
            t: r.fget(FCTL_T),
            dt: r.fget(FCTL_DT),
            step: r.iget(ICTL_STEP),
            i: r.iget(ICTL_REC),
            m: r.iget(ICTL_EVT),
        };
        let started = r.iget(ICTL_STARTED);
        base::compose(&mut r, &start, started);
        r.exit_block(ex_status, &ex);
    }
    mf.program.add(f)
}
