//! `gogroup_wait_group`: core's [`WaitGroup`] for C.

use std::ffi::c_void;
use std::time::{Duration, Instant};

use gogroup::WaitGroup;

use crate::boundary::{Arg, non_null, result, write_out};
use crate::cancel_token::{gogroup_cancel_token, observe};
use crate::handle::{Handle, Kind, Quarantine};
use crate::result::{core, gogroup_result};
use crate::vtable::{Stop, mine};

/// A wait group (Go's `sync.WaitGroup`): a counter you can wait on until it is zero.
///
/// Opaque; reference-counted: `gogroup_wait_group_clone` gives another handle to the same
/// counter, and every handle is released with `gogroup_wait_group_free`.
#[derive(Debug)]
pub struct gogroup_wait_group {
    _private: [u8; 0],
}

/// A task for `gogroup_wait_group_go`: called once with its `arg`, on a gogroup pool thread (or
/// on the thread blocked in `gogroup_wait_group_wait`, see there).
pub type gogroup_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// A destructor for a callback's `arg`, called exactly once (see the conventions).
pub type gogroup_free_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

impl Kind for WaitGroup {
    const MAGIC: u32 = 0x6767_5747; // "GWgg"
    type Opaque = gogroup_wait_group;
    fn quarantine() -> &'static Quarantine<Self> {
        static Q: Quarantine<WaitGroup> = Quarantine::new();
        &Q
    }
}

/// Creates a wait group with a zero counter and writes its handle to `*wg_out`.
///
/// The caller owns the handle and releases it with `gogroup_wait_group_free`.
/// NULL `wg_out`: `GOGROUP_RESULT_NULL_ARGUMENT`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_new(
    wg_out: *mut *mut gogroup_wait_group,
) -> gogroup_result {
    result(|| {
        let out = non_null(wg_out)?;
        // SAFETY: checked non-NULL; the caller provides a writable out-pointer.
        unsafe { write_out(out, Handle::into_raw(WaitGroup::new())) };
        Ok(())
    })
}

/// Writes to `*wg_out` a new handle to the same counter as `wg` (a reference, not a copy).
///
/// The caller owns the new handle. NULL: `NULL_ARGUMENT`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_clone(
    wg: *const gogroup_wait_group,
    wg_out: *mut *mut gogroup_wait_group,
) -> gogroup_result {
    result(|| {
        // SAFETY (for every `mine` in this file): `wg` is NULL or a pointer the caller got from
        // gogroup; `mine` checks the header and forwards other copies' handles to their table.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_clone)(wg, wg_out)) }?;
        let out = non_null(wg_out)?;
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, Handle::into_raw(this.clone())) };
        Ok(())
    })
}

/// Releases one handle. The counter lives on while other handles (or running `go` tasks) use
/// it. NULL is a no-op; a handle that is already freed (and still quarantined) is ignored, but a
/// double free remains a bug. No other thread may use this handle concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_free(wg: *mut gogroup_wait_group) {
    crate::boundary::boundary(|| {
        // SAFETY: as in `gogroup_wait_group_clone`; the caller gives up `wg`.
        if unsafe { mine::<WaitGroup>(wg, |vt| forward_free(vt, wg)) }.is_ok() {
            // SAFETY: `wg` resolved as this copy's live handle, and the caller gives it up.
            unsafe { Handle::<WaitGroup>::free_mine(wg) };
        }
    })
}

fn forward_free(vt: &crate::vtable::VTable, wg: *mut gogroup_wait_group) -> gogroup_result {
    // SAFETY: forwarded to the copy that made `wg`.
    unsafe { (vt.wait_group_free)(wg) };
    gogroup_result::Ok
}

/// Adds `delta` (which may be negative) to the counter; at zero every waiter is released.
///
/// Returns `NEGATIVE_COUNTER` if the counter would drop below zero and `INVALID_ARGUMENT` if it
/// would exceed `INT32_MAX`; in both cases nothing changed. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_add(
    wg: *const gogroup_wait_group,
    delta: i64,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_add)(wg, delta)) }?;
        core(this.add(delta))
    })
}

