//! `WaitGroup`: core's counter, awaited with promises on the loop or `waitSync` in workers.

use std::future::Future;
use std::pin::Pin;

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::cancel_token::{self, duration_of_ms};
use crate::err_group;
use crate::errors;
use crate::host::{self, HostValue, Raw};
use crate::share;
use crate::tasks::{self, Slot};

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
///
/// ```js
/// const { WaitGroup } = require('gogroup')
/// const wg = new WaitGroup()
/// for (const url of urls) wg.go(async () => { await fetch(url) })
/// await wg.wait()
/// ```
#[napi]
#[derive(Debug)]
pub struct WaitGroup {
    pub(crate) inner: gogroup::WaitGroup,
    shares: std::cell::RefCell<Vec<i64>>,
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        share::unregister(self.shares.get_mut());
    }
}

#[napi]
impl WaitGroup {
    /// A new wait group with a zero counter.
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: gogroup::WaitGroup::new(),
            shares: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Adds `delta` (default 1, may be negative) to the counter. A change that would make it
    /// negative throws `GOGROUP_NEGATIVE_COUNTER` and is not applied.
    #[napi(catch_unwind)]
    pub fn add(&self, env: Env, delta: Option<f64>) -> Result<()> {
        let delta = delta.unwrap_or(1.0);
        if delta.fract() != 0.0 || !delta.is_finite() || delta.abs() > i32::MAX as f64 {
            let e = gogroup::Error::new(
                gogroup::ErrorKind::InvalidArgument,
                format!("WaitGroup.add: delta must be an integer, got {delta}"),
            );
            return Err(errors::throw(env.raw(), &e));
        }
        let r = self.inner.add(delta as i64);
        host::drain(env.raw());
        errors::map(&env, r)
    }

    /// Decrements the counter by one. Throws `GOGROUP_NEGATIVE_COUNTER` if it is zero.
    #[napi(catch_unwind)]
    pub fn done(&self, env: Env) -> Result<()> {
        let r = self.inner.done();
        host::drain(env.raw());
        errors::map(&env, r)
    }

    /// A new C handle (`gogroup_wait_group *`, as a `bigint` address) to this same counter, for
    /// native code linked against `libgogroup` (or any other copy of gogroup in the process):
    /// its threads can `add`/`done`/`wait`, and `done()` there resolves `wait()` here. Each call
    /// makes a new handle that the native side owns and releases exactly once with
    /// `gogroup_wait_group_free`. See `examples/cross-runtime`.
    ///
    /// ```js
    /// const handle = wg.cHandle() // pass to a native addon, which frees it when done
    /// ```
    #[napi(js_name = "cHandle", catch_unwind)]
    pub fn c_handle(&self) -> BigInt {
        BigInt::from(gogroup_ffi::wait_group_into_c(self.inner.clone()) as usize as u64)
    }

    /// The current counter.
    #[napi(getter, catch_unwind)]
    pub fn count(&self) -> u32 {
        self.inner.count() as u32
    }

