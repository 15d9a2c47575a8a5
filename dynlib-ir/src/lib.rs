//! The typed SSA intermediate representation shared by the interpreter and the LLVM backend.
//!
//! Not built yet: issue 3 fills this crate with the IR types, builder, verifier, printer,
//! parser, digest, optimisation passes and the lowering of a [`dynlib_model::Model`].
//! Until then it deliberately exports nothing, so nothing can depend on a half-built IR.

pub use dynlib_model as model;
