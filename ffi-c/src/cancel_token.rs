//! `gogroup_cancel_token` and `gogroup_registration`: core's [`CancelToken`] for C, plus a
//! pollable file descriptor and bridges to tokens of other gogroup copies.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use gogroup::{CancelToken, Error, ErrorKind, Registration};

use crate::boundary::{
    Arg, boundary, non_null, read_message, result, write_error, write_opt, write_out,
};
use crate::handle::{CELL_SHIFT, Handle, Header, Kind, Quarantine, Resolved};
use crate::result::{gogroup_result, kind_from_code};
use crate::vtable::{Stop, VTable, mine};
use crate::wait_group::gogroup_free_fn;

/// A cancellation token (Go's `context.Context` without values): a node in a tree, cancelled
/// once, with a cause.
///
/// Opaque; reference-counted: `gogroup_cancel_token_clone` gives another handle to the same
/// token, and every handle is released with `gogroup_cancel_token_free`.
#[derive(Debug)]
pub struct gogroup_cancel_token {
    _private: [u8; 0],
}

/// The registration of an `on_cancel` callback (Go's `AfterFunc` stop function).
///
/// Opaque; owned by the caller; released with `gogroup_registration_free`, which does NOT
/// unregister the callback (as in Go, dropping the stop function leaves it registered).
#[derive(Debug)]
pub struct gogroup_registration {
    _private: [u8; 0],
}

/// A cancellation callback: called once with its `arg` and the token's cause (kind, application
/// code, message). `cause_message` is NUL-terminated and valid only during the call.
pub type gogroup_cancel_fn = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        cause: gogroup_result,
        cause_code: i64,
        cause_message: *const c_char,
    ),
>;

/// What a C token handle holds: the core token and, once asked for, its state cell and its
/// eventfd. Fields drop in order: the callbacks are unregistered before the token goes.
#[derive(Debug)]
pub(crate) struct TokenState {
    cell: OnceLock<CellWatch>,
    watch: Mutex<Option<FdWatch>>,
    token: CancelToken,
}

impl TokenState {
    pub(crate) fn new(token: CancelToken) -> TokenState {
        TokenState {
            cell: OnceLock::new(),
            watch: Mutex::new(None),
            token,
        }
    }
}

impl Kind for TokenState {
    const MAGIC: u32 = 0x6767_4B54; // "TKgg"
    type Opaque = gogroup_cancel_token;
    fn quarantine() -> &'static Quarantine<Self> {
        static Q: Quarantine<TokenState> = Quarantine::new();
        &Q
    }
}

impl Kind for Registration {
    const MAGIC: u32 = 0x6767_4752; // "RGgg"
    type Opaque = gogroup_registration;
    fn quarantine() -> &'static Quarantine<Self> {
        static Q: Quarantine<Registration> = Quarantine::new();
        &Q
    }
}

/// An eventfd, closed when the last owner (the handle, or a callback about to write) drops it.
#[derive(Debug)]
struct EventFd(c_int);

