//! The native interface's error type.

/// Everything that can go wrong compiling, loading or calling native code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The LLVM backend could not be loaded: its plugin is not where it was looked for, the
    /// system cannot load it (LLVM 14 missing), or it was built from other sources. The
    /// message says which, and where it looked.
    #[error("the LLVM backend is unavailable: {0}")]
    Unavailable(String),
    /// The backend failed to compile or load a unit; the message is the backend's (invalid
    /// IR, LLVM's complaint, a missing symbol, ...).
    #[error("{0}")]
    Backend(String),
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
