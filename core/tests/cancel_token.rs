//! `CancelToken`: the cancellation scenarios of Go's `context` tests (x_test.go), rewritten from
//! their descriptions, plus our additions (inline callbacks, drop guards, `any`, waits).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{TryRecvError, channel};
use std::sync::{Arc, Barrier, Mutex};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{CountingWaker, HANG, Rng, SHORT, block_on, poll_once, recv, spin_until, within};
use gogroup::{CancelToken, Error, ErrorKind};

const LONG: Duration = Duration::from_secs(3600);
const QUICK: Duration = Duration::from_millis(20);

fn assert_canceled_err(t: &CancelToken) {
    let err = t.err().expect("token should be cancelled");
    assert_eq!(err.kind(), ErrorKind::Canceled, "err() = {err:?}");
    assert_eq!(err.message(), "context canceled");
}

fn assert_deadline_err(t: &CancelToken) {
    let err = t.err().expect("token should be cancelled");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "err() = {err:?}");
    assert_eq!(err.message(), "context deadline exceeded");
}

fn assert_cause_is(t: &CancelToken, expected: &Error) {
    let cause = t.cause().expect("token should have a cause");
    assert!(
        Error::ptr_eq(&cause, expected),
        "cause() = {cause:?}, expected {expected:?}"
    );
}

fn assert_cause_kind(t: &CancelToken, kind: ErrorKind) {
    let cause = t.cause().expect("token should have a cause");
    assert_eq!(cause.kind(), kind, "cause() = {cause:?}");
}

// ---------------------------------------------------------------------------------------------
// Tree shape: XTestParentFinishesChild, XTestChildFinishesFirst, XTestCancelRemoves
// ---------------------------------------------------------------------------------------------

#[test]
fn cancelling_a_parent_finishes_its_child_its_timeout_child_and_its_callback() {
    let parent = CancelToken::new();
    let child = parent.child();
    let timed = parent.with_timeout(LONG);
    let grandchild = child.child();
    let (tx, rx) = channel();
    let _reg = parent.on_cancel(move |cause| tx.send(cause).unwrap());
    assert_eq!(
        parent.dependents(),
        3,
        "child, timeout child and callback are the dependents"
    );

    assert!(parent.cancel());
    assert_eq!(
        parent.dependents(),
        0,
        "cancel must clear the parent's dependents"
    );
    for t in [&parent, &child, &timed, &grandchild] {
        assert!(
            t.is_cancelled(),
            "cancel must reach every descendant before it returns"
        );
        assert_canceled_err(t);
        assert_cause_is(t, &Error::canceled());
    }
    let cause = recv(&rx, "the on_cancel callback never ran");
    assert!(Error::ptr_eq(&cause, &Error::canceled()));

    let late = parent.child();
    assert!(
        late.is_cancelled(),
        "a child created after cancel is born cancelled"
    );
    assert_canceled_err(&late);
}

#[test]
fn cancelling_a_child_first_removes_it_from_the_parent_and_leaves_the_parent_live() {
    let parent = CancelToken::new();
    let child = parent.child();
    let grandchild = child.child();
    assert_eq!(parent.dependents(), 1);
    assert_eq!(child.dependents(), 1);

    assert!(grandchild.cancel());
    assert_eq!(child.dependents(), 0);
    assert!(
        !child.is_cancelled(),
        "a child's cancel never touches its parent"
    );

    assert!(child.cancel());
    assert_eq!(
        parent.dependents(),
        0,
        "a cancelled child must be removed from its parent"
    );
    assert!(!parent.is_cancelled());
    assert_eq!(parent.err().map(|e| e.kind()), None);
    assert!(parent.cause().is_none());
}

#[test]
fn cancel_removes_a_child_a_timeout_child_and_a_stopped_callback_from_the_parent() {
    let parent = CancelToken::new();

    assert_eq!(parent.dependents(), 0);
    let child = parent.child();
    assert_eq!(parent.dependents(), 1);
    child.cancel();
    assert_eq!(parent.dependents(), 0, "child");

    let timed = parent.with_timeout(LONG);
    assert_eq!(parent.dependents(), 1);
    timed.cancel();
    assert_eq!(parent.dependents(), 0, "with_timeout");

    let reg = parent.on_cancel(|_| {});
    assert_eq!(parent.dependents(), 1);
    assert!(reg.stop());
    assert_eq!(parent.dependents(), 0, "on_cancel + stop");

    let reg = parent.on_cancel_inline(|_| {});
    assert_eq!(parent.dependents(), 1);
    assert!(reg.stop());
    assert_eq!(parent.dependents(), 0, "on_cancel_inline + stop");
    assert!(!parent.is_cancelled());
}

#[test]
fn dropping_the_last_handle_of_a_child_removes_it_from_the_parent() {
    let parent = CancelToken::new();
    let child = parent.child();
    let clone = child.clone();
    let timed = parent.with_timeout(LONG);
    assert_eq!(parent.dependents(), 2);
    drop(child);
    assert_eq!(parent.dependents(), 2, "a clone still holds the child");
    drop(clone);
    assert_eq!(parent.dependents(), 1);
    drop(timed);
    assert_eq!(parent.dependents(), 0);
    assert!(!parent.is_cancelled());
}

#[test]
fn stopping_the_last_callback_of_a_dropped_child_removes_the_child_from_the_parent() {
    let parent = CancelToken::new();
    let child = parent.child();
    let reg = child.on_cancel(|_| {});
    drop(child);
    assert_eq!(
        parent.dependents(),
        1,
        "a child with a live callback stays in the tree"
    );
    assert!(reg.stop());
    assert_eq!(
        parent.dependents(),
        0,
        "the child became unreachable when its callback was stopped"
    );
}

