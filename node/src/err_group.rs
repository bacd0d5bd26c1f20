//! `ErrGroup`: core's errgroup for JS functions that run on the event loop.
//!
//! A JS task is not run on core's pool: it takes a place in the group with core's
//! `try_start` / `start_async` (so the limit and the first-error rule are core's), runs on this
//! thread, and reports its outcome with `TaskSlot::finish` when its promise settles. A thrown
//! value travels through core as the payload of the error, so `wait()` rejects with that very
//! value. The binding attaches its own handlers to each task's promise, so a failing task never
//! produces an unhandled rejection.
//!
//! # Lifetimes (issue 12)
//! The JS object owns every place its tasks hold in core (the shared slot, each task's slot,
//! each queued `go`), and its waits hold it weakly. So when the object is collected — its
//! pending tasks' promises were collected too, since their handlers refer to it — its tasks
//! are *abandoned*: their outcome is deliberately dropped, nothing is recorded, the token is
//! not cancelled, and the group's pending waits are released without settling (a timed wait
//! still ends with its timeout). No promise of a collected group ever rejects because of it.
//! One limit: a `go` queued behind a full limit holds its function strongly until it starts,
//! so a queued function that refers to its own group keeps that group alive while queued.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;

use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::cancel_token::duration_of_ms;
use crate::errors;
use crate::host::{self, HostValue, KeepAlive, Raw};
use crate::tasks::Slots;
use crate::waits::{Ended, WaitOptions, bounded};

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
    /// The one slot that the tasks of `lib/err_group.js` pending on this loop share (see
    /// [`ErrGroup::hold`]).
    held: RefCell<Option<gogroup::TaskSlot>>,
    /// The slots of the tasks started one slot each (a limit), until they settle.
    slots: Rc<Slots>,
    /// Set when this object is collected: its queued `go` calls give up then.
    gone: Rc<Gone>,
    /// This object, weakly: what its queued `go` calls hand to their tasks' promise handlers.
    owner: OnceCell<Rc<HostValue>>,
    /// Last: dropping `inner` (the last holder, maybe) ends the group's weak waits, whose
    /// futures run at the next drain (no drain follows a finalizer).
    _drain: host::DrainOnDrop,
}

/// Tells the queued `go` calls of a group that the group was collected (single-threaded: the
/// group and its queued calls live on one loop).
#[derive(Debug, Default)]
struct Gone {
    gone: Cell<bool>,
    waiting: RefCell<crate::slab::Slab<std::task::Waker>>,
}

impl Gone {
    fn set(&self) {
        self.gone.set(true);
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        for w in waiting.into_values() {
            w.wake(); // queues a poll: no JS here (a finalizer)
        }
    }
}

/// A future that completes once its group is [`Gone`].
struct WhenGone {
    gone: Rc<Gone>,
    key: Option<u32>,
}

impl std::future::Future for WhenGone {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.gone.gone.get() {
            return std::task::Poll::Ready(());
        }
        let waker = cx.waker().clone();
        let key = match self.key.take() {
            Some(k) => {
                let mut w = self.gone.waiting.borrow_mut();
                w.take(k);
                w.insert(waker)
            }
            None => self.gone.waiting.borrow_mut().insert(waker),
        };
        self.key = Some(key);
        std::task::Poll::Pending
    }
}

impl Drop for WhenGone {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.gone.waiting.borrow_mut().take(k);
        }
    }
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

/// Runs `f(token)` in `slot`, on this thread; `owner` is the group's JS object, which the
/// task's promise handlers hold until they report to it.
fn run_in_slot(
    env: sys::napi_env,
    slots: &Slots,
    slot: gogroup::TaskSlot,
    f: sys::napi_value,
    token: sys::napi_value,
    owner: sys::napi_value,
) {
    let id = slots.insert(slot);
    match host::run_task(env, f, token, owner, id) {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => slots.finish(env, id, Ok(())),
        Ok(Err(thrown)) => {
            let c = host::is_cancellation(env, thrown, token);
            slots.finish(env, id, Err((thrown, c)));
        }
        Err(_) => {
            let e = host::take_exception(env).unwrap_or_else(|| host::undefined(env));
            let c = host::is_cancellation(env, e, token);
            slots.finish(env, id, Err((e, c)));
        }
    }
}

