//! How the JS half (`lib/*.js`) and the native half meet, once per JS thread.
//!
//! The public classes are JS (`lib/cancel_token.js`, `lib/wait_group.js`,
//! `lib/err_group.js`): they check arguments, keep the per-loop bookkeeping that makes a task
//! cost no crossing into the addon, and call the napi-rs classes and the raw handle functions
//! of [`crate::handles`] for everything core decides. Two things cross the other way, from JS
//! to Rust, when `lib/native.js` loads the addon on a thread: the helper functions of
//! `lib/helpers.js` (the few idioms that are one line in JS: `DOMException`,
//! `AbortController`, `then`), and the token façade's `nativeOf`/`wrap` (how Rust turns a
//! public `CancelToken` into its napi-rs object and back).

use napi::bindgen_prelude::*;

/// Runs when the module is registered on a thread, after napi-rs has put the classes on
/// `exports`: replaces the hot handle functions with raw N-API ones (see `handles`).
#[napi(module_exports)]
pub fn install_raw_calls(exports: Object, env: Env) -> Result<()> {
    crate::handles::install_raw(env.raw(), exports.raw())
}

/// Called once per thread by `lib/native.js`: keeps `helpers` (the object of
/// `lib/helpers.js`) and the token façade (`{ nativeOf, wrap }` of `lib/cancel_token.js`).
#[napi(js_name = "__install", skip_typescript, catch_unwind)]
pub fn install(env: Env, helpers: Object, facade: Object) -> Result<()> {
    crate::host::install_helpers(env.raw(), helpers.raw())?;
    crate::handles::install(env.raw(), facade.raw())
}