#[test]
fn a_timeout_keeps_running_for_descendants_after_its_own_handle_is_dropped() {
    let root = CancelToken::new();
    let timed = root.with_timeout(QUICK);
    let leaf = timed.child();
    drop(timed);
    assert!(
        leaf.wait_timeout(HANG),
        "a hang here means the dropped timeout's timer was disarmed"
    );
    assert_deadline_err(&leaf);
    assert!(!root.is_cancelled());
    drop(leaf);
    assert_eq!(root.dependents(), 0);
}

#[test]
fn cancelling_parent_cancels_grandchild_after_child_dropped() {
    let parent = CancelToken::new();
    let child = parent.child();
    let grandchild = child.child();
    let (tx, rx) = channel();
    let middle = parent.child();
    let _reg = middle.on_cancel(move |cause| tx.send(cause).unwrap());
    drop(child);
    drop(middle);
    assert_eq!(
        parent.dependents(),
        2,
        "children with live dependents stay in the tree"
    );

    parent.cancel_with(Error::custom("root gone"));
    assert!(grandchild.is_cancelled());
    assert_eq!(grandchild.cause().unwrap().message(), "root gone");
    assert_eq!(
        recv(&rx, "callback under a dropped child never ran").message(),
        "root gone"
    );
    assert_eq!(parent.dependents(), 0);
}

#[test]
fn the_tree_is_pruned_when_a_grandchild_outlives_its_dropped_parent_and_is_dropped_too() {
    let root = CancelToken::new();
    let child = root.child();
    let grandchild = child.child();
    drop(child);
    assert_eq!(root.dependents(), 1);
    drop(grandchild);
    assert_eq!(
        root.dependents(),
        0,
        "the dropped chain must be removed from the root"
    );
}

