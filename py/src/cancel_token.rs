//! `gogroup.CancelToken`: core's [`CancelToken`](gogroup::CancelToken) for Python.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};

use gogroup::{Error, ErrorKind};
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::aio;
use crate::errors::{PyPayload, from_pyobj, to_pyerr, to_pyobj};
use crate::time::{instant_from_monotonic, monotonic_from_instant, sliced, timeout_arg};

/// A cancellation signal shared by threads, asyncio tasks and other runtimes (Go's
/// ``context`` without values).
///
/// Tokens form a tree: cancelling one cancels its descendants before ``cancel`` returns, never
/// its parent. The first cancellation wins and records an ``err`` (``Canceled`` or
/// ``DeadlineExceeded``) and a ``cause`` (the exception given to ``cancel``, else the err).
///
/// Example:
///     >>> import gogroup
///     >>> root = gogroup.CancelToken()
///     >>> child = root.child()
///     >>> root.cancel()
///     True
///     >>> child.is_cancelled()
///     True
///     >>> type(child.err).__name__
///     'Canceled'
#[pyclass(module = "gogroup._gogroup", frozen)]
pub(crate) struct CancelToken {
    pub(crate) inner: gogroup::CancelToken,
    /// The readable-once-cancelled descriptor, created by the first `fileno()`.
    wake_fd: OnceLock<WakeFd>,
}

struct WakeFd {
    fd: Arc<OwnedFd>,
    registration: gogroup::Registration,
}

impl Drop for WakeFd {
    fn drop(&mut self) {
        // The callback (which holds the other `Arc`) goes with the registration.
        self.registration.stop();
    }
}

impl CancelToken {
    pub(crate) fn wrap(inner: gogroup::CancelToken) -> CancelToken {
        CancelToken {
            inner,
            wake_fd: OnceLock::new(),
        }
    }
}

/// An `on_cancel` registration (Go's ``AfterFunc`` stop function).
///
/// Example:
///     >>> import gogroup
///     >>> token = gogroup.CancelToken()
///     >>> reg = token.on_cancel(print)
///     >>> reg.stop()
///     True
///     >>> reg.stop()
///     False
#[pyclass(module = "gogroup._gogroup", frozen)]
pub(crate) struct Registration {
    inner: gogroup::Registration,
}

#[pymethods]
impl Registration {
    /// Unregisters the callback.
    ///
    /// Returns:
    ///     True if this prevented the callback from running; False if it already started,
    ///     ran, or was stopped before.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken()
    ///     >>> token.on_cancel(lambda cause: None).stop()
    ///     True
    fn stop(&self) -> bool {
        self.inner.stop()
    }

    fn __repr__(&self) -> &'static str {
        "<gogroup.Registration>"
    }
}

fn eventfd() -> std::io::Result<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall; the result is checked before it is owned.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    #[cfg(not(target_os = "linux"))]
    {
        compile_error!("gogroup-py's CancelToken.fileno() needs eventfd (Linux)");
    }
}

