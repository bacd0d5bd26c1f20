//! Handoff: a task that the pool *or* the thread waiting for it may run — whichever claims it
//! first. One concept, one vocabulary: a [`Handoff`] is *claimed* exactly once, by a worker
//! (which runs it) or by its submitter's wait (which runs it inline); the pool queues it as
//! [`Job::Handoff`](super::queue::Job::Handoff), and [`run_own`](super::run_own) is the wait's
//! side. This file also keeps the count of handoffs their waiter ran (see [`Ledger`]).
//!
//! Go's `wg.Go(f); wg.Wait()` costs about 200 ns here although a goroutine must be created,
//! scheduled and finished, because Go never moves the work to another thread: the new goroutine
//! goes into its processor's `runnext` slot, and when `Wait` parks, that same processor runs it
//! next. A pool that always hands the task to another thread pays two cross-thread handoffs
//! (task to worker, `done` back to the waiter) and, on a machine with fewer cores than busy
//! threads, a context switch.
//!
//! gogroup does what Go does: every thread remembers the last task it submitted for a group
//! ([`remember`]). When that thread then blocks in an *unbounded* wait for that group
//! ([`take_own`]), and no worker has started the task yet, the waiter runs it itself. A task is
//! run exactly once: the worker and the waiter both [claim](Handoff::claim) it, and only the
//! first claim wins.
//!
//! Only unbounded waits help (`wait()`, not `wait_timeout` nor a wait with a token): a wait that
//! must return at a deadline or on cancellation cannot afford to start a task of unknown length.
//! Running the task inline cannot deadlock where the pool would not: the waiter cannot return
//! before the task finishes either way.
//!
//! # Invariants
//! 1. `f` is taken by exactly one caller: the one whose swap of `claimed` from false returned
//!    false. Nobody else touches `f`.
//! 2. The thread-local slot holds a clone of the `Arc` the pool holds; it never keeps a task
//!    from running (the pool runs it unless the waiter claimed it first).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::loom::AtomicBool;

use super::queue::{Padded, Pool};

/// A task either a pool worker or its submitter's wait may run (see the module docs).
pub(crate) struct Handoff<F> {
    /// Which group counts this task (see [`GroupId`]).
    group: GroupId,
    claimed: AtomicBool,
    f: crate::loom::UnsafeCell<Option<F>>,
}

// SAFETY: `f` is only reached by the single winner of the claim (invariant 1), which takes it
// out by value; `F: Send` is all moving it to that thread needs.
unsafe impl<F: Send> Sync for Handoff<F> {}

impl<F: FnOnce()> Handoff<F> {
    pub(crate) fn new(group: GroupId, f: F) -> Self {
        Handoff {
            group,
            claimed: AtomicBool::new(false),
            f: crate::loom::UnsafeCell::new(Some(f)),
        }
    }

    fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// The task, if this call is the first to claim it (invariant 1).
    pub(crate) fn claim(&self) -> Option<F> {
        // Acquire/AcqRel: what the winner did before its claim (see `pool::run_own`) is
        // visible to a loser that finds the task claimed.
        if self.is_claimed() || self.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: we won the claim; nobody else will touch `f` (invariant 1).
        self.f.with_mut(|f| unsafe { (*f).take() })
    }
}

/// Identifies the group that counts a handoff: the address of the group's shared counter,
/// stable while any handle or counted task exists.
pub(crate) type GroupId = usize;

/// A [`Handoff`] with its task's type erased: what the queue and the thread-local slot hold.
pub(crate) trait ErasedHandoff: Send + Sync {
    /// Runs the task if nobody claimed it yet; true if this call ran it.
    fn run_if_unclaimed(&self) -> bool;
    /// Whether someone claimed (and so ran or is running) the task.
    fn is_claimed(&self) -> bool;
    /// The group that counts the task.
    fn group(&self) -> GroupId;
}

impl<F: FnOnce() + Send> ErasedHandoff for Handoff<F> {
    fn run_if_unclaimed(&self) -> bool {
        match self.claim() {
            Some(f) => {
                f();
                true
            }
            None => false,
        }
    }

    fn is_claimed(&self) -> bool {
        Handoff::is_claimed(self)
    }

    fn group(&self) -> GroupId {
        self.group
    }
}

thread_local! {
    /// The last task this thread submitted (Go's per-processor `runnext`).
    static LAST: Cell<Option<Arc<dyn ErasedHandoff>>> = const { Cell::new(None) };
}

/// Remembers `task` as the last one this thread submitted (forgetting the one before).
pub(crate) fn remember(task: Arc<dyn ErasedHandoff>) {
    // `try_with`: during thread teardown there is nothing to remember it for.
    let _ = LAST.try_with(|last| drop(last.replace(Some(task))));
}

