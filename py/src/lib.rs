//! `gogroup._gogroup`: the native half of the `gogroup` Python package.
//!
//! Bindings translate, core decides (STYLE §10): every method converts its arguments, calls
//! one core method and maps the result or error. What this crate owns is host glue only:
//!
//! * `errors.rs` — the one mapping between core's `ErrorKind` table and Python exceptions,
//!   and the carrying of Python exception objects through core as error payloads;
//! * `task.rs` — running Python callables on core's pool threads under the GIL;
//! * `time.rs` — seconds ↔ `Duration`/`Instant`, and blocking waits in GIL-free slices that
//!   let Ctrl-C through;
//! * `aio.rs` — asyncio futures driven by core's `Waker`-based futures;
//! * this file — the module, diagnostics for the tests, and making `os.fork()` safe.

mod aio;
mod cancel_token;
mod err_group;
mod errors;
mod task;
mod time;
mod wait_group;

use std::time::{Duration, Instant};

use gogroup::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `(code, name)` for every core error kind, in code order (tests walk it).
#[pyfunction]
fn _error_kinds() -> Vec<(u32, &'static str)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.code(), k.name()))
        .collect()
}

/// The exception the binding raises for a core error of kind `code` (tests walk it).
#[pyfunction]
fn _error_of_kind(py: Python<'_>, code: u32) -> PyResult<Py<PyAny>> {
    let kind = ErrorKind::from_code(code)
        .ok_or_else(|| errors::invalid_argument(py, format!("no error kind has code {code}")))?;
    Ok(errors::to_pyobj(
        py,
        &Error::new(kind, kind.default_message()),
    ))
}

/// A snapshot of core's pool: threads alive, idle, busy, queued tasks, timer thread.
#[pyfunction]
fn _pool_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = gogroup::pool::stats();
    let d = PyDict::new(py);
    d.set_item("live", s.live)?;
    d.set_item("idle", s.idle)?;
    d.set_item("busy", s.busy)?;
    d.set_item("queued", s.queued)?;
    d.set_item("timer_thread", s.timer_thread)?;
    d.set_item("pending_deadlines", s.pending_deadlines)?;
    Ok(d)
}

/// Core's idle timeout for pool threads, in seconds; sets it first if `seconds` is given.
#[pyfunction]
#[pyo3(signature = (seconds=None))]
fn _idle_timeout(py: Python<'_>, seconds: Option<f64>) -> PyResult<f64> {
    if let Some(d) = time::timeout_arg(py, seconds)? {
        gogroup::pool::set_idle_timeout(d);
    }
    Ok(gogroup::pool::idle_timeout().as_secs_f64())
}

/// asyncio awaits still registered with core (0 once every await finished or was cancelled).
#[pyfunction]
fn _live_async_waits() -> usize {
    aio::live()
}

/// Brings core's pool to zero threads before `os.fork()`, so that the child starts with a
/// consistent, empty pool (core's threads do not survive a fork; see README "Processes").
///
/// Returns False if threads were still busy (or deadlines pending) after `patience` seconds:
/// the child can then not run `go` tasks or deadlines.
#[pyfunction]
fn _quiesce_for_fork(py: Python<'_>, patience: f64) -> PyResult<bool> {
    // Core's counts drop just before a thread returns; a thread still on its way out may hold
    // a lock the child would inherit held. So also wait until the kernel has no thread of
    // gogroup's left (core names them `gogroup-worker` and `gogroup-timer`).
    let quiet = || {
        let s = gogroup::pool::stats();
        s.live == 0 && !s.timer_thread && !gogroup_threads_exist()
    };
    if quiet() {
        return Ok(true);
    }
    let patience = time::timeout_arg(py, Some(patience))?.unwrap_or(Duration::from_secs(1));
    let previous = gogroup::pool::idle_timeout();
    gogroup::pool::set_idle_timeout(Duration::from_millis(1));
    let result = py.detach(|| {
        // Sleeping workers and the timer thread read the timeout when they go idle: wake them
        // (the timer by a deadline that is dropped at once, workers with no-op tasks).
        drop(gogroup::CancelToken::new().with_timeout(Duration::from_millis(1)));
        let mut next_kick = Instant::now();
        let mut kick_interval = Duration::from_millis(5);
        let end = Instant::now() + patience;
        // A pending deadline keeps the timer thread alive. The pool's own starvation check is
        // one for a millisecond at a time; a user's token with a timeout stays: give up then.
        let mut deadlines_since: Option<Instant> = None;
        while !quiet() {
            let now = Instant::now();
            if gogroup::pool::stats().pending_deadlines == 0 {
                deadlines_since = None;
            } else if now - *deadlines_since.get_or_insert(now) > Duration::from_millis(50) {
                return false;
            }
            if now >= end {
                return false;
            }
            // A no-op wakes one sleeping worker, unless a spinning one takes it; a worker kicked
            // too often would never get to sleep (and exit). So kick with a growing interval
            // until every worker went to sleep with the short timeout, and exited.
            let live = gogroup::pool::stats().live;
            if live > 0 && now >= next_kick {
                for _ in 0..live {
                    gogroup::pool::spawn(|| {});
                }
                next_kick = now + kick_interval;
                kick_interval *= 2;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    });
    gogroup::pool::set_idle_timeout(previous);
    Ok(result)
}

/// The package's `atexit` hook: no gogroup thread enters Python after it returns (see
/// `task::shut_down`). False if threads were still running Python code after `patience`.
#[pyfunction]
fn _shut_down(py: Python<'_>, patience: f64) -> PyResult<bool> {
    let patience = time::timeout_arg(py, Some(patience))?.unwrap_or(Duration::from_secs(3600));
    task::shut_down(py, patience)
}

/// Whether any thread of this process is one of core's (by the name core gives them).
fn gogroup_threads_exist() -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("gogroup-"))
    })
}

/// Go's `sync.WaitGroup`, `errgroup.Group` and `context` cancellation, for threads and asyncio.
#[pymodule(gil_used = false)]
mod _gogroup {
    #[pymodule_export]
    use super::cancel_token::{CancelToken, Registration};
    #[pymodule_export]
    use super::err_group::{ErrGroup, TaskSlot};
    #[pymodule_export]
    use super::wait_group::WaitGroup;
    #[pymodule_export]
    use super::{
        _error_kinds, _error_of_kind, _idle_timeout, _live_async_waits, _pool_stats,
        _quiesce_for_fork, _shut_down,
    };

    /// The package version (the workspace's).
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");
}
