//! Running a kernel: buffers, the caller loop that grows them, and results
//! (runtime.md §3.6 with the DESIGN.md fixes: growth resumes exactly, nothing replayed).

use dynlib_interp::Machine;
use dynlib_ir::lower::status;
use dynlib_ir::Elem;
use dynlib_ir::{Arg, Scalar};
use dynlib_model::ModelKind;

use crate::error::RuntimeError;
use crate::kernel::Kernel;
use crate::runner::*;

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

    /// Element `i` as f64.
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

    /// All elements as f64.
    pub fn to_f64(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    fn arg(&mut self) -> Arg<'_> {
        match self {
            DVec::F64(v) => Arg::PtrF64(v),
            DVec::F32(v) => Arg::PtrF32(v),
            DVec::I64(v) => Arg::PtrI64(v),
            DVec::I32(v) => Arg::PtrI32(v),
        }
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
}

impl Status {
    /// The reference's name (`DONE`, `EARLY_EXIT`, `STEPFAIL`, `NAN_DETECTED`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "DONE",
            Status::EarlyExit => "EARLY_EXIT",
            Status::StepFail => "STEPFAIL",
            Status::NanDetected => "NAN_DETECTED",
        }
    }

    /// The status with this reference name (the inverse of [`Status::name`]).
    pub fn from_name(name: &str) -> Option<Status> {
        [
            Status::Done,
            Status::EarlyExit,
            Status::StepFail,
            Status::NanDetected,
        ]
        .into_iter()
        .find(|s| s.name() == name)
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
    /// Initial state.
    pub y0: Vec<f64>,
    /// Parameters.
    pub params: Vec<f64>,
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
}

/// What a run carries besides the state: the stepper's workspace (multistep histories, the
/// Adams–Bashforth step index) and the lag rings. Resuming restores it so a continued run is
/// the same as one long run.
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    /// The stepper's vectors, in [`crate::stepper::StepperSpec::vectors`] order.
    pub vectors: Vec<DVec>,
    /// The stepper's scalar slots.
    pub scalars: Vec<f64>,
    /// All lag rings, back to back.
    pub ring: DVec,
    /// The head of each ring.
    pub head: Vec<i64>,
}

/// One logged event row.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// The event's index in the model's event list.
    pub event: usize,
    /// The index of the last sample recorded before the event (-1: none yet).
    pub record_index: i64,
    /// The logged values (f64; the time is always f64).
    pub values: Vec<f64>,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// How it ended.
    pub status: Status,
    /// Recorded times.
    pub t: Vec<f64>,
    /// Recorded step numbers.
    pub step: Vec<i64>,
    /// Recorded states: `states[k]` is the series of `rec_states[k]`.
    pub states: Vec<Vec<f64>>,
    /// Recorded aux series.
    pub aux: Vec<Vec<f64>>,
    /// Logged event rows, in order.
    pub events: Vec<EventRow>,
    /// Steps taken.
    pub steps: u64,
    /// Final time.
    pub t_final: f64,
    /// The step size the stepper proposed last (the nominal dt if no step was taken).
    pub dt_final: f64,
    /// Final state.
    pub y_final: Vec<f64>,
    /// Final parameters (events may change them).
    pub params_final: Vec<f64>,
    /// The final workspace, to resume from.
    pub workspace: Workspace,
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
    rec_t: Vec<f64>,
    rec_y: DVec,
    rec_aux: DVec,
    rec_step: Vec<i64>,
    evt_code: Vec<i64>,
    evt_index: Vec<i64>,
    evt_log: Vec<f64>,
    scratch: Vec<f64>,
    rec_states: Vec<i64>,
    rec_aux_idx: Vec<i64>,
}

