//! [`WaitGroup`]: Go's `sync.WaitGroup`, with the sharp edges removed.
//!
//! Like Go's, it is a counter: `add(n)` before starting work, `done()` when a piece finishes,
//! `wait()` until the counter is zero — and `go(f)` does all three for one task. Unlike Go's:
//!
//! * a change that would make the counter negative is **rejected before it is applied**
//!   ([`ErrorKind::NegativeCounter`], Go's text `"sync: negative WaitGroup counter"`); the group
//!   stays usable, where Go panics and leaves it corrupted;
//! * **reuse is always safe**: waiters of a finished round are released even if `add` starts the
//!   next round at once (Go panics "WaitGroup is reused before previous Wait has returned");
//! * a panic inside a `go` task is **captured**: the counter is still released, and the first
//!   panic is resumed from `wait()` once every task finished (as `std::thread::scope` does). Go
//!   crashes the process instead — a library embedded in Python or Node must not;
//! * there are four ways to wait: [`wait`](WaitGroup::wait),
//!   [`wait_timeout`](WaitGroup::wait_timeout), [`wait_cancellable`](WaitGroup::wait_cancellable)
//!   (which also returns when a token is cancelled and leaves nothing blocked behind it) and
//!   [`wait_async`](WaitGroup::wait_async) (a plain `Future`, no runtime needed);
//! * a wait can be **weak** ([`WaitGroup::downgrade`], [`WeakWaitGroup::wait_async`]): it keeps
//!   nothing alive and ends as *abandoned* once nothing that could change the counter is left —
//!   for hosts with a garbage collector, whose pending promise must not pin the group (nor
//!   wait forever on one that nobody can finish any more).
//!
//! # Invariants
//! 1. `state` packs `counter` (high 32 bits), a round number `generation` (bits 1..=31) and a
//!    `waiters` bit (bit 0). Every change is one compare-and-swap, so a rejected change is never
//!    visible to anyone.
//! 2. The change that brings the counter to zero also bumps `generation` and clears `waiters`,
//!    in the same CAS. A waiter waits for the generation it saw to *change*, not for the counter
//!    to be zero, so a new round started by `add` cannot trap it (safe reuse).
//! 3. `done()` takes no lock and makes no system call unless `waiters` was set.
//! 4. A waiter sets `waiters` before it sleeps (and reads the generation in the same atomic
//!    operation); see [`WaitList`](crate::wait_list) for why no wake-up is lost.
//! 5. A small increment (`add(1)`, the hot path) is a single atomic add rather than a
//!    compare-and-swap loop. Its result can exceed the limit of `i32::MAX` only transiently:
//!    the increment is then taken back through the checked path and refused. With increments
//!    of at most 256 and a 32-bit counter field, the transient cannot wrap around unless more
//!    than eight million threads overflow it at the same instant.
//! 6. An unbounded wait (no deadline, no token) may run the last task this thread submitted for
//!    this group, if no worker claimed it first (the pool's handoff); a bounded one never
//!    does.
//! 7. A `go` task's count is released by a drop guard, after its panic (if any) is kept:
//!    no unwind — not even from a panic payload's `Drop` — can skip it, so `wait` cannot hang
//!    on a task that ended. No payload is dropped where its `Drop` could unwind into a worker
//!    or a waiter ([`crate::panic_slot`], invariant 4).
//! 8. `holders` counts what can still change the counter: every `WaitGroup` handle, every
//!    `go` task not yet finished, and (for an `ErrGroup`'s counter) every `ErrGroup` handle and
//!    task slot. A holder is only ever made from a holder, so once the count is zero it stays
//!    zero: the counter is *abandoned*, and will never change again. The last holder to go
//!    changes `holders` before it notifies the wait list, so a weak future that saw a holder
//!    is registered when the notification comes (as invariant 4). A weak future looks at the
//!    counter before it looks at `holders`: a round that ended before the last holder went is
//!    reported as ended, never as abandoned.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::cancel_token::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::loom::{Arc, AtomicU64, AtomicUsize, SPIN_LIMIT, spin_hint};
use crate::panic_slot::{self, PanicSlot};
use crate::pool::{self, handoff::GroupId};
use crate::wait_list::WaitList;

