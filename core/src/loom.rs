//! The synchronisation primitives core is built from, switched to loom's model-checked
//! versions under `--cfg loom` (`make loom`), as tokio-util and crossbeam do.
//!
//! Every lock in core goes through [`lock`], which ignores poisoning: core never runs user code
//! while holding one of its own locks, so a poisoned lock can only come from a bug in core, and
//! refusing to continue would turn that bug into a hang in the host runtime.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` behind loom's API (`with_mut`), so that loom can check every access.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a raw pointer to the value; the caller guarantees exclusive access.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `m`, ignoring poisoning (see the module docs).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One step of a bounded spin: a CPU hint normally, a scheduler yield under loom (loom must see
/// every iteration of a spin loop as a chance to run another thread).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// How many times a waiter re-checks its condition before it sleeps. Sleeping and waking costs
/// tens of microseconds on a small machine; a short spin catches the common case where the last
/// `done` is already on its way. Under loom there is no point spinning.
#[cfg(not(loom))]
pub(crate) const SPIN_LIMIT: u32 = 200;
#[cfg(loom)]
pub(crate) const SPIN_LIMIT: u32 = 1;

/// After spinning, how many times a waiter yields its CPU before it sleeps.
#[cfg(not(loom))]
pub(crate) const YIELD_LIMIT: u32 = 16;
#[cfg(loom)]
pub(crate) const YIELD_LIMIT: u32 = 0;

/// Yields the CPU (a scheduling point under loom).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}