impl Buffers {
    fn runner_args(&mut self) -> Vec<Arg<'_>> {
        let mut a = vec![
            Arg::PtrF64(&mut self.fctl),
            Arg::PtrI64(&mut self.ictl),
            self.y.arg(),
            self.p.arg(),
            self.w.ring.arg(),
            Arg::PtrI64(&mut self.w.head),
            self.aux.arg(),
        ];
        a.extend(self.w.vectors.iter_mut().map(|w| w.arg()));
        a.extend([
            Arg::PtrF64(&mut self.w.scalars),
            Arg::PtrF64(&mut self.cfg),
            self.y_prop.arg(),
            Arg::PtrF64(&mut self.sout),
            Arg::PtrF64(&mut self.rec_t),
            self.rec_y.arg(),
            self.rec_aux.arg(),
            Arg::PtrI64(&mut self.rec_step),
            Arg::PtrI64(&mut self.evt_code),
            Arg::PtrI64(&mut self.evt_index),
            Arg::PtrF64(&mut self.evt_log),
            Arg::PtrF64(&mut self.scratch),
            Arg::PtrI64(&mut self.rec_states),
            Arg::PtrI64(&mut self.rec_aux_idx),
        ]);
        a
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

impl Kernel {
    /// A fresh workspace for a run starting at `y0`: zero histories, every lag slot at the
    /// initial value and each head at its last slot (runtime.md §3.6).
    pub fn fresh_workspace(&self, y0: &[f64]) -> Workspace {
        let elem = self.elem();
        let n = self.model.states.len();
        let lags = &self.functions.lags;
        let mut ring = DVec::zeros(elem, lags.ring_len);
        for r in &lags.rings {
            for k in 0..r.len {
                ring.set(r.offset + k, y0[r.state]);
            }
        }
        Workspace {
            vectors: self
                .stepper
                .vectors
                .iter()
                .map(|_| DVec::zeros(elem, n))
                .collect(),
            scalars: vec![0.0; self.stepper.scalars.max(1)],
            ring,
            head: lags.rings.iter().map(|r| r.len as i64 - 1).collect(),
        }
    }

    /// True when `w` has this kernel's shapes (vectors, scalar slots, rings, heads).
    pub fn workspace_fits(&self, w: &Workspace) -> bool {
        let n = self.model.states.len();
        let lags = &self.functions.lags;
        w.vectors.len() == self.stepper.vectors.len()
            && w.vectors.iter().all(|v| v.len() == n)
            && w.scalars.len() == self.stepper.scalars.max(1)
            && w.ring.len() == lags.ring_len
            && w.head.len() == lags.rings.len()
    }

    /// Checks that `spec` has this kernel's shapes: one value per state and parameter, one
    /// per stepper configuration field, recorded indices that exist. Native code indexes
    /// buffers without bounds checks, so nothing unchecked reaches it.
    fn check_spec(&self, spec: &RunSpec) -> Result<(), RuntimeError> {
        let model = &self.model;
        let shape = |what: &str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(RuntimeError::Incompatible(format!(
                    "the run needs {expected} {what}, got {found}"
                )))
            }
        };
        shape("initial state values", model.states.len(), spec.y0.len())?;
        shape("parameter values", model.params.len(), spec.params.len())?;
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
        let model = &self.model;
        let elem = self.elem();
        let n = model.states.len();
        let width = self.functions.max_log_width.max(1);
        let cap_rec = spec.cap_rec.max(1);
        let cap_evt = spec.cap_evt.max(1);
        let (nrs, nra) = (spec.rec_states.len(), spec.rec_aux.len());

        self.check_spec(spec)?;
        let w = match &spec.workspace {
            Some(w) if !self.workspace_fits(w) => {
                return Err(RuntimeError::Incompatible(
                    "the workspace to resume from does not fit this model and stepper".into(),
                ))
            }
            Some(w) => w.clone(),
            None => self.fresh_workspace(&spec.y0),
        };
        let mut b = Buffers {
            fctl: vec![0.0; FCTL_LEN],
            ictl: vec![0; ICTL_LEN],
            y: DVec::from_f64(elem, &spec.y0),
            p: DVec::from_f64(elem, &spec.params),
            w,
            aux: DVec::zeros(elem, model.aux.len()),
            cfg: spec.config.clone(),
            y_prop: DVec::zeros(elem, n),
            sout: vec![0.0; 3],
            rec_t: vec![0.0; buffer_len(cap_rec, 1)?],
            rec_y: DVec::zeros(elem, buffer_len(cap_rec, nrs)?),
            rec_aux: DVec::zeros(elem, buffer_len(cap_rec, nra)?),
            rec_step: vec![0; cap_rec],
            evt_code: vec![0; buffer_len(cap_evt, 1)?],
            evt_index: vec![0; cap_evt],
            evt_log: vec![0.0; buffer_len(cap_evt, width)?],
            scratch: vec![0.0; width],
            rec_states: spec.rec_states.iter().map(|&i| i as i64).collect(),
            rec_aux_idx: spec.rec_aux.iter().map(|&i| i as i64).collect(),
        };
        if b.cfg.is_empty() {
            b.cfg.push(0.0);
        }

        let dt0 = match (model.kind, self.initial_step) {
            (ModelKind::Ode, Some(init)) if spec.wrms_first_step => {
                self.initial_dt(machine, &mut b, init, spec)?
            }
            _ => spec.dt,
        };
        b.fctl[FCTL_T as usize] = spec.t0;
        b.fctl[FCTL_DT as usize] = dt0;
        b.fctl[FCTL_T_END as usize] = spec.t_end;
        b.fctl[FCTL_T_LABEL0 as usize] = spec.t0;
        b.ictl[ICTL_MAX_STEPS as usize] = spec.max_steps.min(i64::MAX as u64) as i64;
        b.ictl[ICTL_INTERVAL as usize] = spec.record_interval as i64;
        b.ictl[ICTL_CAP_REC as usize] = cap_rec as i64;
        b.ictl[ICTL_CAP_EVT as usize] = cap_evt as i64;
        b.ictl[ICTL_N_REC_STATES as usize] = nrs as i64;
        b.ictl[ICTL_N_REC_AUX as usize] = nra as i64;

