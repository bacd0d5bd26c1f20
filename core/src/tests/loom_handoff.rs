use loom::thread;

use crate::loom::{Arc, AtomicUsize};
use crate::pool::handoff::Handoff;
use std::sync::atomic::Ordering;

/// A task shared by a pool worker and the thread waiting for it runs exactly once, and what it
/// wrote is visible to whoever claimed it.
#[test]
fn loom_a_handed_off_task_runs_exactly_once() {
    loom::model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let task = Arc::new(Handoff::new(1, move || {
            r.fetch_add(1, Ordering::Relaxed);
        }));
        let worker = {
            let task = task.clone();
            thread::spawn(move || task.claim().map(|f| f()).is_some())
        };
        let waiter_ran = task.claim().map(|f| f()).is_some();
        let worker_ran = worker.join().unwrap();
        assert!(waiter_ran != worker_ran, "exactly one of them claims it");
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    });
}