impl EventFd {
    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: `self.0` is an open eventfd (closed only in Drop, after every owner is gone);
        // the buffer is 8 readable bytes. A failure (counter overflow) cannot happen for one write.
        let _ = unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

/// The eventfd of a handle and the callback that signals it; unregistered with the handle.
#[derive(Debug)]
struct FdWatch {
    fd: Arc<EventFd>,
    registration: Registration,
}

impl Drop for FdWatch {
    fn drop(&mut self) {
        // If the callback already started, it holds its own `Arc`: the fd outlives its write.
        self.registration.stop();
    }
}

/// The state cell in a token handle's header word (see `handle.rs`): 0 until set up, then 2
/// while live and 3 once cancelled, written by an inline callback, so before `cancel` returns.
///
/// The callback writes into the handle's header, so the handle must not go away while it
/// runs: dropping the watch stops the callback, or — if it already started — waits for it to
/// finish (it is one store, run by the cancelling thread).
#[derive(Debug)]
struct CellWatch {
    registration: Registration,
    finished: Arc<AtomicBool>,
}

const CELL_LIVE: u32 = 2;
const CELL_CANCELLED: u32 = 3;

/// The header's word, for the callback.
struct WordPtr(*const AtomicU64);

// SAFETY: the word is an atomic that outlives every use by the callback (`CellWatch::drop`).
unsafe impl Send for WordPtr {}

/// The header word of a live token handle whose cell is `cell`.
const fn token_word(cell: u32) -> u64 {
    TokenState::MAGIC as u64 | (cell as u64) << CELL_SHIFT
}

impl Drop for CellWatch {
    fn drop(&mut self) {
        if !self.registration.stop() {
            // Started (committed by a cancel): it runs to completion shortly, on the cancelling
            // thread. It is never stopped twice, so `false` cannot mean "already stopped".
            while !self.finished.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
    }
}

impl TokenState {
    /// Sets up the state cell once per handle, in the handle's `header`.
    fn watch_cell(&self, header: &Header) {
        if header.word().load(Ordering::Acquire) != token_word(0) {
            return; // set up already
        }
        self.cell.get_or_init(|| {
            let word = WordPtr(header.word());
            let finished = Arc::new(AtomicBool::new(false));
            let done = finished.clone();
            // On an already cancelled token this runs at once, here, before the CAS below.
            let registration = self.token.on_cancel_inline(move |_| {
                let word = word;
                // SAFETY: the header outlives this callback (`CellWatch::drop` waits for it).
                let word = unsafe { &*word.0 };
                // From live, or from unset if it runs before the set-up below; never on a
                // handle that is being freed (its magic is DEAD then).
                let mut w = word.load(Ordering::Acquire);
                while w == token_word(0) || w == token_word(CELL_LIVE) {
                    match word.compare_exchange_weak(
                        w,
                        token_word(CELL_CANCELLED),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => break,
                        Err(now) => w = now,
                    }
                }
                done.store(true, Ordering::Release);
            });
            // Live, unless the callback already marked it cancelled.
            let _ = header.word().compare_exchange(
                token_word(0),
                token_word(CELL_LIVE),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            CellWatch {
                registration,
                finished,
            }
        });
    }
}

/// Resolves a token handle of this copy, forwarding another copy's to its table.
///
/// # Safety
/// `t` is NULL or a pointer the caller got from gogroup (see `Handle::resolve`).
unsafe fn token<'a>(
    t: *const gogroup_cancel_token,
    forward: impl FnOnce(&'static VTable) -> gogroup_result,
) -> Result<&'a TokenState, Stop> {
    // SAFETY: forwarded caller contract.
    unsafe { mine::<TokenState>(t, forward) }
}

fn new_handle(out: *mut *mut gogroup_cancel_token, t: CancelToken) -> Result<(), gogroup_result> {
    let out = non_null(out)?;
    // SAFETY: checked non-NULL; writable per the caller.
    unsafe { write_out(out, Handle::into_raw(TokenState::new(t))) };
    Ok(())
}

/// The CLOCK_MONOTONIC time in nanoseconds: the clock of `gogroup_cancel_token_with_deadline`
/// and `gogroup_cancel_token_deadline` (the same as `clock_gettime(CLOCK_MONOTONIC)`).
/// Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn gogroup_now_ns() -> u64 {
    boundary(now_ns)
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// One (Instant, CLOCK_MONOTONIC ns) pair taken once, so conversions both ways are exact
/// inverses (on Linux both are the same clock, so the offset never drifts).
fn clock_base() -> (Instant, u64) {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    *BASE.get_or_init(|| (Instant::now(), now_ns()))
}

/// The `Instant` of a CLOCK_MONOTONIC time; `None` beyond `Instant`'s range.
fn instant_from_ns(ns: u64) -> Option<Instant> {
    let (base, base_ns) = clock_base();
    if ns >= base_ns {
        base.checked_add(Duration::from_nanos(ns - base_ns))
    } else {
        // Before the base: clamp to it if `Instant` cannot go that far back (it is past anyway).
        Some(
            base.checked_sub(Duration::from_nanos(base_ns - ns))
                .unwrap_or(base),
        )
    }
}

/// The CLOCK_MONOTONIC time of `at`, saturating: an instant beyond what 64 bits of
/// nanoseconds can say (about 584 years of uptime) reads as `GOGROUP_NO_DEADLINE`
/// (`u64::MAX`), never as a wrapped value in the past.
fn ns_from_instant(at: Instant) -> u64 {
    let (base, base_ns) = clock_base();
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    match at.checked_duration_since(base) {
        Some(ahead) => base_ns.saturating_add(ns(ahead)),
        None => base_ns.saturating_sub(ns(base - at)),
    }
}

/// Creates a root token, never cancelled unless you cancel it, and writes its handle to
/// `*token_out`. The caller owns it (`gogroup_cancel_token_free`). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_new(
    token_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| new_handle(token_out, CancelToken::new()))
}

