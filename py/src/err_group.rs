//! `gogroup.ErrGroup`: core's [`ErrGroup`](gogroup::ErrGroup) for Python.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use gogroup::{Collect, Error, ErrorKind};
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use crate::aio;
use crate::cancel_token::CancelToken;
use crate::errors::{PyPayload, exception_group, from_pyobj, invalid_argument, to_pyerr, to_pyobj};
use crate::task::{self, Task};
use crate::time::{sliced, timeout_arg};

/// A group of tasks that fail together (Go's ``errgroup.Group``).
///
/// ``go(fn)`` runs ``fn`` on gogroup's pool; ``wait()`` waits for every task and raises the
/// first exception (the very object the task raised). With ``token=`` (Go's ``WithContext``)
/// the group's own token is a child of it, cancelled by the first failure, with that exception
/// as its cause, and when ``wait`` returns. Tasks reach the group's token as ``group.token``.
///
/// Args:
///     token: parent token; enables cancel-on-first-error (default: no cancellation on error,
///         like Go's zero ``Group``).
///     limit: at most this many tasks active at once (``None``: no limit; 0: none may start).
///     collect: ``"first"`` (Go's rule) or ``"all"``: ``wait`` then raises an
///         ``ExceptionGroup`` of every failure, in finishing order (Python 3.11+).
///
/// Example:
///     >>> import gogroup
///     >>> def fetch(url):
///     ...     if "bad" in url:
///     ...         raise ConnectionError(url)
///     >>> g = gogroup.ErrGroup(token=gogroup.CancelToken(), limit=4)
///     >>> for url in ["a", "bad", "c"]:
///     ...     g.go(fetch, url)
///     >>> try:
///     ...     g.wait()
///     ... except ConnectionError as e:
///     ...     print("failed:", e, "| cause is the same:", g.token.cause is e)
///     failed: bad | cause is the same: True
#[pyclass(module = "gogroup._gogroup", frozen, weakref)]
pub(crate) struct ErrGroup {
    inner: gogroup::ErrGroup,
    token: Py<CancelToken>,
    collect_all: bool,
}

#[pymethods]
impl ErrGroup {
    #[new]
    #[pyo3(signature = (token=None, limit=None, collect="first"))]
    fn new(
        py: Python<'_>,
        token: Option<PyRef<'_, CancelToken>>,
        limit: Option<i64>,
        collect: &str,
    ) -> PyResult<ErrGroup> {
        let mode = match collect {
            "first" => Collect::First,
            "all" => Collect::All,
            other => {
                return Err(invalid_argument(
                    py,
                    format!("collect must be \"first\" or \"all\", not {other:?}"),
                ));
            }
        };
        let mut builder = gogroup::ErrGroup::builder().collect(mode);
        if let Some(t) = &token {
            builder = builder.token(&t.inner);
        }
        if let Some(n) = limit {
            builder = builder.limit(n);
        }
        let inner = builder.build();
        let token = Py::new(py, CancelToken::wrap(inner.token().clone()))?;
        Ok(ErrGroup {
            inner,
            token,
            collect_all: mode == Collect::All,
        })
    }

    /// The group's token: the one tasks should watch (``token.wait()``, ``is_cancelled()``,
    /// ``raise_if_cancelled()``).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(token=gogroup.CancelToken())
    ///     >>> g.go(int, "x")
    ///     >>> g.wait()
    ///     Traceback (most recent call last):
    ///     ...
    ///     ValueError: invalid literal for int() with base 10: 'x'
    ///     >>> g.token.cause
    ///     ValueError("invalid literal for int() with base 10: 'x'")
    #[getter]
    fn token(&self, py: Python<'_>) -> Py<CancelToken> {
        self.token.clone_ref(py)
    }

