//! Tasks whose outcome arrives later on the JS thread: the place a running JS function holds
//! in an `ErrGroup` (a core `TaskSlot`), kept by the group's JS object under a small id that
//! the task's promise handlers pass back to `settle` with that object.
//!
//! The group object owns its tasks' slots, and the handlers of a pending task's promise hold
//! the group object: so a group is collected only once none of its tasks can report any more,
//! and then its slots are *abandoned* (core's `TaskSlot::abandon`: nothing recorded, nothing
//! cancelled), never dropped as a failure (issue 12).

use std::cell::{Cell, RefCell};

use napi::bindgen_prelude::*;
use napi::sys;

use crate::err_group::ErrGroup;
use crate::errors;
use crate::slab::Slab;
use crate::wait_group::WaitGroup;

thread_local! {
    /// Slots held on this thread, for `testing.hostStats`.
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// The slots of one group's tasks that have not settled yet.
#[derive(Debug, Default)]
pub(crate) struct Slots(RefCell<Slab<gogroup::TaskSlot>>);

impl Slots {
    /// Parks `slot` until its task settles; returns the id to settle it with.
    pub(crate) fn insert(&self, slot: gogroup::TaskSlot) -> u32 {
        LIVE.with(|n| n.set(n.get() + 1));
        self.0.borrow_mut().insert(slot)
    }

    fn take(&self, id: u32) -> Option<gogroup::TaskSlot> {
        let slot = self.0.borrow_mut().take(id);
        if slot.is_some() {
            LIVE.with(|n| n.set(n.get() - 1));
        }
        slot
    }

    /// Reports a task's outcome: `Ok(())`, or `Err((thrown value, cancellation))` where
    /// `cancellation` says the value is the group's own cancellation coming back
    /// ([`errors::task_failure`]).
    pub(crate) fn finish(
        &self,
        env: sys::napi_env,
        id: u32,
        outcome: std::result::Result<(), (sys::napi_value, bool)>,
    ) {
        let Some(slot) = self.take(id) else { return };
        // Converted after the slot is out of the table: `task_failure` calls into JS.
        let result = match outcome {
            Ok(()) => Ok(()),
            Err((v, cancellation)) => Err(errors::task_failure(env, v, cancellation)),
        };
        slot.finish(result);
    }

    /// Abandons every slot left: their tasks can never report (their group was collected).
    pub(crate) fn abandon_all(&self) {
        let slots = std::mem::take(&mut *self.0.borrow_mut());
        for slot in slots.into_values() {
            LIVE.with(|n| n.set(n.get() - 1));
            slot.abandon();
        }
    }
}

/// A task's promise settled: `owner` is its group's JS object (an `ErrGroup`, whose slot `id`
/// it was; or a `WaitGroup`, whose count it held), `outcome` `Ok(())` or
/// `Err((thrown value, cancellation))`.
pub(crate) fn settle(
    env: sys::napi_env,
    owner: sys::napi_value,
    id: u32,
    outcome: std::result::Result<(), (sys::napi_value, bool)>,
) {
    // SAFETY (both): JS thread; napi-rs checks the class before handing out a reference.
    if let Ok(g) = unsafe { ClassInstance::<ErrGroup>::from_napi_value(env, owner) } {
        g.settle(env, id, outcome);
    } else if let Ok(wg) = unsafe { ClassInstance::<WaitGroup>::from_napi_value(env, owner) } {
        // The count was added by `go`, so `done` cannot underflow.
        let _ = wg.inner.done();
    }
}

/// Tasks not settled yet (for `testing.hostStats`).
pub(crate) fn live() -> usize {
    LIVE.with(Cell::get)
}