const WAITERS: u64 = 1;
const GEN_ONE: u64 = 1 << 1;
const GEN_MASK: u64 = 0xFFFF_FFFE;
const COUNTER_SHIFT: u32 = 32;
/// The largest counter, as Go's (an `int32`).
const MAX_COUNT: i64 = i32::MAX as i64;
/// Increments up to this size take the single-instruction path (invariant 5).
const FAST_ADD_MAX: i64 = 256;

#[inline]
fn count_of(s: u64) -> u64 {
    s >> COUNTER_SHIFT
}

#[inline]
fn generation(s: u64) -> u64 {
    s & GEN_MASK
}

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
///
/// A `WaitGroup` is a handle: clones share one counter, so a clone can be moved into each task.
/// Every handle can change the counter; a [`WeakWaitGroup`] ([`downgrade`](WaitGroup::downgrade))
/// can only watch it.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use gogroup::WaitGroup;
///
/// let wg = WaitGroup::new();
/// let hits = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     let hits = hits.clone();
///     wg.go(move || {
///         hits.fetch_add(1, Ordering::Relaxed);
///     });
/// }
/// wg.wait();
/// assert_eq!(hits.load(Ordering::Relaxed), 10);
/// ```
pub struct WaitGroup {
    counter: Arc<Counter>,
}

/// What every handle of one group shares: the counter's state word (invariant 1), the
/// threads and futures asleep until the round ends, the first captured panic, and how many
/// holders can still change the counter (invariant 8).
pub(crate) struct Counter {
    state: AtomicU64,
    list: WaitList,
    panic: PanicSlot,
    holders: AtomicUsize,
}

impl Clone for WaitGroup {
    fn clone(&self) -> Self {
        self.counter.retain();
        WaitGroup {
            counter: self.counter.clone(),
        }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        Counter::release(&self.counter);
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

impl WaitGroup {
    /// A new wait group with a zero counter.
    ///
    /// ```
    /// assert_eq!(gogroup::WaitGroup::new().count(), 0);
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            counter: Counter::new_held(),
        }
    }

    /// A weak handle to this group: it can read the counter and wait for it, but it is not a
    /// holder (invariant 8): once every `WaitGroup` handle is dropped and every `go` task has
    /// finished, nothing can change the counter any more, and a weak wait ends as abandoned
    /// instead of pending forever.
    ///
    /// For hosts with a garbage collector: a pending promise that waits through a weak handle
    /// keeps neither the group nor itself alive once the group is unreachable.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// let weak = wg.downgrade();
    /// assert_eq!(weak.count(), 1);
    /// assert!(!weak.is_abandoned());
    /// drop(wg); // the last handle: nobody can call done() any more
    /// assert!(weak.is_abandoned());
    /// ```
    pub fn downgrade(&self) -> WeakWaitGroup {
        WeakWaitGroup {
            counter: self.counter.clone(),
        }
    }

    /// Adds `delta` (which may be negative) to the counter.
    ///
    /// When the counter reaches zero, every waiter is released.
    ///
    /// # Errors
    /// * [`ErrorKind::NegativeCounter`] if the counter would drop below zero. Nothing changes.
    /// * [`ErrorKind::InvalidArgument`] if the counter would exceed `i32::MAX` (as Go's).
    ///   Nothing changes.
    ///
    /// # Examples
    /// ```
    /// use gogroup::{ErrorKind, WaitGroup};
    /// let wg = WaitGroup::new();
    /// wg.add(2).unwrap();
    /// let err = wg.add(-3).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NegativeCounter);
    /// assert_eq!(err.to_string(), "sync: negative WaitGroup counter");
    /// assert_eq!(wg.count(), 2); // rejected, not applied
    /// ```
    pub fn add(&self, delta: i64) -> Result<()> {
        self.counter.add(delta)
    }

