//! The one place that knows the order of the parameters of the functions the runtime
//! emits and calls: the stepper's step function, the adaptive initial step and the runner;
//! with the status codes they return and the runner's control-slot indices.
//!
//! Each signature is a list of named parameters (in the spirit of Cranelift's
//! `ArgumentPurpose`): an enum value, a name, a type and the minimum length of an array.
//! Everything else is derived from the list — the IR signature ([`Abi::signature`]), the
//! emitters' parameter reads ([`Abi::index`]), the Rust-side argument lists (built by
//! walking [`Abi::order`]) and the length checks ([`Abi::min_lengths`]). Adding a
//! parameter is a variant, its place in `order` and its `describe` arm here; the compiler
//! then asks for its argument in the Rust-side lists (the matches are exhaustive). The
//! model functions' signatures (`rhs`, events, aux) are lowering's, in `dynlib_ir::lower`.

use dynlib_ir::{Elem, Signature, Type};

use crate::workspace::Layout;

/// Status codes returned by the stepper and the runner (runtime.md §3.2).
pub mod status {
    /// The stepper accepted the step.
    pub const OK: i32 = 0;
    /// The stepper failed (Newton, adaptive control); terminal.
    pub const STEPFAIL: i32 = 2;
    /// A proposal was not finite; terminal.
    pub const NAN_DETECTED: i32 = 3;
    /// The stop condition fired; success.
    pub const EARLY_EXIT: i32 = 7;
    /// The horizon was reached or the step cap exhausted; success.
    pub const DONE: i32 = 9;
    /// The record buffer is full: grow it and re-enter.
    pub const GROW_REC: i32 = 10;
    /// The event buffer is full: grow it and re-enter.
    pub const GROW_EVT: i32 = 11;
    /// Time did not advance (`t + dt == t` in floating point); terminal (a `STEPFAIL`
    /// whose reason the runtime reports).
    pub const STALLED: i32 = 14;
    /// The observers' trace buffer is full: grow it and re-enter (the reference's
    /// `TRACE_OVERFLOW` ends the run instead; here a trace never loses a row).
    pub const GROW_TRACE: i32 = 15;
    /// An arithmetic fault: `FAULT + mask` with the `dynlib_ir::lower::fault` bits of the
    /// model function that raised it (`FAULT..FAULT_END`); terminal.
    pub const FAULT: i32 = 16;
    /// One past the last fault status.
    pub const FAULT_END: i32 = FAULT + (1 << dynlib_ir::lower::fault::KINDS.len());
}

/// `fctl` slot: current time.
pub const FCTL_T: i64 = 0;
/// `fctl` slot: current step size.
pub const FCTL_DT: i64 = 1;
/// `fctl` slot: the horizon (ODE).
pub const FCTL_T_END: i64 = 2;
/// `fctl` slot: the origin of map labels `t0 + k dt`.
pub const FCTL_T_LABEL0: i64 = 3;
/// Length of `fctl`.
pub const FCTL_LEN: usize = 4;
/// `ictl` slot: steps taken in this run.
pub const ICTL_STEP: i64 = 0;
/// `ictl` slot: samples written.
pub const ICTL_REC: i64 = 1;
/// `ictl` slot: event rows written.
pub const ICTL_EVT: i64 = 2;
/// `ictl` slot: step cap (ODE) or iteration count (map).
pub const ICTL_MAX_STEPS: i64 = 3;
/// `ictl` slot: record every k steps (0: no recording).
pub const ICTL_INTERVAL: i64 = 4;
/// `ictl` slot: record capacity (samples).
pub const ICTL_CAP_REC: i64 = 5;
/// `ictl` slot: event capacity (rows).
pub const ICTL_CAP_EVT: i64 = 6;
/// `ictl` slot: 0 until the run's initial sample is done.
pub const ICTL_STARTED: i64 = 7;
/// `ictl` slot: number of recorded states.
pub const ICTL_N_REC_STATES: i64 = 8;
/// `ictl` slot: number of recorded aux.
pub const ICTL_N_REC_AUX: i64 = 9;
/// `ictl` slot: trace rows written (analysis runners).
pub const ICTL_TRACE: i64 = 10;
/// `ictl` slot: trace capacity (rows).
pub const ICTL_TRACE_CAP: i64 = 11;
/// `ictl` slot: a trace row is due every k steps (0: no trace).
pub const ICTL_TRACE_STRIDE: i64 = 12;
/// Length of `ictl`.
pub const ICTL_LEN: usize = 13;

