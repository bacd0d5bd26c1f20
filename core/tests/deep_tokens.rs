//! Token trees of any depth: building, dropping and cancelling a chain of a million tokens must
//! neither overflow a small stack (no recursion anywhere in the tree) nor cost time in
//! proportion to the depth when the intermediate handles are gone (a `t = t.child()` chain is
//! spliced down to one link, as tokio-util's tree does).
//!
//! Depths: a chain that recursed once per level would overflow a 2 MiB stack at about 20,000
//! levels, so every chain here is at least 100,000 deep and the bookkeeping-heavy ones run on a
//! thread with exactly 2 MiB of stack. Nothing here asserts a duration; every wait is bounded
//! by a generous upper limit that turns a hang into a failure.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::HANG;
use gogroup::{CancelToken, Error, ErrorKind, Registration};

/// The spliced chains: splicing makes each level O(1), so a million levels is quick even in a
/// debug build.
const MILLION: usize = 1_000_000;

/// Chains that cannot be spliced (every handle kept, `any` or deadline levels) cost one
/// bookkeeping step per level; 100,000 keeps them quick in a debug build while still being
/// five times deeper than a recursive walk could survive on 2 MiB.
const DEEP: usize = 100_000;

const SMALL_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with a 2 MiB stack, turning a panic there into a failure here.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .name("deep-tokens-2mib".into())
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn a 2 MiB thread")
        .join()
        .expect("the 2 MiB thread panicked (a stack overflow aborts the process instead)")
}

/// `t = t.child()` `depth` times under `root`, dropping each previous handle: the leaf.
fn child_chain(root: &CancelToken, depth: usize) -> CancelToken {
    let mut t = root.child();
    for _ in 1..depth {
        t = t.child();
    }
    t
}

// ---------------------------------------------------------------------------------------------
// t = t.child(): spliced chains
// ---------------------------------------------------------------------------------------------

#[test]
fn cancelling_the_leaf_of_a_million_deep_child_chain_works_on_a_2mib_stack() {
    on_small_stack(|| {
        let root = CancelToken::new();
        let leaf = child_chain(&root, MILLION);
        assert_eq!(
            root.dependents(),
            1,
            "the handle-less levels should have been spliced out, leaving the leaf on the root"
        );
        assert!(leaf.cancel());
        assert_eq!(leaf.err().unwrap().kind(), ErrorKind::Canceled);
        assert!(
            !root.is_cancelled(),
            "cancelling a leaf never touches its ancestors"
        );
        assert_eq!(root.dependents(), 0, "the cancelled leaf left the root");
        drop(leaf);
        assert_eq!(root.dependents(), 0);
    });
}

#[test]
fn dropping_the_leaf_of_a_million_deep_child_chain_works_on_a_2mib_stack() {
    on_small_stack(|| {
        let root = CancelToken::new();
        let leaf = child_chain(&root, MILLION);
        drop(leaf);
        assert_eq!(root.dependents(), 0, "the whole chain left the root");
        assert!(!root.is_cancelled());
    });
}

#[test]
fn cancelling_or_dropping_the_leaf_of_a_million_deep_chain_works_on_the_test_thread() {
    let root = CancelToken::new();
    let leaf = child_chain(&root, MILLION);
    leaf.cancel();
    assert!(leaf.is_cancelled() && !root.is_cancelled());
    drop(leaf);
    assert_eq!(root.dependents(), 0);

    let leaf = child_chain(&root, MILLION);
    drop(leaf);
    assert_eq!(root.dependents(), 0);
}

#[test]
fn cancelling_the_root_of_a_million_deep_chain_reaches_the_leaf_with_the_cause() {
    on_small_stack(|| {
        let root = CancelToken::new();
        let leaf = child_chain(&root, MILLION);
        let why = Error::custom("shutting down");
        assert!(root.cancel_with(why.clone()));
        assert!(
            leaf.is_cancelled(),
            "cancel reaches every descendant before it returns"
        );
        assert_eq!(leaf.err().unwrap().kind(), ErrorKind::Canceled);
        assert!(Error::ptr_eq(&leaf.cause().unwrap(), &why));
    });
}

