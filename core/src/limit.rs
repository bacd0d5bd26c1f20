//! The concurrency limit of an [`ErrGroup`](crate::ErrGroup): Go's `SetLimit` semaphore,
//! made safe to change and aware of cancellation.
//!
//! Go implements the limit as a buffered channel that `SetLimit` *replaces*; changing it while
//! tasks run panics, except from "no limit" to a limit, which silently corrupts the count. Here
//! the active count and the limit live in one atomic word, so:
//!
//! # Invariants
//! 1. `active <= limit` at every instant (checked by the loom model `loom_err_group`).
//! 2. The limit changes only in a compare-and-swap that also sees `active == 0`; any change
//!    while a task is active is refused with `LimitInUse`, whatever the old and new limits.
//! 3. A task waiting for a slot sets the `waiters` bit in the same word before it sleeps, and
//!    every release that sees the bit wakes the waiting threads and ONE waiting future (not
//!    every future: N queued futures would cost O(N²) wake-ups); the bit is cleared, under the
//!    wait list's lock, only when nobody is left to wake. A waiter that gives up without a slot
//!    passes a wake-up on if a slot is free: no wake-up is lost.
//! 4. A waiter also wakes when the group's token is cancelled, and then gives up (Go blocks).

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::cancel_token::{CancelToken, Registration};
use crate::error::{Error, Result};
use crate::loom::{AtomicU64, SPIN_LIMIT, YIELD_LIMIT, spin_hint, yield_now};
use crate::wait_list::WaitList;

const WAITERS: u64 = 1 << 31;
const ACTIVE_MASK: u64 = WAITERS - 1;
const LIMIT_SHIFT: u32 = 32;
/// The encoded "no limit".
const UNLIMITED: u64 = u32::MAX as u64;

#[inline]
fn active(s: u64) -> u64 {
    s & ACTIVE_MASK
}

#[inline]
fn limit(s: u64) -> u64 {
    s >> LIMIT_SHIFT
}

pub(crate) struct Limit {
    state: AtomicU64,
    list: WaitList,
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Acquire);
        f.debug_struct("Limit")
            .field("active", &active(s))
            .field("limit", &self.get())
            .finish()
    }
}

impl Limit {
    pub(crate) fn new(n: i64) -> Limit {
        Limit {
            state: AtomicU64::new(encode(n) << LIMIT_SHIFT),
            list: WaitList::new(),
        }
    }

    /// The limit, `None` when unlimited.
    pub(crate) fn get(&self) -> Option<u64> {
        let l = limit(self.state.load(Ordering::Acquire));
        (l != UNLIMITED).then_some(l)
    }

    /// Slots taken (tasks started and not yet finished).
    pub(crate) fn active(&self) -> usize {
        active(self.state.load(Ordering::Acquire)) as usize
    }

    /// Takes a slot if one is free.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if active(s) >= limit(s) || active(s) == ACTIVE_MASK {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes a slot, waiting for one; gives up with the token's cause if it is cancelled.
    ///
    /// `wake_on_cancel` registers, on `token`, a callback that calls [`Limit::wake_all`] on this
    /// limit (invariant 4); it is only called if the waiter is about to sleep (a spinning waiter
    /// checks the token itself), and the registration is stopped before this returns.
    pub(crate) fn acquire(
        &self,
        token: &CancelToken,
        wake_on_cancel: impl FnOnce() -> Registration,
    ) -> Result<()> {
        self.acquire_until(token, None, None, || vec![wake_on_cancel()])
    }

    /// [`acquire`](Limit::acquire) that also gives up when `deadline` passes (`Timeout`) or
    /// `other` is cancelled (its cause). `wake_on_cancel` registers wake-ups on both tokens.
    pub(crate) fn acquire_until(
        &self,
        token: &CancelToken,
        other: Option<&CancelToken>,
        deadline: Option<Instant>,
        wake_on_cancel: impl FnOnce() -> Vec<Registration>,
    ) -> Result<()> {
        if self.try_acquire() {
            return Ok(());
        }
        self.acquire_slow(token, other, deadline, wake_on_cancel)
    }

    /// Why a waiter must give up now, if it must: the group's token, `other`, the deadline.
    fn give_up(
        token: &CancelToken,
        other: Option<&CancelToken>,
        deadline: Option<Instant>,
    ) -> Option<Error> {
        for t in std::iter::once(token).chain(other) {
            if t.is_cancelled() {
                return Some(t.cause().unwrap_or_else(Error::canceled));
            }
        }
        deadline
            .filter(|d| Instant::now() >= *d)
            .map(|_| Error::timeout())
    }

