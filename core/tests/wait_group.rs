//! `WaitGroup`: the scenarios of Go's `sync/waitgroup_test.go`, rewritten from their
//! descriptions, plus our departures (bounded and cancellable waits, futures, panic capture).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{TryRecvError, channel};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{CountingWaker, HANG, SHORT, block_on, panic_message, poll_once, recv, within};
use gogroup::{CancelToken, Error, ErrorKind, WaitGroup};

/// Go's `testWaitGroup`: `n` threads each call `wg1.done()` and then block in `wg2.wait()`.
/// The main thread waits on `wg1`, then releases `wg2` one unit at a time, checking that
/// nobody got through before the counter reached zero.
fn barrier_round(wg1: &WaitGroup, wg2: &WaitGroup) {
    const N: usize = 16;
    wg1.add(N as i64).unwrap();
    wg2.add(N as i64).unwrap();
    let (exited_tx, exited_rx) = channel();
    for _ in 0..N {
        let (wg1, wg2, exited_tx) = (wg1.clone(), wg2.clone(), exited_tx.clone());
        thread::spawn(move || {
            wg1.done().unwrap();
            wg2.wait();
            exited_tx.send(()).unwrap();
        });
    }
    drop(exited_tx);
    wg1.wait();
    for _ in 0..N {
        assert_eq!(
            exited_rx.try_recv(),
            Err(TryRecvError::Empty),
            "WaitGroup released a waiter before its counter reached zero"
        );
        wg2.done().unwrap();
    }
    for _ in 0..N {
        recv(
            &exited_rx,
            "a waiter was not released when the counter reached zero",
        );
    }
}

#[test]
fn sixteen_threads_meet_at_a_barrier_made_of_two_wait_groups_reused_eight_times() {
    within("a waiter of a finished round was never released", || {
        let wg1 = WaitGroup::new();
        let wg2 = WaitGroup::new();
        for _ in 0..8 {
            barrier_round(&wg1, &wg2);
            assert_eq!(wg1.count(), 0);
            assert_eq!(wg2.count(), 0);
        }
    });
}

#[test]
fn wait_returns_only_after_both_racing_threads_called_done_in_each_of_1000_rounds() {
    within("a lost wake-up between done and wait", || {
        for round in 0..1000 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicUsize::new(0));
            wg.add(2).unwrap();
            for _ in 0..2 {
                let (wg, n) = (wg.clone(), n.clone());
                thread::spawn(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    wg.done().unwrap();
                });
            }
            wg.wait();
            assert_eq!(
                n.load(Ordering::SeqCst),
                2,
                "spurious wake-up from wait in round {round}"
            );
        }
    });
}

