//! The elastic thread pool that runs `go` tasks.
//!
//! Starting an OS thread per task costs tens of microseconds; Go starts a goroutine in well
//! under one. gogroup keeps worker threads and hands them tasks, as rayon does:
//!
//! * a task goes into one lock-free *injector* queue; a worker takes a batch of tasks from it
//!   into its own deque and runs them without touching shared state; an idle worker steals from
//!   the injector and then from the other workers' deques;
//! * a worker that runs out of tasks spins briefly before it sleeps, so a burst of tasks is
//!   drained without a sleep/wake round trip; a sleeping worker is woken for a new task;
//! * while fewer workers than CPUs exist, a task that finds no idle worker starts a new one;
//! * beyond that, a starvation check (on the timer thread, about every millisecond while tasks
//!   wait) starts more workers when no worker finished a task for a whole period — the new
//!   workers steal what the blocked ones hold. So a task that blocks never starves another, as
//!   goroutines never starve each other, yet a million no-op tasks do not start a million
//!   threads;
//! * a worker idle for [`idle_timeout`] (5 s unless [`set_idle_timeout`] says otherwise)
//!   exits, so a finished program keeps no threads around.
//!
//! [`stats`] makes all of this observable, so tests can prove that nothing is left running.
//!
//! # Invariants
//! 1. A worker only exits with an empty deque (it just failed to find any task).
//! 2. No wake-up is lost: a submitter pushes, then (after a `SeqCst` fence) reads `sleeping`;
//!    a worker increments `sleeping`, then (after a `SeqCst` fence) looks for tasks once more
//!    before it sleeps. One of the two sees the other.
//! 3. No task waits behind a blocked one: a worker that is about to run a task while other tasks
//!    wait (in its own deque, taken as a batch; in the injector; or left in the deque it stole
//!    from) first makes sure another worker is spinning, woken or started, AND that the
//!    starvation check watches the queue until it is empty. Telling a worker is not enough on
//!    its own: that worker may take a different task and block in it too.
//! 4. The starvation check is never lost: it clears its flag, fences, then counts the queue; a
//!    scheduler fences, then reads the flag. Either the check sees the task, or the scheduler
//!    sees the flag clear and schedules the check again. The check calls nothing that locks
//!    `sleep` while holding the registry lock (a registering worker waits for the registry).
//!
//! 5. A task its submitter ran itself while waiting (see `handoff.rs`) stays in the queue
//!    until a worker finds it claimed and discards it; until then it is not waiting work: the
//!    starvation check and [`stats`] subtract such tasks, and a worker discarding one counts as
//!    searching (it is neither blocked nor asleep).
//!
//! Uses `std` primitives even under loom: the pool is outside loom's model (the models check
//! the state machines that run on it).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::handoff::{Claim, Handoff};
use crate::timer;

/// A queued task: owned by the queue, or shared with the thread that submitted it (which may
/// run it itself while it waits for it, see [`crate::handoff`]).
enum Job {
    Owned(Box<dyn FnOnce() + Send>),
    Shared(Arc<dyn Claim>),
}

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
#[derive(Default)]
struct Padded<T>(T);

struct Pool {
    injector: Injector<Job>,
    /// One slot per worker: its stealer and its progress counter.
    registry: RwLock<Vec<Option<Registered>>>,
    sleep: Mutex<()>,
    cv: Condvar,
    sleeping: Padded<AtomicUsize>,
    /// Workers spinning for a task (they will take one without being woken).
    searching: Padded<AtomicUsize>,
    live: Padded<AtomicUsize>,
    /// Handed-off jobs that workers found already run by their waiter, and discarded. With
    /// the waiters' counts ([`RanByWaiter`]) this keeps such jobs out of `stats().queued`.
    discarded: Padded<AtomicUsize>,
    /// Every live thread's count of jobs it ran for their waiter.
    ran_by_waiters: Mutex<Vec<Arc<Padded<AtomicUsize>>>>,
    /// The counts of threads that exited.
    ran_by_exited: AtomicUsize,
    check_scheduled: AtomicBool,
}

/// A task a worker found, and whether the worker it was stolen from still holds more.
struct Found {
    job: Job,
    victim_has_more: bool,
}

impl Found {
    fn alone(job: Job) -> Self {
        Found {
            job,
            victim_has_more: false,
        }
    }
}

#[derive(Clone)]
struct Registered {
    stealer: Stealer<Job>,
    /// Tasks this worker finished; only it writes, so counting costs no contention.
    progress: Arc<Padded<AtomicU64>>,
}

