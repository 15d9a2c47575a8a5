//! The decoded form of a function: a flat array of register operations.
//!
//! Every SSA value owns one register of the frame (its index is the value's number), plus
//! one scratch register used to break cycles of block-argument moves. Operations are
//! specialised by type when decoding ([`Op::AddF64`], [`Op::LtInt`], [`Op::LoadF64K`]), so
//! executing one is a single `match` arm with no further dispatch. Branch targets are
//! operation indices. Anything larger than three register operands lives in a side table
//! of [`Code`] so that every [`Op`] fits in 16 bytes; the fused pairs of
//! [`crate::fuse`] fit by using 16-bit register numbers.

use dynlib_ir::{Inst, Signature, Type};

/// A register number: an index into a frame.
pub(crate) type Reg = u32;

/// One decoded operation. Field names: `d` destination, `a`/`b` operands, `c` condition,
/// `p` pointer (an index into the call's argument table), `i` index register, `k` constant
/// index, `v` stored value, `t`/`e` branch targets (operation indices).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Op {
    /// `d = a` (block arguments).
    Mov {
        d: Reg,
        s: Reg,
    },
    /// Continue at `t`.
    Jump {
        t: u32,
    },
    /// Continue at `t` when `c` is true, else at `e`.
    Brif {
        c: Reg,
        t: u32,
        e: u32,
    },
    /// Return the registers `returns[at..at + n]` of [`Code::returns`].
    Return {
        at: u32,
    },
    /// The call described by `calls[site]`.
    Call {
        site: u32,
    },

    NegF64 {
        d: Reg,
        a: Reg,
    },
    NegF32 {
        d: Reg,
        a: Reg,
    },
    NegI64 {
        d: Reg,
        a: Reg,
    },
    NegI32 {
        d: Reg,
        a: Reg,
    },
    Not {
        d: Reg,
        a: Reg,
    },

    AddF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    SubF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    MulF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    DivF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    FloorDivF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    ModF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    AddF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    SubF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    MulF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    DivF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    FloorDivF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    ModF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    AddI64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    SubI64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    MulI64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    FloorDivI64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    ModI64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    AddI32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    SubI32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    MulI32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    FloorDivI32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    ModI32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    And {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Or {
        d: Reg,
        a: Reg,
        b: Reg,
    },

    EqF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    NeF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LtF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LeF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GtF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GeF64 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    EqF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    NeF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LtF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LeF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GtF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GeF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    /// Comparisons of i64, i32 (sign-extended in registers) and bool (0/1, so `false <
    /// true`) are all signed 64-bit comparisons of the register bits.
    EqInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    NeInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LtInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    LeInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GtInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    GeInt {
        d: Reg,
        a: Reg,
        b: Reg,
    },

    /// `d = c ? pairs[p][0] : pairs[p][1]`.
    Select {
        d: Reg,
        c: Reg,
        p: u32,
    },
    /// `d = semantics::convert(a, from, to)`.
    Convert {
        d: Reg,
        a: Reg,
        from: Type,
        to: Type,
    },

    /// `d = math1[f](a)`: a libm function of one argument.
    Math1 {
        d: Reg,
        a: Reg,
        f: u32,
    },
    Sqrt {
        d: Reg,
        a: Reg,
    },
    Fabs {
        d: Reg,
        a: Reg,
    },
    Atan2 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    /// `d = round(a, b)` with Python's rules ([`dynlib_ir::semantics::round_digits`]).
    RoundDigits {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Pow {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Hypot {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Copysign {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    /// `d = math1_f32[f](a)`: a float32 libm function of one argument (`sinf`).
    Math1F32 {
        d: Reg,
        a: Reg,
        f: u32,
    },
    Atan2F32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    PowF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    HypotF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    RoundDigitsF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    SqrtF32 {
        d: Reg,
        a: Reg,
    },
    FabsF32 {
        d: Reg,
        a: Reg,
    },
    CopysignF32 {
        d: Reg,
        a: Reg,
        b: Reg,
    },

    LoadF64 {
        d: Reg,
        p: Reg,
        i: Reg,
    },
    LoadF32 {
        d: Reg,
        p: Reg,
        i: Reg,
    },
    LoadI64 {
        d: Reg,
        p: Reg,
        i: Reg,
    },
    LoadI32 {
        d: Reg,
        p: Reg,
        i: Reg,
    },
    LoadF64K {
        d: Reg,
        p: Reg,
        k: u32,
    },
    LoadF32K {
        d: Reg,
        p: Reg,
        k: u32,
    },
    LoadI64K {
        d: Reg,
        p: Reg,
        k: u32,
    },
    LoadI32K {
        d: Reg,
        p: Reg,
        k: u32,
    },
    StoreF64 {
        p: Reg,
        i: Reg,
        v: Reg,
    },
    StoreF32 {
        p: Reg,
        i: Reg,
        v: Reg,
    },
    StoreI64 {
        p: Reg,
        i: Reg,
        v: Reg,
    },
    StoreI32 {
        p: Reg,
        i: Reg,
        v: Reg,
    },
    StoreF64K {
        p: Reg,
        k: u32,
        v: Reg,
    },
    StoreF32K {
        p: Reg,
        k: u32,
        v: Reg,
    },
    StoreI64K {
        p: Reg,
        k: u32,
        v: Reg,
    },
    StoreI32K {
        p: Reg,
        k: u32,
        v: Reg,
    },

    // Superinstructions: two adjacent operations of one block fused into one dispatch
    // (see `crate::fuse`). Their registers and constant indices are 16-bit, so they exist
    // only in functions whose frames fit.
    /// Two `LoadF64K`s.
    LoadF64K2(Load2),
    /// Two `StoreF64K`s.
    StoreF64K2(Store2),
    /// `AddF64` and a `StoreF64K` of its result.
    AddF64StoreK(OpStore),
    /// `SubF64` and a `StoreF64K` of its result.
    SubF64StoreK(OpStore),
    /// `MulF64` and a `StoreF64K` of its result.
    MulF64StoreK(OpStore),
    /// `DivF64` and a `StoreF64K` of its result.
    DivF64StoreK(OpStore),
    /// `d1 = a + b; d2 = d1 + c`; the `...R` forms compute `d2 = c op2 d1`.
    AddAddL(Pair),
    AddAddR(Pair),
    AddSubL(Pair),
    AddSubR(Pair),
    AddMulL(Pair),
    AddMulR(Pair),
    SubAddL(Pair),
    SubAddR(Pair),
    SubSubL(Pair),
    SubSubR(Pair),
    SubMulL(Pair),
    SubMulR(Pair),
    MulAddL(Pair),
    MulAddR(Pair),
    MulSubL(Pair),
    MulSubR(Pair),
    MulMulL(Pair),
    MulMulR(Pair),
}

/// A 16-bit register number (fused operations only).
pub(crate) type Reg16 = u16;

/// Two f64 loads with constant indices: `d1 = p1[k1]`, then `d2 = p2[k2]`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Load2 {
    pub d1: Reg16,
    pub p1: Reg16,
    pub k1: u16,
    pub d2: Reg16,
    pub p2: Reg16,
    pub k2: u16,
}

/// Two f64 stores with constant indices: `p1[k1] = v1`, then `p2[k2] = v2`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Store2 {
    pub p1: Reg16,
    pub k1: u16,
    pub v1: Reg16,
    pub p2: Reg16,
    pub k2: u16,
    pub v2: Reg16,
}

/// An f64 operation whose result is then stored: `d = a op b`, then `p[k] = d`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct OpStore {
    pub d: Reg16,
    pub a: Reg16,
    pub b: Reg16,
    pub p: Reg16,
    pub k: u16,
}

/// Two dependent f64 operations: `d1 = a op1 b`, then `d2 = d1 op2 c` (`L` forms) or
/// `d2 = c op2 d1` (`R` forms). `c` may be `d1` itself (it is read after `d1` is written).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Pair {
    pub d1: Reg16,
    pub a: Reg16,
    pub b: Reg16,
    pub d2: Reg16,
    pub c: Reg16,
}

