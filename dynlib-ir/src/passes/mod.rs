//! Optimisation passes, run on the IR before either backend sees it.
//!
//! Both backends execute the optimised IR, so a pass can never make them disagree; but a
//! pass must also never change what the program computes, bit for bit, compared with the
//! unoptimised IR (users compare against the reference library, and `jit = false` with and
//! without optimisation must agree). Hence the rules every pass here follows:
//!
//! - No floating-point algebra: no reassociation, no `x * 1 → x`, no `x + 0 → x` (wrong for
//!   `-0.0`), no commuting operands (NaN payload propagation depends on operand order).
//! - Constants are folded with exactly the operations the interpreter uses (Rust's IEEE
//!   arithmetic and [`crate::semantics`]); `math` calls are never folded, because libm
//!   results must come from the libm that runs the program.
//! - Every pass keeps the function verifier-clean, and expects verifier-clean input.
//!
//! Each pass returns whether it changed anything; [`optimize`] runs them to a fixed point.

pub mod cse;
pub mod dce;
pub mod dominators;
pub mod fold;
pub mod forward;
pub mod inline;
pub mod merge;
pub mod outline;

pub use cse::{cse, cse_function};
pub use dce::{dce_function, dead_code};
pub use dominators::DominatorTree;
pub use fold::{constant_fold, fold_function};
pub use forward::{forward_function, forward_memory};
pub use inline::inline_calls;
pub use merge::{merge_blocks, merge_function};
pub use outline::outline_large_blocks;

use crate::ir::*;

/// The most rounds [`optimize`] runs; each round inlines one more level of calls, and a
/// program settles in a few rounds (call depth plus one).
pub const MAX_ROUNDS: usize = 8;

/// Runs inlining, constant folding, store-to-load forwarding, common-subexpression
/// elimination, block merging and dead-code elimination in that order, repeating until nothing changes (at most
/// [`MAX_ROUNDS`] rounds). Returns whether anything changed.
///
/// ```
/// let mut p = dynlib_ir::parse_program(
///     "function @f() -> (f64) {\nblock0:\n    v0:f64 = const 1.5\n    v1:f64 = add v0, v0\n    return v1\n}\n",
/// ).unwrap();
/// dynlib_ir::passes::optimize(&mut p);
/// assert!(p.to_string().contains("const 0x4008000000000000 ; 3.0"));
/// ```
pub fn optimize(program: &mut Program) -> bool {
    let mut any = false;
    // The function passes read nothing but their function, so a function that came out of
    // a round unchanged would come out of the next one unchanged too, unless inlining gives
    // it new code: only functions that changed (or were inlined into) run them again. Each
    // function sees the same passes in the same order as if every pass ran over the whole
    // program every round, so the result is the same program, in fewer passes over code
    // that has settled (a model of 10,000 states spent most of its later rounds there).
    let mut dirty = vec![true; program.functions.len()];
    for _ in 0..MAX_ROUNDS {
        let inlined = inline::inline_each(program);
        let mut changed = false;
        for (i, func) in program.functions.iter_mut().enumerate() {
            if !(dirty[i] || inlined[i]) {
                continue;
            }
            let mut c = inlined[i];
            c |= fold::fold_function(func);
            c |= forward::forward_function(func);
            c |= cse::cse_function(func);
            c |= merge::merge_function(func);
            c |= dce::dce_function(func);
            dirty[i] = c;
            changed |= c;
        }
        any |= changed;
        if !changed {
            break;
        }
    }
    any
}

/// Rewrites the jump targets of a terminator through `f` (other instructions have none).
pub(crate) fn map_block_targets(data: &mut InstData, mut f: impl FnMut(Block) -> Block) {
    match data {
        InstData::Jump { dest } => dest.block = f(dest.block),
        InstData::Brif {
            then_dest,
            else_dest,
            ..
        } => {
            then_dest.block = f(then_dest.block);
            else_dest.block = f(else_dest.block);
        }
        _ => {}
    }
}

