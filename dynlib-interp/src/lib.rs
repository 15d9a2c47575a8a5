//! Executes dynlib IR programs: the reference semantics, and the `jit = false` path.
//!
//! An [`Interpreter`] verifies a [`Program`] and decodes it once into a compact register
//! form (one flat array of type-specialised operations per function, one register per SSA
//! value, block arguments turned into register moves, constants preloaded into each frame,
//! frequent pairs of operations fused into one). It is immutable, `Send + Sync`, and shared
//! by every thread that runs the program. Each thread owns a [`Machine`]: the stack of
//! register frames that calls reuse, so that a call, once the stack has grown to the
//! program's depth, allocates nothing. Calls between IR functions use the machine's stack,
//! not the native one.
//!
//! Values cross the boundary as [`Arg`]s (scalars, and mutable slices for pointer
//! parameters) and come back as [`Scalar`]s:
//!
//! ```
//! use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
//! use dynlib_ir::{Elem, Function, FunctionBuilder, Program, Signature, Type};
//!
//! // fn scale(x: ptr<f64>, k: f64) -> f64 { x[0] = x[0] * k; return x[0] }
//! let mut f = Function::new("scale", Signature {
//!     params: vec![Type::Ptr(Elem::F64), Type::F64],
//!     returns: vec![Type::F64],
//! });
//! let mut b = FunctionBuilder::new(&mut f);
//! let (x, k) = (b.param(0), b.param(1));
//! let zero = b.i64(0);
//! let x0 = b.load(x, zero);
//! let y = b.mul(x0, k);
//! b.store(x, zero, y);
//! b.ret(&[y]);
//! let mut program = Program::new();
//! let scale = program.add(f);
//!
//! let interp = Interpreter::new(&program)?;
//! let mut machine = Machine::new();
//! let mut data = [1.5];
//! let out = interp.call(&mut machine, scale, &mut [Arg::PtrF64(&mut data), Arg::F64(2.0)])?;
//! assert_eq!(out, vec![Scalar::F64(3.0)]);
//! assert_eq!(data, [3.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Semantics
//!
//! Floats are IEEE with no contraction (no fused multiply-add) and no reassociation; `neg`
//! flips the sign bit. Integers wrap. Floored division, modulo and conversions are
//! [`dynlib_ir::semantics`]; f32 floored division and modulo widen to f64 (exactly), apply
//! the f64 rule and round back. Comparisons are IEEE for floats (NaN: all false but `ne`)
//! and signed for integers; bools compare as 0 < 1. `select` has both operands evaluated.
//! `math` calls the C library's function of the same name ([`MathFn::name`]), so results
//! match compiled code calling the same libm bit for bit. Loads and stores are bounds
//! checked: an index outside the array is a [`Trap`], never undefined behaviour.
//!
//! [`MathFn::name`]: dynlib_ir::MathFn::name

mod code;
mod decode;
mod error;
mod exec;
mod fuse;

use dynlib_ir::print::print_inst;
use dynlib_ir::{FuncId, Program};

pub use dynlib_ir as ir;
pub use dynlib_ir::{Arg, Scalar};
pub use error::{Error, Trap};

use code::Code;
use exec::{Fault, FaultKind};

/// The deepest nesting of calls, the outermost call included. Deeper nesting (runaway
/// recursion) is [`Trap::StackOverflow`].
pub const MAX_CALL_DEPTH: usize = 256;

/// Per-thread scratch space for calls: the stack of register frames.
///
/// Frames keep their capacity between calls, so after the first call of a program every
/// later one runs without allocating. A machine can be used with any [`Interpreter`]; it is
/// `Send` but not shared: give each thread its own.
#[derive(Debug)]
pub struct Machine {
    /// One frame per call depth; `frames[0]` belongs to the outermost call.
    frames: Vec<Vec<u64>>,
    /// The return points of the calls in progress (capacity [`MAX_CALL_DEPTH`]).
    stack: Vec<exec::Return>,
    /// The arrays of the call in progress; empty between calls.
    bufs: Vec<exec::Buf>,
}

