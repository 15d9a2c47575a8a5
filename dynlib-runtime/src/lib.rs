//! Steppers, runner templates, kernels, the run driver and the session API.
//!
//! A [`Kernel`] is one model's functions, one stepper and its runner loop in a single IR
//! program, ready on a backend (the interpreter, or native code with `jit = true`). [`Kernel::run`] drives the runner and
//! grows its buffers; [`Sim`] is the user-facing session on top: run options, resume,
//! transients, results, snapshots and presets.

pub mod abi;
pub mod error;
pub mod interrupt;
pub mod json;
pub mod kernel;
pub mod results;
pub mod run;
pub mod runner;
pub mod session;
pub mod sim;
pub mod stepper;
pub mod units;
pub mod workspace;

pub use dynlib_model as model;
pub use error::RuntimeError;
pub use interrupt::Interrupt;
pub use kernel::{BuildOptions, FullModel, Kernel, Role, Unit};
pub use results::{Column, EventTable, Results, Segment};
pub use run::{DVec, EventRow, RunOutput, RunSpec, Series, Status};
pub use session::{OnConflict, Preset, Snapshot, SnapshotInfo};
pub use sim::{build, setup, RunOptions, SessionConfig, SessionState, SetupOptions, Sim};
pub use units::{clear_memory_cache, CacheStats};
pub use workspace::{Layout, Workspace};
