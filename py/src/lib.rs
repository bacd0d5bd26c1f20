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
//! * this file — the module, diagnostics for the tests, and the fork and exit hooks.

mod aio;
mod cancel_token;
mod err_group;
mod errors;
mod task;
mod time;
mod wait_group;

use std::time::Duration;

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

/// A snapshot of core's pool: threads alive, idle, busy (and blocked inside gogroup), queued
/// tasks, the peak, threads the OS refused, the monitor and timer threads.
#[pyfunction]
fn _pool_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = gogroup::pool::stats();
    let d = PyDict::new(py);
    d.set_item("live", s.live)?;
    d.set_item("idle", s.idle)?;
    d.set_item("busy", s.busy)?;
    d.set_item("blocked", s.blocked)?;
    d.set_item("queued", s.queued)?;
    d.set_item("peak", s.peak)?;
    d.set_item("spawn_failures", s.spawn_failures)?;
    d.set_item("monitor_thread", s.monitor_thread)?;
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

/// Called in a fork child: the parent's threads that were inside Python are gone (core
/// rebuilds its own pool and timer on first use in the child; see core's `pool` docs).
#[pyfunction]
fn _after_fork_in_child() {
    task::after_fork_in_child();
}

/// The package's `atexit` hook: no gogroup thread enters Python after it returns (see
/// `task::shut_down`). False if threads were still running Python code after `patience`.
#[pyfunction]
fn _shut_down(py: Python<'_>, patience: f64) -> PyResult<bool> {
    let patience = time::timeout_arg(py, Some(patience))?.unwrap_or(Duration::from_secs(3600));
    task::shut_down(py, patience)
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
        _after_fork_in_child, _error_kinds, _error_of_kind, _idle_timeout, _live_async_waits,
        _pool_stats, _shut_down,
    };

    /// The package version (the workspace's).
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");
}
