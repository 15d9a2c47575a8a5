//! Running a kernel: buffers, the caller loop that grows them, and results
//! (runtime.md §3.6 with the DESIGN.md fixes: growth resumes exactly, nothing replayed).

use dynlib_interp::Machine;
use dynlib_ir::Elem;
use dynlib_ir::{Arg, Scalar};
use dynlib_model::{ModelKind, Number, Phase};

use crate::abi::*;
use crate::error::RuntimeError;
use crate::kernel::{Kernel, Tiering};
use crate::observer::ObserverResult;
use crate::runner::RunnerVariant;
pub use crate::workspace::Workspace;

/// A vector in the model dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum DVec {
    /// float64 model.
    F64(Vec<f64>),
    /// float32 model.
    F32(Vec<f32>),
    /// int64 model.
    I64(Vec<i64>),
    /// int32 model.
    I32(Vec<i32>),
}

impl DVec {
    /// `n` zeros.
    pub fn zeros(elem: Elem, n: usize) -> DVec {
        match elem {
            Elem::F64 => DVec::F64(vec![0.0; n]),
            Elem::F32 => DVec::F32(vec![0.0; n]),
            Elem::I64 => DVec::I64(vec![0; n]),
            Elem::I32 => DVec::I32(vec![0; n]),
        }
    }

    /// Values cast to the dtype the way numpy casts (ints truncate toward zero).
    pub fn from_f64(elem: Elem, xs: &[f64]) -> DVec {
        let mut v = DVec::zeros(elem, xs.len());
        for (i, &x) in xs.iter().enumerate() {
            v.set(i, x);
        }
        v
    }

    /// Element `i` exactly: an int for integer dtypes, a float for float dtypes.
    pub fn number(&self, i: usize) -> Number {
        match self {
            DVec::F64(v) => Number::Float(v[i]),
            DVec::F32(v) => Number::Float(v[i] as f64),
            DVec::I64(v) => Number::Int(v[i]),
            DVec::I32(v) => Number::Int(v[i] as i64),
        }
    }

    /// Sets element `i` from a number, cast to the dtype the way numpy casts (floats
    /// truncate toward zero into ints, ints round into floats). Callers check ranges first
    /// (`sim::cast`).
    pub fn set_number(&mut self, i: usize, x: Number) {
        match (self, x) {
            (DVec::I64(v), Number::Int(n)) => v[i] = n,
            (DVec::I32(v), Number::Int(n)) => v[i] = n as i32,
            (d, x) => d.set(i, x.as_f64()),
        }
    }

    /// Numbers cast to the dtype ([`DVec::set_number`]).
    pub fn from_numbers(elem: Elem, xs: &[Number]) -> DVec {
        let mut v = DVec::zeros(elem, xs.len());
        for (i, &x) in xs.iter().enumerate() {
            v.set_number(i, x);
        }
        v
    }

    /// Every element exactly.
    pub fn numbers(&self) -> Vec<Number> {
        (0..self.len()).map(|i| self.number(i)).collect()
    }

    /// The element type.
    pub fn elem(&self) -> Elem {
        match self {
            DVec::F64(_) => Elem::F64,
            DVec::F32(_) => Elem::F32,
            DVec::I64(_) => Elem::I64,
            DVec::I32(_) => Elem::I32,
        }
    }

    /// Copies element `from` of `src` (of the same dtype) into element `i`, exactly.
    pub fn copy_from(&mut self, i: usize, src: &DVec, from: usize) {
        self.set_number(i, src.number(from));
    }

    /// The raw bits of every element (floats' bit patterns, ints as two's complement):
    /// for comparing runs exactly, NaN payloads included.
    pub fn bits(&self) -> Vec<u64> {
        match self {
            DVec::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            DVec::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
            DVec::I64(v) => v.iter().map(|&x| x as u64).collect(),
            DVec::I32(v) => v.iter().map(|&x| x as i64 as u64).collect(),
        }
    }

    /// Element `i` as f64 (exact for float dtypes and for integers up to 2**53;
    /// [`DVec::number`] is always exact).
    pub fn get(&self, i: usize) -> f64 {
        match self {
            DVec::F64(v) => v[i],
            DVec::F32(v) => v[i] as f64,
            DVec::I64(v) => v[i] as f64,
            DVec::I32(v) => v[i] as f64,
        }
    }

    /// Sets element `i`, cast to the dtype.
    pub fn set(&mut self, i: usize, x: f64) {
        match self {
            DVec::F64(v) => v[i] = x,
            DVec::F32(v) => v[i] = x as f32,
            DVec::I64(v) => v[i] = x as i64,
            DVec::I32(v) => v[i] = x as i32,
        }
    }

