//! Core tokens behind small integer handles: the native half of the `CancelToken` class that
//! `src/tokens.js` puts in front of the napi-rs one.
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

thread_local! {
    /// This thread's tokens, and the free entries to reuse.
    static TOKENS: RefCell<(Vec<Option<gogroup::CancelToken>>, Vec<u32>)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

fn insert(token: gogroup::CancelToken) -> u32 {
    TOKENS.with(|t| {
        let (tokens, free) = &mut *t.borrow_mut();
        match free.pop() {
            Some(h) => {
                tokens[h as usize] = Some(token);
                h
            }
            None => {
                tokens.push(Some(token));
                (tokens.len() - 1) as u32
            }
        }
    })
}

/// Runs `f` on the token behind `h`, or throws `GOGROUP_INVALID_ARGUMENT`.
fn with<T>(env: &Env, h: u32, f: impl FnOnce(&gogroup::CancelToken) -> T) -> Result<T> {
    let r = TOKENS.with(|t| t.borrow().0.get(h as usize).and_then(Option::as_ref).map(f));
    r.ok_or_else(|| {
        let e = gogroup::Error::new(
            gogroup::ErrorKind::InvalidArgument,
            format!("no live CancelToken behind handle {h}"),
        );
        errors::throw(env.raw(), &e)
    })
}

/// Handles in use on this thread (for `testing.hostStats`).
pub(crate) fn live() -> usize {
    TOKENS.with(|t| t.borrow().0.len() - t.borrow().1.len())
}

/// A new root token.
#[napi(js_name = "__tokenNew", skip_typescript, catch_unwind)]
pub fn token_new() -> u32 {
    insert(gogroup::CancelToken::new())
}

/// A child of the token behind `h`.
#[napi(js_name = "__tokenChild", skip_typescript, catch_unwind)]
pub fn token_child(env: Env, h: u32) -> Result<u32> {
    let child = with(&env, h, gogroup::CancelToken::child)?;
    Ok(insert(child))
}

/// `cancel()` without a reason; true if this call cancelled it.
#[napi(js_name = "__tokenCancel", skip_typescript, catch_unwind)]
pub fn token_cancel(env: Env, h: u32) -> Result<bool> {
    let r = with(&env, h, gogroup::CancelToken::cancel);
    host::drain(env.raw());
    r
}

/// Whether the token behind `h` is cancelled (one atomic load).
#[napi(js_name = "__tokenCancelled", skip_typescript, catch_unwind)]
pub fn token_cancelled(env: Env, h: u32) -> Result<bool> {
    with(&env, h, gogroup::CancelToken::is_cancelled)
}

/// Frees the entry of a collected JS token. A stale handle is ignored.
#[napi(js_name = "__tokenRelease", skip_typescript, catch_unwind)]
pub fn token_release(h: u32) {
    // Dropped outside the borrow: dropping a core token never calls back into JS, but keep the
    // table free of re-entrancy by construction.
    let dropped = TOKENS.with(|t| {
        let (tokens, free) = &mut *t.borrow_mut();
        let taken = tokens.get_mut(h as usize).and_then(Option::take);
        if taken.is_some() {
            free.push(h);
        }
        taken
    });
    drop(dropped);
}

/// The full napi-rs object for the token behind `h` (the same core token).
#[napi(js_name = "__tokenFromHandle", skip_typescript, catch_unwind)]
pub fn token_from_handle(env: Env, h: u32) -> Result<CancelToken> {
    let t = with(&env, h, Clone::clone)?;
    Ok(CancelToken::from_core(t))
}

thread_local! {
    /// `src/tokens.js`'s `nativeOf` and `wrap`, kept by [`install`] for this thread's env.
    static FACADE: RefCell<Option<(sys::napi_ref, sys::napi_ref)>> = const { RefCell::new(None) };
}

/// Keeps `src/tokens.js`'s `nativeOf` and `wrap` functions (the object `install` returned).
pub(crate) fn install(env: sys::napi_env, facade: sys::napi_value) -> Result<()> {
    let mut refs = [std::ptr::null_mut(); 2];
    for (name, r) in [c"nativeOf", c"wrap"].iter().zip(refs.iter_mut()) {
        let mut f = std::ptr::null_mut();
        // SAFETY: JS thread (module registration); `facade` is the object tokens.js returned.
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

/// The core token of a JS `CancelToken` (the public class of `src/tokens.js`); anything else
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
