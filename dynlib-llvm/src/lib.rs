//! Compiles dynlib IR to native code with LLVM 14 (inkwell + ORC LLJIT).
//!
//! Not built yet: issue 4 fills this crate. It deliberately exports nothing until then.

pub use dynlib_ir as ir;