    /// Decrements the counter by one (`add(-1)`).
    ///
    /// Takes no lock and makes no system call unless a waiter is asleep.
    ///
    /// # Errors
    /// [`ErrorKind::NegativeCounter`] if the counter is already zero.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// wg.done().unwrap();
    /// assert!(wg.done().is_err());
    /// ```
    pub fn done(&self) -> Result<()> {
        self.counter.add(-1)
    }

    /// The current counter.
    #[inline]
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(3).unwrap();
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn count(&self) -> usize {
        count_of(self.counter.state.load(Ordering::Acquire)) as usize
    }

    /// Runs `f` on gogroup's pool, counted by this group (Go 1.25's `WaitGroup.Go`).
    ///
    /// The counter is incremented in the *caller*, before `f` can run, so a `wait` that starts
    /// after `go` returns always waits for `f`. The return of `f` happens-before the return of
    /// the `wait` it releases.
    ///
    /// **Where `f` runs.** On a pool worker — unless `f` is the group's only task and this same
    /// thread reaches [`wait`](WaitGroup::wait) before any worker has started it: then `wait`
    /// runs `f` itself, as Go runs a new goroutine on the processor that parks in `Wait`. The
    /// waiter could not return before `f` finished anyway, and `go` + `wait` on one task then
    /// costs no trip to another thread and back. The bounded and cancellable waits
    /// ([`wait_timeout`](WaitGroup::wait_timeout), [`wait_cancellable`](WaitGroup::wait_cancellable),
    /// [`wait_until`](WaitGroup::wait_until) with a deadline or token, and futures) never run a
    /// task: they must be able to return while it still runs.
    ///
    /// # Panics
    /// Never in the caller. If `f` panics, the panic is captured, the counter is still
    /// released, and the first captured panic is resumed by [`WaitGroup::wait`].
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.go(|| panic!("boom"));
    /// let caught = std::panic::catch_unwind(|| wg.wait());
    /// assert!(caught.is_err());
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn go<F: FnOnce() + Send + 'static>(&self, f: F) {
        // Cannot overflow in practice; if it would, run unaccounted rather than lose the task.
        self.counter.retain(); // a holder until it finished (invariant 8)
        let count = TaskCount {
            counted: self.counter.add(1).is_ok(),
            group: self.counter.clone(),
        };
        pool::submit_counted(self.group_id(), self.is_alone(), move || {
            // Invariant 7: `count` is released when this closure ends, however it ends (and
            // if the closure is dropped without running).
            let count = count;
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                count.group.panic.keep(p);
            }
        });
    }

    /// Identifies the group for the pool's handoff (`pool::handoff`): the address of its
    /// shared state, stable while any handle or counted task exists.
    pub(crate) fn group_id(&self) -> GroupId {
        Counter::group_id(&self.counter)
    }

    /// Whether the task just counted is the only one (a heuristic: only speed depends on it).
    pub(crate) fn is_alone(&self) -> bool {
        count_of(self.counter.state.load(Ordering::Relaxed)) == 1
    }

    /// Blocks until the counter is zero.
    ///
    /// Returns at once if it already is. If this thread's last [`go`](WaitGroup::go) task for
    /// this group has not started yet, runs it here (see `go`); then spins briefly, then sleeps.
    ///
    /// # Panics
    /// Resumes the first panic captured from a [`WaitGroup::go`] task (once).
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.wait(); // zero: returns at once
    /// ```
    #[inline]
    pub fn wait(&self) {
        // Fast path (inlined into the caller): zero and no pending panic.
        if count_of(self.counter.state.load(Ordering::Acquire)) == 0 && !self.counter.panic.is_set()
        {
            return;
        }
        self.wait_slow();
    }

    #[cold]
    fn wait_slow(&self) {
        // Without a deadline or a token, the only way out is the end of the round.
        let _ = Counter::block(&self.counter, None, None);
        self.counter.resume_panic();
    }

    /// Like [`WaitGroup::wait`], giving up after `timeout`. True if the counter reached zero.
    ///
    /// # Panics
    /// Resumes a captured task panic, as [`WaitGroup::wait`] does.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// assert!(!wg.wait_timeout(std::time::Duration::from_millis(1)));
    /// wg.done().unwrap();
    /// assert!(wg.wait_timeout(std::time::Duration::from_secs(1)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let done = Counter::block(&self.counter, Instant::now().checked_add(timeout), None).is_ok();
        if done {
            self.counter.resume_panic();
        }
        done
    }

    /// Blocks until the counter is zero or `token` is cancelled, whichever comes first.
    ///
    /// Nothing is left behind either way: the wake-up registered on `token` is removed before
    /// this returns (the leak a goroutine-plus-select `WaitContext` has).
    ///
    /// # Errors
    /// The token's cause, if it was cancelled before the counter reached zero.
    ///
    /// # Panics
    /// Resumes a captured task panic, as [`WaitGroup::wait`] does.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// let token = gogroup::CancelToken::new();
    /// token.cancel();
    /// assert_eq!(wg.wait_cancellable(&token).unwrap_err().to_string(), "context canceled");
    /// ```
    pub fn wait_cancellable(&self, token: &CancelToken) -> Result<()> {
        Counter::block(&self.counter, None, Some(token))?;
        self.counter.resume_panic();
        Ok(())
    }

    /// The general wait, which never unwinds: until zero, `deadline`, or `token`'s cancellation.
    ///
    /// Meant for bindings and callers that cannot let a panic unwind through them.
    ///
    /// # Errors
    /// * [`ErrorKind::Timeout`] if `deadline` passed first;
    /// * the token's cause if `token` was cancelled first;
    /// * [`ErrorKind::Panic`] (with the panic message) if a `go` task panicked; the panic is
    ///   then reported here instead of being resumed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// let err = wg.wait_until(Some(Instant::now() + Duration::from_millis(1)), None).unwrap_err();
    /// assert_eq!(err.kind(), gogroup::ErrorKind::Timeout);
    /// ```
    pub fn wait_until(&self, deadline: Option<Instant>, token: Option<&CancelToken>) -> Result<()> {
        Counter::block(&self.counter, deadline, token)?;
        match self.counter.panic.take() {
            Some(p) => Err(panic_slot::report(p)),
            None => Ok(()),
        }
    }

    /// A future that completes when the counter is zero.
    ///
    /// Plain `std::future::Future`, driven by `Waker`s: it works under any executor, and dropping
    /// it removes its registration. The future resumes a captured task panic on completion, as
    /// [`WaitGroup::wait`] does.
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
    /// let wg = gogroup::WaitGroup::new();
    /// let w = wg.clone();
    /// wg.go(move || drop(w));
    /// block_on(wg.wait_async());
    /// ```
    pub fn wait_async(&self) -> WaitGroupFuture {
        WaitGroupFuture {
            counter: self.counter.clone(),
            generation: None,
            entry: None,
        }
    }
}

