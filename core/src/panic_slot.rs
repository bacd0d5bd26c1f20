//! Where a `WaitGroup` task's panic waits for the `wait` that resumes it, and how core drops
//! what user code handed it (panic payloads, errors) without letting that code unwind into a
//! worker or a waiter.
//!
//! A payload is user data: its `Drop` is user code and may itself panic. Core therefore drops
//! every payload it does not hand back, and every error value whose last reference it may hold,
//! through [`drop_quietly`]: inside `catch_unwind`, so a panicking destructor can neither skip
//! the bookkeeping after it nor unwind into a thread that did not ask for it. The payload of
//! *that* second panic is leaked (forgotten): dropping it could panic again, without end. Its
//! message has already gone to the panic hook.
//!
//! # Invariants
//! 1. Only the first panic is kept; later ones are dropped by rule (their message still went
//!    to the panic hook).
//! 2. `set` changes only under the `payload` lock, so it is true exactly when a payload is
//!    kept whenever the lock is free: `keep` stores both, `take` clears both before it unlocks
//!    (checked by the loom model `loom_panic_slot`).
//! 3. `is_set` is one atomic load, so a `wait` with nothing to resume takes no lock.
//! 4. No method unwinds: a payload that loses (invariant 1) is dropped with [`drop_quietly`],
//!    and so is one still kept when the slot itself is dropped.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use crate::error::{Error, ErrorKind};
use crate::loom::{AtomicBool, Mutex, lock};

/// A panic payload, as `catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send>;

pub(crate) struct PanicSlot {
    set: AtomicBool,
    payload: Mutex<Option<Payload>>,
}

impl PanicSlot {
    pub(crate) fn new() -> PanicSlot {
        PanicSlot {
            set: AtomicBool::new(false),
            payload: Mutex::new(None),
        }
    }

    /// Keeps `p` unless a panic is already kept (invariant 1); a losing `p` is dropped
    /// quietly, after the lock is released (invariant 4).
    pub(crate) fn keep(&self, p: Payload) {
        let loser = {
            let mut slot = lock(&self.payload);
            if slot.is_none() {
                *slot = Some(p);
                // Invariant 2: under the lock.
                self.set.store(true, Ordering::Release);
                None
            } else {
                Some(p)
            }
        };
        drop_quietly(loser);
    }

    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Takes the kept panic, if any (it is resumed or reported once).
    pub(crate) fn take(&self) -> Option<Payload> {
        if !self.is_set() {
            return None;
        }
        let mut slot = lock(&self.payload);
        // Invariant 2: cleared before the lock is released, so a `keep` that comes next finds
        // both empty and its payload is seen by the next `take`.
        self.set.store(false, Ordering::Release);
        slot.take()
    }
}

impl Drop for PanicSlot {
    fn drop(&mut self) {
        // Invariant 4: a panic nobody waited for is dropped where it cannot unwind (the last
        // handle may well be dropped on a pool worker).
        let kept = lock(&self.payload).take();
        drop_quietly(kept);
    }
}

/// Drops `value` inside `catch_unwind`: user code in its `Drop` (a panic payload's, an
/// error payload's) cannot unwind into core. If it panics, that panic's own payload is
/// leaked rather than dropped (dropping it could panic again).
pub(crate) fn drop_quietly<T>(value: T) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        std::mem::forget(again);
    }
}

/// The error that reports a panic: kind `Panic`, with the panic's message.
pub(crate) fn panic_error(payload: &(dyn Any + Send)) -> Error {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    Error::new(ErrorKind::Panic, format!("task panicked: {msg}"))
}

/// The error that reports a panic, the payload dropped quietly: for the waits that report a
/// panic instead of resuming it.
pub(crate) fn report(payload: Payload) -> Error {
    let e = panic_error(&*payload);
    drop_quietly(payload);
    e
}
