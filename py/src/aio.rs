//! Awaiting core futures from asyncio without blocking the loop and without a thread.
//!
//! `wait_async()` returns an `asyncio.Future` fed by one of core's plain futures
//! (`WaitGroupFuture`, `CancelledFuture`, `ErrGroupFuture`), which wake through `Waker`s:
//!
//! * the core future is polled on the loop's thread, holding the GIL;
//! * its `Waker` holds only a weak reference to the [`Driver`]; waking schedules one poll with
//!   `loop.call_soon_threadsafe` (from whatever thread completed the work);
//! * when the asyncio future is cancelled (the awaiting task was cancelled, `wait_for` timed
//!   out), its done-callback drops the core future, which removes its registration from core:
//!   nothing is left behind — no waker, no thread, no callback;
//! * the done-callback owns the driver and tells the garbage collector about the asyncio future
//!   it holds, so a future nobody awaits and nobody completes is collected, not leaked.
//!
//! # Invariants
//! 1. The core future is only polled on the loop's thread with the GIL held, under
//!    `Driver::future`'s lock; it is dropped exactly once (completion or cancellation).
//! 2. A `Waker` never keeps a driver alive, and `wake` runs no Python code but
//!    `call_soon_threadsafe` (core calls it with no core lock held).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;

use crate::errors::panic_to_pyerr;

/// Turns what the core future produced into the asyncio future's result. The flag says
/// whether anyone still waits for it (false: the asyncio future was cancelled meanwhile, the
/// result is dropped, and the closure should give back what it got).
type Finisher = Box<dyn FnOnce(Python<'_>, bool) -> PyResult<Py<PyAny>> + Send>;
type CoreFuture = Pin<Box<dyn Future<Output = Finisher> + Send>>;

/// Core futures not yet completed or dropped, i.e. registrations that may still be in core (a
/// diagnostic for the tests: "nothing is left behind"). Counted on the future, not on the
/// driver: a pool thread that just scheduled a poll may hold the driver a moment longer.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A core future, counted in `LIVE` while it exists.
struct Counted(CoreFuture);

impl Counted {
    fn new(f: CoreFuture) -> Counted {
        LIVE.fetch_add(1, Ordering::AcqRel);
        Counted(f)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How many awaits are still registered with core (`_gogroup._live_async_waits()`).
pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Acquire)
}

pub(crate) struct Driver {
    future: Mutex<Option<Counted>>,
    py_future: Py<PyAny>,
    event_loop: Py<PyAny>,
    /// The loop's thread: a wake-up there polls at once (as `asyncio.Event.set` completes its
    /// waiters at once), one from any other thread goes through `call_soon_threadsafe`.
    loop_thread: std::thread::ThreadId,
    scheduled: AtomicBool,
}

/// Returns an `asyncio.Future` of the running loop completed by `future`, whose output
/// `finish` translates (on the loop's thread, holding the GIL).
pub(crate) fn to_asyncio<'py, F, T>(
    py: Python<'py>,
    future: F,
    finish: impl FnOnce(Python<'_>, T, bool) -> PyResult<Py<PyAny>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let future = async move {
        let value = future.await;
        Box::new(move |py: Python<'_>, pending: bool| finish(py, value, pending)) as Finisher
    };
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_future = event_loop.call_method0("create_future")?;
    let driver = Arc::new(Driver {
        future: Mutex::new(Some(Counted::new(Box::pin(future)))),
        py_future: py_future.clone().unbind(),
        event_loop: event_loop.unbind(),
        loop_thread: std::thread::current().id(),
        scheduled: AtomicBool::new(false),
    });
    let on_done = Bound::new(
        py,
        DoneCallback {
            driver: Mutex::new(Some(driver.clone())),
        },
    )?;
    py_future.call_method1("add_done_callback", (on_done,))?;
    poll(py, &driver);
    Ok(py_future)
}

fn poll(py: Python<'_>, driver: &Arc<Driver>) {
    driver.scheduled.store(false, Ordering::Release);
    let mut slot = driver.future.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(future) = slot.as_mut() else {
        return;
    };
    let waker = Waker::from(Arc::new(WakeHandle(Arc::downgrade(driver))));
    let mut cx = Context::from_waker(&waker);
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.0.as_mut().poll(&mut cx)));
    let fut = driver.py_future.bind(py);
    // The awaiting task may have been cancelled meanwhile: a done future takes no result.
    let pending = || {
        !fut.call_method0("done")
            .and_then(|d| d.is_truthy())
            .unwrap_or(true)
    };
    let result = match polled {
        Ok(Poll::Pending) => return,
        Ok(Poll::Ready(finish)) => {
            slot.take();
            drop(slot);
            let still_pending = pending();
            let result = finish(py, still_pending);
            if !still_pending {
                return;
            }
            result
        }
        Err(panic) => {
            slot.take();
            drop(slot);
            Err(panic_to_pyerr(py, panic))
        }
    };
    if !pending() {
        return;
    }
    let set = match result {
        Ok(value) => fut.call_method1("set_result", (value,)),
        Err(err) => fut.call_method1("set_exception", (err.into_value(py),)),
    };
    if let Err(err) = set {
        err.write_unraisable(py, Some(fut));
    }
}

struct WakeHandle(Weak<Driver>);

impl Wake for WakeHandle {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(driver) = self.0.upgrade() else {
            return; // the await was cancelled and dropped: nothing to do
        };
        if driver.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        // None while the interpreter finalizes: then nobody awaits any more.
        let _ = crate::task::attach(|py| {
            // On the loop's own thread, not inside a poll of this very future (its lock is
            // free): complete now, saving a loop iteration and the self-pipe write.
            if driver.loop_thread == std::thread::current().id() && driver.future.try_lock().is_ok()
            {
                poll(py, &driver);
                return;
            }
            let poller = Poller {
                driver: driver.clone(),
            };
            // RuntimeError when the loop is closed: nobody is left to wake.
            let _ = driver
                .event_loop
                .call_method1(py, "call_soon_threadsafe", (poller,));
            drop(driver);
        });
    }
}

/// One scheduled poll, run by the loop.
#[pyclass(module = "gogroup._gogroup", frozen)]
struct Poller {
    driver: Arc<Driver>,
}

#[pymethods]
impl Poller {
    fn __call__(&self, py: Python<'_>) {
        poll(py, &self.driver);
    }
}

/// Added to the asyncio future: drops the core future when the asyncio one is cancelled.
#[pyclass(module = "gogroup._gogroup", frozen)]
struct DoneCallback {
    driver: Mutex<Option<Arc<Driver>>>,
}

#[pymethods]
impl DoneCallback {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        let driver = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(d) = driver {
            // Invariant 1: completed or cancelled, the core future goes now.
            let taken = d
                .future
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(taken);
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // try_lock: the collector must never block; a busy lock means the driver is in use.
        if let Ok(guard) = self.driver.try_lock()
            && let Some(d) = guard.as_ref()
        {
            visit.call(&d.py_future)?;
            visit.call(&d.event_loop)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut guard) = self.driver.try_lock() {
            guard.take();
        }
    }
}
