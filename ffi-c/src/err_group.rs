//! `gogroup_err_group`: core's [`ErrGroup`] for C.

use std::ffi::{c_char, c_int, c_void};
use std::time::{Duration, Instant};

use gogroup::{Collect, ErrGroup, Error};

use crate::boundary::{
    Arg, boundary, non_null, read_message, result, write_error, write_opt, write_out,
};
use crate::cancel_token::{TokenState, gogroup_cancel_token, observe};
use crate::handle::{Handle, Kind, Quarantine};
use crate::result::gogroup_result;
use crate::vtable::{Stop, VTable, mine};
use crate::wait_group::gogroup_free_fn;

/// A group of tasks that fail together (Go's `errgroup.Group`).
///
/// Opaque; reference-counted (`gogroup_err_group_clone`), released with
/// `gogroup_err_group_free`. Tasks keep the group alive while they run.
#[derive(Debug)]
pub struct gogroup_err_group {
    _private: [u8; 0],
}

/// Which task errors a group keeps.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gogroup_collect {
    /// Only the first error (Go's rule).
    First = 0,
    /// Every error, in finishing order (`gogroup_err_group_error_count` / `_error_at`).
    All = 1,
}

/// A task for `gogroup_err_group_go`: called once, on a gogroup pool thread (or on a thread
/// blocked in `gogroup_err_group_wait`, see there), with its `arg` and
/// the group's token (borrowed: valid until the task returns; clone it to keep it; freeing it
/// is ignored). Returns 0 for success, or the caller's own nonzero error code; it may then
/// write a NUL-terminated message of at most `message_cap` bytes (including the NUL) into
/// `message`. The first error becomes the group's result (`CUSTOM`, that code and message).
pub type gogroup_task_fn = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        token: *const gogroup_cancel_token,
        message: *mut c_char,
        message_cap: usize,
    ) -> c_int,
>;

impl Kind for ErrGroup {
    const MAGIC: u32 = 0x6767_4745; // "EGgg"
    type Opaque = gogroup_err_group;
    fn quarantine() -> &'static Quarantine<Self> {
        static Q: Quarantine<ErrGroup> = Quarantine::new();
        &Q
    }
}

/// Capacity of the message buffer a task may fill (`GOGROUP_TASK_MESSAGE_CAP`).
const TASK_MESSAGE_CAP: usize = 256;

fn new_handle(out: *mut *mut gogroup_err_group, g: ErrGroup) -> Result<(), gogroup_result> {
    let out = non_null(out)?;
    // SAFETY: checked non-NULL, writable per the caller.
    unsafe { write_out(out, Handle::into_raw(g)) };
    Ok(())
}

/// Creates a group like Go's zero `errgroup.Group`: no limit, and errors do not cancel
/// anything (tasks still receive the group's own token, cancelled by
/// `gogroup_err_group_shutdown`). The caller owns `*group_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_new(
    group_out: *mut *mut gogroup_err_group,
) -> gogroup_result {
    result(|| new_handle(group_out, ErrGroup::new()))
}

/// Creates a group whose token is a child of `parent` (Go's `errgroup.WithContext`): the first
/// task error cancels it, with that error as its cause, and so does the return of
/// `gogroup_err_group_wait`. `parent` may come from any copy of gogroup. The caller owns
/// `*group_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_with_token(
    parent: *const gogroup_cancel_token,
    group_out: *mut *mut gogroup_err_group,
) -> gogroup_result {
    result(|| {
        // SAFETY: `parent` is NULL or a gogroup token handle, per the caller.
        let parent = unsafe { observe(parent) }?.into_lasting();
        new_handle(group_out, ErrGroup::with_token(&parent))
    })
}

