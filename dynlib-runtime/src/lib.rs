//! Steppers, runner templates, kernels and the run driver.
//!
//! Work in progress (issue 3): the stepper registry and emitters, the BASE runner, kernels
//! (model + stepper + runner as one IR program on the interpreter) and the run driver exist;
//! the `Sim` session API and results tables are not built yet.

pub mod error;
pub mod kernel;
pub mod run;
pub mod runner;
pub mod sim;
pub mod stepper;

pub use dynlib_model as model;
pub use error::RuntimeError;
pub use kernel::Kernel;
pub use run::{DVec, EventRow, RunOutput, RunSpec, Status};
pub use sim::{build, setup, Results, RunOptions, SetupOptions, Sim};