#[test]
fn go_adds_before_returning_and_the_task_happens_before_wait_returns() {
    for _ in 0..100 {
        let wg = WaitGroup::new();
        // Relaxed on purpose: only the WaitGroup's own synchronisation makes the write visible.
        let i = Arc::new(AtomicUsize::new(0));
        let seen = i.clone();
        wg.go(move || {
            seen.store(seen.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        });
        wg.wait();
        assert_eq!(i.load(Ordering::Relaxed), 1);
        assert_eq!(wg.count(), 0);
    }
}

#[test]
fn go_counts_the_task_in_the_caller_before_the_task_runs() {
    let wg = WaitGroup::new();
    let release = CancelToken::new();
    let r = release.clone();
    wg.go(move || r.wait());
    // The add happened in `go` itself, whether or not the task has started yet.
    assert_eq!(wg.count(), 1);
    assert!(
        !wg.wait_timeout(SHORT),
        "wait returned while a go task was still blocked"
    );
    release.cancel();
    assert!(
        wg.wait_timeout(HANG),
        "a hang here means the go task's done was lost"
    );
}

#[test]
fn a_task_started_by_go_may_itself_call_go_and_wait_covers_both() {
    let wg = WaitGroup::new();
    let n = Arc::new(AtomicUsize::new(0));
    let (wg2, n2) = (wg.clone(), n.clone());
    wg.go(move || {
        let n3 = n2.clone();
        wg2.go(move || {
            n3.fetch_add(1, Ordering::SeqCst);
        });
        n2.fetch_add(1, Ordering::SeqCst);
    });
    assert!(
        wg.wait_timeout(HANG),
        "a hang here means a nested go task was never counted down"
    );
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

#[test]
fn wait_on_a_group_that_never_saw_add_returns_at_once() {
    let wg = WaitGroup::default();
    assert_eq!(wg.count(), 0);
    within("wait blocked on a zero counter", move || {
        wg.wait();
        assert!(wg.wait_timeout(Duration::ZERO));
        assert!(wg.wait_cancellable(&CancelToken::new()).is_ok());
        assert!(wg.wait_until(None, None).is_ok());
        block_on(wg.wait_async());
    });
}

#[test]
fn clones_share_one_counter() {
    let wg = WaitGroup::new();
    let other = wg.clone();
    other.add(3).unwrap();
    assert_eq!(wg.count(), 3);
    wg.done().unwrap();
    assert_eq!(other.count(), 2);
    other.add(-2).unwrap();
    assert_eq!(wg.count(), 0);
    assert!(wg.wait_timeout(Duration::ZERO));
}

#[test]
fn every_thread_blocked_in_wait_is_released_when_the_counter_reaches_zero() {
    const WAITERS: usize = 8;
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let started = Arc::new(Barrier::new(WAITERS + 1));
    let (tx, rx) = channel();
    for _ in 0..WAITERS {
        let (wg, started, tx) = (wg.clone(), started.clone(), tx.clone());
        thread::spawn(move || {
            started.wait();
            wg.wait();
            tx.send(()).unwrap();
        });
    }
    started.wait();
    wg.done().unwrap();
    for _ in 0..WAITERS {
        recv(&rx, "a waiter was not released: lost wake-up");
    }
}

#[test]
fn wait_timeout_reports_false_while_work_is_pending_and_true_once_it_is_done() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let before = Instant::now();
    assert!(!wg.wait_timeout(SHORT));
    assert!(
        before.elapsed() >= SHORT,
        "wait_timeout returned false before its timeout"
    );
    assert_eq!(wg.count(), 1, "a timed-out wait must not touch the counter");
    let wg2 = wg.clone();
    thread::spawn(move || wg2.done().unwrap());
    assert!(
        wg.wait_timeout(HANG),
        "a hang here means done did not wake a timed waiter"
    );
}

#[test]
fn wait_cancellable_returns_the_tokens_cause_when_the_token_fires_first() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let token = CancelToken::new();
    let cause = Error::custom("operator pressed stop");
    let (t, c) = (token.clone(), cause.clone());
    thread::spawn(move || {
        t.cancel_with(c);
    });
    let err = within("wait_cancellable ignored the token", {
        let wg = wg.clone();
        move || wg.wait_cancellable(&token).unwrap_err()
    });
    assert!(
        Error::ptr_eq(&err, &cause),
        "expected the token's cause, got {err:?}"
    );
    assert_eq!(wg.count(), 1, "giving up a wait must not touch the counter");
}

#[test]
fn wait_cancellable_returns_ok_when_the_counter_reaches_zero_first() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let token = CancelToken::new();
    let wg2 = wg.clone();
    thread::spawn(move || wg2.done().unwrap());
    within("done did not wake a cancellable waiter", move || {
        assert!(wg.wait_cancellable(&token).is_ok());
        assert!(!token.is_cancelled());
    });
}

