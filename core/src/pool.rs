//! The elastic thread pool that runs `go` tasks.
//!
//! Starting an OS thread per task costs tens of microseconds; Go starts a goroutine in well
//! under one. gogroup keeps worker threads and hands them tasks through one queue:
//!
//! * an idle (sleeping) worker is woken for a new task; a worker that just finished a task
//!   spins briefly on the queue before it sleeps, so a burst of tasks is drained without any
//!   sleep/wake round trip;
//! * while fewer workers than CPUs exist, a task that finds no idle worker starts a new one;
//! * beyond that, a starvation check (on the timer thread, about every millisecond while tasks
//!   are queued) starts more workers when the queue has not moved — so a task that blocks
//!   never starves another, as goroutines never starve each other, yet a million no-op tasks
//!   do not start a million threads;
//! * a worker idle for [`idle_timeout`] (5 s unless [`set_idle_timeout`] says otherwise)
//!   exits, so a finished program keeps no threads around.
//!
//! [`stats`] makes all of this observable, so tests can prove that nothing is left running.
//!
//! Uses `std` primitives even under loom: the pool is outside loom's model (the models check
//! the state machines that run on it).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::timer;

type Job = Box<dyn FnOnce() + Send>;

/// A snapshot of the pool, for diagnostics and leak tests.
///
/// # Examples
/// ```
/// let wg = gogroup::WaitGroup::new();
/// wg.go(|| {});
/// wg.wait();
/// let s = gogroup::pool::stats();
/// assert!(s.live >= 1);
/// assert_eq!(s.queued, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Worker threads alive.
    pub live: usize,
    /// Workers waiting for a task (asleep or about to sleep).
    pub idle: usize,
    /// Workers running a task.
    pub busy: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Whether the deadline thread is alive.
    pub timer_thread: bool,
    /// Deadlines scheduled and not yet due.
    pub pending_deadlines: usize,
}

/// Keeps a hot atomic on its own cache line, so that workers and submitters writing one do not
/// slow down readers of another.
#[repr(align(128))]
struct Padded<T>(T);

struct Pool {
    queue: Padded<Mutex<Queue>>,
    cv: Condvar,
    /// Mirrors `queue.jobs.len()` so that a spinning worker needs no lock.
    queued: Padded<AtomicUsize>,
    /// Workers spinning on an empty queue (they will take a task without being woken).
    searching: Padded<AtomicUsize>,
    live: AtomicUsize,
    check_scheduled: AtomicBool,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    sleeping: usize,
    /// Tasks taken so far: the starvation check compares it across one period.
    taken: u64,
}

static IDLE_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);
const STARVATION_CHECK: Duration = Duration::from_millis(1);
/// Upper bound on workers; beyond it tasks queue (Go's own default limit is 10,000 threads).
const MAX_THREADS: usize = 10_000;
const WORKER_SPIN: u32 = 2_000;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        queue: Padded(Mutex::new(Queue::default())),
        cv: Condvar::new(),
        queued: Padded(AtomicUsize::new(0)),
        searching: Padded(AtomicUsize::new(0)),
        live: AtomicUsize::new(0),
        check_scheduled: AtomicBool::new(false),
    })
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn min_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Runs `f` on one of gogroup's worker threads.
///
/// This is the raw pool: nothing waits for `f`. A panic in `f` is caught so that the worker
/// survives; the panic hook has already printed it, and the panic is then dropped (by rule:
/// use [`WaitGroup::go`](crate::WaitGroup::go) or [`ErrGroup::go`](crate::ErrGroup::go) to
/// have panics reported to a waiter).
///
/// # Examples
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// gogroup::pool::spawn(move || tx.send(6 * 7).unwrap());
/// assert_eq!(rx.recv().unwrap(), 42);
/// ```
pub fn spawn<F: FnOnce() + Send + 'static>(f: F) {
    submit(Box::new(f));
}

pub(crate) fn submit(job: Job) {
    let p = pool();
    let sleeping = {
        let mut q = p.lock();
        q.jobs.push_back(job);
        p.queued.0.store(q.jobs.len(), Ordering::Release);
        q.sleeping
    };
    if p.searching.0.load(Ordering::Acquire) > 0 {
        return; // a spinning worker will take it
    }
    if sleeping > 0 {
        p.cv.notify_one();
    } else if p.live.load(Ordering::Acquire) < min_threads() {
        start_worker();
    } else {
        schedule_starvation_check();
    }
}

