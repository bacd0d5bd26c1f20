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
//! * changing the limit while tasks are active is an error, [`ErrorKind::LimitInUse`] with Go's
//!   text, never a panic and never Go's silent corruption when going from no limit to a limit;
//! * `go` blocked on a full limit returns promptly with the token's cause once the group's
//!   token is cancelled (Go blocks forever);
//! * [`Collect::All`] keeps every error in finishing order (Go refused this four times);
//! * a task's panic cancels the group's token at once and is resumed from `wait` after every
//!   task finished (invariant 3 says which panic) — the counter and the limit slot are
//!   released only *after* the panic is recorded and the token cancelled, so `wait` can never
//!   return before the panic is known (the race Go fixed in `WaitGroup.Go` but not in
//!   errgroup);
//! * the group's first failure, error or panic, is decided once: it is both the token's cause
//!   and what `wait` reports, however tasks race;
//! * [`shutdown`](ErrGroup::shutdown) cancels, waits at most a grace period, and reports how
//!   many tasks still run (bcmills' `Stop`, golang/go#57534).
//!
//! # Invariants
//! 1. A task's outcome (error, panic) is recorded, and the token cancelled if that is the rule,
//!    *before* its limit slot and its counter are released (Go's E5: cancel before release).
//! 2. One decision point: `Shared::fail` decides, under the one `outcome` lock, whether a
//!    failure is the group's first and whether its panic is kept; the token is then cancelled
//!    (if the rule says so) with what `wait` will report. So the token's cause and `wait`'s
//!    error or resumed panic are the same failure. The first failure never changes (sticky).
//! 3. Which panic `wait` reports (resumes, or returns as an `ErrorKind::Panic` error from
//!    `wait_until`): the first failure if it is a panic; once a `wait` has reported the first
//!    failure, the first panic after that (a later round's panic is never swallowed by an old
//!    sticky error). Any other panic is recorded as a `Panic` error (`Collect::All`) and its
//!    payload dropped — its message already went to the panic hook.
//! 4. An active task's limit slot and count are owned by a drop guard (`Seat`): no unwind can
//!    skip their release. No payload or error value is dropped by core where its `Drop` could
//!    unwind into a worker or a waiter (`panic_slot::drop_quietly`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::cancel_token::CancelToken;
use crate::error::{Error, Result};
use crate::limit::Limit;
use crate::loom::{Arc, Mutex, lock};
use crate::panic_slot::{Payload, drop_quietly, panic_error};
use crate::pool;
use crate::wait_group::{WaitGroup, WaitGroupFuture};

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
    /// [`ErrGroup::errors`] returns them all.
    All,
}

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
#[derive(Clone)]
pub struct ErrGroup {
    shared: Arc<Shared>,
}

struct Shared {
    wg: WaitGroup,
    token: CancelToken,
    /// Go's `WithContext`: cancel on the first error and when `wait` returns.
    cancel_on_error: bool,
    limit: Limit,
    collect: Collect,
    /// Every decision about failures is made under this one lock (invariant 2).
    outcome: Mutex<Outcome>,
}

/// What the group's tasks reported, and what `wait` has reported of it.
#[derive(Default)]
struct Outcome {
    /// Recorded errors in finishing order (at most one with `Collect::First`). The first is the
    /// group's first failure: sticky, as Go's.
    errors: Vec<Error>,
    /// A panic waiting for a `wait` to report it (invariant 3).
    pending: Option<PendingPanic>,
    /// Whether a `wait` has already reported the first failure.
    first_reported: bool,
}

struct PendingPanic {
    /// The `Panic` error that describes it: also the token's cause.
    error: Error,
    /// What `wait` resumes (`None` for a `Panic` error reported through `TaskSlot::finish`).
    payload: Option<Payload>,
}

/// How a task failed.
enum Failure {
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
        let (token, cancel_on_error) = match &self.parent {
            Some(p) => (p.child(), true),
            None => (CancelToken::new(), false),
        };
        ErrGroup {
            shared: Arc::new(Shared {
                wg: WaitGroup::new(),
                token,
                cancel_on_error,
                limit: Limit::new(self.limit.unwrap_or(-1)),
                collect: self.collect,
                outcome: Mutex::new(Outcome::default()),
            }),
        }
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
            .field("collect", &self.shared.collect)
            .field("cancelled", &self.shared.token.is_cancelled())
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
        &self.shared.token
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
        let s = &self.shared;
        s.limit
            .acquire(&s.token, || Shared::wake_limit_on_cancel(s))
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
        if !self.shared.limit.try_acquire() {
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
        let s = &self.shared;
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
        let s = &self.shared;
        s.limit.acquire_until(&s.token, token, deadline, || {
            let mut registrations = vec![Shared::wake_limit_on_cancel(s)];
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
        if !self.shared.limit.try_acquire() {
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
        StartFuture {
            group: self.clone(),
            key: None,
            registration: None,
            counted: false,
        }
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
        let counted = self.shared.wg.add(1).is_ok();
        StartFuture {
            group: self.clone(),
            key: None,
            registration: None,
            counted,
        }
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
        self.shared.limit.set(n)
    }

    /// The current limit (`None`: no limit).
    ///
    /// ```
    /// let g = gogroup::ErrGroup::new();
    /// assert_eq!(g.limit(), None);
    /// ```
    pub fn limit(&self) -> Option<u64> {
        self.shared.limit.get()
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
        self.shared.limit.active()
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
        let _ = self.shared.wg.wait_until(None, None);
        self.shared.finish()
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
        self.shared
            .wg
            .wait_until(Instant::now().checked_add(timeout), None)?;
        self.shared.finish()
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
        self.shared.wg.wait_until(None, Some(token))?;
        self.shared.finish()
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
        self.shared.wg.wait_until(deadline, token)?;
        let (result, payload) = self.shared.verdict();
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
        ErrGroupFuture {
            group: self.clone(),
            wait: self.shared.wg.wait_async(),
        }
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
        lock(&self.shared.outcome).errors.clone()
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
        self.shared
            .token
            .cancel_with(cause.unwrap_or_else(Error::canceled));
        let _ = self
            .shared
            .wg
            .wait_until(Instant::now().checked_add(grace), None);
        self.shared.wg.count()
    }
}

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
/// Dropping it gives both back (slot first, then count), however its owner ends — returning,
/// unwinding, or dropped unrun by the pool — so no unwind can leave `wait` hanging or the
/// limit short of a slot (invariant 4). The owner records the task's outcome before it lets
/// the seat go (invariant 1).
struct Seat {
    shared: Arc<Shared>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        /// The count, released even if releasing the slot panicked (a bug in core).
        struct Count<'a>(&'a WaitGroup);
        impl Drop for Count<'_> {
            fn drop(&mut self) {
                let _ = self.0.done();
            }
        }
        let _count = Count(&self.shared.wg);
        self.shared.limit.release();
    }
}