/// Length of the stepper's `out`: `[t_prop, dt_next, err_est]`.
pub const STEP_OUT_LEN: usize = 3;

/// `stats` slot: right-hand side evaluations (every call of the model's `rhs` a step makes,
/// finite differences included).
pub const STAT_RHS: usize = 0;
/// `stats` slot: Jacobian evaluations (a matrix built: declared, derived or by finite
/// differences).
pub const STAT_JACOBIANS: usize = 1;
/// `stats` slot: Newton iterations.
pub const STAT_NEWTON: usize = 2;
/// `stats` slot: LU factorisations.
pub const STAT_LU: usize = 3;
/// `stats` slot: rejected step attempts (an error too large, a failed solve, a non-finite
/// stage).
pub const STAT_REJECTED: usize = 4;
/// Length of the solver statistics counters a step adds to.
pub const STATS_LEN: usize = 5;

/// A parameter's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A float64 scalar.
    F64,
    /// An array of float64.
    PtrF64,
    /// An array of int64.
    PtrI64,
    /// An array of the model's dtype.
    PtrDtype,
}

impl Ty {
    /// The IR type, for a model whose dtype element is `elem`.
    pub fn ir(self, elem: Elem) -> Type {
        match self {
            Ty::F64 => Type::F64,
            Ty::PtrF64 => Type::Ptr(Elem::F64),
            Ty::PtrI64 => Type::Ptr(Elem::I64),
            Ty::PtrDtype => Type::Ptr(elem),
        }
    }
}

/// The least length of an array parameter, in terms of the model ([`Dims`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Len {
    /// A scalar, or an array whose length the run decides: the record and event buffers
    /// (capacities in `ictl`, checked by the runner before it writes a row) and the
    /// recorded indices (`ICTL_N_REC_*` of them).
    Any,
    /// A fixed number of elements.
    Fixed(usize),
    /// One per state.
    States,
    /// One per state squared (an n×n matrix).
    StatesSquared,
    /// One per parameter.
    Params,
    /// One per aux.
    Aux,
    /// All lag rings, back to back.
    Ring,
    /// One head per lag ring.
    Heads,
    /// The stepper's scalar slots (at least one, so the pointer is always valid).
    StepScalars,
    /// The stepper's configuration fields.
    Config,
    /// The widest event log (at least one slot).
    LogWidth,
}

/// The sizes [`Len`] is measured in.
#[derive(Copy, Clone, Debug, Default)]
pub struct Dims {
    /// States.
    pub states: usize,
    /// Parameters.
    pub params: usize,
    /// Aux.
    pub aux: usize,
    /// Total lag ring length.
    pub ring: usize,
    /// Number of lag rings.
    pub heads: usize,
    /// Stepper scalar slots.
    pub step_scalars: usize,
    /// Stepper configuration fields.
    pub config: usize,
    /// The widest event log.
    pub log_width: usize,
}

impl Len {
    /// The least length, `None` for [`Len::Any`].
    pub fn min(self, d: &Dims) -> Option<usize> {
        Some(match self {
            Len::Any => return None,
            Len::Fixed(k) => k,
            Len::States => d.states,
            Len::StatesSquared => d.states * d.states,
            Len::Params => d.params,
            Len::Aux => d.aux,
            Len::Ring => d.ring,
            Len::Heads => d.heads,
            Len::StepScalars => d.step_scalars.max(1),
            Len::Config => d.config,
            Len::LogWidth => d.log_width.max(1),
        })
    }
}

/// One typed buffer of the stepper workspace ([`Layout`]), by its position in its group.
/// Each is one parameter of the step function and of the runner.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Buf {
    /// Vector `k` ([`Layout::vectors`]): one model-dtype value per state.
    Vector(usize),
    /// Matrix `k` ([`Layout::matrices`]): n×n model-dtype values, row-major.
    Matrix(usize),
    /// Index vector `k` ([`Layout::indices`]): one int64 per state.
    Index(usize),
}