        let code = loop {
            let code = {
                let mut args = b.runner_args();
                let mut out = [Scalar::I32(0)];
                // SAFETY: every buffer is sized from this kernel's model and the validated
                // spec (states, parameters, aux, rings, stepper workspace, recorded indices
                // in range), the capacities in `ictl` are the buffers' lengths, and the
                // runner checks a row fits before writing it (it returns GROW_* instead).
                unsafe { self.invoke(machine, self.runner, &mut args, &mut out)? };
                match out[0] {
                    Scalar::I32(c) => c,
                    other => {
                        return Err(RuntimeError::Backend(format!("runner returned {other:?}")))
                    }
                }
            };
            match code {
                status::GROW_REC => {
                    let need = b.ictl[ICTL_REC as usize] as usize + 1;
                    let cap = grown(b.rec_t.len(), need)?;
                    let (ly, la) = (buffer_len(cap, nrs)?, buffer_len(cap, nra)?);
                    b.rec_t.resize(buffer_len(cap, 1)?, 0.0);
                    b.rec_step.resize(cap, 0);
                    b.rec_y.resize(ly);
                    b.rec_aux.resize(la);
                    b.ictl[ICTL_CAP_REC as usize] = cap as i64;
                }
                status::GROW_EVT => {
                    let need = b.ictl[ICTL_EVT as usize] as usize + 2;
                    let cap = grown(b.evt_code.len(), need)?;
                    let ll = buffer_len(cap, width)?;
                    b.evt_code.resize(buffer_len(cap, 1)?, 0);
                    b.evt_index.resize(cap, 0);
                    b.evt_log.resize(ll, 0.0);
                    b.ictl[ICTL_CAP_EVT as usize] = cap as i64;
                }
                other => break other,
            }
        };
        let status = match code {
            status::DONE => Status::Done,
            status::EARLY_EXIT => Status::EarlyExit,
            status::NAN_DETECTED => Status::NanDetected,
            status::STEPFAIL => Status::StepFail,
            other => {
                return Err(RuntimeError::Backend(format!(
                    "runner returned unknown status {other}"
                )))
            }
        };

        let i = b.ictl[ICTL_REC as usize] as usize;
        let m = b.ictl[ICTL_EVT as usize] as usize;
        let steps = b.ictl[ICTL_STEP as usize] as u64;
        let column = |buf: &DVec, count: usize, k: usize| {
            (0..i).map(|r| buf.get(r * count + k)).collect::<Vec<f64>>()
        };
        let events = (0..m)
            .map(|r| {
                let event = b.evt_code[r] as usize;
                let w = model.events[event].log.len();
                EventRow {
                    event,
                    record_index: b.evt_index[r],
                    values: b.evt_log[r * width..r * width + w].to_vec(),
                }
            })
            .collect();
        Ok(RunOutput {
            status,
            t: b.rec_t[..i].to_vec(),
            step: b.rec_step[..i].to_vec(),
            states: (0..nrs).map(|k| column(&b.rec_y, nrs, k)).collect(),
            aux: (0..nra).map(|k| column(&b.rec_aux, nra, k)).collect(),
            events,
            steps,
            t_final: b.fctl[FCTL_T as usize],
            dt_final: if steps > 0 { b.sout[1] } else { dt0 },
            y_final: b.y.to_f64(),
            params_final: b.p.to_f64(),
            workspace: b.w,
        })
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
        let mut args = vec![
            Arg::F64(spec.t0),
            Arg::F64(spec.t_end),
            b.y.arg(),
            b.p.arg(),
            b.w.ring.arg(),
            Arg::PtrI64(&mut b.w.head),
            f0.arg(),
            y1.arg(),
            f1.arg(),
            Arg::F64(atol),
            Arg::F64(rtol),
            Arg::F64(max_dt),
        ];
        let mut out = [Scalar::F64(0.0)];
        // SAFETY: y, p, the rings and the three work vectors have the model's sizes.
        unsafe { self.invoke(machine, init, &mut args, &mut out)? };
        match out.first() {
            Some(Scalar::F64(h)) => Ok(*h),
            other => Err(RuntimeError::Backend(format!(
                "initial_step returned {other:?}"
            ))),
        }
    }
}
