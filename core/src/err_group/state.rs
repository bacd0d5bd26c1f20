//! [`GroupState`]: what every handle of one group shares — the `ErrGroup` clones, their
//! [`TaskSlot`](super::TaskSlot)s and futures.
//!
//! An `ErrGroup` is a `WaitGroup` (the count `wait` waits for), a token (what the tasks watch),
//! a [`Limit`] (the active tasks' slots) and an [`Outcome`] (what the tasks reported), held
//! together. Each of these keeps its own invariants in its own file; this file only puts them
//! side by side.

use crate::cancel_token::{CancelToken, Registration};
use crate::limit::Limit;
use crate::loom::{Arc, Mutex};
use crate::wait_group::WeakWaitGroup;

use super::builder::Collect;
use super::outcome::Outcome;

/// The state one group's handles, slots and futures share.
pub(super) struct GroupState {
    /// The count `wait` waits for. Its holders (invariant 8 of `wait_group`) are the group's
    /// `ErrGroup` handles and its tasks' seats: once all are gone the group is abandoned, and
    /// nothing can ever change the count.
    pub(super) wg: WeakWaitGroup,
    pub(super) token: CancelToken,
    /// Go's `WithContext`: cancel on the first error and when `wait` returns.
    pub(super) cancel_on_error: bool,
    pub(super) limit: Limit,
    pub(super) collect: Collect,
    /// Every decision about failures is made under this one lock (see `outcome`).
    pub(super) outcome: Mutex<Outcome>,
}

impl GroupState {
    /// Registers, on the group's token, a wake-up of every limit waiter (the limit's invariant
    /// 4: a task waiting for a slot gives up when the group is cancelled). Stopped by the waiter.
    /// (An associated function: loom's `Arc` cannot be a method receiver.)
    pub(super) fn wake_limit_on_cancel(this: &Arc<Self>) -> Registration {
        let me = this.clone();
        this.token.on_cancel_inline(move |_| me.limit.wake_all())
    }

    /// A group's state: a child of `parent` as its token (then the first error cancels it),
    /// else a token of its own; `limit` as `set_limit` takes it. Its count has one holder,
    /// which the caller's `ErrGroup` handle owns.
    pub(super) fn new(parent: Option<&CancelToken>, limit: i64, collect: Collect) -> Arc<Self> {
        let (token, cancel_on_error) = match parent {
            Some(p) => (p.child(), true),
            None => (CancelToken::new(), false),
        };
        Arc::new(GroupState {
            wg: WeakWaitGroup::new_held(),
            token,
            cancel_on_error,
            limit: Limit::new(limit),
            collect,
            outcome: Mutex::new(Outcome::default()),
        })
    }
}