fn start_worker() -> bool {
    let p = pool();
    if p.live.fetch_add(1, Ordering::AcqRel) >= MAX_THREADS {
        p.live.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    let ok = std::thread::Builder::new()
        .name("gogroup-worker".into())
        .spawn(worker)
        .is_ok();
    if !ok {
        p.live.fetch_sub(1, Ordering::AcqRel);
        // No thread could be had: make sure queued work still runs, on this thread if need be.
        if p.live.load(Ordering::Acquire) == 0 {
            run_queued_inline();
        } else {
            schedule_starvation_check();
        }
    }
    ok
}

fn run_queued_inline() {
    let p = pool();
    loop {
        let job = {
            let mut q = p.lock();
            let job = q.jobs.pop_front();
            p.queued.0.store(q.jobs.len(), Ordering::Release);
            job
        };
        match job {
            Some(job) => run_job(job),
            None => return,
        }
    }
}

fn schedule_starvation_check() {
    let p = pool();
    if p.check_scheduled.swap(true, Ordering::AcqRel) {
        return;
    }
    let seen = p.lock().taken;
    timer::schedule(
        Instant::now() + STARVATION_CHECK,
        Box::new(move || starvation_check(seen)),
    );
}

fn starvation_check(seen: u64) {
    let p = pool();
    p.check_scheduled.store(false, Ordering::Release);
    let (queued, taken) = {
        let q = p.lock();
        (q.jobs.len(), q.taken)
    };
    if queued == 0 {
        return;
    }
    if taken == seen && p.searching.0.load(Ordering::Acquire) == 0 {
        // Nobody took a task for a whole period: every worker is blocked. Grow, doubling at most.
        let live = p.live.load(Ordering::Acquire).max(1);
        for _ in 0..queued.min(live) {
            if !start_worker() {
                break;
            }
        }
    }
    schedule_starvation_check();
}

fn run_job(job: Job) {
    // Tasks wrapped by WaitGroup/ErrGroup catch their own panics; this only guards raw jobs.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
}

fn worker() {
    let p = pool();
    let mut q = p.lock();
    loop {
        if let Some(job) = q.jobs.pop_front() {
            q.taken += 1;
            p.queued.0.store(q.jobs.len(), Ordering::Release);
            drop(q);
            run_job(job);
            if p.queued.0.load(Ordering::Acquire) == 0 {
                // Spin briefly for the next task before going to sleep.
                p.searching.0.fetch_add(1, Ordering::AcqRel);
                for _ in 0..WORKER_SPIN {
                    if p.queued.0.load(Ordering::Acquire) > 0 {
                        break;
                    }
                    std::hint::spin_loop();
                }
                q = p.lock();
                p.searching.0.fetch_sub(1, Ordering::AcqRel);
            } else {
                q = p.lock();
            }
            continue;
        }
        q.sleeping += 1;
        let (guard, res) = p
            .cv
            .wait_timeout(q, idle_timeout())
            .unwrap_or_else(PoisonError::into_inner);
        q = guard;
        q.sleeping -= 1;
        if res.timed_out() && q.jobs.is_empty() {
            p.live.fetch_sub(1, Ordering::AcqRel);
            return;
        }
    }
}

/// A snapshot of the pool's threads and queue.
pub fn stats() -> PoolStats {
    let p = pool();
    let (sleeping, queued) = {
        let q = p.lock();
        (q.sleeping, q.jobs.len())
    };
    let live = p.live.load(Ordering::Acquire);
    let idle = (sleeping + p.searching.0.load(Ordering::Acquire)).min(live);
    PoolStats {
        live,
        idle,
        busy: live - idle,
        queued,
        timer_thread: timer::thread_running(),
        pending_deadlines: timer::pending(),
    }
}

/// How long an idle worker (or the deadline thread) lives before it exits.
pub fn idle_timeout() -> Duration {
    Duration::from_millis(IDLE_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Sets how long idle threads live (default 5 s). Takes effect the next time a thread goes idle.
///
/// A short timeout lets leak tests observe every gogroup thread exit.
///
/// # Examples
/// ```
/// gogroup::pool::set_idle_timeout(std::time::Duration::from_secs(5));
/// assert_eq!(gogroup::pool::idle_timeout().as_secs(), 5);
/// ```
pub fn set_idle_timeout(d: Duration) {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    IDLE_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}
