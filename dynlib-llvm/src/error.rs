//! The backend's error type.

/// Everything that can go wrong compiling or loading native code (calls are checked by
/// dynlib-native's [`Jit`](dynlib_native::Jit), with its own error type).
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
    /// The IR program is not valid (the verifier's first complaint).
    #[error("invalid IR: {0}")]
    Invalid(String),
}
