//! Ctrl-C and `SIGTERM` during `dynlib run`: the first one asks the run to stop at its next
//! step boundary (status `USER_BREAK`, partial results written like any failed run); a
//! second one terminates the process at once, as if dynlib had not caught the first.

use dynlib::runtime::Interrupt;

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
    interrupt
}

/// The exit code of a run stopped by `interrupt`: 128 + the signal number, as shells report
/// a process killed by that signal (130 for Ctrl-C), or 1 when no signal requested it.
pub fn exit_code(interrupt: &Interrupt) -> u8 {
    match interrupt.reason() {
        r if SIGNALS.iter().any(|&s| s as usize == r) => 128 + r as u8,
        _ => 1,
    }
}