fn overflow() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "sync: WaitGroup counter overflow",
    )
}

impl Counter {
    /// A new counter at zero with one holder, which the caller owns (invariant 8).
    fn new_held() -> Arc<Counter> {
        Arc::new(Counter {
            state: AtomicU64::new(0),
            list: WaitList::new(),
            panic: PanicSlot::new(),
            holders: AtomicUsize::new(1),
        })
    }

    /// One more holder (invariant 8): only ever called by a holder.
    fn retain(&self) {
        // Like `Arc`, refuse to wrap around: billions of holders can only be a leak in a loop.
        if self.holders.fetch_add(1, Ordering::Relaxed) >= usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// A holder goes. The last one wakes the weak futures, which end as abandoned
    /// (invariant 8). (Takes the `Arc`: loom's `Arc` cannot be a method receiver.)
    fn release(this: &Arc<Counter>) {
        if this.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Always, once per counter: skipping it when no future *seems* to be registered
            // (no other `Arc`, no `WAITERS` bit) would race a future that is registering, as
            // loom shows; the list's lock orders the two (its invariant 2).
            this.list.notify_all();
        }
    }

    fn is_abandoned(&self) -> bool {
        self.holders.load(Ordering::Acquire) == 0
    }

    fn add(&self, delta: i64) -> Result<()> {
        if (1..=FAST_ADD_MAX).contains(&delta) {
            // Invariant 5: a small increment is one atomic add (no retry loop under contention).
            let prev = self
                .state
                .fetch_add((delta as u64) << COUNTER_SHIFT, Ordering::AcqRel);
            if count_of(prev) as i64 + delta <= MAX_COUNT {
                return Ok(());
            }
            // Over the limit: take it back (this may end the round, as any decrement may).
            self.change(-delta)
                .expect("taking back our own increment cannot make the counter negative");
            return Err(overflow());
        }
        self.change(delta)
    }