/// Creates a group with every option: `parent` (may be NULL: no parent, errors cancel
/// nothing, as `gogroup_err_group_new`; else as `gogroup_err_group_with_token`), `limit`
/// (negative: none; 0: nothing may start) and `collect`, a `gogroup_collect` value
/// (`GOGROUP_COLLECT_ALL` keeps every error; any other value: `INVALID_ARGUMENT`).
/// The caller owns `*group_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_new_with(
    parent: *const gogroup_cancel_token,
    limit: i64,
    collect: u32,
    group_out: *mut *mut gogroup_err_group,
) -> gogroup_result {
    result(|| {
        // A plain integer, not the enum: an out-of-range value from C is an error, not UB.
        let collect = match collect {
            c if c == gogroup_collect::First as u32 => Collect::First,
            c if c == gogroup_collect::All as u32 => Collect::All,
            _ => return Err(gogroup_result::InvalidArgument),
        };
        let mut b = ErrGroup::builder().limit(limit).collect(collect);
        if !parent.is_null() {
            // SAFETY: a gogroup token handle, per the caller.
            b = b.token(&unsafe { observe(parent) }?.into_lasting());
        }
        new_handle(group_out, b.build())
    })
}

/// Writes to `*group_out` a new handle to the same group. The caller owns it. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_clone(
    group: *const gogroup_err_group,
    group_out: *mut *mut gogroup_err_group,
) -> gogroup_result {
    result(|| {
        // SAFETY (for every `mine` in this file): `group` is NULL or a gogroup handle.
        let this = unsafe { mine::<ErrGroup>(group, |vt| (vt.err_group_clone)(group, group_out)) }?;
        new_handle(group_out, this.clone())
    })
}

/// Releases one handle; running tasks keep the group alive. NULL is a no-op; an already freed,
/// quarantined handle is ignored. No other thread may use this handle concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_free(group: *mut gogroup_err_group) {
    boundary(|| {
        let forward = |vt: &'static VTable| {
            // SAFETY: forwarded to the copy that made the handle.
            unsafe { (vt.err_group_free)(group) };
            gogroup_result::Ok
        };
        // SAFETY: see `gogroup_err_group_clone`; the caller gives up `group`.
        if unsafe { mine::<ErrGroup>(group, forward) }.is_ok() {
            // SAFETY: this copy's live handle, given up by the caller.
            unsafe { Handle::<ErrGroup>::free_mine(group) };
        }
    })
}

fn task(
    f: unsafe extern "C" fn(*mut c_void, *const gogroup_cancel_token, *mut c_char, usize) -> c_int,
    arg: Arg,
) -> impl FnOnce(gogroup::CancelToken) -> Result<(), Error> + Send + 'static {
    move |token| {
        let handle = Handle::borrowed(TokenState::new(token));
        let mut message = [0 as c_char; TASK_MESSAGE_CAP];
        // SAFETY: the caller promised `f` may be called once with `arg` on any thread; the
        // token handle and the buffer outlive the call.
        let code = unsafe {
            f(
                arg.ptr(),
                handle.as_opaque(),
                message.as_mut_ptr(),
                TASK_MESSAGE_CAP,
            )
        };
        drop(arg);
        drop(handle);
        if code == 0 {
            return Ok(());
        }
        message[TASK_MESSAGE_CAP - 1] = 0;
        // SAFETY: the buffer is NUL-terminated (its last byte was just set).
        let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
        let text = if text.is_empty() {
            format!("task failed with code {code}")
        } else {
            text.into_owned()
        };
        Err(Error::custom(text).with_code(i64::from(code)))
    }
}

/// Starts `fn(arg, token, …)` on gogroup's pool, first waiting for a free slot if a limit is
/// set. Tasks started after an error still run (as in Go); they should watch the token.
///
/// Returns `OK`, or — if the group's token is cancelled while waiting for a slot — the kind of
/// its cause, and `fn` never runs. `arg_free` (may be NULL) is called with `arg` exactly once:
/// after `fn` returned and before the task counts as done, or when it never will. `fn` may call any gogroup function (including
/// `gogroup_err_group_go` on this group). NULL `fn`: `NULL_ARGUMENT`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_go(
    group: *const gogroup_err_group,
    r#fn: gogroup_task_fn,
    arg: *mut c_void,
    arg_free: gogroup_free_fn,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward =
            |vt: &'static VTable| unsafe { (vt.err_group_go)(group, r#fn, arg, arg_free) };
        // SAFETY: see `gogroup_err_group_clone`; `arg` moves to the other copy if forwarded.
        let this = Stop::keep_arg(unsafe { mine::<ErrGroup>(group, forward) }, arg, arg_free)?;
        let arg = Arg::new(arg, arg_free);
        let f = r#fn.ok_or(gogroup_result::NullArgument)?;
        Ok(this.go(task(f, arg))?)
    })
}