/// Writes to `*token_out` a new handle to the same token as `token`. The caller owns it.
/// Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_clone(
    token: *const gogroup_cancel_token,
    token_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY (for every `token(...)` below): the caller passes NULL or a gogroup handle.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_clone)(token, token_out)) }?;
        new_handle(token_out, this.token.clone())
    })
}

/// Releases one handle. The token lives on while other handles, children or groups use it; a
/// child whose last handle is freed detaches from its parent. Also closes this handle's
/// eventfd, if `gogroup_cancel_token_fd` made one. NULL is a no-op; a borrowed handle (the one
/// a task receives) and an already-freed, quarantined one are ignored. No other thread may use
/// this handle concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_free(token: *mut gogroup_cancel_token) {
    boundary(|| {
        let forward = |vt: &'static VTable| {
            // SAFETY: forwarded to the copy that made `token`.
            unsafe { (vt.cancel_token_free)(token) };
            gogroup_result::Ok
        };
        // SAFETY: see `gogroup_cancel_token_clone`; the caller gives up `token`.
        if unsafe { self::token(token, forward) }.is_ok() {
            // SAFETY: this copy's live handle, given up by the caller.
            unsafe { Handle::<TokenState>::free_mine(token) };
        }
    })
}

/// Creates a child of `token` (Go's `WithCancel`): cancelled when `token` is, with the same err
/// and cause; cancellable on its own without affecting `token`. A child of a cancelled token is
/// born cancelled. The caller owns `*child_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_child(
    token: *const gogroup_cancel_token,
    child_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_child)(token, child_out)) }?;
        new_handle(child_out, this.token.child())
    })
}

/// Creates a child of `token` cancelled with `DEADLINE_EXCEEDED` after `timeout_ms`
/// milliseconds (Go's `WithTimeout`); an earlier deadline of `token` still governs.
/// The caller owns `*child_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_with_timeout(
    token: *const gogroup_cancel_token,
    timeout_ms: u64,
    child_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.cancel_token_with_timeout)(token, timeout_ms, child_out)
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        new_handle(
            child_out,
            this.token.with_timeout(Duration::from_millis(timeout_ms)),
        )
    })
}

/// Creates a child of `token` cancelled with `DEADLINE_EXCEEDED` at `deadline_ns` on the
/// CLOCK_MONOTONIC clock (see `gogroup_now_ns`; Go's `WithDeadline`). A deadline in the past
/// gives a token that is already cancelled. The caller owns `*child_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_with_deadline(
    token: *const gogroup_cancel_token,
    deadline_ns: u64,
    child_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.cancel_token_with_deadline)(token, deadline_ns, child_out)
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        let child = match instant_from_ns(deadline_ns) {
            Some(at) => this.token.with_deadline(at),
            None => this.token.child(), // beyond Instant's range: no deadline at all
        };
        new_handle(child_out, child)
    })
}

/// The `CUSTOM` cause a C caller gives as `code` and `message` (`NULL_ARGUMENT` for a NULL
/// message).
///
/// # Safety
/// `message` is NULL or NUL-terminated.
unsafe fn custom_cause(code: i64, message: *const c_char) -> Result<Error, gogroup_result> {
    // SAFETY: forwarded caller contract.
    Ok(Error::custom(unsafe { read_message(message) }?).with_code(code))
}

