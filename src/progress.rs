//! The progress line of long runs and sweeps: on standard error when it is a terminal (so
//! never in JSON, CSV or piped output), not before the work has taken a second
//! (`DYNLIB_PROGRESS_AFTER_MS` changes that, for tests), redrawn at most ten times a
//! second, erased when the work ends; `--quiet` turns it off.
//!
//! ```text
//! run    t = 41.2 of 100  [############------------------]  41%  2.31M steps/s  ETA 3 s
//! sweep  412 of 1000 points  [############------------------]  41%  98.3 points/s  3.45M steps/s  ETA 6 s
//! ```

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynlib::runtime::RunProgress;

/// A progress line, shared by the threads that report to it.
#[derive(Clone)]
pub struct Bar(Arc<Mutex<State>>);

struct State {
    started: Instant,
    /// The run's part being reported (t0, t_end bits: a transient, then the recorded run)
    /// and when it started: rates and ETAs are the part's.
    part: Option<(u64, u64)>,
    part_started: Instant,
    /// When nothing is drawn yet: the delay before the first drawing.
    after: Duration,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    /// A bar, unless `quiet` or standard error is not a terminal.
    pub fn new(quiet: bool) -> Option<Bar> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let after = std::env::var("DYNLIB_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis);
        let now = Instant::now();
        Some(Bar(Arc::new(Mutex::new(State {
            started: now,
            part: None,
            part_started: now,
            after,
            last: None,
            drawn: false,
        }))))
    }

    /// Draws `text` with a bar of `fraction`, the rate of `done` units since the start and
    /// the time left, unless it is too early or too soon after the last drawing.
    fn draw(s: &mut State, what: &str, fraction: f64, rates: &[(f64, &str)]) {
        let now = Instant::now();
        if now - s.started < s.after || s.last.is_some_and(|l| now - l < Duration::from_millis(100))
        {
            return;
        }
        let elapsed = now - s.part_started;
        s.last = Some(now);
        s.drawn = true;
        let width = 30;
        let fraction = fraction.clamp(0.0, 1.0);
        let filled = (fraction * width as f64).round() as usize;
        let secs = elapsed.as_secs_f64();
        let rates: Vec<String> = rates
            .iter()
            .map(|&(done, unit)| format!("{} {unit}/s", si(done / secs.max(1e-9))))
            .collect();
        let eta = if fraction > 0.0 {
            format!("ETA {}", duration(secs * (1.0 - fraction) / fraction))
        } else {
            "ETA ?".to_string()
        };
        let line = format!(
            "{what}  [{}{}] {:>3.0}%  {}  {eta}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            fraction * 100.0,
            rates.join("  "),
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// A run's progress.
    pub fn run(&self, p: RunProgress) {
        let Ok(mut s) = self.0.lock() else { return };
        let part = Some((p.t0.to_bits(), p.t_end.to_bits()));
        if s.part != part {
            s.part = part;
            s.part_started = Instant::now();
        }
        let what = format!(
            "run    t = {} of {}",
            short(p.t),
            short(if p.t_end.is_finite() { p.t_end } else { p.t0 })
        );
        Bar::draw(&mut s, &what, p.fraction(), &[(p.step as f64, "steps")]);
    }

    /// A sweep's progress: `done` of `total` points, which took `steps` steps.
    pub fn points(&self, done: usize, total: usize, steps: u64) {
        let Ok(mut s) = self.0.lock() else { return };
        let what = format!("sweep  {done} of {total} points");
        Bar::draw(
            &mut s,
            &what,
            done as f64 / total.max(1) as f64,
            &[(done as f64, "points"), (steps as f64, "steps")],
        );
    }

    /// Erases the line, if one was drawn (before the results are written).
    pub fn finish(&self) {
        let Ok(mut s) = self.0.lock() else { return };
        if s.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            s.drawn = false;
        }
        // Nothing more after the end (a late report from another thread).
        s.after = Duration::MAX;
    }
}

/// A number in three significant digits with an SI prefix (`2.31M`, `32.8`).
fn si(x: f64) -> String {
    let (v, p) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    let decimals = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s}{p}")
}

/// A time or horizon in six significant digits (scientific beyond 10^9 and below 10^-4).
fn short(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || (a != 0.0 && !(1e-4..1e9).contains(&a)) {
        return format!("{x:.5e}");
    }
    let magnitude = if a == 0.0 {
        0
    } else {
        a.log10().floor() as i32
    };
    let decimals = (5 - magnitude).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A duration for people: `12 s`, `3 min 20 s`, `2 h 5 min`.
fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(si(2_310_000.0), "2.31M");
        assert_eq!(si(1000.0), "1k");
        assert_eq!(si(12.5), "12.5");
        assert_eq!(si(32.786), "32.8");
        assert_eq!(si(250.0), "250");
        assert_eq!(si(999_999.0), "1000k");
        assert_eq!(si(0.0), "0");
        assert_eq!(short(41.2), "41.2");
        assert_eq!(short(100.0), "100");
        assert_eq!(short(1e12), "1.00000e12");
        assert_eq!(short(40655.000011), "40655");
        assert_eq!(short(0.0012345678), "0.00123457");
        assert_eq!(short(0.0), "0");
        assert_eq!(duration(3.4), "3 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(duration(f64::INFINITY), "?");
    }
}
