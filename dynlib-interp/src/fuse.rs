//! Superinstructions: pairs of adjacent operations executed by one dispatch.
//!
//! The executor's cost is mostly per dispatched operation (fetch, indirect jump, operands
//! read back from the frame), so the decoder fuses the pairs that dominate numerical code:
//! two f64 loads or two f64 stores with constant indices, an f64 operation whose result is
//! stored next, and two dependent f64 additions, subtractions or multiplications (an
//! expression tree's chain). A fused operation does exactly what the pair does, in the
//! same order — every register is still written, every operand read in its position, each
//! floating-point operation rounded on its own — so fusion changes no result bit; a trap
//! in either half still names that half's instruction.
//!
//! Only operations of one block fuse (a branch target always starts an operation), and
//! only when every register and constant index fits in 16 bits, which keeps each fused
//! operation inside the 16 bytes of an [`Op`].

use crate::code::{Load2, Op, OpStore, Pair, Reg, Reg16, Store2};

/// The f64 operations that fuse.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// `op` as an f64 arithmetic operation `(kind, d, a, b)`.
fn arith(op: Op) -> Option<(Arith, Reg, Reg, Reg)> {
    Some(match op {
        Op::AddF64 { d, a, b } => (Arith::Add, d, a, b),
        Op::SubF64 { d, a, b } => (Arith::Sub, d, a, b),
        Op::MulF64 { d, a, b } => (Arith::Mul, d, a, b),
        Op::DivF64 { d, a, b } => (Arith::Div, d, a, b),
        _ => return None,
    })
}

fn r16(r: u32) -> Option<Reg16> {
    Reg16::try_from(r).ok()
}

/// The fused form of `first` followed by `second`, when there is one.
pub(crate) fn fuse(first: Op, second: Op) -> Option<Op> {
    match (first, second) {
        (
            Op::LoadF64K {
                d: d1,
                p: p1,
                k: k1,
            },
            Op::LoadF64K {
                d: d2,
                p: p2,
                k: k2,
            },
        ) => {
            return Some(Op::LoadF64K2(Load2 {
                d1: r16(d1)?,
                p1: r16(p1)?,
                k1: r16(k1)?,
                d2: r16(d2)?,
                p2: r16(p2)?,
                k2: r16(k2)?,
            }))
        }
        (
            Op::StoreF64K {
                p: p1,
                k: k1,
                v: v1,
            },
            Op::StoreF64K {
                p: p2,
                k: k2,
                v: v2,
            },
        ) => {
            return Some(Op::StoreF64K2(Store2 {
                p1: r16(p1)?,
                k1: r16(k1)?,
                v1: r16(v1)?,
                p2: r16(p2)?,
                k2: r16(k2)?,
                v2: r16(v2)?,
            }))
        }
        _ => {}
    }
    let (kind1, d1, a, b) = arith(first)?;
    if let Op::StoreF64K { p, k, v } = second {
        if v != d1 {
            return None;
        }
        let o = OpStore {
            d: r16(d1)?,
            a: r16(a)?,
            b: r16(b)?,
            p: r16(p)?,
            k: r16(k)?,
        };
        return Some(match kind1 {
            Arith::Add => Op::AddF64StoreK(o),
            Arith::Sub => Op::SubF64StoreK(o),
            Arith::Mul => Op::MulF64StoreK(o),
            Arith::Div => Op::DivF64StoreK(o),
        });
    }
    let (kind2, d2, x, y) = arith(second)?;
    // `left`: d1 is the second operation's left operand (and `c` its right one, which may
    // be d1 too); otherwise d1 is its right operand only.
    let (left, c) = if x == d1 {
        (true, y)
    } else if y == d1 {
        (false, x)
    } else {
        return None;
    };
    let q = Pair {
        d1: r16(d1)?,
        a: r16(a)?,
        b: r16(b)?,
        d2: r16(d2)?,
        c: r16(c)?,
    };
    use Arith::*;
    Some(match (kind1, kind2, left) {
        (Add, Add, true) => Op::AddAddL(q),
        (Add, Add, false) => Op::AddAddR(q),
        (Add, Sub, true) => Op::AddSubL(q),
        (Add, Sub, false) => Op::AddSubR(q),
        (Add, Mul, true) => Op::AddMulL(q),
        (Add, Mul, false) => Op::AddMulR(q),
        (Sub, Add, true) => Op::SubAddL(q),
        (Sub, Add, false) => Op::SubAddR(q),
        (Sub, Sub, true) => Op::SubSubL(q),
        (Sub, Sub, false) => Op::SubSubR(q),
        (Sub, Mul, true) => Op::SubMulL(q),
        (Sub, Mul, false) => Op::SubMulR(q),
        (Mul, Add, true) => Op::MulAddL(q),
        (Mul, Add, false) => Op::MulAddR(q),
        (Mul, Sub, true) => Op::MulSubL(q),
        (Mul, Sub, false) => Op::MulSubR(q),
        (Mul, Mul, true) => Op::MulMulL(q),
        (Mul, Mul, false) => Op::MulMulR(q),
        (Div, _, _) | (_, Div, _) => return None,
    })
}
