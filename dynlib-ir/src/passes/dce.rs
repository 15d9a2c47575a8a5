//! Dead-code elimination: unreachable blocks and unused side-effect-free instructions.
//!
//! How blocks are handled: a block's id is its position in the layout, so deleting a block
//! renumbers the blocks after it. The pass deletes every block that cannot be reached from
//! the entry and renumbers all jump targets ([`super::relayout`]); reachable blocks keep
//! their relative order. Then instructions whose results nobody uses and that have no side
//! effects (everything but `store`, `call` and terminators; an unused `load` is removed) are
//! taken out of their blocks. Finally the function is compacted ([`super::compact`]): the
//! instructions and values that are in no block any more are dropped and the rest
//! renumbered densely in their old order, so no value is left whose definition names a
//! deleted block. Block parameters are never removed (that would change the blocks'
//! interfaces); unused ones cost nothing.

use super::{compact, relayout, DominatorTree};
use crate::ir::*;

/// Removes dead code from every function; returns whether anything changed.
pub fn dead_code(program: &mut Program) -> bool {
    let mut changed = false;
    for func in &mut program.functions {
        changed |= dce_function(func);
    }
    changed
}

/// Removes dead code from one function; returns whether anything changed.
pub fn dce_function(func: &mut Function) -> bool {
    if func.blocks.is_empty() {
        return false;
    }
    let mut changed = false;
    let dt = DominatorTree::compute(func);
    if dt.rpo().len() < func.blocks.len() {
        let order: Vec<Block> = func.block_ids().filter(|&b| dt.is_reachable(b)).collect();
        relayout(func, &order);
        changed = true;
    }

    // Mark: side effects are live, and so is whatever a live instruction reads.
    let mut live = vec![false; func.insts.len()];
    let mut worklist = Vec::new();
    for block in &func.blocks {
        for &i in &block.insts {
            if func.insts[i.index()].has_side_effects() {
                live[i.index()] = true;
                func.insts[i.index()].for_each_operand(|v| worklist.push(v));
            }
        }
    }
    while let Some(v) = worklist.pop() {
        if let ValueDef::Result(i, _) = func.values[v.index()].def {
            if !live[i.index()] {
                live[i.index()] = true;
                func.insts[i.index()].for_each_operand(|v| worklist.push(v));
            }
        }
    }
    // Sweep.
    for block in &mut func.blocks {
        let before = block.insts.len();
        block.insts.retain(|i| live[i.index()]);
        changed |= block.insts.len() != before;
    }
    changed |= compact(func);
    changed
}
