//! `CancelToken`: core's token, with AbortSignal's conventions for reasons.
//!
//! The JS object holds a core token (a handle: `child()`, `share()` and `fromShared()` all
//! reach the same core node), plus two caches that exist only on this thread: the JS reason
//! (so `token.reason === token.reason === token.signal.reason`) and the lazily created
//! `AbortController` behind `token.signal` (creating one costs what an AbortController costs,
//! so a token that is never asked for its signal never pays for it).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::errors;
use crate::host::{self, HostValue, Raw};
use crate::share;

/// The JS reason of a cancelled token, cached per JS object.
pub(crate) type ReasonCache = Arc<Mutex<Option<HostValue>>>;

/// The JS value of `cause` as seen through a token's cache: a carried JS value is itself; a
/// plain cancel or a deadline becomes one `AbortError` / `TimeoutError` for this object.
pub(crate) fn reason_of(
    env: sys::napi_env,
    cache: &ReasonCache,
    cause: &gogroup::Error,
) -> Result<sys::napi_value> {
    if let Some(v) = cause.downcast_ref::<HostValue>().and_then(HostValue::get) {
        return Ok(v);
    }
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(v) = c.as_ref().and_then(HostValue::get) {
        return Ok(v);
    }
    let v = errors::to_js(env, cause)?;
    *c = Some(HostValue::new(env, v)?);
    Ok(v)
}

/// Reports a pending JS exception (from a callback we ran) as uncaught, as EventTarget does.
pub(crate) fn report_exception(env: sys::napi_env) {
    if let Some(e) = host::take_exception(env) {
        // SAFETY: JS thread.
        unsafe { sys::napi_fatal_exception(env, e) };
    }
}

fn epoch_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A wall-clock time in ms since the epoch, as a monotonic `Instant`.
pub(crate) fn instant_of_epoch_ms(ms: f64) -> Instant {
    let delta = ms - epoch_ms_now();
    let now = Instant::now();
    if delta >= 0.0 {
        now.checked_add(Duration::from_secs_f64((delta / 1000.0).min(1e12)))
            .unwrap_or(now)
    } else {
        now.checked_sub(Duration::from_secs_f64((-delta / 1000.0).min(1e9)))
            .unwrap_or(now)
    }
}

/// A duration in ms from JS (negative or NaN: zero).
pub(crate) fn duration_of_ms(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64((ms / 1000.0).min(1e12))
    }
}

/// True on the process's main thread, where blocking waits are refused.
pub(crate) fn on_main_thread() -> bool {
    // The main thread's task id is the process id (Linux).
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .is_some_and(|tid| tid == std::process::id().to_string())
}

/// Refuses a blocking wait on the main thread (it would freeze the event loop).
pub(crate) fn refuse_on_main_thread(env: &Env) -> Result<()> {
    if on_main_thread() {
        let e = gogroup::Error::new(
            gogroup::ErrorKind::InvalidArgument,
            "waitSync blocks its thread and is only allowed in worker threads; on the main thread use `await wait()`",
        );
        return Err(errors::throw(env.raw(), &e));
    }
    Ok(())
}

/// The core cause for an optional JS deadline reason (`undefined`: none, the default; `null`
/// is a reason like any other, as for `AbortController.abort(null)`).
fn deadline_reason(env: &Env, reason: Unknown) -> Result<Option<gogroup::Error>> {
    match reason {
        r if r.get_type()? != ValueType::Undefined => errors::from_js(env.raw(), r.raw()).map(Some),
        _ => Ok(None),
    }
}

/// A cancellation signal for a tree of work (Go's `context.Context`), compatible with
/// `AbortSignal` and shareable with worker threads and native code.
///
/// ```js
/// const { CancelToken } = require('gogroup')
/// const root = new CancelToken()
/// const child = root.child()
/// root.cancel()
/// child.cancelled // true, synchronously
/// child.reason.name // 'AbortError'
/// ```
#[napi]
#[derive(Debug)]
pub struct CancelToken {
    pub(crate) inner: gogroup::CancelToken,
    /// Allocated on first use: most tokens are cancelled and dropped without being asked why.
    reason: std::cell::OnceCell<ReasonCache>,
    /// Interior mutability: every method takes `&self`, so that a callback running inside one
    /// method (a task, an `onCancel` callback) may call another on the same object.
    controller: RefCell<Option<(HostValue, gogroup::Registration)>>,
    /// The numbers this object shared, and the one it was made from: each keeps its number
    /// valid while this object lives (see `share`).
    shares: RefCell<Vec<share::Ref>>,
    /// Last: dropping `inner` may let callbacks go (a `whenCancelled` resolver, freed at the
    /// next drain).
    _drain: host::DrainOnDrop,
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        if let Some((_, reg)) = self.controller.get_mut().take() {
            reg.stop();
        }
    }
}

