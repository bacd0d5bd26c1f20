//! Go's `runnext` in gogroup: a task its waiter ran itself (see `WaitGroup::go`) is left in the
//! pool's queue for a worker to discard. Its own test binary: it asserts on the whole pool.

use std::time::{Duration, Instant};

use gogroup::{WaitGroup, pool};

/// Tasks their waiters ran themselves stay in the queue until a worker discards them; they
/// must not look like work nobody takes (which starts threads). Before the fix, two threads
/// doing `go` + `wait` in a loop grew the pool to hundreds of threads on a 2-core machine.
#[test]
fn tasks_run_by_their_waiters_do_not_make_the_pool_grow() {
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                // Long enough for many starvation checks (one per millisecond while work waits).
                let until = Instant::now() + Duration::from_millis(400);
                while Instant::now() < until {
                    for _ in 0..1_000 {
                        let wg = WaitGroup::new();
                        wg.go(|| {});
                        wg.wait();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = pool::stats();
    assert!(s.live <= 64, "the pool grew to {} threads", s.live);
    // A handed-off task stays queued until a worker discards it, which may be just after the
    // loops end: wait for that (the bound only turns a task left behind into a failure).
    let end = Instant::now() + Duration::from_secs(30);
    while pool::stats().queued != 0 {
        assert!(
            Instant::now() < end,
            "tasks left queued: {:?}",
            pool::stats()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
