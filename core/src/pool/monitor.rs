//! The monitor: one thread that watches the queue while tasks wait and no worker is free to
//! take them, and grows the pool for blocking it cannot otherwise see (Go's `sysmon`).
//!
//! Every tick (a millisecond) while it watches, it:
//! 1. looks at each busy worker. One that started no task since the last tick is *stalled*:
//!    its queued tasks go to the rescue queue at once, on every tick, so nothing waits behind
//!    a blocked task. A stalled worker, or one that started just one task since the last tick,
//!    counts as *blocked* if its thread is off the CPU (the kernel's scheduler state is not
//!    "running or runnable"): a task that computes is not blocked, however long it takes, and
//!    a task that sleeps or does I/O is. Workers waiting inside gogroup count as blocked
//!    without a look ([`super::worker::Blocking`]). Once one is blocked, workers take one task
//!    at a time instead of batches until the queue is empty again;
//! 2. stops watching once nothing is queued (and sleeps until [`watch`] is called again; after
//!    the idle timeout the thread exits);
//! 3. leaves the work to a worker that is spinning, and wakes sleeping workers first;
//! 4. grows the pool if fewer workers than CPUs are free to run (not blocked): by the number of
//!    blocked workers (so growth doubles while every new worker blocks too) or, if larger, by
//!    the CPUs left unused; never beyond the tasks queued nor the thread cap, and it re-checks
//!    the queue before each start, so it stops as soon as the queue is empty.
//!
//! Threads are started here, never on the timer thread (deadlines stay on time) and not in
//! `go` beyond the first CPU's worth (a submitter never pays for a burst of thread starts).

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::queue::{BLOCKED, IDLE, Pool, RUNNING};
use super::worker::start_worker;

/// How often the monitor looks while it watches.
const TICK: Duration = Duration::from_millis(1);
/// While growing, the queue is counted in full before every this many starts.
const RECOUNT_EVERY: usize = 32;
/// Up to this many workers, each stalled one's thread state is read on every tick.
const LOOK_EVERY_TICK_UP_TO: usize = 64;

pub(crate) struct Monitor {
    /// Whether the monitor is (or is about to be) watching the queue.
    watching: AtomicBool,
    thread: Mutex<bool>,
    cv: Condvar,
}

impl Monitor {
    pub(super) fn new() -> Monitor {
        Monitor {
            watching: AtomicBool::new(false),
            thread: Mutex::new(false),
            cv: Condvar::new(),
        }
    }
}

