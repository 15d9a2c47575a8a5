//! Block merging: a block that ends with `jump B(args)`, where the jump is `B`'s only
//! incoming edge, absorbs `B`.
//!
//! Inlining splits blocks and connects the pieces with jumps; merging puts straight-line
//! code back into one block, which the interpreter runs without block transitions and a
//! reader reads without chasing jumps. `B`'s parameters are replaced by the jump's
//! arguments (which dominate everything `B` contained), so no operation changes and no
//! result can change. The entry block is never absorbed (its parameters are the
//! function's), and a block never absorbs itself.

use crate::hash::Map;

use super::{apply_replacements, compact, relayout};
use crate::ir::*;

/// Merges straight-line block chains in every function; returns whether anything changed.
pub fn merge_blocks(program: &mut Program) -> bool {
    let mut changed = false;
    for func in &mut program.functions {
        changed |= merge_function(func);
    }
    changed
}

/// Merges straight-line block chains in one function; returns whether anything changed.
pub fn merge_function(func: &mut Function) -> bool {
    // Incoming edges per block, counting a `brif` with both arms to one block twice. Merging
    // B into A moves B's outgoing edges to A without changing any count.
    let mut preds = vec![0usize; func.blocks.len()];
    for block in &func.blocks {
        if let Some(&last) = block.insts.last() {
            for s in func.insts[last.index()].successors() {
                preds[s.index()] += 1;
            }
        }
    }
    let mut absorbed = vec![false; func.blocks.len()];
    let mut replace: Map<Value, Value> = Map::default();
    for a in 0..func.blocks.len() {
        if absorbed[a] {
            continue;
        }
        while let Some(&last) = func.blocks[a].insts.last() {
            let InstData::Jump { dest } = &func.insts[last.index()] else {
                break;
            };
            let b = dest.block.index();
            if b == a || b == 0 || preds[b] != 1 {
                break;
            }
            let args = dest.args.clone();
            let target = std::mem::take(&mut func.blocks[b]);
            for (p, arg) in target.params.iter().zip(args) {
                replace.insert(*p, arg);
            }
            let block = &mut func.blocks[a];
            block.insts.pop();
            block.insts.extend(target.insts);
            absorbed[b] = true;
        }
    }
    if !absorbed.iter().any(|&x| x) {
        return false;
    }
    apply_replacements(func, &replace);
    let order: Vec<Block> = func.block_ids().filter(|b| !absorbed[b.index()]).collect();
    relayout(func, &order);
    // The absorbed blocks' parameters still claim to be parameters of blocks that are gone.
    compact(func);
    true
}
