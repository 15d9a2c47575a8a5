//! The dispatch loop: executes decoded [`Code`] on frames of registers.
//!
//! Registers hold raw bits exactly like [`dynlib_ir::semantics::Bits`]: f64 bits, f32 bits
//! in the low half, integers sign-extended, bools 0/1. A pointer register holds the index
//! of an array in the call's table of arrays ([`Buf`]s, one per argument of the outermost
//! call): pointers only ever come from parameters, so a callee receives the same index its
//! caller was given.
//!
//! Calls between IR functions do not recurse on the native stack: the loop keeps its own
//! stack of return points ([`Return`]) and switches to the callee's frame, so the depth of
//! IR calls costs no native stack (a debug build's dispatch loop has a large native frame).
//!
//! Nothing here allocates: a call takes the next frame of the machine's stack (each frame
//! keeps its capacity between calls) and fills it from the callee's template.

use dynlib_ir::semantics;
use dynlib_ir::Elem;

use crate::code::{Code, Op};
use crate::Arg;

/// What went wrong, where: a compact record built in the hot loop and turned into a
/// [`crate::Trap`] with names and printed instructions only once execution has stopped.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Fault {
    /// The function (index into the program).
    pub func: u32,
    /// The operation that faulted.
    pub pc: u32,
    /// Which half of a fused operation faulted (0 for an unfused one).
    pub part: u8,
    /// What happened.
    pub kind: FaultKind,
}

/// The kinds of [`Fault`].
#[derive(Copy, Clone, Debug)]
pub(crate) enum FaultKind {
    /// A load or store index outside the array.
    OutOfBounds { index: i64, len: usize },
    /// A pointer that does not name an array of this element type.
    BadPointer(Elem),
    /// No frame left for a call.
    StackOverflow,
}

#[cold]
#[inline(never)]
fn fault(func: u32, pc: usize, part: u8, kind: FaultKind) -> Fault {
    Fault {
        func,
        pc: pc as u32,
        part,
        kind,
    }
}

/// One argument of the outermost call as the executor sees it: for an array, its base
/// address, length and element type; for a scalar, no element type (so a load through it
/// is a [`FaultKind::BadPointer`]).
///
/// Built by [`Buf::table`] from the call's [`Arg`]s, which stay mutably borrowed for the
/// whole call, and valid only during it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Buf {
    ptr: *mut u8,
    len: usize,
    elem: Option<Elem>,
}

// SAFETY: a `Buf` is a plain address; it is dereferenced only by `exec`, during the call
// whose arguments it was made from (see `Buf::table`), on the thread running that call,
// which holds the `Machine` mutably. Between calls the table is cleared, so a `Machine`
// sent to another thread carries no live address, and a shared `&Machine` gives no way to
// reach one.
unsafe impl Send for Buf {}
// SAFETY: as above.
unsafe impl Sync for Buf {}

impl Buf {
    /// Fills `table` with one entry per argument. The caller must keep `args` borrowed
    /// (and unused) until it is done with the table, and clear the table afterwards.
    pub(crate) fn table(args: &mut [Arg<'_>], table: &mut Vec<Buf>) {
        table.clear();
        table.extend(args.iter_mut().map(|arg| {
            let (ptr, len, elem) = match arg {
                Arg::PtrF64(s) => (s.as_mut_ptr() as *mut u8, s.len(), Some(Elem::F64)),
                Arg::PtrF32(s) => (s.as_mut_ptr() as *mut u8, s.len(), Some(Elem::F32)),
                Arg::PtrI64(s) => (s.as_mut_ptr() as *mut u8, s.len(), Some(Elem::I64)),
                Arg::PtrI32(s) => (s.as_mut_ptr() as *mut u8, s.len(), Some(Elem::I32)),
                _ => (std::ptr::null_mut(), 0, None),
            };
            Buf { ptr, len, elem }
        }));
    }
}

/// Where a call returns to: the caller, the operation after the call, and the call site
/// (whose result registers receive the callee's return values).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Return {
    func: u32,
    pc: u32,
    site: u32,
}

