//! [`ErrGroup`]: Go's `golang.org/x/sync/errgroup.Group`, with a token every task receives.
//!
//! Like Go's: tasks started with [`go`](ErrGroup::go) run concurrently; [`wait`](ErrGroup::wait)
//! waits for all of them and returns the *first* error (the first task to finish with one); that
//! error is sticky across reuse; with a token ([`ErrGroup::with_token`], Go's `WithContext`) the
//! first error cancels the group's token, with that error as the cause, and so does the return
//! of `wait` (cause `Canceled` if no task failed); [`set_limit`](ErrGroup::set_limit) and
//! [`try_go`](ErrGroup::try_go) bound the number of active tasks.
//!
//! Beyond Go, each on purpose:
//! * every task receives the group's [`CancelToken`] directly (golang/go#34510);
//! * changing the limit while tasks are active is an error, [`ErrorKind::LimitInUse`](crate::ErrorKind::LimitInUse) with Go's
//!   text, never a panic and never Go's silent corruption when going from no limit to a limit;
//! * `go` blocked on a full limit returns promptly with the token's cause once the group's
//!   token is cancelled (Go blocks forever);
//! * [`Collect::All`] keeps every error in finishing order (Go refused this four times);
//! * a task's panic cancels the group's token at once and is resumed from `wait` after every
//!   task finished ([`outcome`] says which panic) — the counter and the limit slot are
//!   released only *after* the panic is recorded and the token cancelled, so `wait` can never
//!   return before the panic is known (the race Go fixed in `WaitGroup.Go` but not in
//!   errgroup);
//! * the group's first failure, error or panic, is decided once: it is both the token's cause
//!   and what `wait` reports, however tasks race;
//! * [`shutdown`](ErrGroup::shutdown) cancels, waits at most a grace period, and reports how
//!   many tasks still run (bcmills' `Stop`, golang/go#57534).
//!
//! # Invariants
//! Each lives beside the code that keeps it:
//! * a task's outcome is recorded, and the token cancelled, *before* its limit slot and its
//!   count are released; both are released by a drop guard ([`task_slot`], 1–2);
//! * the first failure is decided once, and is both the token's cause and what `wait` reports
//!   ([`outcome`], 1–3);
//! * `active <= limit` at every instant, and the limit changes only while no task is active
//!   ([`crate::limit`], 1–2).
//!
//! # Where things are
//! * this file: the [`ErrGroup`] handle and every method of it;
//! * [`builder`]: [`ErrGroupBuilder`] and [`Collect`] (how a group is configured);
//! * [`state`]: what the handles, slots and futures of one group share;
//! * [`outcome`]: which failure is *the* failure (the one decision point);
//! * [`task_slot`]: a task's place in the group ([`TaskSlot`]) and how a task runs in it;
//! * [`futures`]: [`StartFuture`] and [`ErrGroupFuture`];
//! * [`weak`]: [`WeakErrGroup`], which waits without keeping the group alive.
//!
//! The limit itself is [`crate::limit`]; the count is a [`crate::WaitGroup`].

mod builder;
mod futures;
mod outcome;
mod state;
mod task_slot;
mod weak;

use std::fmt;
use std::time::{Duration, Instant};

use crate::cancel_token::CancelToken;
use crate::error::{Error, Result};
use crate::loom::Arc;
use crate::panic_slot::drop_quietly;

pub use builder::{Collect, ErrGroupBuilder};
pub use futures::{ErrGroupFuture, StartFuture};
pub use task_slot::TaskSlot;
pub use weak::{WeakErrGroup, WeakErrGroupFuture};

use outcome::Failure;
use state::GroupState;

/// A group of tasks that fail together (Go's `errgroup.Group`).
///
/// `ErrGroup` is a handle: clones refer to the same group (so a task may start more tasks).
///
/// # Examples
/// ```
/// use gogroup::{CancelToken, ErrGroup, Error};
///
/// let g = ErrGroup::with_token(&CancelToken::new());
/// g.go(|token| {
///     // a slow task that stops when a sibling fails
///     token.wait();
///     Err(token.cause().unwrap())
/// })
/// .unwrap();
/// g.go(|_| Err(Error::custom("inventory service down"))).unwrap();
/// let err = g.wait().unwrap_err();
/// assert_eq!(err.to_string(), "inventory service down");
/// assert!(g.token().is_cancelled());
/// ```
pub struct ErrGroup {
    state: Arc<GroupState>,
}

