//! Ctrl-C and `SIGTERM` during `dynlib run`: the first one asks the run to stop at its next
//! step boundary (status `USER_BREAK`, partial results written like any failed run); a
//! second one terminates the process at once, as if dynlib had not caught the first.
//!
//! A signal that arrives while no step boundary is near (a long compilation, one step that
//! takes minutes, an output nobody reads) must still stop the process: `timeout` and batch
//! schedulers send one `SIGTERM` and expect an exit. The first signal therefore also sets
//! an alarm. If it rings [`GRACE`] seconds later while the run is still going, the process
//! exits with the signal's code; if the run is over and its output is being written, the
//! write gets [`GRACE`] more seconds (a large file is not cut short for nothing), then the
//! process exits all the same, removing the half-written temporary file. An alarm, not a
//! watchdog thread: a thread would cost every run its start-up (a quarter of a small
//! model's build time).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use dynlib::runtime::Interrupt;

/// [`GRACE`] as a literal, for the message written from the signal handler.
macro_rules! grace {
    () => {
        3
    };
}

/// Twice [`GRACE`]: how long after the signal an output being written may take.
macro_rules! twice_grace {
    () => {
        6
    };
}

/// How long after the first signal the run may take to reach a step boundary, in seconds.
pub const GRACE: u32 = grace!();
const _: () = assert!(twice_grace!() == 2 * GRACE);

/// Set once the run has returned: from then on only the output is written, and the alarm
/// lets it finish.
static RUN_FINISHED: AtomicBool = AtomicBool::new(false);

/// The first stopping signal received (0: none yet).
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// How many times the alarm has rung.
static RINGS: AtomicI32 = AtomicI32::new(0);

/// Tells the alarm the run is over (its results are being written: they get more time).
pub fn run_finished() {
    RUN_FINISHED.store(true, Ordering::SeqCst);
}

/// Tells the alarm the run goes on after [`run_finished`]: a sweep written as it goes
/// simulates its next block (once interrupted, a block's points are cancelled at once, so
/// this is for the time before a signal).
pub fn run_resumed() {
    RUN_FINISHED.store(false, Ordering::SeqCst);
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
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    for sig in SIGNALS {
        // Order matters: actions run in the order registered. The default action is taken
        // only if `armed` is already set when the signal arrives, i.e. from the second
        // signal on (the first one sets it), and the half-written output goes first.
        let installed = discard_before_default(sig, armed.clone())
            .and_then(|_| signal_hook::flag::register_conditional_default(sig, armed.clone()))
            .and_then(|_| signal_hook::flag::register(sig, armed.clone()))
            .and_then(|_| signal_hook::flag::register_usize(sig, interrupt.flag(), sig as usize))
            .and_then(|_| set_alarm_on(sig));
        if let Err(e) = installed {
            tracing::warn!("cannot catch signal {sig} ({e}); a run it interrupts keeps nothing");
        }
    }
    // Signals that end the process without asking (a closed terminal or ssh session) must
    // not leave the half-written output behind either; ignored ones (`nohup`) stay ignored.
    for sig in ENDING {
        if !ignored(sig) {
            let always = std::sync::Arc::new(AtomicBool::new(true));
            let installed = discard_before_default(sig, always.clone())
                .and_then(|_| signal_hook::flag::register_conditional_default(sig, always));
            if let Err(e) = installed {
                tracing::warn!("cannot catch signal {sig} ({e})");
            }
        }
    }
    if let Err(e) = exit_on_alarm() {
        tracing::warn!("cannot catch SIGALRM ({e}); a signal during a build waits for the build");
    }
    interrupt
}

/// Other signals whose default action ends the process while an output may be written.
#[cfg(unix)]
const ENDING: [i32; 2] = [signal_hook::consts::SIGHUP, signal_hook::consts::SIGQUIT];
#[cfg(not(unix))]
const ENDING: [i32; 0] = [];

/// True when `sig` is ignored (as `nohup` leaves SIGHUP): catching it would undo that.
#[cfg(unix)]
fn ignored(sig: i32) -> bool {
    // SAFETY: querying the current action only (a null new action).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(not(unix))]
fn ignored(_: i32) -> bool {
    true
}

/// When `sig` arrives with `ends` set (the process is about to take the default action),
/// removes the temporary output file being written, if any.
fn discard_before_default(
    sig: i32,
    ends: std::sync::Arc<AtomicBool>,
) -> std::io::Result<signal_hook::SigId> {
    let action = move || {
        if ends.load(Ordering::SeqCst) {
            crate::sink::discard_partial_output();
        }
    };
    // SAFETY: the action only uses an atomic and unlink(2), both async-signal-safe.
    unsafe { signal_hook::low_level::register(sig, action) }
}

/// On the first of the stopping signals, sets an alarm [`GRACE`] seconds ahead.
#[cfg(unix)]
fn set_alarm_on(sig: i32) -> std::io::Result<()> {
    let action = move || {
        if FIRST_SIGNAL
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // SAFETY: alarm(2) is async-signal-safe and has no memory effects.
            unsafe { libc::alarm(GRACE) };
        }
    };
    // SAFETY: the action only uses atomics and alarm(2), both async-signal-safe.
    unsafe { signal_hook::low_level::register(sig, action) }.map(drop)
}

/// When the alarm rings before the run has returned, or a second time while its output is
/// written, says so and exits with the first signal's code (without unwinding: nothing
/// else is half-written).
#[cfg(unix)]
fn exit_on_alarm() -> std::io::Result<()> {
    let action = || {
        let writing = RUN_FINISHED.load(Ordering::SeqCst);
        if writing && RINGS.fetch_add(1, Ordering::SeqCst) == 0 {
            // SAFETY: alarm(2) is async-signal-safe.
            unsafe { libc::alarm(GRACE) };
            return;
        }
        const STILL_RUNNING: &str = concat!(
            "dynlib: still running ",
            grace!(),
            " s after the signal (building, in one long step, or opening the output); stopping \
             without results\n"
        );
        const STILL_WRITING: &str = concat!(
            "dynlib: the output was still not written ",
            twice_grace!(),
            " s after the signal (nobody reading it?); stopping without it\n"
        );
        let message = if writing {
            STILL_WRITING
        } else {
            STILL_RUNNING
        };
        crate::sink::discard_partial_output();
        // SAFETY: write(2) and _exit(2) are async-signal-safe; the message is static.
        unsafe {
            let _ = libc::write(2, message.as_ptr().cast(), message.len());
            libc::_exit(128 + FIRST_SIGNAL.load(Ordering::SeqCst));
        }
    };
    // SAFETY: the action only uses atomics, alarm(2), unlink(2), write(2) and _exit(2),
    // all async-signal-safe.
    unsafe { signal_hook::low_level::register(signal_hook::consts::SIGALRM, action) }.map(drop)
}

#[cfg(not(unix))]
fn set_alarm_on(_: i32) -> std::io::Result<()> {
    Ok(())
}

/// Without alarms a signal during a build waits for the build.
#[cfg(not(unix))]
fn exit_on_alarm() -> std::io::Result<()> {
    Ok(())
}

/// The exit code of a run stopped by `interrupt`: 128 + the signal number, as shells report
/// a process killed by that signal (130 for Ctrl-C), or 1 when no signal requested it.
pub fn exit_code(interrupt: &Interrupt) -> u8 {
    match interrupt.reason() {
        r if SIGNALS.iter().any(|&s| s as usize == r) => 128 + r as u8,
        _ => 1,
    }
}