    /// Applies `delta` in one compare-and-swap, refusing a negative or oversized counter.
    fn change(&self, delta: i64) -> Result<()> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let c = count_of(s) as i64;
            // `c` fits in 32 bits, so only a huge positive `delta` can overflow here.
            let new = c.checked_add(delta).unwrap_or(i64::MAX);
            if new < 0 {
                return Err(Error::negative_counter());
            }
            if delta > 0 && new > MAX_COUNT {
                return Err(overflow());
            }
            let next = if new == 0 && c != 0 {
                // Invariant 2: the round ends; bump the generation, clear the waiters bit.
                generation(s.wrapping_add(GEN_ONE))
            } else {
                ((new as u64) << COUNTER_SHIFT) | (s & (GEN_MASK | WAITERS))
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if new == 0 && c != 0 && s & WAITERS != 0 {
                        self.list.notify_all();
                    }
                    return Ok(());
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Waits for the current round to end. `Ok` when it did; `Err` on deadline or token.
    ///
    /// Takes the `Arc` so that a token's wake-up callback can own what it wakes.
    fn block(
        this: &Arc<Counter>,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<()> {
        let counter: &Counter = this;
        let mut s = counter.state.load(Ordering::Acquire);
        if count_of(s) == 0 {
            return Ok(());
        }
        // Go's `runnext`: an unbounded wait runs the task this thread just submitted for this
        // group itself if no worker has started it yet (see `pool::handoff`).
        if deadline.is_none() && token.is_none() && pool::run_own(Counter::group_id(this)) {
            let after = counter.state.load(Ordering::Acquire);
            if count_of(after) == 0 || generation(after) != generation(s) {
                return Ok(());
            }
            s = after;
        }
        let gen0 = generation(s);
        for _ in 0..SPIN_LIMIT {
            if generation(counter.state.load(Ordering::Acquire)) != gen0 {
                return Ok(());
            }
            spin_hint();
        }
        if let Some(t) = token.filter(|t| t.is_cancelled()) {
            return Err(t.cause().unwrap_or_else(Error::canceled));
        }
        // Invariant 4: announce ourselves and read the round in one atomic step.
        let s = counter.state.fetch_or(WAITERS, Ordering::AcqRel);
        if count_of(s) == 0 || generation(s) != gen0 {
            return Ok(());
        }
        let registration = token.map(|t| {
            let me = this.clone();
            t.on_cancel_inline(move |_| me.list.notify_all())
        });
        let ended = || generation(counter.state.load(Ordering::Acquire)) != gen0;
        let cancelled = || token.is_some_and(|t| t.is_cancelled());
        counter
            .list
            .block_until(|| ended() || cancelled(), deadline);
        if let Some(r) = registration {
            r.stop();
        }
        if ended() {
            Ok(())
        } else if let Some(t) = token.filter(|t| t.is_cancelled()) {
            Err(t.cause().unwrap_or_else(Error::canceled))
        } else {
            Err(Error::timeout())
        }
    }

    fn group_id(this: &Arc<Counter>) -> GroupId {
        let counter: &Counter = this;
        std::ptr::from_ref(counter) as usize
    }

    fn resume_panic(&self) {
        if let Some(p) = self.panic.take() {
            std::panic::resume_unwind(p);
        }
    }
}

/// One `go` task's place in the counter: gives it back when dropped (invariant 7).
struct TaskCount {
    group: Arc<Counter>,
    /// False if `add(1)` was refused (overflow): the task then runs uncounted.
    counted: bool,
}

impl Drop for TaskCount {
    fn drop(&mut self) {
        if self.counted {
            let _ = self.group.add(-1);
        }
        // After the count (invariant 8): a weak waiter sees the round end, not abandonment.
        Counter::release(&self.group);
    }
}

/// The future returned by [`WaitGroup::wait_async`].
///
/// ```
/// let wg = gogroup::WaitGroup::new();
/// let _ready: gogroup::WaitGroupFuture = wg.wait_async(); // zero: completes at its first poll
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitGroupFuture {
    counter: Arc<Counter>,
    generation: Option<u64>,
    /// This future's entry in the wait list, once it waits.
    entry: Option<usize>,
}

impl fmt::Debug for WaitGroupFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupFuture").finish_non_exhaustive()
    }
}

