//! The two futures of an [`ErrGroup`]: [`StartFuture`] (a place in the group, without blocking
//! a thread while the limit is full) and [`ErrGroupFuture`] (what `wait` returns).
//!
//! Both are plain `std::future::Future`s driven by `Waker`s, so they work under any executor
//! and under a host's event loop. Dropping either removes every registration it made: a
//! `StartFuture` that gives up passes on a wake-up meant for it (the limit wakes one future per
//! freed slot, not all of them), and leaves the count if `start_queued` put it there.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cancel_token::Registration;
use crate::error::{Error, Result};
use crate::wait_group::WaitGroupFuture;

use super::ErrGroup;
use super::state::GroupState;
use super::task_slot::TaskSlot;

/// The future returned by [`ErrGroup::start_async`].
///
/// ```
/// let g = gogroup::ErrGroup::new();
/// let _pending: gogroup::StartFuture = g.start_async(); // dropping it unpolled takes nothing
/// assert_eq!(g.active(), 0);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct StartFuture {
    group: ErrGroup,
    /// This future's entry in the limit's wait list, while it waits for a slot.
    entry: Option<usize>,
    /// The wake-up on the group's token, while it waits for a slot.
    registration: Option<Registration>,
    /// Made by `start_queued`: the task is in the group's count until a slot is handed over
    /// (the slot then owns that count) or the future gives up.
    counted: bool,
}

impl fmt::Debug for StartFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartFuture").finish_non_exhaustive()
    }
}

impl StartFuture {
    /// A future for `group`; `counted`: the task is already in the group's count.
    pub(super) fn new(group: ErrGroup, counted: bool) -> StartFuture {
        StartFuture {
            group,
            entry: None,
            registration: None,
            counted,
        }
    }

    /// Unregisters; `gave_up`: without taking a slot, so a wake-up meant for this future is
    /// passed on (a release wakes one future only).
    fn cleanup(&mut self, gave_up: bool) {
        let limit = &self.group.state.limit;
        if gave_up {
            limit.forget(&mut self.entry);
        } else {
            limit.unregister(&mut self.entry);
        }
        if let Some(r) = self.registration.take() {
            r.stop();
        }
    }

    /// Gives up: the cause of the cancellation, and out of the count if `start_queued` put
    /// the task there.
    fn give_up(&mut self, s: &GroupState) -> Result<TaskSlot> {
        self.cleanup(true);
        if std::mem::take(&mut self.counted) {
            let _ = s.wg.done();
        }
        Err(s.token.cause().unwrap_or_else(Error::canceled))
    }

    /// A slot was acquired: the task enters the count (or keeps the one it had).
    fn started(&mut self) -> Result<TaskSlot> {
        self.cleanup(false);
        if std::mem::take(&mut self.counted) {
            Ok(TaskSlot::new(self.group.state.clone()))
        } else {
            self.group.enter()
        }
    }
}

impl StartFuture {
    /// Gives up the wait for a slot without leaving the count: the group will never see this
    /// task start or end (as [`TaskSlot::abandon`]), and the future stops keeping it alive.
    ///
    /// For hosts whose queued task can no longer run because the object that queued it was
    /// garbage-collected. Dropping the future instead takes the task out of the count, so a
    /// `wait` could then complete as though it had run.
    ///
    /// ```
    /// use std::time::Duration;
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(0).unwrap();
    /// g.start_queued().abandon();
    /// assert!(g.wait_timeout(Duration::from_millis(1)).is_err()); // still counted
    /// ```
    pub fn abandon(mut self) {
        self.cleanup(true);
        self.counted = false; // the count stays, for good
    }
}

impl Future for StartFuture {
    type Output = Result<TaskSlot>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<TaskSlot>> {
        let this = &mut *self;
        let s = this.group.state.clone();
        loop {
            // As the blocking `go`: a free slot wins at the first attempt; once waiting, the
            // token's cancellation wins over a slot that frees at the same moment.
            let waiting = this.registration.is_some();
            if waiting && s.token.is_cancelled() {
                return Poll::Ready(this.give_up(&s));
            }
            if s.limit.try_acquire() {
                return Poll::Ready(this.started());
            }
            if s.token.is_cancelled() {
                return Poll::Ready(this.give_up(&s));
            }
            if this.registration.is_none() {
                this.registration = Some(GroupState::wake_limit_on_cancel(&s));
            }
            if !s
                .limit
                .register(&mut this.entry, cx.waker(), || s.token.is_cancelled())
            {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for StartFuture {
    fn drop(&mut self) {
        self.cleanup(true);
        if std::mem::take(&mut self.counted) {
            let _ = self.group.state.wg.done();
        }
    }
}

/// The future returned by [`ErrGroup::wait_async`].
///
/// ```
/// let g = gogroup::ErrGroup::new();
/// let _fut: gogroup::ErrGroupFuture = g.wait_async();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ErrGroupFuture {
    group: ErrGroup,
    wait: WaitGroupFuture,
}

impl fmt::Debug for ErrGroupFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroupFuture").finish_non_exhaustive()
    }
}

impl ErrGroupFuture {
    pub(super) fn new(group: ErrGroup) -> ErrGroupFuture {
        let wait = group.state.wg.wait_strong();
        ErrGroupFuture { group, wait }
    }
}

impl Future for ErrGroupFuture {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match Pin::new(&mut self.wait).poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.group.state.finish()),
            Poll::Pending => Poll::Pending,
        }
    }
}