impl Op {
    /// True for operations after which execution does not fall through.
    pub(crate) fn is_terminator(&self) -> bool {
        matches!(self, Op::Jump { .. } | Op::Brif { .. } | Op::Return { .. })
    }

    /// Calls `f` on every register the operation names (reads and writes); side tables
    /// are checked separately.
    pub(crate) fn for_each_reg(&self, mut f: impl FnMut(Reg)) {
        use Op::*;
        match *self {
            Jump { .. } | Return { .. } | Call { .. } => {}
            Brif { c, .. } => f(c),
            Mov { d, s: a }
            | NegF64 { d, a }
            | NegF32 { d, a }
            | NegI64 { d, a }
            | NegI32 { d, a }
            | Not { d, a }
            | Convert { d, a, .. }
            | Math1 { d, a, .. }
            | Math1F32 { d, a, .. }
            | Sqrt { d, a }
            | SqrtF32 { d, a }
            | FabsF32 { d, a }
            | Fabs { d, a } => {
                f(d);
                f(a);
            }
            Select { d, c, .. } => {
                f(d);
                f(c);
            }
            LoadF64K { d, p, .. }
            | LoadF32K { d, p, .. }
            | LoadI64K { d, p, .. }
            | LoadI32K { d, p, .. } => {
                f(d);
                f(p);
            }
            StoreF64K { p, v, .. }
            | StoreF32K { p, v, .. }
            | StoreI64K { p, v, .. }
            | StoreI32K { p, v, .. } => {
                f(p);
                f(v);
            }
            AddF64 { d, a, b }
            | SubF64 { d, a, b }
            | MulF64 { d, a, b }
            | DivF64 { d, a, b }
            | FloorDivF64 { d, a, b }
            | ModF64 { d, a, b }
            | AddF32 { d, a, b }
            | SubF32 { d, a, b }
            | MulF32 { d, a, b }
            | DivF32 { d, a, b }
            | FloorDivF32 { d, a, b }
            | ModF32 { d, a, b }
            | AddI64 { d, a, b }
            | SubI64 { d, a, b }
            | MulI64 { d, a, b }
            | FloorDivI64 { d, a, b }
            | ModI64 { d, a, b }
            | AddI32 { d, a, b }
            | SubI32 { d, a, b }
            | MulI32 { d, a, b }
            | FloorDivI32 { d, a, b }
            | ModI32 { d, a, b }
            | And { d, a, b }
            | Or { d, a, b }
            | EqF64 { d, a, b }
            | NeF64 { d, a, b }
            | LtF64 { d, a, b }
            | LeF64 { d, a, b }
            | GtF64 { d, a, b }
            | GeF64 { d, a, b }
            | EqF32 { d, a, b }
            | NeF32 { d, a, b }
            | LtF32 { d, a, b }
            | LeF32 { d, a, b }
            | GtF32 { d, a, b }
            | GeF32 { d, a, b }
            | EqInt { d, a, b }
            | NeInt { d, a, b }
            | LtInt { d, a, b }
            | LeInt { d, a, b }
            | GtInt { d, a, b }
            | GeInt { d, a, b }
            | Atan2 { d, a, b }
            | RoundDigits { d, a, b }
            | Pow { d, a, b }
            | Hypot { d, a, b }
            | Copysign { d, a, b }
            | CopysignF32 { d, a, b }
            | Atan2F32 { d, a, b }
            | PowF32 { d, a, b }
            | HypotF32 { d, a, b }
            | RoundDigitsF32 { d, a, b }
            | LoadF64 { d, p: a, i: b }
            | LoadF32 { d, p: a, i: b }
            | LoadI64 { d, p: a, i: b }
            | LoadI32 { d, p: a, i: b } => {
                f(d);
                f(a);
                f(b);
            }
            StoreF64 { p, i, v }
            | StoreF32 { p, i, v }
            | StoreI64 { p, i, v }
            | StoreI32 { p, i, v } => {
                f(p);
                f(i);
                f(v);
            }
            LoadF64K2(l) => [l.d1, l.p1, l.d2, l.p2]
                .into_iter()
                .for_each(|r| f(r.into())),
            StoreF64K2(s) => [s.p1, s.v1, s.p2, s.v2]
                .into_iter()
                .for_each(|r| f(r.into())),
            AddF64StoreK(o) | SubF64StoreK(o) | MulF64StoreK(o) | DivF64StoreK(o) => {
                [o.d, o.a, o.b, o.p].into_iter().for_each(|r| f(r.into()))
            }
            AddAddL(q) | AddAddR(q) | AddSubL(q) | AddSubR(q) | AddMulL(q) | AddMulR(q)
            | SubAddL(q) | SubAddR(q) | SubSubL(q) | SubSubR(q) | SubMulL(q) | SubMulR(q)
            | MulAddL(q) | MulAddR(q) | MulSubL(q) | MulSubR(q) | MulMulL(q) | MulMulR(q) => {
                [q.d1, q.a, q.b, q.d2, q.c]
                    .into_iter()
                    .for_each(|r| f(r.into()))
            }
        }
    }

