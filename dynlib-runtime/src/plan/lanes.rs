//! Lanes: plans of one kernel that differ only in their initial states and parameters,
//! packed into one plan of the kernel's lane kernel (the model replicated side by side,
//! [`dynlib_model::Model::lanes`]), and the packed execution unpacked into one execution
//! per plan.
//!
//! A run of `width` lanes advances `width` runs at once: one loop, one step function, one
//! record schedule, with `width` independent chains of arithmetic the processor overlaps
//! (and the compiler packs into SIMD registers). It gives each lane the bits its run gives
//! alone, because
//! - every lane's expressions are the original's, moved to the lane's own states and
//!   parameters, operation for operation;
//! - the stepper treats each state component on its own ([`StepperSpec::lanes`]: fixed
//!   step, no norm across components), so the packed state advances component by
//!   component exactly as each run's would;
//! - everything else a run does depends only on what the plans share (times, step counts,
//!   record interval, horizon), which [`pack`] checks field by field.
//!
//! What depends on one lane's values ends the packed run for all of them: a NaN, an
//! arithmetic fault. The batch then runs those plans one by one ([`crate::batch`]), so
//! such a run's outcome is exactly its own. What depends on the buffers' sizes (which a
//! pack's differ from) never arises: only runs that hold every sample in the buffers they
//! start with, well within their memory limit, are packed ([`LANE_RECORD_BYTES`]).
//!
//! [`StepperSpec::lanes`]: crate::stepper::StepperSpec::lanes

use dynlib_ir::lower::LagLayout;

use super::{Execution, Plan};
use crate::kernel::Kernel;
use crate::run::{DVec, RunOutput, RunSpec};
use crate::state::{Recording, SessionState};
use crate::workspace::Workspace;

/// The lane width the runtime picks for a model of `states` states when the batch does not
/// say: 8 lanes for small models (two AVX registers of f64 per equation), 4 up to 64
/// states, and none above, where one run already has plenty of independent arithmetic and
/// the replicated code would only cost compile time.
pub fn default_width(states: usize) -> usize {
    match states {
        0..=16 => 8,
        17..=64 => 4,
        _ => 1,
    }
}

/// The widest pack a batch may ask for.
pub const MAX_WIDTH: usize = 64;