    /// Starts ``fn(*args, **kwargs)`` on a gogroup pool thread (holding the GIL while it
    /// runs), first waiting for a free slot if a limit is set (with the GIL released).
    ///
    /// Waiting for a slot can be interrupted with Ctrl-C (KeyboardInterrupt; ``fn`` then never
    /// runs and nothing stays taken).
    ///
    /// An ``async def`` function instead runs as an asyncio task on the running loop, in a
    /// ``TaskSlot``. ``go`` then returns at once, even when the limit is full: the task is
    /// queued, counted by ``wait`` already, and starts when a slot frees (as in
    /// ``asyncio.TaskGroup`` with a semaphore). The group's token cancelling cancels it; a task
    /// stopped that way counts as a success, and a queued one never starts.
    ///
    /// Raises:
    ///     the group token's cause if the token is cancelled while ``go`` waits for a slot
    ///     (``fn`` then never runs).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup()
    ///     >>> g.go(print, "hello from the pool")
    ///     >>> g.wait()
    ///     hello from the pool
    #[pyo3(signature = (fn_, /, *args, **kwargs))]
    fn go(
        slf: &Bound<'_, Self>,
        fn_: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<()> {
        let py = slf.py();
        if task::is_coroutine_function(fn_.bind(py))? {
            // An `async def` task runs on the running event loop, in a TaskSlot (gogroup/_aio.py).
            go_coroutine(py)?.call1((slf, fn_, args, kwargs, false))?;
            return Ok(());
        }
        let this = slf.get();
        // A free slot is taken without letting go of the GIL; on a full limit, wait for one
        // with the GIL released (the tasks holding the slots need it to finish), Ctrl-C-able.
        let slot = match this.inner.try_start() {
            Some(slot) => slot,
            None => start_interruptibly(py, &this.inner)?,
        };
        let task = Task::new(fn_, args, kwargs);
        slot.go(move |_| task.run_for_err_group());
        task::after_submit(py);
        Ok(())
    }

    /// Starts ``fn`` only if a slot is free right now.
    ///
    /// Returns:
    ///     True if started; False (``fn`` not run) if the limit is reached.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(limit=0)
    ///     >>> g.try_go(print, "never printed")
    ///     False
    #[pyo3(signature = (fn_, /, *args, **kwargs))]
    fn try_go(
        slf: &Bound<'_, Self>,
        fn_: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        if task::is_coroutine_function(fn_.bind(py))? {
            return go_coroutine(py)?
                .call1((slf, fn_, args, kwargs, true))?
                .extract();
        }
        let task = Task::new(fn_, args, kwargs);
        let started = slf.get().inner.try_go(move |_| task.run_for_err_group());
        if started {
            task::after_submit(py);
        }
        Ok(started)
    }

    /// Takes a place in the group for a task you run yourself (on your own thread, an event
    /// loop...), waiting for a free slot if a limit is set (with the GIL released). The task
    /// counts as active until ``slot.finish()``.
    ///
    /// Raises:
    ///     the group token's cause if the token is cancelled while waiting for a slot.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup()
    ///     >>> slot = g.start()
    ///     >>> g.active
    ///     1
    ///     >>> slot.finish(KeyError("done elsewhere"))
    ///     >>> g.errors()
    ///     [KeyError('done elsewhere')]
    fn start(&self, py: Python<'_>) -> PyResult<TaskSlot> {
        if let Some(slot) = self.inner.try_start() {
            return Ok(TaskSlot::wrap(slot));
        }
        start_interruptibly(py, &self.inner).map(TaskSlot::wrap)
    }

    /// Like ``start()``, only if a slot is free right now.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(limit=1)
    ///     >>> slot = g.try_start()
    ///     >>> g.try_start() is None
    ///     True
    ///     >>> slot.finish()
    fn try_start(&self) -> Option<TaskSlot> {
        self.inner.try_start().map(TaskSlot::wrap)
    }

    /// Like ``start()``, as an ``asyncio.Future``: waiting for a slot never blocks the loop;
    /// cancelling the awaiting task gives up the wait and takes no slot.
    ///
    /// Example:
    ///     >>> import asyncio, gogroup
    ///     >>> async def main():
    ///     ...     g = gogroup.ErrGroup(limit=1)
    ///     ...     slot = await g.start_async()
    ///     ...     slot.finish()
    ///     ...     await g.wait_async()
    ///     ...     return g.active
    ///     >>> asyncio.run(main())
    ///     0
    fn start_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        aio::to_asyncio(py, self.inner.start_async(), slot_for_python)
    }