impl WaitGroupFuture {
    /// `Ready(true)` once the round this future first saw has ended; with `weak`, `Ready(false)`
    /// if the counter was abandoned before that (invariant 8). Never resumes a panic.
    fn poll_round(&mut self, cx: &mut Context<'_>, weak: bool) -> Poll<bool> {
        let gen0 = match self.generation {
            Some(g) => g,
            None => {
                let s = self.counter.state.load(Ordering::Acquire);
                if count_of(s) == 0 {
                    return Poll::Ready(true);
                }
                let s = self.counter.state.fetch_or(WAITERS, Ordering::AcqRel);
                if count_of(s) == 0 {
                    return Poll::Ready(true);
                }
                self.generation = Some(generation(s));
                generation(s)
            }
        };
        let counter = &*self.counter;
        let ended = || generation(counter.state.load(Ordering::Acquire)) != gen0;
        // Invariant 8: the round first, then abandonment.
        let abandoned = || weak && counter.is_abandoned();
        if counter
            .list
            .register(&mut self.entry, cx.waker(), || ended() || abandoned())
        {
            counter.list.remove(&mut self.entry);
            return Poll::Ready(ended());
        }
        Poll::Pending
    }
}

impl Future for WaitGroupFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.poll_round(cx, false) {
            Poll::Ready(_) => {
                this.counter.resume_panic();
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for WaitGroupFuture {
    fn drop(&mut self) {
        self.counter.list.remove(&mut self.entry);
    }
}

/// A handle that watches a group's counter without being able to change it, and without
/// keeping anything alive: see [`WaitGroup::downgrade`].
///
/// Its waits end as *abandoned* once no holder is left (no `WaitGroup` handle, no unfinished
/// `go` task): nothing could ever bring the counter to zero then.
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
/// let wg = gogroup::WaitGroup::new();
/// wg.add(1).unwrap();
/// let weak = wg.downgrade();
/// std::thread::spawn(move || drop(wg)); // gone without calling done()
/// assert!(block_on(weak.wait_async()).is_none()); // abandoned, not pending forever
/// ```
#[derive(Clone)]
pub struct WeakWaitGroup {
    counter: Arc<Counter>,
}

impl fmt::Debug for WeakWaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakWaitGroup")
            .field("count", &self.count())
            .field("abandoned", &self.is_abandoned())
            .finish()
    }
}

impl WeakWaitGroup {
    /// The current counter.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(2).unwrap();
    /// assert_eq!(wg.downgrade().count(), 2);
    /// ```
    pub fn count(&self) -> usize {
        count_of(self.counter.state.load(Ordering::Acquire)) as usize
    }

