//! The backend's error type.

/// Everything that can go wrong compiling, loading or calling native code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Translating IR into LLVM IR failed, or LLVM rejected the module (a backend bug: every
    /// verified IR program must translate).
    #[error("LLVM code generation failed: {0}")]
    Codegen(String),
    /// The host target could not be set up (no LLVM target for this machine).
    #[error("LLVM has no target for this machine: {0}")]
    Target(String),
    /// LLVM's optimisation pipeline failed.
    #[error("LLVM optimisation failed: {0}")]
    Optimize(String),
    /// Emitting the object file failed.
    #[error("LLVM object emission failed: {0}")]
    Emit(String),
    /// The ORC JIT could not be created, or refused the object, or a symbol is missing.
    #[error("loading native code failed: {0}")]
    Load(String),
    /// A loaded object is not the one expected: its embedded tag or ABI differs (an object
    /// compiled for another key, or not by dynlib).
    #[error("the object is foreign: its {what} is `{found}`, expected `{expected}`")]
    Foreign {
        /// `tag` or `ABI`.
        what: &'static str,
        /// What the loader expected.
        expected: String,
        /// What the object holds.
        found: String,
    },
    /// The IR program is not valid (the verifier's first complaint).
    #[error("invalid IR: {0}")]
    Invalid(String),
    /// A call named a function the unit does not export.
    #[error("function `{0}` is not exported by this compiled unit")]
    NotExported(String),
    /// A call passed the wrong number of arguments or results.
    #[error("`{function}` takes {expected} {what}, {found} were passed")]
    Count {
        /// The function called.
        function: String,
        /// `arguments` or `results`.
        what: &'static str,
        /// What the signature says.
        expected: usize,
        /// What was passed.
        found: usize,
    },
    /// A call passed an argument of the wrong type.
    #[error("argument {position} of `{function}` must be {expected}, found {found}")]
    ArgumentType {
        /// The function called.
        function: String,
        /// The argument's position.
        position: usize,
        /// The parameter type.
        expected: dynlib_ir::Type,
        /// The argument's type.
        found: dynlib_ir::Type,
    },
}