impl Machine {
    /// An empty machine (frames grow on first use).
    pub fn new() -> Self {
        Machine {
            frames: (0..MAX_CALL_DEPTH).map(|_| Vec::new()).collect(),
            stack: Vec::with_capacity(MAX_CALL_DEPTH),
            bufs: Vec::new(),
        }
    }
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

/// A decoded program, ready to run on any number of threads (it is `Send + Sync`; the
/// per-call state lives in a [`Machine`]).
#[derive(Debug)]
pub struct Interpreter {
    codes: Vec<Code>,
    /// Kept to name functions and print instructions in [`Trap`] messages.
    program: Program,
}

impl Interpreter {
    /// Verifies `program` and decodes every function of it.
    ///
    /// Fails with an [`Error`] naming the function and instruction when the program is
    /// not valid IR: anything [`dynlib_ir::verify_program`] rejects (an `add` on bools, a
    /// use not dominated by its definition, a constant whose bits are not a value of its
    /// type, a block without a terminator, ...; the error is the verifier's first), or a
    /// function returning a pointer, which no backend can. An unverified program has no
    /// meaning both backends agree on, so it is never run.
    pub fn new(program: &Program) -> Result<Interpreter, Error> {
        Self::build(program, true)
    }

    /// [`Interpreter::new`], with or without superinstructions (tests compare the two).
    fn build(program: &Program, fusion: bool) -> Result<Interpreter, Error> {
        if let Err(errors) = dynlib_ir::verify_program(program) {
            return Err(Error::from_verifier(&errors));
        }
        Ok(Interpreter {
            codes: decode::decode_program(program, fusion)?,
            program: program.clone(),
        })
    }

    /// The program this interpreter runs.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Calls `func` with `args` and returns its results.
    ///
    /// Pointer parameters take [`Arg::PtrF64`] and friends, whose element type must match;
    /// the arrays are read and written in place. Allocates the result vector; hot callers
    /// use [`Interpreter::call_into`].
    pub fn call(
        &self,
        machine: &mut Machine,
        func: FuncId,
        args: &mut [Arg<'_>],
    ) -> Result<Vec<Scalar>, Trap> {
        let n = self.code(func)?.sig.returns.len();
        let mut results = vec![Scalar::Bool(false); n];
        self.call_into(machine, func, args, &mut results)?;
        Ok(results)
    }

    /// Calls `func` with `args` and writes its results into `results`, whose length must
    /// be the function's number of return values. Allocates nothing once `machine` has run
    /// the program before (its frames then have their final sizes).
    ///
    /// ```
    /// # use dynlib_interp::{Arg, Interpreter, Machine, Scalar};
    /// # use dynlib_ir::{Function, FunctionBuilder, Program, Signature, Type};
    /// # let mut f = Function::new("sq", Signature { params: vec![Type::F64], returns: vec![Type::F64] });
    /// # let mut b = FunctionBuilder::new(&mut f);
    /// # let x = b.param(0);
    /// # let y = b.mul(x, x);
    /// # b.ret(&[y]);
    /// # let mut program = Program::new();
    /// # let sq = program.add(f);
    /// let interp = Interpreter::new(&program)?;
    /// let mut machine = Machine::new();
    /// let mut out = [Scalar::F64(0.0)];
    /// for i in 0..3 {
    ///     interp.call_into(&mut machine, sq, &mut [Arg::F64(i as f64)], &mut out)?;
    /// }
    /// assert_eq!(out, [Scalar::F64(4.0)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_into(
        &self,
        machine: &mut Machine,
        func: FuncId,
        args: &mut [Arg<'_>],
        results: &mut [Scalar],
    ) -> Result<(), Trap> {
        let code = self.code(func)?;
        let name = || self.program.functions[func.index()].name.clone();
        if args.len() != code.sig.params.len() {
            return Err(Trap::ArgumentCount {
                function: name(),
                expected: code.sig.params.len(),
                found: args.len(),
            });
        }
        if results.len() != code.sig.returns.len() {
            return Err(Trap::ResultCount {
                function: name(),
                expected: code.sig.returns.len(),
                found: results.len(),
            });
        }
        let frame = &mut machine.frames[0];
        frame.clear();
        frame.extend_from_slice(&code.template);
        for (position, (arg, &ty)) in args.iter().zip(&code.sig.params).enumerate() {
            if arg.ty() != ty {
                return Err(Trap::ArgumentType {
                    function: name(),
                    position,
                    expected: ty,
                    found: arg.ty().to_string(),
                });
            }
            frame[code.params[position] as usize] = match *arg {
                Arg::F64(x) => x.to_bits(),
                Arg::F32(x) => x.to_bits() as u64,
                Arg::I64(x) => x as u64,
                Arg::I32(x) => x as i64 as u64,
                Arg::Bool(x) => x as u64,
                // A pointer is the index of its array in the argument table.
                _ => position as u64,
            };
        }
        exec::Buf::table(args, &mut machine.bufs);
        let done = exec::exec(
            &self.codes,
            func.0,
            &mut machine.frames,
            &mut machine.stack,
            &machine.bufs,
        );
        // The table's addresses are only valid while `args` is borrowed: drop them now.
        machine.bufs.clear();
        let at = done.map_err(|f| self.trap(f))? as usize;
        let frame = &machine.frames[0];
        for ((slot, &r), &ty) in results
            .iter_mut()
            .zip(&code.returns[at..])
            .zip(&code.sig.returns)
        {
            *slot = Scalar::from_bits(frame[r as usize], ty);
        }
        Ok(())
    }

    /// A listing of `func`'s decoded operations, one per line (`pc: operation`), for
    /// debugging the decoder and counting operations in benchmarks. The format is not
    /// stable.
    pub fn disassemble(&self, func: FuncId) -> Result<String, Trap> {
        use std::fmt::Write;
        let code = self.code(func)?;
        let mut s = String::new();
        for (pc, op) in code.ops.iter().enumerate() {
            let _ = writeln!(s, "{pc:4}: {op:?}");
        }
        Ok(s)
    }

    fn code(&self, func: FuncId) -> Result<&Code, Trap> {
        self.codes.get(func.index()).ok_or(Trap::NoSuchFunction {
            func,
            count: self.codes.len(),
        })
    }

    /// Names the function and instruction of a fault.
    fn trap(&self, fault: Fault) -> Trap {
        let func = &self.program.functions[fault.func as usize];
        let inst = self.codes[fault.func as usize].origin[fault.pc as usize][fault.part as usize];
        let function = func.name.clone();
        let snippet = print_inst(func, inst, Some(&self.program));
        let inst = inst.to_string();
        match fault.kind {
            FaultKind::OutOfBounds { index, len } => Trap::OutOfBounds {
                function,
                inst,
                snippet,
                index,
                len,
            },
            FaultKind::BadPointer(elem) => Trap::BadPointer {
                function,
                inst,
                snippet,
                elem,
            },
            FaultKind::StackOverflow => Trap::StackOverflow {
                function,
                inst,
                snippet,
                depth: MAX_CALL_DEPTH,
            },
        }
    }
}

/// The Lorenz programs of the integration tests, for the unit tests.
#[cfg(test)]
#[path = "../tests/common/lorenz.rs"]
mod test_lorenz;

#[cfg(test)]
mod tests {
    use super::test_lorenz as lorenz;
    use super::*;

