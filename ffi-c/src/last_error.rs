//! `gogroup_last_error`: the message behind the last non-OK result on this thread, as
//! `dlerror` or `sqlite3_errmsg` give one, so C callers see core's text ("sync: negative
//! WaitGroup counter", "limit in use: 3 tasks active") and not only a code.
//!
//! Core errors leave their message here when they are turned into a `gogroup_result`; every
//! export that returns a non-OK result then *settles* it: a message left by this very call is
//! kept, else the result's generic description is recorded (a NULL argument, an invalid
//! handle...). A call forwarded to another copy of gogroup copies that copy's message back.
//! Successful calls leave the record alone (the hot paths never touch it).

use std::cell::RefCell;
use std::ffi::c_char;

use crate::boundary::{boundary, copy_message};
use crate::result::gogroup_result;

struct Last {
    result: gogroup_result,
    message: String,
    /// Left by the current call and not settled yet.
    fresh: bool,
}

thread_local! {
    static LAST: RefCell<Last> = const {
        RefCell::new(Last { result: gogroup_result::Ok, message: String::new(), fresh: false })
    };
}

/// Records the message of a core error that is becoming `result`.
pub(crate) fn remember(result: gogroup_result, message: String) {
    let _ = LAST.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            *l = Last {
                result,
                message,
                fresh: true,
            };
        }
    });
}

/// Called when an export returns the non-OK `result`.
#[cold]
pub(crate) fn settle(result: gogroup_result) {
    let _ = LAST.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            if !(l.fresh && l.result == result) {
                l.result = result;
                l.message = generic(result).to_owned();
            }
            l.fresh = false;
        }
    });
}

fn generic(result: gogroup_result) -> &'static str {
    match result {
        gogroup_result::Ok => "",
        gogroup_result::NegativeCounter => "negative WaitGroup counter",
        gogroup_result::Canceled => "context canceled",
        gogroup_result::DeadlineExceeded => "context deadline exceeded",
        gogroup_result::Timeout => "wait timed out",
        gogroup_result::LimitInUse => "the limit cannot change while tasks are active",
        gogroup_result::Panic => "a panic was caught at the gogroup boundary",
        gogroup_result::InvalidArgument => "invalid argument",
        gogroup_result::Custom => "application error",
        gogroup_result::NullArgument => "a required pointer argument was NULL",
        gogroup_result::InvalidHandle => {
            "not a live gogroup handle of the expected type (freed, of another type or ABI)"
        }
        gogroup_result::Os => "the operating system refused a resource",
    }
}

/// The last non-OK result of a gogroup call on the calling thread, and its message.
///
/// Returns that result (`GOGROUP_RESULT_OK` if no call on this thread has failed yet) and
/// copies its message into `message` as snprintf does (at most `message_cap - 1` bytes and a
/// NUL), writing the full length (without NUL) to `*message_len_out`; `message` may be NULL
/// only if `message_cap` is 0, `message_len_out` may be NULL. For a core error this is core's
/// text (for example `sync: negative WaitGroup counter`); for the C ABI's own results a
/// generic description. Successful calls do not clear it. Any thread (per-thread record).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_last_error(
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    boundary(|| {
        let (result, text) = LAST
            .try_with(|l| {
                l.try_borrow()
                    .map(|l| (l.result, l.message.clone()))
                    .unwrap_or((gogroup_result::Ok, String::new()))
            })
            .unwrap_or((gogroup_result::Ok, String::new()));
        // SAFETY: per the caller: `message` holds `message_cap` bytes (or is NULL with 0),
        // `message_len_out` is NULL or writable.
        match unsafe { copy_message(&text, message, message_cap, message_len_out) } {
            Ok(()) => result,
            Err(e) => e,
        }
    })
}