/// `gogroup_cancel_token_with_timeout` with a cause (Go's `WithTimeoutCause`): when the
/// timeout fires, `gogroup_cancel_token_err` says `DEADLINE_EXCEEDED` and
/// `gogroup_cancel_token_cause` gives `CUSTOM`, `code` and a copy of `message`
/// (NUL-terminated, copied before this returns; NULL: `NULL_ARGUMENT`, nothing created). A
/// cancellation by hand before the deadline keeps its own cause. The caller owns
/// `*child_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_with_timeout_cause(
    token: *const gogroup_cancel_token,
    timeout_ms: u64,
    code: i64,
    message: *const c_char,
    child_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle (if its
        // table has this function).
        let forward = |vt: &'static VTable| match vt.cancel_token_with_timeout_cause() {
            Some(f) => unsafe { f(token, timeout_ms, code, message, child_out) },
            None => gogroup_result::InvalidHandle,
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        // SAFETY: NULL or NUL-terminated, per the caller.
        let cause = unsafe { custom_cause(code, message) }?;
        new_handle(
            child_out,
            this.token
                .with_timeout_cause(Duration::from_millis(timeout_ms), cause),
        )
    })
}

/// `gogroup_cancel_token_with_deadline` with a cause (Go's `WithDeadlineCause`), as
/// `gogroup_cancel_token_with_timeout_cause` is to `gogroup_cancel_token_with_timeout`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_with_deadline_cause(
    token: *const gogroup_cancel_token,
    deadline_ns: u64,
    code: i64,
    message: *const c_char,
    child_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: as in `gogroup_cancel_token_with_timeout_cause`.
        let forward = |vt: &'static VTable| match vt.cancel_token_with_deadline_cause() {
            Some(f) => unsafe { f(token, deadline_ns, code, message, child_out) },
            None => gogroup_result::InvalidHandle,
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        // SAFETY: NULL or NUL-terminated, per the caller.
        let cause = unsafe { custom_cause(code, message) }?;
        let child = match instant_from_ns(deadline_ns) {
            Some(at) => this.token.with_deadline_cause(at, cause),
            None => this.token.child(), // beyond Instant's range: no deadline at all
        };
        new_handle(child_out, child)
    })
}

/// Writes to `*count_out` how many children, `any` tokens, registrations and waits currently
/// depend on `token` (core's `dependents()`): a diagnostic, e.g. to check that cancelled or
/// freed children and stopped registrations leave nothing behind. This handle's own watches
/// (set up by `gogroup_cancel_token_is_cancelled` and `gogroup_cancel_token_fd`) are not
/// counted; those of other handles to the same token are. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_dependents(
    token: *const gogroup_cancel_token,
    count_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle (if its
        // table has this function).
        let forward = |vt: &'static VTable| match vt.cancel_token_dependents() {
            Some(f) => unsafe { f(token, count_out) },
            None => gogroup_result::InvalidHandle,
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        let out = non_null(count_out)?;
        // Not counting this handle's own watches (the state cell set up by
        // `gogroup_cancel_token_is_cancelled`, the fd of `gogroup_cancel_token_fd`): they are
        // registrations of the handle, not of the program; a cancelled token has let them go.
        let own = if this.token.is_cancelled() {
            0
        } else {
            usize::from(this.cell.get().is_some())
                + usize::from(
                    this.watch
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_some(),
                )
        };
        let n = this.token.dependents().saturating_sub(own);
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, n) };
        Ok(())
    })
}

/// Creates a token cancelled as soon as any of the `n` tokens in `tokens` is, with that token's
/// cause. It leaves no trace in the inputs once freed or cancelled. `tokens` may be NULL only
/// when `n` is 0 (a token that is only cancelled by hand). The tokens may come from any copy of
/// gogroup. The caller owns `*token_out`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_any(
    tokens: *const *const gogroup_cancel_token,
    n: usize,
    token_out: *mut *mut gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        let out = non_null(token_out)?;
        let list: &[*const gogroup_cancel_token] = if n == 0 {
            &[]
        } else {
            let p = non_null(tokens.cast_mut())?;
            // SAFETY: the caller passes an array of `n` token pointers.
            unsafe { std::slice::from_raw_parts(p, n) }
        };
        let mut observed = Vec::with_capacity(n);
        for &t in list {
            // SAFETY: each element is NULL or a gogroup token handle, per the caller.
            observed.push(unsafe { observe(t) }?.into_lasting());
        }
        let any = CancelToken::any(observed.iter());
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, Handle::into_raw(TokenState::new(any))) };
        Ok(())
    })
}

