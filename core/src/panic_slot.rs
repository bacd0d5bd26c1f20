//! Where a task's panic waits for the `wait` that resumes it (WaitGroup and ErrGroup alike).
//!
//! # Invariants
//! 1. Only the first panic is kept; later ones are dropped by rule (their message still went
//!    to the panic hook, and an ErrGroup records each as an error).
//! 2. `is_set` is one atomic load, so a `wait` with nothing to resume takes no lock.

use std::any::Any;
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

    /// Keeps `p` unless a panic is already kept (invariant 1).
    pub(crate) fn keep(&self, p: Payload) {
        let mut slot = lock(&self.payload);
        if slot.is_none() {
            *slot = Some(p);
            self.set.store(true, Ordering::Release);
        }
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
        let p = lock(&self.payload).take();
        self.set.store(false, Ordering::Release);
        p
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
