//! The function table every handle carries (see `handle.rs`, "Why a function table").
//!
//! Each entry is this copy's own export of that function, so forwarding a handle of another
//! copy is one indirect call into that copy's export, which then finds the handle to be its
//! own. Append-only within one ABI version (invariant 1 of `handle.rs`): new functions go at
//! the end, `size` tells how long a given copy's table is.

use std::ffi::{c_char, c_int, c_void};

use crate::cancel_token::*;
use crate::err_group::*;
use crate::handle::{ABI_VERSION, Handle, Kind};
use crate::result::gogroup_result;
use crate::wait_group::*;

type R = gogroup_result;
type Wg = *const gogroup_wait_group;
type Tk = *const gogroup_cancel_token;
type Eg = *const gogroup_err_group;
type Msg = *mut c_char;

/// The table of one copy of gogroup: its exports that take a handle, in a fixed order.
#[repr(C)]
#[derive(Debug)]
pub struct VTable {
    /// `size_of::<VTable>()` in the copy that made it.
    pub size: usize,
    /// `GOGROUP_ABI_VERSION` of that copy.
    pub abi_version: u32,
    pub(crate) wait_group_clone: unsafe extern "C" fn(Wg, *mut *mut gogroup_wait_group) -> R,
    pub(crate) wait_group_free: unsafe extern "C" fn(*mut gogroup_wait_group),
    pub(crate) wait_group_add: unsafe extern "C" fn(Wg, i64) -> R,
    pub(crate) wait_group_done: unsafe extern "C" fn(Wg) -> R,
    pub(crate) wait_group_count: unsafe extern "C" fn(Wg, *mut usize) -> R,
    pub(crate) wait_group_wait: unsafe extern "C" fn(Wg) -> R,
    pub(crate) wait_group_wait_timeout: unsafe extern "C" fn(Wg, u64) -> R,
    pub(crate) wait_group_wait_token: unsafe extern "C" fn(Wg, Tk) -> R,
    pub(crate) wait_group_go:
        unsafe extern "C" fn(Wg, gogroup_fn, *mut c_void, gogroup_free_fn) -> R,
    pub(crate) cancel_token_clone: unsafe extern "C" fn(Tk, *mut *mut gogroup_cancel_token) -> R,
    pub(crate) cancel_token_free: unsafe extern "C" fn(*mut gogroup_cancel_token),
    pub(crate) cancel_token_child: unsafe extern "C" fn(Tk, *mut *mut gogroup_cancel_token) -> R,
    pub(crate) cancel_token_with_timeout:
        unsafe extern "C" fn(Tk, u64, *mut *mut gogroup_cancel_token) -> R,
    pub(crate) cancel_token_with_deadline:
        unsafe extern "C" fn(Tk, u64, *mut *mut gogroup_cancel_token) -> R,
    pub(crate) cancel_token_cancel: unsafe extern "C" fn(Tk) -> R,
    pub(crate) cancel_token_cancel_with: unsafe extern "C" fn(Tk, i64, *const c_char) -> R,
    pub(crate) cancel_token_is_cancelled: unsafe extern "C" fn(Tk) -> bool,
    pub(crate) cancel_token_err: unsafe extern "C" fn(Tk) -> R,
    pub(crate) cancel_token_cause:
        unsafe extern "C" fn(Tk, *mut R, *mut i64, Msg, usize, *mut usize) -> R,
    pub(crate) cancel_token_deadline: unsafe extern "C" fn(Tk, *mut u64) -> R,
    pub(crate) cancel_token_on_cancel: unsafe extern "C" fn(
        Tk,
        gogroup_cancel_fn,
        *mut c_void,
        gogroup_free_fn,
        *mut *mut gogroup_registration,
    ) -> R,
    pub(crate) cancel_token_on_cancel_inline: unsafe extern "C" fn(
        Tk,
        gogroup_cancel_fn,
        *mut c_void,
        gogroup_free_fn,
        *mut *mut gogroup_registration,
    ) -> R,
    pub(crate) cancel_token_wait: unsafe extern "C" fn(Tk) -> R,
    pub(crate) cancel_token_wait_timeout: unsafe extern "C" fn(Tk, u64) -> R,
    pub(crate) cancel_token_fd: unsafe extern "C" fn(Tk, *mut c_int) -> R,
    pub(crate) registration_stop: unsafe extern "C" fn(*const gogroup_registration, *mut bool) -> R,
    pub(crate) registration_free: unsafe extern "C" fn(*mut gogroup_registration),
    pub(crate) err_group_clone: unsafe extern "C" fn(Eg, *mut *mut gogroup_err_group) -> R,
    pub(crate) err_group_free: unsafe extern "C" fn(*mut gogroup_err_group),
    pub(crate) err_group_go:
        unsafe extern "C" fn(Eg, gogroup_task_fn, *mut c_void, gogroup_free_fn) -> R,
    pub(crate) err_group_try_go:
        unsafe extern "C" fn(Eg, gogroup_task_fn, *mut c_void, gogroup_free_fn, *mut bool) -> R,
    pub(crate) err_group_set_limit: unsafe extern "C" fn(Eg, i64) -> R,
    pub(crate) err_group_limit: unsafe extern "C" fn(Eg, *mut i64) -> R,
    pub(crate) err_group_active: unsafe extern "C" fn(Eg, *mut usize) -> R,
    pub(crate) err_group_wait: unsafe extern "C" fn(Eg, *mut i64, Msg, usize, *mut usize) -> R,
    pub(crate) err_group_wait_timeout:
        unsafe extern "C" fn(Eg, u64, *mut i64, Msg, usize, *mut usize) -> R,
    pub(crate) err_group_error_count: unsafe extern "C" fn(Eg, *mut usize) -> R,
    pub(crate) err_group_error_at:
        unsafe extern "C" fn(Eg, usize, *mut R, *mut i64, Msg, usize, *mut usize) -> R,
    pub(crate) err_group_shutdown:
        unsafe extern "C" fn(Eg, i64, *const c_char, u64, *mut usize) -> R,
    pub(crate) err_group_token: unsafe extern "C" fn(Eg, *mut *mut gogroup_cancel_token) -> R,
    // Appended entries: reached through the accessors below, which check that the other
    // copy's table is long enough (a copy built before an entry existed has a shorter table).
    cancel_token_with_timeout_cause:
        unsafe extern "C" fn(Tk, u64, i64, *const c_char, *mut *mut gogroup_cancel_token) -> R,
    cancel_token_with_deadline_cause:
        unsafe extern "C" fn(Tk, u64, i64, *const c_char, *mut *mut gogroup_cancel_token) -> R,
    cancel_token_dependents: unsafe extern "C" fn(Tk, *mut usize) -> R,
    err_group_wait_token: unsafe extern "C" fn(Eg, Tk, *mut i64, Msg, usize, *mut usize) -> R,
    last_error: unsafe extern "C" fn(Msg, usize, *mut usize) -> R,
}