impl CancelToken {
    /// Wraps a core token in a new JS object.
    pub(crate) fn from_core(inner: gogroup::CancelToken) -> CancelToken {
        CancelToken {
            inner,
            reason: std::cell::OnceCell::new(),
            controller: RefCell::new(None),
            shares: RefCell::new(Vec::new()),
            _drain: host::DrainOnDrop,
        }
    }

    /// A new napi-rs object for `inner` (the public JS object wraps it: `handles::js_token`).
    pub(crate) fn js_object(env: &Env, inner: gogroup::CancelToken) -> Result<sys::napi_value> {
        // SAFETY: JS thread.
        unsafe { CancelToken::to_napi_value(env.raw(), CancelToken::from_core(inner)) }
    }

    fn reason_cache(&self) -> &ReasonCache {
        self.reason.get_or_init(|| Arc::new(Mutex::new(None)))
    }

    fn reason_value(&self, env: &Env) -> Result<Option<sys::napi_value>> {
        match self.inner.cause() {
            Some(cause) => reason_of(env.raw(), self.reason_cache(), &cause).map(Some),
            None => Ok(None),
        }
    }
}

#[napi]
impl CancelToken {
    /// A new root token, cancelled only when you cancel it.
    ///
    /// ```js
    /// new CancelToken().cancelled // false
    /// ```
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> CancelToken {
        CancelToken::from_core(gogroup::CancelToken::new())
    }

    /// Cancels the token and every token derived from it. Without `reason` the reason is a
    /// `DOMException` named `AbortError` (as `AbortController.abort()`); with one, `reason` is
    /// kept as the very same value. Returns true if this call cancelled it (the first cancel
    /// wins), false if it was already cancelled.
    ///
    /// ```js
    /// const t = new CancelToken()
    /// const why = new Error('shutting down')
    /// t.cancel(why) // true
    /// t.reason === why // true
    /// ```
    #[napi(catch_unwind, ts_args_type = "reason?: unknown")]
    pub fn cancel(&self, env: Env, reason: Unknown) -> Result<bool> {
        let raw = env.raw();
        let cancelled = match reason {
            r if r.get_type()? != ValueType::Undefined => {
                self.inner.cancel_with(errors::from_js(raw, r.raw())?)
            }
            _ => self.inner.cancel(),
        };
        host::drain(raw);
        Ok(cancelled)
    }

    /// Whether the token is cancelled (one atomic load).
    #[napi(getter, catch_unwind)]
    pub fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// Why the token was cancelled (`undefined` while it is not): the value given to
    /// `cancel(reason)`, else an `AbortError` (`cancel()`) or a `TimeoutError` (a deadline)
    /// `DOMException`, exactly like `AbortSignal.reason`.
    #[napi(getter, catch_unwind, ts_return_type = "unknown")]
    pub fn reason(&self, env: Env) -> Result<Raw> {
        Ok(Raw(self
            .reason_value(&env)?
            .unwrap_or_else(|| host::undefined(env.raw()))))
    }

    /// Go's `ctx.Err()`: `null` while live, then an `Error` with `code` `'GOGROUP_CANCELED'`
    /// or `'GOGROUP_DEADLINE_EXCEEDED'` (never the reason itself).
    #[napi(getter, catch_unwind, ts_return_type = "Error | null")]
    pub fn err(&self, env: Env) -> Result<Option<Raw>> {
        match self.inner.err() {
            Some(e) => errors::plain_error(env.raw(), &e).map(|v| Some(Raw(v))),
            None => Ok(None),
        }
    }