impl Seat {
    /// Records the task's failure, if any, then gives the seat up (invariant 1).
    fn finish(self, failure: Option<Failure>) {
        if let Some(f) = failure {
            self.shared.fail(f);
        }
    }

    /// Runs `f` in this seat, capturing a panic, and finishes. The conversion of `f`'s
    /// error runs inside `catch_unwind` too: it is user code.
    fn run<F, E>(self, f: F)
    where
        F: FnOnce(CancelToken) -> std::result::Result<(), E>,
        E: Into<Error>,
    {
        let token = self.shared.token.clone();
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
    fn new(shared: Arc<Shared>) -> TaskSlot {
        TaskSlot {
            seat: Some(Seat { shared }),
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
            .shared
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
        let (key, alone) = self
            .seat
            .as_ref()
            .map_or((0, false), |s| (s.shared.wg.group_key(), s.shared.wg.is_alone()));
        pool::submit_counted(key, alone, move || self.run(f));
    }

    /// Runs `f` in this slot, capturing a panic, and finishes.
    fn run<F, E>(mut self, f: F)
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
    key: Option<usize>,
    registration: Option<crate::cancel_token::Registration>,
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
    /// Unregisters; `gave_up`: without taking a slot, so a wake-up meant for this future is
    /// passed on (a release wakes one future only).
    fn cleanup(&mut self, gave_up: bool) {
        let limit = &self.group.shared.limit;
        if gave_up {
            limit.forget(&mut self.key);
        } else {
            limit.unregister(&mut self.key);
        }
        if let Some(r) = self.registration.take() {
            r.stop();
        }
    }

    /// Gives up: the cause of the cancellation, and out of the count if `start_queued` put
    /// the task there.
    fn give_up(&mut self, s: &Shared) -> Result<TaskSlot> {
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
            Ok(TaskSlot::new(self.group.shared.clone()))
        } else {
            self.group.enter()
        }
    }
}

impl Future for StartFuture {
    type Output = Result<TaskSlot>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<TaskSlot>> {
        let this = &mut *self;
        let s = this.group.shared.clone();
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
                this.registration = Some(Shared::wake_limit_on_cancel(&s));
            }
            if !s
                .limit
                .register(&mut this.key, cx.waker(), || s.token.is_cancelled())
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
            let _ = self.group.shared.wg.done();
        }
    }
}

impl Shared {
    /// Registers, on the group's token, a wake-up of every limit waiter (the limit's invariant
    /// 4: a task waiting for a slot gives up when the group is cancelled). Stopped by the waiter.
    /// (An associated function: loom's `Arc` cannot be a method receiver.)
    fn wake_limit_on_cancel(this: &Arc<Self>) -> crate::cancel_token::Registration {
        let me = this.clone();
        this.token.on_cancel_inline(move |_| me.limit.wake_all())
    }

    /// Records a task's failure: the one decision point (invariant 2). Under the outcome
    /// lock it decides whether this is the first failure and whether its panic is kept for
    /// `wait` (invariant 3); after it, it cancels the token, if the rule says so, with what
    /// `wait` will report — so the token's cause and `wait`'s error are the same failure
    /// however tasks race. Never unwinds: losing payloads and errors are dropped quietly.
    fn fail(&self, failure: Failure) {
        let (error, mut payload) = match failure {
            Failure::Error(e) => (e, None),
            Failure::Panic(p) => (panic_error(&*p), Some(p)),
        };
        let is_panic = error.kind() == crate::ErrorKind::Panic;
        let cause = {
            let mut o = lock(&self.outcome);
            let first = o.errors.is_empty();
            if first || self.collect == Collect::All {
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
    fn verdict(&self) -> (Result<()>, Option<Payload>) {
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

    /// What `wait` does once every task finished: resumes a pending panic, else returns the
    /// first failure.
    fn finish(&self) -> Result<()> {
        match self.verdict() {
            (_, Some(p)) => std::panic::resume_unwind(p),
            (result, None) => result,
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

impl Future for ErrGroupFuture {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match Pin::new(&mut self.wait).poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.group.shared.finish()),
            Poll::Pending => Poll::Pending,
        }
    }
}