impl Buf {
    /// The parameter's name, type and least length.
    pub fn describe(self) -> (&'static str, Ty, Len) {
        match self {
            Buf::Vector(_) => ("ws", Ty::PtrDtype, Len::States),
            Buf::Matrix(_) => ("wm", Ty::PtrDtype, Len::StatesSquared),
            Buf::Index(_) => ("wi", Ty::PtrI64, Len::States),
        }
    }
}

/// A function signature as an ordered list of named parameters.
pub trait Abi {
    /// Names one parameter.
    type Param: Copy + Eq + std::fmt::Debug;
    /// The return type.
    const RETURNS: Type;
    /// Every parameter, in order.
    fn order(&self) -> Vec<Self::Param>;
    /// A parameter's name, type and least length.
    fn describe(p: Self::Param) -> (&'static str, Ty, Len);

    /// The position of `p`.
    fn index(&self, p: Self::Param) -> usize {
        self.order()
            .iter()
            .position(|&q| q == p)
            .unwrap_or_else(|| panic!("{p:?} is not a parameter of this signature"))
    }

    /// The IR signature for dtype element `elem`.
    fn signature(&self, elem: Elem) -> Signature {
        Signature {
            params: self
                .order()
                .into_iter()
                .map(|p| Self::describe(p).1.ir(elem))
                .collect(),
            returns: vec![Self::RETURNS],
        }
    }

    /// The least length of each parameter (`None`: a scalar, or decided by the run).
    fn min_lengths(&self, d: &Dims) -> Vec<Option<usize>> {
        self.order()
            .into_iter()
            .map(|p| Self::describe(p).2.min(d))
            .collect()
    }
}

/// A parameter of the step function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StepParam {
    /// Time at the start of the step.
    T,
    /// The step size to try.
    Dt,
    /// The state.
    Y,
    /// The parameters.
    P,
    /// The lag rings.
    Ring,
    /// The lag ring heads.
    Head,
    /// A workspace buffer ([`Layout::buffers`] order).
    Work(Buf),
    /// The stepper's scalar slots.
    Scalars,
    /// The configuration, in `StepperSpec::config` order.
    Config,
    /// The proposed state.
    YProp,
    /// `[t_prop, dt_next, err_est]`.
    Out,
    /// The solver statistics counters (`STAT_*`), added to.
    Stats,
}

/// The step function of a stepper whose workspace is `layout` (`D` the dtype element):
///
/// ```text
/// step(t: f64, dt: f64, y: ptr<D>, p: ptr<D>, ring: ptr<D>, head: ptr<i64>,
///      ws_0..ws_{V-1}: ptr<D>, wm_0..wm_{M-1}: ptr<D>, wi_0..wi_{I-1}: ptr<i64>,
///      sc: ptr<f64>, cfg: ptr<f64>, y_prop: ptr<D>, out: ptr<f64>, stats: ptr<i64>) -> i32
/// ```
#[derive(Copy, Clone, Debug)]
pub struct StepAbi {
    /// The stepper's workspace.
    pub layout: Layout,
}

impl Abi for StepAbi {
    type Param = StepParam;
    const RETURNS: Type = Type::I32;

    fn order(&self) -> Vec<StepParam> {
        use StepParam::*;
        let mut v = vec![T, Dt, Y, P, Ring, Head];
        v.extend(self.layout.buffers().map(Work));
        v.extend([Scalars, Config, YProp, Out, Stats]);
        v
    }

    fn describe(p: StepParam) -> (&'static str, Ty, Len) {
        use StepParam::*;
        match p {
            T => ("t", Ty::F64, Len::Any),
            Dt => ("dt", Ty::F64, Len::Any),
            Y => ("y", Ty::PtrDtype, Len::States),
            P => ("p", Ty::PtrDtype, Len::Params),
            Ring => ("ring", Ty::PtrDtype, Len::Ring),
            Head => ("head", Ty::PtrI64, Len::Heads),
            Work(b) => b.describe(),
            Scalars => ("sc", Ty::PtrF64, Len::StepScalars),
            Config => ("cfg", Ty::PtrF64, Len::Config),
            YProp => ("y_prop", Ty::PtrDtype, Len::States),
            Out => ("out", Ty::PtrF64, Len::Fixed(STEP_OUT_LEN)),
            Stats => ("stats", Ty::PtrI64, Len::Fixed(STATS_LEN)),
        }
    }
}

