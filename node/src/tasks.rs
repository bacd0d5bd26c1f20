//! Tasks whose outcome arrives later on the JS thread: the place a running JS function holds
//! in a `WaitGroup` (one count) or an `ErrGroup` (a core `TaskSlot`), keyed by a small id the
//! JS side passes back to `settle`.

use std::cell::RefCell;

use napi::sys;

use crate::errors;
use crate::slab::Slab;

/// What a running JS task holds until it settles.
pub(crate) enum Slot {
    /// One count of a `WaitGroup` (`done()` when the task settles).
    Wait(gogroup::WaitGroup),
    /// A place in an `ErrGroup` (`finish` with the task's outcome).
    Group(gogroup::TaskSlot),
}

thread_local! {
    static SLOTS: RefCell<Slab<Slot>> = const { RefCell::new(Slab::new()) };
}

/// Parks `slot` until its task settles; returns the id to settle it with.
pub(crate) fn insert(slot: Slot) -> u32 {
    SLOTS.with(|s| s.borrow_mut().insert(slot))
}

fn take(id: u32) -> Option<Slot> {
    SLOTS.with(|s| s.borrow_mut().take(id))
}

/// Reports a task's outcome: `Ok(())`, or `Err((thrown value, cancellation))` where
/// `cancellation` says the value is the group's own cancellation coming back
/// ([`errors::task_failure`]).
pub(crate) fn settle(env: sys::napi_env, id: u32, outcome: Result<(), (sys::napi_value, bool)>) {
    match take(id) {
        Some(Slot::Wait(wg)) => {
            // The count was added by `go`, so `done` cannot underflow.
            let _ = wg.done();
        }
        Some(Slot::Group(slot)) => {
            let result = match outcome {
                Ok(()) => Ok(()),
                Err((v, cancellation)) => Err(errors::task_failure(env, v, cancellation)),
            };
            slot.finish(result);
        }
        None => {}
    }
}

/// Tasks not settled yet (for `testing.hostStats`).
pub(crate) fn live() -> usize {
    SLOTS.with(|s| s.borrow().live())
}