#[test]
fn wait_until_reports_timeout_cancellation_or_success_without_unwinding() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();

    let err = wg
        .wait_until(Some(Instant::now() + SHORT), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.message(), "wait timed out");

    let err = wg.wait_until(Some(Instant::now()), None).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Timeout,
        "a deadline already reached times out at once"
    );

    let token = CancelToken::new();
    let cause = Error::custom("shutting down");
    token.cancel_with(cause.clone());
    let err = wg
        .wait_until(Some(Instant::now() + HANG), Some(&token))
        .unwrap_err();
    assert!(
        Error::ptr_eq(&err, &cause),
        "expected the token's cause, got {err:?}"
    );

    wg.done().unwrap();
    assert!(
        wg.wait_until(Some(Instant::now() + HANG), Some(&CancelToken::new()))
            .is_ok()
    );
    assert!(wg.wait_until(None, None).is_ok());
}

#[test]
fn cancellable_and_bounded_waits_leave_no_registration_on_the_token() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let token = CancelToken::new();
    let err = wg
        .wait_until(Some(Instant::now() + SHORT), Some(&token))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        token.dependents(),
        0,
        "a timed-out wait stayed registered on the token"
    );
    let wg2 = wg.clone();
    thread::spawn(move || wg2.done().unwrap());
    within("done did not wake a cancellable waiter", {
        let (wg, token) = (wg.clone(), token.clone());
        move || wg.wait_cancellable(&token).unwrap()
    });
    assert_eq!(
        token.dependents(),
        0,
        "a finished wait stayed registered on the token"
    );
}

#[test]
fn wait_async_completes_when_another_thread_finishes_the_work() {
    let wg = WaitGroup::new();
    wg.add(2).unwrap();
    let mut fut = wg.wait_async();
    let (_, waker) = CountingWaker::new();
    assert!(poll_once(&mut fut, &waker).is_pending());
    wg.done().unwrap();
    assert!(
        poll_once(&mut fut, &waker).is_pending(),
        "ready before the counter reached zero"
    );
    let wg2 = wg.clone();
    thread::spawn(move || wg2.done().unwrap());
    block_on(fut);
}

#[test]
fn wait_async_futures_are_send_and_can_be_driven_on_another_thread() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let fut = wg.wait_async();
    assert_send(&fut);
    let (tx, rx) = channel();
    thread::spawn(move || {
        block_on(fut);
        tx.send(()).unwrap();
    });
    wg.done().unwrap();
    recv(&rx, "the future on the other thread was never woken");
}

#[test]
fn dropping_a_pending_wait_async_future_leaves_no_registration_behind() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let (wakes, waker) = CountingWaker::new();
    let mut fut = wg.wait_async();
    assert!(poll_once(&mut fut, &waker).is_pending());
    drop(fut);
    wg.done().unwrap();
    assert_eq!(
        wakes.wakes(),
        0,
        "the waker of a dropped future was still registered"
    );
    // Many registrations that are dropped do not accumulate either: every one of them would be
    // woken at the next zero.
    wg.add(1).unwrap();
    for _ in 0..1000 {
        let mut f = wg.wait_async();
        assert!(poll_once(&mut f, &waker).is_pending());
    }
    wg.done().unwrap();
    assert_eq!(
        wakes.wakes(),
        0,
        "dropped futures were woken: registrations leaked"
    );
}

#[test]
fn a_registered_future_of_a_finished_round_is_released_even_if_add_starts_the_next_round_at_once() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let (wakes, waker) = CountingWaker::new();
    let mut fut = wg.wait_async();
    assert!(poll_once(&mut fut, &waker).is_pending());
    wg.done().unwrap();
    wg.add(1).unwrap(); // the next round starts before the waiter runs
    assert!(
        wakes.wakes() >= 1,
        "the waiter of the finished round was not woken"
    );
    assert_eq!(
        poll_once(&mut fut, &waker),
        Poll::Ready(()),
        "the waiter of the finished round was held back by the next round"
    );
    // A future created in the new round waits for the new round.
    let mut next = wg.wait_async();
    assert!(poll_once(&mut next, &waker).is_pending());
    wg.done().unwrap();
    assert_eq!(poll_once(&mut next, &waker), Poll::Ready(()));
}