/// Decrements the counter by one. Takes no lock and makes no system call unless a waiter
/// sleeps. Returns `NEGATIVE_COUNTER` (nothing changed) if the counter is already zero.
/// Any thread, including a `go` task or a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_done(wg: *const gogroup_wait_group) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_done)(wg)) }?;
        core(this.done())
    })
}

/// Writes the current counter to `*count_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_count(
    wg: *const gogroup_wait_group,
    count_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_count)(wg, count_out)) }?;
        let out = non_null(count_out)?;
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, this.count()) };
        Ok(())
    })
}

/// Blocks until the counter is zero (returns at once if it is). Safe to reuse the group at once.
///
/// Returns `OK`, or `PANIC` if a `go` task panicked (impossible for C tasks). Any thread that
/// may block; calling it from a `go` task of the same group deadlocks, as in Go.
///
/// If the group's only task was submitted by this thread and no pool thread has started it
/// yet, this runs it on the calling thread (as Go runs a new goroutine where `Wait` parks):
/// one task then costs no trip to another thread. The bounded and token waits never do.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_wait(wg: *const gogroup_wait_group) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_wait)(wg)) }?;
        Ok(this.wait_until(None, None)?)
    })
}

/// Like `gogroup_wait_group_wait`, giving up after `timeout_ms` milliseconds: `OK` if the
/// counter reached zero, `TIMEOUT` if not. Any thread that may block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_wait_timeout(
    wg: *const gogroup_wait_group,
    timeout_ms: u64,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this =
            unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_wait_timeout)(wg, timeout_ms)) }?;
        let deadline = Instant::now().checked_add(Duration::from_millis(timeout_ms));
        Ok(this.wait_until(deadline, None)?)
    })
}

/// Blocks until the counter is zero or `token` is cancelled, whichever comes first; nothing
/// stays registered on `token` afterwards.
///
/// Returns `OK` if the counter reached zero, else the kind of the token's cause (`CANCELED`,
/// `DEADLINE_EXCEEDED`, or `CUSTOM` after `gogroup_cancel_token_cancel_with`; read it with
/// `gogroup_cancel_token_cause`). `token` may come from any copy of gogroup. Any thread that
/// may block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_wait_token(
    wg: *const gogroup_wait_group,
    token: *const gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`.
        let this = unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_wait_token)(wg, token)) }?;
        // SAFETY: `token` is NULL or a gogroup token handle, per the caller.
        let observed = unsafe { observe(token) }?;
        Ok(this.wait_until(None, Some(observed.token()))?)
    })
}

/// Runs `fn(arg)` on gogroup's pool, counted by this group (Go's `WaitGroup.Go`): the counter
/// is incremented before this returns, and decremented when `fn` returns.
///
/// `arg_free` (may be NULL) is called with `arg` exactly once: after `fn` returned and before
/// the task counts as done (so a `wait` that returns has seen it), or at once if this function
/// fails. `fn` may call any gogroup function. NULL `fn`: `NULL_ARGUMENT`.
/// Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_wait_group_go(
    wg: *const gogroup_wait_group,
    r#fn: gogroup_fn,
    arg: *mut c_void,
    arg_free: gogroup_free_fn,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_wait_group_clone`; `arg` ownership moves to the other copy.
        let this =
            unsafe { mine::<WaitGroup>(wg, |vt| (vt.wait_group_go)(wg, r#fn, arg, arg_free)) };
        // `arg` is ours unless the call was forwarded (then the other copy owns it).
        let this = Stop::keep_arg(this, arg, arg_free)?;
        let arg = Arg::new(arg, arg_free);
        let f = r#fn.ok_or(gogroup_result::NullArgument)?;
        this.go(move || {
            // SAFETY: the caller promised `f` may be called once with `arg` on any thread.
            unsafe { f(arg.ptr()) };
            drop(arg);
        });
        Ok(())
    })
}