impl Clone for ErrGroup {
    fn clone(&self) -> Self {
        self.state.wg.retain(); // every handle is a holder of the count (see `state`)
        ErrGroup {
            state: self.state.clone(),
        }
    }
}

impl Drop for ErrGroup {
    fn drop(&mut self) {
        self.state.wg.release();
    }
}

impl Default for ErrGroup {
    fn default() -> Self {
        ErrGroup::new()
    }
}

impl fmt::Debug for ErrGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("active", &self.active())
            .field("limit", &self.limit())
            .field("collect", &self.state.collect)
            .field("cancelled", &self.state.token.is_cancelled())
            .finish()
    }
}

impl ErrGroup {
    /// A group like Go's zero `Group`: no limit, and errors do **not** cancel anything.
    ///
    /// Tasks still receive a token: the group's own, cancelled only by
    /// [`shutdown`](ErrGroup::shutdown) (or by a task's panic).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.go(|_| Err(gogroup::Error::custom("first"))).unwrap();
    /// assert_eq!(g.wait().unwrap_err().to_string(), "first");
    /// assert!(!g.token().is_cancelled());
    /// ```
    pub fn new() -> ErrGroup {
        ErrGroupBuilder::default().build()
    }

    /// A group whose token is a child of `parent`, cancelled with the first error as its cause,
    /// and when `wait` returns (Go's `WithContext`).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::with_token(&gogroup::CancelToken::new());
    /// g.go(|_| Ok::<(), gogroup::Error>(())).unwrap();
    /// g.wait().unwrap();
    /// assert!(g.token().is_cancelled()); // even on success, as in Go
    /// ```
    pub fn with_token(parent: &CancelToken) -> ErrGroup {
        ErrGroupBuilder::default().token(parent).build()
    }

    /// A builder for a token, a limit and a collection mode together.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::builder().limit(1).build();
    /// assert!(g.try_go(|_| Ok::<(), gogroup::Error>(())));
    /// g.wait().unwrap();
    /// ```
    pub fn builder() -> ErrGroupBuilder {
        ErrGroupBuilder::default()
    }

    /// The group's token, the one every task receives.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let t = g.token().clone();
    /// g.go(move |token| {
    ///     assert!(gogroup::CancelToken::ptr_eq(&token, &t));
    ///     Ok::<(), gogroup::Error>(())
    /// })
    /// .unwrap();
    /// g.wait().unwrap();
    /// ```
    pub fn token(&self) -> &CancelToken {
        &self.state.token
    }

    /// Starts `f(token)` on gogroup's pool, waiting first for a free slot if a limit is set.
    ///
    /// Tasks started after an error still run (as in Go); they should watch the token.
    ///
    /// As with [`WaitGroup::go`](crate::WaitGroup::go), the group's only task may run on the
    /// thread that calls [`wait`](ErrGroup::wait) if that thread submitted it and no worker has
    /// started it yet; the bounded and cancellable waits never run a task.
    ///
    /// # Errors
    /// If the group's token is cancelled while `go` waits for a slot, `go` returns the token's
    /// cause at once and `f` never runs (Go would block forever).
    ///
    /// # Panics
    /// Never in the caller; a panic in `f` is captured (see [`ErrGroup::wait`]).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.go(|_| -> Result<(), std::io::Error> { Ok(()) }).unwrap();
    /// g.wait().unwrap();
    /// ```
    pub fn go<F, E>(&self, f: F) -> Result<()>
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E> + Send + 'static,
        E: Into<Error>,
    {
        self.acquire()?;
        self.spawn(f);
        Ok(())
    }

    /// Waits for a slot (invariant 4 of the limit: gives up when the token is cancelled).
    fn acquire(&self) -> Result<()> {
        let s = &self.state;
        s.limit
            .acquire(&s.token, || GroupState::wake_limit_on_cancel(s))
    }

