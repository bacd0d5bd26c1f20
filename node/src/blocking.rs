//! `waitSync()` in a worker thread: a blocking wait that `worker.terminate()` can end.
//!
//! V8's `TerminateExecution` cannot interrupt native code, and Node calls nothing of an addon
//! on the parent thread when it terminates a worker: `worker.terminate()` marks the worker's
//! environment as stopping, asks V8 to stop, and posts a task to the worker's libuv loop
//! (`uv_async_send`, a write to the loop's eventfd). A worker blocked in a condition variable
//! would never notice, and `terminate()` would hang. So the wait sleeps in `epoll_wait` on two
//! things instead:
//!
//! * an eventfd of this thread, written by what ends the wait: the token's cancel callback, or
//!   the waker of the wait group's future (core's own wake-ups, from any thread);
//! * the worker loop's backend descriptor (`uv_backend_fd`, libuv's public API for polling a
//!   loop from elsewhere), registered *edge-triggered*: each post to the loop while the wait
//!   sleeps is one event, however long the loop, which cannot run, leaves it unread.
//!
//! On a loop event the wait asks N-API whether this environment may still call into JS — a
//! call of a no-op function fails (`napi_pending_exception`) once the environment is stopping
//! — and gives up if not. Other posts (a message to the worker, another thread's wake-up)
//! cost one such check each, and the wait goes on. No polling, except a safety net: a post to
//! a loop handle that is already pending writes nothing, so a termination that finds one
//! (rare: another post must be waiting, unprocessed, since before the wait began) is seen at
//! the next check, made every [`SAFETY_NET`] while asleep — one wake-up a second, for a
//! thread that may sleep for hours.
//!
//! Linux only (epoll, eventfd), as the rest of the addon. Without `uv_backend_fd` (a host
//! that does not export libuv), the safety net alone ends the wait within a second.

use std::cell::RefCell;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::pin;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi::sys;

use crate::host;

/// How often a sleeping wait checks for termination even without a loop event (module doc).
const SAFETY_NET: Duration = Duration::from_secs(1);

/// Threads inside a blocking wait right now (for `testing.waitSyncBlocked`).
static BLOCKED: AtomicUsize = AtomicUsize::new(0);

/// How many threads are blocked in `waitSync` now, process-wide.
pub(crate) fn blocked() -> usize {
    BLOCKED.load(Ordering::Acquire)
}