/// Cancels `token` and all its descendants with cause `CANCELED` (the first cancellation
/// wins; later ones do nothing). Does not wait for `on_cancel` callbacks. Any thread, including
/// a task of a group using this token and a callback registered on it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_cancel(
    token: *const gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_cancel)(token)) }?;
        this.token.cancel();
        Ok(())
    })
}

/// Cancels `token` with a cause (Go's `CancelCauseFunc`): `gogroup_cancel_token_err` still
/// says `CANCELED`; `gogroup_cancel_token_cause` gives `CUSTOM`, `code` and a copy of
/// `message` (NUL-terminated, copied before this returns; NULL: `NULL_ARGUMENT`, nothing
/// cancelled). The first cancellation wins. Any thread, as `gogroup_cancel_token_cancel`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_cancel_with(
    token: *const gogroup_cancel_token,
    code: i64,
    message: *const c_char,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward =
            |vt: &'static VTable| unsafe { (vt.cancel_token_cancel_with)(token, code, message) };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        // SAFETY: NULL or NUL-terminated, per the caller.
        this.token
            .cancel_with(unsafe { custom_cause(code, message) }?);
        Ok(())
    })
}

/// Whether `token` is cancelled: one atomic load, no lock. NULL or an invalid handle reads as
/// `true` (cancelled), so a polling loop stops; use `gogroup_cancel_token_err` to tell misuse
/// apart. The first call on a handle also sets up the state cell that makes
/// `gogroup_cancel_token_is_cancelled_inline` (below, in this header) a few inlined loads.
/// Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_is_cancelled(
    token: *const gogroup_cancel_token,
) -> bool {
    boundary(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        match unsafe { Handle::<TokenState>::resolve(token) } {
            Ok(Resolved::Mine(this)) => {
                // SAFETY: `token` just resolved as this copy's live handle.
                this.watch_cell(unsafe { Handle::<TokenState>::header(token) });
                this.token.is_cancelled()
            }
            // SAFETY: forwarded to the copy that made `token`.
            Ok(Resolved::Theirs(vt)) => unsafe { (vt.cancel_token_is_cancelled)(token) },
            Err(_) => true,
        }
    })
}

/// Go's `ctx.Err()`: `OK` while `token` is live, then `CANCELED` or `DEADLINE_EXCEEDED`, never
/// anything else. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_err(
    token: *const gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_err)(token)) }?;
        match this.token.err() {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    })
}

/// Go's `context.Cause`: why `token` was cancelled. Writes the cause's kind (`OK` while live,
/// else `CANCELED`, `DEADLINE_EXCEEDED` or `CUSTOM`…) to `*kind_out`, its application code to
/// `*code_out`, and copies its message into `message` as snprintf does (at most
/// `message_cap - 1` bytes and a NUL), writing the full length (without NUL) to
/// `*message_len_out`, so a caller can retry with a larger buffer.
///
/// Every out-pointer may be NULL (not wanted); `message` may be NULL only if `message_cap` is
/// 0. Returns `OK` whenever the handle is valid, live or not. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_cause(
    token: *const gogroup_cancel_token,
    kind_out: *mut gogroup_result,
    code_out: *mut i64,
    message: *mut c_char,
    message_cap: usize,
    message_len_out: *mut usize,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.cancel_token_cause)(
                token,
                kind_out,
                code_out,
                message,
                message_cap,
                message_len_out,
            )
        };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        match this.token.cause() {
            // SAFETY: the out-pointers are NULL or writable, per the caller.
            Some(e) => unsafe {
                write_error(
                    &e,
                    kind_out,
                    code_out,
                    message,
                    message_cap,
                    message_len_out,
                )
            },
            // SAFETY: as above.
            None => unsafe {
                crate::boundary::copy_message("", message, message_cap, message_len_out)?;
                write_opt(kind_out, gogroup_result::Ok);
                write_opt(code_out, 0);
                Ok(())
            },
        }
    })
}

