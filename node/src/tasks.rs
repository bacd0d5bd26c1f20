//! Tasks whose outcome arrives later on the JS thread: the place a running JS function holds
//! in a `WaitGroup` (one count) or an `ErrGroup` (a core `TaskSlot`), keyed by a small id the
//! JS side passes back to `settle`.

use std::cell::RefCell;

use napi::sys;

use crate::errors;

/// What a running JS task holds until it settles.
pub(crate) enum Slot {
    /// One count of a `WaitGroup` (`done()` when the task settles).
    Wait(gogroup::WaitGroup),
    /// A place in an `ErrGroup` (`finish` with the task's outcome).
    Group(gogroup::TaskSlot),
}

thread_local! {
    static SLOTS: RefCell<(Vec<Option<Slot>>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Parks `slot` until its task settles; returns the id to settle it with.
pub(crate) fn insert(slot: Slot) -> u32 {
    SLOTS.with(|s| {
        let (slots, free) = &mut *s.borrow_mut();
        match free.pop() {
            Some(id) => {
                slots[id as usize] = Some(slot);
                id
            }
            None => {
                slots.push(Some(slot));
                (slots.len() - 1) as u32
            }
        }
    })
}

fn take(id: u32) -> Option<Slot> {
    SLOTS.with(|s| {
        let (slots, free) = &mut *s.borrow_mut();
        let slot = slots.get_mut(id as usize)?.take();
        if slot.is_some() {
            free.push(id);
        }
        slot
    })
}

/// Reports a task's outcome: `Err(thrown value)` or `Ok(())`.
pub(crate) fn settle(env: sys::napi_env, id: u32, outcome: Result<(), sys::napi_value>) {
    match take(id) {
        Some(Slot::Wait(wg)) => {
            // The count was added by `go`, so `done` cannot underflow.
            let _ = wg.done();
        }
        Some(Slot::Group(slot)) => {
            let result = match outcome {
                Ok(()) => Ok(()),
                Err(v) => Err(errors::from_js(env, v).unwrap_or_else(|_| {
                    gogroup::Error::custom("task failed (its value could not be kept)")
                })),
            };
            slot.finish(result);
        }
        None => {}
    }
}

/// Tasks not settled yet (for `testing.hostStats`).
pub(crate) fn live() -> usize {
    SLOTS.with(|s| s.borrow().0.iter().filter(|s| s.is_some()).count())
}
