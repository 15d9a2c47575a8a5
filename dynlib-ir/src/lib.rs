//! The typed SSA intermediate representation shared by the interpreter and the LLVM backend.
//!
//! Model functions, steppers and runner loops are all IR ([`Program`]s of [`Function`]s);
//! both backends execute the same IR, which is what makes `jit = false` and `jit = true`
//! agree to the bit. See ARCHITECTURE.md for how the pieces fit.

pub mod abi;
pub mod ad;
pub mod builder;
pub mod digest;
mod hash;
pub mod ir;
pub mod libm;
pub mod lower;
pub mod parse;
pub mod passes;
pub mod print;
pub mod semantics;
pub mod verify;

pub use abi::{Arg, Scalar};
pub use builder::{CountedLoop, FunctionBuilder};
pub use digest::{digest, digest_function};
pub use dynlib_model as model;
pub use ir::*;
pub use parse::{parse_program, ParseError};
pub use print::{print_function, print_program};
pub use verify::{verify_function, verify_program, VerifierError};