impl ErrGroup {
    /// A task of this group (started by [`run_in_slot`]) settled: `Ok(())`, or
    /// `Err((thrown value, cancellation))` (see [`errors::task_failure`]).
    pub(crate) fn settle(
        &self,
        env: sys::napi_env,
        id: u32,
        outcome: std::result::Result<(), (sys::napi_value, bool)>,
    ) {
        self.slots.finish(env, id, outcome);
    }

    /// This object, weakly (made on first use).
    fn owner(&self, env: sys::napi_env, this: sys::napi_value) -> Result<Rc<HostValue>> {
        if let Some(o) = self.owner.get() {
            return Ok(o.clone());
        }
        let o = Rc::new(HostValue::weak(env, this)?);
        let _ = self.owner.set(o.clone());
        Ok(o)
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
        if let Some(o) = options {
            if let Some(t) = get_opt(&o, "token")? {
                parents.push(crate::handles::core_of(&env, t)?);
            }
            if let Some(s) = get_opt(&o, "signal")? {
                // The signal's one source token (no listener of this group's own on it).
                parents.push(host::signal_source(env.raw(), s)?);
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
            held: RefCell::new(None),
            slots: Rc::new(Slots::default()),
            gone: Rc::new(Gone::default()),
            owner: OnceCell::new(),
            _drain: host::DrainOnDrop,
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
    pub fn go(&self, env: Env, this: This, f: Unknown) -> Result<()> {
        let raw = env.raw();
        let token = self.token_object(&env)?;
        if self.queued_n.get() == 0
            && let Some(slot) = self.inner.try_start()
        {
            run_in_slot(raw, &self.slots, slot, f.raw(), token, this.object.raw());
            host::drain(raw);
            return Ok(());
        }
        // Wait for a slot on the loop, never blocking it. The future holds this object weakly:
        // if it is collected first, the queued task is abandoned (module doc).
        let f = HostValue::new(raw, f.raw())?;
        let token = HostValue::new(raw, token)?;
        let owner = self.owner(raw, this.object.raw())?;
        let mut start = Some(self.inner.start_queued());
        let mut gone = WhenGone {
            gone: self.gone.clone(),
            key: None,
        };
        let slots = self.slots.clone();
        let queued_n = self.queued_n.clone();
        queued_n.set(queued_n.get() + 1);
        host::spawn(raw, async move {
            let started = std::future::poll_fn(|cx| {
                if std::pin::Pin::new(&mut gone).poll(cx).is_ready() {
                    return std::task::Poll::Ready(None);
                }
                let s = start.as_mut().expect("polled until it is ready");
                std::pin::Pin::new(s).poll(cx).map(Some)
            })
            .await;
            queued_n.set(queued_n.get() - 1);
            match started {
                None => {
                    if let Some(s) = start.take() {
                        s.abandon();
                    }
                }
                Some(Ok(slot)) => match (host::env(), f.get(), token.get(), owner.get()) {
                    (Some(env), Some(f), Some(t), Some(owner)) => {
                        run_in_slot(env, &slots, slot, f, t, owner);
                    }
                    _ => slot.abandon(),
                },
                Some(Err(_)) => {} // the token was cancelled first: the task never runs
            }
        })?;
        host::drain(raw);
        Ok(())
    }

    /// Starts `fn(token)` only if a slot is free right now (Go's `TryGo`); false otherwise.
    #[napi(catch_unwind, ts_args_type = "fn: (token: CancelToken) => unknown")]
    pub fn try_go(&self, env: Env, this: This, f: Unknown) -> Result<bool> {
        let raw = env.raw();
        let token = self.token_object(&env)?;
        if self.queued_n.get() > 0 {
            return Ok(false);
        }
        let Some(slot) = self.inner.try_start() else {
            return Ok(false);
        };
        run_in_slot(raw, &self.slots, slot, f.raw(), token, this.object.raw());
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
    /// `errors::task_failure`). Recorded by the group's rules at once (the first failure cancels the token), through a
    /// slot of its own: the group has no limit, so one is always free.
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
    /// A wait with a `timeout` keeps the process alive until it settles; one without does
    /// not, unless `ref: true`; `ref: false` lets a timed wait leave the loop free. If the
    /// group is collected while tasks are pending (they can never report then), an unbounded
    /// wait is released without settling: it never rejects because of that.
    ///
    /// ```js
    /// await g.wait({ timeout: 1000 })               // GOGROUP_TIMEOUT after 1 s
    /// await g.wait({ signal: request.signal })      // rejects with request.signal.reason
    /// ```
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { signal?: AbortSignal | null; timeout?: number | null; ref?: boolean | null }",
        ts_return_type = "Promise<void>"
    )]
    pub fn wait(&self, env: Env, options: Option<Object>) -> Result<Raw> {
        let raw = env.raw();
        let opts = WaitOptions::parse(&env, options.as_ref())?;
        let weak = self.inner.downgrade();
        let collect_all = self.collect_all;
        // Only a wait that completes reads the outcome (and so cancels the token): dropped
        // unfinished, core's future changes nothing.
        let all_done = weak.wait_async();
        let ended = bounded(&env, &opts, all_done)?;
        let (resolver, promise) = host::deferred(raw)?;
        host::spawn(raw, async move {
            let ended = ended.await;
            let Some(env) = host::env() else { return };
            let v = match ended {
                Ended::Done(Ok(())) => {
                    resolver.resolve(env, host::undefined(env));
                    return;
                }
                Ended::Done(Err(_)) if collect_all => aggregate(env, &weak.errors()),
                Ended::Done(Err(e)) => errors::to_js(env, &e),
                Ended::TimedOut => errors::plain_error(
                    env,
                    &gogroup::Error::new(
                        gogroup::ErrorKind::Timeout,
                        "ErrGroup.wait: tasks still running when the timeout passed",
                    ),
                ),
                Ended::Aborted(cause) => errors::to_js(env, &cause),
                Ended::Abandoned => return, // pending for good: released
            };
            resolver.reject(env, v.unwrap_or_else(|_| host::undefined(env)));
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
        let weak = self.inner.downgrade();
        let timer =
            gogroup::CancelToken::new().with_timeout(duration_of_ms(grace_ms.unwrap_or(0.0)));
        // Timed: it keeps the loop alive until it settles, at the latest when the grace
        // period ends (an abandoned group's count never reaches zero: the grace period ends).
        let keep = KeepAlive::new(raw)?;
        let (resolver, promise) = host::deferred(raw)?;
        host::spawn(raw, async move {
            let _keep = keep;
            let w = weak.clone();
            let all_done = async move {
                if w.wait_async().await.is_none() {
                    std::future::pending::<()>().await; // abandoned: the grace period decides
                }
            };
            host::first_of(vec![Box::pin(all_done), Box::pin(timer.wait_async())]).await;
            let Some(env) = host::env() else { return };
            let mut v = std::ptr::null_mut();
            // SAFETY: JS thread.
            unsafe { sys::napi_create_uint32(env, weak.active() as u32, &mut v) };
            resolver.resolve(env, v);
        })?;
        Ok(Raw(promise))
    }

    /// `await using g = new ErrGroup()`: cancels the token and waits for every task (errors
    /// are left to `wait()`). Like an unbounded `wait()`, it keeps nothing alive, and it is
    /// released without settling if the group is collected with tasks pending.
    #[napi(
        well_known_symbol = "asyncDispose",
        catch_unwind,
        ts_return_type = "Promise<void>"
    )]
    pub fn dispose(&self, env: Env) -> Result<Raw> {
        let raw = env.raw();
        self.inner.token().cancel();
        host::drain(raw);
        let weak = self.inner.downgrade();
        let (resolver, promise) = host::deferred(raw)?;
        host::spawn(raw, async move {
            if weak.wait_async().await.is_none() {
                return; // abandoned: pending for good, released
            }
            let Some(env) = host::env() else { return };
            resolver.resolve(env, host::undefined(env));
        })?;
        Ok(Raw(promise))
    }
}

impl Drop for ErrGroup {
    fn drop(&mut self) {
        // The object was collected: its tasks are abandoned (module doc). No JS here (a
        // finalizer): what this wakes runs at the next drain (`_drain` asks for one).
        self.gone.set();
        if let Some(slot) = self.held.get_mut().take() {
            slot.abandon();
        }
        self.slots.abandon_all();
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
