//! Constant folding: instructions whose inputs are all constants become constants.
//!
//! The folded value is computed with exactly the operation the interpreter performs at run
//! time — Rust's IEEE `+ - * /` and comparisons, wrapping integer arithmetic, and
//! [`crate::semantics`] for floored division, modulo and conversions — so folding never
//! changes a bit, including the sign of zero and NaN payloads. Deliberately not folded:
//! - `math` calls (the libm of the running process must compute them);
//! - f32 `floordiv`/`mod` (there is no f32 reference function in [`crate::semantics`]);
//! - ordered comparisons of bools (`lt`/`le`/`gt`/`ge` on `bool` have no agreed meaning
//!   between an `i1` comparison and the interpreter's);
//! - any algebraic identity (`x * 1`, `x + 0`, ...), even when one operand is constant.
//!
//! Besides arithmetic, three exact simplifications of control and selection:
//! `select` on a constant condition becomes the chosen operand, `convert` to the operand's
//! own type becomes the operand ([`crate::semantics::convert`] is the identity there), and
//! `brif` on a constant condition (or with two identical targets) becomes a `jump`. The
//! blocks this makes unreachable are removed by [`super::dce`].

use crate::hash::Map;

use super::{apply_replacements, resolve, DominatorTree};
use crate::ir::*;
use crate::semantics;

/// Folds every function of the program; returns whether anything changed.
pub fn constant_fold(program: &mut Program) -> bool {
    let mut changed = false;
    for func in &mut program.functions {
        changed |= fold_function(func);
    }
    changed
}

/// Folds one function; returns whether anything changed.
pub fn fold_function(func: &mut Function) -> bool {
    let mut replace: Map<Value, Value> = Map::default();
    let mut changed = false;
    // Reverse postorder visits every definition before its uses (block parameters aside,
    // which are never folded), so one sweep folds whole chains; a folded branch can only
    // remove paths, so a second sweep finds nothing new and the loop ends.
    loop {
        let mut round = false;
        let dt = DominatorTree::compute(func);
        for &b in dt.rpo() {
            // Rebuilt rather than removed from in place: linear in the block's length.
            let insts = std::mem::take(&mut func.blocks[b.index()].insts);
            let mut kept = Vec::with_capacity(insts.len());
            for inst in insts {
                func.insts[inst.index()].map_operands(|v| resolve(&replace, v));
                match fold_inst(func, inst) {
                    Some(Folded::Const(bits)) => {
                        func.insts[inst.index()] = InstData::Const { bits };
                        round = true;
                    }
                    Some(Folded::Alias(v)) => {
                        replace.insert(func.results[inst.index()][0], v);
                        round = true;
                        continue;
                    }
                    Some(Folded::Jump(dest)) => {
                        func.insts[inst.index()] = InstData::Jump { dest };
                        round = true;
                    }
                    None => {}
                }
                kept.push(inst);
            }
            func.blocks[b.index()].insts = kept;
        }
        // Unreachable blocks were not visited; keep their operands valid too.
        apply_replacements(func, &replace);
        if !round {
            return changed;
        }
        changed = true;
    }
}

enum Folded {
    /// The instruction becomes this constant (same result value and type).
    Const(u64),
    /// The result equals this existing value.
    Alias(Value),
    /// The branch becomes this jump.
    Jump(BlockCall),
}

/// The constant a value holds, when it is the result of a `const`.
fn const_of(func: &Function, v: Value) -> Option<u64> {
    match func.values[v.index()].def {
        ValueDef::Result(i, 0) => match func.insts[i.index()] {
            InstData::Const { bits } => Some(bits),
            _ => None,
        },
        _ => None,
    }
}

