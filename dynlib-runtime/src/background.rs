//! Compilations running on background threads (tiered kernels), counted so that a process
//! can wait for them before it exits.
//!
//! Why it matters: when `main` returns, the C library runs the static destructors of every
//! loaded library, LLVM's among them, while a background thread may still be inside LLVM:
//! a crash at exit. So once LLVM is loaded, the first background compilation registers an
//! `atexit` handler that waits for all of them ([`wait`]); it runs before the destructors
//! of LLVM's global objects (handlers run in the reverse order of registration, and those
//! were registered when it was loaded, earlier). It is a safety net with holes: the
//! destructors of LLVM's function-local statics are registered when first used, during a
//! compilation, after the handler, and a process may exit while the first compilation is
//! still loading LLVM. So a program that may return from `main` while a tiered kernel still
//! compiles calls [`wait`] first, or, when it does not want the compiled code (the CLI
//! without a disk cache), ends with `_exit`, which runs no destructors at all.

use std::sync::{Condvar, Mutex};

static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static DONE: Condvar = Condvar::new();

/// How many background compilations are running now.
pub fn in_flight() -> usize {
    *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Blocks until no background compilation is running.
pub fn wait() {
    let mut n = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    while *n > 0 {
        n = DONE.wait(n).unwrap_or_else(|e| e.into_inner());
    }
}

extern "C" fn wait_at_exit() {
    wait();
}

/// Registers the exit handler that waits for background compilations (once; call it after
/// LLVM is loaded, so that it runs before LLVM's destructors).
pub(crate) fn wait_at_exit_once() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registering a plain `extern "C"` function with no arguments; it only locks
        // a static mutex. A failed registration (the table is full) leaves the process as it
        // was before tiering existed.
        unsafe {
            libc::atexit(wait_at_exit);
        }
    });
}

/// One running background compilation; dropping it (however the thread ends) counts it
/// out.
pub(crate) struct Compiling(());

impl Compiling {
    /// Counts a compilation in.
    pub(crate) fn start() -> Compiling {
        *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Compiling(())
    }
}

impl Drop for Compiling {
    fn drop(&mut self) {
        let mut n = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        DONE.notify_all();
    }
}

static HOLD: Mutex<bool> = Mutex::new(false);
static RELEASED: Condvar = Condvar::new();

/// Testing tiered execution: while held, background compilations wait before they start
/// compiling, so a test can watch a tiered kernel run before its native code exists. A
/// direct call of a held unit (or [`crate::Kernel::wait_native`]) would wait too.
#[doc(hidden)]
pub fn hold(on: bool) {
    *HOLD.lock().unwrap_or_else(|e| e.into_inner()) = on;
    RELEASED.notify_all();
}

/// Where a background compilation waits while [`hold`] is on.
pub(crate) fn pass_gate() {
    let mut held = HOLD.lock().unwrap_or_else(|e| e.into_inner());
    while *held {
        held = RELEASED.wait(held).unwrap_or_else(|e| e.into_inner());
    }
}
