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

/// Runs when the module is registered, after napi-rs has put the classes on `exports`.
#[napi(module_exports)]
pub fn install_loop_tasks(exports: Object, env: Env) -> Result<()> {
    let raw = env.raw();
    let mut source = std::ptr::null_mut();
    let mut install = std::ptr::null_mut();
    // SAFETY: JS thread (module registration); the script is ours and evaluates to a function.
    unsafe {
        host::check(sys::napi_create_string_utf8(
            raw,
            LOOP_TASKS.as_ptr().cast(),
            LOOP_TASKS.len() as isize,
            &mut source,
        ))?;
        host::check(sys::napi_run_script(raw, source, &mut install))?;
    }
    host::call(raw, exports.raw(), install, &[exports.raw()])?;
    Ok(())
}
