//! dynlib: simulate ordinary differential equations and discrete maps described in a TOML
//! model language.
//!
//! This crate is the public facade over the workspace: load a model from a URI
//! (`builtin://ode/lorenz`, a file path, `TAG://rel/path`, `inline: ...`), build it with a
//! stepper, and run it in a session.
//!
//! ```
//! use dynlib::{RunOptions, SetupOptions};
//! let mut sim = dynlib::setup("builtin://ode/vanderpol", SetupOptions::default().stepper("rk4"))?;
//! sim.run(RunOptions::default().t_end(20.0))?;
//! let res = sim.results()?;
//! let x: &[f64] = res.series("x")?;
//! assert_eq!(x.len(), res.t.len());
//! # Ok::<(), dynlib::RuntimeError>(())
//! ```
//!
//! Models alone (validation, inspection) need only [`load`]:
//!
//! ```
//! let model = dynlib::load("builtin://ode/vanderpol", &dynlib::LoadOptions::default())?;
//! assert_eq!(model.state_names(), ["x", "y"]);
//! # Ok::<(), dynlib::Error>(())
//! ```

#[cfg(feature = "plot")]
pub mod plot;

pub use dynlib_runtime as runtime;
pub use dynlib_runtime::model;
pub use dynlib_runtime::model::{load, load_text, Config, Error, LoadOptions, Model, Number};
pub use dynlib_runtime::{
    build, setup, Column, EventTable, FullModel, Interrupt, Kernel, OnConflict, Results, Role,
    RunOptions, RuntimeError, Segment, SessionConfig, SetupOptions, Sim, Status, Unit,
};
