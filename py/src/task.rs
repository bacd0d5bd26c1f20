//! Running Python callables as core tasks.
//!
//! A task is a callable plus its arguments. Core decides when it runs, on which pool thread,
//! and what its outcome means; this file only attaches the thread to the interpreter, calls the
//! callable, and hands the outcome back to core: `Ok`, or the raised exception object as a
//! core error (ErrGroup) or as the task's panic (WaitGroup).
//!
//! Pool threads keep their interpreter thread state between tasks (see [`attach`]): a worker
//! running a burst of tasks then costs one GIL acquisition per task, not a thread-state
//! creation and destruction per task.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use gogroup::Error;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use crate::errors::{TaskException, from_pyerr};

pub(crate) struct Task {
    callable: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
}

impl Task {
    pub(crate) fn new(callable: Py<PyAny>, args: Py<PyTuple>, kwargs: Option<Py<PyDict>>) -> Task {
        Task {
            callable,
            args,
            kwargs,
        }
    }

    fn call(self, py: Python<'_>) -> PyResult<()> {
        let args = self.args.bind(py);
        if args.is_empty() && self.kwargs.is_none() {
            self.callable.call0(py)?;
        } else {
            self.callable
                .call(py, args, self.kwargs.as_ref().map(|k| k.bind(py)))?;
        }
        Ok(())
    }

    /// Runs the task for an `ErrGroup`: an exception becomes the task's error, carrying the
    /// exception object.
    pub(crate) fn run_for_err_group(self) -> Result<(), Error> {
        attach(|py| self.call(py).map_err(|e| from_pyerr(py, e)))
            .unwrap_or_else(|| Err(Error::custom("the Python interpreter is shutting down")))
    }

    /// Runs the task for a `WaitGroup`: an exception becomes the task's panic, which core
    /// resumes from the next `wait` (where the binding re-raises the same object).
    pub(crate) fn run_for_wait_group(self) {
        let exc = attach(|py| self.call(py).err().map(|e| e.into_value(py).into_any())).flatten();
        if let Some(exc) = exc {
            // resume_unwind: no panic hook, no message on stderr; core catches it.
            std::panic::resume_unwind(Box::new(TaskException::new(exc)));
        }
    }
}

/// Set by the package's `atexit` hook: from then on no gogroup thread enters Python.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// gogroup threads inside [`attach`] right now.
static ATTACHED: AtomicUsize = AtomicUsize::new(0);

/// Called at interpreter exit (`atexit`, before finalization begins): stops gogroup threads
/// from entering Python, then waits up to `patience` for those inside to leave.
///
/// Why: once the interpreter finalizes, a thread that takes the GIL is ended by
/// `pthread_exit`, whose unwinding through Rust frames aborts the process. Python's own
/// `ThreadPoolExecutor` joins its workers at exit for the same reason.
pub(crate) fn shut_down(py: Python<'_>, patience: Duration) -> PyResult<bool> {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    let end = Instant::now() + patience;
    loop {
        if ATTACHED.load(Ordering::SeqCst) == 0 {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        py.detach(|| std::thread::sleep(Duration::from_millis(1)));
        py.check_signals()?;
    }
}

/// Releases the thread state a pool thread kept (see [`attach`]) when the thread exits.
struct KeptState;

impl Drop for KeptState {
    fn drop(&mut self) {
        // Raw FFI: pyo3's own thread-locals may already be gone while thread-locals are
        // destroyed. Same best-effort check as `Python::try_attach` under the stable ABI.
        // SAFETY: the interpreter is initialized; this thread holds one unreleased
        // PyGILState_Ensure (taken in `attach`). Ensure + two releases drop the counter to
        // zero, which deletes the thread state and releases the GIL.
        unsafe {
            if !SHUTTING_DOWN.load(Ordering::SeqCst) && pyo3::ffi::Py_IsInitialized() != 0 {
                let g = pyo3::ffi::PyGILState_Ensure();
                pyo3::ffi::PyGILState_Release(pyo3::ffi::PyGILState_STATE::PyGILState_LOCKED);
                pyo3::ffi::PyGILState_Release(g);
            }
        }
    }
}

/// In a fork child: only the forking thread exists, so no gogroup thread is inside Python
/// (the counts of the parent's threads would hold the exit hook for its whole patience).
pub(crate) fn after_fork_in_child() {
    ATTACHED.store(0, Ordering::SeqCst);
    // The parent's gate is leaked (a thread that no longer exists may hold it).
    GIL_GATE.store(Box::into_raw(Box::new(Mutex::new(()))), Ordering::Release);
}

struct Leave;

impl Drop for Leave {
    fn drop(&mut self) {
        ATTACHED.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    /// Whether this thread was looked at by [`attach`] yet (it keeps its thread state if it is
    /// one of core's threads).
    static SEEN: Cell<bool> = const { Cell::new(false) };
    static KEPT: KeptState = const { KeptState };
}

/// `Python::try_attach` for gogroup's own threads (pool, timer), the only way they enter
/// Python: `None` once the interpreter exits (see [`shut_down`]).
///
/// Keeps the thread's Python thread state between calls: the first call on a thread takes one
/// extra `PyGILState_Ensure`, released only when the thread exits, so later attaches only take
/// the GIL (`PyGILState` reuses the thread state instead of creating and destroying one per
/// task).
pub(crate) fn attach<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    // Count first, then check: either shut_down sees us, or we see its flag.
    ATTACHED.fetch_add(1, Ordering::SeqCst);
    let _leave = Leave;
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return None;
    }
    // Waiting for the GIL is not blocking: the pool must not start threads for it (they
    // would only queue for the GIL too). Once it is taken, the task's own waits count.
    let gil_wait = gogroup::pool::CpuWait::begin();
    // One pool thread at a time queues for the GIL on entry; the others queue here. A GIL
    // waiter wakes every switch interval (5 ms) to ask for the GIL, so thousands of them
    // (a burst of tasks that sleep) burn the CPU that the GIL's holder needs. Only at the
    // outermost attach of a gogroup thread: one that already holds the GIL never waits here.
    let outermost = DEPTH.with(|d| {
        let depth = d.get();
        d.set(depth + 1);
        depth == 0
    });
    let _depth = Depth;
    let gate = (outermost && is_gogroup_thread())
        .then(|| gil_gate().lock().unwrap_or_else(PoisonError::into_inner));
    Python::try_attach(move |py| {
        drop(gate);
        drop(gil_wait);
        if !SEEN.with(Cell::get) {
            SEEN.with(|k| k.set(true));
            // Only core's own threads: a Python-created thread (a `done()` from a
            // `threading.Thread` wakes an await through here) owns its thread state already.
            if !is_gogroup_thread() {
                return f(py);
            }
            // SAFETY: the GIL is held (inside try_attach); this only bumps the thread's
            // PyGILState counter so that its thread state outlives this attach. `KEPT`'s
            // destructor gives it back.
            unsafe { pyo3::ffi::PyGILState_Ensure() };
            KEPT.with(|_| ());
        }
        f(py)
    })
}