/// A parameter of the adaptive initial-step function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InitialStepParam {
    /// Start time.
    T0,
    /// Horizon.
    TEnd,
    /// The state.
    Y,
    /// The parameters.
    P,
    /// The lag rings.
    Ring,
    /// The lag ring heads.
    Head,
    /// Work: `f(t0, y)`.
    F0,
    /// Work: the trial state.
    Y1,
    /// Work: `f` at the trial state.
    F1,
    /// Absolute tolerance.
    Atol,
    /// Relative tolerance.
    Rtol,
    /// The step cap (`+inf`: none).
    MaxDt,
}

/// `initial_step(t0, t_end, y, p, ring, head, f0, y1, f1, atol, rtol, max_dt) -> h`.
#[derive(Copy, Clone, Debug)]
pub struct InitialStepAbi;

impl Abi for InitialStepAbi {
    type Param = InitialStepParam;
    const RETURNS: Type = Type::F64;

    fn order(&self) -> Vec<InitialStepParam> {
        use InitialStepParam::*;
        vec![T0, TEnd, Y, P, Ring, Head, F0, Y1, F1, Atol, Rtol, MaxDt]
    }

    fn describe(p: InitialStepParam) -> (&'static str, Ty, Len) {
        use InitialStepParam::*;
        match p {
            T0 => ("t0", Ty::F64, Len::Any),
            TEnd => ("t_end", Ty::F64, Len::Any),
            Y => ("y", Ty::PtrDtype, Len::States),
            P => ("p", Ty::PtrDtype, Len::Params),
            Ring => ("ring", Ty::PtrDtype, Len::Ring),
            Head => ("head", Ty::PtrI64, Len::Heads),
            F0 => ("f0", Ty::PtrDtype, Len::States),
            Y1 => ("y1", Ty::PtrDtype, Len::States),
            F1 => ("f1", Ty::PtrDtype, Len::States),
            Atol => ("atol", Ty::F64, Len::Any),
            Rtol => ("rtol", Ty::F64, Len::Any),
            MaxDt => ("max_dt", Ty::F64, Len::Any),
        }
    }
}

/// A parameter of the runner.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RunnerParam {
    /// Float control slots (`FCTL_*`).
    Fctl,
    /// Integer control slots (`ICTL_*`).
    Ictl,
    /// The state.
    Y,
    /// The parameters.
    P,
    /// The lag rings.
    Ring,
    /// The lag ring heads.
    Head,
    /// The aux values.
    Aux,
    /// A stepper workspace buffer.
    Work(Buf),
    /// The stepper's scalar slots.
    Scalars,
    /// The stepper's configuration.
    Config,
    /// The stepper's proposal.
    YProp,
    /// The stepper's `out`.
    StepOut,
    /// Recorded times.
    RecT,
    /// Recorded states, row-major by sample.
    RecY,
    /// Recorded aux, row-major by sample.
    RecAux,
    /// Recorded step numbers.
    RecStep,
    /// Event codes of logged rows.
    EvtCode,
    /// The record index of each logged row.
    EvtIndex,
    /// The f64 log fields of logged rows.
    EvtLog,
    /// f64 log scratch for the event functions.
    Scratch,
    /// Indices of the recorded states.
    RecStates,
    /// Indices of the recorded aux.
    RecAuxIdx,
    /// Integer log scratch (integer models).
    IScratch,
    /// Integer log fields of logged rows (integer models).
    EvtILog,
    /// The solver statistics counters.
    Stats,
    /// Observer vector `k` (analysis runners): one model-dtype value per state.
    Analysis(usize),
    /// The observers' outputs (analysis runners).
    AnalysisOut,
    /// The observers' trace rows (analysis runners), `[t, step, columns...]` each.
    Trace,
}

