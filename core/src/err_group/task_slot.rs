//! [`TaskSlot`]: one task's place in an [`ErrGroup`] — its limit slot and its count — and the
//! code that runs a task in it.
//!
//! Every task holds one, whether it runs on gogroup's pool ([`ErrGroup::go`] makes one and runs
//! the task in it) or somewhere else ([`ErrGroup::start`] hands it to the caller). What the
//! slot holds is a [`Seat`], a drop guard: the slot and the count are given back when it is
//! dropped, however the task ends, so no unwind can leave `wait` hanging or the limit short.
//!
//! # Invariants
//! 1. A task's outcome (error, panic) is recorded, and the token cancelled if that is the
//!    rule, *before* its limit slot and its count are released (Go's E5: cancel before
//!    release), so `wait` never returns before a failure is known.
//! 2. The slot is released before the count: when `wait` returns, every slot is free.
//! 3. A task's own code — the closure, and the conversion of its error into [`Error`] — runs
//!    inside `catch_unwind`; a panic there is the task's panic.
//! 4. A seat is a holder of the group's count (invariant 8 of `wait_group`), given back after
//!    the count itself. An abandoned seat ([`TaskSlot::abandon`]) gives back only that: its
//!    task never finishes, so the count and the limit slot stay taken.

use std::fmt;

use crate::cancel_token::CancelToken;
use crate::error::{Error, Result};
use crate::loom::Arc;
use crate::pool;
use crate::wait_group::WeakWaitGroup;

#[cfg(doc)]
use super::ErrGroup; // the docs' links
use super::outcome::Failure;
use super::state::GroupState;

/// A task's place in an [`ErrGroup`], for tasks that run outside gogroup's pool (see
/// [`ErrGroup::start`]).
///
/// The task counts as active until [`finish`](TaskSlot::finish). A slot dropped without
/// `finish` (for example while a panic unwinds) finishes with an
/// [`ErrorKind::Panic`](crate::ErrorKind::Panic) error, so no outcome is ever lost.
///
/// ```
/// let g = gogroup::ErrGroup::new();
/// let slot: gogroup::TaskSlot = g.start().unwrap();
/// std::thread::spawn(move || slot.finish(Ok(()))); // finished from another thread
/// g.wait().unwrap();
/// ```
#[must_use = "a TaskSlot keeps the group waiting until it is finished"]
pub struct TaskSlot {
    /// `None` once finished.
    seat: Option<Seat>,
}

/// What an active task holds: one limit slot and one count of the group's `WaitGroup`.
/// Dropping it gives both back (slot first, then count: invariant 2), however its owner ends
/// — returning, unwinding, or dropped unrun by the pool — so no unwind can leave `wait`
/// hanging or the limit short of a slot. The owner records the task's outcome before it lets
/// the seat go (invariant 1).
struct Seat {
    state: Arc<GroupState>,
    /// False once abandoned: the task never finishes (invariant 4).
    live: bool,
}

impl Drop for Seat {
    fn drop(&mut self) {
        /// The count, then the holder: released even if releasing the slot panicked (a bug in
        /// core), and in this order (invariant 4).
        struct Count<'a>(&'a WeakWaitGroup, bool);
        impl Drop for Count<'_> {
            fn drop(&mut self) {
                if self.1 {
                    let _ = self.0.done();
                }
                self.0.release();
            }
        }
        let _count = Count(&self.state.wg, self.live);
        if self.live {
            self.state.limit.release();
        }
    }
}

impl Seat {
    /// A seat for a task that was just counted and given a limit slot; a holder of the
    /// group's count (invariant 4).
    fn new(state: Arc<GroupState>) -> Seat {
        state.wg.retain();
        Seat { state, live: true }
    }

    /// Records the task's failure, if any, then gives the seat up (invariant 1).
    fn finish(self, failure: Option<Failure>) {
        if let Some(f) = failure {
            self.state.fail(f);
        }
    }

