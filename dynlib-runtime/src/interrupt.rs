//! Stopping a run from outside: a user break (Ctrl-C, `SIGTERM`, a GUI's stop button, a
//! batch scheduler's deadline).
//!
//! The runner loop itself has no flag to poll: [`Kernel::run`](crate::Kernel::run) calls it
//! in chunks of steps (a few tens of milliseconds each, sized from the measured speed) and
//! checks the [`Interrupt`] between chunks. A chunk boundary is an ordinary re-entry of the
//! runner, exactly like a buffer growth, so it costs nothing in the hot loop and never
//! changes a result bit; a run that is interrupted stops at a step boundary with status
//! `USER_BREAK`, and keeps everything it recorded, like any failed run (a resumed run then
//! continues from there).
//!
//! ```
//! use dynlib_runtime::{Interrupt, RunOptions, RuntimeError, SetupOptions, Status};
//! let mut sim = dynlib_runtime::setup("builtin://ode/lorenz", SetupOptions::default())?;
//! let stop = Interrupt::new();
//! stop.request(); // e.g. from a signal handler or another thread
//! let e = sim.run(RunOptions::default().t_end(1e6).interrupt(&stop)).unwrap_err();
//! assert!(matches!(e, RuntimeError::RunFailed { status: Status::UserBreak, .. }));
//! assert!(!sim.results()?.t.is_empty(), "the partial results are kept");
//! # Ok::<(), RuntimeError>(())
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared stop request. Cloning shares it; [`Interrupt::flag`] exposes the atomic word
/// for signal handlers (async-signal-safe: they only store to it).
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// A new, unrequested interrupt.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks every run watching this interrupt to stop at its next chunk boundary.
    pub fn request(&self) {
        self.0.store(usize::MAX, Ordering::SeqCst);
    }

    /// True once requested (until [`Interrupt::clear`]).
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// What requested it: the number a signal handler stored (the signal number with
    /// `signal_hook::flag::register_usize`), `usize::MAX` for [`Interrupt::request`], 0
    /// when not requested.
    pub fn reason(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Withdraws the request, so later runs go on.
    pub fn clear(&self) {
        self.0.store(0, Ordering::SeqCst);
    }

    /// True when both are the same request (clones of one interrupt).
    pub fn same_as(&self, other: &Interrupt) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The atomic word itself, for registering with a signal handler: any nonzero value
    /// is a request.
    pub fn flag(&self) -> Arc<AtomicUsize> {
        self.0.clone()
    }
}
