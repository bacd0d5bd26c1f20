//! Regressions: tasks stranded in the pool while workers were blocked or asleep.
//! Its own test binary, because it sets the process-wide idle timeout to an hour so that only
//! the fix — not an idle worker's timeout — can let a stranded task run.

use std::sync::mpsc;
use std::time::Duration;

use gogroup::{WaitGroup, pool};

/// Found by the conformance suite: a task that blocks waiting for the next task used to strand
/// that task in the blocked worker's own deque until some idle worker timed out.
#[test]
fn a_task_waiting_for_the_next_task_never_strands_it() {
    pool::set_idle_timeout(Duration::from_secs(3600));
    for round in 0..200 {
        let wg = WaitGroup::new();
        let (tx, rx) = mpsc::channel::<()>();
        wg.go(move || {
            rx.recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!("round {round}: the second task was stranded behind the first")
                });
        });
        wg.go(move || tx.send(()).unwrap());
        wg.wait();
    }
}

/// Regression (found by the Python suite on CI): Go's TestWaitGroup shape on the pool — 16 tasks
/// that each block until all 16 have started. A worker that stole one task from a blocked
/// worker's deque, or took an injector task instead of the one it was told about, used to leave
/// the rest stranded while workers slept. Sleeping workers must be woken for them, and the pool
/// must not grow far beyond the tasks that block at once.
#[test]
fn sixteen_tasks_blocked_on_each_other_all_start_and_the_pool_stays_small() {
    pool::set_idle_timeout(Duration::from_secs(3600));
    const N: u32 = 16;
    for round in 0..500 {
        let (started, release) = (WaitGroup::new(), WaitGroup::new());
        started.add(N as i64).unwrap();
        release.add(N as i64).unwrap();
        let runners = WaitGroup::new();
        for i in 0..N {
            let (started, release) = (started.clone(), release.clone());
            runners.go(move || {
                started.done().unwrap();
                assert!(release.wait_timeout(Duration::from_secs(30)));
            });
            if (round + i) % 7 == 0 {
                std::thread::yield_now(); // vary how the tasks spread over the workers' deques
            }
        }
        assert!(
            started.wait_timeout(Duration::from_secs(30)),
            "round {round}: {} of {N} tasks never started; pool {:?}",
            started.count(),
            pool::stats()
        );
        for _ in 0..N {
            release.done().unwrap();
        }
        runners.wait();
    }
    // At most 16 tasks block at once, so at most 16 workers are ever busy; the pool only grows
    // when every worker is busy. 64 leaves room for workers caught between states.
    let live = pool::stats().live;
    assert!(
        live <= 64,
        "the pool grew to {live} threads for 16 blocked tasks"
    );
}
