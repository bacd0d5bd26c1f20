//! # gogroup
//!
//! Go's `sync.WaitGroup`, `golang.org/x/sync/errgroup` and `context` cancellation, written once
//! in Rust and shipped with the same semantics, the same errors and the same cancellation causes
//! to Rust, C, Python and Node.
//!
//! | Go | gogroup |
//! |---|---|
//! | `var wg sync.WaitGroup` | [`WaitGroup::new()`] |
//! | `wg.Add(n)` / `wg.Done()` / `wg.Wait()` | [`WaitGroup::add`] / [`WaitGroup::done`] / [`WaitGroup::wait`] |
//! | `wg.Go(f)` | [`WaitGroup::go`] |
//! | *(none: golang/go#32230, #40916)* | [`WaitGroup::wait_timeout`], [`WaitGroup::wait_cancellable`], [`WaitGroup::wait_async`] |
//! | `context.Background()` + `WithCancel` | [`CancelToken::new()`], [`CancelToken::child`] |
//! | `cancel()` / `WithCancelCause`'s `cancel(err)` | [`CancelToken::cancel`] / [`CancelToken::cancel_with`] |
//! | `WithTimeout` / `WithDeadline` | [`CancelToken::with_timeout`] / [`CancelToken::with_deadline`] |
//! | `WithTimeoutCause` / `WithDeadlineCause` | [`CancelToken::with_timeout_cause`] / [`CancelToken::with_deadline_cause`] |
//! | `ctx.Err()` / `context.Cause(ctx)` / `ctx.Deadline()` | [`CancelToken::err`] / [`CancelToken::cause`] / [`CancelToken::deadline`] |
//! | `<-ctx.Done()` | [`CancelToken::wait`], [`CancelToken::wait_async`], [`CancelToken::is_cancelled`] |
//! | `stop := context.AfterFunc(ctx, f)`; `stop()` | [`CancelToken::on_cancel`] → [`Registration::stop`] |
//! | the `AfterFunc` merge recipe | [`CancelToken::any`] |
//! | `defer cancel()` | [`CancelToken::drop_guard`] |
//! | `var g errgroup.Group` | [`ErrGroup::new()`] |
//! | `errgroup.WithContext(ctx)` | [`ErrGroup::with_token`] |
//! | `g.Go(f)` / `g.TryGo(f)` / `g.SetLimit(n)` / `g.Wait()` | [`ErrGroup::go`] / [`ErrGroup::try_go`] / [`ErrGroup::set_limit`] / [`ErrGroup::wait`] |
//! | *(refused: golang/go#23595)* | [`Collect::All`] and [`ErrGroup::errors`] |
//! | *(proposed: golang/go#57534 `Stop`)* | [`ErrGroup::shutdown`] |
//!
//! ## Where gogroup departs from Go, on purpose
//! * Misuse is an [`Error`], never a crash: a negative counter is rejected *before* it is
//!   applied ([`ErrorKind::NegativeCounter`]), changing a busy limit is
//!   [`ErrorKind::LimitInUse`]. Messages keep Go's text.
//! * A panic in a task is captured and resumed from `wait` (like `std::thread::scope`), because
//!   a library embedded in Python or Node must not abort its host.
//! * Reusing a `WaitGroup` is always safe; `go` on a full limit gives up when the group's token
//!   is cancelled; every wait comes with a timeout, a token and an async form.
//!
//! ## Where tasks run
//! `go` never starts a thread per task: tasks run on core's elastic [`pool`], which reuses idle
//! threads, starts new ones when all are blocked (so no task starves another, as with
//! goroutines), and lets idle ones exit. A task that runs somewhere else — a future on an event
//! loop, a JS promise, a foreign thread — takes its place in an `ErrGroup` with
//! [`ErrGroup::start`] / [`ErrGroup::start_async`] and reports back through [`TaskSlot::finish`],
//! under the same limit and first-error rules.
//!
//! ## Example: the first error cancels the rest
//! ```
//! use std::time::Duration;
//! use gogroup::{CancelToken, ErrGroup, Error, ErrorKind};
//!
//! let g = ErrGroup::with_token(&CancelToken::new());
//! g.go(|token| {
//!     // "fetch the price": slow, but stops as soon as the group is cancelled
//!     if token.wait_timeout(Duration::from_secs(30)) {
//!         return Err(token.cause().unwrap());
//!     }
//!     Ok(())
//! })?;
//! g.go(|_| Err(Error::custom("availability service unreachable")))?;
//! let err = g.wait().unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Custom);
//! assert_eq!(err.to_string(), "availability service unreachable");
//! # Ok::<(), Error>(())
//! ```
#![doc(test(attr(deny(warnings))))]

mod cancel_token;
mod err_group;
mod error;
mod limit;
mod loom;
mod panic_slot;
pub mod pool;
mod runtime;
mod timer;
mod wait_group;
mod wait_list;

pub use cancel_token::{CancelToken, CancelledFuture, DropGuard, Registration};
pub use err_group::{
    Collect, ErrGroup, ErrGroupBuilder, ErrGroupFuture, StartFuture, TaskSlot, WeakErrGroup,
    WeakErrGroupFuture,
};
pub use error::{Error, ErrorKind, Result};
pub use pool::PoolStats;
pub use wait_group::{WaitGroup, WaitGroupFuture, WeakWaitGroup, WeakWaitGroupFuture};

#[cfg(all(test, loom))]
mod tests;

/// The README's Rust snippets, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