    fn acquire_slow(
        &self,
        token: &CancelToken,
        other: Option<&CancelToken>,
        deadline: Option<Instant>,
        wake_on_cancel: impl FnOnce() -> Vec<Registration>,
    ) -> Result<()> {
        let cancelled = || token.is_cancelled() || other.is_some_and(CancelToken::is_cancelled);
        // Slots usually free up within a task's length: poll for one (spinning, then yielding)
        // before announcing a waiter, so that releases need not wake anyone.
        for i in 0..SPIN_LIMIT + YIELD_LIMIT {
            if cancelled() {
                return Err(Self::give_up(token, other, None).unwrap_or_else(Error::canceled));
            }
            if self.try_acquire() {
                return Ok(());
            }
            if i < SPIN_LIMIT {
                spin_hint();
            } else {
                yield_now();
            }
        }
        // About to sleep: from here on a cancellation must wake us (the spinning above checked
        // for it itself, so most waits never register anything). Registered before the check
        // below, so a cancel that comes in between is seen by one or the other.
        let _registrations = StopOnDrop(wake_on_cancel());
        loop {
            if let Some(e) = Self::give_up(token, other, deadline) {
                return Err(e);
            }
            // Invariant 3: announce, then re-check in the same atomic step.
            let s = self.state.fetch_or(WAITERS, Ordering::AcqRel);
            if active(s) < limit(s) {
                if self.try_acquire() {
                    return Ok(());
                }
                continue;
            }
            let state = &self.state;
            self.list.block_until(
                || {
                    let s = state.load(Ordering::Acquire);
                    s & WAITERS == 0 || active(s) < limit(s) || cancelled()
                },
                deadline,
            );
            if self.try_acquire() {
                return Ok(());
            }
        }
    }

    /// Registers a future's waker to be woken when a slot may be free (or `cancelled()`
    /// holds); true if a slot is free or `cancelled()` already holds (poll again at once).
    pub(crate) fn register(
        &self,
        key: &mut Option<usize>,
        waker: &std::task::Waker,
        cancelled: impl Fn() -> bool,
    ) -> bool {
        // Invariant 3: announce, then re-check in the same atomic step.
        let s = self.state.fetch_or(WAITERS, Ordering::AcqRel);
        if active(s) < limit(s) || cancelled() {
            return true;
        }
        let state = &self.state;
        self.list.register(key, waker, || {
            let s = state.load(Ordering::Acquire);
            s & WAITERS == 0 || active(s) < limit(s) || cancelled()
        })
    }

    /// Frees a future's registration.
    pub(crate) fn unregister(&self, key: &mut Option<usize>) {
        self.list.remove(key);
    }

    /// Frees the registration of a future that gives up (cancelled, dropped) without a slot.
    /// A release wakes one future only: if it woke this one, pass the freed slot on.
    pub(crate) fn forget(&self, key: &mut Option<usize>) {
        if key.is_none() {
            return;
        }
        self.list.remove(key);
        self.pass_on();
    }

    /// Wakes the next waiter if a slot is free (a waiter gave up: the wake-up it may have
    /// received must not be lost).
    fn pass_on(&self) {
        let s = self.state.load(Ordering::Acquire);
        if s & WAITERS != 0 && active(s) < limit(s) {
            self.notify_one();
        }
    }

    /// Wakes the threads and the next future waiting for a slot; clears the waiters bit once
    /// nobody is left to wake (under the list's lock: see invariant 3).
    fn notify_one(&self) {
        let state = &self.state;
        self.list.notify_one(|| {
            state.fetch_and(!WAITERS, Ordering::AcqRel);
        });
    }

    /// Returns a slot: wakes one waiting future (and the waiting threads), not all of them.
    pub(crate) fn release(&self) {
        let s = self.state.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(active(s) > 0, "release without acquire");
        if s & WAITERS != 0 {
            self.notify_one();
        }
    }

    /// Wakes every waiter (used when the group's token is cancelled).
    pub(crate) fn wake_all(&self) {
        self.list.notify_all();
    }

    /// Go's `SetLimit`, refusing any change while a task is active (invariant 2).
    pub(crate) fn set(&self, n: i64) -> Result<()> {
        let new = encode(n);
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if limit(s) == new {
                return Ok(());
            }
            if active(s) != 0 {
                return Err(Error::limit_in_use(active(s) as usize));
            }
            let next = (new << LIMIT_SHIFT) | (s & !(u64::MAX << LIMIT_SHIFT) & !WAITERS);
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        if s & WAITERS != 0 {
            self.list.notify_all();
        }
        Ok(())
    }
}

fn encode(n: i64) -> u64 {
    if n < 0 {
        UNLIMITED
    } else {
        // Anything at or above u32::MAX concurrently active tasks is "no limit" in practice.
        (n as u64).min(UNLIMITED)
    }
}

/// Stops the wake-up registrations of a sleeping waiter, however it leaves.
struct StopOnDrop(Vec<Registration>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        for r in self.0.drain(..) {
            r.stop();
        }
    }
}
