//! Core tokens and wait groups behind small integer handles: the native half of the
//! `CancelToken` class that `lib/cancel_token.js` puts in front of the napi-rs one, and of
//! `WaitGroup.add`/`done` in `lib/wait_group.js`.
//!
//! Why: napi-rs wraps every object it hands to JS (`napi_wrap`, a reference, a finalizer, an
//! entry in its own map), about 800 ns per token, and every method call costs about 250 ns.
//! A token made by `new CancelToken()` or `child()` and only cancelled or checked never needs
//! that: JS keeps a number, these functions look the core token up in this thread's table, and
//! a `FinalizationRegistry` releases the entry when the JS object is collected. The first use
//! of anything else (`reason`, `signal`, `onCancel`, …) makes the full napi-rs object for the
//! same core token ([`token_from_handle`]), once per JS object.
//!
//! A handle is a plain index: a wrong or stale one finds an empty entry and throws; it can
//! never reach memory it should not.

use std::cell::RefCell;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::cancel_token::CancelToken;
use crate::errors;
use crate::host;
use crate::slab::Slab;

thread_local! {
    /// This thread's tokens.
    static TOKENS: RefCell<Slab<gogroup::CancelToken>> = const { RefCell::new(Slab::new()) };
}

fn insert(token: gogroup::CancelToken) -> u32 {
    TOKENS.with(|t| t.borrow_mut().insert(token))
}

/// A handle for `token` (another reference to the same core token) in this thread's table.
pub(crate) fn token_handle(token: &gogroup::CancelToken) -> u32 {
    insert(token.clone())
}

/// Runs `f` on the token behind `h`, or throws `GOGROUP_INVALID_ARGUMENT`.
fn with<T>(env: sys::napi_env, h: u32, f: impl FnOnce(&gogroup::CancelToken) -> T) -> Result<T> {
    let r = TOKENS.with(|t| t.borrow().get(h).map(f));
    r.ok_or_else(|| stale(env, "CancelToken", h))
}

/// Handles in use on this thread (for `testing.hostStats`).
pub(crate) fn live() -> usize {
    TOKENS.with(|t| t.borrow().live())
}

/// The full napi-rs object for the token behind `h` (the same core token).
#[napi(js_name = "__tokenFromHandle", skip_typescript, catch_unwind)]
pub fn token_from_handle(env: Env, h: u32) -> Result<CancelToken> {
    let t = with(env.raw(), h, Clone::clone)?;
    Ok(CancelToken::from_core(t))
}

thread_local! {
    /// `lib/cancel_token.js`'s `nativeOf` and `wrap`, kept by [`install`] for this thread's env.
    static FACADE: RefCell<Option<(sys::napi_ref, sys::napi_ref)>> = const { RefCell::new(None) };
}

/// Keeps `lib/cancel_token.js`'s `nativeOf` and `wrap` functions (the object `install` returned).
pub(crate) fn install(env: sys::napi_env, facade: sys::napi_value) -> Result<()> {
    let mut refs = [std::ptr::null_mut(); 2];
    for (name, r) in [c"nativeOf", c"wrap"].iter().zip(refs.iter_mut()) {
        let mut f = std::ptr::null_mut();
        // SAFETY: JS thread (module registration); `facade` is the façade index.js passed.
        unsafe {
            host::check(sys::napi_get_named_property(
                env,
                facade,
                name.as_ptr(),
                &mut f,
            ))?;
            host::check(sys::napi_create_reference(env, f, 1, r))?;
        }
    }
    FACADE.with(|c| *c.borrow_mut() = Some((refs[0], refs[1])));
    Ok(())
}

fn call_facade(env: sys::napi_env, which: usize, arg: sys::napi_value) -> Result<sys::napi_value> {
    let Some(refs) = FACADE.with(|c| *c.borrow()) else {
        return Ok(arg); // not installed: the napi-rs object is the public one
    };
    let mut f = std::ptr::null_mut();
    // SAFETY: JS thread of the env that installed the reference.
    host::check(unsafe {
        sys::napi_get_reference_value(env, if which == 0 { refs.0 } else { refs.1 }, &mut f)
    })?;
    host::call(env, host::undefined(env), f, &[arg]).map_err(|e| match host::take_exception(env) {
        Some(v) => errors::throw_value(env, v),
        None => e,
    })
}