/// Starts `fn` only if a slot is free right now (Go's `TryGo`): writes `true` to
/// `*started_out` if it started, `false` if not (then `arg_free` runs at once). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_try_go(
    group: *const gogroup_err_group,
    r#fn: gogroup_task_fn,
    arg: *mut c_void,
    arg_free: gogroup_free_fn,
    started_out: *mut bool,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.err_group_try_go)(group, r#fn, arg, arg_free, started_out)
        };
        // SAFETY: as in `gogroup_err_group_go`.
        let this = Stop::keep_arg(unsafe { mine::<ErrGroup>(group, forward) }, arg, arg_free)?;
        let arg = Arg::new(arg, arg_free);
        let out = non_null(started_out)?;
        let f = r#fn.ok_or(gogroup_result::NullArgument)?;
        let started = this.try_go(task(f, arg));
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, started) };
        Ok(())
    })
}

/// Limits the active tasks to `n` (Go's `SetLimit`): negative for no limit, 0 so that nothing
/// may start. Returns `LIMIT_IN_USE` (nothing changed) if a task is active; setting the current
/// value again is always allowed. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_set_limit(
    group: *const gogroup_err_group,
    n: i64,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, |vt| (vt.err_group_set_limit)(group, n)) }?;
        Ok(this.set_limit(n)?)
    })
}

/// Writes the current limit to `*limit_out` (-1: no limit). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_limit(
    group: *const gogroup_err_group,
    limit_out: *mut i64,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, |vt| (vt.err_group_limit)(group, limit_out)) }?;
        let out = non_null(limit_out)?;
        let limit = this
            .limit()
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, limit) };
        Ok(())
    })
}

