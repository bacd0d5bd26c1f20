//! The one mapping between core's error vocabulary and Python exceptions (STYLE §3).
//!
//! * A core [`Error`] whose payload is a [`PyPayload`] is a Python exception that travelled
//!   through core (a task's exception, a `cancel(cause=...)`): it comes back out as **the same
//!   object**, traceback and all.
//! * Any other core error becomes an instance of the class that `gogroup._errors` defines for
//!   its [`ErrorKind`] (`NegativeCounterError`, `Canceled`, ...). [`class_name`] is the table;
//!   `tests/test_errors.py` walks `ErrorKind::ALL` through it and fails on the fallback.
//! * A Python exception raised by a task becomes a core [`ErrorKind::Custom`] error carrying the
//!   exception object ([`from_pyerr`]), so core decides what happens to it (first error, token
//!   cause, collect-all) without ever looking inside.
//! * A Rust panic (a bug) becomes `PanicError`, never pyo3's `PanicException`.

use std::any::Any;

use gogroup::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyString};

/// A Python object carried through core as an [`Error`] payload (core never looks inside).
pub(crate) struct PyPayload(pub(crate) Py<PyAny>);

/// A Python exception raised by a `WaitGroup.go` task, carried through core as the task's
/// *panic* (core's rule: the first one is resumed by the next `wait`, once).
///
/// Core keeps only the first; if it drops this one (a second failing task, or a group dropped
/// before anyone waited), `Drop` reports the exception to `sys.unraisablehook`, so it is never
/// silently lost.
pub(crate) struct TaskException(Option<Py<PyAny>>);

impl TaskException {
    pub(crate) fn new(exc: Py<PyAny>) -> TaskException {
        TaskException(Some(exc))
    }
}

impl Drop for TaskException {
    fn drop(&mut self) {
        if let Some(exc) = self.0.take() {
            let _ = crate::task::attach(|py| {
                let context = PyString::new(
                    py,
                    "exception in a gogroup WaitGroup.go task that no wait() re-raised",
                );
                PyErr::from_value(exc.into_bound(py)).write_unraisable(py, Some(context.as_any()));
            });
        }
    }
}

/// The name, in `gogroup._errors`, of the class for `kind`.
pub(crate) fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NegativeCounter => "NegativeCounterError",
        ErrorKind::Canceled => "Canceled",
        ErrorKind::DeadlineExceeded => "DeadlineExceeded",
        ErrorKind::Timeout => "WaitTimeoutError",
        ErrorKind::LimitInUse => "LimitInUseError",
        ErrorKind::Panic => "PanicError",
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::Custom => "CustomError",
        // Core's table is non-exhaustive; the test walking ErrorKind::ALL catches a new kind.
        _ => "GogroupError",
    }
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("gogroup._errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The exception object for a core error: the carried object itself, else a new instance of
/// the kind's class.
pub(crate) fn to_pyobj(py: Python<'_>, e: &Error) -> Py<PyAny> {
    if let Some(PyPayload(obj)) = e.downcast_ref::<PyPayload>() {
        return obj.clone_ref(py);
    }
    let made = errors_module(py)
        .and_then(|m| m.getattr(class_name(e.kind())))
        .and_then(|class| class.call1((e.message(),)));
    match made {
        Ok(obj) => obj.unbind(),
        // Only if gogroup/_errors.py cannot be imported: say why instead.
        Err(err) => err.into_value(py).into_any(),
    }
}

/// The `PyErr` that raises [`to_pyobj`].
pub(crate) fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    PyErr::from_value(to_pyobj(py, e).into_bound(py))
}

/// A core `InvalidArgument` error, raised as `InvalidArgumentError` (a `ValueError`).
pub(crate) fn invalid_argument(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, &Error::new(ErrorKind::InvalidArgument, message))
}

/// A Python exception as a core error that carries the very object.
pub(crate) fn from_pyobj(py: Python<'_>, exc: Py<PyAny>) -> Error {
    let message = exc
        .bind(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "<exception str() failed>".to_owned());
    Error::custom(message).with_payload(PyPayload(exc))
}

/// A `PyErr` raised by Python code as a core error that carries the exception object.
pub(crate) fn from_pyerr(py: Python<'_>, err: PyErr) -> Error {
    from_pyobj(py, err.into_value(py).into_any())
}

/// Translates a panic caught while waiting: a task's Python exception comes back as the same
/// object; anything else (a bug) becomes `PanicError`.
pub(crate) fn panic_to_pyerr(py: Python<'_>, payload: Box<dyn Any + Send>) -> PyErr {
    match payload.downcast::<TaskException>() {
        Ok(mut task) => match task.0.take() {
            Some(exc) => PyErr::from_value(exc.into_bound(py)),
            None => to_pyerr(py, &Error::new(ErrorKind::Panic, "task panicked")),
        },
        Err(other) => {
            let msg = other
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| other.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            to_pyerr(
                py,
                &Error::new(ErrorKind::Panic, format!("task panicked: {msg}")),
            )
        }
    }
}

/// `BaseExceptionGroup(message, errors)` (an `ExceptionGroup` when every error is an
/// `Exception`), or `None` before Python 3.11.
pub(crate) fn exception_group(
    py: Python<'_>,
    message: &str,
    errors: &[Error],
) -> PyResult<Option<PyErr>> {
    let builtins = py.import("builtins")?;
    let Ok(class) = builtins.getattr("BaseExceptionGroup") else {
        return Ok(None);
    };
    let list = PyList::empty(py);
    for e in errors {
        list.append(to_pyobj(py, e))?;
    }
    let group = class.call1((message, list))?;
    Ok(Some(PyErr::from_value(group)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_its_own_class() {
        for kind in ErrorKind::ALL {
            assert_ne!(class_name(kind), "GogroupError", "{kind} falls back");
        }
    }
}
