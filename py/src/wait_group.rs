//! `gogroup.WaitGroup`: core's [`WaitGroup`](gogroup::WaitGroup) for Python.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::aio;
use crate::cancel_token::CancelToken;
use crate::errors::{panic_to_pyerr, to_pyerr};
use crate::task::{self, Task};
use crate::time::{sliced, timeout_arg};

/// Waits for a collection of tasks to finish (Go's ``sync.WaitGroup``).
///
/// ``add(n)`` before starting work, ``done()`` when a piece finishes, ``wait()`` until the
/// counter is zero; ``go(fn)`` does all three for one task on gogroup's pool. Unlike Go's, a
/// negative counter is refused before it is applied (``NegativeCounterError``), and reuse is
/// always safe.
///
/// Example:
///     >>> import gogroup, threading
///     >>> wg = gogroup.WaitGroup()
///     >>> hits = []
///     >>> for i in range(3):
///     ...     wg.go(hits.append, i)
///     >>> wg.wait()
///     True
///     >>> sorted(hits)
///     [0, 1, 2]
#[pyclass(module = "gogroup._gogroup", frozen)]
pub(crate) struct WaitGroup {
    inner: gogroup::WaitGroup,
}

#[pymethods]
impl WaitGroup {
    /// A wait group with a zero counter.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> gogroup.WaitGroup().count
    ///     0
    #[new]
    fn new() -> WaitGroup {
        WaitGroup {
            inner: gogroup::WaitGroup::new(),
        }
    }

    /// Adds ``delta`` (which may be negative) to the counter; at zero, waiters are released.
    ///
    /// Raises:
    ///     NegativeCounterError: the counter would drop below zero (nothing changed).
    ///     InvalidArgumentError: the counter would exceed 2**31 - 1 (nothing changed).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.add(2)
    ///     >>> wg.add(-3)
    ///     Traceback (most recent call last):
    ///     ...
    ///     gogroup._errors.NegativeCounterError: sync: negative WaitGroup counter
    ///     >>> wg.count
    ///     2
    #[pyo3(signature = (delta=1))]
    fn add(&self, py: Python<'_>, delta: i64) -> PyResult<()> {
        self.inner.add(delta).map_err(|e| to_pyerr(py, &e))
    }

    /// Decrements the counter by one.
    ///
    /// Raises:
    ///     NegativeCounterError: the counter is already zero.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.add()
    ///     >>> wg.done()
    ///     >>> wg.count
    ///     0
    fn done(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.done().map_err(|e| to_pyerr(py, &e))
    }

    /// A new C handle (``gogroup_wait_group *``, as an ``int``) to this same counter, for C
    /// code linked against ``libgogroup`` — or any other copy of gogroup in the process: its
    /// threads can ``add``/``done``/``wait``, and ``done()`` there resolves ``wait()`` and
    /// ``await wait_async()`` here. Each call makes a new handle that the caller owns and
    /// releases exactly once with ``gogroup_wait_group_free`` (from any copy). See
    /// ``examples/cross-runtime``.
    ///
    /// Example:
    ///     >>> import ctypes, gogroup
    ///     >>> lib = ctypes.CDLL(gogroup._gogroup.__file__)  # this module exports the C API too
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.add(1)
    ///     >>> h = ctypes.c_void_p(wg.c_handle())
    ///     >>> lib.gogroup_wait_group_done(h)  # GOGROUP_RESULT_OK
    ///     0
    ///     >>> wg.wait(timeout=10)
    ///     True
    ///     >>> lib.gogroup_wait_group_free.restype = None  # returns void
    ///     >>> lib.gogroup_wait_group_free(h)
    fn c_handle(&self) -> usize {
        gogroup_ffi::wait_group_into_c(self.inner.clone()) as usize
    }

    /// The current counter.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.add(3)
    ///     >>> wg.count
    ///     3
    #[getter]
    fn count(&self) -> usize {
        self.inner.count()
    }

