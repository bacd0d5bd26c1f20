//! The one mapping between core's error vocabulary and JS values.
//!
//! * A core error that carries a JS value (a task's thrown value, a `cancel(reason)` reason)
//!   becomes that very value again, on the thread that created it.
//! * A plain cancellation becomes a `DOMException` named `AbortError`, a deadline a
//!   `DOMException` named `TimeoutError`: AbortSignal's conventions.
//! * Everything else becomes an `Error` whose `code` is `'GOGROUP_' + kind.name()`.

use napi::bindgen_prelude::*;
use napi::sys;

use crate::host::{self, HostValue};

/// The JS `code` of a core error kind: `'GOGROUP_' + name`.
pub(crate) fn code_of(kind: gogroup::ErrorKind) -> String {
    format!("GOGROUP_{}", kind.name())
}

fn js_string(env: sys::napi_env, s: &str) -> Result<sys::napi_value> {
    let mut v = std::ptr::null_mut();
    // SAFETY: JS thread.
    host::check(unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v)
    })?;
    Ok(v)
}

/// `new Error(message)` with `code` set to the kind's code (never a DOMException).
pub(crate) fn plain_error(env: sys::napi_env, e: &gogroup::Error) -> Result<sys::napi_value> {
    let message = js_string(env, e.message())?;
    let code = js_string(env, &code_of(e.kind()))?;
    host::call_helper(env, c"error", &[message, code])
}

/// The JS value for a core error (see the module doc).
pub(crate) fn to_js(env: sys::napi_env, e: &gogroup::Error) -> Result<sys::napi_value> {
    if let Some(v) = e.downcast_ref::<HostValue>().and_then(HostValue::get) {
        return Ok(v);
    }
    match e.kind() {
        gogroup::ErrorKind::Canceled => host::call_helper(env, c"abortError", &[]),
        gogroup::ErrorKind::DeadlineExceeded => host::call_helper(env, c"timeoutError", &[]),
        _ => plain_error(env, e),
    }
}

/// A core error carrying the JS value `v` (a thrown value, a reason): `Custom`, with the
/// value's message, so that C, Python and other threads still see something readable.
pub(crate) fn from_js(env: sys::napi_env, v: sys::napi_value) -> Result<gogroup::Error> {
    of_js(env, v, gogroup::ErrorKind::Custom)
}

fn of_js(
    env: sys::napi_env,
    v: sys::napi_value,
    kind: gogroup::ErrorKind,
) -> Result<gogroup::Error> {
    let described = host::call_helper(env, c"describe", &[v])?;
    // SAFETY: `describe` returns a string.
    let message = unsafe { String::from_napi_value(env, described) }?;
    Ok(gogroup::Error::new(kind, message).with_payload(HostValue::new(env, v)?))
}

/// The core error for a task that failed with the JS value `v`: `Custom`, or `Canceled` when
/// `cancellation` says `v` is the group's own cancellation coming back (the token's reason
/// rethrown, an `AbortError`: `lib/helpers.js` decides), which core leaves out of
/// `Collect::All` once the group's first failure cancelled its token. Either way the value
/// itself is carried, so `wait()` and `errors()` give it back unchanged.
pub(crate) fn task_failure(
    env: sys::napi_env,
    v: sys::napi_value,
    cancellation: bool,
) -> gogroup::Error {
    let kind = if cancellation {
        gogroup::ErrorKind::Canceled
    } else {
        gogroup::ErrorKind::Custom
    };
    of_js(env, v, kind)
        .unwrap_or_else(|_| gogroup::Error::custom("task failed (its value could not be kept)"))
}

/// Throws `v` and returns the error napi-rs must propagate unchanged.
pub(crate) fn throw_value(env: sys::napi_env, v: sys::napi_value) -> Error {
    // SAFETY: JS thread.
    unsafe { sys::napi_throw(env, v) };
    Error::new(Status::PendingException, String::new())
}

/// Throws the JS form of a core error (a misuse error: `err.code === 'GOGROUP_…'`).
pub(crate) fn throw(env: sys::napi_env, e: &gogroup::Error) -> Error {
    match to_js(env, e) {
        Ok(v) => throw_value(env, v),
        Err(err) => err,
    }
}

/// Maps a core result, throwing the JS form of an error.
pub(crate) fn map<T>(env: &Env, r: gogroup::Result<T>) -> Result<T> {
    r.map_err(|e| throw(env.raw(), &e))
}

/// Every error code, in core's order: `errorCodes()[i] === 'GOGROUP_' + name`.
///
/// ```js
/// const { errorCodes } = require('gogroup')
/// errorCodes().includes('GOGROUP_NEGATIVE_COUNTER') // true
/// ```
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<String> {
    gogroup::ErrorKind::ALL.into_iter().map(code_of).collect()
}

/// Builds the error a core error of kind `code` (1-based, core's numbering) becomes in JS,
/// with `message`: for tests and for code that bridges C results.
///
/// ```js
/// const { errorFromCode } = require('gogroup')
/// errorFromCode(1, 'x').code // 'GOGROUP_NEGATIVE_COUNTER'
/// ```
#[napi(catch_unwind, ts_return_type = "Error")]
pub fn error_from_code(env: Env, code: u32, message: String) -> Result<host::Raw> {
    let kind = gogroup::ErrorKind::from_code(code)
        .ok_or_else(|| Error::from_reason(format!("no gogroup error kind has code {code}")))?;
    plain_error(env.raw(), &gogroup::Error::new(kind, message)).map(host::Raw)
}