    /// The branch targets of a terminator.
    pub(crate) fn targets_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        let (a, b) = match self {
            Op::Jump { t } => (Some(t), None),
            Op::Brif { t, e, .. } => (Some(t), Some(e)),
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }
}

/// A call from one IR function to another.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallSite {
    /// The callee's index in the program.
    pub callee: u32,
    /// The argument registers (in the caller's frame), one per callee parameter.
    pub args: Vec<Reg>,
    /// The result registers (in the caller's frame), one per callee return value.
    pub results: Vec<Reg>,
}

/// A decoded function.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    /// The operations; execution starts at 0.
    pub ops: Vec<Op>,
    /// The IR instructions each operation comes from (for trap messages): the first and
    /// the second part of a fused operation; an unfused one has its instruction twice.
    pub origin: Vec<[Inst; 2]>,
    /// A frame's initial contents: every constant in its register, zeros elsewhere. Its
    /// length is the frame size.
    pub template: Vec<u64>,
    /// The registers of the function's parameters.
    pub params: Vec<Reg>,
    /// The signature (argument checks and result conversion).
    pub sig: Signature,
    /// Return lists: `Return { at }` returns `returns[at..at + sig.returns.len()]`.
    pub returns: Vec<Reg>,
    /// Call sites.
    pub calls: Vec<CallSite>,
    /// Select operands (then, else).
    pub pairs: Vec<[Reg; 2]>,
    /// One-argument libm functions used by [`Op::Math1`].
    pub math1: Vec<dynlib_ir::libm::Unary>,
    /// One-argument float32 libm functions used by [`Op::Math1F32`].
    pub math1_f32: Vec<dynlib_ir::libm::UnaryF32>,
}

impl Code {
    /// The number of registers of a frame.
    pub(crate) fn frame_size(&self) -> usize {
        self.template.len()
    }
}
