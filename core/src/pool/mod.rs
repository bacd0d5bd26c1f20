//! The elastic thread pool that runs `go` tasks.
//!
//! Starting an OS thread per task costs tens of microseconds; Go starts a goroutine in well
//! under one. gogroup keeps worker threads and hands them tasks, as rayon does — and, as Go
//! does, it keeps a task that blocks from starving the others, whether it blocks where gogroup
//! can see it or not.
//!
//! # Where a task goes
//! A task goes into one lock-free *injector* queue; a worker takes a batch into its own deque
//! and runs it without touching shared state; an idle worker steals from the queues and then
//! from other workers' deques (`pool/queue.rs` gives the order). The thread that submits a
//! group's only task may run it itself when it waits for it (the handoff in `pool/handoff.rs`,
//! Go's `runnext`).
//!
//! # Growth policy
//! The whole policy, in one place:
//! 1. **Up to one worker per CPU, at once.** A task that finds no spinning or sleeping worker
//!    starts one in `go` while fewer workers than CPUs are *free* (not blocked inside gogroup).
//! 2. **Blocking gogroup can see: compensate at once.** A task that waits inside gogroup (a
//!    group's `wait`, a token's `wait`, a full limit, a deadline wait) marks its worker
//!    blocked before it sleeps; its queued tasks go to other workers, and a worker is woken or
//!    started right then if tasks wait (rule 1 counts only free workers). No timer is needed.
//! 3. **Blocking gogroup cannot see (sleep, I/O): the monitor.** While tasks are queued and no
//!    worker is free to take them, the monitor (`pool/monitor.rs`) looks every millisecond for
//!    workers that started no task since its last look; their queued tasks are rescued at
//!    once, and those whose thread the kernel reports off the CPU count as blocked. If fewer
//!    workers than CPUs are free, it starts as many workers as are blocked (growth doubles
//!    while each new worker blocks too), re-counting the queue before each start and stopping
//!    when it is empty. Threads start on the monitor's thread, never on the timer's.
//! 4. **CPU-bound work never grows the pool** beyond one worker per CPU: a task that computes
//!    is on the CPU, so it is never counted blocked, however long it runs. A worker waiting for
//!    an interpreter lock that only CPU work holds (a binding marks it with [`CpuWait`]) is
//!    not counted blocked either. (Python tasks that compute still grow the pool: a thread
//!    waiting for the GIL in the middle of a task looks blocked, as it would to any pool.)
//! 5. **Shrinking.** A worker idle for [`idle_timeout`] (5 s unless [`set_idle_timeout`] says
//!    otherwise) exits, and so do the monitor and the timer thread. An idle worker spins 32
//!    short rounds (each a few loads, O(1) in the number of workers) before it sleeps.
//! 6. **Limits.** At most [`max_threads`] workers (10,000 by default, as Go's thread limit);
//!    at the cap, tasks queue until a worker finishes its task. If the OS refuses a thread,
//!    [`PoolStats::spawn_failures`] counts it and tasks wait for a worker: the monitor retries
//!    every tick, every submission retries, and a waiting thread retries every 10 ms while no
//!    worker lives. A task never runs inside the caller's `go` (it may hold a lock the task
//!    needs).
//!
//! # Invariants
//! 1. A worker only exits with an empty deque (it just failed to find any task).
//! 2. No wake-up is lost: a submitter pushes, then (after a `SeqCst` fence) reads `sleeping`;
//!    a worker increments `sleeping`, then (after a `SeqCst` fence) looks for tasks once more
//!    before it sleeps. One of the two sees the other.
//! 3. No task waits behind a blocked one: a worker about to run a task while other tasks wait
//!    (in its deque, or in the shared queues) first makes sure another worker is spinning,
//!    woken or started, AND that the monitor watches until the queue is empty (the worker told
//!    may take other work and block in it too). The monitor is never lost: it stops watching,
//!    fences, then counts the queue; a watcher fences, then reads the flag.
//! 4. A worker that blocks inside gogroup has no queued tasks: it moves them to the rescue
//!    queue before it sleeps, and they run before anything submitted later.
//! 5. A handoff its submitter ran while waiting stays in the queue until a worker finds it
//!    claimed and discards it; until then it is not waiting work: the monitor and [`stats`]
//!    subtract such tasks, and a worker discarding one counts as searching.
//! 6. While tasks wait and no worker lives, someone retries starting one (see rule 6).
//!
//! # fork
//! The pool is per process (see `crate::runtime`): in a fork child the first use builds a new,
//! empty pool, which starts threads as in a new process. Tasks that were queued or running in
//! the parent at the fork run only in the parent, so a group that counted them does not reach
//! zero in the child; fork before starting work, or let the child use groups of its own.
//!
//! [`stats`] makes all of this observable, so tests can prove that nothing is left running.
//!
//! Uses `std` primitives even under loom: the pool is outside loom's model (the models check
//! the state machines that run on it).

pub(crate) mod handoff;
mod monitor;
mod queue;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

pub use crate::runtime::{idle_timeout, set_idle_timeout};
pub(crate) use worker::Blocking;
pub use worker::CpuWait;

