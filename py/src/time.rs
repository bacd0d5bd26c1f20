//! Time arguments and the sliced blocking wait every `wait` uses.
//!
//! Python speaks seconds as floats on `time.monotonic()`'s clock; core speaks [`Duration`] and
//! [`Instant`]. Both clocks are `CLOCK_MONOTONIC` on Linux, so a deadline converts exactly.
//!
//! Blocking waits run in slices of at most [`SLICE`] with the GIL released
//! (`Python::detach`), and call `check_signals` between slices: Ctrl-C raises
//! `KeyboardInterrupt` within one slice, and the object waited on is untouched.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::errors::invalid_argument;

/// The longest a blocking wait stays away from the interpreter (signal latency bound).
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// A timeout argument: `None` or `inf` is "no timeout", a negative value is zero (Go's rule for
/// durations), NaN is an error.
pub(crate) fn timeout_arg(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_nan() => Err(invalid_argument(py, "timeout must be a number, not NaN")),
        Some(s) if s <= 0.0 => Ok(Some(Duration::ZERO)),
        Some(s) => Ok(Duration::try_from_secs_f64(s).ok()),
    }
}

/// `time.monotonic()`, read from the same clock core's `Instant` uses.
pub(crate) fn monotonic() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// One `(Instant, time.monotonic())` pair read once: both are CLOCK_MONOTONIC, so the offset
/// between them is fixed, and converting through one pair makes equal instants read as equal
/// floats (two reads per conversion made the same deadline differ by nanoseconds).
fn base() -> (Instant, f64) {
    static BASE: OnceLock<(Instant, f64)> = OnceLock::new();
    *BASE.get_or_init(|| (Instant::now(), monotonic()))
}

/// The core `Instant` for a `time.monotonic()` value (`None`: too far to represent, never).
pub(crate) fn instant_from_monotonic(py: Python<'_>, at: f64) -> PyResult<Option<Instant>> {
    if at.is_nan() {
        return Err(invalid_argument(py, "deadline must be a number, not NaN"));
    }
    let (base_instant, base_seconds) = base();
    let delta = at - base_seconds;
    Ok(if delta >= 0.0 {
        Duration::try_from_secs_f64(delta)
            .ok()
            .and_then(|d| base_instant.checked_add(d))
    } else {
        Some(
            Duration::try_from_secs_f64(-delta)
                .ok()
                .and_then(|d| base_instant.checked_sub(d))
                .unwrap_or(base_instant),
        )
    })
}

/// The `time.monotonic()` value of a core `Instant`.
pub(crate) fn monotonic_from_instant(at: Instant) -> f64 {
    let (base_instant, base_seconds) = base();
    if at >= base_instant {
        base_seconds + (at - base_instant).as_secs_f64()
    } else {
        base_seconds - (base_instant - at).as_secs_f64()
    }
}

/// Repeats `step(slice)` with the GIL released until it returns `Some`, checking for signals
/// between slices. `Ok(None)` once `timeout` passed.
pub(crate) fn sliced<T: Send>(
    py: Python<'_>,
    timeout: Option<Duration>,
    step: impl Fn(Duration) -> Option<T> + Sync,
) -> PyResult<Option<T>> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => SLICE.min(d.saturating_duration_since(Instant::now())),
        };
        if let Some(v) = py.detach(|| step(slice)) {
            return Ok(Some(v));
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}
