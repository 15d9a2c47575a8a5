//! Steppers, runner templates, kernels, the run driver and the session API.
//!
//! A [`Kernel`] is one model's functions, one stepper and its runner loop in a single IR
//! program, ready on a backend (the interpreter, or native code with `jit = true`). [`Kernel::run`] drives the runner and
//! grows its buffers; [`Sim`] is the user-facing session on top: run options, resume,
//! transients, results, snapshots and presets.

pub mod abi;
#[cfg(feature = "jit")]
pub mod background;
pub mod batch;
pub mod error;
pub mod interrupt;
pub mod jacobian;
pub mod json;
pub mod kernel;
pub mod observer;
pub mod options;
pub mod plan;
pub mod preset;
pub mod results;
pub mod run;
pub mod runner;
pub mod sim;
pub mod snapshot;
pub mod state;
pub mod stepper;
pub mod sweep;
pub mod units;
pub mod workspace;

pub use batch::{run_batch, run_batch_map, BatchOptions, BatchRun, Progress};
pub use dynlib_model as model;
pub use error::RuntimeError;
pub use interrupt::Interrupt;
pub use kernel::{BuildOptions, FullModel, Kernel, Role, Unit};
pub use observer::{LyapunovMle, LyapunovSpectrum, Observer, ObserverResult, Observers};
pub use options::{ProgressHook, RunOptions, RunProgress, SessionConfig, SetupOptions};
pub use plan::{resolve, Execution, Plan};
pub use preset::{OnConflict, Preset, Presets};
pub use results::{Column, EventTable, Results, Segment};
pub use run::{Block, DVec, EventRow, RunOutput, RunSpec, Series, SolverStats, Status};
pub use sim::{build, setup, Sim};
pub use snapshot::{Snapshot, SnapshotInfo};
pub use state::{Recording, SessionCore, SessionState};
pub use sweep::{
    linspace, sweep, sweep_blocks, sweep_keeping, Axis, Blocks, Grid, Keep, Stat, Sweep,
};
pub use units::{clear_memory_cache, CacheStats};
pub use workspace::{Layout, Workspace};
