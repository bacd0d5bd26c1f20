use loom::thread;

use crate::WaitGroup;
use crate::loom::{Arc, AtomicUsize};
use std::sync::atomic::Ordering;

/// `done` happens-before the `wait` it releases, and no wake-up is lost.
#[test]
fn loom_done_releases_wait_and_publishes_writes() {
    loom::model(|| {
        let wg = WaitGroup::new();
        let data = Arc::new(AtomicUsize::new(0));
        wg.add(2).unwrap();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (wg, data) = (wg.clone(), data.clone());
                thread::spawn(move || {
                    data.fetch_add(1, Ordering::Relaxed);
                    wg.done().unwrap();
                })
            })
            .collect();
        wg.wait();
        assert_eq!(data.load(Ordering::Relaxed), 2);
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// A waiter of a finished round is released even if `add` starts the next round at once.
#[test]
fn loom_reuse_never_traps_a_waiter_of_the_previous_round() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let w = wg.clone();
        let t = thread::spawn(move || {
            w.done().unwrap();
            w.add(1).unwrap(); // next round starts at once
        });
        wg.wait(); // must return: its round ended
        t.join().unwrap();
        assert_eq!(wg.count(), 1);
        wg.done().unwrap();
    });
}

/// Two waiters and a rejected negative `add` racing the last `done`.
#[test]
fn loom_negative_add_is_rejected_without_disturbing_waiters() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let w1 = wg.clone();
        let waiter = thread::spawn(move || w1.wait());
        let w2 = wg.clone();
        let bad = thread::spawn(move || {
            // Either rejected (counter 0 → -1) or it is the done that ends the round.
            let _ = w2.add(-1);
        });
        bad.join().unwrap();
        if wg.count() == 1 {
            wg.done().unwrap();
        }
        waiter.join().unwrap();
        assert_eq!(wg.count(), 0);
        assert!(wg.done().is_err());
    });
}

/// A weak wait whose group loses its last handle on another thread, without a `done`, ends as
/// abandoned: the wake-up of the last holder is never lost (invariant 8).
#[test]
fn loom_weak_wait_ends_when_the_last_holder_goes() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let weak = wg.downgrade();
        let other = wg.clone();
        let t = thread::spawn(move || drop(other));
        drop(wg);
        assert!(super::block_on(weak.wait_async()).is_none());
        t.join().unwrap();
        assert_eq!(weak.count(), 1);
    });
}

/// A `done` that ends the round just before the last handle goes is seen as the end of the
/// round, never as abandonment, however the two race with the waiter.
#[test]
fn loom_weak_wait_reports_a_round_that_ended_before_the_last_holder_went() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1).unwrap();
        let weak = wg.downgrade();
        let t = thread::spawn(move || {
            wg.done().unwrap();
            drop(wg);
        });
        assert!(matches!(super::block_on(weak.wait_async()), Some(Ok(()))));
        t.join().unwrap();
        assert!(weak.is_abandoned());
    });
}
