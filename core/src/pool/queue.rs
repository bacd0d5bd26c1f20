//! Where queued tasks wait, and how a worker finds one.
//!
//! Three kinds of queue, looked at in this order by a worker that wants a task:
//! 1. its own *deque* (a FIFO it filled by taking a batch from the injector; lock-free and
//!    touched by no one else unless they steal);
//! 2. the *rescue* queue: tasks taken back from the deque of a worker that blocked (it told the
//!    pool, see [`super::worker::Blocking`]) or stalled (the [monitor](super::monitor) saw it
//!    run one task for a whole tick). They were queued before anything now in the injector, so
//!    they go first;
//! 3. the *injector*, where every submission lands — a worker takes a batch at a time, or one
//!    task at a time while tasks have been blocking lately ([`Pool::blocking`]);
//!
//! and finally the other workers' deques (stealing), but only while some worker may hold
//! queued tasks ([`Pool::holders`] is nonzero): N idle workers looking for work cost O(N), not
//! O(N²).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, RwLockReadGuard};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use super::handoff::{ErasedHandoff, Ledger};
use super::monitor::Monitor;

/// A queued task: owned by the queue, or a [handoff](super::handoff) shared with the thread
/// that submitted it (which may run it itself while it waits for it).
pub(super) enum Job {
    Owned(Box<dyn FnOnce() + Send>),
    Handoff(Arc<dyn ErasedHandoff>),
}

/// Keeps a hot atomic on its own cache line, so that workers and submitters writing one do not
/// slow down readers of another.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Padded<T>(pub(crate) T);

/// A worker is waiting for a task (spinning or asleep).
pub(super) const IDLE: u8 = 0;
/// A worker is running a task.
pub(super) const RUNNING: u8 = 1;
/// A worker is running a task that waits inside gogroup (a group, a token, a limit).
pub(super) const BLOCKED: u8 = 2;
/// A worker is running a task that waits for a lock only CPU work holds (a binding's
/// interpreter lock, see [`super::CpuWait`]): off the CPU, yet not blocked.
pub(super) const CPU_WAIT: u8 = 3;

/// One worker as the rest of the pool sees it.
pub(super) struct Slot {
    pub(super) stealer: Stealer<Job>,
    /// Tasks this worker started; only it writes (so counting costs no contention). The
    /// monitor compares it between ticks: unchanged while `RUNNING` means one task ran the
    /// whole tick (stalled).
    pub(super) started: Padded<AtomicU64>,
    /// `IDLE`, `RUNNING` or `BLOCKED`; only the worker writes.
    pub(super) state: AtomicU8,
    /// The monitor's own notes (only it reads and writes them): `started` at its last tick,
    /// and the `started` value at which it last found the thread off CPU (+1; 0: never).
    pub(super) seen: AtomicU64,
    pub(super) off_cpu_at: AtomicU64,
    /// Whether this worker counts in [`Pool::holders`] (see [`Pool::note_deque`]).
    pub(super) holding: AtomicBool,
    /// Kernel thread id, to read the thread's scheduler state (see `super::monitor`).
    pub(super) tid: i32,
    /// Position in the registry, kept current under its write lock (O(1) removal).
    pub(super) index: AtomicUsize,
}

pub(crate) struct Pool {
    pub(super) injector: Injector<Job>,
    pub(super) rescue: Injector<Job>,
    /// Every live worker, in no particular order (removal swaps the last one in).
    registry: RwLock<Vec<Arc<Slot>>>,
    /// Workers whose deque may hold tasks (a hint, see the module docs).
    pub(super) holders: Padded<AtomicUsize>,
    pub(super) sleep: Mutex<()>,
    pub(super) cv: Condvar,
    pub(super) sleeping: Padded<AtomicUsize>,
    /// Workers spinning for a task (they will take one without being woken).
    pub(super) searching: Padded<AtomicUsize>,
    pub(super) live: Padded<AtomicUsize>,
    /// Workers whose task waits inside gogroup (they count as blocked at once, no tick needed).
    pub(super) blocked: Padded<AtomicUsize>,
    /// Tasks have blocked since the monitor last went quiet: workers take one task at a time
    /// instead of batches. Set by a worker that blocks inside gogroup and by the monitor when
    /// it finds a blocked worker; cleared by the monitor when the queue is empty.
    pub(super) blocking: Padded<AtomicBool>,
    /// Most workers alive at once since the process (or fork child) started.
    pub(super) peak: AtomicUsize,
    /// Times the OS refused a thread.
    pub(super) spawn_failures: AtomicUsize,
    pub(crate) ledger: Ledger,
    pub(super) monitor: Monitor,
    /// The process generation this pool belongs to (see [`crate::runtime`]).
    pub(super) generation: u64,
}

impl Pool {
    pub(super) fn new() -> Pool {
        Pool {
            injector: Injector::new(),
            rescue: Injector::new(),
            registry: RwLock::new(Vec::new()),
            holders: Padded::default(),
            sleep: Mutex::new(()),
            cv: Condvar::new(),
            sleeping: Padded::default(),
            searching: Padded::default(),
            live: Padded::default(),
            blocked: Padded::default(),
            blocking: Padded::default(),
            peak: AtomicUsize::new(0),
            spawn_failures: AtomicUsize::new(0),
            ledger: Ledger::default(),
            monitor: Monitor::new(),
            generation: crate::runtime::generation(),
        }
    }

