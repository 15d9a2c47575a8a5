//! Executes dynlib IR programs: the reference semantics and the `jit = false` path.
//!
//! Not built yet: issue 3 fills this crate. It deliberately exports nothing until then.

pub use dynlib_ir as ir;
