//! Steppers, runner templates, backend selection, `build()`/`setup()`, `Sim` and results.
//!
//! Work in progress (issue 3): the stepper registry and emitters exist; the runner, the
//! session API and results are not built yet.

pub mod runner;
pub mod stepper;

pub use dynlib_model as model;