impl RunnerParam {
    /// The runner's own parameter the runner passes as step parameter `p` (for all but
    /// the time and the step size, which the loop computes).
    pub fn forwarded(p: StepParam) -> Option<RunnerParam> {
        Some(match p {
            StepParam::T | StepParam::Dt => return None,
            StepParam::Y => RunnerParam::Y,
            StepParam::P => RunnerParam::P,
            StepParam::Ring => RunnerParam::Ring,
            StepParam::Head => RunnerParam::Head,
            StepParam::Work(b) => RunnerParam::Work(b),
            StepParam::Scalars => RunnerParam::Scalars,
            StepParam::Config => RunnerParam::Config,
            StepParam::YProp => RunnerParam::YProp,
            StepParam::Out => RunnerParam::StepOut,
            StepParam::Stats => RunnerParam::Stats,
        })
    }
}

/// The runner of a stepper whose workspace is `layout` (`D` the dtype element):
///
/// ```text
/// runner(fctl: ptr<f64>, ictl: ptr<i64>,
///        y: ptr<D>, p: ptr<D>, ring: ptr<D>, head: ptr<i64>, aux: ptr<D>,
///        ws_0..ws_{V-1}, wm_0..wm_{M-1}, wi_0..wi_{I-1} (as in [`StepAbi`]), sc: ptr<f64>, cfg: ptr<f64>, y_prop: ptr<D>, sout: ptr<f64>,
///        rec_t: ptr<f64>, rec_y: ptr<D>, rec_aux: ptr<D>, rec_step: ptr<i64>,
///        evt_code: ptr<i64>, evt_index: ptr<i64>, evt_log: ptr<f64>, scratch: ptr<f64>,
///        rec_states: ptr<i64>, rec_aux_idx: ptr<i64>, iscratch: ptr<i64>,
///        evt_ilog: ptr<i64>, stats: ptr<i64>) -> i32
/// ```
///
/// An analysis runner (observers compiled in) appends `av_0..av_{A-1}: ptr<D>` (the
/// observers' vectors), `aout: ptr<f64>` and `trace: ptr<f64>`.
#[derive(Copy, Clone, Debug)]
pub struct RunnerAbi {
    /// The stepper's workspace.
    pub layout: Layout,
    /// The observers' vectors, when the runner runs observers (`None`: no observer
    /// parameters at all).
    pub analysis: Option<usize>,
}

impl RunnerAbi {
    /// The runner without observers of a stepper whose workspace is `layout`.
    pub fn plain(layout: Layout) -> RunnerAbi {
        RunnerAbi {
            layout,
            analysis: None,
        }
    }
}

impl Abi for RunnerAbi {
    type Param = RunnerParam;
    const RETURNS: Type = Type::I32;

    fn order(&self) -> Vec<RunnerParam> {
        use RunnerParam::*;
        let mut v = vec![Fctl, Ictl, Y, P, Ring, Head, Aux];
        v.extend(self.layout.buffers().map(Work));
        v.extend([Scalars, Config, YProp, StepOut]);
        v.extend([RecT, RecY, RecAux, RecStep]);
        v.extend([EvtCode, EvtIndex, EvtLog, Scratch]);
        v.extend([RecStates, RecAuxIdx, IScratch, EvtILog, Stats]);
        if let Some(vectors) = self.analysis {
            v.extend((0..vectors).map(Analysis));
            v.extend([AnalysisOut, Trace]);
        }
        v
    }