/// Why `kernel`'s runs cannot be packed into lanes (`None`: they can).
pub fn refusal(kernel: &Kernel) -> Option<String> {
    let stepper = kernel.stepper;
    if !stepper.lanes {
        return Some(format!(
            "the stepper {} couples the state's components (its step size or iteration depends \
             on all of them); lanes need one of {}",
            stepper.name,
            crate::stepper::registry()
                .iter()
                .filter(|s| s.lanes && s.kind == stepper.kind)
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(obs) = kernel.observers() {
        return Some(format!(
            "the kernel has observers ({}): each run's observers are its own",
            obs.signature()
        ));
    }
    let layout = &stepper.workspace;
    if !layout.matrices.is_empty() || !layout.indices.is_empty() {
        return Some(format!(
            "the stepper {} keeps matrices, which do not split into lanes",
            stepper.name
        ));
    }
    kernel.model.lanes_refusal()
}

/// `plans` (all of `kernel`, all packable: see [`refusal`]) as one plan of `lane`, the
/// kernel's lane kernel of `plans.len()` lanes; `None` when the plans differ in anything
/// but their initial states and parameters, or are resumes.
pub(crate) fn pack(plans: &[Plan], kernel: &Kernel, lane: &Kernel) -> Option<Plan> {
    let width = plans.len();
    let first = plans.first()?;
    if lane.model.states.len() != kernel.model.states.len() * width
        || plans
            .iter()
            .any(|p| p.kernel != kernel.id() || !alike(first, p))
        || !fits_up_front(first, kernel)
    {
        return None;
    }
    let interleave = |of: &dyn Fn(&Plan) -> &DVec| -> DVec {
        let n = of(first).len();
        let mut out = DVec::zeros(lane.elem(), n * width);
        for (l, p) in plans.iter().enumerate() {
            for i in 0..n {
                out.copy_from(i * width + l, of(p), i);
            }
        }
        out
    };
    let spread = |idx: &[usize]| -> Vec<usize> {
        idx.iter()
            .flat_map(|&i| (0..width).map(move |l| i * width + l))
            .collect()
    };
    let y = interleave(&|p| &p.seed.y);
    let params = interleave(&|p| &p.seed.params);
    let mut packed = first.clone();
    packed.kernel = lane.id();
    packed.model = lane.model.clone();
    packed.seed.y = y.clone();
    packed.seed.params = params.clone();
    packed.spec.y0 = y;
    packed.spec.params = params;
    packed.spec.rec_states = spread(&first.spec.rec_states);
    packed.spec.rec_aux = spread(&first.spec.rec_aux);
    packed.spec.memory_limit = first.spec.memory_limit.saturating_mul(width as u64);
    packed.recording.states = spread(&first.recording.states);
    packed.recording.aux = spread(&first.recording.aux);
    Some(packed)
}

/// The packed execution `ex` (of [`pack`]`(plans, ..)`) as one execution per plan, in
/// order: each lane's samples, final values and workspace, with what the lanes share.
pub(crate) fn unpack(ex: Execution, plans: Vec<Plan>, kernel: &Kernel) -> Vec<Execution> {
    let width = plans.len();
    let out = &ex.out;
    debug_assert!(out.events.is_empty() && out.observers.is_empty());
    let n = kernel.model.states.len();
    let (lanes, alone) = (LagLayout::of(&ex.plan.model), &kernel.functions.lags);
    let lane_of = |v: &DVec, l: usize| -> DVec {
        let len = v.len() / width;
        let mut o = DVec::zeros(v.elem(), len);
        for i in 0..len {
            o.copy_from(i, v, i * width + l);
        }
        o
    };
    let columns = |cols: usize, l: usize| -> Vec<usize> {
        (0..cols / width).map(|k| k * width + l).collect()
    };
    plans
        .into_iter()
        .enumerate()
        .map(|(l, plan)| {
            let w = &out.workspace;
            let mut ring = DVec::zeros(w.ring.elem(), alone.ring_len);
            let mut head = Vec::with_capacity(alone.rings.len());
            for r in &alone.rings {
                let (j, packed) = lanes
                    .rings
                    .iter()
                    .enumerate()
                    .find(|(_, p)| p.state == r.state * width + l)
                    .expect("the lane kernel has a ring for every lane of a lagged state");
                for k in 0..r.len {
                    ring.copy_from(r.offset + k, &w.ring, packed.offset + k);
                }
                head.push(w.head[j]);
            }
            let workspace = Workspace {
                vectors: w.vectors.iter().map(|v| lane_of(v, l)).collect(),
                matrices: Vec::new(),
                indices: Vec::new(),
                scalars: w.scalars.clone(),
                ring,
                head,
            };
            debug_assert_eq!(workspace.vectors.first().map_or(n, DVec::len), n);
            Execution {
                plan,
                out: RunOutput {
                    status: out.status,
                    // One call evaluates every lane: each lane did what the pack did.
                    stats: out.stats,
                    t: out.t.clone(),
                    step: out.step.clone(),
                    states: out.states.select(&columns(out.states.cols(), l)),
                    aux: out.aux.select(&columns(out.aux.cols(), l)),
                    events: Vec::new(),
                    steps: out.steps,
                    native_steps: out.native_steps,
                    t_final: out.t_final,
                    dt_final: out.dt_final,
                    y_final: lane_of(&out.y_final, l),
                    params_final: lane_of(&out.params_final, l),
                    workspace,
                    warnings: out.warnings.clone(),
                    variant: out.variant,
                    lanes: width,
                    observers: Vec::new(),
                },
                time_shift: ex.time_shift,
                transient_steps: ex.transient_steps,
            }
        })
        .collect()
}

/// The most a lane's record buffer may take for its run to be packed: a pack holds its
/// lanes' samples together (and briefly twice, while unpacking), so packing is kept to runs
/// whose samples are small; larger runs go alone, each within its own memory limit.
pub const LANE_RECORD_BYTES: u64 = 64 << 20;

/// True when the run `p` (alone) holds every sample in the buffers it starts with, and
/// those take at most half its memory limit and [`LANE_RECORD_BYTES`]: such a run never
/// grows its buffers, so it never meets its memory limit, and neither does its pack — an
/// outcome that depends on buffer sizes (which a pack's differ from) is never packed.
fn fits_up_front(p: &Plan, kernel: &Kernel) -> bool {
    let s = &p.spec;
    let steps = p.run_steps();
    let samples = p.samples_estimate();
    let row = crate::run::record_row_bytes(kernel.elem(), s.rec_states.len(), s.rec_aux.len());
    // Event rows as wide as the widest log, float and integer logs both.
    let evt = crate::run::event_row_bytes(2 * kernel.functions.max_log_width.max(1));
    let bytes = (s.cap_rec as f64) * row as f64 + (s.cap_evt as f64) * evt as f64;
    steps.is_finite()
        && s.cap_rec as f64 >= samples
        && bytes * 2.0 <= s.memory_limit as f64
        && bytes <= LANE_RECORD_BYTES as f64
}

/// True when `a` and `b` are the same run but for their initial states and parameters,
/// and neither resumes. Every field is named, so a field added to a plan must be placed
/// here: shared (compared) or per lane (packed).
fn alike(a: &Plan, b: &Plan) -> bool {
    let Plan {
        kernel: _,
        model: _,
        resume,
        seed,
        spec,
        transient,
        recording,
        t_end,
        max_steps,
        nominal_dt,
        time_shift,
        step_offset,
        tag,
        // From the one core a batch resolves every plan from; used only by the lanes' own
        // plans (`Execution::committed`).
        defaults: _,
    } = a;
    let SessionState {
        t,
        y: _,
        params: _,
        dt,
        step_count,
        workspace,
        status,
        stepper_config,
    } = seed;
    !*resume
        && !b.resume
        && workspace.is_none()
        && b.seed.workspace.is_none()
        && same(*t, b.seed.t)
        && same(*dt, b.seed.dt)
        && *step_count == b.seed.step_count
        && *status == b.seed.status
        && bits(stepper_config) == bits(&b.seed.stepper_config)
        && alike_specs(spec, &b.spec)
        && same(*transient, b.transient)
        && alike_recordings(recording, &b.recording)
        && same(*t_end, b.t_end)
        && *max_steps == b.max_steps
        && same(*nominal_dt, b.nominal_dt)
        && same(*time_shift, b.time_shift)
        && *step_offset == b.step_offset
        && *tag == b.tag
}

fn alike_specs(a: &RunSpec, b: &RunSpec) -> bool {
    let RunSpec {
        t0,
        t_end,
        dt,
        max_steps,
        record_interval,
        y0: _,
        params: _,
        config,
        explicit_dt,
        wrms_first_step,
        workspace,
        rec_states,
        rec_aux,
        cap_rec,
        cap_evt,
        cap_trace,
        memory_limit,
        interrupt,
        progress,
        observe,
        trace_stride,
        fastpath,
        tier_switch_step,
    } = a;
    same(*t0, b.t0)
        && same(*t_end, b.t_end)
        && same(*dt, b.dt)
        && *max_steps == b.max_steps
        && *record_interval == b.record_interval
        && bits(config) == bits(&b.config)
        && explicit_dt.map(f64::to_bits) == b.explicit_dt.map(f64::to_bits)
        && *wrms_first_step == b.wrms_first_step
        && workspace.is_none()
        && b.workspace.is_none()
        && *rec_states == b.rec_states
        && *rec_aux == b.rec_aux
        && *cap_rec == b.cap_rec
        && *cap_evt == b.cap_evt
        && *cap_trace == b.cap_trace
        && *memory_limit == b.memory_limit
        && match (interrupt, &b.interrupt) {
            (None, None) => true,
            (Some(x), Some(y)) => x.same_as(y),
            _ => false,
        }
        // Progress reports one run's; packed runs would report together.
        && progress.is_none()
        && b.progress.is_none()
        && !*observe
        && !b.observe
        && *trace_stride == b.trace_stride
        && *fastpath == b.fastpath
        && *tier_switch_step == b.tier_switch_step
}

fn alike_recordings(a: &Recording, b: &Recording) -> bool {
    let Recording {
        states,
        aux,
        interval,
        t0,
        transient_steps,
    } = a;
    *states == b.states
        && *aux == b.aux
        && *interval == b.interval
        && same(*t0, b.t0)
        && *transient_steps == b.transient_steps
}

/// Equal to the bit (a shared time must be the same number, NaN included).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}