    /// Starts `f` only if a slot is free right now; false (and `f` dropped unrun) otherwise.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(0).unwrap();
    /// assert!(!g.try_go(|_| Ok::<(), gogroup::Error>(())));
    /// ```
    pub fn try_go<F, E>(&self, f: F) -> bool
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E> + Send + 'static,
        E: Into<Error>,
    {
        if !self.state.limit.try_acquire() {
            return false;
        }
        self.spawn(f);
        true
    }

    /// Runs `f` on the pool in the slot just acquired.
    fn spawn<F, E>(&self, f: F)
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E> + Send + 'static,
        E: Into<Error>,
    {
        if let Ok(slot) = self.enter() {
            slot.go(f);
        }
    }

    /// Counts a task whose limit slot was just acquired.
    fn enter(&self) -> Result<TaskSlot> {
        let s = &self.state;
        if let Err(e) = s.wg.add(1) {
            // Only reachable at i32::MAX active tasks: refuse to lose it silently.
            s.limit.release();
            s.fail(Failure::Error(e.clone()));
            return Err(e);
        }
        Ok(TaskSlot::new(s.clone()))
    }

    /// Takes a place in the group for a task that runs *outside* gogroup's pool — a future on
    /// an event loop, a JS promise, a foreign thread — waiting first for a free slot if a limit
    /// is set. The task reports its outcome with [`TaskSlot::finish`]; until then it counts as
    /// active for `wait` and for the limit, exactly as a `go` task does.
    ///
    /// # Errors
    /// As [`go`](ErrGroup::go): the token's cause if it is cancelled while waiting for a slot.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let slot = g.start().unwrap();
    /// assert_eq!(g.active(), 1);
    /// slot.finish(Err(gogroup::Error::custom("failed elsewhere")));
    /// assert_eq!(g.wait().unwrap_err().to_string(), "failed elsewhere");
    /// ```
    pub fn start(&self) -> Result<TaskSlot> {
        self.acquire()?;
        self.enter()
    }

