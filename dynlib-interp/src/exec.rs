//! The dispatch loop: executes decoded [`Code`] on a frame of registers.
//!
//! Registers hold raw bits exactly like [`dynlib_ir::semantics::Bits`]: f64 bits, f32 bits
//! in the low half, integers sign-extended, bools 0/1. A pointer register holds the index
//! of an array in the call's argument table (`bufs`): pointers only ever come from
//! parameters, so a callee receives the same index its caller was given.
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
fn fault(func: u32, pc: usize, kind: FaultKind) -> Fault {
    Fault {
        func,
        pc: pc as u32,
        kind,
    }
}

/// Runs function `func` whose frame is `frames[0]`, already filled from the template and
/// holding the arguments. `frames[1..]` are free for its calls. Returns the offset of the
/// executed return list in the callee's [`Code::returns`]; the values are in `frames[0]`.
pub(crate) fn exec(
    codes: &[Code],
    func: u32,
    frames: &mut [Vec<u64>],
    bufs: &mut [Arg<'_>],
) -> Result<u32, Fault> {
    let code = &codes[func as usize];
    let ops = code.ops.as_slice();
    let Some((frame, deeper)) = frames.split_first_mut() else {
        return Err(fault(func, 0, FaultKind::StackOverflow));
    };
    let regs = frame.as_mut_slice();
    // The decoder validated every register operand against the frame size; this makes the
    // frame exactly that size, so the register accesses below cannot fail.
    assert_eq!(regs.len(), code.frame_size(), "frame of the wrong size");

    // Declared before the macros so their expansions can name it.
    let mut pc = 0usize;
    macro_rules! get {
        ($r:expr) => {
            unsafe { *regs.get_unchecked($r as usize) }
        };
    }
    macro_rules! set {
        ($r:expr, $v:expr) => {{
            let v: u64 = $v;
            unsafe {
                *regs.get_unchecked_mut($r as usize) = v;
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
    macro_rules! load {
        ($variant:ident, $elem:expr, $d:expr, $p:expr, $index:expr, |$x:ident| $bits:expr) => {{
            let index: u64 = $index;
            match bufs.get(get!($p) as usize) {
                Some(Arg::$variant(s)) => {
                    match usize::try_from(index).ok().and_then(|k| s.get(k)) {
                        Some(&$x) => set!($d, $bits),
                        None => {
                            let len = s.len();
                            return Err(fault(
                                func,
                                pc - 1,
                                FaultKind::OutOfBounds {
                                    index: index as i64,
                                    len,
                                },
                            ));
                        }
                    }
                }
                _ => return Err(fault(func, pc - 1, FaultKind::BadPointer($elem))),
            }
        }};
    }
    macro_rules! store {
        ($variant:ident, $elem:expr, $p:expr, $index:expr, $value:expr) => {{
            let index: u64 = $index;
            let value = $value;
            match bufs.get_mut(get!($p) as usize) {
                Some(Arg::$variant(s)) => {
                    let len = s.len();
                    match usize::try_from(index).ok().and_then(|k| s.get_mut(k)) {
                        Some(slot) => *slot = value,
                        None => {
                            return Err(fault(
                                func,
                                pc - 1,
                                FaultKind::OutOfBounds {
                                    index: index as i64,
                                    len,
                                },
                            ))
                        }
                    }
                }
                _ => return Err(fault(func, pc - 1, FaultKind::BadPointer($elem))),
            }
        }};
    }

    loop {
        let op = unsafe { *ops.get_unchecked(pc) };
        pc += 1;
        match op {
            Op::Mov { d, s } => set!(d, get!(s)),
            Op::Jump { t } => pc = t as usize,
            Op::Brif { c, t, e } => pc = if get!(c) != 0 { t as usize } else { e as usize },
            Op::Return { at } => return Ok(at),
            Op::Call { site } => {
                let site = &code.calls[site as usize];
                let callee = &codes[site.callee as usize];
                let Some(next) = deeper.first_mut() else {
                    return Err(fault(func, pc - 1, FaultKind::StackOverflow));
                };
                // Keeps the frame's capacity: no allocation once the stack has grown.
                next.clear();
                next.extend_from_slice(&callee.template);
                for (&param, &arg) in callee.params.iter().zip(&site.args) {
                    next[param as usize] = get!(arg);
                }
                let at = exec(codes, site.callee, deeper, bufs)? as usize;
                let next = &deeper[0];
                for (&dst, &src) in site.results.iter().zip(&callee.returns[at..]) {
                    set!(dst, next[src as usize]);
                }
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
            Op::Floor { d, a } => set!(d, f64_!(a).floor().to_bits()),
            Op::Ceil { d, a } => set!(d, f64_!(a).ceil().to_bits()),
            Op::Trunc { d, a } => set!(d, f64_!(a).trunc().to_bits()),
            Op::Atan2 { d, a, b } => set!(d, crate::libm::atan2(f64_!(a), f64_!(b)).to_bits()),
            Op::Pow { d, a, b } => set!(d, crate::libm::pow(f64_!(a), f64_!(b)).to_bits()),
            Op::Hypot { d, a, b } => set!(d, crate::libm::hypot(f64_!(a), f64_!(b)).to_bits()),
            Op::Copysign { d, a, b } => set!(d, f64_!(a).copysign(f64_!(b)).to_bits()),

            Op::LoadF64 { d, p, i } => load!(PtrF64, Elem::F64, d, p, get!(i), |x| x.to_bits()),
            Op::LoadF32 { d, p, i } => {
                load!(PtrF32, Elem::F32, d, p, get!(i), |x| x.to_bits() as u64)
            }
            Op::LoadI64 { d, p, i } => load!(PtrI64, Elem::I64, d, p, get!(i), |x| x as u64),
            Op::LoadI32 { d, p, i } => {
                load!(PtrI32, Elem::I32, d, p, get!(i), |x| x as i64 as u64)
            }
            Op::LoadF64K { d, p, k } => load!(PtrF64, Elem::F64, d, p, k as u64, |x| x.to_bits()),
            Op::LoadF32K { d, p, k } => {
                load!(PtrF32, Elem::F32, d, p, k as u64, |x| x.to_bits() as u64)
            }
            Op::LoadI64K { d, p, k } => load!(PtrI64, Elem::I64, d, p, k as u64, |x| x as u64),
            Op::LoadI32K { d, p, k } => {
                load!(PtrI32, Elem::I32, d, p, k as u64, |x| x as i64 as u64)
            }
            Op::StoreF64 { p, i, v } => store!(PtrF64, Elem::F64, p, get!(i), f64_!(v)),
            Op::StoreF32 { p, i, v } => store!(PtrF32, Elem::F32, p, get!(i), f32_!(v)),
            Op::StoreI64 { p, i, v } => store!(PtrI64, Elem::I64, p, get!(i), i64_!(v)),
            Op::StoreI32 { p, i, v } => store!(PtrI32, Elem::I32, p, get!(i), i32_!(v)),
            Op::StoreF64K { p, k, v } => store!(PtrF64, Elem::F64, p, k as u64, f64_!(v)),
            Op::StoreF32K { p, k, v } => store!(PtrF32, Elem::F32, p, k as u64, f32_!(v)),
            Op::StoreI64K { p, k, v } => store!(PtrI64, Elem::I64, p, k as u64, i64_!(v)),
            Op::StoreI32K { p, k, v } => store!(PtrI32, Elem::I32, p, k as u64, i32_!(v)),
        }
    }
}