    /// Whether nothing can change the counter any more: no `WaitGroup` handle is left and
    /// every `go` task has finished (or, for the counter of an [`ErrGroup`](crate::ErrGroup),
    /// no group handle and no task slot). Once true, it stays true.
    ///
    /// ```
    /// let wg = gogroup::WaitGroup::new();
    /// let weak = wg.downgrade();
    /// let other = wg.clone();
    /// drop(wg);
    /// assert!(!weak.is_abandoned()); // `other` can still change it
    /// drop(other);
    /// assert!(weak.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.counter.is_abandoned()
    }

    /// A future that completes when the counter is zero — `Some(Ok(()))`, or
    /// `Some(Err(_))` of kind [`ErrorKind::Panic`] if a `go` task panicked (reported, not
    /// resumed: this future never unwinds) — or with `None` once the counter is abandoned
    /// (see [`is_abandoned`](WeakWaitGroup::is_abandoned)) before it reached zero.
    ///
    /// Like [`WaitGroup::wait_async`], it waits for the round it first sees to end, so a
    /// round that ended just before the last holder went is reported as ended, never as
    /// abandoned. Dropping it removes its registration.
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
    /// let wg = gogroup::WaitGroup::new();
    /// wg.add(1).unwrap();
    /// let weak = wg.downgrade();
    /// std::thread::spawn(move || wg.done().unwrap()); // done, then the last handle goes
    /// assert!(matches!(block_on(weak.wait_async()), Some(Ok(()))));
    /// ```
    pub fn wait_async(&self) -> WeakWaitGroupFuture {
        WeakWaitGroupFuture {
            inner: WaitGroupFuture {
                counter: self.counter.clone(),
                generation: None,
                entry: None,
            },
        }
    }

    // ---- for an `ErrGroup`, whose counter's holders are its handles and task slots ----

    /// A new counter at zero with one holder, which the caller owns and gives back with
    /// [`release`](WeakWaitGroup::release) (invariant 8).
    pub(crate) fn new_held() -> WeakWaitGroup {
        WeakWaitGroup {
            counter: Counter::new_held(),
        }
    }

    /// One more holder; the caller must be a holder itself.
    pub(crate) fn retain(&self) {
        self.counter.retain();
    }

    /// Gives back a holder taken with [`new_held`](WeakWaitGroup::new_held) or
    /// [`retain`](WeakWaitGroup::retain).
    pub(crate) fn release(&self) {
        Counter::release(&self.counter);
    }

    pub(crate) fn add(&self, delta: i64) -> Result<()> {
        self.counter.add(delta)
    }

    pub(crate) fn done(&self) -> Result<()> {
        self.counter.add(-1)
    }

    /// As [`WaitGroup::wait_until`].
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        token: Option<&CancelToken>,
    ) -> Result<()> {
        Counter::block(&self.counter, deadline, token)?;
        match self.counter.panic.take() {
            Some(p) => Err(panic_slot::report(p)),
            None => Ok(()),
        }
    }

    /// As [`WaitGroup::wait_async`].
    pub(crate) fn wait_strong(&self) -> WaitGroupFuture {
        WaitGroupFuture {
            counter: self.counter.clone(),
            generation: None,
            entry: None,
        }
    }

    pub(crate) fn group_id(&self) -> GroupId {
        Counter::group_id(&self.counter)
    }

    pub(crate) fn is_alone(&self) -> bool {
        count_of(self.counter.state.load(Ordering::Relaxed)) == 1
    }
}

/// The future returned by [`WeakWaitGroup::wait_async`].
///
/// ```
/// let wg = gogroup::WaitGroup::new();
/// let _ready: gogroup::WeakWaitGroupFuture = wg.downgrade().wait_async();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WeakWaitGroupFuture {
    inner: WaitGroupFuture,
}

impl fmt::Debug for WeakWaitGroupFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakWaitGroupFuture")
            .finish_non_exhaustive()
    }
}

impl Future for WeakWaitGroupFuture {
    type Output = Option<Result<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        match inner.poll_round(cx, true) {
            Poll::Ready(true) => Poll::Ready(Some(match inner.counter.panic.take() {
                Some(p) => Err(panic_slot::report(p)),
                None => Ok(()),
            })),
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
