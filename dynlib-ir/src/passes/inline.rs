//! Inlining calls.
//!
//! A call whose callee is a function of the same program that is ready (below) is replaced
//! by a copy of the callee's body. The caller's block is split at the call:
//!
//! ```text
//! block3(...):                       block3(...):
//!     <before>                           <before>
//!     v7:f64 = call @g(v1, v2)   ==>     jump block4(v1, v2)        ; g's entry, copied
//!     <after>                        block4(v20: f64, v21: f64):   ; g's blocks, copied;
//!     <terminator>                       ...                        ; each `return x`
//!                                        jump block6(x)             ; jumps to the rest
//!                                    block6(v7: f64):              ; the continuation: the
//!                                        <after>                    ; call's results are its
//!                                        <terminator>               ; parameters
//! ```
//!
//! The call's result values are kept and become the continuation's parameters, so no use
//! needs rewriting; the copied blocks sit between the split halves in the layout, and the
//! blocks after them are renumbered. The copy keeps the callee's exact instructions and
//! their order: inlining changes no operation, so it changes no result.
//!
//! Only *ready* functions are inlined in one run: those without calls, or whose every call
//! is one the size rule keeps ([`worth_inlining`]); after a round, callers of former callers
//! may have become ready, and [`super::optimize`] runs again.
//!
//! The size rule: a callee is inlined where it is called once from a function (one copy in
//! that caller; a function called once from each of several callers, such as a step
//! function and the runner variants, is still copied into each) or where all its calls from that function together stay within
//! [`INLINE_BUDGET`] instructions. A large right-hand side called by every stage of a
//! Runge–Kutta step stays one function called four (or seven) times: copying it into every
//! stage multiplied the step's code by the number of stages, which cost compile time in
//! both backends and, past the instruction cache, run time too.

use std::collections::HashMap;

use super::relayout;
use crate::ir::*;

/// The most instructions that copies of one callee may add to one caller when the callee
/// is called more than once there. Measured on Lorenz-96 with RK4 at N = 40 (a 400-
/// instruction right-hand side, four stages): inlined (this budget) it runs 200,000 steps
/// in 64 ms against 71 ms called (a budget of 1,024), for a build of 0.14 s against 0.10 s;
/// from N = 100 on, calling it is as fast and compiles in a fraction of the time.
pub const INLINE_BUDGET: usize = 2048;

/// Whether `sites` calls of a callee of `size` instructions from one function are inlined.
pub fn worth_inlining(size: usize, sites: usize) -> bool {
    sites <= 1 || size.saturating_mul(sites) <= INLINE_BUDGET
}

/// Inlines every call the size rule allows to a ready function; returns whether anything
/// changed.
pub fn inline_calls(program: &mut Program) -> bool {
    inline_each(program).into_iter().any(|c| c)
}