    #[test]
    fn machines_and_interpreters_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Machine>();
        send_sync::<Interpreter>();
    }

    #[test]
    fn operations_stay_small() {
        // Dispatch speed depends on dense code: every operation must fit in 16 bytes.
        assert!(std::mem::size_of::<code::Op>() <= 16);
    }

    #[test]
    fn superinstructions_change_no_bit() {
        for program in [lorenz::program(), lorenz::program_with_calls()] {
            let run = |fusion: bool| {
                let interp = Interpreter::build(&program, fusion).unwrap();
                let func = program.find(lorenz::RUN).unwrap();
                let ops = interp.codes[func.index()].ops.len();
                let mut y = [1.0, 2.0, 3.0];
                let mut s = [[0.0f64; 3]; 5];
                let [k1, k2, k3, k4, ys] = &mut s;
                let out = interp
                    .call(
                        &mut Machine::new(),
                        func,
                        &mut [
                            Arg::PtrF64(&mut y),
                            Arg::PtrF64(k1),
                            Arg::PtrF64(k2),
                            Arg::PtrF64(k3),
                            Arg::PtrF64(k4),
                            Arg::PtrF64(ys),
                            Arg::I64(3000),
                            Arg::F64(0.01),
                            Arg::F64(0.0),
                        ],
                    )
                    .unwrap();
                (y.map(f64::to_bits), out, s, ops)
            };
            let (fused, plain) = (run(true), run(false));
            assert_eq!(fused.0, plain.0);
            assert_eq!(fused.1, plain.1);
            assert_eq!(fused.2, plain.2);
            assert_eq!(
                fused.0,
                lorenz::reference([1.0, 2.0, 3.0], 3000, 0.01).map(f64::to_bits)
            );
            // The inlined program has many pairs to fuse.
            assert!(
                fused.3 < plain.3,
                "{} operations fused, {} plain",
                fused.3,
                plain.3
            );
        }
    }

