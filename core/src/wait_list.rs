//! The one place where threads sleep and futures park: a condition variable plus a list of
//! [`Waker`]s, shared by every waitable thing in core.
//!
//! The *condition* ("the counter reached zero", "the token is cancelled") always lives in an
//! atomic of the owner; the list only knows how to sleep until the owner says it changed.
//!
//! # Invariants
//! 1. A waiter evaluates its condition while holding the list's lock and goes to sleep (or
//!    registers its waker) without releasing it in between.
//! 2. A notifier changes the condition *before* it calls [`WaitList::notify_all`], which takes
//!    the lock. Together with 1 this rules out lost wake-ups: a waiter that saw the old condition
//!    is already asleep (or registered) when the notifier gets the lock.
//! 3. `notify_all` makes no system call when no thread sleeps, and takes no lock at all when its
//!    owner knows that nobody waits (owners keep a "waiters" bit for that).
//! 4. A registered future owns its slot until it is dropped; notifying empties the slot's waker
//!    but never frees the slot, so a slot index is never reused under a live future.
//! 5. Every slot whose waker was set since it was last empty is in `order`, in the order the
//!    wakers were set (entries may also be stale: a slot emptied or freed since; they are
//!    skipped when met). So `notify_one` wakes the longest-waiting future in amortized O(1):
//!    scanning the slots from the start each time made N queued futures cost O(N²).

use std::collections::VecDeque;
use std::task::Waker;
use std::time::Instant;

use crate::loom::{Condvar, Mutex, SPIN_LIMIT, YIELD_LIMIT, lock, spin_hint, yield_now};

pub(crate) struct WaitList {
    inner: Mutex<Slots>,
    cv: Condvar,
}

#[derive(Default)]
struct Slots {
    /// Threads asleep on `cv` (so `notify_all` knows whether a syscall is needed).
    sleepers: usize,
    /// Future slots: `Some(None)` is a registered future whose waker was already used.
    wakers: Vec<Option<Option<Waker>>>,
    free: Vec<usize>,
    registered: usize,
    /// Slots in the order their wakers were set (invariant 5), for `notify_one`.
    order: VecDeque<usize>,
}

impl WaitList {
    pub(crate) fn new() -> WaitList {
        WaitList {
            inner: Mutex::new(Slots::default()),
            cv: Condvar::new(),
        }
    }

    /// Spins briefly, then sleeps until `ready()` is true or `deadline` passes. Returns the last
    /// value of `ready()`. `ready` must only read atomics (it runs under the lock).
    pub(crate) fn block_until(&self, ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
        for i in 0..SPIN_LIMIT + YIELD_LIMIT {
            if ready() {
                return true;
            }
            if i < SPIN_LIMIT {
                spin_hint();
            } else {
                // Give the CPU to whoever will make us ready (on 2 cores it may be waiting).
                yield_now();
            }
        }
        // About to sleep: a pool worker tells the pool, which lets another thread take over
        // its queued tasks and its CPU (see `pool`'s growth policy, rule 2).
        let _blocking = crate::pool::Blocking::enter();
        let mut slots = lock(&self.inner);
        loop {
            if ready() {
                return true;
            }
            slots.sleepers += 1;
            // While no pool thread can be started, sleep in slices and retry (rule 6).
            let nap = crate::pool::Blocking::retry_interval();
            let timeout = match deadline {
                None => nap,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        slots.sleepers -= 1;
                        return ready();
                    }
                    Some(nap.map_or(deadline - now, |n| n.min(deadline - now)))
                }
            };
            slots = match timeout {
                None => self
                    .cv
                    .wait(slots)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(t) => {
                    self.cv
                        .wait_timeout(slots, t)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
            if nap.is_some() {
                drop(slots);
                crate::pool::Blocking::retry();
                slots = lock(&self.inner);
            }
            slots.sleepers -= 1;
        }
    }

    /// Registers (or refreshes) a future's waker unless `ready()` holds; returns `ready()`.
    ///
    /// `key` is the future's slot, allocated on first use and kept until [`WaitList::remove`].
    pub(crate) fn register(
        &self,
        key: &mut Option<usize>,
        waker: &Waker,
        ready: impl Fn() -> bool,
    ) -> bool {
        let mut slots = lock(&self.inner);
        if ready() {
            return true;
        }
        match *key {
            Some(k) => match &mut slots.wakers[k] {
                Some(Some(w)) => {
                    // Still queued (invariant 5): keep its place, refresh the waker if needed.
                    if !w.will_wake(waker) {
                        *w = waker.clone();
                    }
                }
                slot => {
                    *slot = Some(Some(waker.clone()));
                    slots.order.push_back(k);
                }
            },
            None => {
                let k = match slots.free.pop() {
                    Some(k) => {
                        slots.wakers[k] = Some(Some(waker.clone()));
                        k
                    }
                    None => {
                        slots.wakers.push(Some(Some(waker.clone())));
                        slots.wakers.len() - 1
                    }
                };
                slots.registered += 1;
                slots.order.push_back(k);
                *key = Some(k);
            }
        }
        false
    }

    /// Frees a future's slot (on completion or drop).
    pub(crate) fn remove(&self, key: &mut Option<usize>) {
        if let Some(k) = key.take() {
            let mut slots = lock(&self.inner);
            slots.wakers[k] = None;
            slots.registered -= 1;
            if slots.registered == 0 {
                // Leave no bookkeeping behind once nobody waits (no growth under churn).
                slots.wakers = Vec::new();
                slots.free = Vec::new();
                slots.order = VecDeque::new();
            } else {
                slots.free.push(k);
            }
        }
    }

    /// Wakes every sleeping thread and ONE registered future whose waker was not used yet (the
    /// one whose waker was set first: invariant 5). For owners that hand out one unit per
    /// notification, such as a freed slot of a limit: waking every future would make N queued
    /// futures cost O(N) wake-ups per release, O(N²) in all. If no sleeping thread and no
    /// unwoken future is left, `nobody` runs, under the lock (so the owner can clear its
    /// "waiters" bit without racing a waiter that is registering).
    ///
    /// An owner using this must pass the unit on when a woken future gives up without taking
    /// it (see `Limit::forget`).
    pub(crate) fn notify_one(&self, nobody: impl FnOnce()) {
        let waker = {
            let mut slots = lock(&self.inner);
            if slots.sleepers > 0 {
                self.cv.notify_all();
            }
            let mut waker = None;
            while slots.registered > 0 {
                let Some(k) = slots.order.pop_front() else {
                    break;
                };
                // A stale entry (the slot was emptied or freed since) holds no waker: skip it.
                waker = slots.wakers[k].as_mut().and_then(Option::take);
                if waker.is_some() {
                    break;
                }
            }
            if waker.is_none() && slots.sleepers == 0 {
                nobody();
            }
            waker
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every sleeping thread and every registered future.
    pub(crate) fn notify_all(&self) {
        let mut wakers = Vec::new();
        {
            let mut slots = lock(&self.inner);
            if slots.sleepers > 0 {
                self.cv.notify_all();
            }
            if slots.registered > 0 {
                wakers.extend(slots.wakers.iter_mut().filter_map(|s| s.as_mut()?.take()));
            }
            // Every waker is used: every entry is stale now.
            slots.order.clear();
        }
        for w in wakers {
            w.wake();
        }
    }
}