    /// Like [`start`](ErrGroup::start), but gives up when `deadline` passes or `token` is
    /// cancelled: the bounded wait that lets a host stay responsive while a full limit keeps
    /// it waiting (the Python binding waits in slices and checks for Ctrl-C between them).
    ///
    /// As in `start`, a free slot wins at the first attempt; once waiting, a cancelled token
    /// (the group's or `token`) wins over a slot that frees at the same moment.
    ///
    /// # Errors
    /// * the group token's cause, or `token`'s, if one is cancelled first;
    /// * [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) if `deadline` passes first.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(1).unwrap();
    /// let busy = g.start().unwrap();
    /// let soon = Instant::now() + Duration::from_millis(1);
    /// let err = g.start_until(Some(soon), None).unwrap_err();
    /// assert_eq!(err.kind(), gogroup::ErrorKind::Timeout);
    /// busy.finish(Ok(()));
    /// g.start_until(Some(soon), None).unwrap().finish(Ok(())); // a free slot: no waiting
    /// g.wait().unwrap();
    /// ```
    pub fn start_until(
        &self,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<TaskSlot> {
        let s = &self.state;
        s.limit.acquire_until(&s.token, token, deadline, || {
            let mut registrations = vec![GroupState::wake_limit_on_cancel(s)];
            if let Some(t) = token {
                let me = s.clone();
                registrations.push(t.on_cancel_inline(move |_| me.limit.wake_all()));
            }
            registrations
        })?;
        self.enter()
    }

    /// Like [`start`](ErrGroup::start), but only if a slot is free right now (Go's `TryGo`).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(1).unwrap();
    /// let slot = g.try_start().unwrap();
    /// assert!(g.try_start().is_none());
    /// slot.finish(Ok(()));
    /// assert!(g.try_start().is_some());
    /// ```
    pub fn try_start(&self) -> Option<TaskSlot> {
        if !self.state.limit.try_acquire() {
            return None;
        }
        self.enter().ok()
    }

    /// Like [`start`](ErrGroup::start), as a future: waiting for a slot never blocks a thread,
    /// so an event loop can keep running. Dropping the future gives up the wait and leaves
    /// nothing registered.
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
    /// let slot = block_on(g.start_async()).unwrap();
    /// slot.finish(Ok(()));
    /// g.wait().unwrap();
    /// ```
    pub fn start_async(&self) -> StartFuture {
        StartFuture::new(self.clone(), false)
    }

    /// Like [`start_async`](ErrGroup::start_async), but the task counts for
    /// [`wait`](ErrGroup::wait) from this call on, before it has a slot — as a task created
    /// in an `asyncio.TaskGroup` or queued in `p-limit` does. So a host can queue tasks on a
    /// full limit and return at once, and `wait` still waits for them to start and finish.
    ///
    /// If the group's token is cancelled before a slot frees, the future resolves to the
    /// token's cause and the task leaves the count: it never ran, and by rule nothing is
    /// recorded for it (the group's cancellation already says why). Dropping the future
    /// before it resolves also leaves the count.
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
    /// use std::time::Duration;
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(1).unwrap();
    /// let first = g.start().unwrap();
    /// let queued = g.start_queued(); // counted already, not yet running
    /// assert_eq!(g.wait_timeout(Duration::from_millis(1)).unwrap_err().kind(),
    ///            gogroup::ErrorKind::Timeout);
    /// first.finish(Ok(()));
    /// block_on(queued).unwrap().finish(Ok(()));
    /// g.wait().unwrap();
    /// ```
    pub fn start_queued(&self) -> StartFuture {
        let counted = self.state.wg.add(1).is_ok();
        StartFuture::new(self.clone(), counted)
    }

    /// `go`, but running `f` on the calling thread: lets the loom models drive tasks on loom's
    /// own threads (the pool is outside the model).
    #[cfg(loom)]
    pub(crate) fn go_inline<F, E>(&self, f: F) -> Result<()>
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E> + Send + 'static,
        E: Into<Error>,
    {
        self.acquire()?;
        self.enter()?.run(f);
        Ok(())
    }

    /// Limits the active tasks to `n` (Go's `SetLimit`): negative for no limit, 0 so that
    /// nothing may start.
    ///
    /// # Errors
    /// [`ErrorKind::LimitInUse`](crate::ErrorKind::LimitInUse) if any task is active (Go panics,
    /// or corrupts its count when going from no limit to a limit). Setting the current value
    /// again is always allowed.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.set_limit(2).unwrap();
    /// assert_eq!(g.limit(), Some(2));
    /// g.set_limit(-1).unwrap();
    /// assert_eq!(g.limit(), None);
    /// ```
    pub fn set_limit(&self, n: i64) -> Result<()> {
        self.state.limit.set(n)
    }

    /// The current limit (`None`: no limit).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// assert_eq!(g.limit(), None);
    /// ```
    pub fn limit(&self) -> Option<u64> {
        self.state.limit.get()
    }

    /// Tasks holding a slot: started and not yet finished (the number the limit bounds and
    /// `set_limit` checks).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let slot = g.start().unwrap();
    /// assert_eq!(g.active(), 1);
    /// slot.finish(Ok(()));
    /// assert_eq!(g.active(), 0);
    /// ```
    pub fn active(&self) -> usize {
        self.state.limit.active()
    }

    /// Waits for every task, then returns the first error (sticky across reuse).
    ///
    /// With a token (Go's `WithContext`), the token is cancelled when `wait` returns, with the
    /// first error as its cause, or `Canceled` if there was none.
    ///
    /// # Errors
    /// The first task error.
    ///
    /// # Panics
    /// Resumes a task's panic (once), after every task finished, if that panic is the group's
    /// first failure — or the first panic since a `wait` reported the first failure. A panic
    /// that comes after an error in the same round is recorded, not resumed: `wait` returns
    /// that error, which is also the token's cause.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.go(|_| Ok::<(), gogroup::Error>(())).unwrap();
    /// assert!(g.wait().is_ok());
    /// ```
    pub fn wait(&self) -> Result<()> {
        let _ = self.state.wg.wait_until(None, None);
        self.state.finish()
    }

    /// Like [`wait`](ErrGroup::wait), giving up after `timeout`.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) if tasks still run (nothing is
    /// cancelled then); else as [`wait`](ErrGroup::wait).
    ///
    /// # Panics
    /// As [`wait`](ErrGroup::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// let g = gogroup::ErrGroup::new();
    /// let slot = g.start().unwrap();
    /// assert_eq!(g.wait_timeout(Duration::from_millis(1)).unwrap_err().kind(), gogroup::ErrorKind::Timeout);
    /// slot.finish(Ok(()));
    /// assert!(g.wait_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.state
            .wg
            .wait_until(Instant::now().checked_add(timeout), None)?;
        self.state.finish()
    }

