//! dynlib: simulate ordinary differential equations and discrete maps described in a TOML
//! model language.
//!
//! This crate is the public facade. Today it exposes the model front end: loading a model
//! from a URI (`builtin://ode/lorenz`, a file path, `TAG://rel/path`, `inline: ...`),
//! validating it, and inspecting the result. Simulation (`setup`, `Sim`, steppers) arrives
//! with the runtime.
//!
//! ```
//! let model = dynlib::load("builtin://ode/vanderpol", &dynlib::LoadOptions::default())?;
//! assert_eq!(model.state_names(), ["x", "y"]);
//! println!("{}", model.summary());
//! # Ok::<(), dynlib::Error>(())
//! ```

pub use dynlib_runtime as runtime;
pub use dynlib_runtime::model;
pub use dynlib_runtime::model::{load, load_text, Config, Error, LoadOptions, Model};