    /// ``start_async()`` for a task that ``wait`` counts from this call on (core's
    /// ``start_queued``): how ``go(async_fn)`` queues on a full limit. Private: used by
    /// ``gogroup._aio``.
    fn _start_queued<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        aio::to_asyncio(py, self.inner.start_queued(), slot_for_python)
    }

    /// Limits the active tasks to ``n`` (``None`` or negative: no limit; 0: none may start).
    ///
    /// Raises:
    ///     LimitInUseError: a task is active (setting the current value is always allowed).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup()
    ///     >>> g.set_limit(4)
    ///     >>> g.limit
    ///     4
    fn set_limit(&self, py: Python<'_>, n: Option<i64>) -> PyResult<()> {
        self.inner
            .set_limit(n.unwrap_or(-1))
            .map_err(|e| to_pyerr(py, &e))
    }

    /// The current limit (``None``: no limit).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> gogroup.ErrGroup().limit is None, gogroup.ErrGroup(limit=3).limit
    ///     (True, 3)
    #[getter]
    fn limit(&self) -> Option<u64> {
        self.inner.limit()
    }

    /// Tasks started and not yet finished (the number the limit bounds).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup()
    ///     >>> g.go(g.token.wait)
    ///     >>> g.active
    ///     1
    ///     >>> g.shutdown(grace=10)
    ///     0
    #[getter]
    fn active(&self) -> usize {
        self.inner.active()
    }

    /// Waits for every task (releasing the GIL; Ctrl-C interrupts it), then raises the first
    /// task exception, if any — the same object the task raised.
    ///
    /// With ``token=``, the group's token is cancelled when ``wait`` returns (Go's rule).
    ///
    /// Args:
    ///     timeout: seconds to wait at most (``None``: no limit).
    ///
    /// Raises:
    ///     the first task exception; with ``collect="all"`` an ``ExceptionGroup`` of all of
    ///     them (before 3.11: the first one, see ``errors()``); ``WaitTimeoutError`` if tasks
    ///     still run after ``timeout`` (nothing is cancelled then).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(collect="all")
    ///     >>> g.go(int, "x")
    ///     >>> g.go(int, "y")
    ///     >>> try:
    ///     ...     g.wait()
    ///     ... except* ValueError as eg:
    ///     ...     print(len(eg.exceptions), "tasks failed")
    ///     2 tasks failed
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = timeout_arg(py, timeout)?;
        let inner = &self.inner;
        if inner.active() == 0 {
            // Probably finished: try without letting go of the GIL.
            match inner.wait_until(Some(Instant::now()), None) {
                Err(e) if e.kind() == ErrorKind::Timeout => {}
                other => return self.result(py, other),
            }
        }
        let step = |slice: Duration| match inner.wait_until(Instant::now().checked_add(slice), None)
        {
            // Only the slice ends with Timeout: task errors are Custom (or Panic).
            Err(e) if e.kind() == ErrorKind::Timeout => None,
            other => Some(other),
        };
        match sliced(py, timeout, step)? {
            Some(r) => self.result(py, r),
            None => Err(to_pyerr(
                py,
                &Error::new(ErrorKind::Timeout, "tasks still running after the timeout"),
            )),
        }
    }

    /// An ``asyncio.Future`` resolving as ``wait()`` returns. Never blocks the loop;
    /// cancelling the awaiting task leaves nothing registered (the tasks keep running).
    ///
    /// Example:
    ///     >>> import asyncio, gogroup
    ///     >>> async def main():
    ///     ...     g = gogroup.ErrGroup()
    ///     ...     g.go(sum, [1, 2])
    ///     ...     await g.wait_async()
    ///     ...     return "all done"
    ///     >>> asyncio.run(main())
    ///     'all done'
    fn wait_async<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.clone().unbind();
        let fut = slf.get().inner.wait_async();
        aio::to_asyncio(slf.py(), fut, move |py, outcome, _| {
            me.get().result(py, outcome)?;
            Ok(py.None())
        })
    }

    /// The recorded task exceptions, in finishing order (every one with ``collect="all"``,
    /// at most the first otherwise).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(collect="all")
    ///     >>> g.go(int, "x")
    ///     >>> g.wait(timeout=10)
    ///     Traceback (most recent call last):
    ///     ...
    ///     ExceptionGroup: 1 task of the group failed (1 sub-exception)
    ///     >>> g.errors()
    ///     [ValueError("invalid literal for int() with base 10: 'x'")]
    fn errors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.inner
            .errors()
            .iter()
            .map(|e| to_pyobj(py, e))
            .collect()
    }

    /// Cancels the group's token (with ``cause``, else ``Canceled``), waits at most ``grace``
    /// seconds for the tasks, and returns how many still run (0: all stopped).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup()
    ///     >>> g.go(g.token.wait)
    ///     >>> g.shutdown(grace=10)
    ///     0
    #[pyo3(signature = (grace, cause=None))]
    fn shutdown(
        &self,
        py: Python<'_>,
        grace: f64,
        cause: Option<Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let cause = cause.map(|c| from_pyobj(py, c.unbind()));
        let grace = timeout_arg(py, Some(grace))?;
        let inner = &self.inner;
        // Repeated in slices for Ctrl-C; the first call's cause wins, later cancels are no-ops.
        let step = |slice: Duration| match inner.shutdown(cause.clone(), slice) {
            0 => Some(0),
            _ => None,
        };
        match sliced(py, grace, step)? {
            Some(n) => Ok(n),
            None => Ok(inner.shutdown(None, Duration::ZERO)),
        }
    }

    /// ``with ErrGroup() as g:`` waits for the tasks on exit (see ``__exit__``).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> with gogroup.ErrGroup() as g:
    ///     ...     g.go(print, "in a task")
    ///     in a task
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Waits for the tasks. If the body raised, the group's token is cancelled first (with
    /// the body's exception as cause), task failures are not raised, and the body's exception
    /// propagates.
    #[pyo3(signature = (_exc_type, exc, _tb))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match exc {
            None => self.wait(py, None).map(|()| false),
            Some(body) => {
                self.inner
                    .token()
                    .cancel_with(from_pyobj(py, body.unbind()));
                match self.wait(py, None) {
                    Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => {
                        Err(e)
                    }
                    _ => Ok(false),
                }
            }
        }
    }

    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let fut = py
            .import("asyncio")?
            .call_method0("get_running_loop")?
            .call_method0("create_future")?;
        fut.call_method1("set_result", (slf,))?;
        Ok(fut)
    }

    /// Like ``__exit__``, awaiting with ``wait_async()``.
    #[pyo3(signature = (_exc_type, exc, _tb))]
    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        _exc_type: Option<Bound<'py, PyAny>>,
        exc: Option<Bound<'py, PyAny>>,
        _tb: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.clone().unbind();
        let fut = slf.get().inner.wait_async();
        let body_raised = exc.is_some();
        if let Some(body) = exc {
            slf.get()
                .inner
                .token()
                .cancel_with(from_pyobj(py, body.unbind()));
        }
        aio::to_asyncio(py, fut, move |py, outcome, _| {
            if !body_raised {
                me.get().result(py, outcome)?;
            }
            Ok(false.into_pyobject(py)?.to_owned().into_any().unbind())
        })
    }

    /// Tells the garbage collector about the task exceptions the group keeps: an exception
    /// whose traceback holds a frame that holds the group is a cycle through Rust.
    ///
    /// Only the group reports them (never a token whose cause is the same exception), so each
    /// reference is reported once. No `__clear__`: the frames and tracebacks of such a cycle
    /// clear themselves, which frees the group, which frees the exceptions.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for e in self.inner.errors() {
            if let Some(PyPayload(obj)) = e.downcast_ref::<PyPayload>() {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<gogroup.ErrGroup active={} limit={:?}>",
            self.inner.active(),
            self.inner.limit()
        )
    }
}