use crate::runtime::PerProcess;
use handoff::{ErasedHandoff, GroupId, Handoff};
use queue::{Job, Pool};

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
    /// Workers waiting for a task (asleep or spinning).
    pub idle: usize,
    /// Workers running a task (`live - idle`).
    pub busy: usize,
    /// Busy workers whose task waits inside gogroup (a wait, a full limit); the pool does not
    /// count them as using a CPU.
    pub blocked: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// The most workers alive at once in this process.
    pub peak: usize,
    /// Times the OS refused to start a thread (see the growth policy's rule 6).
    pub spawn_failures: usize,
    /// Whether the monitor thread (which grows the pool for blocked tasks) is alive.
    pub monitor_thread: bool,
    /// Whether the deadline thread is alive.
    pub timer_thread: bool,
    /// Deadlines scheduled and not yet due.
    pub pending_deadlines: usize,
}

static POOL: PerProcess<Pool> = PerProcess::new();

fn pool() -> &'static Pool {
    POOL.get(Pool::new)
}

/// The pool, if this process has started it (diagnostics and retries never start it).
fn pool_if_started() -> Option<&'static Pool> {
    POOL.exists().then(pool)
}

/// The CPUs this process may use, asked once. Not a `OnceLock`: `available_parallelism` reads
/// cgroup files, and a `fork` while another thread is inside a `OnceLock`'s initializer leaves
/// the child's copy "being initialized" forever, so its first task would hang. Two threads
/// may both ask; they get the same answer.
fn min_threads() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    match N.load(Ordering::Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get());
            N.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

static MAX_THREADS: AtomicUsize = AtomicUsize::new(10_000);

/// The most worker threads the pool starts (10,000 unless [`set_max_threads`] says otherwise).
///
/// ```
/// assert!(gogroup::pool::max_threads() >= 1);
/// ```
pub fn max_threads() -> usize {
    MAX_THREADS.load(Ordering::Relaxed)
}

/// Sets the most worker threads the pool starts (Go's `debug.SetMaxThreads`, without the
/// crash: at the cap, tasks queue until a worker finishes its task). At least 1. Returns the
/// previous cap. Workers beyond a lowered cap finish their tasks and exit when idle.
///
/// # Examples
/// ```
/// let before = gogroup::pool::set_max_threads(64);
/// assert_eq!(gogroup::pool::max_threads(), 64);
/// gogroup::pool::set_max_threads(before);
/// ```
pub fn set_max_threads(n: usize) -> usize {
    MAX_THREADS.swap(n.max(1), Ordering::Relaxed)
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

pub(crate) fn submit(job: Box<dyn FnOnce() + Send>) {
    push(Job::Owned(job));
}

/// Submits a task counted by the group `group`.
///
/// When it is the group's only task (`alone`), this thread's next unbounded wait for the group
/// may run it itself if no worker has started it yet (see `handoff`): `go` then `wait` on
/// one task costs no trip to another thread. A task among many is submitted plainly: sharing
/// it would cost every task two atomic operations to save one handoff per round.
pub(crate) fn submit_counted<F: FnOnce() + Send + 'static>(group: GroupId, alone: bool, f: F) {
    if alone {
        let task: Arc<dyn ErasedHandoff> = Arc::new(Handoff::new(group, f));
        handoff::remember(task.clone());
        push(Job::Handoff(task));
    } else {
        push(Job::Owned(Box::new(f)));
    }
}

/// Runs the last task this thread submitted for `group` here, if no worker started it yet
/// (see `handoff`). True if it ran.
pub(crate) fn run_own(group: GroupId) -> bool {
    let Some(task) = handoff::take_own(group) else {
        return false;
    };
    let p = pool();
    // Counted before the claim: a worker that finds the task claimed (and counts it discarded)
    // has seen this count (the claim is a release, the worker's check an acquire).
    handoff::count_ran(p, 1);
    // A raw task could unwind; ours catch their own panics. Either way, never into the waiter.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run_if_unclaimed()))
        .unwrap_or_else(|payload| {
            crate::panic_slot::drop_quietly(payload);
            true
        });
    if !ran {
        handoff::count_ran(p, usize::MAX); // -1, wrapping
    }
    ran
}

fn push(job: Job) {
    let p = pool();
    p.injector.push(job);
    // Invariant 2.
    fence(Ordering::SeqCst);
    worker::signal_work(p);
}

/// A snapshot of the pool's threads and queue.
///
/// ```
/// let s = gogroup::pool::stats();
/// assert_eq!(s.busy + s.idle, s.live);
/// ```
pub fn stats() -> PoolStats {
    let timer = PoolStats {
        timer_thread: crate::timer::thread_running(),
        pending_deadlines: crate::timer::pending(),
        ..PoolStats::default()
    };
    let Some(p) = pool_if_started() else {
        return timer;
    };
    let live = p.live.0.load(Ordering::Acquire);
    let idle =
        (p.sleeping.0.load(Ordering::Acquire) + p.searching.0.load(Ordering::Acquire)).min(live);
    PoolStats {
        live,
        idle,
        busy: live - idle,
        blocked: p.blocked.0.load(Ordering::Acquire).min(live - idle),
        queued: p.queued(),
        peak: p.peak.load(Ordering::Relaxed),
        spawn_failures: p.spawn_failures.load(Ordering::Relaxed),
        monitor_thread: monitor::thread_running(p),
        ..timer
    }
}