    #[test]
    fn superinstructions_change_no_bit_in_random_straight_line_code() {
        use dynlib_ir::{BinaryOp, Elem, Function, FunctionBuilder, Signature, Type, Value};
        // Random sequences of f64 arithmetic, constant-index loads and stores on two
        // arrays: every fusible pair occurs, in every operand arrangement.
        let mut rng = 0x853c_49e6_748f_ea9bu64;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut fused_away = 0;
        for _ in 0..200 {
            let pf = Type::Ptr(Elem::F64);
            let mut f = Function::new(
                "f",
                Signature {
                    params: vec![pf, pf, Type::F64, Type::F64],
                    returns: vec![Type::F64],
                },
            );
            let mut b = FunctionBuilder::new(&mut f);
            let arrays = [b.param(0), b.param(1)];
            let mut pool: Vec<Value> = vec![b.param(2), b.param(3)];
            let idx: Vec<Value> = (0..4).map(|k| b.i64(k)).collect();
            for _ in 0..40 {
                let v = match next(4) {
                    0 => b.load(arrays[next(2)], idx[next(4)]),
                    1 => {
                        let v = pool[next(pool.len())];
                        b.store(arrays[next(2)], idx[next(4)], v);
                        continue;
                    }
                    _ => {
                        let op =
                            [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div][next(4)];
                        // Prefer the newest value, so dependent pairs are common.
                        let x = if next(2) == 0 {
                            *pool.last().unwrap()
                        } else {
                            pool[next(pool.len())]
                        };
                        let y = pool[next(pool.len())];
                        if next(2) == 0 {
                            b.binary(op, x, y)
                        } else {
                            b.binary(op, y, x)
                        }
                    }
                };
                pool.push(v);
            }
            let last = *pool.last().unwrap();
            b.ret(&[last]);
            let mut program = Program::new();
            program.add(f);
            let run = |fusion: bool| {
                let interp = Interpreter::build(&program, fusion).unwrap();
                let mut a = [0.5, -1.25, 3.0, f64::from_bits(0x7ff8_0000_0000_0042)];
                let mut c = [2.0, -0.0, 1e300, 7.0];
                let out = interp
                    .call(
                        &mut Machine::new(),
                        FuncId(0),
                        &mut [
                            Arg::PtrF64(&mut a),
                            Arg::PtrF64(&mut c),
                            Arg::F64(1.5),
                            Arg::F64(-0.1),
                        ],
                    )
                    .unwrap();
                let Scalar::F64(r) = out[0] else { panic!() };
                let ops = interp.codes[0].ops.len();
                ((r.to_bits(), a.map(f64::to_bits), c.map(f64::to_bits)), ops)
            };
            let ((fused, n_fused), (plain, n_plain)) = (run(true), run(false));
            assert_eq!(fused, plain, "{program}");
            fused_away += n_plain - n_fused;
        }
        assert!(fused_away > 1000, "only {fused_away} operations fused away");
    }

    #[test]
    fn parallel_moves_keep_every_source() {
        fn run(moves: &[(u32, u32)]) -> Vec<u64> {
            let mut regs: Vec<u64> = (0..10).collect();
            let before = regs.clone();
            for (d, s) in decode::sequentialize(moves.to_vec(), 9) {
                regs[d as usize] = regs[s as usize];
            }
            let mut want = before.clone();
            for &(d, s) in moves {
                want[d as usize] = before[s as usize];
            }
            assert_eq!(regs[..9], want[..9], "moves {moves:?}");
            regs
        }
        run(&[(0, 1), (1, 0)]);
        run(&[(0, 1), (1, 2), (2, 0)]);
        run(&[(0, 1), (1, 0), (2, 3), (3, 2)]);
        run(&[(0, 0), (1, 2), (2, 1), (3, 1)]);
        run(&[(1, 0), (2, 1), (3, 2)]);
        run(&[(0, 4), (1, 4), (4, 0)]);
        run(&[(0, 1), (1, 2), (2, 0), (3, 0), (4, 3)]);
    }
}
