//! Helpers shared by the integration tests: a tiny `block_on`, a counting waker, bounded
//! receives and a hang guard. No runtime crates: futures are driven with `std::task::Wake` and
//! thread parking, exactly as a host binding would drive them.
//!
//! Every timeout here is an *upper bound* that turns a hang into a failure with a reason; no
//! helper sleeps to synchronise.

#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use gogroup::Error;

/// Generous upper bound for anything that should happen "soon". Reaching it means a hang.
pub(crate) const HANG: Duration = Duration::from_secs(10);

/// A short wait that is *expected* to run out (used to prove that something does not happen yet).
pub(crate) const SHORT: Duration = Duration::from_millis(30);

/// What a task in an `ErrGroup` returns in these tests.
pub(crate) type TaskResult = Result<(), Error>;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `fut` to completion on this thread, parking between polls. Panics after [`HANG`]
/// (a hang here means the future was never woken: a lost wake-up).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    block_on_for(fut, HANG)
        .expect("future not ready within 10 s: a hang here means a lost wake-up in the core")
}

/// Like [`block_on`], but gives up after `limit` and returns `None`.
pub(crate) fn block_on_for<F: Future>(fut: F, limit: Duration) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + limit;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // Parking may wake spuriously; we simply poll again.
        thread::park_timeout(deadline - now);
    }
}

/// A waker that counts how often it was woken.
#[derive(Default)]
pub(crate) struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    pub(crate) fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    pub(crate) fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls an `Unpin` future once with `waker`.
pub(crate) fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    let mut cx = Context::from_waker(waker);
    Pin::new(fut).poll(&mut cx)
}

/// Receives one message, failing with `why` if none arrives within [`HANG`].
pub(crate) fn recv<T>(rx: &Receiver<T>, why: &str) -> T {
    match rx.recv_timeout(HANG) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("nothing received within 10 s: {why}"),
        Err(RecvTimeoutError::Disconnected) => panic!("sender gone before sending: {why}"),
    }
}

/// Runs `f` on its own thread and returns its result; fails the test if `f` does not finish
/// within [`HANG`]. `hang_means` says what a hang would reveal (e.g. a lock-order deadlock).
/// A panic in `f` is resumed here.
pub(crate) fn within<T: Send + 'static>(
    hang_means: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = channel();
    let handle = thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(HANG) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("not finished within 10 s: a hang here means {hang_means}")
        }
    }
}

/// Spins (yielding) until `cond()` holds; fails after [`HANG`] with `why`.
/// Used only where the core offers no event to wait on (for example "the error was recorded").
pub(crate) fn spin_until(why: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within 10 s: {why}"
        );
        thread::yield_now();
    }
}

/// A small deterministic PRNG (xorshift64*), so random shapes are reproducible from a seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// The message of a caught panic payload (`&str` or `String`), or "" for other payloads.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    }
}
