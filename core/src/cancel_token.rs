//! [`CancelToken`]: Go's `context` cancellation (without values), for every runtime.
//!
//! A token is a node in a tree. Cancelling it cancels all of its descendants *before*
//! [`cancel`](CancelToken::cancel) returns; cancelling a child never touches its parent. Each
//! token records two things once, as Go does: an [`err`](CancelToken::err) that is only ever
//! `Canceled` or `DeadlineExceeded`, and a [`cause`](CancelToken::cause) — the error given to
//! [`cancel_with`](CancelToken::cancel_with), else the err. The first cancellation wins.
//!
//! Compared with the tokens you may know:
//!
//! | | Go `context` | tokio-util `CancellationToken` | gogroup `CancelToken` |
//! |---|---|---|---|
//! | cause | `WithCancelCause` | none | any [`Error`], carrying a host payload untouched |
//! | deadlines | `WithDeadline`/`WithTimeout` | compose by hand | one timer thread for all |
//! | callbacks | `AfterFunc` + `stop` | none | [`on_cancel`](CancelToken::on_cancel) + [`Registration::stop`] |
//! | merge | recipe with `AfterFunc` | none | [`CancelToken::any`] |
//! | `is_cancelled` | atomic | takes a mutex | one atomic load |
//! | dropped children | removed on cancel | removed | removed on drop *or* cancel |
//! | `t = t.child()` chains | any depth | spliced to one link | spliced to one link; no recursion at any depth |
//!
//! Children and `any` tokens leave no trace in their parents once dropped or cancelled, so a
//! long-lived parent does not grow (the leak `AbortSignal.any` has).
//!
//! The tree itself — its invariants and lock order — lives in `cancel_token/tree.rs`.

mod tree;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::loom::Arc;
use crate::wait_list::WaitList;

use tree::{Node, Why};

/// A cancellation signal shared by any number of threads, tasks and runtimes.
///
/// `CancelToken` is a handle: clones refer to the same token. When the last handle of a child
/// token is dropped, it detaches from its parent; if it still has children or callbacks and
/// no deadline of its own, those move to its parent instead and it leaves the tree (it is
/// *spliced out*, as in tokio-util). So a `t = t.child()` loop stays one link long however
/// many times it runs, and trees of any depth are cancelled, dropped and released without
/// recursion, on any thread's stack.
///
/// # Examples
/// ```
/// use gogroup::{CancelToken, ErrorKind};
///
/// let root = CancelToken::new();
/// let child = root.child();
/// let grandchild = child.child();
/// root.cancel();
/// assert!(grandchild.is_cancelled()); // synchronously, before cancel returned
/// assert_eq!(grandchild.err().unwrap().kind(), ErrorKind::Canceled);
/// ```
pub struct CancelToken {
    node: Arc<Node>,
}

impl CancelToken {
    /// A new root token, never cancelled unless you cancel it.
    ///
    /// ```
    /// assert!(!gogroup::CancelToken::new().is_cancelled());
    /// ```
    pub fn new() -> CancelToken {
        CancelToken {
            node: Node::new_root(),
        }
    }

    fn from_node(node: Arc<Node>) -> CancelToken {
        CancelToken { node }
    }