static IDLE_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);
const STARVATION_CHECK: Duration = Duration::from_millis(1);
/// Upper bound on workers; beyond it tasks queue (Go's own default limit is 10,000 threads).
const MAX_THREADS: usize = 10_000;
/// Rounds a worker looks for a task before it sleeps; the last `WORKER_YIELD_ROUNDS` of them
/// yield the CPU instead of spinning.
const WORKER_SPIN_ROUNDS: u32 = 1_024 + WORKER_YIELD_ROUNDS;
const WORKER_YIELD_ROUNDS: u32 = 32;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        injector: Injector::new(),
        registry: RwLock::new(Vec::new()),
        sleep: Mutex::new(()),
        cv: Condvar::new(),
        sleeping: Padded::default(),
        searching: Padded::default(),
        live: Padded::default(),
        discarded: Padded::default(),
        ran_by_waiters: Mutex::new(Vec::new()),
        ran_by_exited: AtomicUsize::new(0),
        check_scheduled: AtomicBool::new(false),
    })
}

impl Pool {
    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Vec<Option<Registered>>> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a task for `local`: from the injector (with a batch), else from another worker.
    fn find_task(&self, local: &Worker<Job>) -> Option<Found> {
        self.steal_injected(local)
            .map(Found::alone)
            .or_else(|| self.steal_from_workers(local))
    }

