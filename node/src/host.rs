//! The event-loop glue: everything this binding owns that is not a translation of core.
//!
//! Each JS thread (the main thread, each `worker_threads` Worker) that loads the addon gets one
//! [`Host`]: a table of JS values that Rust holds (by key, so the keys are `Send` while the
//! values never leave their thread), a tiny single-threaded executor that drives core's futures
//! (`wait_async`, `start_async`) and turns them into promises, and one *weak* threadsafe
//! function through which other threads (core's pool and timer, C code, other Workers) post
//! work to this loop.
//!
//! # Invariants
//! 1. JS values are touched only on their own thread; other threads see a [`HostValue`] key.
//! 2. A job posted from this thread (a waker fired by `done()` on the loop itself) is run
//!    before the native call that posted it returns ([`drain`] ends every entry point), so
//!    same-thread resolution never depends on the threadsafe function — which is weak and may
//!    legitimately be ignored once nothing else keeps the loop alive.
//! 3. A job posted from another thread is queued, and the threadsafe function is signalled only
//!    when the queue was empty (one wake-up per batch); the queue is drained until empty.
//! 4. Nothing here keeps the process alive unless a [`KeepAlive`] asks for it: the threadsafe
//!    function is unref'd while no keep-alive is held (see [`KeepAlive`] for which calls take
//!    one), registrations live in core, and JS values are released when the last Rust holder
//!    drops its key.
//! 5. A pending promise made here ([`deferred`]) is settled through its [`Resolver`]; dropping
//!    the resolver unsettled (on any thread) frees it at the next drain — napi frees a
//!    `napi_deferred` only by settling it, so it is resolved with a fresh promise that never
//!    settles — and the promise, forever pending, is collected with whoever still holds it.
//!    What waits for
//!    it (a spawned future, a core registration) holds weak handles of what it waits for, and
//!    ends when that is abandoned: an unreachable group or token takes its pending promises
//!    with it (issue 12).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use napi::bindgen_prelude::*;
use napi::sys;

/// A raw JS value handed back to napi as is (valid in the current handle scope only).
#[derive(Clone, Copy, Debug)]
pub struct Raw(pub(crate) sys::napi_value);

impl ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl TypeName for Raw {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// Work posted to a JS thread.
enum Job {
    /// Poll the spawned future with this key (a waker fired).
    Poll(usize),
    /// Run a closure on the JS thread (an `on_cancel` callback, an abort).
    Run(Box<dyn FnOnce() + Send>),
}

/// The part of a host other threads may touch.
pub(crate) struct Shared {
    id: u64,
    /// Jobs queued plus values released, maybe not yet seen by `drain`: lets `drain` return
    /// without taking a lock when there is nothing to do (the common case).
    dirty: std::sync::atomic::AtomicBool,
    queue: Mutex<VecDeque<Job>>,
    /// Keys of JS values whose last Rust holder dropped them (maybe on another thread).
    released: Mutex<Vec<u32>>,
    /// Resolvers dropped unsettled (maybe on another thread), to free at the next drain.
    abandoned: Mutex<Vec<DeferredPtr>>,
    /// A [`drain_soon`] call is on its way (one is enough until it ran).
    drain_requested: std::sync::atomic::AtomicBool,
    /// The weak threadsafe function; `None` once the environment is gone.
    tsfn: Mutex<Option<TsfnPtr>>,
}

impl Shared {
    /// Whether this host's environment is gone (its jobs would never run).
    fn is_gone(&self) -> bool {
        lock(&self.tsfn).is_none()
    }

