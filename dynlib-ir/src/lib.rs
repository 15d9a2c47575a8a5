//! The typed SSA intermediate representation shared by the interpreter and the LLVM backend.
//!
//! Model functions, steppers and runner loops are all IR ([`Program`]s of [`Function`]s);
//! both backends execute the same IR, which is what makes `jit = false` and `jit = true`
//! agree to the bit. See ARCHITECTURE.md for how the pieces fit.

pub mod builder;
pub mod ir;
pub mod lower;
pub mod semantics;

pub use builder::FunctionBuilder;
pub use dynlib_model as model;
pub use ir::*;
