//! Steppers, runner templates, backend selection, `build()`/`setup()`, `Sim` and results.
//!
//! Simulation is not built yet (issue 3). Today this crate only re-exports the model front
//! end, which is what the facade and the CLI use to load and validate models.

pub use dynlib_model as model;