    fn describe(p: RunnerParam) -> (&'static str, Ty, Len) {
        use RunnerParam::*;
        match p {
            Fctl => ("fctl", Ty::PtrF64, Len::Fixed(FCTL_LEN)),
            Ictl => ("ictl", Ty::PtrI64, Len::Fixed(ICTL_LEN)),
            Y => ("y", Ty::PtrDtype, Len::States),
            P => ("p", Ty::PtrDtype, Len::Params),
            Ring => ("ring", Ty::PtrDtype, Len::Ring),
            Head => ("head", Ty::PtrI64, Len::Heads),
            Aux => ("aux", Ty::PtrDtype, Len::Aux),
            Work(b) => b.describe(),
            Scalars => ("sc", Ty::PtrF64, Len::StepScalars),
            Config => ("cfg", Ty::PtrF64, Len::Config),
            YProp => ("y_prop", Ty::PtrDtype, Len::States),
            StepOut => ("sout", Ty::PtrF64, Len::Fixed(STEP_OUT_LEN)),
            RecT => ("rec_t", Ty::PtrF64, Len::Any),
            RecY => ("rec_y", Ty::PtrDtype, Len::Any),
            RecAux => ("rec_aux", Ty::PtrDtype, Len::Any),
            RecStep => ("rec_step", Ty::PtrI64, Len::Any),
            EvtCode => ("evt_code", Ty::PtrI64, Len::Any),
            EvtIndex => ("evt_index", Ty::PtrI64, Len::Any),
            EvtLog => ("evt_log", Ty::PtrF64, Len::Any),
            Scratch => ("scratch", Ty::PtrF64, Len::LogWidth),
            RecStates => ("rec_states", Ty::PtrI64, Len::Any),
            RecAuxIdx => ("rec_aux_idx", Ty::PtrI64, Len::Any),
            // Touched by integer models only; a float model may pass it empty.
            IScratch => ("iscratch", Ty::PtrI64, Len::Any),
            EvtILog => ("evt_ilog", Ty::PtrI64, Len::Any),
            Stats => ("stats", Ty::PtrI64, Len::Fixed(STATS_LEN)),
            Analysis(_) => ("av", Ty::PtrDtype, Len::States),
            // Sized by the observers (outputs) and by the run (trace rows, checked by the
            // runner against `ICTL_TRACE_CAP` before a row is due).
            AnalysisOut => ("aout", Ty::PtrF64, Len::Any),
            Trace => ("trace", Ty::PtrF64, Len::Any),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Layout = Layout::EMPTY;
    const ONE: Layout = Layout {
        vectors: &["k1"],
        ..Layout::EMPTY
    };
    const EIGHT: Layout = Layout {
        vectors: &["a", "b", "c", "d", "e", "f", "g", "h"],
        ..Layout::EMPTY
    };
    const IMPLICIT: Layout = Layout {
        vectors: &["y_nm1"],
        matrices: &["jac", "m"],
        indices: &["piv"],
        scalars: &["step_index"],
    };

    #[test]
    fn every_parameter_has_one_position_and_forwarding_is_type_preserving() {
        for (layout, buffers) in [(NONE, 0), (ONE, 1), (EIGHT, 8), (IMPLICIT, 4)] {
            let runner = RunnerAbi::plain(layout);
            let order = runner.order();
            for (k, &p) in order.iter().enumerate() {
                assert_eq!(runner.index(p), k, "{p:?}");
            }
            let step = StepAbi { layout };
            for p in step.order() {
                if let Some(r) = RunnerParam::forwarded(p) {
                    assert_eq!(StepAbi::describe(p).1, RunnerAbi::describe(r).1, "{p:?}");
                    assert_eq!(StepAbi::describe(p).2, RunnerAbi::describe(r).2, "{p:?}");
                }
            }
            assert_eq!(runner.signature(Elem::F32).params.len(), 24 + buffers);
            assert_eq!(step.signature(Elem::F32).params.len(), 11 + buffers);
        }
    }

    #[test]
    fn typed_buffers_get_their_types_and_lengths() {
        let step = StepAbi { layout: IMPLICIT };
        let sig = step.signature(Elem::F32);
        let at = |p| sig.params[step.index(p)];
        assert_eq!(at(StepParam::Work(Buf::Vector(0))), Type::Ptr(Elem::F32));
        assert_eq!(at(StepParam::Work(Buf::Matrix(1))), Type::Ptr(Elem::F32));
        assert_eq!(at(StepParam::Work(Buf::Index(0))), Type::Ptr(Elem::I64));
        // Vectors, then matrices, then index vectors, then the scalar slots.
        let work: Vec<usize> = [
            Buf::Vector(0),
            Buf::Matrix(0),
            Buf::Matrix(1),
            Buf::Index(0),
        ]
        .map(|b| step.index(StepParam::Work(b)))
        .to_vec();
        assert_eq!(work, [6, 7, 8, 9]);
        assert_eq!(step.index(StepParam::Scalars), 10);
        let d = Dims {
            states: 5,
            ..Dims::default()
        };
        let lens = step.min_lengths(&d);
        assert_eq!(lens[7], Some(25));
        assert_eq!(lens[9], Some(5));
        assert_eq!(lens[10], Some(1));
    }
}
