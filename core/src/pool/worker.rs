//! A worker's life: find a task, run it, spin briefly when there is none, sleep, and exit after
//! the idle timeout. Also the two ways the rest of core talks to the workers: [`signal_work`]
//! (a task was queued: make sure someone takes it) and [`Blocking`] (this worker's task is
//! about to wait inside gogroup: let another thread take over its core and its queued tasks).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use crossbeam_deque::Worker;

use super::queue::{BLOCKED, CPU_WAIT, IDLE, Job, Padded, Pool, RUNNING, Slot};

/// Rounds an idle worker looks for a task before it sleeps (rayon's idea: a burst is drained
/// without a sleep/wake round trip, yet an idle worker soon stops using the CPU). Each round is
/// a cheap look at the queues and a short pause; the last `YIELD_ROUNDS` yield the CPU instead,
/// for the thread that submits (on a small machine it may be waiting for a core).
const SPIN_ROUNDS: u32 = 32;
const YIELD_ROUNDS: u32 = 8;
const PAUSES_PER_ROUND: u32 = 32;

/// What a worker thread keeps where its task's code can reach it (for [`Blocking`]).
struct Current {
    pool: &'static Pool,
    slot: Arc<Slot>,
    local: Worker<Job>,
}

thread_local! {
    static CURRENT: Cell<Option<Rc<Current>>> = const { Cell::new(None) };
}

