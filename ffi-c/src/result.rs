//! `gogroup_result`: the one error vocabulary of the C ABI, mapped from core's [`ErrorKind`]
//! exactly once, here.
//!
//! Codes 1..=8 are core's [`ErrorKind::code`] values (a test walks [`ErrorKind::ALL`] and checks
//! each maps to its own code, never to a fallback). Codes from 256 up belong to the C ABI alone,
//! so core can add kinds without ever colliding with them.

use std::ffi::c_char;

use gogroup::{Error, ErrorKind};

use crate::boundary::boundary;

/// The result of every fallible gogroup function. `GOGROUP_RESULT_OK` (0) is success; codes 1 to
/// 8 equal core's `ErrorKind` codes; 256 and up are the C ABI's own.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gogroup_result {
    /// Success.
    Ok = 0,
    /// A wait group counter would have dropped below zero; the change was not applied.
    NegativeCounter = 1,
    /// The token was cancelled (Go's `context.Canceled`).
    Canceled = 2,
    /// The token's deadline passed (Go's `context.DeadlineExceeded`).
    DeadlineExceeded = 3,
    /// A bounded wait gave up before its condition held.
    Timeout = 4,
    /// `gogroup_err_group_set_limit` was called while tasks were active.
    LimitInUse = 5,
    /// A task panicked, or gogroup itself panicked inside the called function (a bug: please
    /// report it). The process is unaffected.
    Panic = 6,
    /// An argument was out of range (a counter overflow, an index past the end...).
    InvalidArgument = 7,
    /// An application error: a task's own nonzero code, or a cause given to `cancel_with`.
    Custom = 8,
    /// A required pointer argument was NULL. Nothing was done.
    NullArgument = 256,
    /// A handle argument is not a live gogroup handle of the expected type: freed, of another
    /// type, or from an incompatible gogroup ABI (see the conventions). Nothing was done.
    InvalidHandle = 257,
    /// The operating system refused a resource (for example `eventfd` failed with EMFILE).
    Os = 258,
}

impl gogroup_result {
    /// The result for a core error kind (a total mapping: every kind has its own code).
    pub const fn from_kind(kind: ErrorKind) -> gogroup_result {
        match kind {
            ErrorKind::NegativeCounter => gogroup_result::NegativeCounter,
            ErrorKind::Canceled => gogroup_result::Canceled,
            ErrorKind::DeadlineExceeded => gogroup_result::DeadlineExceeded,
            ErrorKind::Timeout => gogroup_result::Timeout,
            ErrorKind::LimitInUse => gogroup_result::LimitInUse,
            ErrorKind::Panic => gogroup_result::Panic,
            ErrorKind::InvalidArgument => gogroup_result::InvalidArgument,
            ErrorKind::Custom => gogroup_result::Custom,
            // `ErrorKind` is non_exhaustive: a kind added to core after this binding was
            // written is still an error, reported as the generic application one until mapped.
            _ => gogroup_result::Custom,
        }
    }

    /// The core kind with this result's code, if it is one of core's (1..=8).
    pub fn kind(self) -> Option<ErrorKind> {
        ErrorKind::from_code(self as u32)
    }

    /// The stable name: core's name for core codes, else the C ABI's own.
    pub const fn name(self) -> &'static str {
        match self {
            gogroup_result::Ok => "OK",
            gogroup_result::NullArgument => "NULL_ARGUMENT",
            gogroup_result::InvalidHandle => "INVALID_HANDLE",
            gogroup_result::Os => "OS",
            gogroup_result::NegativeCounter => ErrorKind::NegativeCounter.name(),
            gogroup_result::Canceled => ErrorKind::Canceled.name(),
            gogroup_result::DeadlineExceeded => ErrorKind::DeadlineExceeded.name(),
            gogroup_result::Timeout => ErrorKind::Timeout.name(),
            gogroup_result::LimitInUse => ErrorKind::LimitInUse.name(),
            gogroup_result::Panic => ErrorKind::Panic.name(),
            gogroup_result::InvalidArgument => ErrorKind::InvalidArgument.name(),
            gogroup_result::Custom => ErrorKind::Custom.name(),
        }
    }

    /// `Ok(())` for `GOGROUP_RESULT_OK`, else `Err(self)`: lets a forwarded call use `?`.
    pub(crate) fn into_result(self) -> Result<(), gogroup_result> {
        match self {
            gogroup_result::Ok => Ok(()),
            e => Err(e),
        }
    }
}

