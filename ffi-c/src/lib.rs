//! # gogroup-ffi: the C ABI of gogroup
//!
//! Every function of `include/gogroup.h` is an `extern "C"` function of this crate; the
//! Makefile ships the cdylib and staticlib as `libgogroup.so` (SONAME `libgogroup.so.0.<minor>`)
//! and `libgogroup.a`, with `gogroup.pc`. The conventions C callers rely on are written at the
//! top of the header (from `src/conventions.h`) and in `ffi-c/README.md`.
//!
//! | file | what |
//! |---|---|
//! | `boundary.rs` | the panic boundary every export runs in; NULL and output helpers |
//! | `result.rs` | `gogroup_result`, the one mapping from core's `ErrorKind` |
//! | `handle.rs` | the versioned handle header, the freed-handle quarantine |
//! | `vtable.rs` | the function table that lets copies of gogroup use each other's handles |
//! | `wait_group.rs`, `cancel_token.rs`, `err_group.rs`, `version.rs` | the exports |
//!
//! ## From Rust: handing core values to C
//! The rlib lets other bindings (the Python and Node extensions) give a core value to C code,
//! or take one back, with [`wait_group_into_c`], [`cancel_token_into_c`], [`err_group_into_c`]
//! and [`cancel_token_from_c`]. The C handles they make work with the functions of every copy
//! of gogroup in the process (libgogroup.so included), through the function table.
//!
//! ```
//! use gogroup::CancelToken;
//! let token = CancelToken::new();
//! let c = gogroup_ffi::cancel_token_into_c(token.clone());
//! // ... give `c` to C code, which may call gogroup_cancel_token_cancel(c) ...
//! // SAFETY: `c` is a live handle made just above.
//! unsafe { gogroup_ffi::gogroup_cancel_token_cancel(c) };
//! assert!(token.is_cancelled());
//! // SAFETY: the handle is released once.
//! unsafe { gogroup_ffi::gogroup_cancel_token_free(c) };
//! ```
#![doc(test(attr(deny(warnings))))]
// The exports are the C API: their names and their `unsafe extern "C"` signatures are the point.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

mod boundary;
mod cancel_token;
mod err_group;
mod handle;
mod last_error;
mod result;
mod version;
mod vtable;
mod wait_group;

pub use cancel_token::*;
pub use err_group::*;
pub use handle::{ABI_VERSION, Header};
pub use last_error::gogroup_last_error;
pub use result::{gogroup_result, gogroup_result_name};
pub use version::*;
pub use vtable::VTable;
pub use wait_group::*;

use gogroup::{CancelToken, ErrGroup, WaitGroup};

/// Wraps a core [`WaitGroup`] (a handle to its counter) in a new C handle, owned by the caller
/// (`gogroup_wait_group_free`).
pub fn wait_group_into_c(wg: WaitGroup) -> *mut gogroup_wait_group {
    handle::Handle::into_raw(wg)
}

/// Wraps a core [`CancelToken`] in a new C handle, owned by the caller
/// (`gogroup_cancel_token_free`).
pub fn cancel_token_into_c(token: CancelToken) -> *mut gogroup_cancel_token {
    handle::Handle::into_raw(cancel_token::TokenState::new(token))
}

/// Wraps a core [`ErrGroup`] in a new C handle, owned by the caller (`gogroup_err_group_free`).
pub fn err_group_into_c(group: ErrGroup) -> *mut gogroup_err_group {
    handle::Handle::into_raw(group)
}

/// A core token that follows the C token handle `token`, whichever copy of gogroup made it:
/// for this copy's handles, a clone of its token; for another copy's, a local token cancelled
/// (with the same cause kind, code and message) when that one is, through a callback that
/// stays registered on it until it is cancelled or released.
///
/// # Errors
/// `NullArgument` or `InvalidHandle` for a NULL or invalid handle.
///
/// # Safety
/// `token` must be NULL or a pointer obtained from gogroup (live, or freed and quarantined).
pub unsafe fn cancel_token_from_c(
    token: *const gogroup_cancel_token,
) -> Result<CancelToken, gogroup_result> {
    // SAFETY: forwarded caller contract.
    Ok(unsafe { cancel_token::observe(token) }?.into_lasting())
}
