//! The runtime's error type.

/// What can go wrong building a kernel or running a simulation.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Loading or validating the model failed.
    #[error(transparent)]
    Model(#[from] dynlib_model::Error),
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
    #[error("invalid run option {option}: {message}")]
    InvalidOption {
        /// The option.
        option: String,
        /// What is wrong with it.
        message: String,
    },
    /// `jit = true` was asked for, but native compilation is not available.
    #[error("jit = true is not available: this build has no LLVM backend yet (the `jit` feature arrives with dynlib-llvm); use jit = false")]
    JitUnavailable,
    /// A run ended with a failure status; partial results stay readable on the session.
    #[error("the run failed with status {status} at t = {t}; the results recorded up to the failure are kept")]
    RunFailed {
        /// `STEPFAIL` or `NAN_DETECTED`.
        status: &'static str,
        /// The time of the last committed step.
        t: f64,
    },
    /// The backend failed to prepare or execute the kernel.
    #[error("backend error: {0}")]
    Backend(String),
}