fn fold_inst(func: &Function, inst: Inst) -> Option<Folded> {
    let ty = |v: Value| func.value_type(v);
    let c = |v: Value| const_of(func, v);
    let bits = match &func.insts[inst.index()] {
        InstData::Unary { op, arg } => fold_unary(*op, ty(*arg), c(*arg)?)?,
        InstData::Binary { op, args } => fold_binary(*op, ty(args[0]), c(args[0])?, c(args[1])?)?,
        InstData::Cmp { op, args } => fold_cmp(*op, ty(args[0]), c(args[0])?, c(args[1])?)? as u64,
        InstData::Select { args } => {
            let chosen = if c(args[0])? != 0 { args[1] } else { args[2] };
            return Some(Folded::Alias(chosen));
        }
        InstData::Convert { arg } => {
            let (from, to) = (ty(*arg), func.value_type(func.results[inst.index()][0]));
            if from == to {
                return Some(Folded::Alias(*arg));
            }
            if matches!(from, Type::Ptr(_)) || matches!(to, Type::Ptr(_)) {
                return None;
            }
            semantics::convert(c(*arg)?, from, to)
        }
        InstData::Brif {
            cond,
            then_dest,
            else_dest,
        } => {
            if then_dest == else_dest {
                return Some(Folded::Jump(then_dest.clone()));
            }
            let dest = if c(*cond)? != 0 { then_dest } else { else_dest };
            return Some(Folded::Jump(dest.clone()));
        }
        _ => return None,
    };
    Some(Folded::Const(bits))
}

/// `op a` on constant bits of type `ty`, as the interpreter computes it.
pub(crate) fn fold_unary(op: UnaryOp, ty: Type, a: u64) -> Option<u64> {
    Some(match (op, ty) {
        // IEEE negation flips the sign bit only (NaN payloads and -0.0 included).
        (UnaryOp::Neg, Type::F64) => (-f64::from_bits(a)).to_bits(),
        (UnaryOp::Neg, Type::F32) => (-f32::from_bits(a as u32)).to_bits() as u64,
        (UnaryOp::Neg, Type::I64) => (a as i64).wrapping_neg() as u64,
        (UnaryOp::Neg, Type::I32) => (a as i32).wrapping_neg() as i64 as u64,
        (UnaryOp::Not, Type::Bool) => (a == 0) as u64,
        _ => return None,
    })
}

/// `a op b` on constant bits of type `ty`, as the interpreter computes it.
pub(crate) fn fold_binary(op: BinaryOp, ty: Type, a: u64, b: u64) -> Option<u64> {
    use BinaryOp::*;
    Some(match ty {
        Type::F64 => {
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            let r = match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv => semantics::floordiv_f64(x, y),
                Mod => semantics::mod_f64(x, y),
                And | Or => return None,
            };
            r.to_bits()
        }
        Type::F32 => {
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            let r = match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                FloorDiv | Mod | And | Or => return None,
            };
            r.to_bits() as u64
        }
        Type::I64 => {
            let (x, y) = (a as i64, b as i64);
            let r = match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i64(x, y),
                Mod => semantics::mod_i64(x, y),
                Div | And | Or => return None,
            };
            r as u64
        }
        Type::I32 => {
            let (x, y) = (a as i32, b as i32);
            let r = match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                FloorDiv => semantics::floordiv_i32(x, y),
                Mod => semantics::mod_i32(x, y),
                Div | And | Or => return None,
            };
            r as i64 as u64
        }
        Type::Bool => match op {
            And => ((a != 0) & (b != 0)) as u64,
            Or => ((a != 0) | (b != 0)) as u64,
            _ => return None,
        },
        Type::Ptr(_) => return None,
    })
}

/// `a op b` on constant bits of type `ty`: IEEE comparisons for floats, signed for ints.
pub(crate) fn fold_cmp(op: CmpOp, ty: Type, a: u64, b: u64) -> Option<bool> {
    fn compare<T: PartialOrd>(op: CmpOp, x: T, y: T) -> bool {
        match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
        }
    }
    Some(match ty {
        Type::F64 => compare(op, f64::from_bits(a), f64::from_bits(b)),
        Type::F32 => compare(op, f32::from_bits(a as u32), f32::from_bits(b as u32)),
        // Integers are stored sign-extended, so i32 compares correctly as i64.
        Type::I64 | Type::I32 => compare(op, a as i64, b as i64),
        Type::Bool if matches!(op, CmpOp::Eq | CmpOp::Ne) => compare(op, a != 0, b != 0),
        _ => return None,
    })
}
