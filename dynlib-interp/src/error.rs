//! The two ways the interpreter fails: [`Error`] when a program cannot be decoded, and
//! [`Trap`] when a call cannot complete.

use dynlib_ir::verify::Entity;
use dynlib_ir::{Elem, Type, VerifierError};

/// A program the interpreter will not run: one the verifier ([`dynlib_ir::verify_program`])
/// rejects (the error is then the verifier's first, with the number of further problems),
/// or one returning a pointer. The decoder re-checks what the executor relies on anyway
/// (operand types, references in range, terminators), because it must never build code
/// that reads outside a frame.
///
/// Displays as ``@rhs: inst5: add works on numbers, not bool (in `v7:bool = add v3, v4`)``.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("@{function}: {}{message}{}",
    entity.as_ref().map(|e| format!("{e}: ")).unwrap_or_default(),
    snippet.as_ref().map(|s| format!(" (in `{s}`)")).unwrap_or_default())]
pub struct Error {
    /// The function's name.
    pub function: String,
    /// The entity the problem is about (`inst5`, `block2`, `v3`), if any.
    pub entity: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The instruction as printed, when the entity is an instruction.
    pub snippet: Option<String>,
}

impl Error {
    /// The first of the verifier's `errors` (which must not be empty), with a count of the
    /// others appended to its message.
    pub(crate) fn from_verifier(errors: &[VerifierError]) -> Error {
        let first = &errors[0];
        let mut message = first.message.clone();
        if errors.len() > 1 {
            let n = errors.len() - 1;
            message.push_str(&format!(
                "; the verifier found {n} more problem{}",
                if n == 1 { "" } else { "s" }
            ));
        }
        Error {
            function: first.function.clone(),
            entity: match first.entity {
                Entity::Function => None,
                e => Some(e.to_string()),
            },
            message,
            snippet: first.snippet.clone(),
        }
    }
}

/// Why a call did not complete. Every variant names the function (and, inside a function,
/// the instruction) it concerns. The callers' Rust buffers keep whatever the program stored
/// before the trap.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    /// A load or store outside its array.
    #[error("@{function}: {inst}: index {index} is out of bounds for an array of length {len} (in `{snippet}`)")]
    OutOfBounds {
        /// The function executing the access.
        function: String,
        /// The instruction (`inst12`).
        inst: String,
        /// The instruction as printed.
        snippet: String,
        /// The offending index.
        index: i64,
        /// The array's length.
        len: usize,
    },
    /// A load or store through a pointer that does not name an array of its element type.
    /// Only unverified IR gets here (pointers come from parameters, whose types are checked
    /// when the call starts).
    #[error("@{function}: {inst}: the pointer does not refer to a {} array (in `{snippet}`)", elem.name())]
    BadPointer {
        /// The function executing the access.
        function: String,
        /// The instruction (`inst12`).
        inst: String,
        /// The instruction as printed.
        snippet: String,
        /// The element type the instruction expects.
        elem: Elem,
    },
    /// The call nests deeper than [`crate::MAX_CALL_DEPTH`] frames (runaway recursion).
    #[error("@{function}: {inst}: stack overflow: calls nest deeper than {depth} frames (in `{snippet}`)")]
    StackOverflow {
        /// The function making the call that does not fit.
        function: String,
        /// The call instruction.
        inst: String,
        /// The instruction as printed.
        snippet: String,
        /// The depth limit.
        depth: usize,
    },
    /// The function id is not a function of the program.
    #[error("{func} is not a function of the program ({count} functions)")]
    NoSuchFunction {
        /// The id asked for.
        func: dynlib_ir::FuncId,
        /// How many functions the program has.
        count: usize,
    },
    /// The call passed the wrong number of arguments.
    #[error("@{function} takes {expected} arguments, {found} were passed")]
    ArgumentCount {
        /// The called function.
        function: String,
        /// Its parameter count.
        expected: usize,
        /// The number passed.
        found: usize,
    },
    /// An argument does not have its parameter's type.
    #[error("@{function}: argument {position} must be {expected}, found {found}")]
    ArgumentType {
        /// The called function.
        function: String,
        /// The argument's position (from 0).
        position: usize,
        /// The parameter's type.
        expected: Type,
        /// What was passed (`f64`, `ptr<i64>`, ...).
        found: String,
    },
    /// [`crate::Interpreter::call_into`] was given room for the wrong number of results.
    #[error("@{function} returns {expected} values, room for {found} was given")]
    ResultCount {
        /// The called function.
        function: String,
        /// Its return count.
        expected: usize,
        /// The length of the results slice.
        found: usize,
    },
}
