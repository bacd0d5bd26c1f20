//! The pool and the timer thread: no starvation, no thread per task or per deadline, and no
//! thread left behind. This file is its own test binary (its own process) because it changes
//! the process-wide idle timeout.

use std::sync::Arc;
use std::sync::Barrier;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gogroup::{CancelToken, WaitGroup, pool};

/// Threads of this process, from the kernel's own count.
fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

/// Polls `cond` until it holds; the timeout is an upper bound for a loaded machine, and
/// reaching it means a thread was leaked.
fn eventually(what: &str, timeout: Duration, cond: impl Fn() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < end,
            "never happened: {what} ({:?})",
            pool::stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocked_tasks_never_starve_later_ones_and_every_thread_exits_when_idle() {
    // All three properties share one process-wide pool, so they are checked in order here.
    pool::set_idle_timeout(Duration::from_millis(200));

    // 1. 64 tasks that can only finish once all 64 run at the same time: the pool must grow
    //    past its initial size instead of queueing them behind blocked workers.
    const N: usize = 64;
    let barrier = Arc::new(Barrier::new(N));
    let wg = WaitGroup::new();
    for _ in 0..N {
        let b = barrier.clone();
        wg.go(move || {
            b.wait();
        });
    }
    assert!(
        wg.wait_timeout(Duration::from_secs(60)),
        "a hang here means blocked tasks starved the rest"
    );
    assert!(pool::stats().live >= N);

    // 2. 100,000 pending deadlines are map entries on one timer thread, not threads.
    let root = CancelToken::new();
    let before = os_threads();
    let tokens: Vec<_> = (0..100_000)
        .map(|_| root.with_timeout(Duration::from_secs(3600)))
        .collect();
    let stats = pool::stats();
    assert!(stats.pending_deadlines >= 100_000);
    assert!(stats.timer_thread);
    assert!(
        os_threads() <= before + 1,
        "at most the one timer thread was added"
    );
    // Dropping them unschedules them: nothing waits for an hour.
    drop(tokens);
    assert_eq!(pool::stats().pending_deadlines, 0);
    assert_eq!(root.dependents(), 0);

    // 3. Once idle, every worker, the monitor and the timer thread exit, and the kernel
    //    agrees: only the test's own threads are left.
    eventually(
        "all gogroup threads exited",
        Duration::from_secs(60),
        || {
            let s = pool::stats();
            s.live == 0 && !s.timer_thread && !s.monitor_thread && os_threads() <= before
        },
    );

    // And the pool comes back on demand.
    let (tx, rx) = mpsc::channel();
    pool::spawn(move || tx.send(()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("a hang here means the pool did not restart");
}
