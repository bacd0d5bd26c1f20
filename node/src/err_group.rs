//! `ErrGroup`: core's errgroup for JS functions that run on the event loop.
//!
//! A JS task is not run on core's pool: it takes a place in the group with core's
//! `try_start` / `start_async` (so the limit and the first-error rule are core's), runs on this
//! thread, and reports its outcome with `TaskSlot::finish` when its promise settles. A thrown
//! value travels through core as the payload of the error, so `wait()` rejects with that very
//! value. The binding attaches its own handlers to each task's promise, so a failing task never
//! produces an unhandled rejection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::cancel_token::{self, duration_of_ms};
use crate::errors;
use crate::host::{self, HostValue, Raw};
use crate::tasks::{self, Slot};
use crate::wait_group::{Ended, bounded};

/// A group of tasks that fail together (Go's `errgroup.Group` made with `WithContext`): every
/// task receives the group's token; the first failure cancels it, with that failure as reason.
///
/// ```js
/// const { ErrGroup } = require('gogroup')
/// const g = new ErrGroup({ limit: 4 })
/// for (const url of urls) g.go(async (token) => { await fetch(url, { signal: token.signal }) })
/// await g.wait() // rejects with the first error, the very value that was thrown
/// ```
#[napi]
#[derive(Debug)]
pub struct ErrGroup {
    inner: gogroup::ErrGroup,
    collect_all: bool,
    /// The JS `CancelToken` handed to tasks (created on first use, then always the same).
    token: RefCell<Option<HostValue>>,
    /// `go` calls still waiting for a slot (core's `start_queued`, so `wait()` counts them):
    /// while any wait, later `go` calls queue behind them and `tryGo` refuses.
    queued_n: Rc<Cell<usize>>,
    /// Removes the listener on `options.signal`, when the group is garbage-collected.
    signal_listener: Option<HostValue>,
    /// The one slot that the tasks of `src/loop_tasks.js` pending on this loop share (see
    /// [`ErrGroup::hold`]).
    held: RefCell<Option<gogroup::TaskSlot>>,
}

/// `o[key]` as a number, `None` if it is `undefined` or `null` (as the typings promise).
pub(crate) fn number_opt(env: &Env, o: &Object, key: &str) -> Result<Option<f64>> {
    match get_opt(o, key)? {
        // SAFETY: JS thread; napi checks the type.
        Some(v) => unsafe { f64::from_napi_value(env.raw(), v) }.map(Some),
        None => Ok(None),
    }
}

pub(crate) fn get_opt(o: &Object, key: &str) -> Result<Option<sys::napi_value>> {
    let v: Option<Unknown> = o.get(key)?;
    Ok(v.filter(|v| {
        v.get_type()
            .is_ok_and(|t| t != ValueType::Undefined && t != ValueType::Null)
    })
    .map(|v| v.raw()))
}

/// A JS limit as core's: an integer (`0`: nothing may start), negative or `±Infinity` for no
/// limit. NaN or a fraction is `GOGROUP_INVALID_ARGUMENT` (never silently 0 or truncated).
fn limit_of(env: &Env, n: f64) -> Result<i64> {
    if n.is_nan() || (n.is_finite() && n.fract() != 0.0) {
        let e = gogroup::Error::new(
            gogroup::ErrorKind::InvalidArgument,
            format!("limit must be an integer (negative: no limit), got {n}"),
        );
        return Err(errors::throw(env.raw(), &e));
    }
    // Saturating: Infinity is beyond any limit core can count to, which core reads as none.
    Ok(n as i64)
}

impl ErrGroup {
    /// `&self`, as every method a task may call: a task runs inside `go`, and may call `go`
    /// again (napi-rs refuses a second borrow of a `&mut self` method's object).
    fn token_object(&self, env: &Env) -> Result<sys::napi_value> {
        if let Some(v) = self.token.borrow().as_ref().and_then(HostValue::get) {
            return Ok(v);
        }
        let v = crate::handles::js_token(env, self.inner.token().clone())?;
        *self.token.borrow_mut() = Some(HostValue::new(env.raw(), v)?);
        Ok(v)
    }
}