/// Writes the effective deadline of `token` (the earliest of its own and its ancestors') to
/// `*deadline_ns_out` on the CLOCK_MONOTONIC clock, or `GOGROUP_NO_DEADLINE` if it has none.
/// Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_deadline(
    token: *const gogroup_cancel_token,
    deadline_ns_out: *mut u64,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward =
            |vt: &'static VTable| unsafe { (vt.cancel_token_deadline)(token, deadline_ns_out) };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        let out = non_null(deadline_ns_out)?;
        let ns = this.token.deadline().map_or(u64::MAX, ns_from_instant);
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, ns) };
        Ok(())
    })
}

/// Calls `callback(arg, cause…)` on a gogroup pool thread once `token` is cancelled — at once
/// (on the pool) if it already is (Go's `AfterFunc`). Cancelling does not wait for it.
///
/// The callback may call any gogroup function, including cancelling this very token or others.
/// `arg_free` (may be NULL) is called with `arg` exactly once: after the callback ran, when the
/// registration is stopped, when the token is released without being cancelled, or at once if
/// this function fails. If `registration_out` is not NULL, it receives a registration the
/// caller owns (`gogroup_registration_stop` / `gogroup_registration_free`). NULL `callback`:
/// `NULL_ARGUMENT`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_on_cancel(
    token: *const gogroup_cancel_token,
    callback: gogroup_cancel_fn,
    arg: *mut c_void,
    arg_free: gogroup_free_fn,
    registration_out: *mut *mut gogroup_registration,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.cancel_token_on_cancel)(token, callback, arg, arg_free, registration_out)
        };
        // SAFETY: see `gogroup_cancel_token_clone`; `arg` moves to the other copy if forwarded.
        let this = Stop::keep_arg(unsafe { self::token(token, forward) }, arg, arg_free)?;
        register(
            this,
            callback,
            Arg::new(arg, arg_free),
            registration_out,
            false,
        )
    })
}

/// Like `gogroup_cancel_token_on_cancel`, but the callback runs on the cancelling thread, after
/// gogroup released every lock and before the cancel call returns (at once, on this thread, if
/// the token is already cancelled). It must be quick and must not block: it is meant for
/// wake-ups (a condition variable, a pipe, an event loop). It may still call gogroup functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_on_cancel_inline(
    token: *const gogroup_cancel_token,
    callback: gogroup_cancel_fn,
    arg: *mut c_void,
    arg_free: gogroup_free_fn,
    registration_out: *mut *mut gogroup_registration,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward = |vt: &'static VTable| unsafe {
            (vt.cancel_token_on_cancel_inline)(token, callback, arg, arg_free, registration_out)
        };
        // SAFETY: as in `gogroup_cancel_token_on_cancel`.
        let this = Stop::keep_arg(unsafe { self::token(token, forward) }, arg, arg_free)?;
        register(
            this,
            callback,
            Arg::new(arg, arg_free),
            registration_out,
            true,
        )
    })
}

fn register(
    this: &TokenState,
    callback: gogroup_cancel_fn,
    arg: Arg,
    registration_out: *mut *mut gogroup_registration,
    inline: bool,
) -> Result<(), gogroup_result> {
    let f = callback.ok_or(gogroup_result::NullArgument)?;
    let run = move |cause: Error| {
        let message = c_message(cause.message());
        // SAFETY: the caller promised `f` may be called once with `arg` on any thread; the
        // message outlives the call.
        unsafe {
            f(
                arg.ptr(),
                gogroup_result::from_kind(cause.kind()),
                cause.app_code(),
                message.as_ptr(),
            )
        };
        drop(arg);
    };
    let registration = if inline {
        this.token.on_cancel_inline(run)
    } else {
        this.token.on_cancel(run)
    };
    if !registration_out.is_null() {
        // SAFETY: non-NULL, writable per the caller.
        unsafe { write_out(registration_out, Handle::into_raw(registration)) };
    }
    Ok(())
}