    fn on_loop(&self) -> bool {
        CURRENT.with(|c| c.get() == self.id)
    }
}

struct TsfnPtr(sys::napi_threadsafe_function);
// SAFETY: a napi threadsafe function is designed to be called from any thread; the pointer is
// only used under `Shared::tsfn`'s lock, and cleared (under it) before napi frees it.
unsafe impl Send for TsfnPtr {}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn post(&self, job: Job) {
        let on_loop = self.on_loop();
        let was_empty = {
            let mut q = lock(&self.queue);
            let was_empty = q.is_empty();
            q.push_back(job);
            self.dirty.store(true, Ordering::Release);
            was_empty
        };
        if !on_loop
            && was_empty
            && let Some(t) = lock(&self.tsfn).as_ref()
        {
            // SAFETY: the tsfn is alive while it is `Some` (cleared under this lock).
            unsafe {
                sys::napi_call_threadsafe_function(
                    t.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
    }

    /// Runs `f` on this host's JS thread: before the current native call returns when called
    /// on that thread, else as soon as the loop gets to it.
    pub(crate) fn run(&self, f: impl FnOnce() + Send + 'static) {
        self.post(Job::Run(Box::new(f)));
    }
}

/// A JS value held by Rust: a key into its thread's table. `Send`, so it can ride inside a
/// core `Error` payload or an `on_cancel` closure; released when dropped (on any thread).
pub(crate) struct HostValue {
    host: Arc<Shared>,
    key: u32,
    /// The value is a primitive kept in a `{ v }` box.
    boxed: bool,
}

const BOX_KEY: &std::ffi::CStr = c"v";

impl std::fmt::Debug for HostValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostValue").field("key", &self.key).finish()
    }
}

impl HostValue {
    /// Keeps `value` alive for Rust (a strong napi reference). Node 20 references only
    /// objects, so a primitive (a thrown `42`, a `'reason'` string) is kept in a small box.
    pub(crate) fn new(env: sys::napi_env, value: sys::napi_value) -> Result<HostValue> {
        let mut ty = 0;
        // SAFETY: JS thread, live value.
        check(unsafe { sys::napi_typeof(env, value, &mut ty) })?;
        let boxed = !(ty == sys::ValueType::napi_object || ty == sys::ValueType::napi_function);
        let target = if boxed {
            let mut b = ptr::null_mut();
            // SAFETY: JS thread.
            unsafe {
                check(sys::napi_create_object(env, &mut b))?;
                check(sys::napi_set_named_property(
                    env,
                    b,
                    BOX_KEY.as_ptr(),
                    value,
                ))?;
            }
            b
        } else {
            value
        };
        HostValue::keep(env, target, 1, boxed)
    }

    /// A napi reference of `count` (1: strong, 0: weak) to the object `target`, in this
    /// thread's table.
    fn keep(
        env: sys::napi_env,
        target: sys::napi_value,
        count: u32,
        boxed: bool,
    ) -> Result<HostValue> {
        with_host(env, |h| {
            let mut r = ptr::null_mut();
            // SAFETY: called on the JS thread with a live object.
            check(unsafe { sys::napi_create_reference(env, target, count, &mut r) })?;
            let key = match h.free.pop() {
                Some(k) => {
                    h.values[k as usize] = r;
                    k
                }
                None => {
                    h.values.push(r);
                    (h.values.len() - 1) as u32
                }
            };
            Ok(HostValue {
                host: h.shared.clone(),
                key,
                boxed,
            })
        })?
    }

    /// Refers to the object `value` without keeping it alive (a weak napi reference): [`get`]
    /// returns `None` once it was collected. Objects and functions only.
    ///
    /// [`get`]: HostValue::get
    pub(crate) fn weak(env: sys::napi_env, value: sys::napi_value) -> Result<HostValue> {
        HostValue::keep(env, value, 0, false)
    }

    /// The value, if we are on its thread (`None` on any other thread).
    pub(crate) fn get(&self) -> Option<sys::napi_value> {
        HOST.with(|cell| {
            let h = cell.borrow();
            let h = h.as_ref()?;
            if h.shared.id != self.host.id {
                return None;
            }
            let r = *h.values.get(self.key as usize)?;
            let mut v = ptr::null_mut();
            // SAFETY: on the owning thread, the reference is alive until this key is released.
            let s = unsafe { sys::napi_get_reference_value(h.env, r, &mut v) };
            if s != sys::Status::napi_ok || v.is_null() {
                return None;
            }
            if self.boxed {
                let mut inner = ptr::null_mut();
                // SAFETY: on the owning thread; the box is a plain object we made.
                let s =
                    unsafe { sys::napi_get_named_property(h.env, v, BOX_KEY.as_ptr(), &mut inner) };
                return (s == sys::Status::napi_ok).then_some(inner);
            }
            Some(v)
        })
    }
}

impl Drop for HostValue {
    fn drop(&mut self) {
        lock(&self.host.released).push(self.key);
        self.host.dirty.store(true, Ordering::Release);
    }
}

/// The thread-local part of a host.
struct Host {
    env: sys::napi_env,
    shared: Arc<Shared>,
    values: Vec<sys::napi_ref>,
    free: Vec<u32>,
    tasks: Vec<Option<Pin<Box<dyn Future<Output = ()>>>>>,
    free_tasks: Vec<usize>,
    helpers: sys::napi_ref,
    settle: sys::napi_ref,
    /// The native function a signal's abort listener calls (see [`signal_source`]).
    cancel_source: sys::napi_ref,
    /// [`KeepAlive`]s held on this thread; the threadsafe function is ref'd while nonzero.
    keep_alive: usize,
    /// Promises made by [`deferred`] and not settled or freed yet (for `testing.hostStats`).
    promises: usize,
    /// Helper functions already looked up (by the address of their name): a property lookup
    /// by C string internalizes the name on every call.
    helper_cache: Vec<(*const std::ffi::c_char, sys::napi_ref)>,
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
    /// The id of the host of this thread (0: none), readable without borrowing `HOST`.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            "napi call failed".to_owned(),
        ))
    }
}