/// [`inline_calls`], saying for each function whether it changed.
pub(crate) fn inline_each(program: &mut Program) -> Vec<bool> {
    let funcs = &program.functions;
    let sizes: Vec<usize> = funcs.iter().map(size).collect();
    let calls: Vec<HashMap<FuncId, usize>> = funcs.iter().map(call_sites).collect();
    let inlines = |caller: usize, callee: FuncId, ready: &[bool]| {
        let j = callee.index();
        j < ready.len() && ready[j] && worth_inlining(sizes[j], calls[caller][&callee])
    };
    // Ready: every call is to a ready function that the rule keeps. Those are decided on the
    // round's start: inlining into a function can make it ready, but its callers must wait
    // for the next run so each run inlines exactly one level. A ready function's body does
    // not change during the run (it receives no code), so it is read in place, never copied.
    let mut ready = vec![false; funcs.len()];
    loop {
        let mut grew = false;
        for g in 0..funcs.len() {
            if ready[g] || funcs[g].blocks.is_empty() {
                continue;
            }
            if calls[g].keys().all(|&h| {
                let j = h.index();
                j < ready.len() && ready[j] && !worth_inlining(sizes[j], calls[g][&h])
            }) {
                ready[g] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut changed = vec![false; funcs.len()];
    for i in 0..program.functions.len() {
        if ready[i] {
            continue;
        }
        // The calls to inline are those of the round's start: a copied body may bring calls
        // the rule keeps, and those stay calls.
        let func = &program.functions[i];
        let mut todo: Vec<Inst> = func
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .copied()
            .filter(|inst| match &func.insts[inst.index()] {
                InstData::Call { func: callee, .. } => inlines(i, *callee, &ready),
                _ => false,
            })
            .collect();
        todo.reverse();
        // In layout order, and a copy lands after the call's block: each search starts
        // where the last call was.
        let mut from = 0;
        while let Some(call) = todo.pop() {
            let (block, pos) = position(&program.functions[i], call, from);
            from = block.index();
            let InstData::Call { func: callee, .. } = program.functions[i].insts[call.index()]
            else {
                unreachable!("only calls are collected");
            };
            let (func, body) = caller_and_callee(&mut program.functions, i, callee.index());
            inline_call(func, block, pos, body);
            changed[i] = true;
        }
    }
    changed
}

/// The function `i`, to change, and the function `j`, to read (`i != j`: a caller is never
/// the ready function it calls).
fn caller_and_callee(fs: &mut [Function], i: usize, j: usize) -> (&mut Function, &Function) {
    if i < j {
        let (a, b) = fs.split_at_mut(j);
        (&mut a[i], &b[0])
    } else {
        let (a, b) = fs.split_at_mut(i);
        (&mut b[0], &a[j])
    }
}

/// The instructions placed in the function's blocks.
fn size(func: &Function) -> usize {
    func.blocks.iter().map(|b| b.insts.len()).sum()
}

/// How many calls of each callee the function makes.
fn call_sites(func: &Function) -> HashMap<FuncId, usize> {
    let mut sites = HashMap::new();
    for &i in func.blocks.iter().flat_map(|b| &b.insts) {
        if let InstData::Call { func: callee, .. } = &func.insts[i.index()] {
            *sites.entry(*callee).or_insert(0) += 1;
        }
    }
    sites
}

/// The block and position of placed instruction `inst`, in block `from` or later.
fn position(func: &Function, inst: Inst, from: usize) -> (Block, usize) {
    for (b, block) in func.blocks.iter().enumerate().skip(from) {
        if let Some(pos) = block.insts.iter().position(|&i| i == inst) {
            return (Block(b as u32), pos);
        }
    }
    unreachable!("a collected call stays placed until it is inlined")
}

/// Pushes a new instruction without placing it in a block.
fn new_inst(func: &mut Function, data: InstData) -> Inst {
    func.insts.push(data);
    func.results.push(Vec::new());
    Inst(func.insts.len() as u32 - 1)
}

/// Inlines the call at `block`, position `pos`, whose callee is `callee`.
fn inline_call(func: &mut Function, block: Block, pos: usize, callee: &Function) {
    let call = func.blocks[block.index()].insts[pos];
    let InstData::Call { args, .. } = func.insts[call.index()].clone() else {
        unreachable!("only calls are inlined");
    };

    // Split: the continuation takes everything after the call, and the call's results.
    let tail = func.blocks[block.index()].insts.split_off(pos + 1);
    func.blocks[block.index()].insts.pop();
    let results = std::mem::take(&mut func.results[call.index()]);
    let cont = Block(func.blocks.len() as u32);
    for (n, &r) in results.iter().enumerate() {
        func.values[r.index()].def = ValueDef::Param(cont, n as u32);
    }
    func.blocks.push(BlockData {
        params: results,
        insts: tail,
    });

    // Copy the callee: first every definition (so forward references in the callee's
    // loops resolve), then the instructions with their operands renamed.
    let base = func.blocks.len() as u32;
    let mut value_map: Vec<Option<Value>> = vec![None; callee.values.len()];
    let mut copies = Vec::with_capacity(callee.blocks.len());
    for (k, cb) in callee.blocks.iter().enumerate() {
        let new_block = Block(base + k as u32);
        let mut data = BlockData::default();
        for (n, &p) in cb.params.iter().enumerate() {
            let v = func.make_value(callee.value_type(p), ValueDef::Param(new_block, n as u32));
            value_map[p.index()] = Some(v);
            data.params.push(v);
        }
        for &ci in &cb.insts {
            let inst = new_inst(func, InstData::Return { args: Vec::new() });
            for (n, &r) in callee.results[ci.index()].iter().enumerate() {
                let v = func.make_value(callee.value_type(r), ValueDef::Result(inst, n as u32));
                value_map[r.index()] = Some(v);
                func.results[inst.index()].push(v);
            }
            data.insts.push(inst);
        }
        copies.push(data);
    }
    for (cb, data) in callee.blocks.iter().zip(&copies) {
        for (&ci, &inst) in cb.insts.iter().zip(&data.insts) {
            let mut copy = callee.insts[ci.index()].clone();
            copy.map_operands(|v| value_map[v.index()].expect("callee operands are defined"));
            super::map_block_targets(&mut copy, |b| Block(base + b.0));
            if let InstData::Return { args } = copy {
                copy = InstData::Jump {
                    dest: BlockCall { block: cont, args },
                };
            }
            func.insts[inst.index()] = copy;
        }
    }
    func.blocks.extend(copies);

    // The first half jumps into the copied entry with the call's arguments.
    let jump = new_inst(
        func,
        InstData::Jump {
            dest: BlockCall {
                block: Block(base),
                args,
            },
        },
    );
    func.blocks[block.index()].insts.push(jump);

    // Layout: ..., block, callee copies, continuation, the rest.
    let callee_blocks = (base..base + callee.blocks.len() as u32).map(Block);
    let order: Vec<Block> = (0..=block.0)
        .map(Block)
        .chain(callee_blocks)
        .chain(std::iter::once(cont))
        .chain((block.0 + 1..cont.0).map(Block))
        .collect();
    relayout(func, &order);
}
