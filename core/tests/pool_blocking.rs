//! The pool under blocking work: tasks that block where gogroup can see it (a wait inside
//! gogroup) and where it cannot (a std condition variable, a sleep), a task waiting for its
//! sibling under a stream of other tasks, and the thread cap.
//!
//! Its own test binary (its own process and pool). The tests take turns (`serial`): they
//! change the process-wide thread cap and look at the pool's peak.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use gogroup::{WaitGroup, pool};

/// Generous upper bound for anything to happen on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A count that tasks raise and then wait on until it reaches `n`, with a std condition
/// variable: blocking gogroup cannot see.
struct Rendezvous {
    count: Mutex<usize>,
    cv: Condvar,
    n: usize,
}

impl Rendezvous {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Rendezvous {
            count: Mutex::new(0),
            cv: Condvar::new(),
            n,
        })
    }

    /// Arrives, then waits for everyone; false if they did not all arrive in time.
    fn arrive_and_wait(&self) -> bool {
        let mut c = self.count.lock().unwrap();
        *c += 1;
        self.cv.notify_all();
        let (c, _) = self
            .cv
            .wait_timeout_while(c, PATIENCE, |c| *c < self.n)
            .unwrap();
        *c >= self.n
    }
}

#[test]
fn tasks_blocked_where_gogroup_cannot_see_all_get_a_thread_and_no_more() {
    let _turn = serial();
    // 300 tasks that can only finish once all 300 run at once, each blocked in a std condvar:
    // only a pool that notices blocked threads it was not told about gets there.
    const N: usize = 300;
    let meet = Rendezvous::new(N);
    let all_met = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for _ in 0..N {
        let (meet, all_met) = (meet.clone(), all_met.clone());
        wg.go(move || {
            if meet.arrive_and_wait() {
                all_met.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    assert!(wg.wait_timeout(PATIENCE), "pool {:?}", pool::stats());
    assert_eq!(
        all_met.load(Ordering::Relaxed),
        N,
        "some tasks never ran together"
    );
    // One thread per blocked task at most, plus the workers that keep the CPUs busy.
    let peak = pool::stats().peak;
    assert!(
        peak <= N + 2 * cpus(),
        "{peak} workers for {N} blocked tasks"
    );
}

#[test]
fn tasks_blocked_inside_gogroup_all_get_a_thread() {
    let _turn = serial();
    // The same rendezvous through a gogroup WaitGroup: each blocked worker tells the pool.
    const N: usize = 300;
    let arrived = WaitGroup::new();
    arrived.add(N as i64).unwrap();
    let wg = WaitGroup::new();
    let all_met = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        let (arrived, all_met) = (arrived.clone(), all_met.clone());
        wg.go(move || {
            arrived.done().unwrap();
            if arrived.wait_timeout(PATIENCE) {
                all_met.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    assert!(wg.wait_timeout(PATIENCE), "pool {:?}", pool::stats());
    assert_eq!(all_met.load(Ordering::Relaxed), N);
    assert_eq!(
        pool::stats().blocked,
        0,
        "every blocked worker counts as running again"
    );
}

#[test]
fn a_task_waited_for_by_its_sibling_runs_under_a_stream_of_short_and_sleeping_tasks() {
    let _turn = serial();
    let stop = Arc::new(AtomicBool::new(false));
    let streamer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let wg = WaitGroup::new();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..32 {
                    wg.go(|| {
                        std::hint::black_box(0);
                    });
                }
                wg.go(|| std::thread::sleep(Duration::from_millis(2)));
                std::thread::yield_now();
            }
            wg.wait();
        })
    };
    let wg = WaitGroup::new();
    let stranded = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let stranded = stranded.clone();
        wg.go(move || {
            // T1 waits for its sibling T2 where gogroup cannot see it (a channel).
            let (tx, rx) = mpsc::channel();
            let sibling = WaitGroup::new();
            sibling.go(move || tx.send(()).unwrap());
            if rx.recv_timeout(PATIENCE).is_err() {
                stranded.fetch_add(1, Ordering::Relaxed);
            }
            sibling.wait();
        });
    }
    let finished = wg.wait_timeout(PATIENCE * 2);
    stop.store(true, Ordering::Relaxed);
    streamer.join().unwrap();
    assert!(finished, "pool {:?}", pool::stats());
    assert_eq!(
        stranded.load(Ordering::Relaxed),
        0,
        "a sibling was stranded"
    );
}

#[test]
fn at_the_thread_cap_tasks_queue_and_run_once_a_worker_is_free() {
    let _turn = serial();
    let live = pool::stats().live;
    let cap = live.max(1) + 2;
    let before = pool::set_max_threads(cap);
    // More tasks than the cap allows, all blocked until released.
    let release = WaitGroup::new();
    release.add(1).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    let n = cap + 5;
    for _ in 0..n {
        let (release, started) = (release.clone(), started.clone());
        wg.go(move || {
            started.fetch_add(1, Ordering::Relaxed);
            release.wait();
        });
    }
    // The cap holds: at most `cap` tasks start, the rest stay queued (never run in `go`).
    let end = Instant::now() + PATIENCE;
    while started.load(Ordering::Relaxed) < cap.min(n) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = pool::stats();
    assert!(s.live <= cap, "{s:?} with a cap of {cap}");
    assert!(started.load(Ordering::Relaxed) <= cap);
    assert!(s.queued >= n - cap, "{s:?}");
    release.done().unwrap();
    assert!(
        wg.wait_timeout(PATIENCE),
        "queued tasks never ran: {:?}",
        pool::stats()
    );
    assert_eq!(started.load(Ordering::Relaxed), n);
    pool::set_max_threads(before);
}
