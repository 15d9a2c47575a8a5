//! The ordinary loop (BASE, and ANALYSIS with the observers' phases): every phase, in
//! order, for every step.

use dynlib_ir::*;

use super::{Carried, Runner};

/// The BASE loop's phases, from the first call's t0 work (`start`: the cursors on entry,
/// `started`: `ICTL_STARTED`) to the jump to the next iteration.
pub(super) fn compose(r: &mut Runner, start: &Carried, started: Value) {
    let header = r.b.create_block();
    let cur = Carried {
        t: r.b.block_param(header, Type::F64),
        dt: r.b.block_param(header, Type::F64),
        step: r.b.block_param(header, Type::I64),
        i: r.b.block_param(header, Type::I64),
        m: r.b.block_param(header, Type::I64),
    };
    r.first_call(start, started, header);
    r.loop_header(header, &cur);
    let (next_step, will_record) = r.capacity_check(&cur);
    let m = r.pre_events(&cur);
    r.pre_hooks(&Carried { m, ..cur });
    let dt = r.clip(&cur);
    r.step(&cur, dt, m);
    let (t_new, dt_next) = r.guards(&cur, m, dt, next_step);
    let m = r.post_events(&cur, t_new, m);
    let committed = Carried {
        t: t_new,
        dt: dt_next,
        step: next_step,
        i: cur.i,
        m,
    };
    let stop = r.commit(&committed);
    r.lags();
    r.post_hooks(t_new, dt, &committed);
    let i = r.record_step(will_record, t_new, next_step, cur.i);
    r.next_iteration(stop, header, &Carried { i, ..committed });
}