/// The core token of a JS `CancelToken` (the public class of `lib/cancel_token.js`); anything else
/// is refused by napi-rs's class check, with its usual error.
pub(crate) fn core_of(env: &Env, value: sys::napi_value) -> Result<gogroup::CancelToken> {
    let native = call_facade(env.raw(), 0, value)?;
    // SAFETY: JS thread; napi-rs checks the class.
    let t = unsafe { ClassInstance::<CancelToken>::from_napi_value(env.raw(), native) }?;
    Ok(t.inner.clone())
}

/// A JS `CancelToken` (the public class) for `inner`: what tasks and `ErrGroup.token` get.
pub(crate) fn js_token(env: &Env, inner: gogroup::CancelToken) -> Result<sys::napi_value> {
    let native = CancelToken::js_object(env, inner)?;
    call_facade(env.raw(), 1, native)
}

// ---- the hot calls as raw N-API functions -------------------------------------------------
//
// napi-rs's own functions cost about 80 ns a call (argument conversion, borrow tracking); the
// calls a token makes most (`cancelled`, `cancel()`, `child()`, creation, release) are plain
// N-API callbacks of one `u32` instead, about 20 ns. `install_raw` puts them on `exports`,
// where `lib/cancel_token.js` takes them.

/// Calls `f(env, handle)` for a raw callback whose first argument is a handle; never unwinds
/// into JS. A missing or non-integer handle throws `GOGROUP_INVALID_ARGUMENT`.
fn raw_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    f: impl FnOnce(sys::napi_env, u32) -> Result<sys::napi_value>,
) -> sys::napi_value {
    let run = || {
        let mut argc = 1usize;
        let mut arg = std::ptr::null_mut();
        let mut h = 0u32;
        // SAFETY: JS thread (a callback N-API is running); room for one argument.
        let ok = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                &mut arg,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ) == sys::Status::napi_ok
                && argc >= 1
                && sys::napi_get_value_uint32(env, arg, &mut h) == sys::Status::napi_ok
        };
        if !ok {
            let e = gogroup::Error::new(
                gogroup::ErrorKind::InvalidArgument,
                "a handle must be a non-negative integer",
            );
            errors::throw(env, &e);
            return std::ptr::null_mut();
        }
        f(env, h).unwrap_or_else(|e| {
            // Core's errors have thrown already; a failed N-API call has not: throw it.
            match host::take_exception(env) {
                Some(pending) => errors::throw_value(env, pending),
                None => errors::throw(env, &gogroup::Error::custom(e.reason)),
            };
            std::ptr::null_mut()
        })
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(std::ptr::null_mut())
}

fn js_bool(env: sys::napi_env, b: bool) -> Result<sys::napi_value> {
    let mut v = std::ptr::null_mut();
    // SAFETY: JS thread.
    host::check(unsafe { sys::napi_get_boolean(env, b, &mut v) })?;
    Ok(v)
}

fn js_u32(env: sys::napi_env, n: u32) -> Result<sys::napi_value> {
    let mut v = std::ptr::null_mut();
    // SAFETY: JS thread.
    host::check(unsafe { sys::napi_create_uint32(env, n, &mut v) })?;
    Ok(v)
}

unsafe extern "C" fn raw_new(
    env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    let new = || js_u32(env, insert(gogroup::CancelToken::new())).unwrap_or(std::ptr::null_mut());
    std::panic::catch_unwind(new).unwrap_or(std::ptr::null_mut())
}

unsafe extern "C" fn raw_child(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        let child = with(env, h, gogroup::CancelToken::child)?;
        js_u32(env, insert(child))
    })
}

unsafe extern "C" fn raw_cancel(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        let r = with(env, h, gogroup::CancelToken::cancel);
        host::drain(env);
        js_bool(env, r?)
    })
}

unsafe extern "C" fn raw_cancelled(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        js_bool(env, with(env, h, gogroup::CancelToken::is_cancelled)?)
    })
}

unsafe extern "C" fn raw_release(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        // Dropped outside the borrow: dropping a core token never calls back into JS, but keep
        // the table free of re-entrancy by construction.
        let dropped = TOKENS.with(|t| t.borrow_mut().take(h));
        drop(dropped);
        host::drain(env); // what a token that can never be cancelled let go of
        Ok(std::ptr::null_mut())
    })
}

