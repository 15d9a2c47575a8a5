//! Common-subexpression elimination of pure instructions, within dominator scope.
//!
//! Pure instructions are `const`, unary, binary, `cmp`, `select`, `convert` and `math` (a
//! libm function gives the same result for the same arguments). Loads are not merged (a
//! store or a call may change memory between them), nor are stores and calls. Two
//! instructions are the same expression when opcode, operands in the same order and result
//! type agree; operands are never commuted, because for floats `a + b` and `b + a` can
//! differ in which NaN payload propagates. Constants are compared by bits, so `0.0` and
//! `-0.0` stay apart. A later instruction is replaced by an earlier one only when the
//! earlier one's block dominates it (scoped table over a dominator-tree walk).

use crate::hash::Map;

use super::{apply_replacements, resolve, DominatorTree};
use crate::ir::*;

/// Merges common subexpressions in every function; returns whether anything changed.
pub fn cse(program: &mut Program) -> bool {
    let mut changed = false;
    for func in &mut program.functions {
        changed |= cse_function(func);
    }
    changed
}

/// What makes two pure instructions compute the same value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Const(Type, u64),
    Unary(UnaryOp, Value, Type),
    Binary(BinaryOp, [Value; 2], Type),
    Cmp(CmpOp, [Value; 2]),
    Select([Value; 3], Type),
    Convert(Value, Type),
    Math(MathFn, Vec<Value>),
}

fn key_of(func: &Function, inst: Inst) -> Option<Key> {
    let results = &func.results[inst.index()];
    let [result] = results.as_slice() else {
        return None;
    };
    let ty = func.value_type(*result);
    Some(match &func.insts[inst.index()] {
        InstData::Const { bits } => Key::Const(ty, *bits),
        InstData::Unary { op, arg } => Key::Unary(*op, *arg, ty),
        InstData::Binary { op, args } => Key::Binary(*op, *args, ty),
        InstData::Cmp { op, args } => Key::Cmp(*op, *args),
        InstData::Select { args } => Key::Select(*args, ty),
        InstData::Convert { arg } => Key::Convert(*arg, ty),
        InstData::Math { func: m, args } => Key::Math(*m, args.clone()),
        _ => return None,
    })
}

enum Step {
    Enter(Block),
    /// Leave a block's scope: forget the table entries made since this undo-log length.
    Exit(usize),
}

/// Merges common subexpressions in one function; returns whether anything changed.
pub fn cse_function(func: &mut Function) -> bool {
    if func.blocks.is_empty() {
        return false;
    }
    let dt = DominatorTree::compute(func);
    let children = dt.children();
    let mut table: Map<Key, Value> = Map::default();
    let mut undo: Vec<Key> = Vec::new();
    let mut replace: Map<Value, Value> = Map::default();
    let mut stack = vec![Step::Enter(Block(0))];
    while let Some(step) = stack.pop() {
        let b = match step {
            Step::Exit(mark) => {
                for key in undo.drain(mark..) {
                    table.remove(&key);
                }
                continue;
            }
            Step::Enter(b) => b,
        };
        stack.push(Step::Exit(undo.len()));
        for &child in children[b.index()].iter().rev() {
            stack.push(Step::Enter(child));
        }
        // Rebuilt rather than removed from in place: linear in the block's length.
        let insts = std::mem::take(&mut func.blocks[b.index()].insts);
        let mut kept = Vec::with_capacity(insts.len());
        for inst in insts {
            func.insts[inst.index()].map_operands(|v| resolve(&replace, v));
            if let Some(key) = key_of(func, inst) {
                let result = func.results[inst.index()][0];
                if let Some(&earlier) = table.get(&key) {
                    replace.insert(result, earlier);
                    continue;
                }
                table.insert(key.clone(), result);
                undo.push(key);
            }
            kept.push(inst);
        }
        func.blocks[b.index()].insts = kept;
    }
    // Unreachable blocks are in no dominator scope; still rewrite their operands.
    apply_replacements(func, &replace);
    !replace.is_empty()
}