/// Blocks until `token` is cancelled (true) or `timeout` passes (false).
///
/// # Errors
/// The environment is stopping (`worker.terminate()`): JS does not run after this anyway.
pub(crate) fn wait_token(
    env: sys::napi_env,
    token: &gogroup::CancelToken,
    timeout: Option<Duration>,
) -> Result<bool> {
    if token.is_cancelled() {
        return Ok(true);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    with_sleeper(env, |s| {
        let wake = s.wake.clone();
        let registration = token.on_cancel_inline(move |_| wake.signal());
        let r = s.block(env, deadline, || token.is_cancelled());
        registration.stop();
        r
    })
}

/// Blocks until the counter of `wg` is zero (true) or `timeout` passes (false). A panic of a
/// core `go` task is resumed, as core's `wait` does (napi-rs turns it into a JS error).
///
/// # Errors
/// As [`wait_token`].
pub(crate) fn wait_group(
    env: sys::napi_env,
    wg: &gogroup::WaitGroup,
    timeout: Option<Duration>,
) -> Result<bool> {
    if wg.count() == 0 {
        wg.wait(); // resumes a captured panic, as before
        return Ok(true);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    with_sleeper(env, |s| {
        let waker = Waker::from(s.wake.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(wg.wait_async());
        s.block(env, deadline, || fut.as_mut().poll(&mut cx).is_ready())
    })
}

/// This thread's epoll set, eventfd and no-op function, made on first use.
struct Sleeper {
    epoll: OwnedFd,
    wake: Arc<EventFd>,
    noop: sys::napi_ref,
}

thread_local! {
    static SLEEPER: RefCell<Option<Sleeper>> = const { RefCell::new(None) };
}

fn with_sleeper<T>(env: sys::napi_env, f: impl FnOnce(&Sleeper) -> Result<T>) -> Result<T> {
    // Taken out while it is used: `f` never re-enters (no JS runs in a blocking wait but a
    // native no-op), and nothing is left borrowed if it unwinds.
    let sleeper = match SLEEPER.with(|s| s.borrow_mut().take()) {
        Some(s) => s,
        None => Sleeper::new(env)?,
    };
    let r = f(&sleeper);
    SLEEPER.with(|s| *s.borrow_mut() = Some(sleeper));
    r
}

/// Counts this thread in [`BLOCKED`] while it lives.
struct Blocked;

impl Blocked {
    fn enter() -> Blocked {
        BLOCKED.fetch_add(1, Ordering::AcqRel);
        Blocked
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        BLOCKED.fetch_sub(1, Ordering::AcqRel);
    }
}

const WAKE: u64 = 0;
const LOOP: u64 = 1;

impl Sleeper {
    fn new(env: sys::napi_env) -> Result<Sleeper> {
        // SAFETY: plain system calls; each descriptor is owned at once.
        let (epoll, wake) = unsafe {
            let e = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if e < 0 {
                return Err(Error::from_reason("waitSync: epoll_create1 failed"));
            }
            let epoll = OwnedFd::from_raw_fd(e);
            let w = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
            if w < 0 {
                return Err(Error::from_reason("waitSync: eventfd failed"));
            }
            (epoll, OwnedFd::from_raw_fd(w))
        };
        add(&epoll, wake.as_raw_fd(), libc::EPOLLIN as u32, WAKE)?;
        if let Some(fd) = loop_fd(env) {
            // Without it, the safety net alone notices a termination.
            let _ = add(&epoll, fd, (libc::EPOLLIN | libc::EPOLLET) as u32, LOOP);
        }
        let mut f = ptr::null_mut();
        let mut noop = ptr::null_mut();
        // SAFETY: JS thread of `env`.
        unsafe {
            host::check(sys::napi_create_function(
                env,
                c"noop".as_ptr(),
                4,
                Some(noop_cb),
                ptr::null_mut(),
                &mut f,
            ))?;
            host::check(sys::napi_create_reference(env, f, 1, &mut noop))?;
        }
        Ok(Sleeper {
            epoll,
            wake: Arc::new(EventFd(wake)),
            noop,
        })
    }

    /// Sleeps until `ready()` (true), `deadline` (false), or the environment stops (error).
    fn block(
        &self,
        env: sys::napi_env,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> Result<bool> {
        let _blocked = Blocked::enter();
        let mut woken = false;
        loop {
            if ready() {
                return Ok(true);
            }
            if woken {
                // Reset only before sleeping again: a wake-up that ends the wait costs no read.
                self.wake.reset();
                woken = false;
            }
            let now = Instant::now();
            let nap = match deadline {
                Some(d) if d <= now => return Ok(false),
                Some(d) => (d - now).min(SAFETY_NET),
                None => SAFETY_NET,
            };
            // Rounded up: a wait never returns before its deadline.
            let ms = nap.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
            // SAFETY: a live epoll descriptor and a buffer of two events.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 2, ms) };
            let mut look = n <= 0; // the safety net, a deadline, or an interrupted call
            for e in &events[..n.max(0) as usize] {
                match e.u64 {
                    WAKE => woken = true,
                    _ => look = true,
                }
            }
            if look && self.stopping(env) {
                return Err(Error::new(
                    Status::PendingException, // nothing to throw: the worker is stopping
                    "waitSync: the worker is terminating".to_owned(),
                ));
            }
        }
    }

    /// Whether the environment refuses to call into JS: `worker.terminate()` was called.
    fn stopping(&self, env: sys::napi_env) -> bool {
        let mut f = ptr::null_mut();
        let mut this = ptr::null_mut();
        let mut out = ptr::null_mut();
        // SAFETY: JS thread of `env`, inside a native call; the reference is this thread's.
        unsafe {
            if sys::napi_get_reference_value(env, self.noop, &mut f) != sys::Status::napi_ok
                || sys::napi_get_undefined(env, &mut this) != sys::Status::napi_ok
            {
                return true;
            }
            sys::napi_call_function(env, this, f, 0, ptr::null(), &mut out) != sys::Status::napi_ok
        }
    }
}

fn add(epoll: &OwnedFd, fd: i32, events: u32, key: u64) -> Result<()> {
    let mut ev = libc::epoll_event { events, u64: key };
    // SAFETY: live descriptors; `ev` is read during the call only.
    if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(Error::from_reason("waitSync: epoll_ctl failed"));
    }
    Ok(())
}

/// The backend descriptor of this thread's libuv loop, if the host exports libuv.
fn loop_fd(env: sys::napi_env) -> Option<i32> {
    type BackendFd = unsafe extern "C" fn(*const c_void) -> i32;
    let mut uv_loop = ptr::null_mut();
    // SAFETY: JS thread of `env`.
    if unsafe { sys::napi_get_uv_event_loop(env, &mut uv_loop) } != sys::Status::napi_ok
        || uv_loop.is_null()
    {
        return None;
    }
    // SAFETY: looks a symbol up in the process (Node exports libuv's API to addons).
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"uv_backend_fd".as_ptr()) };
    if sym.is_null() {
        return None;
    }
    // SAFETY: `uv_backend_fd(const uv_loop_t*)` returns an int; `sym` is that function.
    let backend_fd: BackendFd = unsafe { std::mem::transmute::<*mut c_void, BackendFd>(sym) };
    // SAFETY: a live loop of this thread.
    let fd = unsafe { backend_fd(uv_loop.cast_const().cast()) };
    (fd >= 0).then_some(fd)
}

unsafe extern "C" fn noop_cb(
    _env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    ptr::null_mut()
}

/// An eventfd that wakes this thread's sleeper; also a `Waker` (core's futures wake it).
#[derive(Debug)]
struct EventFd(OwnedFd);

impl EventFd {
    fn signal(&self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live u64 to a live eventfd; a full counter (never
        // reached) would only make the write fail, and the sleeper is awake then anyway.
        unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    fn reset(&self) {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from a nonblocking eventfd.
        unsafe { libc::read(self.0.as_raw_fd(), (&raw mut n).cast(), 8) };
    }
}

impl Wake for EventFd {
    fn wake(self: Arc<Self>) {
        self.signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signal();
    }
}