/// Runs `f(token)` in `slot`, on this thread.
fn run_in_slot(
    env: sys::napi_env,
    slot: gogroup::TaskSlot,
    f: sys::napi_value,
    token: sys::napi_value,
) {
    let id = tasks::insert(Slot::Group(slot));
    match host::run_task(env, f, token, id) {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => tasks::settle(env, id, Ok(())),
        Ok(Err(thrown)) => {
            let c = host::is_cancellation(env, thrown, token);
            tasks::settle(env, id, Err((thrown, c)));
        }
        Err(_) => {
            let e = host::take_exception(env).unwrap_or_else(|| host::undefined(env));
            let c = host::is_cancellation(env, e, token);
            tasks::settle(env, id, Err((e, c)));
        }
    }
}

#[napi]
impl ErrGroup {
    /// A new group. `token`/`signal`: the group's token derives from them (cancelled when
    /// either is); `limit`: at most this many tasks run at once (`0`: none may start; negative
    /// or absent: no limit, as `setLimit`); `collect: 'all'` makes `wait()` reject with an
    /// `AggregateError` of every failure instead of the first.
    #[napi(
        constructor,
        catch_unwind,
        ts_args_type = "options?: { token?: CancelToken | null; signal?: AbortSignal | null; limit?: number | null; collect?: 'first' | 'all' }"
    )]
    pub fn new(env: Env, options: Option<Object>) -> Result<ErrGroup> {
        let mut parents = Vec::new();
        let mut limit = None;
        let mut collect_all = false;
        let mut signal_listener = None;
        if let Some(o) = options {
            if let Some(t) = get_opt(&o, "token")? {
                parents.push(crate::handles::core_of(&env, t)?);
            }
            if let Some(s) = get_opt(&o, "signal")? {
                let (t, remover) = cancel_token::token_from_signal(&env, s)?;
                parents.push(t);
                signal_listener = remover;
            }
            limit = number_opt(&env, &o, "limit")?;
            if let Some(c) = o.get::<String>("collect")? {
                collect_all = match c.as_str() {
                    "all" => true,
                    "first" => false,
                    other => {
                        let e = gogroup::Error::new(
                            gogroup::ErrorKind::InvalidArgument,
                            format!("collect must be 'first' or 'all', got '{other}'"),
                        );
                        return Err(errors::throw(env.raw(), &e));
                    }
                };
            }
        }
        let parent = match parents.len() {
            0 => gogroup::CancelToken::new(),
            1 => parents.pop().expect("one parent"),
            _ => gogroup::CancelToken::any(parents.iter()),
        };
        let mut b = gogroup::ErrGroup::builder()
            .token(&parent)
            .collect(if collect_all {
                gogroup::Collect::All
            } else {
                gogroup::Collect::First
            });
        if let Some(n) = limit {
            b = b.limit(limit_of(&env, n)?);
        }
        Ok(ErrGroup {
            inner: b.build(),
            collect_all,
            token: RefCell::new(None),
            queued_n: Rc::new(Cell::new(0)),
            signal_listener,
            held: RefCell::new(None),
        })
    }

    /// The group's token: cancelled by the first failure (with it as the reason), by a parent
    /// token or signal, by `shutdown()`, and when `wait()` settles. Tasks receive it.
    #[napi(getter, catch_unwind, ts_return_type = "CancelToken")]
    pub fn token(&self, env: Env) -> Result<Raw> {
        self.token_object(&env).map(Raw)
    }

    /// Starts `fn(token)`: at once if a slot is free, else as soon as one is (in call order).
    /// `fn` may be sync or async; a throw or a rejection is the task's error. If the group's
    /// token is cancelled while `fn` waits for a slot, `fn` never runs.
    ///
    /// In a group without a limit this costs what `Promise.all` costs per task: the tasks
    /// pending on this thread's loop share one slot in core, and only a failure crosses into
    /// the addon (recorded at once, so the first one cancels the token at once); `active`
    /// and `shutdown()` still count each task.
    #[napi(catch_unwind, ts_args_type = "fn: (token: CancelToken) => unknown")]
    pub fn go(&self, env: Env, f: Unknown) -> Result<()> {
        let raw = env.raw();
        let token = self.token_object(&env)?;
        if self.queued_n.get() == 0
            && let Some(slot) = self.inner.try_start()
        {
            run_in_slot(raw, slot, f.raw(), token);
            host::drain(raw);
            return Ok(());
        }
        // Wait for a slot on the loop, never blocking it.
        let f = HostValue::new(raw, f.raw())?;
        let token = HostValue::new(raw, token)?;
        let start = self.inner.start_queued();
        let queued_n = self.queued_n.clone();
        queued_n.set(queued_n.get() + 1);
        host::spawn(raw, async move {
            let slot = start.await;
            queued_n.set(queued_n.get() - 1);
            if let (Ok(slot), Some(env)) = (slot, host::env())
                && let (Some(f), Some(t)) = (f.get(), token.get())
            {
                run_in_slot(env, slot, f, t);
            }
        })?;
        host::drain(raw);
        Ok(())
    }

    /// Starts `fn(token)` only if a slot is free right now (Go's `TryGo`); false otherwise.
    #[napi(catch_unwind, ts_args_type = "fn: (token: CancelToken) => unknown")]
    pub fn try_go(&self, env: Env, f: Unknown) -> Result<bool> {
        let raw = env.raw();
        let token = self.token_object(&env)?;
        if self.queued_n.get() > 0 {
            return Ok(false);
        }
        let Some(slot) = self.inner.try_start() else {
            return Ok(false);
        };
        run_in_slot(raw, slot, f.raw(), token);
        host::drain(raw);
        Ok(true)
    }

    /// Limits the tasks running at once to `n` (Go's `SetLimit`): `0` so that nothing may
    /// start (`tryGo` returns false, `go` queues until the limit is raised or the group is
    /// cancelled), negative or `Infinity` for no limit. Throws `GOGROUP_LIMIT_IN_USE` while
    /// tasks are running (setting the current value again is always allowed), and
    /// `GOGROUP_INVALID_ARGUMENT` for NaN or a fraction.
    ///
    /// ```js
    /// const g = new ErrGroup()
    /// g.setLimit(0)
    /// g.tryGo(() => {}) // false
    /// g.limit // 0
    /// ```
    #[napi(catch_unwind)]
    pub fn set_limit(&self, env: Env, n: f64) -> Result<()> {
        let n = limit_of(&env, n)?;
        let r = self.inner.set_limit(n);
        host::drain(env.raw());
        errors::map(&env, r)
    }

    /// For `lib/err_group.js`: takes the slot that the group's tasks pending on this loop
    /// share, if the group has no limit and no `go` waits for a slot (else the JS side uses
    /// the native `go`, one slot per task). True if held.
    #[napi(js_name = "__hold", skip_typescript, catch_unwind)]
    pub fn hold(&self) -> bool {
        if self.held.borrow().is_some() {
            return true;
        }
        if self.inner.limit().is_some() || self.queued_n.get() > 0 {
            return false;
        }
        match self.inner.try_start() {
            Some(slot) => {
                *self.held.borrow_mut() = Some(slot);
                true
            }
            None => false,
        }
    }

    /// For `lib/err_group.js`: the last of the tasks sharing the held slot settled.
    #[napi(js_name = "__release", skip_typescript, catch_unwind)]
    pub fn release(&self, env: Env) {
        let slot = self.held.borrow_mut().take();
        if let Some(slot) = slot {
            slot.finish(Ok(()));
        }
        host::drain(env.raw());
    }

    /// For `lib/err_group.js`: one of the tasks sharing the held slot failed with `value`
    /// (`cancellation`: it is the group's own cancellation coming back, see
    /// `errors::task_failure`). Recorded by the group's rules at once (the first failure
    /// cancels the token), through a slot of its own: the group has no limit, so one is always
    /// free.
    #[napi(js_name = "__fail", skip_typescript, catch_unwind)]
    pub fn fail(&self, env: Env, value: Unknown, cancellation: bool) -> Result<()> {
        let raw = env.raw();
        let error = errors::task_failure(raw, value.raw(), cancellation);
        match self.inner.try_start() {
            Some(slot) => slot.finish(Err(error)),
            // A limit cannot be set while the held slot is active; should one be full anyway,
            // the held slot carries the failure and a fresh one takes its place.
            None => {
                if let Some(held) = self.held.borrow_mut().take() {
                    held.finish(Err(error));
                }
                *self.held.borrow_mut() = self.inner.try_start();
            }
        }
        host::drain(raw);
        Ok(())
    }

    /// Tasks holding a slot right now: started and not yet finished (the number the limit
    /// bounds and `setLimit` checks). Tasks still waiting for a slot are not counted.
    ///
    /// ```js
    /// const g = new ErrGroup()
    /// g.go(() => new Promise(() => {})) // never settles
    /// g.active // 1
    /// ```
    #[napi(getter, catch_unwind)]
    pub fn active(&self) -> u32 {
        u32::try_from(self.inner.active()).unwrap_or(u32::MAX)
    }

    /// The current limit on tasks running at once, or `null` for none (`0`: nothing may
    /// start).
    ///
    /// ```js
    /// new ErrGroup({ limit: 4 }).limit // 4
    /// new ErrGroup().limit // null
    /// ```
    #[napi(getter, catch_unwind)]
    pub fn limit(&self) -> Option<f64> {
        self.inner.limit().map(|n| n as f64)
    }

    /// The recorded failures, in the order the tasks finished, as the very values the tasks
    /// threw or rejected with: at most the first one, or every one with `collect: 'all'`.
    /// Empty while nothing failed.
    ///
    /// ```js
    /// const g = new ErrGroup({ collect: 'all' })
    /// g.go(() => { throw 42 })
    /// await g.wait().catch(() => {})
    /// g.errors() // [42]
    /// ```
    #[napi(catch_unwind, ts_return_type = "unknown[]")]
    pub fn errors(&self, env: Env) -> Result<Raw> {
        array(env.raw(), &self.inner.errors()).map(Raw)
    }

    /// Resolves once every task finished; rejects with the first failure — the very value the
    /// task threw or rejected with — or, with `collect: 'all'`, with an `AggregateError` of all
    /// of them. The group's token is cancelled when it settles.
    ///
    /// `timeout` (ms): rejects with an `Error` whose `code` is `'GOGROUP_TIMEOUT'` if tasks
    /// still run then; `signal`: rejects with `signal.reason` if it aborts first. Giving up
    /// early leaves the group untouched: its token is not cancelled, its tasks keep running,
    /// and a later `wait()` still reports their outcome. Never blocks.
    ///
    /// ```js
    /// await g.wait({ timeout: 1000 })               // GOGROUP_TIMEOUT after 1 s
    /// await g.wait({ signal: request.signal })      // rejects with request.signal.reason
    /// ```
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { signal?: AbortSignal | null; timeout?: number | null }",
        ts_return_type = "Promise<void>"
    )]
    pub fn wait(&self, env: Env, options: Option<Object>) -> Result<Raw> {
        let raw = env.raw();
        let (deferred, promise) = host::promise(raw)?;
        let group = self.inner.clone();
        let collect_all = self.collect_all;
        // Only a wait that completes reads the outcome (and so cancels the token): dropped
        // unfinished, core's future changes nothing.
        let outcome = Rc::new(RefCell::new(None));
        let (g, o) = (group.clone(), outcome.clone());
        let all_done = async move {
            let r = g.wait_async().await;
            *o.borrow_mut() = Some(r);
        };
        let ended = bounded(&env, options, all_done)?;
        host::spawn(raw, async move {
            let ended = ended.await;
            let Some(env) = host::env() else { return };
            let v = match ended {
                Ended::Done => match outcome.borrow_mut().take() {
                    Some(Ok(())) | None => {
                        deferred.resolve(env, host::undefined(env));
                        return;
                    }
                    Some(Err(_)) if collect_all => aggregate(env, &group.errors()),
                    Some(Err(e)) => errors::to_js(env, &e),
                },
                Ended::TimedOut => errors::plain_error(
                    env,
                    &gogroup::Error::new(
                        gogroup::ErrorKind::Timeout,
                        "ErrGroup.wait: tasks still running when the timeout passed",
                    ),
                ),
                Ended::Aborted(cause) => errors::to_js(env, &cause),
            };
            deferred.reject(env, v.unwrap_or_else(|_| host::undefined(env)));
        })?;
        Ok(Raw(promise))
    }

    /// Graceful shutdown: cancels the token, waits at most `graceMs` for the tasks, and
    /// resolves to how many still run (0: all stopped). Never rejects. With `reason`, the token
    /// is cancelled with it, kept as the very same value (as `token.cancel(reason)`); without,
    /// with an `AbortError`. A token cancelled already keeps its first reason.
    ///
    /// ```js
    /// await g.shutdown(500, new Error('server stopping')) // tasks see token.reason
    /// ```
    #[napi(
        catch_unwind,
        ts_args_type = "graceMs?: number | null, reason?: unknown",
        ts_return_type = "Promise<number>"
    )]
    pub fn shutdown(&self, env: Env, grace_ms: Option<f64>, reason: Unknown) -> Result<Raw> {
        let raw = env.raw();
        match reason {
            r if r.get_type()? != ValueType::Undefined => {
                self.inner
                    .token()
                    .cancel_with(errors::from_js(raw, r.raw())?);
            }
            _ => {
                self.inner.token().cancel();
            }
        }
        host::drain(raw);
        let (deferred, promise) = host::promise(raw)?;
        let group = self.inner.clone();
        let timer =
            gogroup::CancelToken::new().with_timeout(duration_of_ms(grace_ms.unwrap_or(0.0)));
        host::spawn(raw, async move {
            let g = group.clone();
            let all_done = async move {
                let _ = g.wait_async().await;
            };
            host::first_of(vec![Box::pin(all_done), Box::pin(timer.wait_async())]).await;
            let Some(env) = host::env() else { return };
            let mut v = std::ptr::null_mut();
            // SAFETY: JS thread.
            unsafe { sys::napi_create_uint32(env, group.active() as u32, &mut v) };
            deferred.resolve(env, v);
        })?;
        Ok(Raw(promise))
    }

    /// `await using g = new ErrGroup()`: cancels the token and waits for every task (errors
    /// are left to `wait()`).
    #[napi(
        well_known_symbol = "asyncDispose",
        catch_unwind,
        ts_return_type = "Promise<void>"
    )]
    pub fn dispose(&self, env: Env) -> Result<Raw> {
        let raw = env.raw();
        self.inner.token().cancel();
        host::drain(raw);
        let (deferred, promise) = host::promise(raw)?;
        let group = self.inner.clone();
        host::spawn(raw, async move {
            let _ = group.wait_async().await;
            let Some(env) = host::env() else { return };
            deferred.resolve(env, host::undefined(env));
        })?;
        Ok(Raw(promise))
    }
}

impl Drop for ErrGroup {
    fn drop(&mut self) {
        // The listener on `options.signal` holds only a token; it goes with the signal. Its
        // remover is released here (no JS call from a finalizer).
        self.signal_listener.take();
    }
}

/// A JS array of the JS values of `errors` (each the very value a task threw).
fn array(env: sys::napi_env, errors: &[gogroup::Error]) -> Result<sys::napi_value> {
    let mut arr = std::ptr::null_mut();
    // SAFETY: JS thread.
    host::check(unsafe { sys::napi_create_array_with_length(env, errors.len(), &mut arr) })?;
    for (i, e) in errors.iter().enumerate() {
        let v = errors::to_js(env, e)?;
        // SAFETY: JS thread.
        host::check(unsafe { sys::napi_set_element(env, arr, i as u32, v) })?;
    }
    Ok(arr)
}

fn aggregate(env: sys::napi_env, errors: &[gogroup::Error]) -> Result<sys::napi_value> {
    let arr = array(env, errors)?;
    host::call_helper(env, c"aggregate", &[arr])
}
