//! The group's outcome: which failure is *the* failure, decided once.
//!
//! Several tasks can fail at the same moment, and some fail by panicking. Go's errgroup keeps
//! the first error (`errOnce`) and cancels the context with it; it does not capture panics.
//! Here a failure is an error or a panic, and three things must agree on which one counts: the
//! token's cause (what the other tasks see), the error `wait` returns, and the panic `wait`
//! resumes. They agree because one function, [`GroupState::fail`], decides under one lock, and
//! the token is cancelled only with what that decision says `wait` will report.
//!
//! # Invariants
//! 1. The first failure (error or panic) never changes: it is sticky across reuse, as Go's
//!    first error is.
//! 2. One decision point: [`GroupState::fail`] decides, under the `outcome` lock, whether a
//!    failure is the group's first and whether its panic is kept; the token is cancelled (if
//!    the rule says so) with what `wait` will report ([`Outcome::reported`]). A `with_token`
//!    group cancels on its first failure; any group cancels on a panic.
//! 3. Which panic `wait` reports (resumes, or returns as an `ErrorKind::Panic` error from
//!    `wait_until`): the first failure if it is a panic; once a `wait` has reported the first
//!    failure, the first panic after that (a later round's panic is never swallowed by an old
//!    sticky error). Any other panic is recorded as a `Panic` error (`Collect::All`) and its
//!    payload dropped — its message already went to the panic hook.
//! 4. Nothing here unwinds: losing payloads and error values (user data whose `Drop` may
//!    panic) are dropped with [`drop_quietly`], outside the lock.

use crate::error::{Error, Result};
use crate::loom::lock;
use crate::panic_slot::{Payload, drop_quietly, panic_error};

use super::builder::Collect;
use super::state::GroupState;

/// What the group's tasks reported, and what `wait` has reported of it.
#[derive(Default)]
pub(super) struct Outcome {
    /// Recorded errors in finishing order (at most one with `Collect::First`). The first is the
    /// group's first failure: sticky, as Go's.
    errors: Vec<Error>,
    /// A panic waiting for a `wait` to report it (invariant 3).
    pending: Option<PendingPanic>,
    /// Whether a `wait` has already reported the first failure.
    first_reported: bool,
    /// Whether the first failure is what cancelled the token (it was live then): later
    /// cancellations are its echo (`Collect::All`'s rule).
    failure_cancelled: bool,
}

struct PendingPanic {
    /// The `Panic` error that describes it: also the token's cause.
    error: Error,
    /// What `wait` resumes (`None` for a `Panic` error reported through `TaskSlot::finish`).
    payload: Option<Payload>,
}

/// How a task failed.
pub(super) enum Failure {
    Error(Error),
    Panic(Payload),
}

impl Outcome {
    /// What a `wait` would report now: the pending panic, else the first failure.
    fn reported(&self) -> Option<Error> {
        match &self.pending {
            Some(p) => Some(p.error.clone()),
            None => self.errors.first().cloned(),
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        // User payloads (a panic's, an error's) may have a panicking `Drop`; the last handle
        // may be dropped on a pool worker.
        drop_quietly(std::mem::take(&mut self.errors));
        drop_quietly(self.pending.take());
    }
}

impl GroupState {
    /// Records a task's failure: the one decision point (invariant 2). Under the outcome
    /// lock it decides whether this is the first failure and whether its panic is kept for
    /// `wait` (invariant 3); after it, it cancels the token, if the rule says so, with what
    /// `wait` will report — so the token's cause and `wait`'s error are the same failure
    /// however tasks race. Never unwinds: losing payloads and errors are dropped quietly.
    pub(super) fn fail(&self, failure: Failure) {
        let (error, mut payload) = match failure {
            Failure::Error(e) => (e, None),
            Failure::Panic(p) => (panic_error(&*p), Some(p)),
        };
        let is_panic = error.kind() == crate::ErrorKind::Panic;
        let cause = {
            let mut o = lock(&self.outcome);
            let first = o.errors.is_empty();
            if first && self.cancel_on_error && !self.token.is_cancelled() {
                o.failure_cancelled = true;
            }
            // A cancellation after the first failure cancelled the token is that failure's
            // echo, not a failure of its own (`Collect::All`'s rule).
            let echo = !first && o.failure_cancelled && error.is_canceled();
            if first || (self.collect == Collect::All && !echo) {
                o.errors.push(error.clone());
            }
            if is_panic && o.pending.is_none() && (first || o.first_reported) {
                o.pending = Some(PendingPanic {
                    error: error.clone(),
                    payload: payload.take(),
                });
            }
            // A panic cancels the token in any group; an error only a `with_token` group's,
            // and only the first. Either way the cause is what `wait` will report.
            (is_panic || (first && self.cancel_on_error))
                .then(|| o.reported())
                .flatten()
        };
        // Outside the lock: user code may run in these drops and in the token's callbacks.
        drop_quietly(payload);
        drop_quietly(error);
        if let Some(cause) = cause {
            self.token.cancel_with(cause);
        }
    }

    /// What a `wait` reports once every task finished: the pending panic (taken: it is
    /// reported once), else the first failure (sticky). A `with_token` group's token is
    /// cancelled with it, or with `Canceled` if no task failed (Go's `Wait`).
    pub(super) fn verdict(&self) -> (Result<()>, Option<Payload>) {
        let (error, payload) = {
            let mut o = lock(&self.outcome);
            let (error, payload) = match o.pending.take() {
                Some(p) => (Some(p.error), p.payload),
                None => (o.errors.first().cloned(), None),
            };
            o.first_reported |= error.is_some();
            (error, payload)
        };
        if self.cancel_on_error {
            self.token
                .cancel_with(error.clone().unwrap_or_else(Error::canceled));
        }
        (error.map_or(Ok(()), Err), payload)
    }

    /// The recorded errors, in finishing order.
    pub(super) fn errors(&self) -> Vec<Error> {
        lock(&self.outcome).errors.clone()
    }

    /// What `wait` does once every task finished: resumes a pending panic, else returns the
    /// first failure.
    pub(super) fn finish(&self) -> Result<()> {
        match self.verdict() {
            (_, Some(p)) => std::panic::resume_unwind(p),
            (result, None) => result,
        }
    }
}
