use loom::thread;

use crate::loom::{Arc, AtomicUsize};
use crate::{CancelToken, Error};
use std::sync::atomic::Ordering;

/// A child created while its parent is being cancelled ends up cancelled, with the parent's
/// cause, and the parent keeps no trace of it.
#[test]
fn loom_cancel_racing_child_creation_never_misses_the_child() {
    loom::model(|| {
        let root = CancelToken::new();
        let cause = Error::custom("stop");
        let r = root.clone();
        let c = cause.clone();
        let canceller = thread::spawn(move || {
            r.cancel_with(c);
        });
        let child = root.child();
        canceller.join().unwrap();
        assert!(child.is_cancelled());
        assert!(Error::ptr_eq(&child.cause().unwrap(), &cause));
        drop(child);
        assert_eq!(root.dependents(), 0);
    });
}

/// `stop` and `cancel` race: exactly one of "the callback ran" and "stop returned true".
#[test]
fn loom_on_cancel_and_stop_agree_on_who_won() {
    loom::model(|| {
        let token = CancelToken::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let reg = token.on_cancel_inline(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let t = token.clone();
        let canceller = thread::spawn(move || {
            t.cancel();
        });
        let stopped = reg.stop();
        canceller.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst) + usize::from(stopped), 1);
        assert_eq!(token.dependents(), 0);
    });
}

/// Two cancels with different causes: one wins, and every descendant has that cause.
#[test]
fn loom_first_cancel_wins_for_the_whole_subtree() {
    loom::model(|| {
        let root = CancelToken::new();
        let leaf = root.child().child();
        let (a, b) = (Error::custom("a"), Error::custom("b"));
        let (r, a2) = (root.clone(), a.clone());
        let t = thread::spawn(move || r.cancel_with(a2));
        let won_b = root.cancel_with(b.clone());
        let won_a = t.join().unwrap();
        assert!(won_a ^ won_b);
        let expected = if won_a { &a } else { &b };
        assert!(Error::ptr_eq(&leaf.cause().unwrap(), expected));
    });
}

/// A blocked `wait` is woken by a cancel on another thread.
#[test]
fn loom_cancel_wakes_a_blocked_waiter() {
    loom::model(|| {
        let token = CancelToken::new();
        let t = token.clone();
        let canceller = thread::spawn(move || {
            t.cancel();
        });
        token.wait();
        canceller.join().unwrap();
    });
}