/// What an awaited `start_async`/`_start_queued` gives Python: the slot, or the cause; a slot
/// that nobody awaits any more is given back unused.
fn slot_for_python(
    py: Python<'_>,
    started: gogroup::Result<gogroup::TaskSlot>,
    pending: bool,
) -> PyResult<Py<PyAny>> {
    let slot = started.map_err(|e| to_pyerr(py, &e))?;
    if !pending {
        slot.finish(Ok(()));
        return Ok(py.None());
    }
    Ok(Py::new(py, TaskSlot::wrap(slot))?.into_any())
}

/// Waits for a slot of a full limit in slices with the GIL released, checking for Ctrl-C
/// between them (core's `start_until`): KeyboardInterrupt leaves nothing taken or counted.
fn start_interruptibly(py: Python<'_>, inner: &gogroup::ErrGroup) -> PyResult<gogroup::TaskSlot> {
    let step = |slice: Duration| match inner.start_until(Instant::now().checked_add(slice), None) {
        Err(e) if e.kind() == ErrorKind::Timeout => None,
        other => Some(other),
    };
    match sliced(py, None, step)? {
        Some(started) => started.map_err(|e| to_pyerr(py, &e)),
        // `sliced` without a timeout only returns with a value or an error.
        None => Err(to_pyerr(
            py,
            &Error::new(ErrorKind::Timeout, "no free slot"),
        )),
    }
}

