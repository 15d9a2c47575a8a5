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

use crate::hash::Map;

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

/// What is known about memory in a block: the current value of elements, by pointer and
/// index. Every operation is O(1), so a block of any size is forwarded in linear time.
#[derive(Default)]
struct Known {
    /// Elements of parameter arrays at constant indices: pointer -> index bits -> value.
    constant: Map<Value, Map<u64, Value>>,
    /// Elements of parameter arrays at other indices: pointer -> index value -> value.
    other: Map<Value, Map<Value, Value>>,
    /// Elements through pointers that are not parameters: (pointer, index) -> value.
    unknown_ptr: Map<(Value, Value), Value>,
}

impl Known {
    fn clear(&mut self) {
        self.constant.clear();
        self.other.clear();
        self.unknown_ptr.clear();
    }

    fn get(&self, param: bool, ptr: Value, index: Value, c: Option<u64>) -> Option<Value> {
        match (param, c) {
            (true, Some(c)) => self.constant.get(&ptr)?.get(&c).copied(),
            (true, None) => self.other.get(&ptr)?.get(&index).copied(),
            (false, _) => self.unknown_ptr.get(&(ptr, index)).copied(),
        }
    }

    fn set(&mut self, param: bool, ptr: Value, index: Value, c: Option<u64>, v: Value) {
        match (param, c) {
            (true, Some(c)) => {
                self.constant.entry(ptr).or_default().insert(c, v);
            }
            (true, None) => {
                self.other.entry(ptr).or_default().insert(index, v);
            }
            (false, _) => {
                self.unknown_ptr.insert((ptr, index), v);
            }
        }
    }

    /// A store of `v` to `ptr[index]`: forgets every element it may have changed.
    fn store(&mut self, param: bool, ptr: Value, index: Value, c: Option<u64>, v: Value) {
        if !param {
            // Any array at all: nothing is known any more.
            self.clear();
        } else {
            // Other arrays' elements stay; those known only through unknown pointers go.
            self.unknown_ptr.clear();
            match c {
                // Different constants are different elements: only the non-constant
                // indices of this array may be this one.
                Some(_) => {
                    self.other.remove(&ptr);
                }
                // Any element of this array may be this one.
                None => {
                    self.constant.remove(&ptr);
                    self.other.remove(&ptr);
                }
            }
        }
        self.set(param, ptr, index, c, v);
    }
}

/// Forwards stores and merges loads in one function; returns whether anything changed.
pub fn forward_function(func: &mut Function) -> bool {
    let params: crate::hash::Set<Value> = func.params().iter().copied().collect();
    let mut replace: Map<Value, Value> = Map::default();
    for b in 0..func.blocks.len() {
        let mut known = Known::default();
        let insts = std::mem::take(&mut func.blocks[b].insts);
        let mut kept = Vec::with_capacity(insts.len());
        for inst in insts {
            func.insts[inst.index()].map_operands(|v| super::resolve(&replace, v));
            match func.insts[inst.index()].clone() {
                InstData::Load { ptr, index } => {
                    let result = func.results[inst.index()][0];
                    let (param, c) = (params.contains(&ptr), constant(func, index));
                    if let Some(v) = known.get(param, ptr, index, c) {
                        // The load goes: its result is the known value.
                        replace.insert(result, v);
                        continue;
                    }
                    known.set(param, ptr, index, c, result);
                }
                InstData::Store { ptr, index, value } => {
                    let (param, c) = (params.contains(&ptr), constant(func, index));
                    known.store(param, ptr, index, c, value);
                }
                InstData::Call { .. } => known.clear(),
                _ => {}
            }
            kept.push(inst);
        }
        func.blocks[b].insts = kept;
    }
    apply_replacements(func, &replace);
    !replace.is_empty()
}

/// The bits of `v` when it is an integer constant.
fn constant(func: &Function, v: Value) -> Option<u64> {
    match func.values[v.index()].def {
        ValueDef::Result(inst, 0) => match func.insts[inst.index()] {
            InstData::Const { bits } => Some(bits),
            _ => None,
        },
        _ => None,
    }
}