#[test]
fn a_chain_keeps_the_deadline_it_inherited_when_its_levels_are_spliced() {
    let root = CancelToken::new();
    let timed = root.with_timeout(Duration::from_secs(3600));
    let leaf = child_chain(&timed, DEEP);
    assert_eq!(leaf.deadline(), timed.deadline());
    assert_eq!(timed.dependents(), 1);
    timed.cancel();
    assert_eq!(leaf.err().unwrap().kind(), ErrorKind::Canceled);
}

// ---------------------------------------------------------------------------------------------
// Deadlines: the timer thread cancels deep chains and survives
// ---------------------------------------------------------------------------------------------

/// Waits for a fresh deadline to fire: proof that the timer thread is alive and has finished
/// everything scheduled before (it runs its entries one at a time, in order).
fn assert_timer_thread_still_fires() {
    let later = CancelToken::new().with_timeout(Duration::from_millis(1));
    assert!(
        later.wait_timeout(HANG),
        "a deadline scheduled afterwards never fired: the timer thread died"
    );
    assert_eq!(later.err().unwrap().kind(), ErrorKind::DeadlineExceeded);
}

#[test]
fn a_deadline_on_the_leaf_of_a_deep_child_chain_fires_and_the_timer_thread_survives() {
    on_small_stack(|| {
        let root = CancelToken::new();
        let parent = child_chain(&root, DEEP);
        let leaf = parent.with_timeout(Duration::from_millis(1));
        drop(parent);
        assert!(leaf.wait_timeout(HANG), "the leaf's deadline never fired");
        assert_eq!(leaf.err().unwrap().kind(), ErrorKind::DeadlineExceeded);
        assert_timer_thread_still_fires();
        assert_eq!(root.dependents(), 0, "the expired leaf left the chain");
        assert!(!root.is_cancelled());
    });
}