    /// Child tokens, `any` tokens and `onCancel` callbacks currently registered on this token
    /// (core's `dependents`). This object's own `signal` is a view of the token, not a
    /// dependent, and is left out. A diagnostic, for tests and leak hunting: it drops back
    /// when they are cancelled, stopped or garbage-collected, and its exact value is not part
    /// of the API.
    ///
    /// ```js
    /// const t = new CancelToken()
    /// const reg = t.onCancel(() => {})
    /// t.dependents // 1
    /// reg.stop()
    /// t.dependents // 0
    /// ```
    #[napi(getter, catch_unwind)]
    pub fn dependents(&self) -> u32 {
        // The signal's registration is on the token until the token is cancelled (or at once
        // gone, if it already was when the signal was created). Read before core's count, so
        // that a cancel in between only makes the subtraction saturate.
        let own = usize::from(self.controller.borrow().is_some() && !self.inner.is_cancelled());
        let n = self.inner.dependents().saturating_sub(own);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The effective deadline (the earliest of this token's and its ancestors'), or `null`.
    #[napi(getter, catch_unwind, ts_return_type = "Date | null")]
    pub fn deadline(&self, env: Env) -> Result<Option<Raw>> {
        let Some(d) = self.inner.deadline() else {
            return Ok(None);
        };
        let now = Instant::now();
        let ms = if d >= now {
            epoch_ms_now() + (d - now).as_secs_f64() * 1000.0
        } else {
            epoch_ms_now() - (now - d).as_secs_f64() * 1000.0
        };
        let mut v = std::ptr::null_mut();
        // SAFETY: JS thread.
        host::check(unsafe { sys::napi_create_double(env.raw(), ms.round(), &mut v) })?;
        host::call_helper(env.raw(), c"date", &[v]).map(|d| Some(Raw(d)))
    }

    /// A child token: cancelled (with the same reason) when this one is, and cancellable on its
    /// own without affecting this one.
    #[napi(catch_unwind)]
    pub fn child(&self) -> CancelToken {
        CancelToken::from_core(self.inner.child())
    }

    /// A child token that is also cancelled after `ms` milliseconds (Go's `WithTimeout`), with
    /// a `TimeoutError` reason — or with `reason`, kept as the very same value, if one is given
    /// (Go's `WithTimeoutCause`; a `cancel()` before the deadline still gives its own reason).
    /// `err` is `GOGROUP_DEADLINE_EXCEEDED` either way. The timer runs on core's timer thread
    /// and, like `AbortSignal.timeout()`, does not keep the process alive.
    ///
    /// ```js
    /// const t = root.withTimeout(5000, new Error('quote expired'))
    /// ```
    #[napi(catch_unwind, ts_args_type = "ms: number, reason?: unknown")]
    pub fn with_timeout(&self, env: Env, ms: f64, reason: Unknown) -> Result<CancelToken> {
        let timeout = duration_of_ms(ms);
        let inner = match deadline_reason(&env, reason)? {
            Some(cause) => self.inner.with_timeout_cause(timeout, cause),
            None => self.inner.with_timeout(timeout),
        };
        host::drain(env.raw());
        Ok(CancelToken::from_core(inner))
    }

    /// A child token that is also cancelled at `deadline` (a `Date` or ms since the epoch),
    /// with a `TimeoutError` reason, or with `reason` if one is given (Go's `WithDeadline` and
    /// `WithDeadlineCause`, as `withTimeout`). A past deadline gives a cancelled token.
    #[napi(
        catch_unwind,
        ts_args_type = "deadline: Date | number, reason?: unknown"
    )]
    pub fn with_deadline(
        &self,
        env: Env,
        deadline: Unknown,
        reason: Unknown,
    ) -> Result<CancelToken> {
        let ms = host::call_helper(env.raw(), c"timeOf", &[deadline.raw()])?;
        // SAFETY: `timeOf` returns a number.
        let ms = unsafe { f64::from_napi_value(env.raw(), ms) }?;
        if ms.is_nan() {
            let e = gogroup::Error::new(gogroup::ErrorKind::InvalidArgument, "invalid deadline");
            return Err(errors::throw(env.raw(), &e));
        }
        let at = instant_of_epoch_ms(ms);
        let inner = match deadline_reason(&env, reason)? {
            Some(cause) => self.inner.with_deadline_cause(at, cause),
            None => self.inner.with_deadline(at),
        };
        host::drain(env.raw());
        Ok(CancelToken::from_core(inner))
    }

    /// A token cancelled as soon as any of `tokens` is, with that token's reason (like
    /// `AbortSignal.any`). It leaves no trace in its inputs once it is dropped or cancelled.
    #[napi(catch_unwind, ts_args_type = "tokens: Iterable<CancelToken>")]
    pub fn any(env: Env, tokens: Vec<Unknown>) -> Result<CancelToken> {
        let mut inner = Vec::with_capacity(tokens.len());
        for t in tokens {
            // SAFETY: JS thread; the type is checked by napi's class tag.
            let t = unsafe { ClassInstance::<CancelToken>::from_napi_value(env.raw(), t.raw()) }?;
            inner.push(t.inner.clone());
        }
        Ok(CancelToken::from_core(gogroup::CancelToken::any(
            inner.iter(),
        )))
    }

    /// Runs `callback(reason)` on this thread's event loop once the token is cancelled — soon
    /// after, if it already is (Go's `AfterFunc`). Works when the cancel comes from another
    /// thread. `stop()` on the result unregisters it: true if that prevented the call.
    #[napi(catch_unwind, ts_args_type = "callback: (reason: unknown) => void")]
    pub fn on_cancel(&self, env: Env, callback: Unknown) -> Result<Registration> {
        let raw = env.raw();
        let cb = HostValue::new(raw, callback.raw())?;
        let cache = self.reason_cache().clone();
        let host = host::shared(raw)?;
        let reg = self.inner.on_cancel_inline(move |cause| {
            host.run(move || {
                let Some(env) = host::env() else { return };
                let Some(f) = cb.get() else { return };
                match reason_of(env, &cache, &cause) {
                    Ok(reason) => {
                        let _ = host::call(env, host::undefined(env), f, &[reason]);
                        report_exception(env);
                    }
                    Err(_) => report_exception(env),
                }
            })
        });
        host::drain(raw);
        Ok(Registration { inner: Some(reg) })
    }

    /// A real `AbortSignal`, aborted with the same reason when this token is cancelled (for
    /// `fetch`, streams, timers and every API that takes a `signal`). Created on first use.
    #[napi(getter, catch_unwind, ts_return_type = "AbortSignal")]
    pub fn signal(&self, env: Env) -> Result<Raw> {
        let raw = env.raw();
        let existing = self.controller.borrow().as_ref().and_then(|(c, _)| c.get());
        if let Some(c) = existing {
            return host::call_helper(raw, c"signalOf", &[c]).map(Raw);
        }
        let controller = host::call_helper(raw, c"controller", &[])?;
        let kept = HostValue::new(raw, controller)?;
        let for_abort = HostValue::new(raw, controller)?;
        let cache = self.reason_cache().clone();
        let host = host::shared(raw)?;
        let reg = self.inner.on_cancel_inline(move |cause| {
            host.run(move || {
                let Some(env) = host::env() else { return };
                let Some(c) = for_abort.get() else { return };
                if let Ok(reason) = reason_of(env, &cache, &cause) {
                    let _ = host::call_helper(env, c"abort", &[c, reason]);
                }
                report_exception(env);
            })
        });
        *self.controller.borrow_mut() = Some((kept, reg));
        host::drain(raw); // an already-cancelled token aborts its new signal right here
        host::call_helper(raw, c"signalOf", &[controller]).map(Raw)
    }

    /// A token cancelled when `signal` aborts, with `signal.reason` as its reason (the same
    /// value). An already-aborted signal gives a cancelled token.
    ///
    /// However many tokens are made from one signal, the signal gets one listener, and a
    /// token made from it that is dropped leaves nothing behind on a signal that never
    /// aborts (as `AbortSignal.any`'s dependents).
    #[napi(catch_unwind, ts_args_type = "signal: AbortSignal")]
    pub fn from_signal(env: Env, signal: Unknown) -> Result<CancelToken> {
        let source = host::signal_source(env.raw(), signal.raw())?;
        Ok(CancelToken::from_core(source.child()))
    }

    /// A promise that resolves with the reason once the token is cancelled (never rejects).
    ///
    /// A pending promise does not keep the process alive (as an `abort` listener does not),
    /// unless `options.ref` is true: then the loop stays alive until the token is cancelled —
    /// for a token that a worker or a C thread will cancel. It holds nothing that keeps the
    /// token alive: once nothing can cancel the token any more (it and its ancestors are
    /// unreachable, with no deadline pending), the promise is released, forever pending, with
    /// whatever still refers to it.
    ///
    /// ```js
    /// await token.whenCancelled({ ref: true }) // in a worker: stays until the main thread cancels
    /// ```
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { ref?: boolean | null }",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn when_cancelled(&self, env: Env, options: Option<Object>) -> Result<Raw> {
        let raw = env.raw();
        let keep = match options {
            Some(o) => crate::waits::ref_opt(&env, &o)?.unwrap_or(false),
            None => false,
        };
        let keep = host::KeepAlive::when(raw, keep)?;
        let (resolver, promise) = host::deferred(raw)?;
        let cache = self.reason_cache().clone();
        let host = host::shared(raw)?;
        // A callback, not a task holding the token: core lets it go, unrun, once the token
        // can never be cancelled, and the resolver and the keep-alive go with it.
        let _registration = self.inner.on_cancel_inline(move |cause| {
            host.run(move || {
                let _keep = keep;
                let Some(env) = host::env() else { return };
                let v = reason_of(env, &cache, &cause).unwrap_or_else(|_| host::undefined(env));
                resolver.resolve(env, v);
            })
        });
        host::drain(raw); // a token cancelled already resolves it here
        Ok(Raw(promise))
    }

    /// Throws the reason if the token is cancelled (like `AbortSignal.throwIfAborted()`).
    #[napi(catch_unwind)]
    pub fn throw_if_cancelled(&self, env: Env) -> Result<()> {
        match self.reason_value(&env)? {
            Some(v) => Err(errors::throw_value(env.raw(), v)),
            None => Ok(()),
        }
    }

    /// Blocks this thread until the token is cancelled or `timeoutMs` passes; true if
    /// cancelled. Only in worker threads: on the main thread it throws
    /// (`GOGROUP_INVALID_ARGUMENT`), because blocking the event loop is a bug.
    /// `worker.terminate()` ends the wait (the worker then stops, as it does anywhere else).
    #[napi(catch_unwind)]
    pub fn wait_sync(&self, env: Env, timeout_ms: Option<f64>) -> Result<bool> {
        refuse_on_main_thread(&env)?;
        crate::blocking::wait_token(env.raw(), &self.inner, timeout_ms.map(duration_of_ms))
    }

    /// A new C handle (`gogroup_cancel_token *`, as a `bigint` address) to this same token, for
    /// native code linked against `libgogroup` (or any other copy of gogroup in the process):
    /// its threads can wait on it, poll it and cancel it, and a cancel on either side is seen on
    /// the other. Each call makes a new handle that the native side owns and releases exactly
    /// once with `gogroup_cancel_token_free`. See `examples/cross-runtime`.
    ///
    /// ```js
    /// const handle = token.cHandle() // pass to a native addon, which frees it when done
    /// ```
    #[napi(js_name = "cHandle", catch_unwind)]
    pub fn c_handle(&self) -> BigInt {
        BigInt::from(gogroup_ffi::cancel_token_into_c(self.inner.clone()) as usize as u64)
    }

    /// For `lib/cancel_token.js`: a handle to this core token in this thread's table (see
    /// `handles`), so that a token made here (a group's token) also takes the raw calls.
    #[napi(js_name = "__handle", skip_typescript, catch_unwind)]
    pub fn handle(&self) -> u32 {
        crate::handles::token_handle(&self.inner)
    }

    /// A new number that `CancelToken.fromShared(n)` turns back into this same token on any
    /// thread (post it to a `worker_threads` Worker, or put it in its `workerData`).
    ///
    /// Until it is first taken, the number keeps the token on its own, whatever happens to
    /// this object: a worker may read it after the main thread dropped its token. Once taken,
    /// it stays valid while this object or any object made from it is alive, then it is
    /// released (`fromShared` throws `GOGROUP_INVALID_ARGUMENT`). A number never taken keeps
    /// the token until the process exits: share once per receiver.
    ///
    /// ```js
    /// new Worker(file, { workerData: { token: token.share() } })
    /// ```
    #[napi(catch_unwind)]
    pub fn share(&self) -> i64 {
        let (id, holder) = share::register(share::Shared::Token(self.inner.clone()));
        self.shares.borrow_mut().push(holder);
        id
    }

    /// The token a `share()` number stands for: the same core token, so cancelling either
    /// side cancels both. The new object keeps the number valid while it lives (see `share`).
    /// An unknown or released number throws `GOGROUP_INVALID_ARGUMENT`.
    #[napi(catch_unwind)]
    pub fn from_shared(env: Env, shared: i64) -> Result<CancelToken> {
        match share::take(shared) {
            Some((share::Shared::Token(t), holder)) => {
                let token = CancelToken::from_core(t);
                token.shares.borrow_mut().push(holder);
                Ok(token)
            }
            _ => Err(errors::throw(env.raw(), &share::unknown(shared))),
        }
    }
}

/// The handle `onCancel` returns (Go's `AfterFunc` stop function).
#[napi]
#[derive(Debug)]
pub struct Registration {
    inner: Option<gogroup::Registration>,
}

#[napi]
impl Registration {
    /// Unregisters the callback: true if this prevented it from running, false if it already
    /// ran (or was queued to run) or was already stopped.
    #[napi(catch_unwind)]
    pub fn stop(&mut self) -> bool {
        self.inner.take().is_some_and(|r| r.stop())
    }
}