/// The last task this thread submitted, if it belongs to `group` and nobody claimed it yet.
/// The slot is emptied either way, unless it holds another group's task.
pub(crate) fn take_own(group: GroupId) -> Option<Arc<dyn ErasedHandoff>> {
    let last = LAST.try_with(Cell::take).ok()??;
    if last.group() != group {
        let _ = LAST.try_with(|slot| slot.set(Some(last)));
        return None;
    }
    (!last.is_claimed()).then_some(last)
}

/// Handoffs that their waiter ran but that still sit in the queue until a worker finds them
/// claimed and discards them (pool invariant 5). Such a job is not waiting work: the monitor
/// and [`stats`](super::stats) subtract them.
///
/// Each thread counts the handoffs it ran on its own cache line (written only by that thread,
/// so the handoff's fast path touches no shared counter); `ran_by_exited` keeps the counts of
/// threads that exited; workers count discards.
#[derive(Default)]
pub(super) struct Ledger {
    discarded: Padded<AtomicUsize>,
    ran_by_waiters: Mutex<Vec<Arc<Padded<AtomicUsize>>>>,
    ran_by_exited: AtomicUsize,
}

impl Ledger {
    /// A worker found a handoff already claimed and dropped it.
    pub(super) fn discarded(&self) {
        self.discarded.0.fetch_add(1, Ordering::Release);
    }

    /// Queued jobs that their waiter already ran and no worker has discarded yet.
    pub(super) fn ran_but_queued(&self) -> usize {
        // Discards first: every discard counted here follows its waiter's count (see
        // `run_own`), which the loads below then see.
        let discarded = self.discarded.0.load(Ordering::Acquire);
        let ran = self
            .ran_by_waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .fold(self.ran_by_exited.load(Ordering::Acquire), |sum, c| {
                sum.wrapping_add(c.0.load(Ordering::Acquire))
            });
        ran.saturating_sub(discarded)
    }
}

/// This thread's count of handoffs it ran for the pool it belongs to (a fork child's first
/// use registers a fresh count with the child's pool).
struct RanByThisThread {
    pool: &'static Pool,
    count: Arc<Padded<AtomicUsize>>,
}

impl Drop for RanByThisThread {
    fn drop(&mut self) {
        let ledger = &self.pool.ledger;
        // Added to the exited ones before leaving the list: for a moment counted twice, which
        // makes the queue look shorter, never longer (nothing grows the pool for it).
        ledger
            .ran_by_exited
            .fetch_add(self.count.0.load(Ordering::Relaxed), Ordering::Release);
        ledger
            .ran_by_waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c| !Arc::ptr_eq(c, &self.count));
    }
}

thread_local! {
    static RAN_BY_THIS_THREAD: RefCell<Option<RanByThisThread>> = const { RefCell::new(None) };
}

/// Adds `n` (wrapping: `usize::MAX` is -1) to this thread's count of handoffs it ran.
pub(super) fn count_ran(pool: &'static Pool, n: usize) {
    let counted = RAN_BY_THIS_THREAD.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.as_ref().is_some_and(|r| std::ptr::eq(r.pool, pool)) {
            let count = Arc::new(Padded(AtomicUsize::new(0)));
            pool.ledger
                .ran_by_waiters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(count.clone());
            // A count left from the parent of a fork belongs to the parent's pool: forget it
            // without touching that pool (its locks may be held forever).
            if let Some(old) = slot.take()
                && !std::ptr::eq(old.pool, pool)
            {
                std::mem::forget(old);
            }
            *slot = Some(RanByThisThread { pool, count });
        }
        let c = &slot.as_ref().expect("registered above").count.0;
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
    });
    if counted.is_err() {
        // This thread is exiting: count it with the exited ones.
        pool.ledger.ran_by_exited.fetch_add(n, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn run_own(group: GroupId) -> bool {
        take_own(group).is_some_and(|t| t.run_if_unclaimed())
    }

    fn counting(group: GroupId, runs: &Arc<AtomicUsize>) -> Arc<dyn ErasedHandoff> {
        let runs = runs.clone();
        Arc::new(Handoff::new(group, move || {
            runs.fetch_add(1, Ordering::Relaxed);
        }))
    }

    #[test]
    fn the_waiter_runs_its_own_last_task_once_and_only_for_its_group() {
        let runs = Arc::new(AtomicUsize::new(0));
        remember(counting(7, &runs));
        assert!(!run_own(8), "another group's wait must not run it");
        assert!(run_own(7));
        assert!(!run_own(7), "run once only");
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_task_a_worker_claimed_is_not_run_again_by_the_waiter() {
        let runs = Arc::new(AtomicUsize::new(0));
        let task = counting(3, &runs);
        remember(task.clone());
        assert!(task.run_if_unclaimed(), "the worker's claim");
        assert!(!run_own(3));
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn only_the_last_task_submitted_is_remembered() {
        let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        remember(counting(1, &first));
        remember(counting(1, &second));
        assert!(run_own(1));
        assert!(!run_own(1));
        assert_eq!(first.load(Ordering::Relaxed), 0, "left to the pool");
        assert_eq!(second.load(Ordering::Relaxed), 1);
    }
}
