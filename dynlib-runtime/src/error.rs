//! The runtime's error type.

/// What can go wrong building a kernel or running a simulation.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Loading or validating the model failed.
    #[error(transparent)]
    Model(#[from] dynlib_model::Error),
    /// The model cannot be compiled (inlining would make a function too large).
    #[error(transparent)]
    Lower(#[from] dynlib_ir::lower::LowerError),
    /// No stepper has this name or alias.
    #[error("unknown stepper '{name}'; known steppers: {known}")]
    UnknownStepper {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// The stepper is for the other kind of model.
    #[error("stepper '{stepper}' is for {stepper_kind} models, but the model is a {model_kind}")]
    StepperKindMismatch {
        /// The stepper.
        stepper: String,
        /// Its kind.
        stepper_kind: &'static str,
        /// The model's kind.
        model_kind: &'static str,
    },
    /// A run option is invalid; the message says which and why.
    #[error("invalid {}: {message}", option_name(.option))]
    InvalidOption {
        /// The option.
        option: String,
        /// What is wrong with it.
        message: String,
    },
    /// `jit = true` was asked for, but this build has no LLVM backend.
    #[error("jit = true is not available: dynlib was built without its `jit` cargo feature; rebuild with `--features jit` (on by default; it needs LLVM 14, e.g. Debian's llvm-14-dev), or use jit = false")]
    JitUnavailable,
    /// `jit = true` was asked for, but the LLVM backend plugin could not be loaded (not
    /// found, LLVM 14 missing, or built from other sources); the message says which and
    /// where it looked.
    #[error("jit = true: the LLVM backend is unavailable: {0}")]
    BackendUnavailable(String),
    /// Compiling or loading native code failed (`jit = true`); never silently interpreted
    /// (a tiered kernel's runs go on in the interpreter and say why in their warnings).
    #[error("jit = true: compiling the {unit} unit with LLVM failed: {message}")]
    Jit {
        /// The compiled unit (`triplets`, `stepper` or `runner`).
        unit: &'static str,
        /// LLVM's error.
        message: String,
    },
    /// A run ended with a failure status; partial results stay readable on the session.
    #[error("the run failed with status {} at t = {t}{}; the results recorded up to the failure are kept", .status.name(), why(.reason))]
    RunFailed {
        /// `STEPFAIL`, `NAN_DETECTED`, `USER_BREAK`, `MEMORY_LIMIT`, ...
        status: crate::run::Status,
        /// Why, when the runtime knows more than the status says (also among the results'
        /// warnings).
        reason: Option<String>,
        /// The time of the last committed step.
        t: f64,
    },
    /// The interpreter refused the kernel's program (a dynlib bug: every lowered program
    /// verifies).
    #[error("the interpreter cannot run this kernel: {0}")]
    Interp(#[from] dynlib_interp::Error),
    /// The interpreter stopped a call (an index out of range, a wrong argument).
    #[error("the interpreter stopped: {0}")]
    Trap(#[from] dynlib_interp::Trap),
    /// Calling native code failed (loading it is [`RuntimeError::Jit`]).
    #[cfg(feature = "jit")]
    #[error("native code: {0}")]
    Native(#[from] dynlib_native::Error),
    /// An array or a list of values of the wrong length for the kernel.
    #[error("{whose} needs {}{expected} {what}, got {found}", if *.at_least { "at least " } else { "" })]
    Shape {
        /// Whose length is wrong (`the run`, `argument 1 of rhs`).
        whose: String,
        /// What is counted (`initial state values`, `elements`).
        what: &'static str,
        /// The length needed (the least one when `at_least`).
        expected: usize,
        /// True when any longer length would do too.
        at_least: bool,
        /// The length given.
        found: usize,
    },
    /// A thread the build needs could not be started (the address space is limited).
    #[error("cannot start the thread that {what} with the {} MiB of stack its size needs: {source}; is the address space limited (ulimit -v)?", .stack >> 20)]
    Thread {
        /// What the thread does.
        what: &'static str,
        /// The stack it asked for, in bytes.
        stack: usize,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// A batch was cancelled before this run of it started (runs under way stop with
    /// `USER_BREAK` and keep their results instead).
    #[error("cancelled before it started")]
    Cancelled,
    /// Something that cannot happen did: a bug in dynlib, reported rather than ignored.
    #[error("internal error (a bug in dynlib; please report it): {0}")]
    Internal(String),
    /// A name (variable, event, snapshot, preset, ...) that does not exist.
    #[error("unknown {what} '{name}'{hint}; known: {known}")]
    NotFound {
        /// What kind of name.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// A " (did you mean 'x'?)" suggestion, or empty.
        hint: String,
        /// The names that exist, comma separated (`none` when there are none).
        known: String,
    },
    /// A session operation that is not possible in the session's current state.
    #[error("{0}")]
    Session(String),
    /// A snapshot or workspace that belongs to another model, stepper or dtype.
    #[error("incompatible: {0}")]
    Incompatible(String),
    /// A snapshot or preset file that cannot be read or written, or has the wrong content.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// `run option dt`, or `[sim].safety` for a model's own setting.
fn option_name(option: &str) -> String {
    if option.starts_with('[') {
        option.to_string()
    } else {
        format!("run option {option}")
    }
}

fn why(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

impl RuntimeError {
    /// A [`RuntimeError::NotFound`] with a did-you-mean suggestion among `known`.
    pub fn not_found<'a>(
        what: &'static str,
        name: &str,
        known: impl Iterator<Item = &'a str> + Clone,
    ) -> RuntimeError {
        let hint = dynlib_model::diag::did_you_mean(name, known.clone())
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        let list: Vec<&str> = known.collect();
        RuntimeError::NotFound {
            what,
            name: name.to_string(),
            hint,
            known: if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            },
        }
    }

    /// An [`RuntimeError::InvalidOption`].
    pub fn option(option: &str, message: impl Into<String>) -> RuntimeError {
        RuntimeError::InvalidOption {
            option: option.to_string(),
            message: message.into(),
        }
    }

    /// A [`RuntimeError::File`].
    pub fn file(path: &std::path::Path, message: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

#[cfg(feature = "jit")]
impl RuntimeError {
    /// The error of a failed compilation or load of `unit`: the backend's being unavailable
    /// is [`RuntimeError::BackendUnavailable`], anything else [`RuntimeError::Jit`].
    pub(crate) fn native(unit: &'static str, e: dynlib_native::Error) -> RuntimeError {
        match e {
            dynlib_native::Error::Unavailable(why) => RuntimeError::BackendUnavailable(why),
            e => RuntimeError::Jit {
                unit,
                message: e.to_string(),
            },
        }
    }
}
