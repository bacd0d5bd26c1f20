//! Pending waits on the event loop: how a wait is raced against its `timeout` and `signal`,
//! what keeps the loop alive meanwhile, and when it is abandoned (issue 12).
//!
//! A wait waits through *weak* handles (core's `WeakWaitGroup`, `WeakErrGroup`, a callback
//! registered on a token): nothing it holds keeps the awaited object alive. Each branch of the
//! race may end as abandoned — the group became unreachable with work pending, the signal was
//! collected — and drops out of the race; a wait whose every branch is gone is abandoned as a
//! whole: its promise's resolver is dropped and the promise stays pending, collected with
//! whoever still holds it. A timeout is never abandoned: a timed wait always settles.
//!
//! # Invariants
//! 1. A branch that completes wins; branches are polled in a fixed order (the awaited object,
//!    then the timeout, then the signal), so a group that finished and a timeout that passed
//!    at the same poll report the finished group.
//! 2. Losing branches are dropped, never cancelled: giving up on a wait changes nothing in
//!    what was awaited; the timer goes with its branch, a callback on the signal's token is
//!    unregistered.
//! 3. A [`KeepAlive`](crate::host::KeepAlive) lives inside the wait's future: released when
//!    it settles, and also when it is abandoned.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use napi::bindgen_prelude::*;
use napi::sys;

use crate::cancel_token::duration_of_ms;
use crate::err_group::{get_opt, number_opt};
use crate::host::{self, KeepAlive};

/// The options every wait takes: `{ signal, timeout, ref }`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WaitOptions {
    pub(crate) timeout: Option<f64>,
    pub(crate) signal: Option<sys::napi_value>,
    /// `ref`: keep the loop alive until the wait settles (default: only if it has a timeout).
    pub(crate) keep_alive: Option<bool>,
}

impl WaitOptions {
    /// Reads `options` (`undefined` and `null` fields are absent).
    pub(crate) fn parse(env: &Env, options: Option<&Object>) -> Result<WaitOptions> {
        let Some(o) = options else {
            return Ok(WaitOptions::default());
        };
        Ok(WaitOptions {
            timeout: number_opt(env, o, "timeout")?,
            signal: get_opt(o, "signal")?,
            keep_alive: ref_opt(env, o)?,
        })
    }

    /// Whether the wait holds the loop: `ref` if given, else whether it has a timeout (a timed
    /// wait settles by itself, as a timer does).
    pub(crate) fn keeps_alive(&self) -> bool {
        self.keep_alive.unwrap_or(self.timeout.is_some())
    }
}

/// `o.ref` as a boolean, `None` if absent.
pub(crate) fn ref_opt(env: &Env, o: &Object) -> Result<Option<bool>> {
    match get_opt(o, "ref")? {
        // SAFETY: JS thread; napi checks the type.
        Some(v) => unsafe { bool::from_napi_value(env.raw(), v) }.map(Some),
        None => Ok(None),
    }
}

/// How a wait raced by [`bounded`] ended.
#[derive(Debug)]
pub(crate) enum Ended<T> {
    /// The awaited future completed with this.
    Done(T),
    /// `timeout` ms passed first.
    TimedOut,
    /// The signal aborted first: its reason, as the core error that carries it.
    Aborted(gogroup::Error),
    /// Nothing can settle the wait any more (module doc).
    Abandoned,
}

/// Races `fut` (whose `None` means "abandoned") against `opts.timeout` (core's timer thread)
/// and `opts.signal` (a callback on the signal's token), holding the loop as
/// [`WaitOptions::keeps_alive`] says. Runs on the loop through `host::spawn`; never blocks.
pub(crate) fn bounded<T: 'static>(
    env: &Env,
    opts: &WaitOptions,
    fut: impl Future<Output = Option<T>> + 'static,
) -> Result<impl Future<Output = Ended<T>> + 'static> {
    let abort = match opts.signal {
        Some(s) => Some(OnCancel::new(&host::signal_source(env.raw(), s)?)),
        None => None,
    };
    let mut timer = opts.timeout.map(|ms| {
        let t = gogroup::CancelToken::new().with_timeout(duration_of_ms(ms));
        Box::pin(t.wait_async()) // holds the token, and so its deadline
    });
    let keep = KeepAlive::when(env.raw(), opts.keeps_alive())?;
    let mut fut = Some(Box::pin(fut));
    let mut abort = abort;
    Ok(async move {
        let _keep = keep; // invariant 3
        std::future::poll_fn(move |cx| {
            // Invariant 1: the awaited object first.
            if let Some(f) = fut.as_mut() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(Some(v)) => return Poll::Ready(Ended::Done(v)),
                    Poll::Ready(None) => fut = None,
                    Poll::Pending => {}
                }
            }
            if let Some(t) = timer.as_mut()
                && t.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ended::TimedOut);
            }
            if let Some(a) = abort.as_mut() {
                match Pin::new(a).poll(cx) {
                    Poll::Ready(Some(cause)) => return Poll::Ready(Ended::Aborted(cause)),
                    Poll::Ready(None) => abort = None,
                    Poll::Pending => {}
                }
            }
            if fut.is_none() && timer.is_none() && abort.is_none() {
                return Poll::Ready(Ended::Abandoned);
            }
            Poll::Pending
        })
        .await
    })
}

/// A future that completes when a token is cancelled — `Some(cause)` — or with `None` when
/// its callback is let go without running (nothing can cancel the token any more: core's
/// tree lets the callbacks of an unreachable token go). Holds no handle of the token: a
/// callback registered on it, unregistered when this future is dropped.
#[derive(Debug)]
pub(crate) struct OnCancel {
    state: Arc<Mutex<Fired>>,
    registration: Option<gogroup::Registration>,
}

#[derive(Debug, Default)]
struct Fired {
    /// `Some(Some(cause))`: cancelled; `Some(None)`: let go.
    outcome: Option<Option<gogroup::Error>>,
    waker: Option<Waker>,
    /// The future is gone: nobody to tell.
    closed: bool,
}

/// Lives in the callback: reports the cause when it runs, or the let-go when it is dropped
/// unrun.
struct Report {
    state: Arc<Mutex<Fired>>,
    cause: Option<gogroup::Error>,
}

impl Drop for Report {
    fn drop(&mut self) {
        let waker = {
            let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if s.closed {
                return;
            }
            s.outcome = Some(self.cause.take());
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl OnCancel {
    pub(crate) fn new(token: &gogroup::CancelToken) -> OnCancel {
        let state = Arc::new(Mutex::new(Fired::default()));
        let mut report = Report {
            state: state.clone(),
            cause: None,
        };
        let registration = token.on_cancel_inline(move |cause| {
            report.cause = Some(cause);
            drop(report);
        });
        OnCancel {
            state,
            registration: Some(registration),
        }
    }
}

impl Future for OnCancel {
    type Output = Option<gogroup::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match s.outcome.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    s.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        if let Some(r) = self.registration.take() {
            r.stop();
        }
    }
}