#[test]
fn a_panic_in_a_go_task_is_resumed_by_wait_and_the_counter_is_released() {
    let wg = WaitGroup::new();
    wg.go(|| panic!("boom from a go task (expected by the test)"));
    let ok = Arc::new(AtomicUsize::new(0));
    let ok2 = ok.clone();
    wg.go(move || {
        ok2.fetch_add(1, Ordering::SeqCst);
    });
    let caught = within("wait never returned after a task panicked", {
        let wg = wg.clone();
        move || catch_unwind(AssertUnwindSafe(|| wg.wait())).map_err(|p| panic_message(&*p))
    });
    let message = caught.expect_err("wait must resume the task's panic");
    assert!(
        message.contains("boom from a go task"),
        "unexpected panic payload {message:?}"
    );
    assert_eq!(
        wg.count(),
        0,
        "a panicking task must still release the counter"
    );
    assert_eq!(
        ok.load(Ordering::SeqCst),
        1,
        "the other task must have run to completion"
    );
    // The panic is resumed once; the group is usable afterwards.
    wg.wait();
    wg.go(|| {});
    wg.wait();
}

#[test]
fn wait_until_reports_a_go_panic_as_an_error_instead_of_unwinding() {
    let wg = WaitGroup::new();
    wg.go(|| panic!("boom for wait_until (expected by the test)"));
    let res = within("wait_until never returned after a task panicked", {
        let wg = wg.clone();
        move || {
            catch_unwind(AssertUnwindSafe(|| {
                wg.wait_until(Some(Instant::now() + HANG), None)
            }))
        }
    });
    let res = res.expect("wait_until must never unwind");
    assert_eq!(res.unwrap_err().kind(), ErrorKind::Panic);
    assert_eq!(wg.count(), 0);
}

#[test]
fn only_the_first_of_several_go_panics_is_resumed_and_only_once() {
    let wg = WaitGroup::new();
    let (tx, rx) = channel::<()>();
    // The first task panics; the second panics only after the first panic was caught by the
    // pool (we cannot see that directly, so it waits for the first to have unwound: the
    // counter dropping to 1 means the first task's done ran).
    wg.go(|| panic!("first panic (expected by the test)"));
    let rx = std::sync::Mutex::new(rx);
    wg.go(move || {
        let _ = rx.lock().unwrap().recv_timeout(HANG);
        panic!("second panic (expected by the test)");
    });
    let wg2 = wg.clone();
    common::spin_until(
        "the first panicking task never released the counter",
        || wg2.count() == 1,
    );
    drop(tx);
    let first = catch_unwind(AssertUnwindSafe(|| wg.wait())).map_err(|p| panic_message(&*p));
    assert!(
        first
            .expect_err("wait must resume a panic")
            .contains("first panic"),
        "the first panic to happen must be the one resumed"
    );
    let second = catch_unwind(AssertUnwindSafe(|| wg.wait()));
    assert!(second.is_ok(), "a captured panic must be resumed only once");
}

