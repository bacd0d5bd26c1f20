//! A task that the pool *or* the thread waiting for it may run — whichever claims it first.
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
//! ([`take_mine`]), and no worker has started the task yet, the waiter runs it itself. A task is
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

use std::cell::Cell;
use std::sync::Arc;

use crate::loom::AtomicBool;
use std::sync::atomic::Ordering;

/// A task either a pool worker or its submitter's wait may run (see the module docs).
pub(crate) struct Handoff<F> {
    /// Which group counts this task: the address of its `WaitGroup`'s shared state.
    group: usize,
    claimed: AtomicBool,
    f: crate::loom::UnsafeCell<Option<F>>,
}

// SAFETY: `f` is only reached by the single winner of the claim (invariant 1), which takes it
// out by value; `F: Send` is all moving it to that thread needs.
unsafe impl<F: Send> Sync for Handoff<F> {}

impl<F: FnOnce()> Handoff<F> {
    pub(crate) fn new(group: usize, f: F) -> Self {
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
        // Acquire/AcqRel: what the winner did before its claim (see `pool::run_mine`) is
        // visible to a loser that finds the task claimed.
        if self.is_claimed() || self.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: we won the claim; nobody else will touch `f` (invariant 1).
        self.f.with_mut(|f| unsafe { (*f).take() })
    }
}

/// What the pool and the thread-local slot see of a [`Handoff`]: its type is erased.
pub(crate) trait Claim: Send + Sync {
    /// Runs the task if nobody claimed it yet; true if this call ran it.
    fn run_if_unclaimed(&self) -> bool;
    /// Whether someone claimed (and so ran or is running) the task.
    fn is_claimed(&self) -> bool;
    /// The group that counts the task.
    fn group(&self) -> usize;
}

impl<F: FnOnce() + Send> Claim for Handoff<F> {
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

    fn group(&self) -> usize {
        self.group
    }
}

thread_local! {
    /// The last task this thread submitted (Go's per-processor `runnext`).
    static LAST: Cell<Option<Arc<dyn Claim>>> = const { Cell::new(None) };
}

/// Remembers `task` as the last one this thread submitted (forgetting the one before).
pub(crate) fn remember(task: Arc<dyn Claim>) {
    // `try_with`: during thread teardown there is nothing to remember it for.
    let _ = LAST.try_with(|last| drop(last.replace(Some(task))));
}

/// The last task this thread submitted, if it belongs to `group` and nobody claimed it yet.
/// The slot is emptied either way, unless it holds another group's task.
pub(crate) fn take_mine(group: usize) -> Option<Arc<dyn Claim>> {
    let last = LAST.try_with(Cell::take).ok()??;
    if last.group() != group {
        let _ = LAST.try_with(|slot| slot.set(Some(last)));
        return None;
    }
    (!last.is_claimed()).then_some(last)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn run_mine(group: usize) -> bool {
        take_mine(group).is_some_and(|t| t.run_if_unclaimed())
    }

    fn counting(group: usize, runs: &Arc<AtomicUsize>) -> Arc<dyn Claim> {
        let runs = runs.clone();
        Arc::new(Handoff::new(group, move || {
            runs.fetch_add(1, Ordering::Relaxed);
        }))
    }

    #[test]
    fn the_waiter_runs_its_own_last_task_once_and_only_for_its_group() {
        let runs = Arc::new(AtomicUsize::new(0));
        remember(counting(7, &runs));
        assert!(!run_mine(8), "another group's wait must not run it");
        assert!(run_mine(7));
        assert!(!run_mine(7), "run once only");
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_task_a_worker_claimed_is_not_run_again_by_the_waiter() {
        let runs = Arc::new(AtomicUsize::new(0));
        let task = counting(3, &runs);
        remember(task.clone());
        assert!(task.run_if_unclaimed(), "the worker's claim");
        assert!(!run_mine(3));
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn only_the_last_task_submitted_is_remembered() {
        let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        remember(counting(1, &first));
        remember(counting(1, &second));
        assert!(run_mine(1));
        assert!(!run_mine(1));
        assert_eq!(first.load(Ordering::Relaxed), 0, "left to the pool");
        assert_eq!(second.load(Ordering::Relaxed), 1);
    }
}
