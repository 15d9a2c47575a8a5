//! Content digests of IR: SHA-256 of the printed text.
//!
//! The printed IR is what users see, and the cache key digests exactly that: two programs
//! with the same text compile to the same code, and any change that could change the code
//! changes the text (the printer is exact, down to constant bits). Digesting the text rather
//! than the data structures also makes the key independent of instruction numbering and of
//! dead instructions, which do not change the compiled code.

use sha2::{Digest, Sha256};

use crate::ir::*;
use crate::print::print_function;

/// The SHA-256 of the program's printed text, as 64 lowercase hex digits.
///
/// ```
/// let p = dynlib_ir::Program::new();
/// // The empty program prints as the empty string.
/// assert_eq!(dynlib_ir::digest(&p), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
pub fn digest(program: &Program) -> String {
    hex(&program.to_string())
}

/// The SHA-256 of one function's printed text, as it appears in the program's text (calls
/// name their callees). It covers only this function's body, not its callees': key a
/// compiled unit with [`digest`] of everything compiled.
pub fn digest_function(program: &Program, func: FuncId) -> String {
    hex(&print_function(program.func(func), Some(program)))
}

fn hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