#[test]
fn a_firing_leaf_deadline_releases_a_deep_chain_of_deadline_tokens_on_the_timer_thread() {
    // Each level has an earlier deadline than its parent, so each has its own timer and
    // cannot be spliced: when the leaf fires, the timer thread releases every level in turn.
    on_small_stack(|| {
        let root = CancelToken::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut t = root.child();
        for i in 1..DEEP {
            t = t.with_deadline(far - Duration::from_micros(i as u64));
        }
        assert_eq!(root.dependents(), 1);
        let leaf = t.with_timeout(Duration::from_millis(1));
        drop(t);
        assert!(leaf.wait_timeout(HANG), "the leaf's deadline never fired");
        assert_eq!(leaf.err().unwrap().kind(), ErrorKind::DeadlineExceeded);
        assert_timer_thread_still_fires();
        assert_eq!(
            root.dependents(),
            0,
            "every level (and its pending deadline) left once the leaf expired"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Every handle kept: nothing is spliced, release and cancel walk the chain without recursion
// ---------------------------------------------------------------------------------------------

fn kept_chain(anchor: &CancelToken, depth: usize) -> Vec<CancelToken> {
    let mut chain = Vec::with_capacity(depth);
    chain.push(anchor.child());
    for i in 1..depth {
        let next = chain[i - 1].child();
        chain.push(next);
    }
    chain
}

#[test]
fn a_deep_chain_with_every_handle_kept_can_be_dropped_root_first_or_leaf_first() {
    on_small_stack(|| {
        let anchor = CancelToken::new();
        let chain = kept_chain(&anchor, DEEP);
        assert_eq!(anchor.dependents(), 1);
        for t in chain {
            drop(t); // root first: each level is spliced as it goes
        }
        assert_eq!(
            anchor.dependents(),
            0,
            "root-first drop left bookkeeping behind"
        );

        let mut chain = kept_chain(&anchor, DEEP);
        while let Some(t) = chain.pop() {
            drop(t); // leaf first: each level detaches from a parent that still has a handle
        }
        assert_eq!(
            anchor.dependents(),
            0,
            "leaf-first drop left bookkeeping behind"
        );

        // Drop every other level first, then the rest.
        let chain = kept_chain(&anchor, DEEP);
        let (even, odd): (Vec<_>, Vec<_>) =
            chain.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        drop(even);
        drop(odd);
        assert_eq!(
            anchor.dependents(),
            0,
            "interleaved drop left bookkeeping behind"
        );
    });
}

#[test]
fn a_deep_chain_with_every_handle_kept_can_be_cancelled_from_the_root_or_the_leaf() {
    on_small_stack(|| {
        let anchor = CancelToken::new();
        let chain = kept_chain(&anchor, DEEP);
        assert!(chain[DEEP - 1].cancel());
        assert!(chain[..DEEP - 1].iter().all(|t| !t.is_cancelled()));
        assert_eq!(chain[DEEP - 2].dependents(), 0);
        assert!(chain[0].cancel());
        assert!(chain.iter().all(CancelToken::is_cancelled));
        assert_eq!(anchor.dependents(), 0);
        drop(chain);

        // Cancelled at the root, then dropped leaf first and root first.
        for leaf_first in [true, false] {
            let mut chain = kept_chain(&anchor, DEEP);
            let why = Error::custom("root gave up");
            assert!(chain[0].cancel_with(why.clone()));
            assert!(Error::ptr_eq(&chain[DEEP - 1].cause().unwrap(), &why));
            if leaf_first {
                chain.reverse();
            }
            drop(chain);
            assert_eq!(anchor.dependents(), 0);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Chains that are never spliced: `any` of two parents, and deadlines at each level
// ---------------------------------------------------------------------------------------------

/// `t = any([t, side])` `depth` times: each level has two parents, so none is spliced.
fn any_chain(anchor: &CancelToken, side: &CancelToken, depth: usize) -> CancelToken {
    let mut t = anchor.child();
    for _ in 1..depth {
        t = CancelToken::any([&t, side]);
    }
    t
}

#[test]
fn a_deep_chain_of_any_tokens_is_released_and_cancelled_without_recursion() {
    on_small_stack(|| {
        let (anchor, side) = (CancelToken::new(), CancelToken::new());
        let leaf = any_chain(&anchor, &side, DEEP);
        assert_eq!(
            side.dependents(),
            DEEP - 1,
            "every level hangs from side too"
        );
        drop(leaf);
        assert_eq!(
            anchor.dependents(),
            0,
            "dropping the leaf released the whole chain"
        );
        assert_eq!(side.dependents(), 0);

        let leaf = any_chain(&anchor, &side, DEEP);
        assert!(leaf.cancel());
        assert!(!anchor.is_cancelled() && !side.is_cancelled());
        assert_eq!(
            anchor.dependents(),
            0,
            "cancelling the leaf released the whole chain"
        );
        assert_eq!(side.dependents(), 0);

        let leaf = any_chain(&anchor, &side, DEEP);
        let why = Error::custom("anchor");
        anchor.cancel_with(why.clone());
        assert!(Error::ptr_eq(&leaf.cause().unwrap(), &why));
        assert_eq!(
            side.dependents(),
            0,
            "cancelled levels left their other parent"
        );
    });
}

#[test]
fn a_deep_chain_of_deadline_tokens_is_released_and_cancelled_without_recursion() {
    on_small_stack(|| {
        let anchor = CancelToken::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let chain = |anchor: &CancelToken| {
            let mut t = anchor.child();
            for i in 1..DEEP {
                t = t.with_deadline(far - Duration::from_micros(i as u64));
            }
            t
        };
        let leaf = chain(&anchor);
        assert_eq!(
            leaf.deadline(),
            Some(far - Duration::from_micros(DEEP as u64 - 1))
        );
        drop(leaf);
        assert_eq!(
            anchor.dependents(),
            0,
            "dropping the leaf released every level"
        );

        let leaf = chain(&anchor);
        leaf.cancel();
        assert_eq!(
            anchor.dependents(),
            0,
            "cancelling the leaf released every level"
        );
        // Cancelling such a chain from the top walks the same worklist as the kept and `any`
        // chains above do; a third chain of timers would only add time to a debug run.
    });
}

// ---------------------------------------------------------------------------------------------
// Callbacks on spliced tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_finds_a_callback_whose_token_was_spliced_out() {
    let root = CancelToken::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let a = root.child();
    let b = a.child();
    let r = ran.clone();
    let reg = b.on_cancel_inline(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    drop(b); // b is spliced: its callback moves to a
    drop(a); // and a's to root
    assert_eq!(root.dependents(), 1, "the callback now hangs from the root");
    assert!(reg.stop(), "stop must find the callback where it moved");
    assert!(!reg.stop());
    assert_eq!(root.dependents(), 0);
    root.cancel();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a stopped callback never runs"
    );
}

#[test]
fn callbacks_moved_up_a_deep_chain_run_once_with_the_cause_unless_stopped() {
    const LEVELS: usize = 20_000;
    on_small_stack(|| {
        let root = CancelToken::new();
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..LEVELS).map(|_| AtomicUsize::new(0)).collect());
        let causes = Arc::new(Mutex::new(Vec::new()));
        let mut regs: Vec<Registration> = Vec::with_capacity(LEVELS);
        let mut t = root.child();
        for i in 0..LEVELS {
            let (runs, causes) = (runs.clone(), causes.clone());
            regs.push(t.on_cancel_inline(move |cause| {
                runs[i].fetch_add(1, Ordering::SeqCst);
                causes.lock().unwrap().push(cause);
            }));
            t = t.child(); // the previous level, with its callback, is spliced into the root
        }
        assert_eq!(
            root.dependents(),
            LEVELS + 1,
            "every callback and the leaf hang from the root"
        );
        let stopped: Vec<bool> = regs.iter().step_by(3).map(Registration::stop).collect();
        assert!(
            stopped.iter().all(|&s| s),
            "stop must find every moved callback"
        );
        assert_eq!(root.dependents(), LEVELS + 1 - stopped.len());

        let why = Error::custom("root cancelled");
        root.cancel_with(why.clone());
        assert!(t.is_cancelled());
        for (i, n) in runs.iter().enumerate() {
            let expected = usize::from(i % 3 != 0);
            assert_eq!(
                n.load(Ordering::SeqCst),
                expected,
                "callback {i} ran the wrong number of times"
            );
        }
        let causes = causes.lock().unwrap();
        assert_eq!(causes.len(), LEVELS - stopped.len());
        assert!(causes.iter().all(|c| Error::ptr_eq(c, &why)));
        assert!(
            regs.iter().all(|r| !r.stop()),
            "stop after the run reports false"
        );
    });
}

#[test]
fn a_callback_moved_onto_a_token_with_a_deadline_runs_when_the_deadline_fires() {
    let root = CancelToken::new();
    let timed = root.with_timeout(Duration::from_millis(1));
    let mid = timed.child();
    let (tx, rx) = std::sync::mpsc::channel();
    let _reg = mid
        .child()
        .on_cancel(move |cause| tx.send(cause.kind()).unwrap());
    drop(mid);
    let kind = common::recv(&rx, "the moved callback never ran");
    assert_eq!(kind, ErrorKind::DeadlineExceeded);
    assert_timer_thread_still_fires();
}

#[test]
fn a_token_nothing_can_cancel_any_more_lets_its_callbacks_go() {
    // The last handle of a root (no parent, no deadline) is gone: its callbacks can never run,
    // so the functions (and what they captured) are freed at once, even with the
    // registrations kept; stop still reports that it kept them from running.
    let captured = Arc::new(());
    let root = CancelToken::new();
    let child = root.child();
    let held = captured.clone();
    let on_root = root.on_cancel(move |_| drop(held));
    let held = captured.clone();
    let on_child = child.child().on_cancel(move |_| drop(held));
    assert_eq!(Arc::strong_count(&captured), 3);
    drop(root);
    assert_eq!(
        Arc::strong_count(&captured),
        2,
        "the root's callback was kept"
    );
    drop(child); // spliced into the root, which nothing can cancel
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "the moved callback was kept"
    );
    assert!(on_root.stop());
    assert!(on_child.stop());
}