/// Replaces the napi-rs versions of the hot handle functions on `exports` with raw ones.
pub(crate) fn install_raw(env: sys::napi_env, exports: sys::napi_value) -> Result<()> {
    type Raw = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;
    let fns: [(&std::ffi::CStr, Raw); 8] = [
        (c"__tokenNew", raw_new),
        (c"__tokenChild", raw_child),
        (c"__tokenCancel", raw_cancel),
        (c"__tokenCancelled", raw_cancelled),
        (c"__tokenRelease", raw_release),
        (c"__wgAdd", raw_wg_add),
        (c"__wgCount", raw_wg_count),
        (c"__wgRelease", raw_wg_release),
    ];
    for (name, cb) in fns {
        let mut f = std::ptr::null_mut();
        // SAFETY: JS thread (module registration); `cb` never unwinds.
        unsafe {
            host::check(sys::napi_create_function(
                env,
                name.as_ptr(),
                name.to_bytes().len() as isize,
                Some(cb),
                std::ptr::null_mut(),
                &mut f,
            ))?;
            host::check(sys::napi_set_named_property(env, exports, name.as_ptr(), f))?;
        }
    }
    Ok(())
}

// ---- WaitGroup add/done through a handle --------------------------------------------------
//
// `add(1)` and `done()` are one atomic operation in core, but a napi-rs method call costs
// about 250 ns. `lib/wait_group.js` asks each wait group once for a handle (`__wgHandle`, a
// napi-rs method, so the receiver is checked) into this thread's table of core wait groups,
// and then calls these raw functions; a FinalizationRegistry releases the entry.

thread_local! {
    static WAIT_GROUPS: RefCell<Slab<gogroup::WaitGroup>> = const { RefCell::new(Slab::new()) };
}

/// A handle for `wg` in this thread's table.
pub(crate) fn wait_group_handle(wg: &gogroup::WaitGroup) -> u32 {
    WAIT_GROUPS.with(|t| t.borrow_mut().insert(wg.clone()))
}

/// Wait-group handles in use on this thread (for `testing.hostStats`).
pub(crate) fn live_wait_groups() -> usize {
    WAIT_GROUPS.with(|t| t.borrow().live())
}

fn with_wait_group<T>(
    env: sys::napi_env,
    h: u32,
    f: impl FnOnce(&gogroup::WaitGroup) -> T,
) -> Result<T> {
    let r = WAIT_GROUPS.with(|t| t.borrow().get(h).map(f));
    r.ok_or_else(|| stale(env, "WaitGroup", h))
}

/// Throws `GOGROUP_INVALID_ARGUMENT` for a handle with nothing behind it.
fn stale(env: sys::napi_env, what: &str, h: u32) -> Error {
    let e = gogroup::Error::new(
        gogroup::ErrorKind::InvalidArgument,
        format!("no live {what} behind handle {h}"),
    );
    errors::throw(env, &e)
}

/// `add(delta)` for a small integer `delta` (the JS side sends anything else to the method;
/// `done()` is `add(-1)`, as in core).
unsafe extern "C" fn raw_wg_add(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        let mut argc = 2usize;
        let mut args = [std::ptr::null_mut(); 2];
        let mut delta = 1i32;
        // SAFETY: JS thread; room for two arguments; the JS side passes an int32.
        unsafe {
            host::check(sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                args.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ))?;
            host::check(sys::napi_get_value_int32(env, args[1], &mut delta))?;
        }
        let r = with_wait_group(env, h, |wg| wg.add(i64::from(delta)))?;
        host::drain(env);
        r.map_err(|e| errors::throw(env, &e))?;
        Ok(std::ptr::null_mut())
    })
}

/// The counter (as `count`), for `count` and for `wait()` at zero.
unsafe extern "C" fn raw_wg_count(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        let n = with_wait_group(env, h, gogroup::WaitGroup::count)?;
        js_u32(env, u32::try_from(n).unwrap_or(u32::MAX))
    })
}

unsafe extern "C" fn raw_wg_release(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    raw_call(env, info, |env, h| {
        let dropped = WAIT_GROUPS.with(|t| t.borrow_mut().take(h));
        drop(dropped);
        host::drain(env); // the waits of a group that nobody can finish any more
        Ok(std::ptr::null_mut())
    })
}