    /// Like [`wait`](ErrGroup::wait), but returns early with `token`'s cause if `token` is
    /// cancelled first (the tasks keep running; nothing is left registered on `token`).
    ///
    /// # Errors
    /// `token`'s cause, or the first task error.
    ///
    /// # Panics
    /// As [`wait`](ErrGroup::wait).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// let _slot = g.start().unwrap(); // never finishes in this example (and reports a panic when dropped)
    /// let stop = gogroup::CancelToken::new();
    /// stop.cancel();
    /// assert!(g.wait_cancellable(&stop).unwrap_err().is_canceled());
    /// ```
    pub fn wait_cancellable(&self, token: &CancelToken) -> Result<()> {
        self.state.wg.wait_until(None, Some(token))?;
        self.state.finish()
    }

    /// The general wait, which never unwinds: a task panic is returned as
    /// [`ErrorKind::Panic`](crate::ErrorKind::Panic) instead of being resumed.
    ///
    /// # Errors
    /// `Timeout` if `deadline` passed, `token`'s cause if it was cancelled, else as
    /// [`wait`](ErrGroup::wait), with a panic reported as an error.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// g.go(|_| -> Result<(), gogroup::Error> { panic!("boom") }).unwrap();
    /// let err = g.wait_until(None, None).unwrap_err(); // no unwinding
    /// assert_eq!(err.kind(), gogroup::ErrorKind::Panic);
    /// ```
    pub fn wait_until(&self, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<()> {
        self.state.wg.wait_until(deadline, token)?;
        let (result, payload) = self.state.verdict();
        drop_quietly(payload); // reported as an error instead
        result
    }

    /// A future resolving to what [`wait`](ErrGroup::wait) returns (no runtime needed).
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
    /// g.go(|_| Err(gogroup::Error::custom("late"))).unwrap();
    /// assert_eq!(block_on(g.wait_async()).unwrap_err().to_string(), "late");
    /// ```
    pub fn wait_async(&self) -> ErrGroupFuture {
        ErrGroupFuture::new(self.clone())
    }

    /// The recorded errors in finishing order: every error with [`Collect::All`], at most the
    /// first with [`Collect::First`]. A panic is recorded as an
    /// [`ErrorKind::Panic`](crate::ErrorKind::Panic) error.
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new(); // Collect::First
    /// g.go(|_| Err(gogroup::Error::custom("x"))).unwrap();
    /// let _ = g.wait();
    /// assert_eq!(g.errors().len(), 1);
    /// ```
    pub fn errors(&self) -> Vec<Error> {
        self.state.errors()
    }

    /// Graceful shutdown: cancels the token (with `cause`, else `Canceled`), waits at most
    /// `grace` for the tasks, and returns how many still run (0: all stopped).
    ///
    /// ```
    /// use std::time::Duration;
    /// let g = gogroup::ErrGroup::new();
    /// g.go(|token| { token.wait(); Ok::<(), gogroup::Error>(()) }).unwrap();
    /// assert_eq!(g.shutdown(None, Duration::from_secs(10)), 0);
    /// ```
    pub fn shutdown(&self, cause: Option<Error>, grace: Duration) -> usize {
        self.state
            .token
            .cancel_with(cause.unwrap_or_else(Error::canceled));
        let _ = self
            .state
            .wg
            .wait_until(Instant::now().checked_add(grace), None);
        self.state.wg.count()
    }
}