    /// Runs ``fn(*args, **kwargs)`` on a gogroup pool thread (holding the GIL while it runs),
    /// counted by this group.
    ///
    /// The counter is incremented before ``go`` returns. If ``fn`` raises, the counter is still
    /// released, and the exception — the same object — is re-raised by the next ``wait()``
    /// (or ``wait_async()``), once. Exceptions of other tasks of the same round go to
    /// ``sys.unraisablehook``.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.go(int, "not a number")
    ///     >>> try:
    ///     ...     wg.wait()
    ///     ... except ValueError as e:
    ///     ...     print("task failed:", e)
    ///     task failed: invalid literal for int() with base 10: 'not a number'
    #[pyo3(signature = (fn_, /, *args, **kwargs))]
    fn go(
        &self,
        py: Python<'_>,
        fn_: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<()> {
        if task::is_coroutine_function(fn_.bind(py))? {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "WaitGroup.go runs plain callables on threads; run an async def function with \
                 ErrGroup.go, or count it with add() and done()",
            ));
        }
        let task = Task::new(fn_, args, kwargs);
        self.inner.go(move || task.run_for_wait_group());
        task::after_submit(py);
        Ok(())
    }

    /// Blocks until the counter is zero, releasing the GIL; Ctrl-C interrupts it.
    ///
    /// Args:
    ///     timeout: seconds to wait at most (``None``: no limit).
    ///     token: a ``CancelToken`` that ends the wait early.
    ///
    /// Returns:
    ///     True when the counter is zero, False if the timeout passed first.
    ///
    /// Raises:
    ///     the exception of a failed ``go`` task (the same object), and the token's cause
    ///     (``Canceled`` unless ``cancel`` got one) if the token was cancelled first.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> wg = gogroup.WaitGroup()
    ///     >>> wg.add()
    ///     >>> wg.wait(timeout=0.01)
    ///     False
    #[pyo3(signature = (timeout=None, token=None))]
    fn wait(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        token: Option<PyRef<'_, CancelToken>>,
    ) -> PyResult<bool> {
        let timeout = timeout_arg(py, timeout)?;
        let inner = &self.inner;
        let token = token.as_ref().map(|t| &t.inner);
        // Zero already: no need to let go of the GIL (a captured exception still comes out).
        let fast = if inner.count() == 0 {
            Some(catching(|| Ok(inner.wait_timeout(Duration::ZERO))))
        } else {
            None
        };
        let step = |slice: Duration| -> Option<Step> {
            let r = catching(|| match token {
                None => Ok(inner.wait_timeout(slice)),
                Some(t) => {
                    // A child of the caller's token that also fires at the end of the slice.
                    let bounded = t.with_timeout(slice);
                    match inner.wait_cancellable(&bounded) {
                        Ok(()) => Ok(true),
                        Err(_) if t.is_cancelled() => {
                            Err(t.cause().unwrap_or_else(gogroup::Error::canceled))
                        }
                        Err(_) => Ok(false),
                    }
                }
            });
            match r {
                Step::Outcome(Ok(false)) => None,
                other => Some(other),
            }
        };
        let outcome = match fast {
            Some(Step::Outcome(Ok(false))) | None => sliced(py, timeout, step)?,
            some => some,
        };
        match outcome {
            None => Ok(false),
            Some(Step::Outcome(Ok(done))) => Ok(done),
            Some(Step::Outcome(Err(e))) => Err(to_pyerr(py, &e)),
            Some(Step::Panicked(p)) => Err(panic_to_pyerr(py, p)),
        }
    }

    /// An ``asyncio.Future`` that completes when the counter is zero. Never blocks the loop;
    /// cancelling the awaiting task leaves nothing registered.
    ///
    /// Raises (when awaited):
    ///     the exception of a failed ``go`` task (the same object).
    ///
    /// Example:
    ///     >>> import asyncio, gogroup
    ///     >>> async def main():
    ///     ...     wg = gogroup.WaitGroup()
    ///     ...     wg.go(sum, [1, 2])
    ///     ...     await wg.wait_async()
    ///     ...     return wg.count
    ///     >>> asyncio.run(main())
    ///     0
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.inner.wait_async();
        aio::to_asyncio(py, fut, |py, (), _| Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        format!("<gogroup.WaitGroup count={}>", self.inner.count())
    }
}

/// One slice's result: core's outcome, or the panic core resumed (a task's exception).
enum Step {
    Outcome(gogroup::Result<bool>),
    Panicked(Box<dyn std::any::Any + Send>),
}

fn catching(f: impl FnOnce() -> gogroup::Result<bool>) -> Step {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Step::Outcome(r),
        Err(p) => Step::Panicked(p),
    }
}
