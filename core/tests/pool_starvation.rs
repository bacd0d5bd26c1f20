//! Regression (found by the conformance suite): a task that blocks waiting for the next task
//! used to strand that task in the blocked worker's own deque until some idle worker timed out.
//! Its own test binary, because it sets the process-wide idle timeout to an hour so that only
//! the fix — not an idle worker's timeout — can let the second task run.

use std::sync::mpsc;
use std::time::Duration;

use gogroup::{WaitGroup, pool};

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