    /// Takes a task (and a batch more into `local`) from the injector. Lock-free.
    fn steal_injected(&self, local: &Worker<Job>) -> Option<Job> {
        loop {
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(job) => return Some(job),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    /// Takes tasks from another worker's deque (one that is busy, or blocked, in a task).
    fn steal_from_workers(&self, local: &Worker<Job>) -> Option<Found> {
        let registry = self.registry();
        registry.iter().flatten().find_map(|r| {
            loop {
                match r.stealer.steal_batch_and_pop(local) {
                    Steal::Success(job) => {
                        break Some(Found {
                            job,
                            victim_has_more: !r.stealer.is_empty(),
                        });
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break None,
                }
            }
        })
    }

    /// Tasks waiting anywhere (in the injector or in a worker's deque).
    fn queued(&self) -> usize {
        self.injector.len()
            + self
                .registry()
                .iter()
                .flatten()
                .map(|r| r.stealer.len())
                .sum::<usize>()
    }

    fn progress(&self) -> u64 {
        self.registry()
            .iter()
            .flatten()
            .map(|r| r.progress.0.load(Ordering::Relaxed))
            .sum()
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

pub(crate) fn submit(job: Box<dyn FnOnce() + Send>) {
    push(Job::Owned(job));
}

/// Runs the last task this thread submitted for `group` here, if no worker started it yet
/// (see [`crate::handoff`]). True if it ran.
pub(crate) fn run_mine(group: usize) -> bool {
    let Some(task) = crate::handoff::take_mine(group) else {
        return false;
    };
    // Counted before the claim: a worker that finds the task claimed (and counts it discarded)
    // has seen this count (the claim is a release, the worker's check an acquire).
    RanByWaiter::add(1);
    // A raw task could unwind; ours catch their own panics. Either way, never into the waiter.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run_if_unclaimed()))
        .unwrap_or(true);
    if !ran {
        RanByWaiter::add(usize::MAX); // -1, wrapping
    }
    ran
}

/// This thread's count of jobs it ran for their waiter: its own cache line, written only by
/// this thread, so the handoff's fast path touches no shared counter. `stats()` sums them.
struct RanByWaiter(Arc<Padded<AtomicUsize>>);

impl RanByWaiter {
    fn add(n: usize) {
        let counted = RAN_BY_WAITER.try_with(|mine| {
            let c = &mine.0.0;
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
        });
        if counted.is_err() {
            // This thread is exiting: count it with the exited ones.
            pool().ran_by_exited.fetch_add(n, Ordering::Release);
        }
    }
}

impl Drop for RanByWaiter {
    fn drop(&mut self) {
        let p = pool();
        // Added to the exited ones before leaving the list: for a moment counted twice, which
        // makes the queue look shorter, never longer (nothing grows the pool for it).
        p.ran_by_exited
            .fetch_add(self.0.0.load(Ordering::Relaxed), Ordering::Release);
        p.ran_by_waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c| !Arc::ptr_eq(c, &self.0));
    }
}

thread_local! {
    static RAN_BY_WAITER: RanByWaiter = {
        let mine = Arc::new(Padded(AtomicUsize::new(0)));
        pool().ran_by_waiters.lock().unwrap_or_else(PoisonError::into_inner).push(mine.clone());
        RanByWaiter(mine)
    };
}

/// Queued jobs that their waiter already ran and no worker has discarded yet.
fn ran_but_queued(p: &Pool) -> usize {
    // Discards first: every discard counted here follows its waiter's count (see `run_mine`),
    // which the loads below then see.
    let discarded = p.discarded.0.load(Ordering::Acquire);
    let ran = p
        .ran_by_waiters
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .fold(p.ran_by_exited.load(Ordering::Acquire), |sum, c| {
            sum.wrapping_add(c.0.load(Ordering::Acquire))
        });
    ran.saturating_sub(discarded)
}

/// Submits a task counted by the group whose key is `group`.
///
/// When it is the group's only task (`alone`), this thread's next unbounded wait for the group
/// may run it itself if no worker has started it yet (see [`crate::handoff`]): `go` then
/// `wait` on one task costs no trip to another thread. A task among many is submitted plainly:
/// sharing it would cost every task two atomic operations to save one handoff per round.
pub(crate) fn submit_counted<F: FnOnce() + Send + 'static>(group: usize, alone: bool, f: F) {
    if alone {
        let task: Arc<dyn Claim> = Arc::new(Handoff::new(group, f));
        crate::handoff::remember(task.clone());
        push(Job::Shared(task));
    } else {
        push(Job::Owned(Box::new(f)));
    }
}

fn push(job: Job) {
    let p = pool();
    p.injector.push(job);
    // Invariant 2.
    fence(Ordering::SeqCst);
    signal_work();
}

/// Makes sure someone will take queued work: a spinning worker will; else wake a sleeping one,
/// start one, or (all busy) let the starvation check watch the queue (invariant 3).
fn signal_work() {
    let p = pool();
    if p.searching.0.load(Ordering::Relaxed) > 0 {
        return; // a spinning worker will take it
    }
    if p.sleeping.0.load(Ordering::Relaxed) > 0 {
        let _guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        p.cv.notify_one();
    } else if p.live.0.load(Ordering::Acquire) < min_threads() {
        start_worker();
    } else {
        schedule_starvation_check();
    }
}

/// Work waits that this worker will not run now: tell someone, AND keep the starvation check
/// watching until the queue is empty. Telling alone is not enough: the worker told may take
/// other work (from the injector) and block in it, leaving ours behind.
fn watch_queue() {
    signal_work();
    schedule_starvation_check();
}

fn start_worker() -> bool {
    let p = pool();
    if p.live.0.fetch_add(1, Ordering::AcqRel) >= MAX_THREADS {
        p.live.0.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    let ok = std::thread::Builder::new()
        .name("gogroup-worker".into())
        .spawn(worker)
        .is_ok();
    if !ok {
        p.live.0.fetch_sub(1, Ordering::AcqRel);
        // No thread could be had: make sure queued work still runs, on this thread if need be.
        if p.live.0.load(Ordering::Acquire) == 0 {
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
        match p.injector.steal() {
            Steal::Success(job) => run_job(job),
            Steal::Retry => continue,
            Steal::Empty => return,
        }
    }
}

fn schedule_starvation_check() {
    let p = pool();
    // Pairs with the fence in `starvation_check`: either it sees our queued task, or we see
    // that it is no longer scheduled and schedule it again.
    fence(Ordering::SeqCst);
    if p.check_scheduled.load(Ordering::Acquire) || p.check_scheduled.swap(true, Ordering::AcqRel) {
        return;
    }
    let seen = p.progress();
    timer::schedule(
        Instant::now() + STARVATION_CHECK,
        Box::new(move || starvation_check(seen)),
    );
}

fn starvation_check(seen: u64) {
    let p = pool();
    p.check_scheduled.store(false, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    // Tasks their waiter already ran are not waiting for anyone (see `run_mine`): counting
    // them would start threads for work that no longer exists.
    let queued = p.queued().saturating_sub(ran_but_queued(p));
    if queued == 0 {
        return;
    }
    if p.searching.0.load(Ordering::Acquire) == 0 {
        let sleeping = p.sleeping.0.load(Ordering::Acquire);
        if sleeping > 0 {
            // Tasks wait while workers sleep: they were told about other work and took that
            // (invariant 3). Wake them before thinking of new threads.
            let _guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..queued.min(sleeping) {
                p.cv.notify_one();
            }
        } else if p.progress() == seen {
            // Nobody finished a task for a whole period: every worker is blocked. Grow (at
            // most doubling); the new workers steal what the blocked ones hold.
            let live = p.live.0.load(Ordering::Acquire).max(1);
            for _ in 0..queued.min(live) {
                if !start_worker() {
                    break;
                }
            }
        }
    }
    schedule_starvation_check();
}

/// Runs a job a worker found. If more work is waiting — in this worker's deque (it took a
/// batch) or in the injector — someone else must be told first: this job may block for a long
/// time, and nobody else can see what sits in our deque unless it is awake (invariant 3).
fn run_found(local: &Worker<Job>, found: Found, progress: &Padded<AtomicU64>) {
    let p = pool();
    let Found {
        job,
        victim_has_more,
    } = found;
    if let Job::Shared(task) = &job
        && task.is_claimed()
    {
        // Its submitter ran it (see `crate::handoff`): discard it without telling anyone, and
        // give the CPU back: on a small machine that submitter is likely to want it next. The
        // worker counts as searching meanwhile (it is about to look for work again), so that
        // neither a submitter nor the starvation check takes it for a blocked one.
        p.discarded.0.fetch_add(1, Ordering::Release);
        progress.0.fetch_add(1, Ordering::Relaxed);
        p.searching.0.fetch_add(1, Ordering::AcqRel);
        std::thread::yield_now();
        p.searching.0.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    // Pairs with the fence in `submit`: a submitter that saw us searching relies on us to see
    // its task here.
    fence(Ordering::SeqCst);
    // A victim that still holds tasks may stay blocked, and whoever it told about them may take
    // other work: the starvation check must watch them too.
    if victim_has_more || !local.is_empty() || !p.injector.is_empty() {
        watch_queue();
    }
    run_job(job);
    // Also when its submitter ran it: the queue moved on, so this worker is not blocked.
    progress.0.fetch_add(1, Ordering::Relaxed);
}

/// Runs a job, unless its submitter already ran it.
fn run_job(job: Job) {
    // Tasks wrapped by WaitGroup/ErrGroup catch their own panics; this only guards raw jobs.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || match job {
        Job::Owned(f) => f(),
        Job::Shared(task) => {
            if !task.run_if_unclaimed() {
                pool().discarded.0.fetch_add(1, Ordering::Release);
            }
        }
    }));
}

fn worker() {
    let p = pool();
    let local = Worker::new_fifo();
    let progress = Arc::new(Padded(AtomicU64::new(0)));
    let slot = {
        let mut registry = p.registry.write().unwrap_or_else(PoisonError::into_inner);
        let entry = Registered {
            stealer: local.stealer(),
            progress: progress.clone(),
        };
        match registry.iter().position(Option::is_none) {
            Some(i) => {
                registry[i] = Some(entry);
                i
            }
            None => {
                registry.push(Some(entry));
                registry.len() - 1
            }
        }
    };
    'work: loop {
        // The hot path touches no lock: our deque, then the injector. Other workers' deques
        // are searched while spinning and before sleeping.
        if let Some(job) = local.pop().or_else(|| p.steal_injected(&local)) {
            run_found(&local, Found::alone(job), &progress);
            continue;
        }
        // Look for the next task a little longer before going to sleep: first spinning, then
        // yielding the CPU (on a small machine the thread that submits tasks may need it).
        p.searching.0.fetch_add(1, Ordering::AcqRel);
        for i in 0..WORKER_SPIN_ROUNDS {
            // The injector is cheap to watch; the other workers' deques only now and then.
            let found = if i % 32 == 0 {
                p.find_task(&local)
            } else if !p.injector.is_empty() {
                p.steal_injected(&local).map(Found::alone)
            } else {
                None
            };
            if let Some(found) = found {
                p.searching.0.fetch_sub(1, Ordering::AcqRel);
                run_found(&local, found, &progress);
                continue 'work;
            }
            if i < WORKER_SPIN_ROUNDS - WORKER_YIELD_ROUNDS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        p.searching.0.fetch_sub(1, Ordering::AcqRel);
        // Sleep (invariant 2: announce, fence, look once more).
        let guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        p.sleeping.0.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(found) = p.find_task(&local) {
            p.sleeping.0.fetch_sub(1, Ordering::SeqCst);
            drop(guard);
            run_found(&local, found, &progress);
            continue;
        }
        let (guard, res) =
            p.cv.wait_timeout(guard, idle_timeout())
                .unwrap_or_else(PoisonError::into_inner);
        p.sleeping.0.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        if res.timed_out() {
            if let Some(found) = p.find_task(&local) {
                run_found(&local, found, &progress);
                continue;
            }
            // Invariant 1: nothing in `local`; leave.
            let mut registry = p.registry.write().unwrap_or_else(PoisonError::into_inner);
            registry[slot] = None;
            p.live.0.fetch_sub(1, Ordering::AcqRel);
            return;
        }
    }
}

/// A snapshot of the pool's threads and queue.
///
/// ```
/// let s = gogroup::pool::stats();
/// assert_eq!(s.busy + s.idle, s.live);
/// ```
pub fn stats() -> PoolStats {
    let p = pool();
    let live = p.live.0.load(Ordering::Acquire);
    let idle =
        (p.sleeping.0.load(Ordering::Acquire) + p.searching.0.load(Ordering::Acquire)).min(live);
    PoolStats {
        live,
        idle,
        busy: live - idle,
        queued: p.queued().saturating_sub(ran_but_queued(p)),
        timer_thread: timer::thread_running(),
        pending_deadlines: timer::pending(),
    }
}

/// How long an idle worker (or the deadline thread) lives before it exits.
///
/// ```
/// assert!(gogroup::pool::idle_timeout() > std::time::Duration::ZERO);
/// ```
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