/// Runs function `func` whose frame is `frames[0]`, already filled from the template and
/// holding the arguments. `frames[1..]` are free for its calls, one per nesting level;
/// `stack` is scratch space for return points. Returns the offset of the executed return
/// list in the function's [`Code::returns`]; the values are in `frames[0]`.
///
/// `bufs` must come from [`Buf::table`] on the arguments of this call, still borrowed.
pub(crate) fn exec(
    codes: &[Code],
    mut func: u32,
    frames: &mut [Vec<u64>],
    stack: &mut Vec<Return>,
    bufs: &[Buf],
) -> Result<u32, Fault> {
    let mut code = &codes[func as usize];
    let mut ops = code.ops.as_slice();
    stack.clear();
    // The decoder validated every register operand (side tables included) against the
    // frame size; every frame is filled from its function's template, so it has exactly
    // that size and the unchecked register accesses below stay inside it.
    assert_eq!(
        frames[0].len(),
        code.frame_size(),
        "frame of the wrong size"
    );
    let mut regs: *mut u64 = frames[0].as_mut_ptr();

    // Declared before the macros so their expansions can name it.
    let mut pc = 0usize;
    macro_rules! get {
        ($r:expr) => {
            unsafe { *regs.add($r as usize) }
        };
    }
    macro_rules! set {
        ($r:expr, $v:expr) => {{
            let v: u64 = $v;
            unsafe {
                *regs.add($r as usize) = v;
            }
        }};
    }
    macro_rules! f64_ {
        ($r:expr) => {
            f64::from_bits(get!($r))
        };
    }
    macro_rules! f32_ {
        ($r:expr) => {
            f32::from_bits(get!($r) as u32)
        };
    }
    macro_rules! i64_ {
        ($r:expr) => {
            get!($r) as i64
        };
    }
    macro_rules! i32_ {
        ($r:expr) => {
            get!($r) as i32
        };
    }
    // The address of element `index` of the array in pointer register `p`, after checking
    // that the register names an array of `$elem`s and the index is inside it; a fault
    // names part `$part` of the operation.
    macro_rules! element {
        ($ty:ty, $elem:expr, $p:expr, $index:expr, $part:expr) => {{
            let index: u64 = $index;
            match bufs.get(get!($p) as usize) {
                Some(b) if b.elem == Some($elem) => {
                    if index < b.len as u64 {
                        // SAFETY: `b` describes a live `&mut [$ty]` of `b.len` elements
                        // (`Buf::table`), and `index < b.len`.
                        unsafe { (b.ptr as *mut $ty).add(index as usize) }
                    } else {
                        let len = b.len;
                        return Err(fault(
                            func,
                            pc - 1,
                            $part,
                            FaultKind::OutOfBounds {
                                index: index as i64,
                                len,
                            },
                        ));
                    }
                }
                _ => return Err(fault(func, pc - 1, $part, FaultKind::BadPointer($elem))),
            }
        }};
    }
    macro_rules! load {
        ($ty:ty, $elem:expr, $d:expr, $p:expr, $index:expr, |$x:ident| $bits:expr) => {
            load!($ty, $elem, $d, $p, $index, 0, |$x| $bits)
        };
        ($ty:ty, $elem:expr, $d:expr, $p:expr, $index:expr, $part:expr, |$x:ident| $bits:expr) => {{
            let at = element!($ty, $elem, $p, $index, $part);
            // SAFETY: `element!` checked the array and the index.
            let $x: $ty = unsafe { *at };
            set!($d, $bits)
        }};
    }
    macro_rules! store {
        ($ty:ty, $elem:expr, $p:expr, $index:expr, $value:expr) => {
            store!($ty, $elem, $p, $index, $value, 0)
        };
        ($ty:ty, $elem:expr, $p:expr, $index:expr, $value:expr, $part:expr) => {{
            let value: $ty = $value;
            let at = element!($ty, $elem, $p, $index, $part);
            // SAFETY: `element!` checked the array and the index.
            unsafe { *at = value }
        }};
    }
    // Two dependent f64 operations (`crate::code::Pair`): d1 is written before `c` is read,
    // so `c == d1` reads the new value, as the unfused pair would.
    macro_rules! pair {
        ($q:expr, $op1:tt, $op2:tt, L) => {{
            let q = $q;
            let r1 = f64_!(q.a) $op1 f64_!(q.b);
            set!(q.d1, r1.to_bits());
            set!(q.d2, (r1 $op2 f64_!(q.c)).to_bits())
        }};
        ($q:expr, $op1:tt, $op2:tt, R) => {{
            let q = $q;
            let r1 = f64_!(q.a) $op1 f64_!(q.b);
            set!(q.d1, r1.to_bits());
            set!(q.d2, (f64_!(q.c) $op2 r1).to_bits())
        }};
    }
    // An f64 operation and the store of its result (`crate::code::OpStore`).
    macro_rules! op_store {
        ($o:expr, $op:tt) => {{
            let o = $o;
            let r = f64_!(o.a) $op f64_!(o.b);
            set!(o.d, r.to_bits());
            store!(f64, Elem::F64, o.p, o.k as u64, r, 1)
        }};
    }

    // One dispatch step: fetch, advance, execute. The loop body repeats it four times, so
    // the dispatch is four indirect jumps at four addresses instead of one: the branch
    // predictor then sees which of them runs each operation, and predicts the operation
    // sequence of a loop body much better (measured on the Lorenz benchmark: about 1.5x
    // faster than a single `match`). Control flow just sets `pc`; the next copy continues.
    macro_rules! step {
        () => {{
            let op = unsafe { *ops.get_unchecked(pc) };
            pc += 1;
            match op {
                Op::Mov { d, s } => set!(d, get!(s)),
                Op::Jump { t } => pc = t as usize,
                Op::Brif { c, t, e } => {
                pc = if get!(c) != 0 { t as usize } else { e as usize }
            }
                Op::Return { at } => {
                    let Some(ret) = stack.pop() else {
                        return Ok(at);
                    };
                    // Back to the caller's frame, one level up: copy the results over.
                    let depth = stack.len() + 1;
                    let (outer, inner) = frames.split_at_mut(depth);
                    let caller = &mut outer[depth - 1];
                    let callee = &inner[0];
                    let returns = &code.returns[at as usize..];
                    func = ret.func;
                    code = &codes[func as usize];
                    ops = code.ops.as_slice();
                    pc = ret.pc as usize;
                    let site = &code.calls[ret.site as usize];
                    for (&dst, &src) in site.results.iter().zip(returns) {
                        caller[dst as usize] = callee[src as usize];
                    }
                    regs = caller.as_mut_ptr();
                }
                Op::Call { site: index } => {
                    let site = &code.calls[index as usize];
                    let callee = &codes[site.callee as usize];
                    let depth = stack.len() + 1;
                    if depth >= frames.len() {
                        return Err(fault(func, pc - 1, 0, FaultKind::StackOverflow));
                    }
                    let (outer, inner) = frames.split_at_mut(depth);
                    let caller = &outer[depth - 1];
                    let next = &mut inner[0];
                    // Keeps the frame's capacity: no allocation once the stack has grown.
                    next.clear();
                    next.extend_from_slice(&callee.template);
                    for (&param, &arg) in callee.params.iter().zip(&site.args) {
                        next[param as usize] = caller[arg as usize];
                    }
                    stack.push(Return {
                        func,
                        pc: pc as u32,
                        site: index,
                    });
                    func = site.callee;
                    code = callee;
                    ops = code.ops.as_slice();
                    pc = 0;
                    regs = next.as_mut_ptr();
                }

                Op::NegF64 { d, a } => set!(d, (-f64_!(a)).to_bits()),
                Op::NegF32 { d, a } => set!(d, (-f32_!(a)).to_bits() as u64),
                Op::NegI64 { d, a } => set!(d, i64_!(a).wrapping_neg() as u64),
                Op::NegI32 { d, a } => set!(d, i32_!(a).wrapping_neg() as i64 as u64),
                Op::Not { d, a } => set!(d, (get!(a) == 0) as u64),

                Op::AddF64 { d, a, b } => set!(d, (f64_!(a) + f64_!(b)).to_bits()),
                Op::SubF64 { d, a, b } => set!(d, (f64_!(a) - f64_!(b)).to_bits()),
                Op::MulF64 { d, a, b } => set!(d, (f64_!(a) * f64_!(b)).to_bits()),
                Op::DivF64 { d, a, b } => set!(d, (f64_!(a) / f64_!(b)).to_bits()),
                Op::FloorDivF64 { d, a, b } => {
                    set!(d, semantics::floordiv_f64(f64_!(a), f64_!(b)).to_bits())
                }
                Op::ModF64 { d, a, b } => set!(d, semantics::mod_f64(f64_!(a), f64_!(b)).to_bits()),
                Op::AddF32 { d, a, b } => set!(d, (f32_!(a) + f32_!(b)).to_bits() as u64),
                Op::SubF32 { d, a, b } => set!(d, (f32_!(a) - f32_!(b)).to_bits() as u64),
                Op::MulF32 { d, a, b } => set!(d, (f32_!(a) * f32_!(b)).to_bits() as u64),
                Op::DivF32 { d, a, b } => set!(d, (f32_!(a) / f32_!(b)).to_bits() as u64),
                // dynlib_ir::semantics defines floored division and modulo on f64 only; f32
                // operands are widened (exactly), the f64 rule applied, and the result rounded.
                Op::FloorDivF32 { d, a, b } => {
                    let r = semantics::floordiv_f64(f32_!(a) as f64, f32_!(b) as f64);
                    set!(d, (r as f32).to_bits() as u64)
                }
                Op::ModF32 { d, a, b } => {
                    let r = semantics::mod_f64(f32_!(a) as f64, f32_!(b) as f64);
                    set!(d, (r as f32).to_bits() as u64)
                }
                Op::AddI64 { d, a, b } => set!(d, i64_!(a).wrapping_add(i64_!(b)) as u64),
                Op::SubI64 { d, a, b } => set!(d, i64_!(a).wrapping_sub(i64_!(b)) as u64),
                Op::MulI64 { d, a, b } => set!(d, i64_!(a).wrapping_mul(i64_!(b)) as u64),
                Op::FloorDivI64 { d, a, b } => {
                    set!(d, semantics::floordiv_i64(i64_!(a), i64_!(b)) as u64)
                }
                Op::ModI64 { d, a, b } => set!(d, semantics::mod_i64(i64_!(a), i64_!(b)) as u64),
                Op::AddI32 { d, a, b } => set!(d, i32_!(a).wrapping_add(i32_!(b)) as i64 as u64),
                Op::SubI32 { d, a, b } => set!(d, i32_!(a).wrapping_sub(i32_!(b)) as i64 as u64),
                Op::MulI32 { d, a, b } => set!(d, i32_!(a).wrapping_mul(i32_!(b)) as i64 as u64),
                Op::FloorDivI32 { d, a, b } => {
                    set!(d, semantics::floordiv_i32(i32_!(a), i32_!(b)) as i64 as u64)
                }
                Op::ModI32 { d, a, b } => {
                    set!(d, semantics::mod_i32(i32_!(a), i32_!(b)) as i64 as u64)
                }
                Op::And { d, a, b } => set!(d, ((get!(a) != 0) & (get!(b) != 0)) as u64),
                Op::Or { d, a, b } => set!(d, ((get!(a) != 0) | (get!(b) != 0)) as u64),

                Op::EqF64 { d, a, b } => set!(d, (f64_!(a) == f64_!(b)) as u64),
                Op::NeF64 { d, a, b } => set!(d, (f64_!(a) != f64_!(b)) as u64),
                Op::LtF64 { d, a, b } => set!(d, (f64_!(a) < f64_!(b)) as u64),
                Op::LeF64 { d, a, b } => set!(d, (f64_!(a) <= f64_!(b)) as u64),
                Op::GtF64 { d, a, b } => set!(d, (f64_!(a) > f64_!(b)) as u64),
                Op::GeF64 { d, a, b } => set!(d, (f64_!(a) >= f64_!(b)) as u64),
                Op::EqF32 { d, a, b } => set!(d, (f32_!(a) == f32_!(b)) as u64),
                Op::NeF32 { d, a, b } => set!(d, (f32_!(a) != f32_!(b)) as u64),
                Op::LtF32 { d, a, b } => set!(d, (f32_!(a) < f32_!(b)) as u64),
                Op::LeF32 { d, a, b } => set!(d, (f32_!(a) <= f32_!(b)) as u64),
                Op::GtF32 { d, a, b } => set!(d, (f32_!(a) > f32_!(b)) as u64),
                Op::GeF32 { d, a, b } => set!(d, (f32_!(a) >= f32_!(b)) as u64),
                Op::EqInt { d, a, b } => set!(d, (i64_!(a) == i64_!(b)) as u64),
                Op::NeInt { d, a, b } => set!(d, (i64_!(a) != i64_!(b)) as u64),
                Op::LtInt { d, a, b } => set!(d, (i64_!(a) < i64_!(b)) as u64),
                Op::LeInt { d, a, b } => set!(d, (i64_!(a) <= i64_!(b)) as u64),
                Op::GtInt { d, a, b } => set!(d, (i64_!(a) > i64_!(b)) as u64),
                Op::GeInt { d, a, b } => set!(d, (i64_!(a) >= i64_!(b)) as u64),

                Op::Select { d, c, p } => {
                    let [x, y] = code.pairs[p as usize];
                    set!(d, if get!(c) != 0 { get!(x) } else { get!(y) })
                }
                Op::Convert { d, a, from, to } => set!(d, semantics::convert(get!(a), from, to)),

                Op::Math1 { d, a, f } => set!(d, (code.math1[f as usize])(f64_!(a)).to_bits()),
                Op::Sqrt { d, a } => set!(d, f64_!(a).sqrt().to_bits()),
                Op::Fabs { d, a } => set!(d, f64_!(a).abs().to_bits()),
                Op::Atan2 { d, a, b } => set!(d, dynlib_ir::libm::atan2(f64_!(a), f64_!(b)).to_bits()),
                Op::RoundDigits { d, a, b } => {
                    set!(d, dynlib_ir::libm::round_digits(f64_!(a), f64_!(b)).to_bits())
                }
                Op::Pow { d, a, b } => set!(d, dynlib_ir::libm::pow(f64_!(a), f64_!(b)).to_bits()),
                Op::Hypot { d, a, b } => set!(d, dynlib_ir::libm::hypot(f64_!(a), f64_!(b)).to_bits()),
                Op::Math1F32 { d, a, f } => {
                    set!(d, (code.math1_f32[f as usize])(f32_!(a)).to_bits() as u64)
                }
                Op::Atan2F32 { d, a, b } => {
                    set!(d, dynlib_ir::libm::atan2f(f32_!(a), f32_!(b)).to_bits() as u64)
                }
                Op::PowF32 { d, a, b } => {
                    set!(d, dynlib_ir::libm::powf(f32_!(a), f32_!(b)).to_bits() as u64)
                }
                Op::HypotF32 { d, a, b } => {
                    set!(d, dynlib_ir::libm::hypotf(f32_!(a), f32_!(b)).to_bits() as u64)
                }
                Op::RoundDigitsF32 { d, a, b } => {
                    let r = dynlib_ir::libm::round_digits_f32(f32_!(a), f32_!(b));
                    set!(d, r.to_bits() as u64)
                }
                Op::SqrtF32 { d, a } => set!(d, f32_!(a).sqrt().to_bits() as u64),
                Op::FabsF32 { d, a } => set!(d, f32_!(a).abs().to_bits() as u64),
                Op::CopysignF32 { d, a, b } => set!(d, f32_!(a).copysign(f32_!(b)).to_bits() as u64),
                Op::Copysign { d, a, b } => set!(d, f64_!(a).copysign(f64_!(b)).to_bits()),

                Op::LoadF64 { d, p, i } => load!(f64, Elem::F64, d, p, get!(i), |x| x.to_bits()),
                Op::LoadF32 { d, p, i } => {
                    load!(f32, Elem::F32, d, p, get!(i), |x| x.to_bits() as u64)
                }
                Op::LoadI64 { d, p, i } => load!(i64, Elem::I64, d, p, get!(i), |x| x as u64),
                Op::LoadI32 { d, p, i } => {
                    load!(i32, Elem::I32, d, p, get!(i), |x| x as i64 as u64)
                }
                Op::LoadF64K { d, p, k } => load!(f64, Elem::F64, d, p, k as u64, |x| x.to_bits()),
                Op::LoadF32K { d, p, k } => {
                    load!(f32, Elem::F32, d, p, k as u64, |x| x.to_bits() as u64)
                }
                Op::LoadI64K { d, p, k } => load!(i64, Elem::I64, d, p, k as u64, |x| x as u64),
                Op::LoadI32K { d, p, k } => {
                    load!(i32, Elem::I32, d, p, k as u64, |x| x as i64 as u64)
                }
                Op::StoreF64 { p, i, v } => store!(f64, Elem::F64, p, get!(i), f64_!(v)),
                Op::StoreF32 { p, i, v } => store!(f32, Elem::F32, p, get!(i), f32_!(v)),
                Op::StoreI64 { p, i, v } => store!(i64, Elem::I64, p, get!(i), i64_!(v)),
                Op::StoreI32 { p, i, v } => store!(i32, Elem::I32, p, get!(i), i32_!(v)),
                Op::StoreF64K { p, k, v } => store!(f64, Elem::F64, p, k as u64, f64_!(v)),
                Op::StoreF32K { p, k, v } => store!(f32, Elem::F32, p, k as u64, f32_!(v)),
                Op::StoreI64K { p, k, v } => store!(i64, Elem::I64, p, k as u64, i64_!(v)),
                Op::StoreI32K { p, k, v } => store!(i32, Elem::I32, p, k as u64, i32_!(v)),

                Op::LoadF64K2(l) => {
                    load!(f64, Elem::F64, l.d1, l.p1, l.k1 as u64, 0, |x| x.to_bits());
                    load!(f64, Elem::F64, l.d2, l.p2, l.k2 as u64, 1, |x| x.to_bits())
                }
                Op::StoreF64K2(s) => {
                    store!(f64, Elem::F64, s.p1, s.k1 as u64, f64_!(s.v1), 0);
                    store!(f64, Elem::F64, s.p2, s.k2 as u64, f64_!(s.v2), 1)
                }
                Op::AddF64StoreK(o) => op_store!(o, +),
                Op::SubF64StoreK(o) => op_store!(o, -),
                Op::MulF64StoreK(o) => op_store!(o, *),
                Op::DivF64StoreK(o) => op_store!(o, /),
                Op::AddAddL(q) => pair!(q, +, +, L),
                Op::AddAddR(q) => pair!(q, +, +, R),
                Op::AddSubL(q) => pair!(q, +, -, L),
                Op::AddSubR(q) => pair!(q, +, -, R),
                Op::AddMulL(q) => pair!(q, +, *, L),
                Op::AddMulR(q) => pair!(q, +, *, R),
                Op::SubAddL(q) => pair!(q, -, +, L),
                Op::SubAddR(q) => pair!(q, -, +, R),
                Op::SubSubL(q) => pair!(q, -, -, L),
                Op::SubSubR(q) => pair!(q, -, -, R),
                Op::SubMulL(q) => pair!(q, -, *, L),
                Op::SubMulR(q) => pair!(q, -, *, R),
                Op::MulAddL(q) => pair!(q, *, +, L),
                Op::MulAddR(q) => pair!(q, *, +, R),
                Op::MulSubL(q) => pair!(q, *, -, L),
                Op::MulSubR(q) => pair!(q, *, -, R),
                Op::MulMulL(q) => pair!(q, *, *, L),
                Op::MulMulR(q) => pair!(q, *, *, R),
            }
        }};
    }
    loop {
        step!();
        step!();
        step!();
        step!();
    }
}