/// An accessor for an appended entry: `None` if the table (of another copy) ends before it.
macro_rules! appended {
    ($($name:ident: $ty:ty;)*) => {
        impl VTable {
            $(
                pub(crate) fn $name(&self) -> Option<$ty> {
                    let end = std::mem::offset_of!(VTable, $name) + std::mem::size_of::<$ty>();
                    (self.size >= end).then_some(self.$name)
                }
            )*
        }
    };
}

appended! {
    cancel_token_with_timeout_cause:
        unsafe extern "C" fn(Tk, u64, i64, *const c_char, *mut *mut gogroup_cancel_token) -> R;
    cancel_token_with_deadline_cause:
        unsafe extern "C" fn(Tk, u64, i64, *const c_char, *mut *mut gogroup_cancel_token) -> R;
    cancel_token_dependents: unsafe extern "C" fn(Tk, *mut usize) -> R;
    err_group_wait_token: unsafe extern "C" fn(Eg, Tk, *mut i64, Msg, usize, *mut usize) -> R;
    last_error: unsafe extern "C" fn(Msg, usize, *mut usize) -> R;
}

/// This copy's table.
pub(crate) static VTABLE: VTable = VTable {
    size: std::mem::size_of::<VTable>(),
    abi_version: ABI_VERSION,
    wait_group_clone: gogroup_wait_group_clone,
    wait_group_free: gogroup_wait_group_free,
    wait_group_add: gogroup_wait_group_add,
    wait_group_done: gogroup_wait_group_done,
    wait_group_count: gogroup_wait_group_count,
    wait_group_wait: gogroup_wait_group_wait,
    wait_group_wait_timeout: gogroup_wait_group_wait_timeout,
    wait_group_wait_token: gogroup_wait_group_wait_token,
    wait_group_go: gogroup_wait_group_go,
    cancel_token_clone: gogroup_cancel_token_clone,
    cancel_token_free: gogroup_cancel_token_free,
    cancel_token_child: gogroup_cancel_token_child,
    cancel_token_with_timeout: gogroup_cancel_token_with_timeout,
    cancel_token_with_deadline: gogroup_cancel_token_with_deadline,
    cancel_token_cancel: gogroup_cancel_token_cancel,
    cancel_token_cancel_with: gogroup_cancel_token_cancel_with,
    cancel_token_is_cancelled: gogroup_cancel_token_is_cancelled,
    cancel_token_err: gogroup_cancel_token_err,
    cancel_token_cause: gogroup_cancel_token_cause,
    cancel_token_deadline: gogroup_cancel_token_deadline,
    cancel_token_on_cancel: gogroup_cancel_token_on_cancel,
    cancel_token_on_cancel_inline: gogroup_cancel_token_on_cancel_inline,
    cancel_token_wait: gogroup_cancel_token_wait,
    cancel_token_wait_timeout: gogroup_cancel_token_wait_timeout,
    cancel_token_fd: gogroup_cancel_token_fd,
    registration_stop: gogroup_registration_stop,
    registration_free: gogroup_registration_free,
    err_group_clone: gogroup_err_group_clone,
    err_group_free: gogroup_err_group_free,
    err_group_go: gogroup_err_group_go,
    err_group_try_go: gogroup_err_group_try_go,
    err_group_set_limit: gogroup_err_group_set_limit,
    err_group_limit: gogroup_err_group_limit,
    err_group_active: gogroup_err_group_active,
    err_group_wait: gogroup_err_group_wait,
    err_group_wait_timeout: gogroup_err_group_wait_timeout,
    err_group_error_count: gogroup_err_group_error_count,
    err_group_error_at: gogroup_err_group_error_at,
    err_group_shutdown: gogroup_err_group_shutdown,
    err_group_token: gogroup_err_group_token,
    cancel_token_with_timeout_cause: gogroup_cancel_token_with_timeout_cause,
    cancel_token_with_deadline_cause: gogroup_cancel_token_with_deadline_cause,
    cancel_token_dependents: gogroup_cancel_token_dependents,
    err_group_wait_token: gogroup_err_group_wait_token,
    last_error: crate::last_error::gogroup_last_error,
};

