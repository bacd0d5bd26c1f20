//! [`WeakErrGroup`]: a handle that watches a group without keeping it alive, and whose waits
//! end as *abandoned* once nothing can finish the group's tasks any more.
//!
//! For hosts with a garbage collector. A JS promise returned by `wait()` must not pin the
//! group it waits for: if the group becomes unreachable while a task that will never settle
//! holds a slot, the promise must be released with it — neither pending in a table forever
//! nor rejected with a "task abandoned" error at some unrelated later moment.
//!
//! The holders of a group's count (invariant 8 of `wait_group`) are its [`ErrGroup`] handles
//! and its task slots. A weak handle and its futures are not holders. Once the last holder is
//! gone, the count can never change again: a weak wait whose round had not ended by then ends
//! with `None`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{Error, Result};
use crate::loom::Arc;
use crate::panic_slot::drop_quietly;
use crate::wait_group::WeakWaitGroupFuture;

use super::ErrGroup;
use super::state::GroupState;

/// A handle that watches an [`ErrGroup`] without keeping it alive: see
/// [`ErrGroup::downgrade`].
///
/// ```
/// let g = gogroup::ErrGroup::new();
/// let slot = g.start().unwrap();
/// let weak = g.downgrade();
/// assert_eq!(weak.active(), 1);
/// drop(g);
/// assert!(!weak.is_abandoned()); // the slot can still finish the group's round
/// slot.abandon();
/// assert!(weak.is_abandoned());
/// ```
#[derive(Clone)]
pub struct WeakErrGroup {
    state: Arc<GroupState>,
}

impl fmt::Debug for WeakErrGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakErrGroup")
            .field("active", &self.active())
            .field("abandoned", &self.is_abandoned())
            .finish()
    }
}

impl ErrGroup {
    /// A weak handle to this group: it can wait for the group and read its outcome, but it is
    /// not a holder. Once every `ErrGroup` handle and every task slot is gone (finished,
    /// dropped or [abandoned](crate::TaskSlot::abandon)), nothing can change the group any
    /// more and its weak waits end as abandoned instead of pending forever.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let weak = g.downgrade();
    /// assert!(!weak.is_abandoned());
    /// drop(g);
    /// assert!(weak.is_abandoned());
    /// ```
    pub fn downgrade(&self) -> WeakErrGroup {
        WeakErrGroup {
            state: self.state.clone(),
        }
    }
}

impl WeakErrGroup {
    /// Whether nothing can change the group any more: no `ErrGroup` handle and no task slot
    /// is left. Once true, it stays true.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let weak = g.downgrade();
    /// let clone = g.clone();
    /// drop(g);
    /// assert!(!weak.is_abandoned());
    /// drop(clone);
    /// assert!(weak.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.state.wg.is_abandoned()
    }

    /// As [`ErrGroup::active`]: tasks holding a slot (abandoned ones included: they never end).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.start().unwrap().abandon();
    /// assert_eq!(g.downgrade().active(), 1);
    /// ```
    pub fn active(&self) -> usize {
        self.state.limit.active()
    }

    /// As [`ErrGroup::errors`].
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.start().unwrap().finish(Err(gogroup::Error::custom("x")));
    /// assert_eq!(g.downgrade().errors().len(), 1);
    /// ```
    pub fn errors(&self) -> Vec<Error> {
        self.state.errors()
    }

    /// A future resolving to what [`ErrGroup::wait_until`] returns once every task finished
    /// (`Some`: the first failure, a panic reported as an
    /// [`ErrorKind::Panic`](crate::ErrorKind::Panic) error, never resumed), or to `None` if the
    /// group is abandoned first (see [`is_abandoned`](WeakErrGroup::is_abandoned)). Only a
    /// wait that ends with `Some` reads the outcome, and so cancels a `with_token` group's
    /// token, as `wait` does; dropping it unfinished changes nothing.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct W(std::thread::Thread);
    /// #     impl std::task::Wake for W { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = std::sync::Arc::new(W(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v } std::thread::park() }
    /// # }
    /// let g = gogroup::ErrGroup::new();
    /// let weak = g.downgrade();
    /// let slot = g.start().unwrap();
    /// drop(g);
    /// std::thread::spawn(move || slot.finish(Err(gogroup::Error::custom("late"))));
    /// assert_eq!(block_on(weak.wait_async()).unwrap().unwrap_err().to_string(), "late");
    ///
    /// let g = gogroup::ErrGroup::new();
    /// let weak = g.downgrade();
    /// g.start().unwrap().abandon(); // a task that will never report
    /// std::thread::spawn(move || drop(g));
    /// assert!(block_on(weak.wait_async()).is_none()); // abandoned: no outcome, no error
    /// ```
    pub fn wait_async(&self) -> WeakErrGroupFuture {
        WeakErrGroupFuture {
            wait: self.state.wg.wait_async(),
            state: self.state.clone(),
        }
    }
}

/// The future returned by [`WeakErrGroup::wait_async`].
///
/// ```
/// let g = gogroup::ErrGroup::new();
/// let _fut: gogroup::WeakErrGroupFuture = g.downgrade().wait_async();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WeakErrGroupFuture {
    wait: WeakWaitGroupFuture,
    state: Arc<GroupState>,
}

impl fmt::Debug for WeakErrGroupFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakErrGroupFuture").finish_non_exhaustive()
    }
}

impl Future for WeakErrGroupFuture {
    type Output = Option<Result<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.wait).poll(cx) {
            // The count's own panic slot is never used by a group (its tasks' panics go to
            // the outcome), so only the round's end matters.
            Poll::Ready(Some(_)) => {
                let (result, payload) = self.state.verdict();
                drop_quietly(payload); // reported as an error instead
                Poll::Ready(Some(result))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
