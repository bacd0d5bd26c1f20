//! `WaitGroup`: core's counter, awaited with promises on the loop or `waitSync` in workers.

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::cancel_token::{self, duration_of_ms};
use crate::errors;
use crate::host::{self, Raw};
use crate::share;
use crate::waits::{Ended, WaitOptions, bounded};

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
    /// The numbers this object shared, and the one it was made from (see `share`).
    shares: std::cell::RefCell<Vec<share::Ref>>,
    /// Last: dropping `inner` may end weak waits, whose futures run at the next drain.
    _drain: host::DrainOnDrop,
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
            _drain: host::DrainOnDrop,
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
    ///
    /// A wait with a `timeout` keeps the process alive until it settles (as a timer does); one
    /// without does not, unless `ref: true` (for a counter that a worker or a C thread will
    /// bring to zero); `ref: false` lets a timed wait leave the loop free. It holds nothing
    /// that keeps the group alive: once nothing can change the counter any more (no object,
    /// task, share number or C handle of it is left), an unbounded wait is released, forever
    /// pending, with whatever still refers to its promise.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { signal?: AbortSignal | null; timeout?: number | null; ref?: boolean | null }",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn wait(&self, env: Env, options: Option<Object>) -> Result<Raw> {
        let raw = env.raw();
        let opts = WaitOptions::parse(&env, options.as_ref())?;
        let weak = self.inner.downgrade();
        let ended = bounded(&env, &opts, async move { weak.wait_async().await })?;
        let (resolver, promise) = host::deferred(raw)?;
        host::spawn(raw, async move {
            let ended = ended.await;
            let Some(env) = host::env() else { return };
            match ended {
                Ended::Done(Ok(())) => resolver.resolve(env, boolean(env, true)),
                Ended::TimedOut => resolver.resolve(env, boolean(env, false)),
                // A `go` task of core's pool panicked (C code's, through a C handle).
                Ended::Done(Err(e)) | Ended::Aborted(e) => match errors::to_js(env, &e) {
                    Ok(v) => resolver.reject(env, v),
                    Err(_) => resolver.reject(env, host::undefined(env)),
                },
                Ended::Abandoned => drop(resolver), // pending for good: released
            }
        })?;
        Ok(Raw(promise))
    }

    /// Blocks this thread until the counter is zero or `timeoutMs` passes; true if zero.
    /// Only in worker threads: on the main thread it throws (`GOGROUP_INVALID_ARGUMENT`),
    /// because blocking the event loop is a bug. `worker.terminate()` ends the wait (the
    /// worker then stops, as it does anywhere else).
    #[napi(catch_unwind)]
    pub fn wait_sync(&self, env: Env, timeout_ms: Option<f64>) -> Result<bool> {
        cancel_token::refuse_on_main_thread(&env)?;
        crate::blocking::wait_group(env.raw(), &self.inner, timeout_ms.map(duration_of_ms))
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
    pub fn go(&self, env: Env, this: This, f: Unknown) -> Result<()> {
        // Replaced on the prototype at load by `lib/wait_group.js`, so JS
        // never reaches this body. The method stays because `index.d.ts` and its docs are
        // generated from it; the body implements the same rules one crossing per step: the
        // count taken here is given back by `tasks::settle` on this object (`this`), which the
        // task's promise handlers hold.
        let raw = env.raw();
        errors::map(&env, self.inner.add(1))?;
        let outcome = host::run_task(raw, f.raw(), host::undefined(raw), this.object.raw(), 0);
        let pending = matches!(outcome, Ok(Ok(true)));
        let result = match outcome {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Ok(()),
            Ok(Err(thrown)) => Err(errors::throw_value(raw, thrown)),
            Err(e) => Err(e),
        };
        if !pending {
            let _ = self.inner.done(); // the count taken above: it cannot underflow
        }
        host::drain(raw);
        result
    }

    /// For `lib/wait_group.js`: a handle to this counter in this thread's table, for the raw
    /// `add`/`done` calls (see `handles`). The JS side releases it.
    #[napi(js_name = "__handle", skip_typescript, catch_unwind)]
    pub fn handle(&self) -> u32 {
        crate::handles::wait_group_handle(&self.inner)
    }

    /// A new number that `WaitGroup.fromShared(n)` turns back into this same wait group on
    /// any thread (post it to a `worker_threads` Worker, or put it in its `workerData`).
    ///
    /// Until it is first taken, the number keeps the counter on its own, whatever happens to
    /// this object: a worker may read it after the main thread dropped its group. Once taken,
    /// it stays valid while this object or any object made from it is alive, then it is
    /// released (`fromShared` throws `GOGROUP_INVALID_ARGUMENT`). A number never taken keeps
    /// the counter until the process exits: share once per receiver.
    ///
    /// ```js
    /// new Worker(file, { workerData: { wg: wg.share() } })
    /// ```
    #[napi(catch_unwind)]
    pub fn share(&self) -> i64 {
        let (id, holder) = share::register(share::Shared::WaitGroup(self.inner.clone()));
        self.shares.borrow_mut().push(holder);
        id
    }

    /// The wait group a `share()` number stands for: the same counter, so `done()` in a
    /// worker resolves `wait()` on the main thread. The new object keeps the number valid
    /// while it lives (see `share`). An unknown or released number throws
    /// `GOGROUP_INVALID_ARGUMENT`.
    #[napi(catch_unwind)]
    pub fn from_shared(env: Env, shared: i64) -> Result<WaitGroup> {
        match share::take(shared) {
            Some((share::Shared::WaitGroup(wg), holder)) => Ok(WaitGroup {
                inner: wg,
                shares: std::cell::RefCell::new(vec![holder]),
                _drain: host::DrainOnDrop,
            }),
            _ => Err(errors::throw(env.raw(), &share::unknown(shared))),
        }
    }
}

pub(crate) fn boolean(env: sys::napi_env, b: bool) -> sys::napi_value {
    let mut v = std::ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_boolean(env, b, &mut v) };
    v
}