fn signal_fd(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd this callback keeps open.
    let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

#[pymethods]
impl CancelToken {
    /// Tells the garbage collector about the cause this token holds, when this object alone
    /// reaches it (core's `sole_cause`): `token.cancel(exc)` inside a function whose frame
    /// holds `token` makes a cycle token → exc → traceback → frame → token through Rust, which
    /// the collector could not see. A cause shared with anything else is never reported.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(cause) = self.inner.sole_cause()
            && let Some(PyPayload(obj)) = cause.downcast_ref::<PyPayload>()
        {
            visit.call(obj)?;
        }
        Ok(())
    }

    /// A new root token, cancelled only when you cancel it.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> gogroup.CancelToken().is_cancelled()
    ///     False
    #[new]
    fn new() -> CancelToken {
        CancelToken::wrap(gogroup::CancelToken::new())
    }

    /// Cancels this token and, before returning, all its descendants.
    ///
    /// Args:
    ///     cause: the exception recorded as ``cause`` (the same object comes back out of
    ///         ``token.cause`` and of waits that the cancellation ends). Default: the err,
    ///         ``Canceled``.
    ///
    /// Returns:
    ///     True if this call cancelled the token, False if it already was (the first wins).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken()
    ///     >>> why = RuntimeError("shutting down")
    ///     >>> token.cancel(cause=why)
    ///     True
    ///     >>> token.cause is why
    ///     True
    ///     >>> token.cancel()
    ///     False
    #[pyo3(signature = (cause=None))]
    fn cancel(&self, py: Python<'_>, cause: Option<Bound<'_, PyAny>>) -> PyResult<bool> {
        Ok(match cause {
            None => self.inner.cancel(),
            Some(c) => self.inner.cancel_with(cause_arg(py, c)?),
        })
    }

    /// Whether the token is cancelled (one atomic load).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> gogroup.CancelToken().is_cancelled()
    ///     False
    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// ``None`` while live; then the cause: the exception given to ``cancel`` (the same
    /// object), else the err.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken()
    ///     >>> token.cause is None
    ///     True
    ///     >>> _ = token.cancel(ValueError("bad input"))
    ///     >>> token.cause
    ///     ValueError('bad input')
    #[getter]
    fn cause(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner.cause().map(|e| to_pyobj(py, &e))
    }

    /// ``None`` while live; then a ``Canceled`` or ``DeadlineExceeded`` instance, never
    /// anything else (Go's ``ctx.Err()``).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken().with_timeout(0)
    ///     >>> isinstance(token.err, gogroup.DeadlineExceeded)
    ///     True
    #[getter]
    fn err(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner.err().map(|e| to_pyobj(py, &e))
    }

    /// The effective deadline on ``time.monotonic()``'s clock (this token's or an ancestor's,
    /// the earliest), or ``None``.
    ///
    /// Example:
    ///     >>> import gogroup, time
    ///     >>> token = gogroup.CancelToken().with_timeout(60)
    ///     >>> 59 < token.deadline - time.monotonic() <= 60
    ///     True
    #[getter]
    fn deadline(&self) -> Option<f64> {
        self.inner.deadline().map(monotonic_from_instant)
    }

    /// A child token: cancelled with this one, cancellable on its own.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> parent = gogroup.CancelToken()
    ///     >>> child = parent.child()
    ///     >>> child.cancel()
    ///     True
    ///     >>> parent.is_cancelled()
    ///     False
    fn child(&self) -> CancelToken {
        CancelToken::wrap(self.inner.child())
    }

    /// A child token cancelled with ``DeadlineExceeded`` after ``seconds`` (Go's
    /// ``WithTimeout``).
    ///
    /// Args:
    ///     seconds: the delay; zero or negative gives a token that is already cancelled.
    ///     cause: recorded as the cause if the deadline fires (Go's ``WithTimeoutCause``).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken().with_timeout(0.01)
    ///     >>> token.wait(timeout=10)
    ///     True
    ///     >>> type(token.err).__name__
    ///     'DeadlineExceeded'
    #[pyo3(signature = (seconds, cause=None))]
    fn with_timeout(
        &self,
        py: Python<'_>,
        seconds: f64,
        cause: Option<Bound<'_, PyAny>>,
    ) -> PyResult<CancelToken> {
        let cause = cause.map(|c| cause_arg(py, c)).transpose()?;
        Ok(CancelToken::wrap(match timeout_arg(py, Some(seconds))? {
            None => self.inner.child(),
            Some(d) => match cause {
                None => self.inner.with_timeout(d),
                Some(c) => self.inner.with_timeout_cause(d, c),
            },
        }))
    }

    /// A child token cancelled with ``DeadlineExceeded`` at ``deadline``, a
    /// ``time.monotonic()`` value (Go's ``WithDeadline``).
    ///
    /// Example:
    ///     >>> import gogroup, time
    ///     >>> gogroup.CancelToken().with_deadline(time.monotonic() - 1).is_cancelled()
    ///     True
    #[pyo3(signature = (deadline, cause=None))]
    fn with_deadline(
        &self,
        py: Python<'_>,
        deadline: f64,
        cause: Option<Bound<'_, PyAny>>,
    ) -> PyResult<CancelToken> {
        let cause = cause.map(|c| cause_arg(py, c)).transpose()?;
        Ok(CancelToken::wrap(
            match instant_from_monotonic(py, deadline)? {
                None => self.inner.child(),
                Some(at) => match cause {
                    None => self.inner.with_deadline(at),
                    Some(c) => self.inner.with_deadline_cause(at, c),
                },
            },
        ))
    }

    /// A token cancelled as soon as any of ``tokens`` is, with that token's err and cause.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> a, b = gogroup.CancelToken(), gogroup.CancelToken()
    ///     >>> either = gogroup.CancelToken.any(a, b)
    ///     >>> _ = b.cancel(KeyError("b"))
    ///     >>> either.cause
    ///     KeyError('b')
    #[staticmethod]
    #[pyo3(signature = (*tokens))]
    fn any(tokens: &Bound<'_, PyTuple>) -> PyResult<CancelToken> {
        let refs: Vec<PyRef<'_, CancelToken>> = tokens
            .iter()
            .map(|t| t.extract::<PyRef<'_, CancelToken>>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        Ok(CancelToken::wrap(gogroup::CancelToken::any(
            refs.iter().map(|r| &r.inner),
        )))
    }

    /// Calls ``fn(cause)`` on a gogroup pool thread (holding the GIL) once the token is
    /// cancelled, at once if it already is (Go's ``AfterFunc``). An exception raised by ``fn``
    /// goes to ``sys.unraisablehook``.
    ///
    /// Returns:
    ///     a ``Registration``; ``stop()`` unregisters ``fn``.
    ///
    /// Example:
    ///     >>> import gogroup, queue
    ///     >>> token, seen = gogroup.CancelToken(), queue.Queue()
    ///     >>> _ = token.on_cancel(seen.put)
    ///     >>> _ = token.cancel(OSError("disk gone"))
    ///     >>> seen.get(timeout=10)
    ///     OSError('disk gone')
    fn on_cancel(&self, callback: Py<PyAny>) -> Registration {
        let inner = self.inner.on_cancel(move |cause| {
            let _ = crate::task::attach(|py| {
                let cause = to_pyobj(py, &cause);
                if let Err(err) = callback.call1(py, (cause,)) {
                    err.write_unraisable(py, Some(callback.bind(py)));
                }
                drop(callback);
            });
        });
        Registration { inner }
    }

    /// Blocks until the token is cancelled, releasing the GIL; Ctrl-C interrupts it.
    ///
    /// Args:
    ///     timeout: seconds to wait at most (``None``: no limit).
    ///
    /// Returns:
    ///     True if the token is cancelled, False if the timeout passed first.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> gogroup.CancelToken().wait(timeout=0.01)
    ///     False
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.inner.is_cancelled() {
            return Ok(true);
        }
        let timeout = timeout_arg(py, timeout)?;
        let inner = &self.inner;
        Ok(sliced(py, timeout, |slice| inner.wait_timeout(slice).then_some(()))?.is_some())
    }

    /// An ``asyncio.Future`` that completes when the token is cancelled. Never blocks the
    /// loop; cancelling the awaiting task leaves nothing registered.
    ///
    /// Example:
    ///     >>> import asyncio, gogroup
    ///     >>> async def main():
    ///     ...     token = gogroup.CancelToken().with_timeout(0.01)
    ///     ...     await token.wait_async()
    ///     ...     return token.is_cancelled()
    ///     >>> asyncio.run(main())
    ///     True
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.inner.wait_async();
        aio::to_asyncio(py, fut, |py, (), _| Ok(py.None()))
    }

    /// Raises if the token is cancelled: the err (``Canceled`` or ``DeadlineExceeded``), with
    /// the cause as its ``__cause__`` when the cause is another exception.
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> token = gogroup.CancelToken()
    ///     >>> token.raise_if_cancelled()
    ///     >>> _ = token.cancel(ValueError("stop"))
    ///     >>> try:
    ///     ...     token.raise_if_cancelled()
    ///     ... except gogroup.Canceled as e:
    ///     ...     print(repr(e.__cause__))
    ///     ValueError('stop')
    fn raise_if_cancelled(&self, py: Python<'_>) -> PyResult<()> {
        let Some(err) = self.inner.err() else {
            return Ok(());
        };
        let pyerr = to_pyerr(py, &err);
        if let Some(cause) = self.inner.cause()
            && !Error::ptr_eq(&cause, &err)
            && cause.kind() == ErrorKind::Custom
        {
            pyerr.set_cause(
                py,
                Some(PyErr::from_value(to_pyobj(py, &cause).into_bound(py))),
            );
        }
        Err(pyerr)
    }

    /// A new C handle (``gogroup_cancel_token *``, as an ``int``) to this same token, for C code
    /// linked against ``libgogroup`` — or any other copy of gogroup in the process: its
    /// threads can wait on it, poll it and cancel it, and a cancel on either side is seen on
    /// the other. Each call makes a new handle that the caller owns and releases exactly once
    /// with ``gogroup_cancel_token_free`` (from any copy). See ``examples/cross-runtime``.
    ///
    /// Example:
    ///     >>> import ctypes, gogroup
    ///     >>> lib = ctypes.CDLL(gogroup._gogroup.__file__)  # this module exports the C API too
    ///     >>> token = gogroup.CancelToken()
    ///     >>> h = ctypes.c_void_p(token.c_handle())
    ///     >>> lib.gogroup_cancel_token_cancel(h)  # GOGROUP_RESULT_OK
    ///     0
    ///     >>> token.is_cancelled()
    ///     True
    ///     >>> lib.gogroup_cancel_token_free.restype = None  # returns void
    ///     >>> lib.gogroup_cancel_token_free(h)
    fn c_handle(&self) -> usize {
        gogroup_ffi::cancel_token_into_c(self.inner.clone()) as usize
    }

    /// A file descriptor that becomes readable when the token is cancelled, for ``selectors``,
    /// ``select`` and ``loop.add_reader``. Owned by this object (closed with it): poll it, do
    /// not read or close it.
    ///
    /// Example:
    ///     >>> import gogroup, select
    ///     >>> token = gogroup.CancelToken()
    ///     >>> select.select([token], [], [], 0)[0]
    ///     []
    ///     >>> _ = token.cancel()
    ///     >>> select.select([token], [], [], 10)[0] == [token]
    ///     True
    fn fileno(&self, py: Python<'_>) -> PyResult<RawFd> {
        if let Some(w) = self.wake_fd.get() {
            return Ok(w.fd.as_raw_fd());
        }
        let _ = py;
        let fd = Arc::new(eventfd()?);
        let raw = fd.as_raw_fd();
        let keep = fd.clone();
        let registration = self.inner.on_cancel_inline(move |_| {
            signal_fd(keep.as_raw_fd());
        });
        let made = WakeFd { fd, registration };
        // Two threads racing here: the loser's registration is stopped by its Drop.
        let _ = self.wake_fd.set(made);
        Ok(self.wake_fd.get().map_or(raw, |w| w.fd.as_raw_fd()))
    }

    /// Child tokens and callbacks registered on this token (a diagnostic).
    ///
    /// Example:
    ///     >>> import gogroup
    ///     >>> t = gogroup.CancelToken()
    ///     >>> c = t.child()
    ///     >>> t.dependents()
    ///     1
    fn dependents(&self) -> usize {
        self.inner.dependents()
    }

    fn __repr__(&self) -> String {
        let state = if self.inner.is_cancelled() {
            "cancelled"
        } else {
            "live"
        };
        format!("<gogroup.CancelToken {state}>")
    }
}

/// A `cause=` argument: an exception instance, carried through core as itself.
fn cause_arg(py: Python<'_>, cause: Bound<'_, PyAny>) -> PyResult<Error> {
    if !cause.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "cause must be an exception instance, not {}",
            cause.get_type().name()?
        )));
    }
    Ok(from_pyobj(py, cause.unbind()))
}
