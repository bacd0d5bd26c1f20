//! How an [`ErrGroup`] is configured: [`ErrGroupBuilder`] (token, limit, collection mode) and
//! [`Collect`], the rule for which task errors the group keeps.
//!
//! Go configures an `errgroup.Group` by which constructor you call (`WithContext` or the zero
//! value) and by `SetLimit`; here the same three choices are one builder, so a binding can pass
//! them through in one call.

use crate::cancel_token::CancelToken;

use super::ErrGroup;
use super::state::GroupState;

/// Which task errors an [`ErrGroup`] keeps.
///
/// ```
/// use gogroup::{Collect, ErrGroup, Error};
/// let g = ErrGroup::builder().collect(Collect::All).build();
/// g.go(|_| Err(Error::custom("a"))).unwrap();
/// g.go(|_| Err(Error::custom("b"))).unwrap();
/// assert!(g.wait().is_err());
/// assert_eq!(g.errors().len(), 2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Collect {
    /// Only the first error (Go's rule); later errors are dropped, deliberately.
    #[default]
    First,
    /// Every error, in the order the tasks finished. [`ErrGroup::wait`] still returns the first;
    /// [`ErrGroup::errors`] returns them all — except the cancellations the group's own first
    /// failure caused: once that failure has cancelled the group's token (a group with a
    /// token, live until then), a later error that [`is_canceled`](crate::Error::is_canceled)
    /// is a sibling giving up because it was told to, not news, and is dropped, deliberately
    /// (as `asyncio.TaskGroup` leaves its tasks' `CancelledError` out of the
    /// `ExceptionGroup`). Cancellations that something else caused (a parent token) are kept.
    ///
    /// ```
    /// use gogroup::{CancelToken, Collect, ErrGroup, Error};
    /// let g = ErrGroup::builder().token(&CancelToken::new()).collect(Collect::All).build();
    /// g.go(|_| Err(Error::custom("disk full"))).unwrap();
    /// g.go(|t| {
    ///     t.wait(); // cancelled by the failure above
    ///     Err(t.err().unwrap()) // "context canceled": left out
    /// })
    /// .unwrap();
    /// g.go(|t| {
    ///     t.wait();
    ///     Err(Error::custom("rollback failed")) // a failure of its own: kept
    /// })
    /// .unwrap();
    /// assert_eq!(g.wait().unwrap_err().message(), "disk full");
    /// let messages: Vec<_> = g.errors().iter().map(|e| e.message().to_owned()).collect();
    /// assert_eq!(messages, ["disk full", "rollback failed"]);
    /// ```
    All,
}

/// Builds an [`ErrGroup`] with a token, a limit and a collection mode.
///
/// ```
/// use gogroup::{CancelToken, Collect, ErrGroup};
/// let parent = CancelToken::new();
/// let g = ErrGroup::builder().token(&parent).limit(4).collect(Collect::All).build();
/// assert_eq!(g.limit(), Some(4));
/// ```
#[derive(Debug, Default)]
pub struct ErrGroupBuilder {
    parent: Option<CancelToken>,
    limit: Option<i64>,
    collect: Collect,
}

impl ErrGroupBuilder {
    /// Derive the group's token from `parent`, and cancel it on the first error and when `wait`
    /// returns (Go's `WithContext`).
    ///
    /// ```
    /// let parent = gogroup::CancelToken::new();
    /// let g = gogroup::ErrGroup::builder().token(&parent).build();
    /// parent.cancel();
    /// assert!(g.token().is_cancelled());
    /// ```
    pub fn token(mut self, parent: &CancelToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// At most `n` active tasks (negative: no limit; 0: nothing may start).
    ///
    /// ```
    /// assert_eq!(gogroup::ErrGroup::builder().limit(3).build().limit(), Some(3));
    /// ```
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Which errors to keep.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::builder().collect(gogroup::Collect::All).build();
    /// assert!(g.errors().is_empty());
    /// ```
    pub fn collect(mut self, collect: Collect) -> Self {
        self.collect = collect;
        self
    }

    /// The group.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::builder().build(); // same as ErrGroup::new()
    /// g.wait().unwrap();
    /// ```
    pub fn build(self) -> ErrGroup {
        ErrGroup {
            state: GroupState::new(self.parent.as_ref(), self.limit.unwrap_or(-1), self.collect),
        }
    }
}