/// A message as a C string, cut at an interior NUL.
pub(crate) fn c_message(message: &str) -> CString {
    let bytes = message.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// Unregisters the callback (Go's `stop()`): writes `true` to `*stopped_out` if this prevented
/// it from running (its `arg_free` then runs now), `false` if it already started or ran, or was
/// already stopped. Does not wait for a running callback. `stopped_out` may be NULL.
/// May be called from inside the callback itself. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_registration_stop(
    registration: *const gogroup_registration,
    stopped_out: *mut bool,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward =
            |vt: &'static VTable| unsafe { (vt.registration_stop)(registration, stopped_out) };
        // SAFETY: `registration` is NULL or a gogroup handle, per the caller.
        let this = unsafe { mine::<Registration>(registration, forward) }?;
        let stopped = this.stop();
        // SAFETY: NULL or writable, per the caller.
        unsafe { write_opt(stopped_out, stopped) };
        Ok(())
    })
}

/// Releases a registration handle. The callback stays registered (as in Go): stop it first if
/// it should not run. NULL is a no-op. No other thread may use this handle concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_registration_free(registration: *mut gogroup_registration) {
    boundary(|| {
        let forward = |vt: &'static VTable| {
            // SAFETY: forwarded to the copy that made the handle.
            unsafe { (vt.registration_free)(registration) };
            gogroup_result::Ok
        };
        // SAFETY: NULL or a gogroup handle, given up by the caller.
        if unsafe { mine::<Registration>(registration, forward) }.is_ok() {
            // SAFETY: this copy's live handle, given up by the caller.
            unsafe { Handle::<Registration>::free_mine(registration) };
        }
    })
}

/// Blocks until `token` is cancelled. Returns `OK`. Any thread that may block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_wait(
    token: *const gogroup_cancel_token,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_wait)(token)) }?;
        this.token.wait();
        Ok(())
    })
}

/// Blocks until `token` is cancelled (`OK`) or `timeout_ms` milliseconds passed (`TIMEOUT`).
/// Any thread that may block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_wait_timeout(
    token: *const gogroup_cancel_token,
    timeout_ms: u64,
) -> gogroup_result {
    result(|| {
        // SAFETY: forwarded, with the same arguments, to the copy that made the handle.
        let forward =
            |vt: &'static VTable| unsafe { (vt.cancel_token_wait_timeout)(token, timeout_ms) };
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, forward) }?;
        if this.token.wait_timeout(Duration::from_millis(timeout_ms)) {
            Ok(())
        } else {
            Err(gogroup_result::Timeout)
        }
    })
}

/// Writes to `*fd_out` a file descriptor that becomes readable (POLLIN) when `token` is
/// cancelled, and stays readable: wait on it with poll/epoll/select, libuv or asyncio's
/// `add_reader`, without a thread. Linux eventfd.
///
/// The descriptor belongs to this handle: every call on the same handle returns the same one;
/// it is closed by `gogroup_cancel_token_free` of this handle (or, for the borrowed handle a
/// task receives, when the task returns). Do not close it; do not read it (reading resets
/// readiness). Returns `OS` if the system refused an eventfd. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gogroup_cancel_token_fd(
    token: *const gogroup_cancel_token,
    fd_out: *mut c_int,
) -> gogroup_result {
    result(|| {
        // SAFETY: see `gogroup_cancel_token_clone`.
        let this = unsafe { self::token(token, |vt| (vt.cancel_token_fd)(token, fd_out)) }?;
        let out = non_null(fd_out)?;
        let mut watch = this.watch.lock().unwrap_or_else(PoisonError::into_inner);
        let fd = match &*watch {
            Some(w) => w.fd.0,
            None => {
                // SAFETY: plain system call; the result is checked.
                let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
                if raw < 0 {
                    return Err(gogroup_result::Os);
                }
                let fd = Arc::new(EventFd(raw));
                let signal = fd.clone();
                // Inline: readiness must not depend on a free pool thread. On an already
                // cancelled token this runs at once, here (it takes no lock of ours).
                let registration = this.token.on_cancel_inline(move |_| signal.signal());
                *watch = Some(FdWatch { fd, registration });
                raw
            }
        };
        // SAFETY: checked non-NULL, writable per the caller.
        unsafe { write_out(out, fd) };
        Ok(())
    })
}