/// Writes to `*active_out` how many tasks hold a slot (started, not finished). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_active(
    group: *const gogroup_err_group,
    active_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_err_group_clone`.
        let this =
            unsafe { mine::<ErrGroup>(group, |vt| (vt.err_group_active)(group, active_out)) }?;
        let out = non_null(active_out)?;
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, this.active()) };
        Ok(())
    })
}

fn report(
    r: gogroup::Result<()>,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> Result<(), gogroup_result> {
    match r {
        Ok(()) => Ok(()),
        Err(e) => {
            // SAFETY: NULL or writable, per the caller.
            unsafe {
                write_error(
                    &e,
                    std::ptr::null_mut(),
                    code_out,
                    message,
                    message_cap,
                    message_len_out,
                )
            }?;
            Err(gogroup_result::from(&e))
        }
    }
}

/// Waits for every task, then returns `OK` or the first error's kind (sticky across reuse):
/// `CUSTOM` for a task's nonzero return, `PANIC` if a task panicked. With a token (Go's
/// `WithContext`), the token is cancelled when this returns.
///
/// On an error from the group, writes the task's code to `*code_out` and copies the message
/// into `message` as `gogroup_cancel_token_cause` does. Every out-pointer may be NULL;
/// `message` only with `message_cap` 0. Any thread that may block; not from a task of this
/// group (it would wait for itself, as in Go).
///
/// If the group's only task was submitted by this thread and no pool thread has started it
/// yet, this runs it on the calling thread (as `gogroup_wait_group_wait` does). The bounded
/// and token waits never do.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_wait(
    group: *const gogroup_err_group,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.err_group_wait)(group, code_out, message, message_cap, message_len_out)
        };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        let r = this.wait_until(None, None);
        report(r, code_out, message, message_cap, message_len_out)
    })
}

/// Like `gogroup_err_group_wait`, giving up after `timeout_ms` milliseconds with `TIMEOUT`
/// (tasks keep running; nothing is cancelled; the outputs are not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_wait_timeout(
    group: *const gogroup_err_group,
    timeout_ms: u64,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.err_group_wait_timeout)(
                group,
                timeout_ms,
                code_out,
                message,
                message_cap,
                message_len_out,
            )
        };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        let deadline = Instant::now().checked_add(Duration::from_millis(timeout_ms));
        match this.wait_until(deadline, None) {
            Err(e) if e.kind() == gogroup::ErrorKind::Timeout => Err(gogroup_result::Timeout),
            r => report(r, code_out, message, message_cap, message_len_out),
        }
    })
}

/// Like `gogroup_err_group_wait`, but also returns when `token` (of any copy of gogroup) is
/// cancelled first: then the result is the kind of `token`'s cause (`CANCELED`,
/// `DEADLINE_EXCEEDED` or `CUSTOM`; read it with `gogroup_cancel_token_cause`), the outputs are
/// not written, the tasks keep running and nothing is cancelled; nothing stays registered on
/// `token` afterwards. Any thread that may block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_wait_token(
    group: *const gogroup_err_group,
    token: *const gogroup_cancel_token,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle (if its
        // table has this function).
        let forward = |vt: &'static VTable| match vt.err_group_wait_token() {
            Some(f) => unsafe {
                f(
                    group,
                    token,
                    code_out,
                    message,
                    message_cap,
                    message_len_out,
                )
            },
            None => gogroup_result::InvalidHandle,
        };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        // SAFETY: `token` is NULL or a gogroup token handle, per the caller.
        let observed = unsafe { crate::cancel_token::observe(token) }?;
        let stop = observed.token();
        match this.wait_until(None, Some(stop)) {
            // The wait gave up on `token` (a task's error is never that very cause object).
            Err(e) if stop.cause().is_some_and(|c| gogroup::Error::ptr_eq(&c, &e)) => {
                Err(gogroup_result::from(&e))
            }
            r => report(r, code_out, message, message_cap, message_len_out),
        }
    })
}

/// Writes to `*count_out` how many errors the group recorded: every task error with
/// `GOGROUP_COLLECT_ALL`, at most the first with `GOGROUP_COLLECT_FIRST`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_error_count(
    group: *const gogroup_err_group,
    count_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe { (vt.err_group_error_count)(group, count_out) };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        let out = non_null(count_out)?;
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, this.errors().len()) };
        Ok(())
    })
}

/// Describes recorded error number `index` (finishing order, from 0): its kind to
/// `*kind_out`, code to `*code_out`, message as `gogroup_cancel_token_cause` does. Returns
/// `INVALID_ARGUMENT` if `index` is not below the count. Out-pointers may be NULL. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_error_at(
    group: *const gogroup_err_group,
    index: usize,
    kind_out: *mut gogroup_result,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.err_group_error_at)(
                group,
                index,
                kind_out,
                code_out,
                message,
                message_cap,
                message_len_out,
            )
        };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        let errors = this.errors();
        let e = errors.get(index).ok_or(gogroup_result::InvalidArgument)?;
        // SAFETY: NULL or writable, per the caller.
        unsafe { write_error(e, kind_out, code_out, message, message_cap, message_len_out) }
    })
}

/// Graceful shutdown: cancels the group's token — with cause `CUSTOM`, `cause_code` and
/// `cause_message` if `cause_message` is not NULL, else `CANCELED` — waits at most `grace_ms`
/// milliseconds for the tasks, and writes how many still run to `*still_running_out` (0: all
/// stopped; may be NULL). Any thread that may block; not from a task of this group.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_shutdown(
    group: *const gogroup_err_group,
    cause_code: i64,
    cause_message: *const c_char,
    grace_ms: u64,
    still_running_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.err_group_shutdown)(
                group,
                cause_code,
                cause_message,
                grace_ms,
                still_running_out,
            )
        };
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, forward) }?;
        let cause = if cause_message.is_null() {
            None
        } else {
            // SAFETY: NUL-terminated, per the caller.
            let text = unsafe { read_message(cause_message) }?;
            Some(Error::custom(text).with_code(cause_code))
        };
        let left = this.shutdown(cause, Duration::from_millis(grace_ms));
        // SAFETY: NULL or writable, per the caller.
        unsafe { write_opt(still_running_out, left) };
        Ok(())
    })
}

/// Writes to `*token_out` a new handle to the group's token (the one every task receives).
/// The caller owns it (`gogroup_cancel_token_free`). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_err_group_token(
    group: *const gogroup_err_group,
    token_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_err_group_clone`.
        let this = unsafe { mine::<ErrGroup>(group, |vt| (vt.err_group_token)(group, token_out)) }?;
        let out = non_null(token_out)?;
        let token = this.token().clone();
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, Handle::into_raw(TokenState::new(token))) };
        Ok(())
    })
}