impl From<Error> for gogroup_result {
    fn from(e: Error) -> gogroup_result {
        gogroup_result::from(&e)
    }
}

impl From<&Error> for gogroup_result {
    /// Also leaves the error's message for `gogroup_last_error`.
    fn from(e: &Error) -> gogroup_result {
        let r = gogroup_result::from_kind(e.kind());
        crate::last_error::remember(r, e.to_string());
        r
    }
}

/// A core result as an export's result, keeping the error path (reading the kind, dropping the
/// error's `Arc`) out of line so the success path of hot functions stays a few instructions.
#[inline(always)]
pub(crate) fn core<T>(r: gogroup::Result<T>) -> Result<T, gogroup_result> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => Err(error_result(e)),
    }
}

#[cold]
#[inline(never)]
fn error_result(e: Error) -> gogroup_result {
    gogroup_result::from(e)
}

/// The core kind for a code that crossed the ABI (from another copy of gogroup): unknown codes
/// become `Custom`, so a newer copy's new kinds are still errors here.
pub(crate) fn kind_from_code(code: u32) -> ErrorKind {
    ErrorKind::from_code(code).unwrap_or(ErrorKind::Custom)
}

/// The name of `result` as a static NUL-terminated string: `"OK"`, core's name for codes 1 to 8
/// (`"NEGATIVE_COUNTER"`…), `"NULL_ARGUMENT"`, `"INVALID_HANDLE"`, `"OS"`, or `"UNKNOWN"` for
/// any other value.
///
/// Never NULL; the string is never freed. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn gogroup_result_name(result: u32) -> *const c_char {
    boundary(|| {
        let name: &'static [u8] = match result {
            0 => b"OK\0",
            1 => b"NEGATIVE_COUNTER\0",
            2 => b"CANCELED\0",
            3 => b"DEADLINE_EXCEEDED\0",
            4 => b"TIMEOUT\0",
            5 => b"LIMIT_IN_USE\0",
            6 => b"PANIC\0",
            7 => b"INVALID_ARGUMENT\0",
            8 => b"CUSTOM\0",
            256 => b"NULL_ARGUMENT\0",
            257 => b"INVALID_HANDLE\0",
            258 => b"OS\0",
            _ => b"UNKNOWN\0",
        };
        StaticStr(name.as_ptr().cast())
    })
    .0
}

/// A pointer to a static string, so `boundary` can default it on a panic.
pub(crate) struct StaticStr(pub(crate) *const c_char);

impl crate::boundary::PanicOrDefault for StaticStr {
    fn value() -> Self {
        StaticStr(c"PANIC".as_ptr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_core_kind_maps_to_its_own_code_and_name_never_a_fallback() {
        for kind in ErrorKind::ALL {
            let r = gogroup_result::from_kind(kind);
            assert_eq!(r as u32, kind.code(), "{kind:?}");
            assert_eq!(r.name(), kind.name());
            assert_eq!(r.kind(), Some(kind));
            // SAFETY: gogroup_result_name always returns a static NUL-terminated string.
            let c = unsafe { CStr::from_ptr(gogroup_result_name(r as u32)) };
            assert_eq!(c.to_str().unwrap(), kind.name());
        }
    }

    #[test]
    fn abi_codes_do_not_collide_with_core_codes() {
        for r in [
            gogroup_result::Ok,
            gogroup_result::NullArgument,
            gogroup_result::InvalidHandle,
            gogroup_result::Os,
        ] {
            assert_eq!(r.kind(), None);
            // SAFETY: as above.
            let c = unsafe { CStr::from_ptr(gogroup_result_name(r as u32)) };
            assert_eq!(c.to_str().unwrap(), r.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(gogroup_result_name(9999)) };
        assert_eq!(unknown.to_str().unwrap(), "UNKNOWN");
    }
}
