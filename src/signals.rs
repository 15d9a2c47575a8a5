//! Ctrl-C and `SIGTERM` during `dynlib run`: the first one asks the run to stop at its next
//! step boundary (status `USER_BREAK`, partial results written like any failed run); a
//! second one terminates the process at once, as if dynlib had not caught the first.
//!
//! A signal that arrives while no step boundary is near (a long compilation, one step that
//! takes minutes) must still stop the process: `timeout` and batch schedulers send one
//! `SIGTERM` and expect an exit. A watchdog thread therefore ends the process
//! [`GRACE`] after the first signal unless the run has stopped by then (and the output is
//! being written, which is never cut short).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dynlib::runtime::Interrupt;

/// How long after the first signal the run may take to reach a step boundary.
pub const GRACE: Duration = Duration::from_secs(3);

/// Set once the run has returned: from then on only the output is written, and the
/// watchdog lets it finish.
static RUN_FINISHED: AtomicBool = AtomicBool::new(false);

/// Tells the watchdog the run is over (its results are being written).
pub fn run_finished() {
    RUN_FINISHED.store(true, Ordering::SeqCst);
}

/// The signals that stop a run.
#[cfg(unix)]
const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
#[cfg(not(unix))]
const SIGNALS: [i32; 1] = [signal_hook::consts::SIGINT];

/// Installs the handlers and returns the interrupt they request. If a handler cannot be
/// installed the run simply cannot be interrupted gently (a warning says so).
pub fn install() -> Interrupt {
    let interrupt = Interrupt::new();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in SIGNALS {
        // Order matters: the default action is taken only if `armed` is already set when
        // the signal arrives, i.e. from the second signal on; the first one sets it.
        let installed = signal_hook::flag::register_conditional_default(sig, armed.clone())
            .and_then(|_| signal_hook::flag::register(sig, armed.clone()))
            .and_then(|_| signal_hook::flag::register_usize(sig, interrupt.flag(), sig as usize));
        if let Err(e) = installed {
            tracing::warn!("cannot catch signal {sig} ({e}); a run it interrupts keeps nothing");
        }
    }
    let watched = interrupt.clone();
    std::thread::spawn(move || watchdog(&watched));
    interrupt
}

/// Ends the process [`GRACE`] after the first signal if the run has not stopped by then.
fn watchdog(interrupt: &Interrupt) {
    let tick = Duration::from_millis(50);
    while !interrupt.is_requested() {
        std::thread::sleep(tick);
    }
    let since = Instant::now();
    while since.elapsed() < GRACE {
        if RUN_FINISHED.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(tick);
    }
    if !RUN_FINISHED.load(Ordering::SeqCst) {
        eprintln!(
            "dynlib: no step boundary was reached within {} s of the signal (still building, or \
             in one long step); stopping without results",
            GRACE.as_secs()
        );
        std::process::exit(exit_code(interrupt).into());
    }
}

/// The exit code of a run stopped by `interrupt`: 128 + the signal number, as shells report
/// a process killed by that signal (130 for Ctrl-C), or 1 when no signal requested it.
pub fn exit_code(interrupt: &Interrupt) -> u8 {
    match interrupt.reason() {
        r if SIGNALS.iter().any(|&s| s as usize == r) => 128 + r as u8,
        _ => 1,
    }
}