/// Whether this thread is one of core's (by the name core gives them).
fn is_gogroup_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("gogroup-"))
}

/// The queue of gogroup threads about to take the GIL (see [`attach`]). Replaced in a fork
/// child ([`after_fork_in_child`]): a parent's thread may have held it at the fork, and no
/// thread of the child would ever release it.
static GIL_GATE: AtomicPtr<Mutex<()>> = AtomicPtr::new(std::ptr::null_mut());

fn gil_gate() -> &'static Mutex<()> {
    let p = GIL_GATE.load(Ordering::Acquire);
    // SAFETY: a published gate is leaked, never freed.
    if let Some(gate) = unsafe { p.as_ref() } {
        return gate;
    }
    let fresh = Box::into_raw(Box::new(Mutex::new(())));
    match GIL_GATE.compare_exchange(p, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published; never freed.
        Ok(_) => unsafe { &*fresh },
        Err(won) => {
            // SAFETY: `fresh` was never shared; `won` is published and never freed.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*won }
        }
    }
}

thread_local! {
    /// How many [`attach`] calls this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

struct Depth;

impl Drop for Depth {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Whether `f` is an `async def` function (or a method of one): `CO_COROUTINE` in its code
/// flags. Checks the type first, so builtins and other callables cost one comparison.
pub(crate) fn is_coroutine_function(f: &Bound<'_, PyAny>) -> PyResult<bool> {
    static TYPES: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    const CO_COROUTINE: u32 = 0x80;
    let py = f.py();
    let (function, method) = TYPES.get_or_try_init(py, || -> PyResult<_> {
        let types = py.import("types")?;
        Ok((
            types.getattr("FunctionType")?.unbind(),
            types.getattr("MethodType")?.unbind(),
        ))
    })?;
    let ty = f.get_type();
    let func = if ty.is(function.bind(py)) {
        f.clone()
    } else if ty.is(method.bind(py)) {
        f.getattr(intern!(py, "__func__"))?
    } else {
        return Ok(false);
    };
    let flags: u32 = func
        .getattr(intern!(py, "__code__"))?
        .getattr(intern!(py, "co_flags"))?
        .extract()?;
    Ok(flags & CO_COROUTINE != 0)
}

thread_local! {
    /// Tasks this thread submitted since it last let pool threads have the GIL.
    static SUBMITTED: Cell<u32> = const { Cell::new(0) };
}

/// How many `go` calls a thread makes, holding the GIL, before it lets the pool's threads run.
const SUBMIT_BURST: u32 = 128;

/// Called by `go` after each submission: every [`SUBMIT_BURST`] tasks, lets go of the GIL for
/// a moment so that pool threads can run the tasks already submitted.
///
/// Why: a pool thread that waits for the GIL looks, to core's pool, like a blocked task, and
/// core then starts more threads (its cure for starvation), which would only wait for the GIL
/// too. A burst of thousands of `go` calls from a thread that never lets go of the GIL would
/// grow the pool by doublings. Letting go every burst keeps tasks finishing, so the pool
/// sees progress and stays at its natural size (`tests/test_threads.py` checks this).
pub(crate) fn after_submit(py: Python<'_>) {
    let n = SUBMITTED.with(|c| {
        let n = c.get() + 1;
        c.set(if n >= SUBMIT_BURST { 0 } else { n });
        n
    });
    if n >= SUBMIT_BURST {
        py.detach(std::thread::yield_now);
    }
}
