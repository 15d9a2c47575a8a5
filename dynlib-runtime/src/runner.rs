//! The ordinary (BASE) runner loop as IR, continuous and discrete (runtime.md §3.3–3.4).
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

use dynlib_ir::lower::{events_signature, update_aux_signature, ModelFunctions};
use dynlib_ir::*;
use dynlib_model::{Model, ModelKind, Phase};

use crate::abi::*;
use crate::stepper::StepperSpec;

/// A runner variant (runtime.md §3.5): each is its own compiled and cached unit. Only
/// the ordinary loop exists yet; the fast path and the analysis variants are issue 10.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RunnerVariant {
    /// The ordinary loop: buffers grown by re-entry, events, lags, recording.
    Base,
}

impl RunnerVariant {
    /// Every variant.
    pub const ALL: [RunnerVariant; 1] = [RunnerVariant::Base];

    /// Its name in cache keys, `meta.json` and messages (`base`).
    pub fn name(self) -> &'static str {
        match self {
            RunnerVariant::Base => "base",
        }
    }
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

/// Emits the runner `variant` for `model` with the stepper `step_fn` (already in the
/// program).
pub fn emit_runner(
    model: &Model,
    mf: &mut ModelFunctions,
    stepper: &StepperSpec,
    step_fn: FuncId,
    variant: RunnerVariant,
) -> FuncId {
    let RunnerVariant::Base = variant;
    let elem = mf.elem;
    let abi = RunnerAbi {
        vectors: stepper.vectors.len(),
    };
    let step_abi = stepper.abi();
    let sig = abi.signature(elem);
    let step_sig = step_abi.signature(elem);
    let n = model.states.len();
    let width = mf.max_log_width;
    let has_aux = !model.aux.is_empty();
    let has_stop = model.sim.stop.is_some();
    let pre_logs = model
        .events
        .iter()
        .any(|e| e.phase != Phase::End && !e.log.is_empty());
    let post_logs = model
        .events
        .iter()
        .any(|e| e.phase != Phase::Start && !e.log.is_empty());
    let has_pre = model.events.iter().any(|e| e.phase != Phase::End);
    let has_post = model.events.iter().any(|e| e.phase != Phase::Start);
    let is_map = model.kind == ModelKind::Map;
    let float_state = elem == Elem::F64 || elem == Elem::F32;
    let (events_pre, events_post, update_aux) = (mf.events_pre, mf.events_post, mf.update_aux);
    let lags = mf.lags.clone();

    let mut f = Function::new(stepper.ir_name("runner"), sig);
    let mut b = FunctionBuilder::new(&mut f);
    let prm = |b: &FunctionBuilder, p: RunnerParam| b.param(abi.index(p));
    use RunnerParam as R;
    let (fctl, ictl, y, p, ring, head, aux) = (
        prm(&b, R::Fctl),
        prm(&b, R::Ictl),
        prm(&b, R::Y),
        prm(&b, R::P),
        prm(&b, R::Ring),
        prm(&b, R::Head),
        prm(&b, R::Aux),
    );
    let (rec_t, rec_y, rec_aux, rec_step) = (
        prm(&b, R::RecT),
        prm(&b, R::RecY),
        prm(&b, R::RecAux),
        prm(&b, R::RecStep),
    );
    let (evt_code, evt_index, evt_log, scratch) = (
        prm(&b, R::EvtCode),
        prm(&b, R::EvtIndex),
        prm(&b, R::EvtLog),
        prm(&b, R::Scratch),
    );
    let (y_prop, sout) = (prm(&b, R::YProp), prm(&b, R::StepOut));
    let (rec_states, rec_aux_idx) = (prm(&b, R::RecStates), prm(&b, R::RecAuxIdx));
    let (iscratch, evt_ilog) = (prm(&b, R::IScratch), prm(&b, R::EvtILog));
    let int_logs = !model.dtype.is_float();

    let fget = |b: &mut FunctionBuilder, slot: i64| {
        let i = b.i64(slot);
        b.load(fctl, i)
    };
    let iget = |b: &mut FunctionBuilder, slot: i64| {
        let i = b.i64(slot);
        b.load(ictl, i)
    };
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

    // The exit block writes every cursor back and returns the status.
    let exit = b.create_block();
    let ex_status = b.block_param(exit, Type::I32);
    let ex = Carried {
        t: b.block_param(exit, Type::F64),
        dt: b.block_param(exit, Type::F64),
        step: b.block_param(exit, Type::I64),
        i: b.block_param(exit, Type::I64),
        m: b.block_param(exit, Type::I64),
    };

    let start = Carried {
        t: fget(&mut b, FCTL_T),
        dt: fget(&mut b, FCTL_DT),
        step: iget(&mut b, ICTL_STEP),
        i: iget(&mut b, ICTL_REC),
        m: iget(&mut b, ICTL_EVT),
    };
    let started = iget(&mut b, ICTL_STARTED);

    let header = b.create_block();
    let cur = Carried {
        t: b.block_param(header, Type::F64),
        dt: b.block_param(header, Type::F64),
        step: b.block_param(header, Type::I64),
        i: b.block_param(header, Type::I64),
        m: b.block_param(header, Type::I64),
    };

    // Writes one sample (time, selected states, selected aux, step) at row `i`.
    let record = |b: &mut FunctionBuilder, t: Value, step: Value, i: Value| {
        b.store(rec_t, i, t);
        b.store(rec_step, i, step);
        for (sel, src, count, dst) in [
            (rec_states, y, n_rec_states, rec_y),
            (rec_aux_idx, aux, n_rec_aux, rec_aux),
        ] {
            // for k in 0..count: dst[i * count + k] = src[sel[k]]
            let z = b.i64(0);
            b.for_range(z, count, &[], |b, k, _| {
                let src_idx = b.load(sel, k);
                let x = b.load(src, src_idx);
                let row = b.mul(i, count);
                let at = b.add(row, k);
                b.store(dst, at, x);
                Vec::new()
            });
        }
    };

    // --- First call of a run: aux at t0, then the t0 sample. ---
    let init = b.create_block();
    let fresh = b.cmp(CmpOp::Eq, started, zero_i);
    b.brif(fresh, init, &[], header, &start.args());
    b.switch_to(init);
    {
        let one = b.i64(1);
        let s = b.i64(ICTL_STARTED);
        b.store(ictl, s, one);
    }
    // Exits with `FAULT + mask` when a model function raised an arithmetic fault.
    let check_fault = |b: &mut FunctionBuilder, mask: Value, c: &Carried| {
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
        b.jump(exit, &a);
        b.switch_to(fine);
    };
    if has_aux {
        let args = [start.t, y, p, aux, ring, head];
        let r = b.call(update_aux, &update_aux_signature(elem), &args);
        check_fault(&mut b, r[1], &start);
    }
    let rec0 = b.create_block();
    let first = b.cmp(CmpOp::Eq, start.step, zero_i);
    let want0 = b.binary(BinaryOp::And, recording, first);
    b.brif(want0, rec0, &[], header, &start.args());
    b.switch_to(rec0);
    {
        let full = b.cmp(CmpOp::Ge, start.i, cap_rec);
        let grow = b.create_block();
        let write = b.create_block();
        b.brif(full, grow, &[], write, &[]);
        b.switch_to(grow);
        // Undo the started flag so the t0 sample is written on re-entry.
        let s = b.i64(ICTL_STARTED);
        let z = b.i64(0);
        b.store(ictl, s, z);
        let st = b.i32(status::GROW_REC);
        let mut a = vec![st];
        a.extend(start.args());
        b.jump(exit, &a);
        b.switch_to(write);
        record(&mut b, start.t, start.step, start.i);
        let i1 = b.add(start.i, one_i);
        b.jump(header, &[start.t, start.dt, start.step, i1, start.m]);
    }

    // --- Loop header: continue while step < max and (ODE) t < t_end. ---
    b.switch_to(header);
    let body = b.create_block();
    let done = b.create_block();
    let more = b.cmp(CmpOp::Lt, cur.step, max_steps);
    let more = if is_map {
        more
    } else {
        let before_end = b.cmp(CmpOp::Lt, cur.t, t_end);
        b.binary(BinaryOp::And, more, before_end)
    };
    b.brif(more, body, &[], done, &[]);
    b.switch_to(done);
    {
        let st = b.i32(status::DONE);
        let mut a = vec![st];
        a.extend(cur.args());
        b.jump(exit, &a);
    }

    // --- Capacity checks before any work of this iteration. ---
    b.switch_to(body);
    let exit_with = |b: &mut FunctionBuilder, code: i32, c: &Carried| {
        let st = b.i32(code);
        let mut a = vec![st];
        a.extend(c.args());
        b.jump(exit, &a);
    };
    let rows = (pre_logs as i64) + (post_logs as i64);
    if rows > 0 {
        let need = b.i64(rows);
        let after = b.add(cur.m, need);
        let full = b.cmp(CmpOp::Gt, after, cap_evt);
        let grow = b.create_block();
        let ok = b.create_block();
        b.brif(full, grow, &[], ok, &[]);
        b.switch_to(grow);
        exit_with(&mut b, status::GROW_EVT, &cur);
        b.switch_to(ok);
    }
    let next_step = b.add(cur.step, one_i);
    let will_record = {
        let safe_interval = b.select(recording, interval, one_i);
        let r = b.binary(BinaryOp::Mod, next_step, safe_interval);
        let on = b.cmp(CmpOp::Eq, r, zero_i);
        b.binary(BinaryOp::And, recording, on)
    };
    {
        let full = b.cmp(CmpOp::Ge, cur.i, cap_rec);
        let blocked = b.binary(BinaryOp::And, will_record, full);
        let grow = b.create_block();
        let ok = b.create_block();
        b.brif(blocked, grow, &[], ok, &[]);
        b.switch_to(grow);
        exit_with(&mut b, status::GROW_REC, &cur);
        b.switch_to(ok);
    }

    // Appends the event row for a fired event with a log; returns the new m.
    let log_event =
        |b: &mut FunctionBuilder, code: Value, width_v: Value, i: Value, m: Value| -> Value {
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
        };

    // --- Pre-events on (t, y). ---
    let mut m = cur.m;
    if has_pre {
        let r = b.call(
            events_pre,
            &events_signature(elem),
            &[cur.t, y, p, scratch, iscratch, ring, head],
        );
        check_fault(&mut b, r[2], &cur);
        m = log_event(&mut b, r[0], r[1], cur.i, m);
    }

    // --- Clip to the horizon (ODE). ---
    let dt = if is_map {
        cur.dt
    } else {
        let remaining = b.sub(t_end, cur.t);
        let over = b.cmp(CmpOp::Gt, cur.dt, remaining);
        let zero = b.f64(0.0);
        let pos = b.cmp(CmpOp::Gt, remaining, zero);
        let clip = b.binary(BinaryOp::And, over, pos);
        b.select(clip, remaining, cur.dt)
    };

    // --- Step. ---
    // The runner's own buffers, in the stepper's parameter order.
    let step_args: Vec<Value> = step_abi
        .order()
        .into_iter()
        .map(|sp| match (sp, RunnerParam::forwarded(sp)) {
            (StepParam::T, _) => cur.t,
            (StepParam::Dt, _) => dt,
            (_, Some(r)) => prm(&b, r),
            (_, None) => unreachable!("only t and dt are not forwarded"),
        })
        .collect();
    let st = b.call(step_fn, &step_sig, &step_args)[0];
    let ok32 = b.i32(status::OK);
    let accepted = b.cmp(CmpOp::Eq, st, ok32);
    let fail = b.create_block();
    let stepped = b.create_block();
    b.brif(accepted, stepped, &[], fail, &[]);
    b.switch_to(fail);
    b.jump(exit, &[st, cur.t, cur.dt, cur.step, cur.i, m]);

    // --- Guards. ---
    b.switch_to(stepped);
    let i0 = b.i64(0);
    let i1 = b.i64(1);
    let t_prop = b.load(sout, i0);
    let dt_next = b.load(sout, i1);
    let inf = b.f64(f64::INFINITY);
    let finite = |b: &mut FunctionBuilder, x: Value| crate::stepper::emit::finite(b, x, inf);
    let mut ok = finite(&mut b, t_prop);
    let okd = finite(&mut b, dt_next);
    ok = b.binary(BinaryOp::And, ok, okd);
    if float_state {
        for k in 0..n {
            let kk = b.i64(k as i64);
            let raw = b.load(y_prop, kk);
            let x = b.convert(raw, Type::F64);
            let okk = finite(&mut b, x);
            ok = b.binary(BinaryOp::And, ok, okk);
        }
    }
    let nan = b.create_block();
    let fine = b.create_block();
    b.brif(ok, fine, &[], nan, &[]);
    b.switch_to(nan);
    exit_with(&mut b, status::NAN_DETECTED, &Carried { m, ..cur });
    b.switch_to(fine);

    // A step that does not move time (`t + dt == t` far from 0) would repeat forever.
    if !is_map {
        let advances = b.cmp(CmpOp::Gt, t_prop, cur.t);
        let moving = b.create_block();
        let stalled = b.create_block();
        b.brif(advances, moving, &[], stalled, &[]);
        b.switch_to(stalled);
        exit_with(&mut b, status::STALLED, &Carried { m, ..cur });
        b.switch_to(moving);
    }

    // The time of the new state: the stepper's for ODEs, the exact label for maps.
    let t_new = if is_map {
        let k1 = b.convert(next_step, Type::F64);
        let off = b.mul(k1, dt);
        b.add(t_label0, off)
    } else {
        t_prop
    };

    // --- Post-events on the proposal. ---
    if has_post {
        let r = b.call(
            events_post,
            &events_signature(elem),
            &[t_new, y_prop, p, scratch, iscratch, ring, head],
        );
        check_fault(&mut b, r[2], &Carried { m, ..cur });
        m = log_event(&mut b, r[0], r[1], cur.i, m);
    }

    // --- Commit, aux and stop, lags. ---
    for k in 0..n {
        let kk = b.i64(k as i64);
        let x = b.load(y_prop, kk);
        b.store(y, kk, x);
    }
    let stop = if has_aux || has_stop {
        let r = b.call(
            update_aux,
            &update_aux_signature(elem),
            &[t_new, y, p, aux, ring, head],
        );
        // The state is committed; the failed step's time and count are reported.
        let committed = Carried {
            t: t_new,
            dt: dt_next,
            step: next_step,
            i: cur.i,
            m,
        };
        check_fault(&mut b, r[1], &committed);
        Some(r[0])
    } else {
        None
    };
    for (j, r) in lags.rings.iter().enumerate() {
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

    // --- Record. ---
    let rec = b.create_block();
    let after_rec = b.create_block();
    let i_after = b.block_param(after_rec, Type::I64);
    b.brif(will_record, rec, &[], after_rec, &[cur.i]);
    b.switch_to(rec);
    record(&mut b, t_new, next_step, cur.i);
    let i_next = b.add(cur.i, one_i);
    b.jump(after_rec, &[i_next]);
    b.switch_to(after_rec);
    let next = Carried {
        t: t_new,
        dt: dt_next,
        step: next_step,
        i: i_after,
        m,
    };

    // --- Stop check after the record, so the triggering sample is kept. ---
    match stop {
        Some(stop) => {
            let early = b.create_block();
            let cont = b.create_block();
            b.brif(stop, early, &[], cont, &[]);
            b.switch_to(early);
            exit_with(&mut b, status::EARLY_EXIT, &next);
            b.switch_to(cont);
            b.jump(header, &next.args());
        }
        None => b.jump(header, &next.args()),
    }

    // --- Exit: write the cursors back. ---
    b.switch_to(exit);
    for (slot, v) in [(FCTL_T, ex.t), (FCTL_DT, ex.dt)] {
        let s = b.i64(slot);
        b.store(fctl, s, v);
    }
    for (slot, v) in [(ICTL_STEP, ex.step), (ICTL_REC, ex.i), (ICTL_EVT, ex.m)] {
        let s = b.i64(slot);
        b.store(ictl, s, v);
    }
    b.ret(&[ex_status]);
    mf.program.add(f)
}