/// `gogroup._aio._go_coroutine`, looked up once.
fn go_coroutine(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static FUNCTION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    FUNCTION
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("gogroup._aio")?
                    .getattr("_go_coroutine")?
                    .unbind(),
            )
        })
        .map(|f| f.bind(py))
}

impl ErrGroup {
    /// Translates what core's wait returned.
    fn result(&self, py: Python<'_>, r: gogroup::Result<()>) -> PyResult<()> {
        let Err(first) = r else {
            return Ok(());
        };
        if self.collect_all {
            let errors = self.inner.errors();
            let n = errors.len();
            let message = if n == 1 {
                "1 task of the group failed".to_owned()
            } else {
                format!("{n} tasks of the group failed")
            };
            if let Some(group) = exception_group(py, &message, &errors)? {
                return Err(group);
            }
        }
        Err(to_pyerr(py, &first))
    }
}

/// A task's place in an ``ErrGroup``, for a task that runs outside gogroup's pool (made by
/// ``ErrGroup.start()``, ``try_start()`` or ``start_async()``). It counts as active, for
/// ``wait`` and for the limit, until ``finish()``. A slot garbage-collected unfinished
/// finishes with a ``PanicError`` ("task abandoned"), so no outcome is ever lost.
///
/// Example:
///     >>> import gogroup, threading
///     >>> g = gogroup.ErrGroup()
///     >>> slot = g.start()
///     >>> threading.Thread(target=slot.finish).start()
///     >>> g.wait()
#[pyclass(module = "gogroup._gogroup", frozen)]
pub(crate) struct TaskSlot {
    inner: Mutex<Option<gogroup::TaskSlot>>,
}

impl TaskSlot {
    fn wrap(slot: gogroup::TaskSlot) -> TaskSlot {
        TaskSlot {
            inner: Mutex::new(Some(slot)),
        }
    }
}

#[pymethods]
impl TaskSlot {
    /// Reports the task's outcome: ``None`` for success, else the exception (recorded by the
    /// group's rules; the same object comes out of ``wait``). Later calls do nothing.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> g = gogroup.ErrGroup(token=gogroup.CancelToken())
    ///     >>> boom = ValueError("boom")
    ///     >>> g.start().finish(boom)
    ///     >>> g.token.cause is boom
    ///     True
    #[pyo3(signature = (exc=None))]
    fn finish(&self, py: Python<'_>, exc: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let outcome = match exc {
            None => Ok(()),
            Some(e) if e.is_instance_of::<pyo3::exceptions::PyBaseException>() => {
                Err(from_pyobj(py, e.unbind()))
            }
            Some(other) => {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "finish() takes an exception or None, not {}",
                    other.get_type().name()?
                )));
            }
        };
        let slot = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(slot) = slot {
            slot.finish(outcome);
        }
        Ok(())
    }

    fn __repr__(&self) -> &'static str {
        match self.inner.lock().map(|s| s.is_some()) {
            Ok(true) => "<gogroup.TaskSlot active>",
            _ => "<gogroup.TaskSlot finished>",
        }
    }
}
