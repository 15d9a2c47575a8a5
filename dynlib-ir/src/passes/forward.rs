//! Store-to-load forwarding and redundant-load elimination, within a block.
//!
//! A load of `ptr[index]` is replaced by the value last stored to, or loaded from, the same
//! `ptr` and `index` values earlier in the block, when nothing in between may have changed
//! that element. The rule that makes this possible: distinct pointer parameters of a
//! function never share memory (arrays come from distinct Rust slices, and the verifier
//! makes every call pass each array at most once, and only arrays that are parameters of the
//! caller). So a store through one parameter leaves the elements known through another one
//! intact. Pointers that are not parameters (chosen by a `select` or a block parameter) may
//! be any of them: a store through one forgets everything, and a store through a parameter
//! forgets what is known through them. A call forgets everything.
//!
//! Indices are compared as values: the same SSA value is the same index; two different
//! integer constants are different indices; anything else may be equal, so a store there
//! forgets the element. The forwarded value is bit-identical to what the load would read
//! (a store writes exactly its value; elements are typed), and a removed load could not
//! have trapped, because the same element was just accessed successfully.

use std::collections::HashMap;

use super::apply_replacements;
use crate::ir::*;

/// Forwards stores and merges loads in every function; returns whether anything changed.
pub fn forward_memory(program: &mut Program) -> bool {
    let mut changed = false;
    for func in &mut program.functions {
        changed |= forward_function(func);
    }
    changed
}

/// Forwards stores and merges loads in one function; returns whether anything changed.
pub fn forward_function(func: &mut Function) -> bool {
    let params: Vec<Value> = func.params().to_vec();
    let mut replace: HashMap<Value, Value> = HashMap::new();
    for b in 0..func.blocks.len() {
        // (pointer, index) -> the element's current value.
        let mut known: Vec<(Value, Value, Value)> = Vec::new();
        let mut k = 0;
        while k < func.blocks[b].insts.len() {
            let inst = func.blocks[b].insts[k];
            func.insts[inst.index()].map_operands(|v| super::resolve(&replace, v));
            match func.insts[inst.index()].clone() {
                InstData::Load { ptr, index } => {
                    let result = func.results[inst.index()][0];
                    if let Some(&(_, _, v)) =
                        known.iter().find(|(p, i, _)| *p == ptr && *i == index)
                    {
                        replace.insert(result, v);
                        func.blocks[b].insts.remove(k);
                        continue;
                    }
                    known.push((ptr, index, result));
                }
                InstData::Store { ptr, index, value } => {
                    if params.contains(&ptr) {
                        known.retain(|&(p, i, _)| {
                            params.contains(&p) && (p != ptr || distinct_indices(func, i, index))
                        });
                    } else {
                        known.clear();
                    }
                    known.retain(|&(p, i, _)| !(p == ptr && i == index));
                    known.push((ptr, index, value));
                }
                InstData::Call { .. } => known.clear(),
                _ => {}
            }
            k += 1;
        }
    }
    apply_replacements(func, &replace);
    !replace.is_empty()
}

/// True when `a` and `b` are certainly different indices: two different integer constants.
fn distinct_indices(func: &Function, a: Value, b: Value) -> bool {
    let constant = |v: Value| match func.values[v.index()].def {
        ValueDef::Result(inst, 0) => match func.insts[inst.index()] {
            InstData::Const { bits } => Some(bits),
            _ => None,
        },
        _ => None,
    };
    matches!((constant(a), constant(b)), (Some(x), Some(y)) if x != y)
}