    /// Length.
    pub fn len(&self) -> usize {
        match self {
            DVec::F64(v) => v.len(),
            DVec::F32(v) => v.len(),
            DVec::I64(v) => v.len(),
            DVec::I32(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows (or shrinks) to `n`, filling with zeros.
    pub fn resize(&mut self, n: usize) {
        match self {
            DVec::F64(v) => v.resize(n, 0.0),
            DVec::F32(v) => v.resize(n, 0.0),
            DVec::I64(v) => v.resize(n, 0),
            DVec::I32(v) => v.resize(n, 0),
        }
    }

    /// All elements as f64 (see [`DVec::get`]; [`DVec::numbers`] is exact).
    pub fn to_f64(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    pub(crate) fn arg(&mut self) -> Arg<'_> {
        match self {
            DVec::F64(v) => Arg::PtrF64(v),
            DVec::F32(v) => Arg::PtrF32(v),
            DVec::I64(v) => Arg::PtrI64(v),
            DVec::I32(v) => Arg::PtrI32(v),
        }
    }
}

/// Equal when the values are, as f64: `session().y == [1.0, 0.0]` reads naturally.
impl<const N: usize> PartialEq<[f64; N]> for DVec {
    fn eq(&self, other: &[f64; N]) -> bool {
        self.len() == N && self.to_f64() == other
    }
}

/// One recorded series: floats for float models (float32 values widened exactly), ints
/// for integer models (int32 widened), so no value is ever rounded on its way to the user.
#[derive(Clone, Debug, PartialEq)]
pub enum Series {
    /// A float model's series.
    Float(Vec<f64>),
    /// An integer model's series.
    Int(Vec<i64>),
}

impl Series {
    /// An empty series for values of `elem`.
    pub fn empty(elem: Elem) -> Series {
        match elem {
            Elem::F64 | Elem::F32 => Series::Float(Vec::new()),
            Elem::I64 | Elem::I32 => Series::Int(Vec::new()),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Series::Float(v) => v.len(),
            Series::Int(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` exactly.
    pub fn number(&self, i: usize) -> Number {
        match self {
            Series::Float(v) => Number::Float(v[i]),
            Series::Int(v) => Number::Int(v[i]),
        }
    }

    /// The samples as f64 (exact for floats and integers up to 2**53).
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Series::Float(v) => v.clone(),
            Series::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }
}

/// Recorded series in their final layout, one column after another: column k is
/// `data[k * stride..][..rows]`. The runner writes its samples straight into this layout
/// (its record buffer, with the capacity as the stride), and results keep the buffer, so a
/// run's series are borrowed without a copy or a conversion (float32 and int32 models'
/// values are widened once).
#[derive(Clone, Debug)]
pub struct Block {
    data: Series,
    stride: usize,
    rows: usize,
    cols: usize,
}

impl Block {
    /// No samples of `cols` columns of values of `elem`.
    pub fn empty(elem: Elem, cols: usize) -> Block {
        Block {
            data: Series::empty(elem),
            stride: 0,
            rows: 0,
            cols,
        }
    }

    /// A runner's record buffer of `cols` columns with `stride` rows of room, `rows` of
    /// them written. Widening (float32, int32) compacts as it goes; a buffer with much
    /// room to spare is compacted in place (no new memory).
    pub(crate) fn from_buffer(buf: DVec, stride: usize, rows: usize, cols: usize) -> Block {
        fn widen<T: Copy, U>(
            v: &[T],
            stride: usize,
            rows: usize,
            cols: usize,
            f: impl Fn(T) -> U,
        ) -> Vec<U> {
            (0..cols)
                .flat_map(|k| v[k * stride..k * stride + rows].iter().map(|&x| f(x)))
                .collect()
        }
        let (data, stride) = match buf {
            DVec::F64(v) => (Series::Float(v), stride),
            DVec::I64(v) => (Series::Int(v), stride),
            DVec::F32(v) => (
                Series::Float(widen(&v, stride, rows, cols, |x| x as f64)),
                rows,
            ),
            DVec::I32(v) => (
                Series::Int(widen(&v, stride, rows, cols, |x| x as i64)),
                rows,
            ),
        };
        let mut b = Block {
            data,
            stride,
            rows,
            cols,
        };
        if b.stride > b.rows + b.rows / 8 + 64 {
            b.compact();
        }
        b
    }

    /// Moves the columns together (stride = rows) and frees the room after them.
    fn compact(&mut self) {
        fn go<T: Copy>(v: &mut Vec<T>, stride: usize, rows: usize, cols: usize) {
            for k in 1..cols {
                v.copy_within(k * stride..k * stride + rows, k * rows);
            }
            v.truncate(rows * cols);
            v.shrink_to_fit();
        }
        match &mut self.data {
            Series::Float(v) => go(v, self.stride, self.rows, self.cols),
            Series::Int(v) => go(v, self.stride, self.rows, self.cols),
        }
        self.stride = self.rows;
    }

    /// Samples per column.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Column `k`, borrowed.
    pub fn column(&self, k: usize) -> crate::results::Column<'_> {
        assert!(k < self.cols, "column {k} of {}", self.cols);
        let at = k * self.stride;
        match &self.data {
            Series::Float(v) => crate::results::Column::Float(&v[at..at + self.rows]),
            Series::Int(v) => crate::results::Column::Int(&v[at..at + self.rows]),
        }
    }

    /// A block of columns `cols` of this one, in that order (compact: stride = rows).
    pub(crate) fn select(&self, cols: &[usize]) -> Block {
        fn go<T: Copy>(v: &[T], stride: usize, rows: usize, cols: &[usize]) -> Vec<T> {
            let mut out = Vec::with_capacity(rows * cols.len());
            for &k in cols {
                out.extend_from_slice(&v[k * stride..k * stride + rows]);
            }
            out
        }
        let data = match &self.data {
            Series::Float(v) => Series::Float(go(v, self.stride, self.rows, cols)),
            Series::Int(v) => Series::Int(go(v, self.stride, self.rows, cols)),
        };
        Block {
            data,
            stride: self.rows,
            rows: self.rows,
            cols: cols.len(),
        }
    }

    /// Appends `other`'s rows from `skip` on (same columns, same kind). The room grows
    /// geometrically, so appending many runs costs linear time.
    pub(crate) fn append(&mut self, other: &Block, skip: usize) {
        debug_assert_eq!(self.cols, other.cols);
        let add = other.rows.saturating_sub(skip);
        if add == 0 || self.cols == 0 {
            self.rows += add;
            return;
        }
        let need = self.rows + add;
        if need > self.stride {
            let stride = need.max(self.stride * 2);
            fn regrid<T: Copy + Default>(
                v: &[T],
                old: usize,
                new: usize,
                rows: usize,
                cols: usize,
            ) -> Vec<T> {
                let mut out = vec![T::default(); new * cols];
                for k in 0..cols {
                    out[k * new..k * new + rows].copy_from_slice(&v[k * old..k * old + rows]);
                }
                out
            }
            self.data = match &self.data {
                Series::Float(v) => {
                    Series::Float(regrid(v, self.stride, stride, self.rows, self.cols))
                }
                Series::Int(v) => Series::Int(regrid(v, self.stride, stride, self.rows, self.cols)),
            };
            self.stride = stride;
        }
        fn copy<T: Copy>(
            dst: &mut [T],
            src: &[T],
            b: (usize, usize, usize),
            o: (usize, usize),
            skip: usize,
            add: usize,
        ) {
            let (stride, rows, cols) = b;
            let (ostride, _) = o;
            for k in 0..cols {
                let from = &src[k * ostride + skip..k * ostride + skip + add];
                dst[k * stride + rows..k * stride + rows + add].copy_from_slice(from);
            }
        }
        let geometry = (self.stride, self.rows, self.cols);
        match (&mut self.data, &other.data) {
            (Series::Float(d), Series::Float(s)) => {
                copy(d, s, geometry, (other.stride, other.rows), skip, add)
            }
            (Series::Int(d), Series::Int(s)) => {
                copy(d, s, geometry, (other.stride, other.rows), skip, add)
            }
            _ => debug_assert!(false, "blocks of different kinds"),
        }
        self.rows = need;
    }
}

/// Equal when the columns hold the same samples (the room after them does not count).
impl PartialEq for Block {
    fn eq(&self, other: &Block) -> bool {
        self.cols == other.cols
            && self.rows == other.rows
            && (0..self.cols).all(|k| self.column(k) == other.column(k))
    }
}

/// How a run ended (runtime.md §3.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The horizon was reached or the step budget used up.
    Done,
    /// The stop condition fired.
    EarlyExit,
    /// The stepper failed (adaptive control or Newton).
    StepFail,
    /// A proposal was not finite.
    NanDetected,
    /// The run was interrupted from outside ([`crate::Interrupt`]: Ctrl-C, `SIGTERM`, ...)
    /// and stopped at a step boundary.
    UserBreak,
    /// The record or event buffers could not grow: the memory limit of the run
    /// ([`RunSpec::memory_limit`]) was reached, or the allocation failed.
    MemoryLimit,
    /// The model raised an arithmetic fault Python would have raised on: an integer
    /// division or modulo by zero, a NaN, infinite or out-of-range value made an integer,
    /// a `range` with step 0 (the results' warnings say which).
    ArithmeticFault,
}

impl Status {
    /// The reference's name (`DONE`, `EARLY_EXIT`, `STEPFAIL`, `NAN_DETECTED`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "DONE",
            Status::EarlyExit => "EARLY_EXIT",
            Status::StepFail => "STEPFAIL",
            Status::NanDetected => "NAN_DETECTED",
            Status::UserBreak => "USER_BREAK",
            Status::MemoryLimit => "MEMORY_LIMIT",
            Status::ArithmeticFault => "ARITHMETIC_FAULT",
        }
    }

    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::Done,
        Status::EarlyExit,
        Status::StepFail,
        Status::NanDetected,
        Status::UserBreak,
        Status::MemoryLimit,
        Status::ArithmeticFault,
    ];

    /// The status with this reference name (the inverse of [`Status::name`]).
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }

    /// True for the statuses that end a run successfully.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Done | Status::EarlyExit)
    }
}

/// What to run: the resolved options of one runner invocation.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Start time.
    pub t0: f64,
    /// Horizon (ODE).
    pub t_end: f64,
    /// Nominal step (ODE) or label spacing (map).
    pub dt: f64,
    /// Step cap (ODE) or number of iterations (map).
    pub max_steps: u64,
    /// Record every k steps; 0 records nothing.
    pub record_interval: u64,
    /// Initial state, in the model dtype.
    pub y0: DVec,
    /// Parameters, in the model dtype.
    pub params: DVec,
    /// Stepper configuration, in [`crate::stepper::StepperSpec::config`] order.
    pub config: Vec<f64>,
    /// The `dt` the caller passed explicitly, which caps an adaptive first step.
    pub explicit_dt: Option<f64>,
    /// Adaptive steppers only: choose the first step with the WRMS heuristic (fresh runs and
    /// the recorded part after a transient); otherwise the first step is `dt`.
    pub wrms_first_step: bool,
    /// The stepper workspace and lag rings to continue from (resume, or the recorded part
    /// after a transient); `None` starts fresh.
    pub workspace: Option<Workspace>,
    /// Indices of the recorded states.
    pub rec_states: Vec<usize>,
    /// Indices of the recorded aux.
    pub rec_aux: Vec<usize>,
    /// Initial record capacity (samples).
    pub cap_rec: usize,
    /// Initial event capacity (rows).
    pub cap_evt: usize,
    /// Initial trace capacity (rows; analysis runs).
    pub cap_trace: usize,
    /// The most the record and event buffers may take together, in bytes; a run that
    /// would need more stops with [`Status::MemoryLimit`] and keeps what it recorded.
    /// [`default_memory_limit`] is half the machine's memory.
    pub memory_limit: u64,
    /// Checked between chunks of steps: once requested, the run stops with
    /// [`Status::UserBreak`].
    pub interrupt: Option<crate::Interrupt>,
    /// Called between chunks of steps with how far the run has come.
    pub progress: Option<crate::options::ProgressHook>,
    /// Run the kernel's observers (its analysis runner); false for a kernel without
    /// observers, and for a transient (observers never see the warm-up).
    pub observe: bool,
    /// A trace row every k steps (observers with traces; 0: none).
    pub trace_stride: u64,
    /// Run the fast-path variant (no capacity checks in the loop; same results).
    pub fastpath: bool,
    /// On a tiered kernel, switch from the interpreter to native code at exactly this step
    /// (testing; `RunOptions::tier_switch_step`).
    #[doc(hidden)]
    pub tier_switch_step: Option<u64>,
}

/// The bytes the observers' trace buffer takes (counted against the memory limit with the
/// record and event buffers).
fn trace_bytes(b: &Buffers) -> u64 {
    (b.trace.len() as u64).saturating_mul(8)
}

/// A buffer the driver grows.
#[derive(Copy, Clone, Debug)]
enum Grow {
    Records,
    Events,
    Trace,
}

/// Half the physical memory of this machine (4 GiB when the system does not say): the
/// default memory limit of a run's result buffers, so a run that
/// records too much stops with `MEMORY_LIMIT` and its partial results instead of being
/// killed by the operating system with nothing kept.
pub fn default_memory_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| dynlib_fs::os::physical_memory().map_or(4 << 30, |m| m / 2))
}

/// One logged event row.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// The event's index in the model's event list.
    pub event: usize,
    /// The index of the last sample recorded before the event (-1: none yet).
    pub record_index: i64,
    /// The logged values: the time as a float always, states, params and aux as the model
    /// computes them (exact integers in integer models).
    pub values: Vec<Number>,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// How it ended.
    pub status: Status,
    /// What the solver did.
    pub stats: SolverStats,
    /// Recorded times.
    pub t: Vec<f64>,
    /// Recorded step numbers.
    pub step: Vec<i64>,
    /// Recorded states: column k is the series of `rec_states[k]`.
    pub states: Block,
    /// Recorded aux series: column k is the series of `rec_aux[k]`.
    pub aux: Block,
    /// Logged event rows, in order.
    pub events: Vec<EventRow>,
    /// Steps taken.
    pub steps: u64,
    /// Of those, the steps native code took: all of them on a native kernel, none on an
    /// interpreted one, and on a tiered kernel those after the switch (the others ran in
    /// the interpreter while the runner compiled). A transient's are included.
    pub native_steps: u64,
    /// Final time.
    pub t_final: f64,
    /// The step size the stepper proposed last (the nominal dt if no step was taken).
    pub dt_final: f64,
    /// Final state.
    pub y_final: DVec,
    /// Final parameters (events may change them).
    pub params_final: DVec,
    /// The final workspace, to resume from.
    pub workspace: Workspace,
    /// Why the run stopped, when the status alone does not say (time that no longer
    /// advances, the memory limit, an interrupt).
    pub warnings: Vec<String>,
    /// The runner variant that ran it.
    pub variant: RunnerVariant,
    /// How many runs were advanced side by side in the run that computed this one (1:
    /// alone; more in a batch that packed runs into lanes, [`crate::plan::lanes`]). The
    /// numbers are the same either way.
    pub lanes: usize,
    /// Each observer's outputs and trace, in the kernel's order (empty without observers).
    pub observers: Vec<ObserverResult>,
}

/// What a run's solver did: steps accepted and rejected, and the work behind them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SolverStats {
    /// Steps taken (accepted).
    pub accepted: u64,
    /// Step attempts rejected (an error too large, a failed Newton solve, a non-finite
    /// stage), each retried with a smaller step.
    pub rejected: u64,
    /// Right-hand side evaluations, finite differences and the adaptive initial step
    /// included (a map's iterations).
    pub rhs: u64,
    /// Jacobian evaluations (declared, derived or by finite differences).
    pub jacobians: u64,
    /// Newton iterations.
    pub newton: u64,
    /// LU factorisations.
    pub lu: u64,
}

impl SolverStats {
    /// The two runs' together (a transient and its recorded run, a session's segments).
    pub fn plus(self, o: SolverStats) -> SolverStats {
        SolverStats {
            accepted: self.accepted + o.accepted,
            rejected: self.rejected + o.rejected,
            rhs: self.rhs + o.rhs,
            jacobians: self.jacobians + o.jacobians,
            newton: self.newton + o.newton,
            lu: self.lu + o.lu,
        }
    }
}

/// Every buffer the runner touches.
struct Buffers {
    fctl: Vec<f64>,
    ictl: Vec<i64>,
    y: DVec,
    p: DVec,
    w: Workspace,
    aux: DVec,
    cfg: Vec<f64>,
    y_prop: DVec,
    sout: Vec<f64>,
    /// The solver statistics counters (`STAT_*`), added to by the steps.
    stats: Vec<i64>,
    rec_t: Vec<f64>,
    rec_y: DVec,
    rec_aux: DVec,
    rec_step: Vec<i64>,
    evt_code: Vec<i64>,
    evt_index: Vec<i64>,
    evt_log: Vec<f64>,
    scratch: Vec<f64>,
    evt_ilog: Vec<i64>,
    iscratch: Vec<i64>,
    rec_states: Vec<i64>,
    rec_aux_idx: Vec<i64>,
    /// The observers' vectors, outputs and trace rows (analysis runs only).
    avec: Vec<DVec>,
    aout: Vec<f64>,
    trace: Vec<f64>,
}

impl Buffers {
    /// Every buffer, in the runner's parameter order ([`RunnerAbi`]); each is lent once.
    fn runner_args(&mut self, abi: &RunnerAbi) -> Vec<Arg<'_>> {
        let Buffers {
            fctl,
            ictl,
            y,
            p,
            aux,
            cfg,
            y_prop,
            sout,
            stats,
            rec_t,
            rec_y,
            rec_aux,
            rec_step,
            evt_code,
            evt_index,
            evt_log,
            scratch,
            evt_ilog,
            iscratch,
            rec_states,
            rec_aux_idx,
            w,
            avec,
            aout,
            trace,
        } = self;
        let Workspace {
            vectors,
            matrices,
            indices,
            scalars,
            ring,
            head,
        } = w;
        let mut fctl = Some(fctl);
        let mut ictl = Some(ictl);
        let mut y = Some(y);
        let mut p = Some(p);
        let mut aux = Some(aux);
        let mut cfg = Some(cfg);
        let mut y_prop = Some(y_prop);
        let mut sout = Some(sout);
        let mut stats = Some(stats);
        let mut rec_t = Some(rec_t);
        let mut rec_y = Some(rec_y);
        let mut rec_aux = Some(rec_aux);
        let mut rec_step = Some(rec_step);
        let mut evt_code = Some(evt_code);
        let mut evt_index = Some(evt_index);
        let mut evt_log = Some(evt_log);
        let mut scratch = Some(scratch);
        let mut evt_ilog = Some(evt_ilog);
        let mut iscratch = Some(iscratch);
        let mut rec_states = Some(rec_states);
        let mut rec_aux_idx = Some(rec_aux_idx);
        let mut scalars = Some(scalars);
        let mut ring = Some(ring);
        let mut head = Some(head);
        let mut vectors: Vec<Option<&mut DVec>> = vectors.iter_mut().map(Some).collect();
        let mut matrices: Vec<Option<&mut DVec>> = matrices.iter_mut().map(Some).collect();
        let mut indices: Vec<Option<&mut Vec<i64>>> = indices.iter_mut().map(Some).collect();
        let mut avec: Vec<Option<&mut DVec>> = avec.iter_mut().map(Some).collect();
        let mut aout = Some(aout);
        let mut trace = Some(trace);
        macro_rules! lend {
            ($x:expr) => {
                $x.take().expect("the runner ABI lists each buffer once")
            };
        }
        use RunnerParam as R;
        abi.order()
            .into_iter()
            .map(|param| match param {
                R::Fctl => Arg::PtrF64(lend!(fctl)),
                R::Ictl => Arg::PtrI64(lend!(ictl)),
                R::Y => lend!(y).arg(),
                R::P => lend!(p).arg(),
                R::Ring => lend!(ring).arg(),
                R::Head => Arg::PtrI64(lend!(head)),
                R::Aux => lend!(aux).arg(),
                R::Work(Buf::Vector(k)) => lend!(vectors[k]).arg(),
                R::Work(Buf::Matrix(k)) => lend!(matrices[k]).arg(),
                R::Work(Buf::Index(k)) => Arg::PtrI64(lend!(indices[k])),
                R::Scalars => Arg::PtrF64(lend!(scalars)),
                R::Config => Arg::PtrF64(lend!(cfg)),
                R::YProp => lend!(y_prop).arg(),
                R::StepOut => Arg::PtrF64(lend!(sout)),
                R::RecT => Arg::PtrF64(lend!(rec_t)),
                R::RecY => lend!(rec_y).arg(),
                R::RecAux => lend!(rec_aux).arg(),
                R::RecStep => Arg::PtrI64(lend!(rec_step)),
                R::EvtCode => Arg::PtrI64(lend!(evt_code)),
                R::EvtIndex => Arg::PtrI64(lend!(evt_index)),
                R::EvtLog => Arg::PtrF64(lend!(evt_log)),
                R::Scratch => Arg::PtrF64(lend!(scratch)),
                R::RecStates => Arg::PtrI64(lend!(rec_states)),
                R::RecAuxIdx => Arg::PtrI64(lend!(rec_aux_idx)),
                R::IScratch => Arg::PtrI64(lend!(iscratch)),
                R::EvtILog => Arg::PtrI64(lend!(evt_ilog)),
                R::Stats => Arg::PtrI64(lend!(stats)),
                R::Analysis(k) => lend!(avec[k]).arg(),
                R::AnalysisOut => Arg::PtrF64(lend!(aout)),
                R::Trace => Arg::PtrF64(lend!(trace)),
            })
            .collect()
    }
}

/// Doubles `cap` until it holds `need`.
fn grown(cap: usize, need: usize) -> Result<usize, RuntimeError> {
    let mut c = cap.max(1);
    while c < need {
        c = c.checked_mul(2).ok_or_else(too_big)?;
    }
    Ok(c)
}

fn too_big() -> RuntimeError {
    RuntimeError::Incompatible("the record or event buffers would exceed the address space".into())
}

/// The length of a buffer of `rows` rows of `width` values (at most 8 bytes each), checked:
/// the runner indexes it as `row * width + k` with no bounds checks in native code, so a
/// wrapped multiplication must never size it.
fn buffer_len(rows: usize, width: usize) -> Result<usize, RuntimeError> {
    rows.checked_mul(width)
        .filter(|&n| n <= isize::MAX as usize / 8)
        .ok_or_else(too_big)
}

/// Bytes one recorded sample takes: time, step, the recorded states and aux.
pub fn record_row_bytes(elem: Elem, states: usize, aux: usize) -> u64 {
    16 + (states + aux) as u64 * elem_bytes(elem)
}

/// Bytes one event row takes: code, record index and the log values.
pub(crate) fn event_row_bytes(width: usize) -> u64 {
    16 + 8 * width as u64
}

fn elem_bytes(elem: Elem) -> u64 {
    match elem {
        Elem::F64 | Elem::I64 => 8,
        Elem::F32 | Elem::I32 => 4,
    }
}

/// A `Vec` of `n` zeros, or `None` when the allocation fails (never an abort).
fn try_zeros<T: Zero>(n: usize) -> Option<Vec<T>> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).ok()?;
    // SAFETY: the layout has a nonzero size; all-zero bytes are a valid T (`Zero`), so the
    // n elements are initialised; the pointer comes from the global allocator with this
    // layout, as `Vec::from_raw_parts` requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut T;
        if p.is_null() {
            return None;
        }
        Some(Vec::from_raw_parts(p, n, n))
    }
}

/// Element types whose all-zero bytes are the value 0, so zeroed memory is a vector of
/// zeros: allocated zeroed by the system (large buffers come as untouched zero pages,
/// faulted in only where the runner writes) instead of written with zeros.
///
/// # Safety
/// All-zero bytes must be a valid value of the type.
unsafe trait Zero: Copy + Default {}
// SAFETY: all-zero bits are 0 (or +0.0) for these.
unsafe impl Zero for f64 {}
unsafe impl Zero for f32 {}
unsafe impl Zero for i64 {}
unsafe impl Zero for i32 {}

/// Grows `v` to `n` elements, or `None` (leaving it as it was) when the allocation fails.
fn try_grow<T: Clone + Default>(v: &mut Vec<T>, n: usize) -> Option<()> {
    v.try_reserve_exact(n.saturating_sub(v.len())).ok()?;
    v.resize(n, T::default());
    Some(())
}

impl DVec {
    fn try_zeros(elem: Elem, n: usize) -> Option<DVec> {
        Some(match elem {
            Elem::F64 => DVec::F64(try_zeros(n)?),
            Elem::F32 => DVec::F32(try_zeros(n)?),
            Elem::I64 => DVec::I64(try_zeros(n)?),
            Elem::I32 => DVec::I32(try_zeros(n)?),
        })
    }

    /// A copy with `cols` column-major columns of `rows` samples moved from a stride of
    /// `old` to one of `new` (a buffer of `len` elements), or `None` when allocation fails.
    fn try_regrid(
        &self,
        old: usize,
        new: usize,
        rows: usize,
        cols: usize,
        len: usize,
    ) -> Option<DVec> {
        fn go<T: Zero>(
            v: &[T],
            old: usize,
            new: usize,
            rows: usize,
            cols: usize,
            len: usize,
        ) -> Option<Vec<T>> {
            let mut out = try_zeros::<T>(len)?;
            for k in 0..cols {
                out[k * new..k * new + rows].copy_from_slice(&v[k * old..k * old + rows]);
            }
            Some(out)
        }
        Some(match self {
            DVec::F64(v) => DVec::F64(go(v, old, new, rows, cols, len)?),
            DVec::F32(v) => DVec::F32(go(v, old, new, rows, cols, len)?),
            DVec::I64(v) => DVec::I64(go(v, old, new, rows, cols, len)?),
            DVec::I32(v) => DVec::I32(go(v, old, new, rows, cols, len)?),
        })
    }
}

/// How many steps the first chunk of a run takes before the interrupt is checked; later
/// chunks are sized to take about [`CHUNK_TARGET`] each (doubling at most, so a model
/// whose steps take seconds is still interrupted after the step under way).
const FIRST_CHUNK: u64 = 1;
/// The time one chunk of steps should take: the latency of a user break.
const CHUNK_TARGET: std::time::Duration = std::time::Duration::from_millis(20);
/// The largest chunk (very fast runs re-enter the runner about 50 times a second anyway).
const MAX_CHUNK: u64 = 1 << 26;

/// The next chunk size from the last one's length and duration.
fn next_chunk(chunk: u64, took: std::time::Duration) -> u64 {
    let took = took.as_secs_f64().max(1e-6);
    let scaled = chunk as f64 * (CHUNK_TARGET.as_secs_f64() / took);
    // At most a doubling per chunk, so one fast chunk cannot schedule minutes of work.
    scaled.clamp(1.0, (chunk * 2) as f64).min(MAX_CHUNK as f64) as u64
}

/// Grows the event buffers to `cap` rows of `width` float and `iwidth` integer log
/// fields, like [`Kernel::grow_records`].
fn grow_events(
    b: &mut Buffers,
    cap: usize,
    (width, iwidth): (usize, usize),
    bytes: u64,
    spec: &RunSpec,
) -> Result<(), String> {
    let have = b.evt_index.len();
    let refuse = |why: String| format!("event logging stopped at {have} rows: {why}");
    if bytes > spec.memory_limit {
        return Err(refuse(format!(
            "growing the buffers to {cap} rows would take {bytes} bytes, more than the memory \
             limit of {} bytes",
            spec.memory_limit
        )));
    }
    let lens = (|| {
        Ok::<_, RuntimeError>((
            buffer_len(cap, 1)?,
            buffer_len(cap, width)?,
            buffer_len(cap, iwidth)?.max(1),
        ))
    })()
    .map_err(|e| refuse(e.to_string()))?;
    let grown = try_grow(&mut b.evt_code, lens.0)
        .and_then(|()| try_grow(&mut b.evt_index, cap))
        .and_then(|()| try_grow(&mut b.evt_log, lens.1))
        .and_then(|()| try_grow(&mut b.evt_ilog, lens.2));
    if grown.is_none() {
        return Err(refuse(format!(
            "allocating {bytes} bytes for {cap} rows failed"
        )));
    }
    b.ictl[ICTL_CAP_EVT as usize] = cap as i64;
    Ok(())
}

/// numpy's `spacing`: the distance from `x` to the next float away from zero.
pub(crate) fn spacing(x: f64) -> f64 {
    let a = x.abs();
    f64::from_bits(a.to_bits() + 1) - a
}

/// What one run's record samples and event rows hold, and what they cost.
struct Rows {
    /// Recorded states per sample.
    nrs: usize,
    /// Recorded aux per sample.
    nra: usize,
    /// f64 log fields per event row (at least one).
    width: usize,
    /// Integer log fields per event row (integer models only; else 0).
    iwidth: usize,
    row_bytes: u64,
    evt_bytes: u64,
    /// f64 values per trace row (analysis runs; else 0).
    trace_width: usize,
    /// Event phases that log rows: the most event rows one step writes.
    log_phases: usize,
}

impl Rows {
    fn of(kernel: &Kernel, spec: &RunSpec) -> Rows {
        let width = kernel.functions.max_log_width.max(1);
        // Integer log fields exist only in integer models (dynlib_ir::lower::log_is_int).
        let iwidth = if kernel.model.dtype.is_float() {
            0
        } else {
            width
        };
        let (nrs, nra) = (spec.rec_states.len(), spec.rec_aux.len());
        Rows {
            nrs,
            nra,
            width,
            iwidth,
            row_bytes: record_row_bytes(kernel.elem(), nrs, nra),
            evt_bytes: event_row_bytes(width + iwidth),
            log_phases: [Phase::Start, Phase::End]
                .into_iter()
                .filter(|&p| crate::runner::logs_in(&kernel.model, p))
                .count(),
            trace_width: kernel
                .observers()
                .filter(|_| spec.observe)
                .map_or(0, |o| o.layout(kernel.model.states.len()).trace_width()),
        }
    }

    /// The bytes of `rec` samples and `evt` event rows.
    fn footprint(&self, rec: usize, evt: usize) -> u64 {
        (rec as u64)
            .saturating_mul(self.row_bytes)
            .saturating_add((evt as u64).saturating_mul(self.evt_bytes))
    }
}

impl Buffers {
    /// Every buffer of a run of `kernel`: the state and workspace from `spec` and `w`, the
    /// record and event buffers at the spec's initial capacities (refused past the memory
    /// limit, or when they cannot be allocated).
    fn new(
        kernel: &Kernel,
        spec: &RunSpec,
        rows: &Rows,
        w: Workspace,
    ) -> Result<Buffers, RuntimeError> {
        let elem = kernel.elem();
        let n = kernel.model.states.len();
        let cap_rec = spec.cap_rec.max(1);
        let cap_evt = spec.cap_evt.max(1);
        let (nrs, nra, width, iwidth) = (rows.nrs, rows.nra, rows.width, rows.iwidth);
        let bytes = rows.footprint(cap_rec, cap_evt);
        if bytes > spec.memory_limit {
            return Err(RuntimeError::option(
                "cap_rec/cap_evt",
                format!(
                    "initial buffers of {cap_rec} samples and {cap_evt} event rows need {bytes} \
                     bytes, more than the memory limit of {} bytes",
                    spec.memory_limit
                ),
            ));
        }
        let alloc_failed = || {
            RuntimeError::option(
                "cap_rec/cap_evt",
                format!(
                    "cannot allocate initial buffers of {cap_rec} samples and {cap_evt} event rows"
                ),
            )
        };
        let mut b = Buffers {
            fctl: vec![0.0; FCTL_LEN],
            ictl: vec![0; ICTL_LEN],
            y: spec.y0.clone(),
            p: spec.params.clone(),
            w,
            aux: DVec::zeros(elem, kernel.model.aux.len()),
            cfg: spec.config.clone(),
            y_prop: DVec::zeros(elem, n),
            sout: vec![0.0; STEP_OUT_LEN],
            stats: vec![0; STATS_LEN],
            rec_t: try_zeros(buffer_len(cap_rec, 1)?).ok_or_else(alloc_failed)?,
            rec_y: DVec::try_zeros(elem, buffer_len(cap_rec, nrs)?).ok_or_else(alloc_failed)?,
            rec_aux: DVec::try_zeros(elem, buffer_len(cap_rec, nra)?).ok_or_else(alloc_failed)?,
            rec_step: try_zeros(cap_rec).ok_or_else(alloc_failed)?,
            evt_code: try_zeros(buffer_len(cap_evt, 1)?).ok_or_else(alloc_failed)?,
            evt_index: try_zeros(cap_evt).ok_or_else(alloc_failed)?,
            evt_log: try_zeros(buffer_len(cap_evt, width)?).ok_or_else(alloc_failed)?,
            scratch: vec![0.0; width],
            evt_ilog: try_zeros(buffer_len(cap_evt, iwidth)?.max(1)).ok_or_else(alloc_failed)?,
            iscratch: vec![0; width],
            rec_states: spec.rec_states.iter().map(|&i| i as i64).collect(),
            rec_aux_idx: spec.rec_aux.iter().map(|&i| i as i64).collect(),
            avec: Vec::new(),
            aout: Vec::new(),
            trace: Vec::new(),
        };
        if let Some(obs) = kernel.observers().filter(|_| spec.observe) {
            let layout = obs.layout(n);
            let mut vectors = vec![vec![0.0; n]; kernel.analysis_vectors()];
            let mut outputs = vec![0.0; layout.total_outputs.max(1)];
            let modes = &kernel.analysis.as_ref().expect("observers").modes;
            for (k, m) in obs.modules().iter().enumerate() {
                let (v0, o0) = (layout.vectors[k], layout.outputs[k]);
                m.initialise(
                    kernel.model.kind,
                    modes[k],
                    &mut vectors[v0..v0 + m.vectors(n)],
                    &mut outputs[o0..o0 + m.outputs().len()],
                );
            }
            b.avec = vectors.iter().map(|v| DVec::from_f64(elem, v)).collect();
            b.aout = outputs;
            let rows = spec.cap_trace.max(1);
            let len = buffer_len(rows, layout.trace_width())?;
            let trace_bytes = (len as u64).saturating_mul(8);
            let refuse = |why: String| {
                RuntimeError::option(
                    "cap_trace",
                    format!(
                        "the observers' trace of {rows} rows ({trace_bytes} bytes) {why}; \
                         trace less often (record_interval)"
                    ),
                )
            };
            if trace_bytes.saturating_add(bytes) > spec.memory_limit {
                return Err(refuse(format!(
                    "and the other buffers pass the memory limit of {} bytes",
                    spec.memory_limit
                )));
            }
            b.trace = try_zeros(len).ok_or_else(|| refuse("cannot be allocated".into()))?;
        }
        if b.cfg.is_empty() {
            b.cfg.push(0.0);
        }
        Ok(b)
    }
}

/// Fills the control slots for the run's first call: time, first step, horizon, the
/// label origin, the record interval, capacities and recorded counts. Returns the step cap.
fn set_controls(
    b: &mut Buffers,
    spec: &RunSpec,
    rows: &Rows,
    dt0: f64,
) -> Result<i64, RuntimeError> {
    b.fctl[FCTL_T as usize] = spec.t0;
    b.fctl[FCTL_DT as usize] = dt0;
    b.fctl[FCTL_T_END as usize] = spec.t_end;
    b.fctl[FCTL_T_LABEL0 as usize] = spec.t0;
    let count = |option: &str, what: &str, v: u64| {
        i64::try_from(v).map_err(|_| {
            RuntimeError::option(
                option,
                format!("{v}{what} cannot be counted (at most {})", i64::MAX),
            )
        })
    };
    let max_steps = count("max_steps", " steps", spec.max_steps)?;
    b.ictl[ICTL_INTERVAL as usize] = count("record_interval", "", spec.record_interval)?;
    b.ictl[ICTL_CAP_REC as usize] = b.rec_step.len() as i64;
    b.ictl[ICTL_CAP_EVT as usize] = b.evt_index.len() as i64;
    b.ictl[ICTL_N_REC_STATES as usize] = rows.nrs as i64;
    b.ictl[ICTL_N_REC_AUX as usize] = rows.nra as i64;
    if !b.aout.is_empty() {
        b.ictl[ICTL_TRACE_STRIDE as usize] =
            count("record_interval", " (the trace stride)", spec.trace_stride)?;
        b.ictl[ICTL_TRACE_CAP as usize] = (b.trace.len() / rows.trace_width.max(1)) as i64;
    }
    Ok(max_steps)
}

/// The status a final runner code means, with the reason when the status alone does not
/// say it.
fn terminal(code: i32, b: &Buffers) -> Result<(Status, Option<String>), RuntimeError> {
    Ok(match code {
        status::DONE => (Status::Done, None),
        status::EARLY_EXIT => (Status::EarlyExit, None),
        status::NAN_DETECTED => (Status::NanDetected, None),
        status::STEPFAIL => (Status::StepFail, None),
        status::STALLED => {
            let t = b.fctl[FCTL_T as usize];
            let why = format!(
                "time no longer advances at t = {t}: t + dt == t for dt = {} (a step smaller \
                 than half the spacing of floating-point numbers near t, {}); use a larger dt \
                 or start nearer 0",
                b.fctl[FCTL_DT as usize],
                spacing(t)
            );
            (Status::StepFail, Some(why))
        }
        code if (status::FAULT..status::FAULT_END).contains(&code) => {
            let why = format!(
                "arithmetic fault at t = {} (step {}): {}; the run stops here rather than go \
                 on with a meaningless number",
                b.fctl[FCTL_T as usize],
                b.ictl[ICTL_STEP as usize],
                dynlib_ir::lower::fault::describe(code - status::FAULT),
            );
            (Status::ArithmeticFault, Some(why))
        }
        other => {
            return Err(RuntimeError::Internal(format!(
                "runner returned unknown status {other}"
            )))
        }
    })
}

impl Kernel {
    /// A fresh workspace for a run starting at `y0`: zero stepper buffers, every lag slot
    /// at the initial value and each head at its last slot (runtime.md §3.6).
    pub fn fresh_workspace(&self, y0: &DVec) -> Workspace {
        let lags = &self.functions.lags;
        let mut w = Workspace::zeros(&self.stepper.workspace, self.elem(), &self.dims());
        for r in &lags.rings {
            for k in 0..r.len {
                w.ring.copy_from(r.offset + k, y0, r.state);
            }
        }
        w.head = lags.rings.iter().map(|r| r.len as i64 - 1).collect();
        w
    }

    /// Checks that `w` has this kernel's shapes (each stepper buffer, the scalar slots,
    /// rings, heads, the dtype); the error names the buffer and `whose` it is.
    pub fn check_workspace(&self, w: &Workspace, whose: &str) -> Result<(), RuntimeError> {
        w.check(
            &self.stepper.workspace,
            self.model.dtype,
            &self.dims(),
            whose,
        )
    }

    /// Checks that `spec` has this kernel's shapes: one value per state and parameter, one
    /// per stepper configuration field, recorded indices that exist. Native code indexes
    /// buffers without bounds checks, so nothing unchecked reaches it.
    fn check_spec(&self, spec: &RunSpec) -> Result<(), RuntimeError> {
        let model = &self.model;
        let shape = |what: &'static str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(RuntimeError::Shape {
                    whose: "the run".to_string(),
                    what,
                    expected,
                    at_least: false,
                    found,
                })
            }
        };
        shape("initial state values", model.states.len(), spec.y0.len())?;
        shape("parameter values", model.params.len(), spec.params.len())?;
        if spec.observe && self.observers().is_none() {
            return Err(RuntimeError::option(
                "observe",
                "this kernel has no observers; build it with SetupOptions::observers",
            ));
        }
        if spec.y0.elem() != self.elem() || spec.params.elem() != self.elem() {
            return Err(RuntimeError::Incompatible(format!(
                "the run's values are {:?}, the model computes in {}",
                spec.y0.elem(),
                self.model.dtype.as_str()
            )));
        }
        shape(
            "stepper configuration values",
            self.stepper.config.len(),
            spec.config.len(),
        )?;
        let index = |what: &str, idx: &[usize], len: usize| match idx.iter().find(|&&i| i >= len) {
            Some(i) => Err(RuntimeError::Incompatible(format!(
                "recorded {what} index {i} is out of range (the model has {len})"
            ))),
            None => Ok(()),
        };
        index("state", &spec.rec_states, model.states.len())?;
        index("aux", &spec.rec_aux, model.aux.len())
    }

    /// Runs the kernel from `spec.y0` to the horizon, growing buffers as needed.
    pub fn run(&self, machine: &mut Machine, spec: &RunSpec) -> Result<RunOutput, RuntimeError> {
        self.check_spec(spec)?;
        let w = match &spec.workspace {
            Some(w) => {
                self.check_workspace(w, "the workspace to resume from")?;
                w.clone()
            }
            None => self.fresh_workspace(&spec.y0),
        };
        let rows = Rows::of(self, spec);
        let mut b = Buffers::new(self, spec, &rows, w)?;
        let dt0 = match (self.model.kind, self.initial_step) {
            (ModelKind::Ode, Some(init)) if spec.wrms_first_step => {
                let h = self.initial_dt(machine, &mut b, init, spec)?;
                // Its two evaluations, f(t0, y0) and f at the trial state.
                b.stats[STAT_RHS] += 2;
                h
            }
            _ => spec.dt,
        };
        let max_steps = set_controls(&mut b, spec, &rows, dt0)?;
        let variant = RunnerVariant::of(spec.observe, spec.fastpath);
        let (status, warnings, native_steps) =
            self.drive(machine, &mut b, spec, &rows, max_steps, variant)?;
        let mut out = self.output(b, &rows, status, warnings, dt0, variant);
        out.native_steps = native_steps;
        Ok(out)
    }

    /// Calls the runner `variant` until it ends the run: grows a full buffer and
    /// re-enters, checks the interrupt at each chunk's end and re-enters, and turns the
    /// final status code into a [`Status`] with the reason, if it needs one. A fast-path
    /// runner checks no capacity: each of its calls ends before it could write a row that
    /// does not fit ([`Kernel::fast_room`]), and buffers grow between calls.
    fn drive(
        &self,
        machine: &mut Machine,
        b: &mut Buffers,
        spec: &RunSpec,
        rows: &Rows,
        max_steps: i64,
        variant: RunnerVariant,
    ) -> Result<(Status, Vec<String>, u64), RuntimeError> {
        // The runner is called in chunks of steps, so the interrupt is seen within about
        // CHUNK_TARGET; a chunk's end is a re-entry like a growth, invisible in the results.
        // On a tiered kernel a chunk's end is also where the run switches to native code
        // (each call takes it once it is loaded): both backends run the same runner on the
        // same buffers and give the same bits, so the switch is invisible too.
        let mut warnings = Vec::new();
        let mut native_steps = 0u64;
        let first_step = b.ictl[ICTL_STEP as usize];
        let mut chunk = FIRST_CHUNK;
        let mut chunk_start = std::time::Instant::now();
        let chunk_end = |b: &Buffers, chunk: u64| {
            let step = b.ictl[ICTL_STEP as usize];
            step.saturating_add(chunk.min(i64::MAX as u64) as i64)
                .min(max_steps)
        };
        let mut target = chunk_end(b, chunk);
        let fast = !variant.checks_capacity();
        let status = loop {
            let mut end = target;
            // A call that takes no step writes at most the t0 sample, which always fits.
            if fast && self.chunk_ended(b, end, spec) {
                match self.fast_room(b, rows, spec) {
                    Ok(room) => end = end.min(b.ictl[ICTL_STEP as usize].saturating_add(room)),
                    Err(why) => {
                        warnings.push(why);
                        break Status::MemoryLimit;
                    }
                }
            }
            let before = b.ictl[ICTL_STEP as usize];
            let tiering = self.tiering(spec, before);
            if let (Tiering::Interp, Some(k)) = (tiering, spec.tier_switch_step) {
                end = end.min(k.min(i64::MAX as u64) as i64);
            }
            b.ictl[ICTL_MAX_STEPS as usize] = end;
            let (code, native) = self.call_runner(machine, b, variant, tiering)?;
            if native {
                native_steps += (b.ictl[ICTL_STEP as usize] - before).max(0) as u64;
            }
            let grown = match code {
                status::GROW_REC => self.grow(b, Grow::Records, 1, rows, spec),
                status::GROW_EVT => self.grow(b, Grow::Events, 2, rows, spec),
                status::GROW_TRACE => self.grow(b, Grow::Trace, 1, rows, spec),
                // A fast-path call that stopped short of its chunk for room: grow, go on.
                status::DONE
                    if self.chunk_ended(b, max_steps, spec)
                        && b.ictl[ICTL_STEP as usize] < target =>
                {
                    Ok(())
                }
                status::DONE if self.chunk_ended(b, max_steps, spec) => {
                    if spec.interrupt.as_ref().is_some_and(|i| i.is_requested()) {
                        warnings.push(format!(
                            "the run was interrupted at t = {} after {} steps",
                            b.fctl[FCTL_T as usize], b.ictl[ICTL_STEP as usize]
                        ));
                        break Status::UserBreak;
                    }
                    if let Some(p) = &spec.progress {
                        (p.0)(crate::options::RunProgress {
                            t: b.fctl[FCTL_T as usize],
                            step: (b.ictl[ICTL_STEP as usize] - first_step).max(0) as u64,
                            t0: spec.t0,
                            t_end: spec.t_end,
                            max_steps: (max_steps - first_step).max(0) as u64,
                        });
                    }
                    chunk = next_chunk(chunk, chunk_start.elapsed());
                    chunk_start = std::time::Instant::now();
                    target = chunk_end(b, chunk);
                    Ok(())
                }
                code => {
                    let (status, why) = terminal(code, b)?;
                    warnings.extend(why);
                    break status;
                }
            };
            if let Err(why) = grown {
                warnings.push(why);
                break Status::MemoryLimit;
            }
        };
        let steps = (b.ictl[ICTL_STEP as usize] - first_step).max(0) as u64;
        if let Some(why) = self.tier_failure().filter(|_| native_steps < steps) {
            warnings.push(format!(
                "native code could not be compiled, so the run went on in the interpreter \
                 (the same numbers): {why}"
            ));
        }
        Ok((status, warnings, native_steps))
    }

    /// How the call of a run at `step` picks its backend (only tiered kernels choose):
    /// by what is loaded, unless the spec asks for a switch at a given step.
    fn tiering(&self, spec: &RunSpec, step: i64) -> Tiering {
        match spec.tier_switch_step.filter(|_| self.is_tiered()) {
            Some(k) if step < k.min(i64::MAX as u64) as i64 => Tiering::Interp,
            Some(_) => Tiering::Native,
            None => Tiering::Auto,
        }
    }

    /// Grows the buffer `what` (doubling until `more` rows beyond those written fit),
    /// unless that passes the memory limit or the allocation fails: then says why, the
    /// buffers as they were.
    fn grow(
        &self,
        b: &mut Buffers,
        what: Grow,
        more: usize,
        rows: &Rows,
        spec: &RunSpec,
    ) -> Result<(), String> {
        let too_big = |e: RuntimeError| e.to_string();
        match what {
            Grow::Records => {
                let need = b.ictl[ICTL_REC as usize] as usize + more;
                let cap = grown(b.rec_t.len(), need).map_err(too_big)?;
                let bytes = rows
                    .footprint(cap, b.evt_code.len())
                    .saturating_add(trace_bytes(b));
                self.grow_records(b, cap, rows.nrs, rows.nra, bytes, spec)
            }
            Grow::Events => {
                let need = b.ictl[ICTL_EVT as usize] as usize + more;
                let cap = grown(b.evt_code.len(), need).map_err(too_big)?;
                let bytes = rows
                    .footprint(b.rec_step.len(), cap)
                    .saturating_add(trace_bytes(b));
                grow_events(b, cap, (rows.width, rows.iwidth), bytes, spec)
            }
            Grow::Trace => {
                let rows_now = b.trace.len() / rows.trace_width.max(1);
                let need = b.ictl[ICTL_TRACE as usize] as usize + more;
                let cap = grown(rows_now, need).map_err(too_big)?;
                let len = buffer_len(cap, rows.trace_width).map_err(too_big)?;
                let bytes = (len as u64 * 8)
                    .saturating_add(rows.footprint(b.rec_step.len(), b.evt_code.len()));
                if bytes > spec.memory_limit || try_grow(&mut b.trace, len).is_none() {
                    return Err(format!(
                        "the observers' trace stopped at {rows_now} rows: growing it to {cap} \
                         rows would pass the memory limit of {} bytes; trace less often \
                         (record_interval)",
                        spec.memory_limit
                    ));
                }
                b.ictl[ICTL_TRACE_CAP as usize] = cap as i64;
                Ok(())
            }
        }
    }

    /// The most steps a fast-path call may take from here with every row it can write
    /// fitting (at least one: a buffer that has no room for the next step's rows grows
    /// first). Each step writes at most one sample (every `record_interval`-th), one trace
    /// row (every trace-stride-th) and one event row per logging phase; the first call
    /// also writes the t0 sample.
    fn fast_room(&self, b: &mut Buffers, rows: &Rows, spec: &RunSpec) -> Result<i64, String> {
        // Steps c after `step` that write at most `left` rows due every `every` steps:
        // floor((step + c) / every) - floor(step / every) <= left.
        let room = |step: i64, every: i64, left: i64| -> i64 {
            if every <= 0 {
                return i64::MAX;
            }
            if left < 0 {
                return 0;
            }
            let (step, every, left) = (step as i128, every as i128, left as i128);
            let c = (step / every + left + 1) * every - 1 - step;
            c.min(i64::MAX as i128) as i64
        };
        loop {
            let ctl = |slot: i64| b.ictl[slot as usize];
            let step = ctl(ICTL_STEP);
            let t0_sample = (ctl(ICTL_STARTED) == 0 && step == 0 && ctl(ICTL_INTERVAL) > 0) as i64;
            let rec = room(
                step,
                ctl(ICTL_INTERVAL),
                ctl(ICTL_CAP_REC) - ctl(ICTL_REC) - t0_sample,
            );
            let per_step = rows.log_phases as i64;
            let evt = if per_step == 0 {
                i64::MAX
            } else {
                (ctl(ICTL_CAP_EVT) - ctl(ICTL_EVT)) / per_step
            };
            let trace = if b.trace.is_empty() {
                i64::MAX
            } else {
                room(
                    step,
                    ctl(ICTL_TRACE_STRIDE),
                    ctl(ICTL_TRACE_CAP) - ctl(ICTL_TRACE),
                )
            };
            let most = rec.min(evt).min(trace);
            if most > 0 {
                return Ok(most);
            }
            // Room for the next step's rows (and the t0 sample, if it is still to come).
            let (what, more) = if rec == 0 {
                (Grow::Records, 1 + t0_sample as usize)
            } else if evt == 0 {
                (Grow::Events, per_step as usize)
            } else {
                (Grow::Trace, 1)
            };
            self.grow(b, what, more, rows, spec)?;
        }
    }

    /// One call of the runner with every buffer; returns its status code.
    fn call_runner(
        &self,
        machine: &mut Machine,
        b: &mut Buffers,
        variant: RunnerVariant,
        tiering: Tiering,
    ) -> Result<(i32, bool), RuntimeError> {
        let abi = RunnerAbi {
            layout: self.stepper.workspace,
            analysis: variant.observes().then(|| self.analysis_vectors()),
        };
        let runner = self.runner(variant).ok_or_else(|| {
            RuntimeError::Internal(format!("this kernel has no {} runner", variant.name()))
        })?;
        let mut args = b.runner_args(&abi);
        debug_assert!(
            args.iter()
                .zip(&abi.min_lengths(&self.dims()))
                .all(|(a, min)| match (crate::kernel::arg_len(a), min) {
                    (Some(len), Some(min)) => len >= *min,
                    _ => true,
                }),
            "a runner buffer is shorter than the runner ABI says"
        );
        let mut out = [Scalar::I32(0)];
        // SAFETY: every buffer is sized from this kernel's model and the validated spec
        // (states, parameters, aux, rings, stepper workspace, recorded indices in range),
        // the capacities in `ictl` are the buffers' lengths, and either the runner checks a
        // row fits before writing it (it returns GROW_* instead) or, on the fast path, the
        // call's step limit leaves room for every row it can write (`fast_room`).
        let native = unsafe { self.invoke_run(machine, runner, &mut args, &mut out, tiering)? };
        match out[0] {
            Scalar::I32(c) => Ok((c, native)),
            other => Err(RuntimeError::Internal(format!("runner returned {other:?}"))),
        }
    }

    /// The run's results from its buffers: the recorded samples as series, the logged
    /// event rows with their values typed, the final state.
    fn output(
        &self,
        b: Buffers,
        rows: &Rows,
        status: Status,
        warnings: Vec<String>,
        dt0: f64,
        variant: RunnerVariant,
    ) -> RunOutput {
        let model = &self.model;
        let (nrs, nra, width) = (rows.nrs, rows.nra, rows.width);
        let i = b.ictl[ICTL_REC as usize] as usize;
        let m = b.ictl[ICTL_EVT as usize] as usize;
        let steps = b.ictl[ICTL_STEP as usize] as u64;
        let events = (0..m)
            .map(|r| {
                let event = b.evt_code[r] as usize;
                EventRow {
                    event,
                    record_index: b.evt_index[r],
                    values: model.events[event]
                        .log
                        .iter()
                        .enumerate()
                        .map(|(k, signal)| {
                            if dynlib_ir::lower::log_is_int(model.dtype, signal) {
                                Number::Int(b.evt_ilog[r * width + k])
                            } else {
                                Number::Float(b.evt_log[r * width + k])
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let observers = self.observer_results(&b, rows.trace_width);
        // The runner wrote each column at `k * capacity + row`: the buffers are the results'.
        let cap = b.ictl[ICTL_CAP_REC as usize] as usize;
        let states = Block::from_buffer(b.rec_y, cap, i, nrs);
        let aux = Block::from_buffer(b.rec_aux, cap, i, nra);
        // The time and step buffers are the results' own: moved, not copied.
        let (mut t, mut step) = (b.rec_t, b.rec_step);
        t.truncate(i);
        step.truncate(i);
        if t.capacity() > i + i / 8 + 64 {
            t.shrink_to_fit();
            step.shrink_to_fit();
        }
        RunOutput {
            status,
            t,
            step,
            states,
            aux,
            events,
            steps,
            native_steps: 0,
            t_final: b.fctl[FCTL_T as usize],
            dt_final: if steps > 0 { b.sout[1] } else { dt0 },
            y_final: b.y,
            params_final: b.p,
            workspace: b.w,
            warnings,
            variant,
            lanes: 1,
            observers,
            stats: SolverStats {
                accepted: steps,
                rejected: b.stats[STAT_REJECTED] as u64,
                rhs: b.stats[STAT_RHS] as u64,
                jacobians: b.stats[STAT_JACOBIANS] as u64,
                newton: b.stats[STAT_NEWTON] as u64,
                lu: b.stats[STAT_LU] as u64,
            },
        }
    }

    /// The observers' vectors beside the stepper's (0 without observers).
    pub(crate) fn analysis_vectors(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.vectors)
    }

    /// Each observer's outputs and trace rows, from the analysis buffers.
    fn observer_results(&self, b: &Buffers, width: usize) -> Vec<ObserverResult> {
        let Some(obs) = self.observers().filter(|_| !b.aout.is_empty()) else {
            return Vec::new();
        };
        let layout = obs.layout(self.model.states.len());
        let rows = b.ictl[ICTL_TRACE as usize] as usize;
        let at = |r: usize, c: usize| b.trace[r * width + c];
        obs.modules()
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let names = m.outputs();
                let o0 = layout.outputs[k];
                let trace_names = m.traces();
                let c0 = 2 + layout.traces[k];
                ObserverResult {
                    key: m.key().to_string(),
                    outputs: names
                        .into_iter()
                        .enumerate()
                        .map(|(j, n)| (n, b.aout[o0 + j]))
                        .collect(),
                    trace: (0..trace_names.len())
                        .map(|c| (0..rows).map(|r| at(r, c0 + c)).collect())
                        .collect(),
                    trace_t: (0..rows).map(|r| at(r, 0)).collect(),
                    trace_step: (0..rows).map(|r| at(r, 1) as i64).collect(),
                    trace_names,
                }
            })
            .collect()
    }

    /// True when steps remain before `max_steps` and (ODE) the horizon: after a `DONE`
    /// exit, when it was only the end of a chunk; before a call, when it will take a step.
    fn chunk_ended(&self, b: &Buffers, max_steps: i64, spec: &RunSpec) -> bool {
        let step = b.ictl[ICTL_STEP as usize];
        step < max_steps
            && (self.model.kind == ModelKind::Map || b.fctl[FCTL_T as usize] < spec.t_end)
    }

    /// Grows the record buffers to `cap` samples, unless that would take the buffers past
    /// the memory limit (`bytes` in all) or the allocation fails: then says why.
    fn grow_records(
        &self,
        b: &mut Buffers,
        cap: usize,
        nrs: usize,
        nra: usize,
        bytes: u64,
        spec: &RunSpec,
    ) -> Result<(), String> {
        let have = b.rec_step.len();
        let refuse = |why: String| {
            format!(
                "recording stopped at {have} samples: {why}; record less often \
                 (record_interval), fewer variables (record_vars), or not at all"
            )
        };
        if bytes > spec.memory_limit {
            return Err(refuse(format!(
                "growing the buffers to {cap} samples would take {bytes} bytes, more than the \
                 memory limit of {} bytes",
                spec.memory_limit
            )));
        }
        let lens = (|| {
            Ok::<_, RuntimeError>((
                buffer_len(cap, 1)?,
                buffer_len(cap, nrs)?,
                buffer_len(cap, nra)?,
            ))
        })()
        .map_err(|e| refuse(e.to_string()))?;
        // The recorded columns move to their new places (column k at k * cap). Every new
        // buffer is made before any is swapped in, so a failed allocation leaves the
        // buffers as they were (and consistent with `ICTL_CAP_REC`).
        let (old, rows) = (have, b.ictl[ICTL_REC as usize] as usize);
        let grown = (|| {
            let rec_y = b.rec_y.try_regrid(old, cap, rows, nrs, lens.1)?;
            let rec_aux = b.rec_aux.try_regrid(old, cap, rows, nra, lens.2)?;
            let mut rec_t = std::mem::take(&mut b.rec_t);
            let mut rec_step = std::mem::take(&mut b.rec_step);
            let ok = try_grow(&mut rec_t, lens.0).and_then(|()| try_grow(&mut rec_step, cap));
            (b.rec_t, b.rec_step) = (rec_t, rec_step);
            ok?;
            (b.rec_y, b.rec_aux) = (rec_y, rec_aux);
            Some(())
        })();
        if grown.is_none() {
            return Err(refuse(format!(
                "allocating {bytes} bytes for {cap} samples failed"
            )));
        }
        b.ictl[ICTL_CAP_REC as usize] = cap as i64;
        Ok(())
    }

    /// The WRMS first step of adaptive steppers; `dt_max` from the configuration caps it
    /// when finite, else the `dt` the caller passed explicitly.
    fn initial_dt(
        &self,
        machine: &mut Machine,
        b: &mut Buffers,
        init: dynlib_ir::FuncId,
        spec: &RunSpec,
    ) -> Result<f64, RuntimeError> {
        let field = |name: &str| {
            self.stepper
                .config
                .iter()
                .position(|f| f.name == name)
                .map(|i| spec.config[i])
        };
        let atol = field("atol").unwrap_or(1e-8);
        let rtol = field("rtol").unwrap_or(1e-5);
        let max_dt = match field("dt_max") {
            Some(d) if d.is_finite() => d,
            _ => spec.explicit_dt.unwrap_or(f64::INFINITY),
        };
        let elem = self.elem();
        let n = self.model.states.len();
        let (mut f0, mut y1, mut f1) = (
            DVec::zeros(elem, n),
            DVec::zeros(elem, n),
            DVec::zeros(elem, n),
        );
        use InitialStepParam as I;
        let mut args: Vec<Arg> = Vec::new();
        let (mut y, mut p, mut ring, mut head) = (
            Some(&mut b.y),
            Some(&mut b.p),
            Some(&mut b.w.ring),
            Some(&mut b.w.head),
        );
        let (mut f0, mut y1, mut f1) = (Some(&mut f0), Some(&mut y1), Some(&mut f1));
        for param in InitialStepAbi.order() {
            let once = "the initial-step ABI lists each buffer once";
            args.push(match param {
                I::T0 => Arg::F64(spec.t0),
                I::TEnd => Arg::F64(spec.t_end),
                I::Y => y.take().expect(once).arg(),
                I::P => p.take().expect(once).arg(),
                I::Ring => ring.take().expect(once).arg(),
                I::Head => Arg::PtrI64(head.take().expect(once)),
                I::F0 => f0.take().expect(once).arg(),
                I::Y1 => y1.take().expect(once).arg(),
                I::F1 => f1.take().expect(once).arg(),
                I::Atol => Arg::F64(atol),
                I::Rtol => Arg::F64(rtol),
                I::MaxDt => Arg::F64(max_dt),
            });
        }
        let mut out = [Scalar::F64(0.0)];
        let tiering = self.tiering(spec, 0);
        // SAFETY: y, p, the rings and the three work vectors have the model's sizes.
        unsafe { self.invoke_run(machine, init, &mut args, &mut out, tiering)? };
        match out.first() {
            Some(Scalar::F64(h)) => Ok(*h),
            other => Err(RuntimeError::Internal(format!(
                "initial_step returned {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Column;

    /// A column-major buffer of `cols` columns, `stride` rows of room, `rows` written:
    /// sample r of column k is `10 * k + r`.
    fn buffer(stride: usize, rows: usize, cols: usize) -> DVec {
        let mut v = vec![-1.0; stride * cols];
        for k in 0..cols {
            for r in 0..rows {
                v[k * stride + r] = (10 * k + r) as f64;
            }
        }
        DVec::F64(v)
    }

    fn col(b: &Block, k: usize) -> Vec<f64> {
        b.column(k).to_f64()
    }

    #[test]
    fn blocks_keep_columns_contiguous_through_appends_and_compaction() {
        let a = Block::from_buffer(buffer(8, 3, 2), 8, 3, 2);
        assert_eq!((a.rows(), a.cols()), (3, 2));
        assert_eq!(col(&a, 1), [10.0, 11.0, 12.0]);
        // Appending past the room regrids; `skip` drops the first rows of the other block.
        let mut b = a.clone();
        let more = Block::from_buffer(buffer(6, 6, 2), 6, 6, 2);
        b.append(&more, 1);
        assert_eq!(col(&b, 0), [0.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(col(&b, 1), [10.0, 11.0, 12.0, 11.0, 12.0, 13.0, 14.0, 15.0]);
        // Appending within the room writes in place.
        let mut c = Block::from_buffer(buffer(8, 2, 2), 8, 2, 2);
        c.append(&a, 0);
        assert_eq!(col(&c, 1), [10.0, 11.0, 10.0, 11.0, 12.0]);
        // A buffer with much room left is compacted; equality ignores the room.
        let big = Block::from_buffer(buffer(1000, 3, 2), 1000, 3, 2);
        assert_eq!(big, a);
        assert_eq!(big.stride, 3);
        // float32 values are widened exactly, int32 to int64.
        let f32s = DVec::F32(vec![0.1, 0.2, 9.0, 0.3, 0.4, 9.0]);
        let w = Block::from_buffer(f32s, 3, 2, 2);
        assert_eq!(w.column(1), Column::Float(&[0.3f32 as f64, 0.4f32 as f64]));
        let i32s = DVec::I32(vec![1, 2, 0, -3, 4, 0]);
        assert_eq!(
            Block::from_buffer(i32s, 3, 2, 2).column(1),
            Column::Int(&[-3, 4])
        );
        // No columns at all.
        let mut none = Block::empty(Elem::F64, 0);
        none.append(&Block::from_buffer(DVec::F64(vec![]), 5, 4, 0), 1);
        assert_eq!(none.rows(), 3);
    }
}
