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

/// A handle-less token is spliced out (its child and callback move to its parent) while the
/// grandparent is cancelled: the child and the callback are cancelled exactly once, with the
/// grandparent's cause, wherever they hang at that moment, and nothing is left registered.
#[test]
fn loom_splice_racing_a_cancel_of_the_grandparent_misses_nothing() {
    loom::model(|| {
        let root = CancelToken::new();
        let parent = root.child();
        let node = parent.child();
        let leaf = node.child();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let cause = Error::custom("stop");
        let seen = cause.clone();
        let _reg = node.on_cancel_inline(move |c| {
            assert!(Error::ptr_eq(&c, &seen));
            r.fetch_add(1, Ordering::SeqCst);
        });
        let (r, c) = (root.clone(), cause.clone());
        let canceller = thread::spawn(move || {
            r.cancel_with(c);
        });
        drop(node); // splices `node` out, unless the cancel got there first
        canceller.join().unwrap();
        assert!(leaf.is_cancelled());
        assert!(Error::ptr_eq(&leaf.cause().unwrap(), &cause));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(parent.dependents(), 0);
        drop((leaf, parent));
        assert_eq!(root.dependents(), 0);
    });
}

/// While a token is spliced out, a grandchild is created under its child and its callback is
/// stopped: `stop` finds the callback wherever it is and wins (it never runs), the new
/// grandchild is reached by a later cancel, and the bookkeeping ends up on the parent.
#[test]
fn loom_splice_racing_child_creation_and_stop() {
    loom::model(|| {
        let parent = CancelToken::new();
        let node = parent.child();
        let leaf = node.child();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let reg = node.on_cancel_inline(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let splicer = thread::spawn(move || drop(node));
        let stopper = thread::spawn(move || reg.stop());
        let grandchild = leaf.child();
        splicer.join().unwrap();
        assert!(
            stopper.join().unwrap(),
            "stop must find the callback wherever it moved"
        );
        assert_eq!(
            parent.dependents(),
            1,
            "only the leaf is left, on the parent"
        );
        parent.cancel();
        assert!(leaf.is_cancelled() && grandchild.is_cancelled());
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

/// Two neighbouring levels are spliced at once (each holds the other's lock at some point:
/// parent before child, so no deadlock) and the leaf ends up on the root.
#[test]
fn loom_neighbouring_splices_collapse_the_chain() {
    loom::model(|| {
        let root = CancelToken::new();
        let upper = root.child();
        let lower = upper.child();
        let leaf = lower.child();
        let t = thread::spawn(move || drop(upper));
        drop(lower);
        t.join().unwrap();
        assert_eq!(root.dependents(), 1);
        root.cancel();
        assert!(leaf.is_cancelled());
        drop(leaf);
        assert_eq!(root.dependents(), 0);
    });
}

/// Counts its drops (a callback's captured state: dropped when the callback runs or is let go).
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An `any` token whose inputs are all forgotten, on two threads in either order, lets its
/// callback go (tree invariant 4: nothing can cancel it), never runs it, and keeps nothing.
#[test]
fn loom_any_of_forgotten_roots_lets_its_callbacks_go() {
    loom::model(|| {
        let (a, b) = (CancelToken::new(), CancelToken::new());
        let either = CancelToken::any([&a, &b]);
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let (guard, r) = (Dropped(drops.clone()), ran.clone());
        let reg = either.on_cancel_inline(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
        drop(either);
        let t = thread::spawn(move || drop(a));
        drop(b);
        t.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the callback was kept");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert!(reg.stop()); // it never ran
    });
}

/// A forgotten root unlinks its `any` child while the child's other input is cancelled on
/// another thread: the child is cancelled exactly once, by that input.
#[test]
fn loom_a_forgotten_root_unlinking_a_child_races_a_cancel_of_its_other_parent() {
    loom::model(|| {
        let (a, b) = (CancelToken::new(), CancelToken::new());
        let either = CancelToken::any([&a, &b]);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        either.on_cancel_inline(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let why = Error::custom("b");
        let w = why.clone();
        let t = thread::spawn(move || b.cancel_with(w));
        drop(a);
        t.join().unwrap();
        assert!(either.is_cancelled());
        assert!(Error::ptr_eq(&either.cause().unwrap(), &why));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
}