#[test]
fn a_hundred_racing_go_calls_are_all_waited_for() {
    // Go's TestWaitGroupRacingAdds (golang/go#74386): many concurrent `go` calls, then wait.
    let wg = WaitGroup::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let anchor = CancelToken::new();
    let a = anchor.clone();
    wg.go(move || a.wait()); // keeps the group non-empty while others call go (Go's rule)
    let start = Arc::new(Barrier::new(100));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (wg, ran, start) = (wg.clone(), ran.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                wg.go(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                });
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    anchor.cancel();
    assert!(
        wg.wait_timeout(HANG),
        "a hang here means a racing go was never counted down"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn wait_resumes_the_original_panic_payload_even_when_it_is_not_a_string() {
    let wg = WaitGroup::new();
    wg.go(|| std::panic::panic_any(42_i32));
    let payload =
        catch_unwind(AssertUnwindSafe(|| wg.wait())).expect_err("wait must resume the panic");
    assert_eq!(
        payload.downcast_ref::<i32>(),
        Some(&42),
        "the payload must be resumed untouched"
    );
}

#[test]
fn go_then_wait_runs_every_task_exactly_once_whether_a_worker_or_the_waiter_runs_it() {
    let runs = Arc::new(AtomicUsize::new(0));
    for round in 1..=2_000 {
        let wg = WaitGroup::new();
        let r = runs.clone();
        wg.go(move || {
            r.fetch_add(1, Ordering::Relaxed);
        });
        wg.wait();
        assert_eq!(runs.load(Ordering::Relaxed), round, "after round {round}");
    }
}

#[test]
fn bounded_and_cancellable_waits_never_run_a_task_on_the_waiting_thread() {
    let me = std::thread::current().id();
    let stop = CancelToken::new();
    for round in 0..300 {
        let wg = WaitGroup::new();
        let (tx, rx) = std::sync::mpsc::channel();
        wg.go(move || tx.send(std::thread::current().id()).unwrap());
        if round % 2 == 0 {
            assert!(wg.wait_timeout(HANG));
        } else {
            wg.wait_cancellable(&stop).unwrap();
        }
        assert_ne!(
            rx.recv().unwrap(),
            me,
            "round {round} ran on the waiting thread"
        );
    }
}

#[test]
fn a_task_run_by_its_waiter_may_itself_go_and_wait() {
    for _ in 0..500 {
        let wg = WaitGroup::new();
        let inner_ran = Arc::new(AtomicUsize::new(0));
        let (w, r) = (wg.clone(), inner_ran.clone());
        wg.go(move || {
            let nested = WaitGroup::new();
            let r2 = r.clone();
            nested.go(move || {
                r2.fetch_add(1, Ordering::Relaxed);
            });
            nested.wait();
            w.go(move || {
                r.fetch_add(1, Ordering::Relaxed);
            });
        });
        wg.wait();
        assert_eq!(inner_ran.load(Ordering::Relaxed), 2);
    }
}

// ---- weak handles: waits that keep nothing alive (issue 12) ----------------------------------

#[test]
fn a_weak_wait_ends_as_abandoned_when_the_last_handle_goes_without_done() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let weak = wg.downgrade();
    let (counting, waker) = CountingWaker::new();
    let mut fut = Box::pin(weak.wait_async());
    assert!(poll_once(&mut fut, &waker).is_pending());
    drop(wg); // on this thread: the wake-up is not lost either
    assert_eq!(counting.wakes(), 1);
    assert!(matches!(poll_once(&mut fut, &waker), Poll::Ready(None)));
    assert_eq!(weak.count(), 1); // nothing changed the counter
}

#[test]
fn a_go_task_still_running_keeps_a_group_without_handles_from_being_abandoned() {
    let wg = WaitGroup::new();
    let weak = wg.downgrade();
    let (release, rx) = channel::<()>();
    wg.go(move || {
        let _ = rx.recv();
    });
    drop(wg);
    assert!(!weak.is_abandoned(), "the task can still finish the round");
    let (tx, waiting) = channel();
    thread::spawn(move || tx.send(block_on(weak.wait_async())).unwrap());
    release.send(()).unwrap();
    assert!(matches!(recv(&waiting, "a lost wake-up"), Some(Ok(()))));
}

#[test]
fn a_weak_wait_reports_a_panic_of_a_go_task_instead_of_resuming_it() {
    let wg = WaitGroup::new();
    wg.go(|| std::panic::resume_unwind(Box::new("boom")));
    let weak = wg.downgrade();
    let err = block_on(weak.wait_async()).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
    wg.wait(); // reported once: not resumed here
}

#[test]
fn a_weak_wait_on_a_zero_counter_completes_even_once_abandoned() {
    let weak = WaitGroup::new().downgrade();
    assert!(weak.is_abandoned());
    assert!(matches!(block_on(weak.wait_async()), Some(Ok(()))));
}