/// Starts one worker, unless the thread cap is reached or the OS refuses a thread. True if one
/// started.
pub(super) fn start_worker(p: &'static Pool) -> bool {
    let cap = super::max_threads();
    let live = p.live.0.fetch_add(1, Ordering::AcqRel) + 1;
    if live > cap {
        p.live.0.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    p.peak.fetch_max(live, Ordering::Relaxed);
    let started = std::thread::Builder::new()
        .name("gogroup-worker".into())
        .spawn(move || run(p))
        .is_ok();
    if !started {
        p.live.0.fetch_sub(1, Ordering::AcqRel);
        p.spawn_failures.fetch_add(1, Ordering::Relaxed);
        // Pool invariant 6: someone retries while the tasks wait.
        super::monitor::watch(p);
    }
    started
}

/// Makes sure someone will take queued work: a spinning worker will; else wake a sleeping one;
/// else, while fewer workers than CPUs are free to run (not blocked inside gogroup), start one
/// here; else the monitor watches the queue (pool invariant 3).
pub(super) fn signal_work(p: &'static Pool) {
    if p.searching.0.load(Ordering::Relaxed) > 0 {
        return; // a spinning worker will take it
    }
    if p.sleeping.0.load(Ordering::Relaxed) > 0 {
        let _guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        p.cv.notify_one();
        return;
    }
    let free = p
        .live
        .0
        .load(Ordering::Acquire)
        .saturating_sub(p.blocked.0.load(Ordering::Acquire));
    if free < super::min_threads() && start_worker(p) {
        return;
    }
    super::monitor::watch(p);
}

fn run(p: &'static Pool) {
    let local = Worker::new_fifo();
    let slot = Arc::new(Slot {
        stealer: local.stealer(),
        started: Padded(AtomicU64::new(0)),
        state: AtomicU8::new(IDLE),
        seen: AtomicU64::new(0),
        off_cpu_at: AtomicU64::new(0),
        holding: AtomicBool::new(false),
        tid: thread_id(),
        index: AtomicUsize::new(0),
    });
    p.register(slot.clone());
    let me = Rc::new(Current {
        pool: p,
        slot: slot.clone(),
        local,
    });
    CURRENT.with(|c| c.set(Some(me.clone())));
    work(&me);
    CURRENT.with(|c| c.set(None));
    p.note_deque(&slot, false);
    p.unregister(&slot);
    p.live.0.fetch_sub(1, Ordering::AcqRel);
}

fn work(me: &Current) {
    let (p, slot, local) = (me.pool, &*me.slot, &me.local);
    'work: loop {
        // The hot path touches no lock: our deque, the rescue queue, the injector.
        if let Some(job) = p.find_task(local) {
            run_job(me, job);
            continue;
        }
        slot.state.store(IDLE, Ordering::Release);
        p.note_deque(slot, false);
        // At most one spinning worker per CPU (as Go limits its spinning threads): when
        // thousands of workers go idle at once, the rest go straight to sleep instead of
        // taking the CPU from the threads that have work.
        let spin_rounds = if p.searching.0.fetch_add(1, Ordering::AcqRel) < super::min_threads() {
            SPIN_ROUNDS
        } else {
            0
        };
        for round in 0..spin_rounds {
            if let Some(job) = p.find_task(local) {
                p.searching.0.fetch_sub(1, Ordering::AcqRel);
                run_job(me, job);
                continue 'work;
            }
            if round < spin_rounds - YIELD_ROUNDS {
                for _ in 0..PAUSES_PER_ROUND {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        p.searching.0.fetch_sub(1, Ordering::AcqRel);
        // Sleep (pool invariant 2: announce, fence, look once more).
        let guard = p.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        p.sleeping.0.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(job) = p.find_task(local) {
            p.sleeping.0.fetch_sub(1, Ordering::SeqCst);
            drop(guard);
            run_job(me, job);
            continue;
        }
        let (guard, res) =
            p.cv.wait_timeout(guard, crate::runtime::idle_timeout())
                .unwrap_or_else(PoisonError::into_inner);
        p.sleeping.0.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        if p.generation != crate::runtime::generation() {
            return; // a fork child running the parent's pool: leave it (see crate::runtime)
        }
        if res.timed_out() {
            if let Some(job) = p.find_task(local) {
                run_job(me, job);
                continue;
            }
            return; // pool invariant 1: nothing in `local`
        }
    }
}

/// Runs a job this worker found. If more work waits — in its deque (it took a batch) or in the
/// shared queues — someone else must be told first, and the monitor must watch: this job may
/// block for a long time (pool invariant 3).
fn run_job(me: &Current, job: Job) {
    let (p, slot, local) = (me.pool, &*me.slot, &me.local);
    if let Job::Handoff(task) = &job
        && task.is_claimed()
    {
        // Its submitter ran it (see `handoff`): discard it without telling anyone, and give
        // the CPU back: on a small machine that submitter is likely to want it next. The
        // worker counts as searching meanwhile (it is about to look for work again), so that
        // neither a submitter nor the monitor takes it for a blocked one (pool invariant 5).
        p.ledger.discarded();
        p.searching.0.fetch_add(1, Ordering::AcqRel);
        std::thread::yield_now();
        p.searching.0.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let holds = !local.is_empty();
    p.note_deque(slot, holds);
    let s = slot.started.0.load(Ordering::Relaxed);
    slot.started.0.store(s + 1, Ordering::Relaxed);
    slot.state.store(RUNNING, Ordering::Release);
    // Pairs with the fence in `submit`: a submitter that saw us searching relies on us to see
    // its task here.
    fence(Ordering::SeqCst);
    if holds || p.has_shared_work() {
        signal_work(p);
        super::monitor::watch(p);
    }
    // Tasks wrapped by WaitGroup/ErrGroup catch their own panics; this only guards raw jobs
    // (dropped by rule, see `spawn`), whose payload is dropped where its `Drop` cannot unwind.
    if let Err(payload) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || match job {
            Job::Owned(f) => f(),
            Job::Handoff(task) => {
                if !task.run_if_unclaimed() {
                    p.ledger.discarded();
                }
            }
        }))
    {
        crate::panic_slot::drop_quietly(payload);
    }
}

/// This thread's worker, if it is one of this process's pool workers (in a fork child, the
/// forking thread may be a worker of the parent's pool: that pool is left alone).
fn current_worker() -> Option<Rc<Current>> {
    CURRENT
        .try_with(|c| {
            let cur = c.take();
            c.set(cur.clone());
            cur
        })
        .ok()
        .flatten()
        .filter(|me| me.pool.generation == crate::runtime::generation())
}

/// Marks the current thread, if it is a pool worker, as blocked inside gogroup until dropped
/// (Java's `ManagedBlocker`, Go's handoff of its P when a goroutine enters a syscall).
///
/// On creation: the worker's queued tasks go to the rescue queue, and if tasks wait, another
/// worker is woken or started at once (pool invariant 4). No timer is involved: the pool knows.
/// On drop: the worker counts as running again. On any other thread it does nothing.
pub(crate) struct Blocking {
    current: Option<Rc<Current>>,
}

impl Blocking {
    pub(crate) fn enter() -> Blocking {
        let Some(me) = current_worker() else {
            return Blocking { current: None };
        };
        let p = me.pool;
        me.slot.state.store(BLOCKED, Ordering::Release);
        p.blocked.0.fetch_add(1, Ordering::AcqRel);
        if !p.blocking.0.load(Ordering::Relaxed) {
            p.blocking.0.store(true, Ordering::Relaxed);
        }
        let moved = p.rescue_from(&me.slot.stealer);
        p.note_deque(&me.slot, false);
        fence(Ordering::SeqCst);
        if moved > 0 || p.has_shared_work() {
            signal_work(p);
        }
        Blocking { current: Some(me) }
    }

    /// While no worker lives because the OS refused threads, how long a wait should sleep
    /// before it retries starting one (pool invariant 6); `None` otherwise.
    pub(crate) fn retry_interval() -> Option<Duration> {
        let p = super::pool_if_started()?;
        (p.live.0.load(Ordering::Acquire) == 0 && p.spawn_failures.load(Ordering::Relaxed) > 0)
            .then_some(Duration::from_millis(10))
    }

    /// Retries starting a worker if tasks wait and none lives (see [`Blocking::retry_interval`]).
    pub(crate) fn retry() {
        if let Some(p) = super::pool_if_started()
            && p.live.0.load(Ordering::Acquire) == 0
            && p.queued() > 0
        {
            start_worker(p);
        }
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        if let Some(me) = self.current.take() {
            me.pool.blocked.0.fetch_sub(1, Ordering::AcqRel);
            me.slot.state.store(RUNNING, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("worker", &self.current.is_some())
            .finish()
    }
}

/// Marks the current thread, if it is a pool worker, as waiting for a lock that only CPU work
/// holds, until dropped: the pool's monitor then does not take it for a blocked thread (and
/// start another) although the OS reports it off the CPU.
///
/// For bindings whose tasks must take an interpreter lock before they run (Python's GIL): a
/// thousand workers waiting for the GIL are not a thousand blocked tasks, and starting more
/// threads would only lengthen the queue for the lock. Hold it only while taking the lock, not
/// while the task runs: a task that then sleeps or does I/O must count as blocked.
///
/// # Examples
/// ```
/// let lock = std::sync::Mutex::new(());
/// let wait = gogroup::pool::CpuWait::begin();
/// let guard = lock.lock().unwrap(); // the interpreter lock, say
/// drop(wait); // taken: from here on, the task's own waits count as usual
/// drop(guard);
/// ```
pub struct CpuWait {
    current: Option<Rc<Current>>,
}

impl CpuWait {
    /// Starts the wait (a no-op on a thread that is not a pool worker).
    pub fn begin() -> CpuWait {
        let current = current_worker();
        if let Some(me) = &current {
            me.slot.state.store(CPU_WAIT, Ordering::Release);
        }
        CpuWait { current }
    }
}

impl Drop for CpuWait {
    fn drop(&mut self) {
        if let Some(me) = self.current.take() {
            me.slot.state.store(RUNNING, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for CpuWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuWait")
            .field("worker", &self.current.is_some())
            .finish()
    }
}

fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}
