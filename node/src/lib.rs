//! # gogroup for Node
//!
//! Go's `sync.WaitGroup`, `errgroup.Group` and `context` cancellation for the event loop and
//! worker threads, as a napi-rs addon over the `gogroup` core. The binding translates; core
//! decides: every grouping rule (limits, first error, cause propagation, deadlines) is core's.
//!
//! | JS | core |
//! |---|---|
//! | `new WaitGroup()`, `add`, `done`, `wait({ signal, timeout, ref })`, `waitSync()`, `go(fn)` | `WaitGroup`, `downgrade().wait_async()`, `wait_async` |
//! | `new CancelToken()`, `cancel(reason)`, `child()`, `withTimeout(ms, reason)`, `withDeadline(date, reason)`, `any`, `onCancel`, `dependents` | `CancelToken`, `cancel_with`, `with_timeout_cause`, `with_deadline_cause`, `on_cancel_inline`, `dependents` |
//! | `new ErrGroup({ token, signal, limit, collect })`, `go`, `tryGo`, `wait({ signal, timeout, ref })`, `active`, `limit`, `errors()`, `shutdown(graceMs, reason)` | `ErrGroup::builder`, `try_start`, `start_queued`, `TaskSlot::finish` / `abandon`, `downgrade().wait_async()`, `active`, `limit`, `errors` |
//!
//! Lifetimes (issue 12): a pending promise holds nothing that keeps what it awaits alive, and is
//! released with it ([`waits`]); a timed wait keeps the event loop alive until it settles, an
//! unbounded one only with `{ ref: true }` (the table is on `host::KeepAlive`); `waitSync` in a
//! worker ends on `worker.terminate()` ([`blocking`]); a `share()` number lives until it is
//! taken, then with its objects ([`share`]).
//!
//! The public classes are JS (`lib/*.js`: argument checks, Node's idioms, and the per-loop
//! bookkeeping that keeps a task from crossing into the addon); [`install`] is where the two
//! halves meet. [`host`], [`handles`] and [`blocking`] are the only Rust code that is the
//! binding's own: the event-loop glue, cheaper ways to reach core where a napi-rs call or
//! object costs more than the work behind it, and a `waitSync` that `worker.terminate()` ends.

#![deny(clippy::all)]
// napi exports must be `pub`, but this cdylib has no Rust API: nothing is reachable from outside.
#![allow(unreachable_pub)]
// Under `cfg(test)` napi-derive registers nothing, so exported functions look unused there.
#![cfg_attr(test, allow(dead_code))]

#[macro_use]
extern crate napi_derive;

mod blocking;
mod cancel_token;
mod err_group;
mod errors;
mod handles;
mod host;
mod install;
mod share;
mod slab;
mod tasks;
mod wait_group;
mod waits;

/// The version of the native addon (the workspace version).
///
/// ```js
/// require('gogroup').version() // '0.1.0'
/// ```
#[napi(catch_unwind)]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Helpers that act from a *native* thread (core's pool), as C code or another addon would:
/// for tests and demos of cross-thread wake-ups.
mod testing {
    use crate::wait_group::WaitGroup;
    use napi::JsValue;

    /// Calls `wg.done()` on one of core's pool threads.
    #[napi(namespace = "testing", catch_unwind)]
    pub fn done_on_native_thread(wg: &WaitGroup) {
        let wg = wg.inner.clone();
        gogroup::pool::spawn(move || {
            let _ = wg.done();
        });
    }

    /// What this thread's event-loop glue holds right now: JS values kept by Rust, pending
    /// promises, and tasks awaiting their settlement (a leak shows as a growing number).
    #[napi(namespace = "testing", catch_unwind)]
    pub fn host_stats(env: napi::Env) -> HostStats {
        crate::host::drain(env.raw());
        let (values, pending, refs, promises) = crate::host::stats();
        HostStats {
            values: values as u32,
            pending: pending as u32,
            tasks: crate::tasks::live() as u32,
            tokens: crate::handles::live() as u32,
            wait_groups: crate::handles::live_wait_groups() as u32,
            refs: refs as u32,
            promises: promises as u32,
            shared: crate::share::live() as u32,
        }
    }

    /// Threads of this process blocked in `waitSync()` right now (any thread's host).
    #[napi(namespace = "testing", catch_unwind)]
    pub fn wait_sync_blocked() -> u32 {
        crate::blocking::blocked() as u32
    }

    /// See `hostStats`.
    #[napi(object, namespace = "testing")]
    #[derive(Debug)]
    pub struct HostStats {
        /// JS values held by Rust (thrown values, reasons, callbacks, controllers).
        pub values: u32,
        /// Pending promises driven by core futures.
        pub pending: u32,
        /// JS tasks whose promise has not settled yet.
        pub tasks: u32,
        /// Tokens behind a handle (`new CancelToken()`, `child()`) whose JS object has not been
        /// collected yet.
        pub tokens: u32,
        /// Wait groups whose `add`/`done` took a handle, and whose JS object has not been
        /// collected yet.
        pub wait_groups: u32,
        /// Pending calls holding this thread's event loop alive (`{ ref: true }`, timeouts).
        pub refs: u32,
        /// Promises made by the addon on this thread and not settled (or released) yet.
        pub promises: u32,
        /// `share()` numbers not released yet, process-wide.
        pub shared: u32,
    }

    /// Calls `token.cancel()` on one of core's pool threads.
    #[napi(
        namespace = "testing",
        catch_unwind,
        ts_args_type = "token: CancelToken"
    )]
    pub fn cancel_on_native_thread(
        env: napi::Env,
        token: napi::bindgen_prelude::Unknown,
    ) -> napi::Result<()> {
        let t = crate::handles::core_of(&env, token.raw())?;
        gogroup::pool::spawn(move || {
            t.cancel();
        });
        Ok(())
    }
}