/// A core token that follows a C token handle of any copy.
///
/// For this copy's handles it is a clone of the token. For another copy's it is a local
/// *bridge* token, cancelled by an inline callback registered on the foreign token through its
/// own function table, with the foreign cause's kind, code and message. Dropping an `Observed`
/// stops that callback (for waits); [`Observed::into_lasting`] leaves it registered until the
/// foreign token is cancelled or released (for children, `any` and groups), as a Go child
/// context stays in its parent until either is cancelled.
#[derive(Debug)]
pub(crate) struct Observed {
    token: CancelToken,
    bridge: *mut gogroup_registration,
}

impl Observed {
    pub(crate) fn token(&self) -> &CancelToken {
        &self.token
    }

    /// The token, leaving a bridge registered on the foreign token.
    pub(crate) fn into_lasting(mut self) -> CancelToken {
        let bridge = std::mem::replace(&mut self.bridge, std::ptr::null_mut());
        // SAFETY: a registration handle we own; freeing it leaves the callback registered.
        unsafe { gogroup_registration_free(bridge) };
        self.token.clone()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if !self.bridge.is_null() {
            // SAFETY: a registration handle we own (of the foreign copy, forwarded there).
            unsafe {
                gogroup_registration_stop(self.bridge, std::ptr::null_mut());
                gogroup_registration_free(self.bridge);
            }
        }
    }
}

/// Follows the token handle `t`, whichever copy of gogroup made it (see [`Observed`]).
///
/// # Safety
/// `t` is NULL or a pointer the caller got from gogroup.
pub(crate) unsafe fn observe(t: *const gogroup_cancel_token) -> Result<Observed, gogroup_result> {
    // SAFETY: forwarded caller contract.
    match unsafe { Handle::<TokenState>::resolve(t) }? {
        Resolved::Mine(state) => Ok(Observed {
            token: state.token.clone(),
            bridge: std::ptr::null_mut(),
        }),
        Resolved::Theirs(vt) => {
            let local = CancelToken::new();
            let arg = Box::into_raw(Box::new(local.clone())).cast::<c_void>();
            let mut bridge = std::ptr::null_mut();
            // SAFETY: the foreign copy's own export; it takes ownership of `arg` and frees it
            // with `bridge_free` exactly once.
            let r = unsafe {
                (vt.cancel_token_on_cancel_inline)(
                    t,
                    Some(bridge_cancel),
                    arg,
                    Some(bridge_free),
                    &mut bridge,
                )
            };
            r.into_result()?;
            Ok(Observed {
                token: local,
                bridge,
            })
        }
    }
}

/// The bridge callback: cancels the local token with the foreign cause.
unsafe extern "C" fn bridge_cancel(
    arg: *mut c_void,
    cause: gogroup_result,
    cause_code: i64,
    cause_message: *const c_char,
) {
    boundary(|| {
        // SAFETY: `arg` is the `Box<CancelToken>` made in `observe`, alive until `bridge_free`.
        let local = unsafe { &*arg.cast::<CancelToken>() };
        // SAFETY: the foreign copy passes a NUL-terminated message valid during the call.
        let message = unsafe { read_message(cause_message) }.unwrap_or_default();
        let kind = kind_from_code(cause as u32);
        let cause = Error::new(kind, message).with_code(cause_code);
        if kind == ErrorKind::DeadlineExceeded {
            // The foreign token's deadline passed: the mirror's `err` says so too. (A foreign
            // deadline with a custom cause reads here as a cancellation with that cause: the
            // callback carries the cause, not the foreign `err`.)
            local.expire_with(Some(cause));
        } else {
            local.cancel_with(cause);
        }
    })
}

/// Frees the bridge's local token clone.
unsafe extern "C" fn bridge_free(arg: *mut c_void) {
    boundary(|| {
        // SAFETY: `arg` is the `Box<CancelToken>` made in `observe`, freed exactly once.
        drop(unsafe { Box::from_raw(arg.cast::<CancelToken>()) });
    })
}