    /// Runs `f` in this seat, capturing a panic, and finishes. The conversion of `f`'s
    /// error runs inside `catch_unwind` too: it is user code.
    fn run<F, E>(self, f: F)
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E>,
        E: Into<Error>,
    {
        let token = self.state.token.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            f(token).map_err(Into::into)
        }));
        self.finish(match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(Failure::Error(e)),
            Err(p) => Some(Failure::Panic(p)),
        });
    }
}

impl fmt::Debug for TaskSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSlot").finish_non_exhaustive()
    }
}

impl TaskSlot {
    /// A slot for a task that was just counted and given a limit slot.
    pub(super) fn new(state: Arc<GroupState>) -> TaskSlot {
        TaskSlot {
            seat: Some(Seat::new(state)),
        }
    }

    /// The group's token (the one a `go` task receives).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let slot = g.start().unwrap();
    /// assert!(gogroup::CancelToken::ptr_eq(slot.token(), g.token()));
    /// slot.finish(Ok(()));
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self
            .seat
            .as_ref()
            .expect("a TaskSlot holds its group until it is finished")
            .state
            .token
    }

    /// Reports the task's outcome: an error is recorded by the group's rules (the first error
    /// cancels a `with_token` group's token; a [`ErrorKind::Panic`](crate::ErrorKind::Panic)
    /// error cancels it in any group), then the slot and the count are released.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::with_token(&gogroup::CancelToken::new());
    /// g.start().unwrap().finish(Err(gogroup::Error::custom("no")));
    /// assert!(g.token().is_cancelled());
    /// assert!(g.wait().is_err());
    /// ```
    pub fn finish(mut self, result: Result<()>) {
        if let Some(seat) = self.seat.take() {
            seat.finish(result.err().map(Failure::Error));
        }
    }

    /// Abandons the task: the group will never hear from it. Nothing is recorded, the token
    /// is not cancelled, and the task keeps its place — its limit slot and its count — for
    /// good, as a task that never ends would; the slot only stops keeping the group alive
    /// (once no handle and no other slot is left, the group is abandoned: see
    /// [`ErrGroup::downgrade`]).
    ///
    /// For hosts whose task can no longer report: its promise, and the group object that
    /// would have received its outcome, were garbage-collected. Dropping the slot instead
    /// reports a panic ("task abandoned"), which cancels the token and fails `wait`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let g = gogroup::ErrGroup::new();
    /// g.start().unwrap().abandon();
    /// assert_eq!(g.active(), 1); // it never finishes...
    /// assert!(g.wait_timeout(Duration::from_millis(1)).is_err());
    /// assert!(!g.token().is_cancelled()); // ...and nothing was reported
    /// assert!(g.errors().is_empty());
    /// ```
    pub fn abandon(mut self) {
        if let Some(mut seat) = self.seat.take() {
            seat.live = false;
        }
    }

    /// Runs `f(token)` on gogroup's pool in this slot, exactly as [`ErrGroup::go`] runs a task
    /// (a panic is captured for `wait`). With [`ErrGroup::start_until`] this is `go` with a
    /// bounded wait for the slot.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let slot = g.start_until(None, None).unwrap();
    /// slot.go(|_token| Err(gogroup::Error::custom("from the pool")));
    /// assert_eq!(g.wait().unwrap_err().to_string(), "from the pool");
    /// ```
    pub fn go<F, E>(self, f: F)
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E> + Send + 'static,
        E: Into<Error>,
    {
        let (key, alone) = self.seat.as_ref().map_or((0, false), |s| {
            (s.state.wg.group_id(), s.state.wg.is_alone())
        });
        pool::submit_counted(key, alone, move || self.run(f));
    }

    /// Runs `f` in this slot, capturing a panic, and finishes.
    pub(super) fn run<F, E>(mut self, f: F)
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E>,
        E: Into<Error>,
    {
        if let Some(seat) = self.seat.take() {
            seat.run(f);
        }
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        if let Some(seat) = self.seat.take() {
            seat.finish(Some(Failure::Error(Error::new(
                crate::ErrorKind::Panic,
                "task abandoned: its TaskSlot was dropped before it finished",
            ))));
        }
    }
}
