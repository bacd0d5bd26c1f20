//! What the pool and the timer share: how long an idle thread lives, and per-process state
//! that a `fork()` resets.
//!
//! Both background services (the [`pool`](crate::pool) of workers and the deadline
//! [`timer`](crate::timer)) start their threads on first use and let them exit after
//! [`idle_timeout`]. Neither imports the other: both import this module.
//!
//! # fork
//! After `fork()` the child has one thread: the one that forked. Every other thread of the
//! parent — pool workers, the pool's monitor, the timer — is gone, and any lock one of them
//! held stays locked forever in the child. So the child must not reuse the parent's pool or
//! timer at all. Each of them lives in a [`PerProcess`] cell: a `pthread_atfork` child handler
//! (registered when the first cell is created) bumps the process *generation*, and the next
//! use of a cell in the child builds a fresh service, which starts its threads on demand as in
//! a new process. The parent's copies are leaked, never touched again: their memory may hold
//! locked mutexes and tasks that belong to the parent.
//!
//! What a fork cannot carry over is documented on [`crate::pool`]: tasks queued or running in
//! the parent at the moment of the fork do not run in the child (they run in the parent), so a
//! group that counted them never reaches zero in the child.
//!
//! # Invariants
//! 1. A [`PerProcess`] value is created at most once per generation that uses it, published
//!    with a compare-and-swap (no lock: a lock held by a parent's thread at fork time would be
//!    held forever in the child), and never freed.
//! 2. The generation only changes in a fork child, where exactly one thread runs, so nothing
//!    races with the handler.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

static IDLE_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);

/// How long an idle worker (or the deadline thread) lives before it exits.
///
/// ```
/// assert!(gogroup::pool::idle_timeout() > std::time::Duration::ZERO);
/// ```
pub fn idle_timeout() -> Duration {
    Duration::from_millis(IDLE_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Sets how long idle threads live (default 5 s). Takes effect the next time a thread goes idle.
///
/// A short timeout lets leak tests observe every gogroup thread exit.
///
/// # Examples
/// ```
/// gogroup::pool::set_idle_timeout(std::time::Duration::from_secs(5));
/// assert_eq!(gogroup::pool::idle_timeout().as_secs(), 5);
/// ```
pub fn set_idle_timeout(d: Duration) {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    IDLE_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// Bumped in every fork child (invariant 2).
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current process generation: 0 in the process that loaded the library, one more in
/// each fork child.
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add. The fresh services are built on next use.
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

fn register_fork_handler() {
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.load(Ordering::Acquire) || REGISTERED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a plain function that touches one atomic; no pointers are passed.
    // If registration fails (ENOMEM), a fork child would reuse the parent's services, as
    // before this module existed: nothing else depends on it.
    unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
    }
}

/// A process-wide value rebuilt in a fork child on first use (see the module docs).
pub(crate) struct PerProcess<T> {
    slot: AtomicPtr<Versioned<T>>,
}

struct Versioned<T> {
    generation: u64,
    value: T,
    /// The parent's value, if this one was built in a fork child: leaked on purpose, and kept
    /// reachable from here so that leak checkers (valgrind, LeakSanitizer) in the child see
    /// it, and what its queues hold, as still reachable rather than lost.
    #[allow(dead_code)]
    previous: *mut Versioned<T>,
}

impl<T> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// This process's value, created by `init` on first use in this process (invariant 1).
    #[inline]
    pub(crate) fn get(&'static self, init: fn() -> T) -> &'static T {
        let p = self.slot.load(Ordering::Acquire);
        // SAFETY: a published pointer is never freed (invariant 1).
        if let Some(v) = unsafe { p.as_ref() }
            && v.generation == generation()
        {
            return &v.value;
        }
        self.get_slow(p, init)
    }

    #[cold]
    fn get_slow(&'static self, mut seen: *mut Versioned<T>, init: fn() -> T) -> &'static T {
        register_fork_handler();
        let fresh = Box::into_raw(Box::new(Versioned {
            generation: generation(),
            value: init(),
            previous: seen,
        }));
        loop {
            match self
                .slot
                .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: just published; never freed (the parent's value, if any, is leaked).
                Ok(_) => return unsafe { &(*fresh).value },
                Err(actual) => {
                    // SAFETY: published pointers are never freed.
                    if let Some(v) = unsafe { actual.as_ref() }
                        && v.generation == generation()
                    {
                        // Another thread of this process won: ours was never seen by anyone.
                        // SAFETY: `fresh` came from `Box::into_raw` above and was not shared.
                        drop(unsafe { Box::from_raw(fresh) });
                        return &v.value;
                    }
                    seen = actual;
                    // SAFETY: `fresh` is still ours alone.
                    unsafe { (*fresh).previous = seen };
                }
            }
        }
    }

    /// Whether this process has created the value (diagnostics; never creates it).
    pub(crate) fn exists(&'static self) -> bool {
        // SAFETY: published pointers are never freed.
        unsafe { self.slot.load(Ordering::Acquire).as_ref() }
            .is_some_and(|v| v.generation == generation())
    }
}