    /// Resolves to `true` once the counter is zero (at once if it is), to `false` after
    /// `timeout` ms; rejects with `signal.reason` if `signal` aborts first. Never blocks.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { signal?: AbortSignal | null; timeout?: number | null }",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn wait(&self, env: Env, options: Option<Object>) -> Result<Raw> {
        let raw = env.raw();
        let (deferred, promise) = host::promise(raw)?;
        let ended = bounded(&env, options, self.inner.wait_async())?;
        host::spawn(raw, async move {
            let ended = ended.await;
            let Some(env) = host::env() else { return };
            match ended {
                Ended::Done => deferred.resolve(env, boolean(env, true)),
                Ended::TimedOut => deferred.resolve(env, boolean(env, false)),
                Ended::Aborted(cause) => match errors::to_js(env, &cause) {
                    Ok(v) => deferred.reject(env, v),
                    Err(_) => deferred.reject(env, host::undefined(env)),
                },
            }
        })?;
        Ok(Raw(promise))
    }

    /// Blocks this thread until the counter is zero or `timeoutMs` passes; true if zero.
    /// Only in worker threads: on the main thread it throws (`GOGROUP_INVALID_ARGUMENT`),
    /// because blocking the event loop is a bug.
    #[napi(catch_unwind)]
    pub fn wait_sync(&self, env: Env, timeout_ms: Option<f64>) -> Result<bool> {
        cancel_token::refuse_on_main_thread(&env)?;
        Ok(match timeout_ms {
            Some(ms) => self.inner.wait_timeout(duration_of_ms(ms)),
            None => {
                self.inner.wait();
                true
            }
        })
    }

    /// Runs `fn()` counted by this group (Go's `WaitGroup.Go`): the counter is incremented
    /// now and decremented when `fn` returns or, for an async function, when its promise
    /// settles. A synchronous throw is rethrown here (after the decrement); a rejection only
    /// decrements the counter (use `ErrGroup` to collect errors).
    ///
    /// Costs what a plain-JS WaitGroup's `go` costs: the tasks pending on this thread's event
    /// loop share one count in core (taken by the first, given back by the last), so no task
    /// crosses into the addon; every wait, on any thread, still sees them, and `count` reports
    /// each one.
    #[napi(catch_unwind, ts_args_type = "fn: () => unknown")]
    pub fn go(&self, env: Env, f: Unknown) -> Result<()> {
        // Replaced on the prototype at load by `src/loop_tasks.js` (see `loop_tasks.rs`), so JS
        // never reaches this body. The method stays because `index.d.ts` and its docs are
        // generated from it; the body implements the same rules one crossing per step.
        let raw = env.raw();
        errors::map(&env, self.inner.add(1))?;
        let id = tasks::insert(Slot::Wait(self.inner.clone()));
        let outcome = host::run_task(raw, f.raw(), host::undefined(raw), id);
        let result = match outcome {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                tasks::settle(raw, id, Ok(()));
                Ok(())
            }
            Ok(Err(thrown)) => {
                tasks::settle(raw, id, Ok(()));
                Err(errors::throw_value(raw, thrown))
            }
            Err(e) => {
                tasks::settle(raw, id, Ok(()));
                Err(e)
            }
        };
        host::drain(raw);
        result
    }

    /// For `src/loop_tasks.js`: a handle to this counter in this thread's table, for the raw
    /// `add`/`done` calls (see `handles`). The JS side releases it.
    #[napi(js_name = "__handle", skip_typescript, catch_unwind)]
    pub fn handle(&self) -> u32 {
        crate::handles::wait_group_handle(&self.inner)
    }

    /// A number that `WaitGroup.fromShared(n)` turns back into this same wait group on any
    /// thread (post it to a `worker_threads` Worker). Valid while this object is alive.
    #[napi(catch_unwind)]
    pub fn share(&self) -> i64 {
        let id = share::register(share::Entry::WaitGroup(self.inner.clone()));
        self.shares.borrow_mut().push(id);
        id
    }

    /// The wait group a `share()` number stands for: the same counter, so `done()` in a
    /// worker resolves `wait()` on the main thread.
    #[napi(catch_unwind)]
    pub fn from_shared(env: Env, shared: i64) -> Result<WaitGroup> {
        match share::lookup(shared) {
            Some(share::Entry::WaitGroup(wg)) => Ok(WaitGroup {
                inner: wg,
                shares: std::cell::RefCell::new(Vec::new()),
            }),
            _ => Err(errors::throw(env.raw(), &share::unknown(shared))),
        }
    }
}

/// How a wait bounded by [`bounded`] ended.
pub(crate) enum Ended {
    /// The awaited future completed.
    Done,
    /// `options.timeout` ms passed first.
    TimedOut,
    /// `options.signal` aborted first: its reason, as the core error that carries it.
    Aborted(gogroup::Error),
}

/// Races `fut` against `options.timeout` (ms, on core's timer thread, which keeps nothing
/// alive) and `options.signal` (a listener removed as soon as the race ends). The losers are
/// dropped, never cancelled: giving up on a wait changes nothing in what was awaited. Runs on
/// the loop through `host::spawn`; never blocks.
pub(crate) fn bounded(
    env: &Env,
    options: Option<Object>,
    fut: impl Future<Output = ()> + 'static,
) -> Result<impl Future<Output = Ended> + 'static> {
    let (timeout, signal) = match options {
        Some(o) => (
            err_group::number_opt(env, &o, "timeout")?,
            err_group::get_opt(&o, "signal")?,
        ),
        None => (None, None),
    };
    let mut futures: Vec<Pin<Box<dyn Future<Output = ()>>>> = vec![Box::pin(fut)];
    let mut timer = None;
    if let Some(ms) = timeout {
        let t = gogroup::CancelToken::new().with_timeout(duration_of_ms(ms));
        futures.push(Box::pin(t.wait_async()));
        timer = Some(t);
    }
    let mut abort = None;
    if let Some(s) = signal {
        let (token, remover) = cancel_token::token_from_signal(env, s)?;
        futures.push(Box::pin(token.wait_async()));
        abort = Some((token, remover));
    }
    let timer_index = timer.as_ref().map(|_| 1);
    Ok(async move {
        let which = host::first_of(futures).await;
        let (token, remover): (Option<gogroup::CancelToken>, Option<HostValue>) = match abort {
            Some((t, r)) => (Some(t), r),
            None => (None, None),
        };
        if let Some(env) = host::env() {
            cancel_token::remove_listener(env, remover);
        }
        drop(timer);
        if which == 0 {
            Ended::Done
        } else if Some(which) == timer_index {
            Ended::TimedOut
        } else {
            Ended::Aborted(
                token
                    .and_then(|t| t.cause())
                    .unwrap_or_else(gogroup::Error::canceled),
            )
        }
    })
}

pub(crate) fn boolean(env: sys::napi_env, b: bool) -> sys::napi_value {
    let mut v = std::ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_boolean(env, b, &mut v) };
    v
}
