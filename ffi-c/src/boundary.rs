//! The panic boundary and the argument helpers every export uses.
//!
//! No unwinding may cross `extern "C"`: since Rust 1.81 it aborts the process, and before that
//! it was undefined behaviour. So every export runs its body inside [`boundary`], a plain
//! function taking a closure (rustls-ffi's lesson: a macro wrapping the body keeps rustfmt out),
//! which turns a panic into the return type's [`PanicOrDefault::value`] —
//! `GOGROUP_RESULT_PANIC` for fallible functions. Bodies return `Result<(), gogroup_result>` so
//! that `?` works on core errors, NULL checks ([`non_null`]) and handle checks alike.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use gogroup::Error;

use crate::result::gogroup_result;

/// What an export returns when its body panicked.
pub(crate) trait PanicOrDefault {
    /// The value returned instead of unwinding.
    fn value() -> Self;
}

impl PanicOrDefault for gogroup_result {
    fn value() -> Self {
        gogroup_result::Panic
    }
}

impl PanicOrDefault for () {
    fn value() -> Self {}
}

impl PanicOrDefault for bool {
    /// A broken `is_cancelled` reads as "cancelled", so a polling loop stops.
    fn value() -> Self {
        true
    }
}

impl PanicOrDefault for u64 {
    fn value() -> Self {
        0
    }
}

impl PanicOrDefault for u32 {
    fn value() -> Self {
        0
    }
}

/// Runs `f`, turning a panic into `T::value()`. Zero cost when nothing panics.
#[inline(always)]
pub(crate) fn boundary<T: PanicOrDefault>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => T::value(),
    }
}

/// [`boundary`] for the usual body: `Ok(())` → `GOGROUP_RESULT_OK`, `Err(r)` → `r`.
#[inline(always)]
pub(crate) fn result(f: impl FnOnce() -> Result<(), gogroup_result>) -> gogroup_result {
    let r = boundary(|| match f() {
        Ok(()) => gogroup_result::Ok,
        Err(r) => r,
    });
    if r != gogroup_result::Ok {
        crate::last_error::settle(r);
    }
    r
}

/// `Err(GOGROUP_RESULT_NULL_ARGUMENT)` if `p` is NULL.
#[inline(always)]
pub(crate) fn non_null<T>(p: *mut T) -> Result<*mut T, gogroup_result> {
    if p.is_null() {
        Err(gogroup_result::NullArgument)
    } else {
        Ok(p)
    }
}

/// Writes `value` through an out-pointer already checked with [`non_null`].
///
/// # Safety
/// `out` must be valid for a write of `T` (the caller's contract for out-pointers).
#[inline(always)]
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the caller guarantees `out` is writable; it was checked non-NULL.
    unsafe { out.write(value) }
}

/// Writes `value` through an optional out-pointer (NULL: the caller does not want it).
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
#[inline(always)]
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL, and the caller guarantees it is writable.
        unsafe { out.write(value) }
    }
}

/// Copies `text` into a caller buffer as snprintf does: at most `cap - 1` bytes and a NUL
/// (nothing if `cap` is 0), and reports the full length (without NUL) through `len_out`.
/// An interior NUL in `text` ends the C string early; `len_out` still counts every byte.
///
/// # Errors
/// `NULL_ARGUMENT` if `buf` is NULL while `cap` is not 0.
///
/// # Safety
/// `buf` must be NULL or writable for `cap` bytes; `len_out` NULL or writable.
pub(crate) unsafe fn copy_message(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> Result<(), gogroup_result> {
    if cap > 0 {
        let buf = non_null(buf)?;
        let n = text.len().min(cap - 1);
        // SAFETY: `buf` is writable for `cap > n` bytes; `text` is valid for `n` bytes and
        // cannot overlap a caller buffer we were handed.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
        }
    }
    // SAFETY: NULL or writable, per the caller.
    unsafe { write_opt(len_out, text.len()) };
    Ok(())
}

/// Writes an error's kind, application code and message through the usual optional outputs.
///
/// # Safety
/// As [`copy_message`]; `kind_out` and `code_out` NULL or writable.
pub(crate) unsafe fn write_error(
    e: &Error,
    kind_out: *mut gogroup_result,
    code_out: *mut i64,
    message: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> Result<(), gogroup_result> {
    // SAFETY: forwarded caller contract.
    unsafe {
        copy_message(e.message(), message, cap, len_out)?;
        write_opt(kind_out, gogroup_result::from_kind(e.kind()));
        write_opt(code_out, e.app_code());
    }
    Ok(())
}

/// Reads a caller's NUL-terminated message (lossily, as UTF-8).
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn read_message(p: *const c_char) -> Result<String, gogroup_result> {
    let p = non_null(p.cast_mut())?;
    // SAFETY: non-NULL and NUL-terminated per the caller.
    let s = unsafe { std::ffi::CStr::from_ptr(p) };
    Ok(s.to_string_lossy().into_owned())
}

/// A caller's `void *arg` and its optional destructor, which runs exactly once when this is
/// dropped: after the callback ran, or when it never will (stopped, refused, token gone).
#[derive(Debug)]
pub(crate) struct Arg {
    ptr: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the header documents that `arg` (and its destructor) may be used from any thread:
// handing it to gogroup is the caller's promise that it is safe to move across threads.
unsafe impl Send for Arg {}

impl Arg {
    pub(crate) fn new(ptr: *mut c_void, free: Option<unsafe extern "C" fn(*mut c_void)>) -> Arg {
        Arg { ptr, free }
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for Arg {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller handed us `ptr` with this destructor; it runs exactly once.
            // A destructor is C code and cannot unwind.
            unsafe { free(self.ptr) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_return_types_default_and_does_not_unwind() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {})); // keep the test output clean
        let r = result(|| panic!("boom"));
        let b = boundary(|| -> bool { panic!("boom") });
        std::panic::set_hook(prev);
        assert_eq!(r, gogroup_result::Panic);
        assert!(b, "a broken is_cancelled reads as cancelled");
    }

    #[test]
    fn copy_message_truncates_like_snprintf_and_reports_the_full_length() {
        let mut buf = [0x7f as c_char; 4];
        let mut len = 0;
        // SAFETY: a 4-byte buffer and a writable length.
        unsafe { copy_message("hello", buf.as_mut_ptr(), 4, &mut len) }.unwrap();
        assert_eq!(len, 5);
        assert_eq!(buf.map(|c| c as u8), *b"hel\0");
        // SAFETY: NULL buffer with capacity 0 is the length query.
        unsafe { copy_message("hello", std::ptr::null_mut(), 0, &mut len) }.unwrap();
        assert_eq!(len, 5);
        // SAFETY: a NULL buffer with a capacity is refused before any write.
        let refused = unsafe { copy_message("x", std::ptr::null_mut(), 1, &mut len) };
        assert_eq!(refused, Err(gogroup_result::NullArgument));
    }
}