#[test]
fn a_fired_timeout_child_is_removed_from_its_parent() {
    let parent = CancelToken::new();
    let timed = parent.with_timeout(QUICK);
    assert!(
        timed.wait_timeout(HANG),
        "a hang here means the timer never fired"
    );
    assert_deadline_err(&timed);
    // Removal from the parent may finish just after waiters are woken; poll the diagnostic.
    spin_until(
        "a fired timeout child stayed registered in its parent",
        || parent.dependents() == 0,
    );
    assert!(
        !parent.is_cancelled(),
        "a child's deadline never touches its parent"
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency: TestSimultaneousCancels, TestInterlockedCancels
// ---------------------------------------------------------------------------------------------

#[test]
fn a_hundred_node_tree_survives_every_cancel_called_concurrently_in_random_order() {
    for seed in 0..5_u64 {
        let mut rng = Rng::new(seed + 1);
        let mut nodes = vec![CancelToken::new()];
        for _ in 1..100 {
            let p = rng.below(nodes.len());
            let node = if rng.below(2) == 0 {
                nodes[p].child()
            } else {
                nodes[p].with_timeout(LONG)
            };
            nodes.push(node);
        }
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        rng.shuffle(&mut order);
        let nodes = Arc::new(nodes);
        within(
            "concurrent cancels deadlocked (lock-order problem in the tree)",
            {
                let nodes = nodes.clone();
                move || {
                    let start = Arc::new(Barrier::new(order.len()));
                    let handles: Vec<_> = order
                        .into_iter()
                        .map(|i| {
                            let (nodes, start) = (nodes.clone(), start.clone());
                            thread::spawn(move || {
                                start.wait();
                                nodes[i].cancel();
                            })
                        })
                        .collect();
                    for h in handles {
                        h.join().unwrap();
                    }
                }
            },
        );
        for (i, n) in nodes.iter().enumerate() {
            assert!(n.is_cancelled(), "seed {seed}: node {i} not cancelled");
            assert_canceled_err(n);
            assert_eq!(
                n.dependents(),
                0,
                "seed {seed}: node {i} still has dependents"
            );
        }
    }
}

#[test]
fn a_thread_that_cancels_the_child_once_the_parent_is_done_does_not_deadlock() {
    for _ in 0..20 {
        let parent = CancelToken::new();
        let child = parent.child();
        let (p, c) = (parent.clone(), child.clone());
        let watcher = thread::spawn(move || {
            p.wait();
            c.cancel();
        });
        // A callback on the pool doing the same thing must not deadlock either.
        let c2 = child.clone();
        let _reg = parent.on_cancel(move |_| {
            c2.cancel();
        });
        assert!(parent.cancel());
        assert!(
            child.wait_timeout(HANG),
            "a hang here means the child was never cancelled"
        );
        within(
            "the watcher thread deadlocked cancelling the child",
            move || {
                watcher.join().unwrap();
            },
        );
        assert_canceled_err(&child);
    }
}

#[test]
fn an_inline_callback_may_cancel_derive_and_register_on_tokens_without_deadlocking() {
    within(
        "an inline callback deadlocked on the token's own lock",
        || {
            let parent = CancelToken::new();
            let child = parent.child();
            let (tx, rx) = channel();
            let (p, c) = (parent.clone(), child.clone());
            let _reg = parent.on_cancel_inline(move |cause| {
                // Re-entering the token that is being cancelled.
                assert!(
                    !p.cancel(),
                    "a second cancel must report that it did nothing"
                );
                c.cancel();
                let born = p.child();
                assert!(born.is_cancelled());
                let sibling = CancelToken::new();
                let s = sibling.clone();
                let _inner = p.on_cancel_inline(move |_| {
                    s.cancel();
                });
                tx.send((cause, sibling.is_cancelled())).unwrap();
            });
            parent.cancel();
            let (cause, sibling_cancelled) = rx
                .try_recv()
                .expect("inline callback did not run before cancel returned");
            assert!(Error::ptr_eq(&cause, &Error::canceled()));
            assert!(
                sibling_cancelled,
                "an inline registration on a cancelled token runs at once"
            );
            assert!(child.is_cancelled());
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Layers: TestLayersCancel, TestLayersTimeout
// ---------------------------------------------------------------------------------------------

fn random_stack(rng: &mut Rng, quick_at: Option<usize>) -> Vec<CancelToken> {
    let depth = 30 + rng.below(10);
    let mut layers = vec![CancelToken::new()];
    for i in 1..depth {
        let last = layers.last().unwrap();
        let next = if quick_at == Some(i) {
            last.with_timeout(QUICK)
        } else if rng.below(2) == 0 {
            last.child()
        } else {
            last.with_timeout(LONG)
        };
        layers.push(next);
    }
    layers
}

#[test]
fn cancelling_any_layer_of_a_random_thirty_layer_stack_cancels_the_leaf() {
    for seed in 0..40_u64 {
        let mut rng = Rng::new(seed + 100);
        let layers = random_stack(&mut rng, None);
        let k = rng.below(layers.len());
        assert!(layers[k].cancel());
        let leaf = layers.last().unwrap();
        assert!(
            leaf.is_cancelled(),
            "seed {seed}: leaf not cancelled by layer {k}"
        );
        assert_canceled_err(leaf);
        for (i, layer) in layers.iter().enumerate() {
            assert_eq!(
                layer.is_cancelled(),
                i >= k,
                "seed {seed}: layer {i} after cancelling {k}"
            );
        }
    }
}

#[test]
fn a_short_timeout_at_a_random_layer_of_a_thirty_layer_stack_cancels_the_leaf() {
    for seed in 0..5_u64 {
        let mut rng = Rng::new(seed + 200);
        let k = 1 + rng.below(29);
        let layers = random_stack(&mut rng, Some(k));
        let leaf = layers.last().unwrap();
        assert!(
            leaf.wait_timeout(HANG),
            "seed {seed}: a hang here means the timer at layer {k} never fired"
        );
        assert_deadline_err(leaf);
        assert_deadline_err(&layers[k]);
        for (i, layer) in layers.iter().enumerate() {
            assert_eq!(
                layer.is_cancelled(),
                i >= k,
                "seed {seed}: layer {i} after the timeout at {k}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cancelled parents: TestWithCancelCanceledParent, TestWithCancelSimultaneouslyCanceledParent
// ---------------------------------------------------------------------------------------------

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled_with_the_parents_cause() {
    let parent = CancelToken::new();
    let cause = Error::custom("parent gave up");
    parent.cancel_with(cause.clone());
    for child in [
        parent.child(),
        parent.with_timeout(LONG),
        CancelToken::any([&parent]),
    ] {
        assert!(child.is_cancelled());
        assert_canceled_err(&child);
        assert_cause_is(&child, &cause);
        assert!(
            !child.cancel(),
            "cancelling a born-cancelled child does nothing"
        );
        assert_cause_is(&child, &cause);
    }
    assert_eq!(
        parent.dependents(),
        0,
        "born-cancelled children are never registered"
    );
    let (tx, rx) = channel();
    let reg = parent.on_cancel(move |c| tx.send(c).unwrap());
    assert!(Error::ptr_eq(
        &recv(&rx, "on_cancel on a cancelled token never ran"),
        &cause
    ));
    assert!(!reg.stop());
}

#[test]
fn a_parent_cancelled_while_children_are_created_concurrently_cancels_every_child() {
    for round in 0..100 {
        let parent = CancelToken::new();
        let cause = Error::custom(format!("round {round}"));
        let start = Arc::new(Barrier::new(2));
        let canceller = {
            let (parent, cause, start) = (parent.clone(), cause.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                parent.cancel_with(cause);
            })
        };
        start.wait();
        let mut children = Vec::new();
        for i in 0..8 {
            children.push(if i % 2 == 0 {
                parent.child()
            } else {
                parent.with_timeout(LONG)
            });
        }
        canceller.join().unwrap();
        for (i, child) in children.iter().enumerate() {
            assert!(
                child.is_cancelled(),
                "round {round}: child {i} escaped its parent's cancel"
            );
            assert_canceled_err(child);
            assert_cause_is(child, &cause);
        }
        assert_eq!(parent.dependents(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// TestCause: err/cause pairs
// ---------------------------------------------------------------------------------------------

#[test]
fn cause_table_for_live_and_plainly_cancelled_tokens() {
    let live = CancelToken::new();
    assert!(live.err().is_none());
    assert!(live.cause().is_none());
    assert!(!live.is_cancelled());

    let t = CancelToken::new();
    assert!(t.cancel());
    assert_canceled_err(&t);
    assert_cause_is(&t, &Error::canceled());
    assert!(!t.cancel());
    assert!(!t.cancel_with(Error::custom("too late")));
    assert_cause_is(&t, &Error::canceled());
}

#[test]
fn cause_table_cancel_with_records_the_first_cause_and_err_stays_canceled() {
    let t = CancelToken::new();
    let first = Error::custom("first");
    assert!(t.cancel_with(first.clone()));
    assert!(!t.cancel_with(Error::custom("second")));
    assert!(!t.cancel());
    assert_canceled_err(&t);
    assert_cause_is(&t, &first);
}

#[test]
fn cause_table_parent_then_child_gives_both_the_parents_cause() {
    let parent = CancelToken::new();
    let child = parent.child();
    let (pc, cc) = (Error::custom("parent cause"), Error::custom("child cause"));
    parent.cancel_with(pc.clone());
    assert!(!child.cancel_with(cc));
    assert_cause_is(&parent, &pc);
    assert_cause_is(&child, &pc);
    assert_canceled_err(&child);
}

#[test]
fn cause_table_child_then_parent_keeps_each_its_own_cause() {
    let parent = CancelToken::new();
    let child = parent.child();
    let (pc, cc) = (Error::custom("parent cause"), Error::custom("child cause"));
    child.cancel_with(cc.clone());
    parent.cancel_with(pc.clone());
    assert_cause_is(&parent, &pc);
    assert_cause_is(&child, &cc);
}

#[test]
fn cause_table_plain_parent_cancel_then_child_cause_gives_canceled() {
    let parent = CancelToken::new();
    let child = parent.child();
    parent.cancel();
    child.cancel_with(Error::custom("child cause"));
    assert_cause_is(&child, &Error::canceled());
    assert_canceled_err(&child);
}

#[test]
fn cause_table_plain_child_cancel_then_parent_cause_keeps_canceled_in_the_child() {
    let parent = CancelToken::new();
    let child = parent.child();
    let pc = Error::custom("parent cause");
    child.cancel();
    parent.cancel_with(pc.clone());
    assert_cause_is(&child, &Error::canceled());
    assert_cause_is(&parent, &pc);
}

#[test]
fn cause_table_with_timeout_fired_gives_deadline_exceeded_for_err_and_cause() {
    let t = CancelToken::new().with_timeout(QUICK);
    assert!(
        t.wait_timeout(HANG),
        "a hang here means the timer never fired"
    );
    assert_deadline_err(&t);
    assert_cause_kind(&t, ErrorKind::DeadlineExceeded);
    assert!(!t.cancel());
    assert_deadline_err(&t);
}

#[test]
fn a_timeout_never_fires_before_its_deadline() {
    for _ in 0..5 {
        let t = CancelToken::new().with_timeout(QUICK);
        let deadline = t.deadline().unwrap();
        assert!(
            t.wait_timeout(HANG),
            "a hang here means the timer never fired"
        );
        assert!(
            Instant::now() >= deadline,
            "the timer fired before the deadline"
        );
    }
}

#[test]
fn cause_table_with_timeout_cancelled_gives_canceled_synchronously() {
    let t = CancelToken::new().with_timeout(LONG);
    assert!(t.cancel());
    assert!(t.is_cancelled());
    assert_canceled_err(&t);
    assert_cause_is(&t, &Error::canceled());
}

#[test]
fn cause_table_with_timeout_cause_fired_gives_the_given_cause() {
    let too_slow = Error::custom("too slow");
    let t = CancelToken::new().with_timeout_cause(QUICK, too_slow.clone());
    assert!(
        t.wait_timeout(HANG),
        "a hang here means the timer never fired"
    );
    assert_deadline_err(&t);
    assert_cause_is(&t, &too_slow);
}

#[test]
fn cause_table_with_timeout_cause_cancelled_does_not_use_the_given_cause() {
    let t = CancelToken::new().with_timeout_cause(LONG, Error::custom("too slow"));
    assert!(t.cancel());
    assert_canceled_err(&t);
    assert_cause_is(&t, &Error::canceled());
}

#[test]
fn cause_table_with_deadline_cause_fired_gives_the_given_cause() {
    let too_slow = Error::custom("too slow");
    let t = CancelToken::new().with_deadline_cause(Instant::now() + QUICK, too_slow.clone());
    assert!(
        t.wait_timeout(HANG),
        "a hang here means the timer never fired"
    );
    assert_deadline_err(&t);
    assert_cause_is(&t, &too_slow);
}

#[test]
fn cause_table_stacked_timeout_cause_that_fired_keeps_its_cause_when_the_parent_is_cancelled_later()
{
    let parent = CancelToken::new();
    let too_slow = Error::custom("too slow");
    let t = parent.with_timeout_cause(Duration::ZERO, too_slow.clone());
    assert!(
        t.wait_timeout(HANG),
        "a hang here means a zero timeout never fired"
    );
    parent.cancel_with(Error::custom("finished early"));
    assert_deadline_err(&t);
    assert_cause_is(&t, &too_slow);
}

#[test]
fn cause_table_stacked_long_timeout_cause_takes_the_parents_cause_when_the_parent_is_cancelled() {
    let parent = CancelToken::new();
    let finished_early = Error::custom("finished early");
    let t = parent.with_timeout_cause(LONG, Error::custom("too slow"));
    parent.cancel_with(finished_early.clone());
    assert_canceled_err(&t);
    assert_cause_is(&t, &finished_early);
}

#[test]
fn an_outer_short_timeout_beats_an_inner_long_one() {
    let outer = CancelToken::new().with_timeout(QUICK);
    let inner = outer.with_timeout(LONG);
    assert!(
        inner.wait_timeout(HANG),
        "a hang here means the outer timer never fired"
    );
    assert_deadline_err(&inner);
    assert_cause_kind(&inner, ErrorKind::DeadlineExceeded);
}

#[test]
fn a_deadline_that_already_passed_cancels_at_creation() {
    let root = CancelToken::new();
    let past = root.with_deadline(Instant::now());
    assert!(
        past.is_cancelled(),
        "Go cancels at construction when the deadline has passed"
    );
    assert_deadline_err(&past);
    let zero = root.with_timeout(Duration::ZERO);
    assert!(zero.is_cancelled());
    assert_deadline_err(&zero);
    let why = Error::custom("already late");
    let with_cause = root.with_timeout_cause(Duration::ZERO, why.clone());
    assert!(with_cause.is_cancelled());
    assert_cause_is(&with_cause, &why);
    assert!(!root.is_cancelled());
}

#[test]
fn cause_and_err_are_never_seen_half_written_while_another_thread_cancels() {
    for _ in 0..50 {
        let t = CancelToken::new();
        let cause = Error::custom("racing cause");
        let start = Arc::new(Barrier::new(2));
        let watcher = {
            let (t, cause, start) = (t.clone(), cause.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let deadline = Instant::now() + HANG;
                loop {
                    if let Some(err) = t.err() {
                        // Err non-nil implies done (golang/go#75533).
                        assert!(t.is_cancelled());
                        assert!(t.wait_timeout(Duration::ZERO));
                        let (_, waker) = CountingWaker::new();
                        assert_eq!(poll_once(&mut t.wait_async(), &waker), Poll::Ready(()));
                        assert_eq!(err.kind(), ErrorKind::Canceled);
                    }
                    if let Some(c) = t.cause() {
                        assert!(
                            Error::ptr_eq(&c, &cause),
                            "saw a cause other than the one given: {c:?}"
                        );
                        assert!(t.err().is_some());
                        return;
                    }
                    assert!(Instant::now() < deadline, "the cancel never became visible");
                    std::hint::spin_loop();
                }
            })
        };
        start.wait();
        t.cancel_with(cause);
        watcher.join().unwrap();
    }
}

#[test]
fn exactly_one_of_many_concurrent_cancellers_wins_and_its_cause_sticks() {
    const N: usize = 8;
    for _ in 0..25 {
        let t = CancelToken::new();
        let start = Arc::new(Barrier::new(N));
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (t, start) = (t.clone(), start.clone());
                thread::spawn(move || {
                    let cause = Error::custom(format!("canceller {i}"));
                    start.wait();
                    (t.cancel_with(cause.clone()), cause)
                })
            })
            .collect();
        let results: Vec<(bool, Error)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<&Error> = results
            .iter()
            .filter(|(won, _)| *won)
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one cancel call must report that it cancelled"
        );
        assert_cause_is(&t, winners[0]);
    }
}

// ---------------------------------------------------------------------------------------------
// AfterFunc: the five tests
// ---------------------------------------------------------------------------------------------

#[test]
fn on_cancel_runs_only_after_cancel_and_stop_then_reports_false() {
    let t = CancelToken::new();
    let (tx, rx) = channel();
    let reg = t.on_cancel(move |cause| tx.send(cause).unwrap());
    assert_eq!(
        rx.try_recv().unwrap_err(),
        TryRecvError::Empty,
        "ran before cancel"
    );
    let cause = Error::custom("stop now");
    t.cancel_with(cause.clone());
    let got = recv(&rx, "on_cancel callback never ran after cancel");
    assert!(
        Error::ptr_eq(&got, &cause),
        "the callback receives the cause"
    );
    assert!(
        !reg.stop(),
        "stop after the callback started must report false"
    );
}

#[test]
fn on_cancel_runs_when_a_timeout_fires() {
    let t = CancelToken::new().with_timeout(QUICK);
    let (tx, rx) = channel();
    let _reg = t.on_cancel(move |cause| tx.send(cause).unwrap());
    let got = recv(&rx, "on_cancel callback never ran after the timeout");
    assert_eq!(got.kind(), ErrorKind::DeadlineExceeded);
}

#[test]
fn on_cancel_on_an_already_cancelled_token_runs_immediately() {
    let t = CancelToken::new();
    t.cancel();
    let (tx, rx) = channel();
    let reg = t.on_cancel(move |cause| tx.send(cause).unwrap());
    let got = recv(&rx, "on_cancel on a cancelled token never ran");
    assert!(Error::ptr_eq(&got, &Error::canceled()));
    assert!(!reg.stop());
    assert_eq!(t.dependents(), 0);
}

/// Sends on drop, so a test can learn that a callback closure was discarded.
struct DropSignal(std::sync::mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn on_cancel_is_not_called_after_stop_and_a_second_stop_reports_false() {
    let t = CancelToken::new();
    let ran = Arc::new(AtomicBool::new(false));
    let (dropped_tx, dropped_rx) = channel();
    let signal = DropSignal(dropped_tx);
    let r = ran.clone();
    let reg = t.on_cancel(move |_| {
        let _keep = &signal; // the closure owns the signal; it fires when f is discarded
        r.store(true, Ordering::SeqCst);
    });
    assert!(reg.stop(), "the first stop prevents the callback");
    assert!(!reg.stop(), "a second stop reports false");
    t.cancel();
    drop(reg);
    drop(t);
    // If f had been run, `ran` was set before its closure (and the signal) was dropped.
    recv(
        &dropped_rx,
        "the stopped callback was never dropped (leaked registration)",
    );
    assert!(!ran.load(Ordering::SeqCst), "a stopped callback ran");
}

#[test]
fn cancel_returns_while_an_on_cancel_callback_is_still_blocked() {
    let t = CancelToken::new();
    let (started_tx, started_rx) = channel();
    let (release_tx, release_rx) = channel::<()>();
    let (finished_tx, finished_rx) = channel();
    let _reg = t.on_cancel(move |_| {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(HANG);
        finished_tx.send(()).unwrap();
    });
    let t2 = t.clone();
    within(
        "cancel waited for a blocked on_cancel callback",
        move || {
            assert!(t2.cancel());
        },
    );
    recv(&started_rx, "the callback never started");
    release_tx.send(()).unwrap();
    recv(&finished_rx, "the callback never finished");
}

#[test]
fn once_cancel_has_returned_stop_reports_false_and_every_callback_still_runs() {
    // Go: cancel commits an AfterFunc to run ("if stop returns false, either the context is
    // done and f has been started in its own goroutine, or f was already stopped"); a stop()
    // after cancel() returned can no longer prevent f.
    let t = CancelToken::new();
    let ran = gogroup::WaitGroup::new();
    let regs: Vec<_> = (0..200)
        .map(|_| {
            ran.add(1).unwrap();
            let ran = ran.clone();
            t.on_cancel(move |_| ran.done().unwrap())
        })
        .collect();
    t.cancel();
    let stopped = regs.iter().filter(|r| r.stop()).count();
    assert_eq!(
        stopped, 0,
        "stop() after cancel() returned still prevented {stopped} of 200 callbacks"
    );
    assert!(
        ran.wait_timeout(HANG),
        "{} callbacks never ran after cancel",
        ran.count()
    );
}

#[test]
fn on_cancel_callbacks_run_off_the_cancelling_thread() {
    let t = CancelToken::new();
    let (tx, rx) = channel();
    let _reg = t.on_cancel(move |_| tx.send(thread::current().id()).unwrap());
    t.cancel();
    let id = recv(&rx, "callback never ran");
    assert_ne!(
        id,
        thread::current().id(),
        "on_cancel must run on the pool, not inline"
    );
}

// ---------------------------------------------------------------------------------------------
// Our additions
// ---------------------------------------------------------------------------------------------

#[test]
fn on_cancel_inline_runs_on_the_cancelling_thread_before_cancel_returns() {
    let t = CancelToken::new();
    let child = t.child();
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let _reg = child.on_cancel_inline(move |cause| {
        *s.lock().unwrap() = Some((thread::current().id(), cause));
    });
    let cause = Error::custom("inline");
    t.cancel_with(cause.clone());
    let (id, got) = seen
        .lock()
        .unwrap()
        .take()
        .expect("inline callback did not run before cancel returned");
    assert_eq!(id, thread::current().id());
    assert!(Error::ptr_eq(&got, &cause));
}

#[test]
fn on_cancel_inline_on_an_already_cancelled_token_runs_before_registration_returns() {
    let t = CancelToken::new();
    t.cancel();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let reg = t.on_cancel_inline(move |_| r.store(true, Ordering::SeqCst));
    assert!(ran.load(Ordering::SeqCst));
    assert!(!reg.stop());
}

#[test]
fn a_stopped_inline_callback_never_runs() {
    let t = CancelToken::new();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let reg = t.on_cancel_inline(move |_| r.store(true, Ordering::SeqCst));
    assert!(reg.stop());
    t.cancel();
    assert!(
        !ran.load(Ordering::SeqCst),
        "inline callbacks run before cancel returns, so this is final"
    );
}

#[test]
fn a_drop_guard_cancels_its_token_when_dropped() {
    let t = CancelToken::new();
    let child = t.child();
    {
        let _guard = t.drop_guard();
        assert!(!t.is_cancelled());
    }
    assert!(t.is_cancelled());
    assert!(child.is_cancelled());
    assert_cause_is(&t, &Error::canceled());
}

#[test]
fn disarming_a_drop_guard_returns_the_token_and_prevents_the_cancel() {
    let t = CancelToken::new();
    let guard = t.drop_guard();
    let back = guard.disarm();
    assert!(CancelToken::ptr_eq(&back, &t));
    drop(back);
    assert!(!t.is_cancelled());
}

#[test]
fn a_drop_guard_cancels_during_unwinding() {
    let t = CancelToken::new();
    let t2 = t.clone();
    let r = std::panic::catch_unwind(move || {
        let _guard = t2.drop_guard();
        panic!("unwinding through a drop guard (expected by the test)");
    });
    assert!(r.is_err());
    assert!(t.is_cancelled());
}

#[test]
fn any_is_cancelled_with_the_cause_of_the_input_that_fired() {
    let (a, b, c) = (CancelToken::new(), CancelToken::new(), CancelToken::new());
    let x = CancelToken::any([&a, &b, &c]);
    assert!(!x.is_cancelled());
    let cb = Error::custom("b fired");
    b.cancel_with(cb.clone());
    assert!(
        x.is_cancelled(),
        "any must be cancelled before the input's cancel returns"
    );
    assert_canceled_err(&x);
    assert_cause_is(&x, &cb);
    assert!(
        !a.is_cancelled() && !c.is_cancelled(),
        "any never cancels its inputs"
    );
    drop(x);
    assert_eq!(
        a.dependents(),
        0,
        "any left a dependent in an input that did not fire"
    );
    assert_eq!(
        c.dependents(),
        0,
        "any left a dependent in an input that did not fire"
    );
    assert_eq!(b.dependents(), 0);
}

#[test]
fn any_forwards_a_deadline_cause_and_a_later_input_does_not_overwrite_it() {
    let a = CancelToken::new();
    let why = Error::custom("a's timer");
    let timed = a.with_timeout_cause(QUICK, why.clone());
    let b = CancelToken::new();
    let x = CancelToken::any([&timed, &b]);
    assert!(
        x.wait_timeout(HANG),
        "a hang here means the timer input never reached any"
    );
    assert_cause_is(&x, &why);
    b.cancel_with(Error::custom("late"));
    assert_cause_is(&x, &why);
}

#[test]
fn any_of_an_already_cancelled_input_is_born_cancelled_and_registers_nowhere() {
    let (a, b) = (CancelToken::new(), CancelToken::new());
    let cause = Error::custom("b was already done");
    b.cancel_with(cause.clone());
    let x = CancelToken::any([&a, &b]);
    assert!(x.is_cancelled());
    assert_cause_is(&x, &cause);
    drop(x);
    assert_eq!(a.dependents(), 0);
}

#[test]
fn any_that_is_dropped_or_cancelled_itself_leaves_its_inputs_untouched_and_clean() {
    let (a, b) = (CancelToken::new(), CancelToken::new());
    let x = CancelToken::any([&a, &b]);
    drop(x);
    assert_eq!(
        (a.dependents(), b.dependents()),
        (0, 0),
        "a dropped any stays registered"
    );

    let y = CancelToken::any([&a, &b]);
    let yc = y.child();
    assert!(y.cancel());
    assert!(yc.is_cancelled());
    assert!(!a.is_cancelled() && !b.is_cancelled());
    assert_eq!(
        (a.dependents(), b.dependents()),
        (0, 0),
        "a cancelled any stays registered"
    );
}

#[test]
fn any_of_many_inputs_from_different_trees_fires_from_a_deep_descendant_cancel() {
    let roots: Vec<CancelToken> = (0..16).map(|_| CancelToken::new()).collect();
    let x = CancelToken::any(roots.iter());
    let grand = x.child().child();
    roots[11].cancel();
    assert!(grand.is_cancelled());
    drop(grand);
    drop(x);
    for (i, r) in roots.iter().enumerate() {
        assert_eq!(r.dependents(), 0, "input {i} still has dependents");
    }
}

#[test]
fn deadline_is_the_minimum_with_the_ancestors() {
    let root = CancelToken::new();
    assert_eq!(root.deadline(), None);
    assert_eq!(root.child().deadline(), None);

    let before = Instant::now();
    let hour = root.with_timeout(LONG);
    let after = Instant::now();
    let d = hour.deadline().expect("with_timeout sets a deadline");
    assert!(d >= before + LONG && d <= after + LONG);

    assert_eq!(
        hour.child().deadline(),
        Some(d),
        "a child inherits the deadline"
    );
    assert_eq!(
        hour.with_timeout(2 * LONG).deadline(),
        Some(d),
        "a later deadline is capped"
    );
    assert_eq!(
        hour.child().with_timeout(3 * LONG).deadline(),
        Some(d),
        "capped by a grandparent"
    );

    let soon = Instant::now() + Duration::from_secs(60);
    assert_eq!(
        hour.with_deadline(soon).deadline(),
        Some(soon),
        "an earlier deadline wins"
    );
    assert_eq!(hour.with_deadline(soon).child().deadline(), Some(soon));
    assert_eq!(
        hour.deadline(),
        Some(d),
        "a child's deadline never touches its parent"
    );
    assert_eq!(
        CancelToken::any([&root, &hour]).deadline(),
        Some(d),
        "any: the earliest input deadline"
    );
    assert_eq!(CancelToken::any([&root, &root.child()]).deadline(), None);
}

#[test]
fn bounded_and_cancellable_waits_leave_no_registration_on_the_other_token() {
    let me = CancelToken::new();
    let other = CancelToken::new();
    let err = me
        .wait_until(Some(Instant::now() + SHORT), Some(&other))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        other.dependents(),
        0,
        "a timed-out wait stayed registered on the other token"
    );
    let m = me.clone();
    thread::spawn(move || {
        m.cancel();
    });
    me.wait_cancellable(&other).unwrap();
    assert_eq!(
        other.dependents(),
        0,
        "a finished wait stayed registered on the other token"
    );
}

#[test]
fn clones_are_the_same_token_and_children_are_not() {
    let t = CancelToken::default();
    let c = t.clone();
    assert!(CancelToken::ptr_eq(&t, &c));
    assert!(!CancelToken::ptr_eq(&t, &t.child()));
    assert!(!CancelToken::ptr_eq(&t, &CancelToken::new()));
    c.cancel();
    assert!(t.is_cancelled());
}

#[test]
fn wait_blocks_until_another_thread_cancels() {
    let t = CancelToken::new();
    let t2 = t.clone();
    thread::spawn(move || {
        t2.cancel();
    });
    within("wait missed the cancel (lost wake-up)", move || t.wait());
}

#[test]
fn wait_timeout_reports_false_on_a_live_token_and_true_once_cancelled() {
    let t = CancelToken::new();
    let before = Instant::now();
    assert!(!t.wait_timeout(SHORT));
    assert!(
        before.elapsed() >= SHORT,
        "wait_timeout returned false before its timeout"
    );
    let t2 = t.clone();
    thread::spawn(move || {
        t2.cancel();
    });
    assert!(t.wait_timeout(HANG), "a hang here means a lost wake-up");
}

#[test]
fn wait_cancellable_returns_ok_for_self_and_the_other_tokens_cause_for_other() {
    let me = CancelToken::new();
    let other = CancelToken::new();
    let why = Error::custom("other fired");
    let o = other.clone();
    let w = why.clone();
    thread::spawn(move || {
        o.cancel_with(w);
    });
    let err = within("wait_cancellable ignored the other token", {
        let me = me.clone();
        move || me.wait_cancellable(&other).unwrap_err()
    });
    assert!(Error::ptr_eq(&err, &why));
    assert!(!me.is_cancelled());

    let other = CancelToken::new();
    let m = me.clone();
    thread::spawn(move || {
        m.cancel();
    });
    within("wait_cancellable missed its own cancel", move || {
        assert!(me.wait_cancellable(&other).is_ok());
    });
}

#[test]
fn wait_until_reports_timeout_other_cause_or_success() {
    let t = CancelToken::new();
    let err = t
        .wait_until(Some(Instant::now() + SHORT), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let err = t.wait_until(Some(Instant::now()), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);

    let other = CancelToken::new();
    let why = Error::custom("other");
    other.cancel_with(why.clone());
    let err = t
        .wait_until(Some(Instant::now() + HANG), Some(&other))
        .unwrap_err();
    assert!(Error::ptr_eq(&err, &why));

    t.cancel();
    assert!(t.wait_until(None, None).is_ok());
    assert!(
        t.wait_until(Some(Instant::now()), None).is_ok(),
        "a cancelled token wins over an expired deadline"
    );
}

#[test]
fn wait_async_completes_when_another_thread_cancels() {
    let t = CancelToken::new();
    let mut fut = t.wait_async();
    let (_, waker) = CountingWaker::new();
    assert!(poll_once(&mut fut, &waker).is_pending());
    let t2 = t.clone();
    thread::spawn(move || {
        t2.cancel();
    });
    block_on(fut);
    // An already-cancelled token gives a ready future.
    assert_eq!(poll_once(&mut t.wait_async(), &waker), Poll::Ready(()));
}

#[test]
fn wait_async_is_woken_by_a_parents_cancel() {
    let parent = CancelToken::new();
    let child = parent.child().child();
    let (wakes, waker) = CountingWaker::new();
    let mut fut = child.wait_async();
    assert!(poll_once(&mut fut, &waker).is_pending());
    parent.cancel();
    assert!(
        wakes.wakes() >= 1,
        "cancel must wake the futures of descendants before it returns"
    );
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(()));
}

#[test]
fn dropping_a_pending_wait_async_future_leaves_no_registration_behind() {
    let t = CancelToken::new();
    let base = t.dependents();
    let (wakes, waker) = CountingWaker::new();
    for _ in 0..1000 {
        let mut fut = t.wait_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
    }
    assert_eq!(
        t.dependents(),
        base,
        "dropped futures are still counted as dependents"
    );
    t.cancel();
    assert_eq!(
        wakes.wakes(),
        0,
        "the waker of a dropped future was still registered"
    );
}

#[test]
fn many_threads_waiting_on_one_token_are_all_released() {
    const N: usize = 8;
    let t = CancelToken::new();
    let start = Arc::new(Barrier::new(N + 1));
    let (tx, rx) = channel();
    for i in 0..N {
        let (t, start, tx) = (t.clone(), start.clone(), tx.clone());
        thread::spawn(move || {
            start.wait();
            match i % 3 {
                0 => t.wait(),
                1 => assert!(t.wait_timeout(HANG)),
                _ => block_on(t.wait_async()),
            }
            tx.send(()).unwrap();
        });
    }
    start.wait();
    t.cancel();
    for _ in 0..N {
        recv(&rx, "a waiter was not released by cancel");
    }
}

#[test]
fn callbacks_registered_from_many_threads_each_run_exactly_once() {
    let t = CancelToken::new();
    let count = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel();
    let regs: Vec<_> = (0..64)
        .map(|i| {
            let (count, tx) = (count.clone(), tx.clone());
            if i % 2 == 0 {
                t.on_cancel(move |_| {
                    count.fetch_add(1, Ordering::SeqCst);
                    tx.send(()).unwrap();
                })
            } else {
                t.on_cancel_inline(move |_| {
                    count.fetch_add(1, Ordering::SeqCst);
                    tx.send(()).unwrap();
                })
            }
        })
        .collect();
    assert_eq!(t.dependents(), 64);
    t.cancel();
    t.cancel();
    for _ in 0..64 {
        recv(&rx, "a callback never ran");
    }
    assert_eq!(count.load(Ordering::SeqCst), 64);
    assert!(regs.iter().all(|r| !r.stop()));
    assert_eq!(t.dependents(), 0);
}

#[test]
fn a_panicking_callback_neither_stops_the_other_callbacks_nor_the_canceller() {
    let t = CancelToken::new();
    let child = t.child();
    let (tx, rx) = channel();
    let _r1 = t.on_cancel_inline(|_| panic!("inline callback exploded (expected by the test)"));
    let _r2 = t.on_cancel(|_| panic!("pool callback exploded (expected by the test)"));
    let tx2 = tx.clone();
    let _r3 = t.on_cancel_inline(move |_| tx2.send("inline").unwrap());
    let _r4 = t.on_cancel(move |_| tx.send("pool").unwrap());
    let t2 = t.clone();
    let returned = within("cancel hung after a callback panicked", move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t2.cancel()))
    });
    assert!(
        returned.is_ok(),
        "a callback's panic must not unwind into cancel"
    );
    assert!(child.is_cancelled());
    let mut got = vec![
        recv(&rx, "a callback was skipped"),
        recv(&rx, "a callback was skipped"),
    ];
    got.sort_unstable();
    assert_eq!(got, ["inline", "pool"]);
}

#[test]
fn a_callback_may_stop_its_own_registration_and_drop_the_last_handle_of_its_token() {
    within(
        "a callback re-entering its own registration deadlocked",
        || {
            let root = CancelToken::new();
            let t = root.child();
            let slot: Arc<Mutex<Option<gogroup::Registration>>> = Arc::new(Mutex::new(None));
            let (tx, rx) = channel();
            let (s, last_handle) = (slot.clone(), t.clone());
            let reg = t.on_cancel_inline(move |_| {
                let reg = s.lock().unwrap().take().expect("registration stored");
                let stopped = reg.stop();
                drop(last_handle);
                tx.send(stopped).unwrap();
            });
            *slot.lock().unwrap() = Some(reg);
            drop(t);
            root.cancel();
            assert!(
                !rx.try_recv().expect("inline callback did not run"),
                "stop inside f must return false"
            );
            assert_eq!(root.dependents(), 0);
        },
    );
}

#[test]
fn an_overflowing_timeout_means_no_deadline_instead_of_a_panic() {
    let root = CancelToken::new();
    let t = root.with_timeout(Duration::MAX);
    assert!(!t.is_cancelled());
    assert!(t.deadline().is_none_or(|d| d > Instant::now() + LONG));
    let t2 = root.with_timeout_cause(Duration::MAX, Error::custom("never"));
    assert!(!t2.is_cancelled());
    root.cancel();
    assert!(t.is_cancelled() && t2.is_cancelled());
    assert!(
        t.wait_timeout(Duration::MAX),
        "an overflowing wait on a cancelled token returns at once"
    );
}

#[test]
fn an_any_token_whose_inputs_are_all_dropped_lets_its_callbacks_go() {
    // Issue 12: a pending `whenCancelled()` on such a token held its resolver forever (the
    // dead inputs and the `any` node also held each other).
    let (a, b) = (CancelToken::new(), CancelToken::new());
    let either = CancelToken::any([&a, &b]);
    let kept = std::sync::Arc::new(());
    let k = kept.clone();
    let reg = either.on_cancel_inline(move |_| drop(k));
    let grandchild = either.child(); // a handle below: it stays, without its dead ancestors
    drop(either);
    drop(a);
    assert_eq!(
        std::sync::Arc::strong_count(&kept),
        2,
        "b can still cancel it"
    );
    drop(b);
    assert_eq!(
        std::sync::Arc::strong_count(&kept),
        1,
        "the callback was kept"
    );
    assert!(reg.stop());
    assert!(!grandchild.is_cancelled());
    assert!(grandchild.cancel()); // still a token of its own
}
