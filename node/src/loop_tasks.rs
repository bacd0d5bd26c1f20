//! Installs `src/loop_tasks.js`, the JS half of `WaitGroup.prototype.go`, when the addon loads.
//!
//! A call into the addon costs about 250 ns (napi-rs unwraps and checks the receiver, and
//! tracks the borrow); the native `go` took three such crossings per task. The JS half counts
//! the tasks a wait group has pending on this thread's loop and holds ONE count in core for all
//! of them, so a task costs no crossing: `go()` + `wait()` per async task went from ~590 ns to
//! the cost of a plain-JS WaitGroup. Core's counter is never zero while such a task is pending,
//! so every wait, on any thread or in C, behaves as before; `count` still reports each task.

use napi::bindgen_prelude::*;
use napi::sys;

use crate::host;

const LOOP_TASKS: &str = include_str!("loop_tasks.js");
const TOKENS: &str = include_str!("tokens.js");

/// Runs when the module is registered, after napi-rs has put the classes on `exports`:
/// installs `loop_tasks.js` and `tokens.js` (see `handles`).
#[napi(module_exports)]
pub fn install_js_halves(exports: Object, env: Env) -> Result<()> {
    let raw = env.raw();
    crate::handles::install_raw(raw, exports.raw())?;
    run_installer(raw, LOOP_TASKS, exports.raw())?;
    let facade = run_installer(raw, TOKENS, exports.raw())?;
    crate::handles::install(raw, facade)
}

/// Evaluates `source` (a function expression) and calls it with `exports`.
fn run_installer(
    env: sys::napi_env,
    source: &str,
    exports: sys::napi_value,
) -> Result<sys::napi_value> {
    let mut script = std::ptr::null_mut();
    let mut install = std::ptr::null_mut();
    // SAFETY: JS thread (module registration); the script is ours and evaluates to a function.
    unsafe {
        host::check(sys::napi_create_string_utf8(
            env,
            source.as_ptr().cast(),
            source.len() as isize,
            &mut script,
        ))?;
        host::check(sys::napi_run_script(env, script, &mut install))?;
    }
    host::call(env, exports, install, &[exports])
}