/// Puts the blocks in the layout `order` (old block ids; the entry must stay first) and
/// renumbers every block reference. Blocks left out of `order` are dropped; no kept block may
/// jump to them. Their instructions and parameters are left orphaned, for [`compact`].
pub(crate) fn relayout(func: &mut Function, order: &[Block]) {
    debug_assert_eq!(order.first(), Some(&Block(0)), "the entry stays first");
    let mut new_id = vec![None; func.blocks.len()];
    for (new, old) in order.iter().enumerate() {
        new_id[old.index()] = Some(Block(new as u32));
    }
    let mut old_blocks: Vec<Option<BlockData>> = std::mem::take(&mut func.blocks)
        .into_iter()
        .map(Some)
        .collect();
    for (new, old) in order.iter().enumerate() {
        let data = old_blocks[old.index()]
            .take()
            .expect("each block appears once in the new layout");
        for (n, &p) in data.params.iter().enumerate() {
            func.values[p.index()].def = ValueDef::Param(Block(new as u32), n as u32);
        }
        for &inst in &data.insts {
            map_block_targets(&mut func.insts[inst.index()], |b| {
                new_id[b.index()].expect("kept blocks jump only to kept blocks")
            });
        }
        func.blocks.push(data);
    }
}

/// Drops the instructions that are in no block and the values that nothing defines any
/// more, and renumbers the rest densely in layout order: values in the order the printer
/// shows their definitions, instructions in the order they appear. Returns whether any
/// number changed.
///
/// Passes leave instructions orphaned (a folded branch's dead target, a merged common
/// subexpression); compacting afterwards keeps every value's [`ValueDef`] truthful, which
/// nothing could guarantee for a value whose defining block was deleted, and makes the
/// printed text of an optimised function read `v0, v1, ...` from top to bottom.
pub(crate) fn compact(func: &mut Function) -> bool {
    let mut new_inst: Vec<Option<u32>> = vec![None; func.insts.len()];
    let mut new_value: Vec<Option<u32>> = vec![None; func.values.len()];
    let mut value_order = Vec::with_capacity(func.values.len());
    let mut inst_order = Vec::with_capacity(func.insts.len());
    for block in &func.blocks {
        for &p in &block.params {
            new_value[p.index()] = Some(value_order.len() as u32);
            value_order.push(p);
        }
        for &i in &block.insts {
            new_inst[i.index()] = Some(inst_order.len() as u32);
            inst_order.push(i);
            for &r in &func.results[i.index()] {
                new_value[r.index()] = Some(value_order.len() as u32);
                value_order.push(r);
            }
        }
    }
    let identity = value_order.len() == func.values.len()
        && inst_order.len() == func.insts.len()
        && value_order.iter().enumerate().all(|(n, v)| v.index() == n)
        && inst_order.iter().enumerate().all(|(n, i)| i.index() == n);
    if identity {
        return false;
    }
    let value = |v: Value| Value(new_value[v.index()].expect("operands are defined values"));
    let inst = |i: Inst| Inst(new_inst[i.index()].expect("placed instructions are kept"));

    let mut old_insts: Vec<Option<InstData>> = std::mem::take(&mut func.insts)
        .into_iter()
        .map(Some)
        .collect();
    let mut old_results = std::mem::take(&mut func.results);
    for &i in &inst_order {
        let mut data = old_insts[i.index()]
            .take()
            .expect("each instruction is placed once");
        data.map_operands(value);
        func.insts.push(data);
        let results = std::mem::take(&mut old_results[i.index()]);
        func.results.push(results.into_iter().map(value).collect());
    }
    let old_values = std::mem::take(&mut func.values);
    for v in value_order {
        let mut data = old_values[v.index()];
        if let ValueDef::Result(i, n) = data.def {
            data.def = ValueDef::Result(inst(i), n);
        }
        func.values.push(data);
    }
    for block in &mut func.blocks {
        block.params.iter_mut().for_each(|p| *p = value(*p));
        block.insts.iter_mut().for_each(|i| *i = inst(*i));
    }
    true
}

/// Follows a replacement map to its end (`a → b → c` gives `c`).
pub(crate) fn resolve(replace: &crate::hash::Map<Value, Value>, mut v: Value) -> Value {
    while let Some(&r) = replace.get(&v) {
        v = r;
    }
    v
}

/// Rewrites every operand of every placed instruction through a replacement map.
pub(crate) fn apply_replacements(func: &mut Function, replace: &crate::hash::Map<Value, Value>) {
    if replace.is_empty() {
        return;
    }
    for b in 0..func.blocks.len() {
        for k in 0..func.blocks[b].insts.len() {
            let i = func.blocks[b].insts[k];
            func.insts[i.index()].map_operands(|v| resolve(replace, v));
        }
    }
}