/// Makes sure the monitor watches the queue (pool invariant 3). Cheap when it already does.
pub(super) fn watch(p: &'static Pool) {
    let m = &p.monitor;
    // Pairs with the fence in `run`: either it sees the queued task, or we see it stopped
    // watching and start it again.
    fence(Ordering::SeqCst);
    if m.watching.load(Ordering::Acquire) || m.watching.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut running = m.thread.lock().unwrap_or_else(PoisonError::into_inner);
    if *running {
        m.cv.notify_one();
        return;
    }
    let started = std::thread::Builder::new()
        .name("gogroup-monitor".into())
        .spawn(move || run(p))
        .is_ok();
    *running = started;
    if !started {
        // The OS refused a thread: the next `watch` (every submission, every blocking wait
        // that retries, see `Blocking::retry`) tries again.
        m.watching.store(false, Ordering::Release);
        p.spawn_failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the monitor thread is alive (diagnostics).
pub(super) fn thread_running(p: &Pool) -> bool {
    *p.monitor
        .thread
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn run(p: &'static Pool) {
    let m = &p.monitor;
    loop {
        watch_queue(p);
        // Stop watching, then look once more (pairs with the fence in `watch`).
        m.watching.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if p.queued() > 0 && !m.watching.swap(true, Ordering::AcqRel) {
            continue;
        }
        let mut running = m.thread.lock().unwrap_or_else(PoisonError::into_inner);
        while !m.watching.load(Ordering::Acquire) {
            let (guard, res) =
                m.cv.wait_timeout(running, crate::runtime::idle_timeout())
                    .unwrap_or_else(PoisonError::into_inner);
            running = guard;
            if res.timed_out() && !m.watching.load(Ordering::Acquire) {
                *running = false;
                return;
            }
        }
    }
}

/// Ticks until nothing is queued.
fn watch_queue(p: &'static Pool) {
    loop {
        std::thread::sleep(TICK);
        if p.generation != crate::runtime::generation() {
            return;
        }
        // First, on every tick: nothing stays queued behind a stalled worker.
        let (blocked, in_deques) = look_at_workers(p);
        if blocked > 0 && !p.blocking.0.load(Ordering::Relaxed) {
            p.blocking.0.store(true, Ordering::Relaxed);
        }
        let queued = p.queued_besides(in_deques);
        if queued == 0 {
            // Quiet again: workers may take batches (the fast path for short tasks).
            p.blocking.0.store(false, Ordering::Relaxed);
            return;
        }
        if p.searching.0.load(Ordering::Acquire) > 0 {
            continue; // a spinning worker is about to take it
        }
        let sleeping = p.sleeping.0.load(Ordering::Acquire);
        if sleeping > 0 {
            let _guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..queued.min(sleeping) {
                p.cv.notify_one();
            }
            continue;
        }
        let live = p.live.0.load(Ordering::Acquire);
        let free = live.saturating_sub(blocked);
        let cpus = super::min_threads();
        if free >= cpus {
            continue; // the tasks wait for a core, not for a thread
        }
        let grow = blocked.max(cpus - free).min(queued);
        for started in 0..grow {
            // Re-check the queue before each start: two loads; a full count now and then
            // (it takes locks, and a burst may start thousands of threads).
            let empty = if started % RECOUNT_EVERY == RECOUNT_EVERY - 1 {
                p.queued() == 0
            } else {
                !p.has_shared_work() && p.holders.0.load(Ordering::Acquire) == 0
            };
            if empty || !start_worker(p) {
                break;
            }
        }
    }
}

/// Rescues the queued tasks of stalled workers; returns how many workers are blocked and how
/// many tasks the workers' deques still hold (so the tick needs one pass over the registry).
fn look_at_workers(p: &Pool) -> (usize, usize) {
    let registry = p.registry();
    // With few workers, every stalled one is looked at on every tick (a task that computes may
    // sleep for a moment, as in a page fault: one look must not count it blocked for good).
    // With many, one look per task keeps a tick cheap: 10,000 sleeping workers would cost
    // 10,000 reads of /proc on every tick.
    let look_every_tick = registry.len() <= LOOK_EVERY_TICK_UP_TO;
    let (mut blocked, mut in_deques) = (0, 0);
    for slot in registry.iter() {
        let started = slot.started.0.load(Ordering::Relaxed);
        let before = slot.seen.swap(started, Ordering::Relaxed);
        let state = slot.state.load(Ordering::Acquire);
        if state != IDLE
            && started == before
            && !slot.stealer.is_empty()
            && p.rescue_from(&slot.stealer) > 0
        {
            p.note_deque(slot, false); // stalled: its queued tasks go to others
        }
        match state {
            BLOCKED => blocked += 1,
            // Stalled (one task the whole tick), or just started one task: a worker that took
            // its first task of a burst and blocked in it must count now, not a tick later, or
            // the pool would only double every other tick. (`CPU_WAIT`: not blocked.)
            RUNNING if started <= before.wrapping_add(1) => {
                // Beyond LOOK_EVERY_TICK_UP_TO workers, one look at /proc per task: a task
                // found off the CPU stays counted as blocked until the worker starts another.
                if !look_every_tick && slot.off_cpu_at.load(Ordering::Relaxed) == started + 1 {
                    blocked += 1;
                } else if thread_off_cpu(slot.tid) {
                    slot.off_cpu_at.store(started + 1, Ordering::Relaxed);
                    blocked += 1;
                }
            }
            _ => {}
        }
        in_deques += slot.stealer.len(); // after any rescue
    }
    (blocked, in_deques)
}

/// Whether the kernel says thread `tid` of this process is not running nor runnable (asleep,
/// in I/O, stopped). If that cannot be read, a stalled thread is taken for a blocked one.
///
/// Allocates nothing (a stack buffer and three system calls): the monitor may tick while the
/// process forks, and an allocator lock held at that moment would stay held in the child
/// under allocators that are not fork-safe (sanitizers').
fn thread_off_cpu(tid: i32) -> bool {
    let mut path = [0u8; 48];
    let mut len = 0;
    for part in [
        &b"/proc/self/task/"[..],
        itoa(tid, &mut [0u8; 12]),
        &b"/stat\0"[..],
    ] {
        path[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    let mut buf = [0u8; 256];
    // SAFETY: `path` is NUL-terminated; `buf` outlives the read; the fd is closed below.
    let n = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return true;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let Ok(n) = usize::try_from(n) else {
        return true;
    };
    // "tid (comm) S ...": the state follows the last ')' (comm may hold anything).
    let stat = &buf[..n];
    let state = stat
        .iter()
        .rposition(|&b| b == b')')
        .and_then(|i| stat[i + 1..].iter().find(|b| !b.is_ascii_whitespace()));
    state != Some(&b'R')
}

/// `n` in decimal, in `buf`.
fn itoa(n: i32, buf: &mut [u8; 12]) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{itoa, thread_off_cpu};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn itoa_writes_decimal() {
        assert_eq!(itoa(0, &mut [0; 12]), b"0");
        assert_eq!(itoa(4_194_304, &mut [0; 12]), b"4194304");
    }

    #[test]
    fn a_running_thread_is_on_the_cpu_and_a_waiting_one_is_not() {
        // SAFETY: gettid has no preconditions.
        assert!(
            !thread_off_cpu(unsafe { libc::gettid() }),
            "this thread is running"
        );
        let (tid_tx, tid_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let waiter = std::thread::spawn(move || {
            // SAFETY: as above.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            go_rx.recv().unwrap();
        });
        let tid = tid_rx.recv().unwrap();
        // It reaches its wait soon; the bound only turns "never" into a failure.
        let end = Instant::now() + Duration::from_secs(30);
        while !thread_off_cpu(tid) {
            assert!(
                Instant::now() < end,
                "a thread blocked in recv never read as off the CPU"
            );
            std::thread::yield_now();
        }
        go_tx.send(()).unwrap();
        waiter.join().unwrap();
        assert!(
            thread_off_cpu(i32::MAX),
            "an unreadable thread counts as blocked"
        );
    }
}