// SAFETY: the table is immutable data (function pointers and integers).
unsafe impl Sync for VTable {}

/// Why an export stopped before its body: the handle was invalid, or it was another copy's
/// and the call was forwarded there (then `result` is that copy's answer, outputs included).
#[derive(Debug)]
pub(crate) struct Stop {
    result: gogroup_result,
    forwarded: bool,
}

impl From<Stop> for gogroup_result {
    fn from(s: Stop) -> gogroup_result {
        s.result
    }
}

impl Stop {
    /// For exports that take an `arg` with a destructor: if the call stopped here without being
    /// forwarded, the destructor runs now (the convention: `arg_free` runs exactly once, even
    /// on failure); a forwarded call passed `arg` on to the other copy.
    pub(crate) fn keep_arg<T>(
        r: Result<T, Stop>,
        arg: *mut c_void,
        arg_free: gogroup_free_fn,
    ) -> Result<T, Stop> {
        if let Err(s) = &r
            && !s.forwarded
        {
            drop(crate::boundary::Arg::new(arg, arg_free));
        }
        r
    }
}

/// This copy's value behind handle `p`; or, for another copy's handle, the result of
/// `forward(its table)` (the same export over there) as `Err`; or the handle error.
///
/// # Safety
/// `p` is NULL or a pointer the caller got from gogroup (see `Handle::resolve`).
#[inline(always)]
pub(crate) unsafe fn mine<'a, T: Kind>(
    p: *const T::Opaque,
    forward: impl FnOnce(&'static VTable) -> gogroup_result,
) -> Result<&'a T, Stop> {
    // SAFETY: forwarded caller contract.
    match unsafe { Handle::<T>::resolve(p) } {
        Ok(crate::handle::Resolved::Mine(v)) => Ok(v),
        Ok(crate::handle::Resolved::Theirs(vt)) => {
            let result = forward(vt);
            if result != gogroup_result::Ok {
                copy_last_error(vt, result);
            }
            Err(Stop {
                result,
                forwarded: true,
            })
        }
        Err(e) => Err(Stop {
            result: e,
            forwarded: false,
        }),
    }
}

/// After a call forwarded to another copy failed: its message (in that copy's per-thread
/// record) becomes ours, for `gogroup_last_error`.
#[cold]
fn copy_last_error(vt: &'static VTable, result: gogroup_result) {
    let Some(last_error) = vt.last_error() else {
        return;
    };
    let mut len = 0usize;
    // SAFETY: the other copy's export; a NULL buffer with capacity 0 is allowed.
    unsafe { last_error(std::ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0u8; len + 1];
    // SAFETY: `buf` is writable for `len + 1` bytes.
    unsafe { last_error(buf.as_mut_ptr().cast(), buf.len(), std::ptr::null_mut()) };
    buf.truncate(len);
    crate::last_error::remember(result, String::from_utf8_lossy(&buf).into_owned());
}
