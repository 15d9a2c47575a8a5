//! Inlining calls to leaf functions.
//!
//! Every call whose callee is a function of the same program without calls of its own (a
//! leaf) is replaced by a copy of the callee's body. The caller's block is split at the call:
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
//! Only leaves are inlined in one run; after a round, callers of former callers may have
//! become leaves, and [`super::optimize`] runs again.

use super::relayout;
use crate::ir::*;

/// Inlines every call to a leaf function; returns whether anything changed.
pub fn inline_calls(program: &mut Program) -> bool {
    inline_each(program).into_iter().any(|c| c)
}

/// [`inline_calls`], saying for each function whether it changed.
pub(crate) fn inline_each(program: &mut Program) -> Vec<bool> {
    // The leaves are those of the round's start: inlining into a function can make it a
    // leaf, but its callers must wait for the next run so each run inlines exactly one
    // level. A leaf's body does not change during the run (only functions with calls
    // receive code), so it is read in place, never copied.
    let leaves: Vec<bool> = program
        .functions
        .iter()
        .map(|f| !has_calls(f) && !f.blocks.is_empty())
        .collect();
    let mut changed = vec![false; program.functions.len()];
    for i in 0..program.functions.len() {
        if leaves[i] {
            continue;
        }
        while let Some((block, pos, callee)) = find_leaf_call(&program.functions[i], &leaves) {
            let (func, body) = caller_and_callee(&mut program.functions, i, callee.index());
            inline_call(func, block, pos, body);
            changed[i] = true;
        }
    }
    changed
}

/// The function `i`, to change, and the function `j`, to read (`i != j`: a caller is never
/// the leaf it calls).
fn caller_and_callee(fs: &mut [Function], i: usize, j: usize) -> (&mut Function, &Function) {
    if i < j {
        let (a, b) = fs.split_at_mut(j);
        (&mut a[i], &b[0])
    } else {
        let (a, b) = fs.split_at_mut(i);
        (&mut b[0], &a[j])
    }
}

fn has_calls(func: &Function) -> bool {
    func.blocks
        .iter()
        .flat_map(|b| &b.insts)
        .any(|i| matches!(func.insts[i.index()], InstData::Call { .. }))
}

/// The first call (in layout order) to a leaf: its block, position and callee.
fn find_leaf_call(func: &Function, leaves: &[bool]) -> Option<(Block, usize, FuncId)> {
    for (b, block) in func.blocks.iter().enumerate() {
        for (pos, &i) in block.insts.iter().enumerate() {
            if let InstData::Call { func: callee, .. } = &func.insts[i.index()] {
                if leaves.get(callee.index()).copied().unwrap_or(false) {
                    return Some((Block(b as u32), pos, *callee));
                }
            }
        }
    }
    None
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
        unreachable!("find_leaf_call returns calls");
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