    pub(super) fn registry(&self) -> RwLockReadGuard<'_, Vec<Arc<Slot>>> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn register(&self, slot: Arc<Slot>) {
        let mut r = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        slot.index.store(r.len(), Ordering::Relaxed);
        r.push(slot);
    }

    pub(super) fn unregister(&self, slot: &Slot) {
        let mut r = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let i = slot.index.load(Ordering::Relaxed);
        r.swap_remove(i);
        if let Some(moved) = r.get(i) {
            moved.index.store(i, Ordering::Relaxed);
        }
    }

    /// The next task for the worker that owns `local`, in the order of the module docs.
    pub(super) fn find_task(&self, local: &Worker<Job>) -> Option<Job> {
        if let Some(job) = local.pop() {
            return Some(job);
        }
        self.steal_rescued()
            .or_else(|| self.steal_injected(local))
            .or_else(|| self.steal_from_workers(local))
    }

    fn steal_rescued(&self) -> Option<Job> {
        if self.rescue.is_empty() {
            return None;
        }
        steal_one(|| self.rescue.steal())
    }

    /// Takes a task from the injector — and a batch more into `local`, unless tasks have been
    /// blocking lately ([`Pool::blocking`]): a batch behind a task that blocks waits until
    /// the monitor rescues it. Lock-free.
    fn steal_injected(&self, local: &Worker<Job>) -> Option<Job> {
        if self.blocking.0.load(Ordering::Relaxed) {
            steal_one(|| self.injector.steal())
        } else {
            steal_one(|| self.injector.steal_batch_and_pop(local))
        }
    }

    /// Takes tasks from another worker's deque, if any worker may hold some.
    fn steal_from_workers(&self, local: &Worker<Job>) -> Option<Job> {
        if self.holders.0.load(Ordering::Acquire) == 0 {
            return None;
        }
        let registry = self.registry();
        let one_at_a_time = self.blocking.0.load(Ordering::Relaxed);
        registry.iter().find_map(|victim| {
            if !victim.holding.load(Ordering::Relaxed) {
                return None;
            }
            let job = if one_at_a_time {
                steal_one(|| victim.stealer.steal())
            } else {
                steal_one(|| victim.stealer.steal_batch_and_pop(local))
            };
            if job.is_none() {
                // Emptied by others: stop counting it, or N idle workers would keep scanning
                // N deques (the owner sets the flag again when it refills).
                self.note_deque(victim, false);
            }
            job
        })
    }

    /// Keeps [`Pool::holders`] in step with whether `slot`'s deque holds tasks. Called by the
    /// owner after it took tasks, and by whoever emptied the deque (the monitor, a blocking
    /// worker); a flag briefly out of step only costs a scan, or a tick until the monitor
    /// looks at the deque itself.
    pub(super) fn note_deque(&self, slot: &Slot, holds_tasks: bool) {
        if slot.holding.load(Ordering::Relaxed) == holds_tasks {
            return;
        }
        if slot.holding.swap(holds_tasks, Ordering::AcqRel) != holds_tasks {
            if holds_tasks {
                self.holders.0.fetch_add(1, Ordering::AcqRel);
            } else {
                self.holders.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Moves every task in `stealer`'s deque to the rescue queue; how many moved.
    pub(super) fn rescue_from(&self, stealer: &Stealer<Job>) -> usize {
        let mut moved = 0;
        while let Some(job) = steal_one(|| stealer.steal()) {
            self.rescue.push(job);
            moved += 1;
        }
        moved
    }

    /// Tasks waiting anywhere (the queues and every worker's deque), handoffs their waiter
    /// already ran excepted (pool invariant 5).
    ///
    /// Looks at every deque, not only those [`Pool::holders`] counts: that count is a hint, and
    /// the monitor must not stop watching while a stalled worker's deque still holds tasks.
    pub(super) fn queued(&self) -> usize {
        let in_deques = self
            .registry()
            .iter()
            .map(|r| r.stealer.len())
            .sum::<usize>();
        self.queued_besides(in_deques)
    }

    /// [`Pool::queued`] for a caller that already counted the tasks in the workers' deques.
    pub(super) fn queued_besides(&self, in_deques: usize) -> usize {
        (self.injector.len() + self.rescue.len() + in_deques)
            .saturating_sub(self.ledger.ran_but_queued())
    }

    /// Whether any queue outside the workers' deques holds a task (cheap: two loads).
    pub(super) fn has_shared_work(&self) -> bool {
        !self.injector.is_empty() || !self.rescue.is_empty()
    }
}

/// Retries a steal until it succeeds or finds the queue empty.
fn steal_one(mut steal: impl FnMut() -> Steal<Job>) -> Option<Job> {
    loop {
        match steal() {
            Steal::Success(job) => return Some(job),
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}