thread_local! {
    /// The object of `lib/helpers.js` for this thread, kept by [`install_helpers`].
    static HELPERS: Cell<sys::napi_ref> = const { Cell::new(ptr::null_mut()) };
}

/// Keeps `helpers` (the object `lib/helpers.js` exports) for this thread's host: the few
/// idioms that are one line in JS (`DOMException`, `AbortController`, `then`, an AbortSignal's
/// one listener). Called by the package's entry when the addon loads on a thread, before
/// anything uses the host.
pub(crate) fn install_helpers(env: sys::napi_env, helpers: sys::napi_value) -> Result<()> {
    let mut r = ptr::null_mut();
    // SAFETY: JS thread; `helpers` is a live object.
    check(unsafe { sys::napi_create_reference(env, helpers, 1, &mut r) })?;
    HELPERS.with(|h| h.set(r));
    Ok(())
}

fn with_host<T>(env: sys::napi_env, f: impl FnOnce(&mut Host) -> T) -> Result<T> {
    HOST.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(create_host(env)?);
        }
        Ok(f(slot.as_mut().expect("host was just created")))
    })
}

/// This thread's shared host (created on first use).
pub(crate) fn shared(env: sys::napi_env) -> Result<Arc<Shared>> {
    with_host(env, |h| h.shared.clone())
}

fn create_host(env: sys::napi_env) -> Result<Host> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        id,
        dirty: std::sync::atomic::AtomicBool::new(false),
        queue: Mutex::new(VecDeque::new()),
        released: Mutex::new(Vec::new()),
        abandoned: Mutex::new(Vec::new()),
        drain_requested: std::sync::atomic::AtomicBool::new(false),
        tsfn: Mutex::new(None),
    });
    // SAFETY (whole block): raw napi calls on the JS thread that owns `env`.
    let helpers_ref = HELPERS.with(Cell::get);
    if helpers_ref.is_null() {
        return Err(Error::from_reason(
            "gogroup: the addon was loaded without the package's entry (require the package itself)",
        ));
    }
    // SAFETY (whole block): raw napi calls on the JS thread that owns `env`.
    let (settle_ref, cancel_ref) = unsafe {
        let settle_ref = function_ref(env, c"settle", settle_cb)?;
        let cancel_ref = function_ref(env, c"cancelSource", cancel_source_cb)?;

        let mut name = ptr::null_mut();
        check(sys::napi_create_string_utf8(
            env,
            c"gogroup".as_ptr(),
            7,
            &mut name,
        ))?;
        let weak = Arc::into_raw(shared.clone()) as *mut c_void;
        let mut tsfn = ptr::null_mut();
        check(sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            weak,
            Some(tsfn_finalize),
            weak,
            Some(tsfn_call),
            &mut tsfn,
        ))?;
        // Invariant 4: a pending wake-up never keeps the process alive.
        check(sys::napi_unref_threadsafe_function(env, tsfn))?;
        *lock(&shared.tsfn) = Some(TsfnPtr(tsfn));
        check(sys::napi_add_env_cleanup_hook(
            env,
            Some(env_cleanup),
            ptr::null_mut(),
        ))?;
        (settle_ref, cancel_ref)
    };
    CURRENT.with(|c| c.set(id));
    Ok(Host {
        env,
        shared,
        values: Vec::new(),
        free: Vec::new(),
        tasks: Vec::new(),
        free_tasks: Vec::new(),
        helpers: helpers_ref,
        settle: settle_ref,
        cancel_source: cancel_ref,
        keep_alive: 0,
        promises: 0,
        helper_cache: Vec::new(),
    })
}