    /// A child token: cancelled when `self` is (with the same err and cause), and cancellable on
    /// its own without affecting `self`. A child of a cancelled token is born cancelled.
    ///
    /// ```
    /// let parent = gogroup::CancelToken::new();
    /// let child = parent.child();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// ```
    ///
    /// Chains of any depth are fine: once a token's handles are gone its children hang from
    /// its parent, so cancelling the leaf below costs the same as cancelling a direct child.
    ///
    /// ```
    /// let root = gogroup::CancelToken::new();
    /// let mut t = root.child();
    /// for _ in 0..100_000 {
    ///     t = t.child(); // the previous level has no handle left: it is spliced out
    /// }
    /// assert_eq!(root.dependents(), 1); // the leaf, directly
    /// root.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn child(&self) -> CancelToken {
        CancelToken::from_node(tree::attach(&[&self.node], self.node.deadline))
    }

    /// A child token cancelled with [`ErrorKind::DeadlineExceeded`](crate::ErrorKind) after
    /// `timeout` (Go's `WithTimeout`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gogroup::CancelToken::new().with_timeout(Duration::from_millis(1));
    /// assert!(t.wait_timeout(Duration::from_secs(10)));
    /// assert_eq!(t.err().unwrap().kind(), gogroup::ErrorKind::DeadlineExceeded);
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> CancelToken {
        self.with_deadline_inner(Instant::now().checked_add(timeout), None)
    }

    /// A child token cancelled with `DeadlineExceeded` at `deadline` (Go's `WithDeadline`).
    ///
    /// If `self` already has an earlier deadline, this is a plain [`child`](CancelToken::child).
    /// A deadline in the past gives a token that is already cancelled.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new().with_deadline(std::time::Instant::now());
    /// assert!(t.is_cancelled());
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> CancelToken {
        self.with_deadline_inner(Some(deadline), None)
    }

    /// Like [`with_timeout`](CancelToken::with_timeout), recording `cause` as the cause *if
    /// the deadline fires* (Go's `WithTimeoutCause`); a manual cancel records `Canceled`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let slow = gogroup::Error::custom("too slow");
    /// let t = gogroup::CancelToken::new().with_timeout_cause(Duration::ZERO, slow.clone());
    /// assert_eq!(t.err().unwrap().kind(), gogroup::ErrorKind::DeadlineExceeded);
    /// assert!(gogroup::Error::ptr_eq(&t.cause().unwrap(), &slow));
    /// ```
    pub fn with_timeout_cause(&self, timeout: Duration, cause: Error) -> CancelToken {
        self.with_deadline_inner(Instant::now().checked_add(timeout), Some(cause))
    }

    /// Like [`with_deadline`](CancelToken::with_deadline), recording `cause` if the deadline
    /// fires (Go's `WithDeadlineCause`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let why = gogroup::Error::custom("quote expired");
    /// let t = gogroup::CancelToken::new().with_deadline_cause(Instant::now() + Duration::from_secs(60), why);
    /// t.cancel(); // a manual cancel records Canceled, not the deadline's cause
    /// assert_eq!(t.cause().unwrap().kind(), gogroup::ErrorKind::Canceled);
    /// ```
    pub fn with_deadline_cause(&self, deadline: Instant, cause: Error) -> CancelToken {
        self.with_deadline_inner(Some(deadline), Some(cause))
    }

    fn with_deadline_inner(&self, deadline: Option<Instant>, cause: Option<Error>) -> CancelToken {
        let Some(at) = deadline else {
            return self.child(); // overflowing timeout: no deadline at all
        };
        if self.node.deadline.is_some_and(|d| d <= at) {
            return self.child(); // the parent's earlier deadline governs (Go does the same)
        }
        let node = tree::attach(&[&self.node], Some(at));
        if at <= Instant::now() {
            tree::cancel(&node, Why::DeadlineExceeded, cause);
        } else if !node.is_cancelled() {
            tree::arm_deadline(&node, at, cause);
        }
        CancelToken::from_node(node)
    }

    /// A token cancelled as soon as any of `tokens` is, with that token's err and cause.
    ///
    /// It keeps no trace in the inputs once it is dropped or cancelled. With no inputs it is a
    /// token that is never cancelled unless you cancel it.
    ///
    /// ```
    /// use gogroup::{CancelToken, Error};
    /// let (a, b) = (CancelToken::new(), CancelToken::new());
    /// let either = CancelToken::any([&a, &b]);
    /// let why = Error::custom("b gave up");
    /// b.cancel_with(why.clone());
    /// assert!(Error::ptr_eq(&either.cause().unwrap(), &why));
    /// drop(either);
    /// assert_eq!(a.dependents(), 0);
    /// ```
    pub fn any<'a>(tokens: impl IntoIterator<Item = &'a CancelToken>) -> CancelToken {
        let nodes: Vec<&Arc<Node>> = tokens.into_iter().map(|t| &t.node).collect();
        let deadline = nodes.iter().filter_map(|n| n.deadline).min();
        CancelToken::from_node(tree::attach(&nodes, deadline))
    }

    /// Cancels the token and all its descendants with cause `Canceled`.
    ///
    /// Returns true if this call cancelled it, false if it already was (the first cancel wins).
    /// Does not wait for `on_cancel` callbacks.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// assert!(t.cancel());
    /// assert!(!t.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        tree::cancel(&self.node, Why::Canceled, None)
    }

    /// Cancels with `cause` (Go's `CancelCauseFunc`). `err()` is still `Canceled`.
    ///
    /// A later cause is ignored: the first cancellation wins.
    ///
    /// ```
    /// use gogroup::{CancelToken, Error, ErrorKind};
    /// let t = CancelToken::new();
    /// t.cancel_with(Error::custom("shutting down"));
    /// t.cancel_with(Error::custom("ignored"));
    /// assert_eq!(t.err().unwrap().kind(), ErrorKind::Canceled);
    /// assert_eq!(t.cause().unwrap().to_string(), "shutting down");
    /// ```
    pub fn cancel_with(&self, cause: Error) -> bool {
        tree::cancel(&self.node, Why::Canceled, Some(cause))
    }

    /// Cancels the token as a passed deadline does: `err()` reports `DeadlineExceeded`, and so
    /// does `cause()` unless `cause` gives one (as Go's `WithDeadlineCause`).
    ///
    /// For bridges that mirror a token living elsewhere (in another copy of gogroup, or a
    /// host's own timeout signal such as `AbortSignal.timeout()`): the mirror reports the same
    /// reason as the original. Returns true if this call cancelled the token.
    ///
    /// ```
    /// use gogroup::{CancelToken, Error, ErrorKind};
    /// let t = CancelToken::new();
    /// let child = t.child();
    /// assert!(t.expire_with(None));
    /// assert_eq!(child.err().unwrap().kind(), ErrorKind::DeadlineExceeded);
    /// assert_eq!(child.cause().unwrap().kind(), ErrorKind::DeadlineExceeded);
    ///
    /// let u = CancelToken::new();
    /// u.expire_with(Some(Error::custom("the upstream request timed out")));
    /// assert_eq!(u.err().unwrap().kind(), ErrorKind::DeadlineExceeded);
    /// assert_eq!(u.cause().unwrap().to_string(), "the upstream request timed out");
    /// ```
    pub fn expire_with(&self, cause: Option<Error>) -> bool {
        tree::cancel(&self.node, Why::DeadlineExceeded, cause)
    }

    /// The cause given to this token, but only if it is reachable through this handle alone:
    /// no other handle to the token exists (no clone, child link, timer, registration or task
    /// holds it) and nothing else holds the cause. `None` otherwise, and for a token that is
    /// live or was cancelled without a cause. Never blocks (`None` if the token is busy).
    ///
    /// For bindings whose garbage collector must be told what an object holds: a Python
    /// exception kept as a cause refers to its traceback, whose frames may refer back to the
    /// token's Python object. That cycle runs through Rust, where the collector cannot see it;
    /// reporting the cause from the one handle that alone reaches it lets the collector free
    /// the cycle, while a cause shared with anything else is never reported (which would make
    /// the collector free something still in use).
    ///
    /// ```
    /// use gogroup::{CancelToken, Error};
    /// let t = CancelToken::new();
    /// t.cancel_with(Error::custom("stop"));
    /// assert_eq!(t.sole_cause().unwrap().to_string(), "stop");
    /// let other = t.clone(); // a second handle: the cause is shared now
    /// assert!(t.sole_cause().is_none());
    /// drop(other);
    /// let cause = t.cause().unwrap(); // held elsewhere too
    /// assert!(t.sole_cause().is_none());
    /// drop(cause);
    /// assert!(t.sole_cause().is_some());
    /// ```
    pub fn sole_cause(&self) -> Option<Error> {
        if Arc::strong_count(&self.node) != 1 {
            return None;
        }
        let cause = self.node.try_given_cause()?;
        // The node's own reference and the clone just made: nobody else.
        (cause.holders() == 2).then_some(cause)
    }

    /// Whether the token is cancelled. One atomic load.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// assert!(!t.is_cancelled());
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// `None` while live; then `Canceled` or `DeadlineExceeded`, never anything else (Go's
    /// `ctx.Err()`).
    ///
    /// ```
    /// use gogroup::{CancelToken, Error, ErrorKind};
    /// let t = CancelToken::new();
    /// assert!(t.err().is_none());
    /// t.cancel_with(Error::custom("why"));
    /// assert_eq!(t.err().unwrap().kind(), ErrorKind::Canceled); // the cause goes to cause()
    /// ```
    pub fn err(&self) -> Option<Error> {
        self.node.err()
    }

    /// `None` while live; then the cause given to `cancel_with` (or to a `*_cause`
    /// deadline that fired), else the same as [`err`](CancelToken::err) (Go's `context.Cause`).
    ///
    /// ```
    /// use gogroup::{CancelToken, ErrorKind};
    /// let t = CancelToken::new();
    /// t.cancel();
    /// assert_eq!(t.cause().unwrap().kind(), ErrorKind::Canceled); // no cause given: the err
    /// ```
    pub fn cause(&self) -> Option<Error> {
        self.node.cause()
    }

    /// The effective deadline: the earliest of this token's and its ancestors'.
    ///
    /// ```
    /// use std::time::Duration;
    /// let outer = gogroup::CancelToken::new().with_timeout(Duration::from_secs(60));
    /// let inner = outer.with_timeout(Duration::from_secs(3600));
    /// assert_eq!(inner.deadline(), outer.deadline());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// Runs `f(cause)` on gogroup's pool once the token is cancelled — at once if it already is
    /// (Go's `AfterFunc`). `cancel` does not wait for `f`.
    ///
    /// Dropping the returned [`Registration`] leaves `f` registered; call
    /// [`Registration::stop`] to unregister it.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let reg = t.on_cancel(move |cause| tx.send(cause.to_string()).unwrap());
    /// t.cancel();
    /// assert_eq!(rx.recv().unwrap(), "context canceled");
    /// assert!(!reg.stop()); // too late: f already ran
    /// ```
    pub fn on_cancel<F: FnOnce(Error) + Send + 'static>(&self, f: F) -> Registration {
        self.register(Box::new(f), false)
    }

    /// Like [`on_cancel`](CancelToken::on_cancel), but `f` runs on the cancelling thread, after
    /// every lock is released and before `cancel` returns. `f` must be quick and must not block:
    /// it is meant for wake-ups (a condition variable, an eventfd, an event-loop callback).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let t = gogroup::CancelToken::new();
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let s = seen.clone();
    /// t.on_cancel_inline(move |_| s.store(true, Ordering::SeqCst));
    /// t.cancel();
    /// assert!(seen.load(Ordering::SeqCst));
    /// ```
    pub fn on_cancel_inline<F: FnOnce(Error) + Send + 'static>(&self, f: F) -> Registration {
        self.register(Box::new(f), true)
    }

    fn register(&self, f: tree::CallbackFn, inline: bool) -> Registration {
        Registration {
            callback: tree::register(&self.node, f, inline),
        }
    }

    /// A guard that cancels this token when dropped (scope exit, early return, panic).
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// {
    ///     let _guard = t.drop_guard();
    /// }
    /// assert!(t.is_cancelled());
    /// ```
    pub fn drop_guard(&self) -> DropGuard {
        DropGuard {
            token: Some(self.clone()),
        }
    }

    /// Child tokens and callbacks currently registered on this token (a diagnostic: it returns
    /// to zero once they are dropped, cancelled or stopped).
    ///
    /// It counts what hangs from this token *now*: when a child's last handle is dropped while
    /// it still has children or callbacks (and no deadline of its own), those move up to this
    /// token and are counted here instead of the child.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// let c = t.child();
    /// assert_eq!(t.dependents(), 1);
    /// drop(c);
    /// assert_eq!(t.dependents(), 0);
    ///
    /// let c = t.child();
    /// let (grandchild, reg) = (c.child(), c.on_cancel(|_| {}));
    /// drop(c); // spliced out: its grandchild and callback now hang from t
    /// assert_eq!(t.dependents(), 2);
    /// assert!(reg.stop());
    /// drop(grandchild);
    /// assert_eq!(t.dependents(), 0);
    /// ```
    pub fn dependents(&self) -> usize {
        self.node.dependents()
    }

    /// Blocks until the token is cancelled.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// let t2 = t.clone();
    /// std::thread::spawn(move || t2.cancel());
    /// t.wait();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn wait(&self) {
        if !self.is_cancelled() {
            self.node
                .wait_list()
                .block_until(|| self.is_cancelled(), None);
        }
    }

    /// Blocks until the token is cancelled or `timeout` passes; true if cancelled.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// assert!(!t.wait_timeout(std::time::Duration::from_millis(1)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        match Instant::now().checked_add(timeout) {
            Some(d) => {
                self.is_cancelled()
                    || self
                        .node
                        .wait_list()
                        .block_until(|| self.is_cancelled(), Some(d))
            }
            None => {
                self.wait();
                true
            }
        }
    }

    /// Blocks until this token or `other` is cancelled.
    ///
    /// # Errors
    /// `other`'s cause if `other` was cancelled while `self` was not.
    ///
    /// ```
    /// let (t, stop) = (gogroup::CancelToken::new(), gogroup::CancelToken::new());
    /// stop.cancel();
    /// assert!(t.wait_cancellable(&stop).is_err());
    /// ```
    pub fn wait_cancellable(&self, other: &CancelToken) -> Result<()> {
        self.wait_until(None, Some(other))
    }

    /// The general wait: until cancelled, `deadline`, or `other`'s cancellation.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) if `deadline` passed first; `other`'s
    /// cause if `other` was cancelled first.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let t = gogroup::CancelToken::new();
    /// let err = t.wait_until(Some(Instant::now() + Duration::from_millis(1)), None).unwrap_err();
    /// assert_eq!(err.kind(), gogroup::ErrorKind::Timeout);
    /// ```
    pub fn wait_until(&self, deadline: Option<Instant>, other: Option<&CancelToken>) -> Result<()> {
        let list = self.node.wait_list();
        let registration = other.map(|o| {
            let list = list.clone();
            o.on_cancel_inline(move |_| list.notify_all())
        });
        let done = list.block_until(
            || self.is_cancelled() || other.is_some_and(|o| o.is_cancelled()),
            deadline,
        );
        if let Some(r) = registration {
            r.stop();
        }
        if self.is_cancelled() {
            Ok(())
        } else if let Some(o) = other.filter(|_| done) {
            Err(o.cause().unwrap_or_else(Error::canceled))
        } else {
            Err(Error::timeout())
        }
    }

    /// A future that completes when the token is cancelled (a plain `Future`, no runtime).
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
    /// let t = gogroup::CancelToken::new();
    /// let t2 = t.clone();
    /// std::thread::spawn(move || t2.cancel());
    /// block_on(t.wait_async());
    /// ```
    pub fn wait_async(&self) -> CancelledFuture {
        CancelledFuture {
            token: self.clone(),
            list: None,
            key: None,
        }
    }

    /// Whether `a` and `b` are handles to the same token.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// assert!(gogroup::CancelToken::ptr_eq(&t, &t.clone()));
    /// assert!(!gogroup::CancelToken::ptr_eq(&t, &t.child()));
    /// ```
    pub fn ptr_eq(a: &CancelToken, b: &CancelToken) -> bool {
        Arc::ptr_eq(&a.node, &b.node)
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl Clone for CancelToken {
    fn clone(&self) -> Self {
        // Like `Arc`, refuse to wrap around: billions of handles can only be a leak in a loop.
        if self.node.handles.fetch_add(1, Ordering::Relaxed) >= u32::MAX / 2 {
            std::process::abort();
        }
        CancelToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        // A cancelled node already left its parents and its deadline (invariant 4).
        if self.node.handles.fetch_sub(1, Ordering::AcqRel) == 1 && !self.node.is_cancelled() {
            tree::release(&self.node);
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .field("deadline", &self.deadline())
            .finish()
    }
}

/// An `on_cancel` callback's registration (Go's `AfterFunc` stop function).
///
/// Dropping it leaves the callback registered, as in Go.
///
/// ```
/// let t = gogroup::CancelToken::new();
/// let reg = t.on_cancel(|_| {});
/// assert_eq!(t.dependents(), 1);
/// assert!(reg.stop());
/// assert_eq!(t.dependents(), 0);
/// ```
pub struct Registration {
    /// The callback knows which token holds it now: it moves to an ancestor when the token it
    /// was registered on is spliced out of the tree (see [`CancelToken::child`]).
    callback: Arc<tree::Callback>,
}

impl Registration {
    /// Unregisters the callback. True iff this prevented it from running; false if it already
    /// started (or ran) or was already stopped. Does not wait for a running callback.
    ///
    /// The callback is found wherever it is now, also after the token it was registered on
    /// was spliced out of the tree (see [`CancelToken`]) and it moved to an ancestor.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// let reg = t.on_cancel(|_| unreachable!());
    /// assert!(reg.stop());
    /// assert!(!reg.stop());
    /// t.cancel();
    ///
    /// let root = gogroup::CancelToken::new();
    /// let child = root.child();
    /// let reg = child.on_cancel(|_| unreachable!());
    /// drop(child); // the callback moves to root
    /// assert!(reg.stop());
    /// root.cancel();
    /// ```
    pub fn stop(&self) -> bool {
        tree::unregister(&self.callback)
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration").finish_non_exhaustive()
    }
}

/// Cancels its token when dropped. See [`CancelToken::drop_guard`].
///
/// ```
/// let t = gogroup::CancelToken::new();
/// drop(t.drop_guard());
/// assert!(t.is_cancelled());
/// ```
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancelToken>,
}

impl DropGuard {
    /// Defuses the guard and returns the token, uncancelled.
    ///
    /// ```
    /// let t = gogroup::CancelToken::new();
    /// let kept = t.drop_guard().disarm();
    /// assert!(!kept.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancelToken {
        self.token
            .take()
            .expect("a DropGuard always holds its token until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(t) = self.token.take() {
            t.cancel();
        }
    }
}

/// The future returned by [`CancelToken::wait_async`].
///
/// ```
/// let t = gogroup::CancelToken::new();
/// t.cancel();
/// let _ready: gogroup::CancelledFuture = t.wait_async(); // completes at its first poll
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CancelledFuture {
    token: CancelToken,
    /// The token's wait list and this future's slot in it, once registered.
    list: Option<Arc<WaitList>>,
    key: Option<usize>,
}

impl fmt::Debug for CancelledFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelledFuture")
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}

impl Future for CancelledFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.token.is_cancelled() {
            if let Some(list) = &this.list {
                list.remove(&mut this.key);
            }
            return Poll::Ready(());
        }
        let node = &this.token.node;
        let list = this.list.get_or_insert_with(|| node.wait_list());
        if list.register(&mut this.key, cx.waker(), || node.is_cancelled()) {
            list.remove(&mut this.key);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for CancelledFuture {
    fn drop(&mut self) {
        if let Some(list) = &self.list {
            list.remove(&mut self.key);
        }
    }
}