/// A JS function named `name` that calls `cb`, kept by a strong reference (for the host's own
/// callbacks that JS is handed again and again).
fn function_ref(
    env: sys::napi_env,
    name: &std::ffi::CStr,
    cb: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> Result<sys::napi_ref> {
    let mut f = ptr::null_mut();
    let mut r = ptr::null_mut();
    // SAFETY: JS thread; `cb` never unwinds (it catches panics itself).
    unsafe {
        check(sys::napi_create_function(
            env,
            name.as_ptr(),
            name.to_bytes().len() as isize,
            Some(cb),
            ptr::null_mut(),
            &mut f,
        ))?;
        check(sys::napi_create_reference(env, f, 1, &mut r))?;
    }
    Ok(r)
}

unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Arc<Shared>` leaked for the tsfn in `create_host`.
    let shared = unsafe { Arc::from_raw(data as *const Shared) };
    *lock(&shared.tsfn) = None;
}

unsafe extern "C" fn tsfn_call(
    env: sys::napi_env,
    _js_cb: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the environment is tearing down
    }
    // A panic must not unwind into libuv: report it as a JS error instead.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drain(env))).is_err() {
        // SAFETY: JS thread (inside the threadsafe function's call).
        unsafe { sys::napi_throw_error(env, ptr::null(), c"gogroup: internal panic".as_ptr()) };
    }
}

unsafe extern "C" fn env_cleanup(_arg: *mut c_void) {
    // The environment is going away (a Worker exits): forget every JS value without touching
    // napi, and stop other threads from posting here.
    let host = HOST.with(|cell| cell.borrow_mut().take());
    CURRENT.with(|c| c.set(0));
    HELPERS.with(|h| h.set(ptr::null_mut()));
    if let Some(h) = host {
        *lock(&h.shared.tsfn) = None;
        // Dropped outside the lock: a job's drop may post (a `KeepAlive`, a `HostValue`).
        let jobs = std::mem::take(&mut *lock(&h.shared.queue));
        drop(jobs);
        std::mem::forget(h.tasks);
    }
}

/// Runs every job queued for this thread, and releases dropped JS values. Called at the end of
/// every native entry point that can wake something, and by the threadsafe function.
pub(crate) fn drain(env: sys::napi_env) {
    let Some(shared) = HOST.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|h| h.shared.dirty.load(Ordering::Acquire))
            .map(|h| h.shared.clone())
    }) else {
        return; // no host, or nothing queued or released since the last drain
    };
    // Cleared before looking, so that anything queued from now on is seen by a later drain.
    shared.dirty.store(false, Ordering::Release);
    shared.drain_requested.store(false, Ordering::Release);
    loop {
        let job = lock(&shared.queue).pop_front();
        match job {
            Some(Job::Poll(key)) => poll_task(key, &shared),
            Some(Job::Run(f)) => f(),
            None => break,
        }
    }
    let abandoned = std::mem::take(&mut *lock(&shared.abandoned));
    for d in abandoned {
        // Invariant 5: settling is the only way to free a deferred; a promise that never
        // settles leaves the caller's promise pending, and both go with their holders.
        if let Ok(never) = call_helper(env, c"never", &[]) {
            // SAFETY: JS thread; a deferred of this thread, settled exactly once (here).
            unsafe { sys::napi_resolve_deferred(env, d.0, never) };
            promise_settled();
        } else {
            let _ = take_exception(env);
        }
    }
    let released = std::mem::take(&mut *lock(&shared.released));
    if !released.is_empty() {
        HOST.with(|cell| {
            if let Some(h) = cell.borrow_mut().as_mut() {
                for key in released {
                    if let Some(r) = h.values.get_mut(key as usize)
                        && !r.is_null()
                    {
                        // SAFETY: a live reference created on this thread.
                        unsafe { sys::napi_delete_reference(env, *r) };
                        *r = ptr::null_mut();
                        h.free.push(key);
                    }
                }
            }
        });
    }
}

struct TaskWaker {
    host: Arc<Shared>,
    key: usize,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.host.post(Job::Poll(self.key));
    }
}

/// Drives `fut` on this thread's loop: polled now, then whenever its waker fires.
pub(crate) fn spawn(env: sys::napi_env, fut: impl Future<Output = ()> + 'static) -> Result<()> {
    let (key, shared) = with_host(env, |h| {
        let key = match h.free_tasks.pop() {
            Some(k) => {
                h.tasks[k] = Some(Box::pin(fut));
                k
            }
            None => {
                h.tasks.push(Some(Box::pin(fut)));
                h.tasks.len() - 1
            }
        };
        (key, h.shared.clone())
    })?;
    poll_task(key, &shared);
    Ok(())
}

fn poll_task(key: usize, shared: &Arc<Shared>) {
    // Take the future out so that polling may re-enter the host (spawn, values, wake).
    let Some(mut fut) = HOST.with(|cell| {
        cell.borrow_mut()
            .as_mut()
            .and_then(|h| h.tasks.get_mut(key).and_then(Option::take))
    }) else {
        return; // finished already: a late or duplicate wake-up
    };
    let waker = Waker::from(Arc::new(TaskWaker {
        host: shared.clone(),
        key,
    }));
    let done = fut
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready();
    let finished = HOST.with(|cell| {
        let mut slot = cell.borrow_mut();
        let Some(h) = slot.as_mut() else {
            return Some(fut);
        };
        if done {
            h.free_tasks.push(key);
            Some(fut)
        } else {
            h.tasks[key] = Some(fut);
            None
        }
    });
    // Dropped outside the borrow: what a future holds (a `KeepAlive`) may use the host.
    drop(finished);
}

/// The helpers object and one of its functions.
fn helper(
    env: sys::napi_env,
    name: &'static std::ffi::CStr,
) -> Result<(sys::napi_value, sys::napi_value)> {
    let (helpers, cached) = with_host(env, |h| {
        let cached = h
            .helper_cache
            .iter()
            .find(|(n, _)| *n == name.as_ptr())
            .map(|(_, r)| *r);
        (h.helpers, cached)
    })?;
    let mut obj = ptr::null_mut();
    let mut f = ptr::null_mut();
    // SAFETY: JS thread; `helpers` and the cached references are live references of this thread.
    unsafe {
        check(sys::napi_get_reference_value(env, helpers, &mut obj))?;
        match cached {
            Some(r) => check(sys::napi_get_reference_value(env, r, &mut f))?,
            None => {
                check(sys::napi_get_named_property(
                    env,
                    obj,
                    name.as_ptr(),
                    &mut f,
                ))?;
                let mut r = ptr::null_mut();
                check(sys::napi_create_reference(env, f, 1, &mut r))?;
                with_host(env, |h| h.helper_cache.push((name.as_ptr(), r)))?;
            }
        }
    }
    Ok((obj, f))
}

/// Calls a JS helper by name. A JS exception is left pending and reported as
/// `Status::PendingException`, so napi-rs rethrows it unchanged.
pub(crate) fn call_helper(
    env: sys::napi_env,
    name: &'static std::ffi::CStr,
    args: &[sys::napi_value],
) -> Result<sys::napi_value> {
    let (obj, f) = helper(env, name)?;
    call(env, obj, f, args)
}

/// Calls `f` with `this`; a thrown exception stays pending (`Status::PendingException`).
pub(crate) fn call(
    env: sys::napi_env,
    this: sys::napi_value,
    f: sys::napi_value,
    args: &[sys::napi_value],
) -> Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread, live values.
    let s = unsafe { sys::napi_call_function(env, this, f, args.len(), args.as_ptr(), &mut out) };
    if s == sys::Status::napi_ok {
        Ok(out)
    } else {
        Err(Error::new(Status::PendingException, String::new()))
    }
}

/// Takes the pending JS exception, if any.
pub(crate) fn take_exception(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut pending = false;
    // SAFETY: JS thread.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if !pending {
            return None;
        }
        let mut e = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut e);
        Some(e)
    }
}

/// The `settle` function given to JS: `settle(owner, id, failed, value, cancellation)` when a
/// task's promise settles; `owner` is the group whose task it was, `cancellation` whether the
/// failure is the group's own cancellation coming back (`lib/helpers.js`).
unsafe extern "C" fn settle_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 5usize;
    let mut argv = [ptr::null_mut(); 5];
    let mut id = 0u32;
    let mut failed = false;
    let mut cancellation = false;
    // SAFETY: JS thread, arguments of this call.
    unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        sys::napi_get_value_uint32(env, argv[1], &mut id);
        sys::napi_get_value_bool(env, argv[2], &mut failed);
        sys::napi_get_value_bool(env, argv[4], &mut cancellation);
    }
    let outcome = if failed {
        Err((argv[3], cancellation))
    } else {
        Ok(())
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::tasks::settle(env, argv[0], id, outcome);
        drain(env);
    }));
    if r.is_err() {
        // SAFETY: JS thread; a panic must not unwind into V8.
        unsafe { sys::napi_throw_error(env, ptr::null(), c"gogroup: internal panic".as_ptr()) };
    }
    ptr::null_mut()
}

/// Runs `fn(arg)` through the `run` helper: true when it returned a thenable, whose settlement
/// will call `settle(owner, id, …)` (the promise's handlers hold `owner`, the group's JS
/// object, as any JS continuation would). A synchronous throw is returned as `Err(value)`.
pub(crate) fn run_task(
    env: sys::napi_env,
    f: sys::napi_value,
    arg: sys::napi_value,
    owner: sys::napi_value,
    id: u32,
) -> Result<std::result::Result<bool, sys::napi_value>> {
    let (obj, run) = helper(env, c"run")?;
    let settle = with_host(env, |h| h.settle)?;
    let mut settle_fn = ptr::null_mut();
    let mut id_v = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe {
        check(sys::napi_get_reference_value(env, settle, &mut settle_fn))?;
        check(sys::napi_create_uint32(env, id, &mut id_v))?;
    }
    match call(env, obj, run, &[f, arg, owner, id_v, settle_fn]) {
        Ok(v) => {
            let mut b = false;
            // SAFETY: JS thread; `run` returns a boolean.
            unsafe { sys::napi_get_value_bool(env, v, &mut b) };
            Ok(Ok(b))
        }
        Err(_) => match take_exception(env) {
            Some(e) => Ok(Err(e)),
            None => Err(Error::from_reason("task call failed")),
        },
    }
}

/// Whether a task's failure `e` is its group's cancellation coming back (`token`: the group's
/// public token); `lib/helpers.js` decides. False if asking fails.
pub(crate) fn is_cancellation(
    env: sys::napi_env,
    e: sys::napi_value,
    token: sys::napi_value,
) -> bool {
    let Ok(v) = call_helper(env, c"cancellation", &[e, token]) else {
        let _ = take_exception(env);
        return false;
    };
    let mut b = false;
    // SAFETY: JS thread; the helper returns a boolean.
    unsafe { sys::napi_get_value_bool(env, v, &mut b) };
    b
}

/// `undefined`.
pub(crate) fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut v = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_undefined(env, &mut v) };
    v
}

/// A new pending promise and its [`Resolver`] (invariant 5).
pub(crate) fn deferred(env: sys::napi_env) -> Result<(Resolver, sys::napi_value)> {
    let mut d = ptr::null_mut();
    let mut p = ptr::null_mut();
    // SAFETY: JS thread.
    check(unsafe { sys::napi_create_promise(env, &mut d, &mut p) })?;
    let host = with_host(env, |h| {
        h.promises += 1;
        h.shared.clone()
    })?;
    Ok((
        Resolver {
            deferred: Some(DeferredPtr(d)),
            host,
        },
        p,
    ))
}

/// A `napi_deferred`: used only on its own thread, but may be dropped on another.
#[derive(Debug)]
struct DeferredPtr(sys::napi_deferred);
// SAFETY: the pointer is only dereferenced by napi on the JS thread that made it (`Resolver`
// settles it there; a dropped one is handed back to that thread's `drain`).
unsafe impl Send for DeferredPtr {}

/// Settles a promise made by [`deferred`], at most once, on its own thread. Dropped unsettled
/// (on any thread: it may ride in a core callback), it is freed by its thread's next drain and
/// its promise stays pending for good (invariant 5).
pub(crate) struct Resolver {
    deferred: Option<DeferredPtr>,
    host: Arc<Shared>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    pub(crate) fn resolve(mut self, env: sys::napi_env, v: sys::napi_value) {
        if let Some(d) = self.deferred.take() {
            // SAFETY: JS thread; settled exactly once (taken).
            unsafe { sys::napi_resolve_deferred(env, d.0, v) };
            promise_settled();
        }
    }

    pub(crate) fn reject(mut self, env: sys::napi_env, v: sys::napi_value) {
        if let Some(d) = self.deferred.take() {
            // SAFETY: as `resolve`.
            unsafe { sys::napi_reject_deferred(env, d.0, v) };
            promise_settled();
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        if let Some(d) = self.deferred.take()
            && !self.host.is_gone()
        {
            lock(&self.host.abandoned).push(d);
            self.host.dirty.store(true, Ordering::Release);
            if !self.host.on_loop() {
                // Wake the loop (a job, however empty, signals it from another thread).
                self.host.run(|| {});
            }
        }
    }
}

fn promise_settled() {
    HOST.with(|cell| {
        if let Some(h) = cell.borrow_mut().as_mut() {
            h.promises -= 1;
        }
    });
}

/// Keeps this thread's event loop alive while it exists (it refs the threadsafe function).
///
/// Which pending calls hold one, so that the process stays as long as Node's own APIs would
/// (the table the README repeats):
///
/// | call | keeps the loop alive? |
/// |---|---|
/// | `wg.wait({ timeout })`, `g.wait({ timeout })` | yes, until it settles (as `await setTimeout(ms)`) |
/// | `g.shutdown(graceMs)` | yes, until it settles (at most `graceMs`) |
/// | the same with `{ ref: false }` | no |
/// | `wg.wait()`, `g.wait()`, `g.wait({ signal })`, `await using` | no: any unsettled promise |
/// | the same with `{ ref: true }` | yes, until it settles (for a worker or C thread that will settle it) |
/// | `token.whenCancelled()` | no, deadline or not (as `AbortSignal.timeout`) |
/// | `token.whenCancelled({ ref: true })` | yes, until the token is cancelled |
/// | `token.onCancel(cb)`, `token.signal`, `withTimeout(ms)` | no |
///
/// A keep-alive lives in the pending wait (a spawned future, a core registration), so it is
/// released when the wait settles and also when it is abandoned (its group or token became
/// unreachable, and nothing else can settle it). Counted per thread: the first refs the
/// threadsafe function, the last unrefs it; both on the JS thread (a keep-alive dropped on
/// another thread posts its release there).
pub(crate) struct KeepAlive {
    host: Arc<Shared>,
}

impl std::fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlive").finish_non_exhaustive()
    }
}

impl KeepAlive {
    /// Holds this thread's loop (call on the JS thread).
    pub(crate) fn new(env: sys::napi_env) -> Result<KeepAlive> {
        let host = with_host(env, |h| {
            h.keep_alive += 1;
            if h.keep_alive == 1 {
                set_ref(&h.shared, env, true);
            }
            h.shared.clone()
        })?;
        Ok(KeepAlive { host })
    }

    /// One if `wanted`, else none.
    pub(crate) fn when(env: sys::napi_env, wanted: bool) -> Result<Option<KeepAlive>> {
        wanted.then(|| KeepAlive::new(env)).transpose()
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        if self.host.on_loop() {
            release_keep_alive();
        } else if !self.host.is_gone() {
            self.host.run(release_keep_alive);
        }
    }
}

/// One keep-alive of this thread is gone (on the JS thread; also inside a finalizer: unref'ing
/// a threadsafe function calls no JS).
fn release_keep_alive() {
    HOST.with(|cell| {
        if let Some(h) = cell.borrow_mut().as_mut() {
            h.keep_alive -= 1;
            if h.keep_alive == 0 {
                set_ref(&h.shared, h.env, false);
            }
        }
    });
}

fn set_ref(shared: &Shared, env: sys::napi_env, on: bool) {
    if let Some(t) = lock(&shared.tsfn).as_ref() {
        // SAFETY: JS thread of `env`; the tsfn is alive while it is `Some`.
        unsafe {
            if on {
                sys::napi_ref_threadsafe_function(env, t.0);
            } else {
                sys::napi_unref_threadsafe_function(env, t.0);
            }
        }
    }
}

/// A field that asks for [`drain_soon`] when its object is dropped: put last in a napi struct
/// whose fields may queue work when they go (a core handle whose last drop wakes weak waits or
/// lets callbacks go), since a napi finalizer is not an entry point that drains.
#[derive(Debug, Default)]
pub(crate) struct DrainOnDrop;

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        drain_soon();
    }
}

/// Asks for a [`drain`] soon, through the threadsafe function: for code that queues work on
/// this thread outside an entry point (a finalizer), where no drain follows.
pub(crate) fn drain_soon() {
    HOST.with(|cell| {
        if let Some(h) = cell.borrow().as_ref()
            && h.shared.dirty.load(Ordering::Acquire)
            && !h.shared.drain_requested.swap(true, Ordering::AcqRel)
            && let Some(t) = lock(&h.shared.tsfn).as_ref()
        {
            // SAFETY: the tsfn is alive while it is `Some`; callable from any thread.
            unsafe {
                sys::napi_call_threadsafe_function(
                    t.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
    });
}

// ---- AbortSignal sources --------------------------------------------------------------------

/// The core token that `signal` cancels (with `signal.reason`, the very value): one per signal
/// on this thread, made on first use and kept by the signal's one abort listener, so it goes
/// with the signal. Tokens, groups and waits derive from it (a child, a parent, a callback)
/// instead of adding a listener each: a long-lived signal that never aborts does not grow
/// with them, and what derives from it is collected with its own holders.
pub(crate) fn signal_source(
    env: sys::napi_env,
    signal: sys::napi_value,
) -> Result<gogroup::CancelToken> {
    let known = call_helper(env, c"source", &[signal])?;
    let mut ty = 0;
    // SAFETY: JS thread, live value.
    check(unsafe { sys::napi_typeof(env, known, &mut ty) })?;
    if ty == sys::ValueType::napi_external {
        let mut data = ptr::null_mut();
        // SAFETY: only `signal_source` puts externals in `sources`, each a boxed token.
        check(unsafe { sys::napi_get_value_external(env, known, &mut data) })?;
        // SAFETY: the box lives until the external is finalized; the external is alive here.
        return Ok(unsafe { &*(data as *const gogroup::CancelToken) }.clone());
    }
    let token = gogroup::CancelToken::new();
    let aborted = call_helper(env, c"aborted", &[signal])?;
    // SAFETY: `aborted` returns a boolean.
    if unsafe { bool::from_napi_value(env, aborted) }? {
        let reason = call_helper(env, c"reasonOf", &[signal])?;
        token.cancel_with(crate::errors::from_js(env, reason)?);
        return Ok(token);
    }
    let boxed = Box::into_raw(Box::new(token.clone()));
    let mut external = ptr::null_mut();
    // SAFETY: JS thread; the finalizer takes the box back exactly once.
    let made = check(unsafe {
        sys::napi_create_external(
            env,
            boxed.cast(),
            Some(drop_source),
            ptr::null_mut(),
            &mut external,
        )
    });
    if let Err(e) = made {
        // SAFETY: napi did not take the box.
        drop(unsafe { Box::from_raw(boxed) });
        return Err(e);
    }
    let cancel = with_host(env, |h| h.cancel_source)?;
    let mut cancel_fn = ptr::null_mut();
    // SAFETY: JS thread; a live reference of this thread.
    check(unsafe { sys::napi_get_reference_value(env, cancel, &mut cancel_fn) })?;
    call_helper(env, c"watch", &[signal, external, cancel_fn])?;
    Ok(token)
}

unsafe extern "C" fn drop_source(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: the box `signal_source` gave this external, finalized once. Dropping a token
    // calls no JS (its callbacks may be let go: their drops only queue work).
    let token = unsafe { Box::from_raw(data as *mut gogroup::CancelToken) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(token)));
    drain_soon();
}

/// `cancelSource(source, reason)`: the abort listener of a watched signal.
unsafe extern "C" fn cancel_source_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
        let mut data = ptr::null_mut();
        // SAFETY: JS thread; only `watch` calls this, with the external it was given.
        unsafe {
            check(sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                ptr::null_mut(),
            ))?;
            check(sys::napi_get_value_external(env, argv[0], &mut data))?;
        }
        // SAFETY: the external is alive (an argument), so is its box.
        let token = unsafe { &*(data as *const gogroup::CancelToken) };
        token.cancel_with(crate::errors::from_js(env, argv[1])?);
        drain(env);
        Ok(())
    }));
    if !matches!(r, Ok(Ok(()))) && take_exception(env).is_none() {
        // SAFETY: JS thread; a panic must not unwind into V8.
        unsafe { sys::napi_throw_error(env, ptr::null(), c"gogroup: internal error".as_ptr()) };
    }
    ptr::null_mut()
}

/// The env of this thread's host (for code running in a spawned future or a job).
pub(crate) fn env() -> Option<sys::napi_env> {
    HOST.with(|cell| cell.borrow().as_ref().map(|h| h.env))
}

/// Polls every future; resolves to the index of the first one that completes.
pub(crate) fn first_of(
    mut futures: Vec<Pin<Box<dyn Future<Output = ()>>>>,
) -> impl Future<Output = usize> {
    std::future::poll_fn(move |cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if f.as_mut().poll(cx).is_ready() {
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
}

/// Live entries of this thread's host: JS values held by Rust, pending futures, keep-alives,
/// unsettled promises. For tests.
pub(crate) fn stats() -> (usize, usize, usize, usize) {
    HOST.with(|cell| {
        cell.borrow().as_ref().map_or((0, 0, 0, 0), |h| {
            (
                h.values.iter().filter(|r| !r.is_null()).count(),
                h.tasks.iter().filter(|t| t.is_some()).count(),
                h.keep_alive,
                h.promises,
            )
        })
    })
}
