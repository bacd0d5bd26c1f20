//! `ErrGroup`: the scenarios of golang/sync's `errgroup_test.go`, rewritten from their
//! descriptions, plus our departures (panic capture, cancellable `go`, collecting all errors,
//! shutdown, bounded and async waits).

mod common;

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use common::{
    CountingWaker, HANG, SHORT, TaskResult, block_on, panic_message, poll_once, recv, spin_until,
    within,
};
use gogroup::{CancelToken, Collect, ErrGroup, Error, ErrorKind};

fn task_returning(e: Option<Error>) -> impl FnOnce(CancelToken) -> TaskResult + Send + 'static {
    move |_| match e {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn assert_same(got: &gogroup::Result<()>, want: Option<&Error>, context: &str) {
    match (got, want) {
        (Ok(()), None) => {}
        (Err(g), Some(w)) if Error::ptr_eq(g, w) => {}
        _ => panic!("{context}: got {got:?}, want {want:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// TestZeroGroup, TestWithContext, TestCancelCause
// ---------------------------------------------------------------------------------------------

#[test]
fn a_zero_group_keeps_the_first_error_sticky_across_go_and_wait_cycles() {
    let err1 = Error::custom("errgroup_test: 1");
    let err2 = Error::custom("errgroup_test: 2");
    let cases: Vec<Vec<Option<Error>>> = vec![
        vec![],
        vec![None],
        vec![Some(err1.clone())],
        vec![Some(err1.clone()), None],
        vec![Some(err1.clone()), None, Some(err2.clone())],
    ];
    for errs in cases {
        let g = ErrGroup::new();
        let mut first: Option<Error> = None;
        for (i, e) in errs.iter().enumerate() {
            g.go(task_returning(e.clone())).unwrap();
            let got = g.wait();
            if first.is_none() {
                first = e.clone();
            }
            assert_same(
                &got,
                first.as_ref(),
                &format!("errs {errs:?}, after task {i}"),
            );
        }
        assert!(
            g.wait().is_ok() == first.is_none(),
            "a later wait returns the same result"
        );
        assert!(
            !g.token().is_cancelled(),
            "a zero group never cancels its token on error or wait"
        );
    }
}

#[test]
fn a_group_with_a_token_cancels_it_when_wait_returns_even_on_success() {
    let doom = Error::custom("group_test: doomed");
    let cases: Vec<(Vec<Option<Error>>, Option<Error>)> = vec![
        (vec![], None),
        (vec![None], None),
        (vec![Some(doom.clone())], Some(doom.clone())),
        (vec![Some(doom.clone()), None], Some(doom.clone())),
    ];
    for (errs, want) in cases {
        let parent = CancelToken::new();
        let g = ErrGroup::with_token(&parent);
        for e in &errs {
            g.go(task_returning(e.clone())).unwrap();
        }
        let got = g.wait();
        assert_same(&got, want.as_ref(), &format!("errs {errs:?}"));
        let token = g.token();
        assert!(
            token.is_cancelled(),
            "errs {errs:?}: the group token must be cancelled once wait returns"
        );
        assert_eq!(
            token.err().unwrap().kind(),
            ErrorKind::Canceled,
            "err() is never the task error"
        );
        assert!(!parent.is_cancelled(), "the group never cancels its parent");
        assert_eq!(
            parent.dependents(),
            0,
            "the cancelled group token must leave its parent"
        );
    }
}

#[test]
fn the_group_tokens_cause_is_the_first_error_or_canceled_when_every_task_succeeded() {
    let doom = Error::custom("group_test: doomed");
    let cases: Vec<(Vec<Option<Error>>, Option<Error>)> = vec![
        (vec![], None),
        (vec![None], None),
        (vec![Some(doom.clone())], Some(doom.clone())),
        (vec![Some(doom.clone()), None], Some(doom.clone())),
    ];
    for (errs, want) in cases {
        let g = ErrGroup::with_token(&CancelToken::new());
        for e in &errs {
            assert!(
                g.try_go(task_returning(e.clone())),
                "try_go without a limit always starts the task"
            );
        }
        let got = g.wait();
        assert_same(&got, want.as_ref(), &format!("errs {errs:?}"));
        let cause = g.token().cause().expect("cancelled after wait");
        match &want {
            Some(w) => assert!(Error::ptr_eq(&cause, w), "errs {errs:?}: cause {cause:?}"),
            None => assert_eq!(
                cause.kind(),
                ErrorKind::Canceled,
                "errs {errs:?}: cause {cause:?}"
            ),
        }
    }
}

#[test]
fn the_first_error_cancels_the_group_token_before_wait_is_called() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let doom = Error::custom("doomed");
    let d = doom.clone();
    g.go(move |_| -> TaskResult { Err(d) }).unwrap();
    g.go(|t| -> TaskResult {
        // A hang (10 s) here means the first error did not cancel the token.
        if t.wait_timeout(HANG) {
            Ok(())
        } else {
            Err(Error::custom("token not cancelled by the first error"))
        }
    })
    .unwrap();
    // Observe it from outside as well, while both tasks may still be counted.
    assert!(
        g.token().wait_timeout(HANG),
        "the first error must cancel the group token at once"
    );
    let cause = g.token().cause().unwrap();
    assert!(Error::ptr_eq(&cause, &doom));
    assert_same(&g.wait(), Some(&doom), "wait");
}

#[test]
fn every_task_receives_the_group_token() {
    let parent = CancelToken::new();
    let g = ErrGroup::with_token(&parent);
    let (tx, rx) = channel();
    g.go(move |t| -> TaskResult {
        tx.send(t).unwrap();
        Ok(())
    })
    .unwrap();
    let t = recv(&rx, "task never ran");
    assert!(CancelToken::ptr_eq(&t, g.token()));
    assert!(
        !CancelToken::ptr_eq(&t, &parent),
        "the group token is a child of the parent"
    );
    parent.cancel();
    assert!(
        t.is_cancelled(),
        "cancelling the parent reaches the group token"
    );
    g.wait().unwrap();
}

#[test]
fn go_still_runs_tasks_after_an_error() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let doom = Error::custom("doomed");
    g.go(task_returning(Some(doom.clone()))).unwrap();
    assert!(g.token().wait_timeout(HANG));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    g.go(move |t| -> TaskResult {
        assert!(
            t.is_cancelled(),
            "the task sees the cancelled token and may stop early"
        );
        r.store(true, Ordering::SeqCst);
        Ok(())
    })
    .unwrap();
    assert_same(&g.wait(), Some(&doom), "wait");
    assert!(
        ran.load(Ordering::SeqCst),
        "Go keeps starting tasks after an error"
    );
}

#[test]
fn the_first_error_to_finish_wins_not_the_first_started() {
    let g = ErrGroup::new();
    let gate = CancelToken::new();
    let (slow, fast) = (
        Error::custom("started first"),
        Error::custom("finished first"),
    );
    let (s, gt) = (slow.clone(), gate.clone());
    g.go(move |_| -> TaskResult {
        gt.wait();
        Err(s)
    })
    .unwrap();
    g.go(task_returning(Some(fast.clone()))).unwrap();
    spin_until("the fast task's error was never recorded", || {
        !g.errors().is_empty()
    });
    gate.cancel();
    assert_same(&g.wait(), Some(&fast), "wait");
    assert_eq!(
        g.errors().len(),
        1,
        "Collect::First keeps at most the first error"
    );
}

// ---------------------------------------------------------------------------------------------
// TestTryGo, TestGoLimit
// ---------------------------------------------------------------------------------------------

/// Starts `n` tasks with `try_go` that block until `release` is cancelled.
fn try_go_blocked(g: &ErrGroup, n: usize, release: &CancelToken) {
    for i in 0..n {
        let r = release.clone();
        assert!(
            g.try_go(move |_| -> TaskResult {
                r.wait();
                Ok(())
            }),
            "try_go {i} of {n} should have started"
        );
    }
}

fn never_runs(_: CancelToken) -> TaskResult {
    panic!("try_go ran a task although the limit was full")
}

#[test]
fn try_go_respects_limits_of_42_then_1_then_0() {
    let g = ErrGroup::new();
    g.set_limit(42).unwrap();
    let release = CancelToken::new();
    try_go_blocked(&g, 42, &release);
    assert_eq!(g.active(), 42);
    assert!(!g.try_go(never_runs), "the 43rd try_go must fail");
    release.cancel();
    within("wait never returned after releasing the tasks", {
        let g = g.clone();
        move || g.wait().unwrap()
    });
    assert_eq!(g.active(), 0);

    let release = CancelToken::new();
    try_go_blocked(&g, 1, &release);
    release.cancel();
    g.wait().unwrap();

    g.set_limit(1).unwrap();
    let release = CancelToken::new();
    try_go_blocked(&g, 1, &release);
    assert!(
        !g.try_go(never_runs),
        "limit 1: the second try_go must fail"
    );
    release.cancel();
    g.wait().unwrap();

    g.set_limit(0).unwrap();
    for _ in 0..1024 {
        assert!(!g.try_go(never_runs), "limit 0: nothing may start");
    }
    assert_eq!(g.active(), 0);
    within("wait on a group that started nothing blocked", move || {
        g.wait().unwrap()
    });
}

#[test]
fn try_go_without_a_limit_always_starts_the_task() {
    let g = ErrGroup::new();
    let release = CancelToken::new();
    try_go_blocked(&g, 200, &release);
    assert_eq!(g.active(), 200);
    release.cancel();
    g.wait().unwrap();
}

#[test]
fn go_with_limit_10_never_lets_more_than_10_of_1025_tasks_run_at_once() {
    const LIMIT: usize = 10;
    let g = ErrGroup::new();
    g.set_limit(LIMIT as i64).unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    for _ in 0..=1024 {
        let active = active.clone();
        g.go(move |_| -> TaskResult {
            let n = active.fetch_add(1, Ordering::SeqCst) + 1;
            // Give other tasks a chance to start (work, not synchronisation).
            thread::yield_now();
            active.fetch_sub(1, Ordering::SeqCst);
            if n > LIMIT {
                return Err(Error::custom(format!(
                    "saw {n} active tasks; want <= {LIMIT}"
                )));
            }
            Ok(())
        })
        .unwrap();
    }
    let g2 = g.clone();
    let res = within("wait never returned for 1025 limited tasks", move || {
        g2.wait()
    });
    assert!(res.is_ok(), "{res:?}");
}

#[test]
fn active_never_reports_more_tasks_than_the_limit_allows() {
    // `active()` is the number the limit bounds (and the one `set_limit` checks), so a task
    // must never see it above the limit, even while other tasks are finishing.
    const LIMIT: usize = 4;
    let g = ErrGroup::builder().limit(LIMIT as i64).build();
    let max_reported = Arc::new(AtomicUsize::new(0));
    for _ in 0..2000 {
        let (g2, max_reported) = (g.clone(), max_reported.clone());
        g.go(move |_| -> TaskResult {
            max_reported.fetch_max(g2.active(), Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    }
    let g2 = g.clone();
    within("wait never returned", move || g2.wait().unwrap());
    let max = max_reported.load(Ordering::SeqCst);
    assert!(
        max <= LIMIT,
        "active() reported {max} with a limit of {LIMIT}"
    );
}

#[test]
fn go_blocked_on_a_full_limit_returns_the_cause_when_the_parent_token_is_cancelled() {
    let parent = CancelToken::new();
    let g = ErrGroup::builder().token(&parent).limit(1).build();
    let release = CancelToken::new();
    let r = release.clone();
    g.go(move |_| -> TaskResult {
        r.wait();
        Ok(())
    })
    .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let blocked = {
        let (g, ran) = (g.clone(), ran.clone());
        thread::spawn(move || {
            g.go(move |_| -> TaskResult {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            })
        })
    };
    let cause = Error::custom("parent went away");
    parent.cancel_with(cause.clone());
    let res = within(
        "go stayed blocked on the limit after its token was cancelled",
        move || blocked.join().unwrap(),
    );
    let err = res.expect_err("go must give up when the token is cancelled");
    assert!(
        Error::ptr_eq(&err, &cause),
        "go returned {err:?}, want the token's cause"
    );
    release.cancel();
    g.wait().unwrap();
    assert!(
        !ran.load(Ordering::SeqCst),
        "a task whose go failed must never run"
    );
}

#[test]
fn go_blocked_on_a_full_limit_gives_up_when_the_group_is_shut_down() {
    let g = ErrGroup::builder().limit(1).build();
    let release = CancelToken::new();
    let (started_tx, started_rx) = channel();
    let r = release.clone();
    g.go(move |_| -> TaskResult {
        started_tx.send(()).unwrap();
        r.wait();
        Ok(())
    })
    .unwrap();
    recv(&started_rx, "the first task never started");
    let blocked = {
        let g = g.clone();
        thread::spawn(move || g.go(never_runs))
    };
    let cause = Error::custom("shutting down");
    assert_eq!(
        g.shutdown(Some(cause.clone()), SHORT),
        1,
        "the stubborn task is still running"
    );
    let res = within("go stayed blocked after shutdown", move || {
        blocked.join().unwrap()
    });
    assert!(Error::ptr_eq(&res.unwrap_err(), &cause));
    release.cancel();
    g.wait().unwrap();
}

#[test]
fn a_builder_group_has_a_child_token_a_limit_and_cancels_on_the_first_error() {
    let parent = CancelToken::new();
    let g = ErrGroup::builder()
        .token(&parent)
        .limit(2)
        .collect(Collect::First)
        .build();
    let release = CancelToken::new();
    try_go_blocked(&g, 2, &release);
    assert!(!g.try_go(never_runs));
    release.cancel();
    g.wait().unwrap();
    assert!(
        g.token().is_cancelled(),
        "a group with a parent token behaves like with_token"
    );
    assert!(!parent.is_cancelled());
}

// ---------------------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------------------

#[test]
fn a_panic_in_a_task_cancels_the_token_at_once_and_is_resumed_by_wait() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let observer_saw_cancel = Arc::new(AtomicBool::new(false));
    let o = observer_saw_cancel.clone();
    g.go(move |t| -> TaskResult {
        // A 10 s stall here means the panic did not cancel the token.
        o.store(t.wait_timeout(HANG), Ordering::SeqCst);
        Ok(())
    })
    .unwrap();
    g.go(|_| -> TaskResult { panic!("task exploded (expected by the test)") })
        .unwrap();
    let caught = within("wait never returned after a task panicked", {
        let g = g.clone();
        move || catch_unwind(AssertUnwindSafe(|| g.wait())).map_err(|p| panic_message(&*p))
    });
    let message = caught.expect_err("wait must resume the task's panic");
    assert!(
        message.contains("task exploded"),
        "unexpected payload {message:?}"
    );
    assert!(
        observer_saw_cancel.load(Ordering::SeqCst),
        "the panic did not cancel the token at once"
    );
    assert!(g.token().is_cancelled());
    assert_eq!(
        g.token().cause().unwrap().kind(),
        ErrorKind::Panic,
        "the token's cause names the panic"
    );
    assert_eq!(g.active(), 0, "a panicking task releases its slot");
}

#[test]
fn a_panic_in_a_limited_group_releases_its_slot() {
    let g = ErrGroup::builder().limit(1).build();
    g.go(|_| -> TaskResult { panic!("slot holder exploded (expected by the test)") })
        .unwrap();
    // If the panic leaked the slot, this go would block forever.
    let g2 = g.clone();
    within(
        "the panicking task never released its limit slot",
        move || {
            // Ok (the slot was free) or Err (the panic cancelled the token first): both are fine,
            // blocking forever is not.
            let _ = g2.go(|_| -> TaskResult { Ok(()) });
        },
    );
    let res = catch_unwind(AssertUnwindSafe(|| g.wait()));
    assert!(res.is_err(), "wait must resume the panic");
}

#[test]
fn wait_until_reports_a_task_panic_as_an_error_instead_of_unwinding() {
    let g = ErrGroup::new();
    g.go(|_| -> TaskResult { panic!("quiet panic (expected by the test)") })
        .unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| {
        g.wait_until(Some(Instant::now() + HANG), None)
    }));
    let res = res.expect("wait_until must never unwind");
    assert_eq!(res.unwrap_err().kind(), ErrorKind::Panic);
}

// ---------------------------------------------------------------------------------------------
// Collecting errors, shutdown
// ---------------------------------------------------------------------------------------------

#[test]
fn collect_all_returns_every_error_in_finishing_order() {
    let g = ErrGroup::builder().collect(Collect::All).build();
    let gates: Vec<CancelToken> = (0..5).map(|_| CancelToken::new()).collect();
    let errs: Vec<Error> = (0..5).map(|i| Error::custom(format!("task {i}"))).collect();
    for i in 0..5 {
        let (gate, e) = (gates[i].clone(), errs[i].clone());
        g.go(move |_| -> TaskResult {
            gate.wait();
            Err(e)
        })
        .unwrap();
    }
    g.go(|_| -> TaskResult { Ok(()) }).unwrap();
    let order = [3, 0, 4, 1, 2];
    for (n, &i) in order.iter().enumerate() {
        gates[i].cancel();
        spin_until("a finished task's error was never recorded", || {
            g.errors().len() == n + 1
        });
    }
    assert_same(
        &g.wait(),
        Some(&errs[3]),
        "wait returns the first error to finish",
    );
    let all = g.errors();
    assert_eq!(all.len(), 5);
    for (n, &i) in order.iter().enumerate() {
        assert!(
            Error::ptr_eq(&all[n], &errs[i]),
            "errors()[{n}] = {:?}, want {:?}",
            all[n],
            errs[i]
        );
    }
}

#[test]
fn collect_first_keeps_only_the_first_error() {
    let g = ErrGroup::new();
    let e1 = Error::custom("one");
    g.go(task_returning(Some(e1.clone()))).unwrap();
    spin_until("the error was never recorded", || g.errors().len() == 1);
    g.go(task_returning(Some(Error::custom("two")))).unwrap();
    assert_same(&g.wait(), Some(&e1), "wait");
    let errs = g.errors();
    assert_eq!(errs.len(), 1);
    assert!(Error::ptr_eq(&errs[0], &e1));
}

#[test]
fn shutdown_returns_zero_when_every_task_watches_the_token() {
    let g = ErrGroup::new();
    for _ in 0..4 {
        g.go(|t| -> TaskResult {
            t.wait();
            Ok(())
        })
        .unwrap();
    }
    let g2 = g.clone();
    let still_running = within("shutdown did not return", move || g2.shutdown(None, HANG));
    assert_eq!(still_running, 0);
    assert!(g.token().is_cancelled());
    assert_eq!(g.token().cause().unwrap().kind(), ErrorKind::Canceled);
    g.wait().unwrap();
}

#[test]
fn shutdown_returns_the_number_of_tasks_still_running_after_the_grace_period() {
    let g = ErrGroup::new();
    let release = CancelToken::new();
    let (started_tx, started_rx) = channel();
    for _ in 0..3 {
        let (r, s) = (release.clone(), started_tx.clone());
        g.go(move |_| -> TaskResult {
            s.send(()).unwrap();
            r.wait(); // ignores the group token on purpose
            Ok(())
        })
        .unwrap();
    }
    for _ in 0..3 {
        recv(&started_rx, "a task never started");
    }
    let cause = Error::custom("deploying");
    assert_eq!(g.shutdown(Some(cause.clone()), SHORT), 3);
    assert!(Error::ptr_eq(&g.token().cause().unwrap(), &cause));
    release.cancel();
    within("wait after shutdown never returned", move || {
        g.wait().unwrap()
    });
}

// ---------------------------------------------------------------------------------------------
// Waits
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_timeout_reports_timeout_without_cancelling_and_succeeds_once_tasks_finish() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let release = CancelToken::new();
    let r = release.clone();
    g.go(move |_| -> TaskResult {
        r.wait();
        Ok(())
    })
    .unwrap();
    let err = g.wait_timeout(SHORT).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        !g.token().is_cancelled(),
        "a timed-out wait cancels nothing"
    );
    release.cancel();
    g.wait_timeout(HANG)
        .expect("a hang here means the finished task's done was lost");
}

#[test]
fn a_successful_bounded_wait_cancels_the_group_token_like_wait() {
    let g = ErrGroup::with_token(&CancelToken::new());
    g.go(|_| -> TaskResult { Ok(()) }).unwrap();
    g.wait_timeout(HANG)
        .expect("a hang here means the task's done was lost");
    assert!(
        g.token().is_cancelled(),
        "wait_timeout returning Ok is wait returning"
    );
}

#[test]
fn wait_cancellable_returns_the_other_tokens_cause_while_tasks_run() {
    let g = ErrGroup::new();
    let release = CancelToken::new();
    let r = release.clone();
    g.go(move |_| -> TaskResult {
        r.wait();
        Ok(())
    })
    .unwrap();
    let stop = CancelToken::new();
    let why = Error::custom("user gave up waiting");
    let (s, w) = (stop.clone(), why.clone());
    thread::spawn(move || {
        s.cancel_with(w);
    });
    let g2 = g.clone();
    let err = within("wait_cancellable ignored its token", move || {
        g2.wait_cancellable(&stop).unwrap_err()
    });
    assert!(Error::ptr_eq(&err, &why));
    release.cancel();
    g.wait_cancellable(&CancelToken::new()).unwrap();
}

#[test]
fn wait_async_returns_the_first_error() {
    let g = ErrGroup::new();
    let gate = CancelToken::new();
    let doom = Error::custom("async doom");
    let (gt, d) = (gate.clone(), doom.clone());
    g.go(move |_| -> TaskResult {
        gt.wait();
        Err(d)
    })
    .unwrap();
    let mut fut = g.wait_async();
    let (_, waker) = CountingWaker::new();
    assert!(poll_once(&mut fut, &waker).is_pending());
    gate.cancel();
    assert_same(&block_on(fut), Some(&doom), "wait_async");
    assert_same(
        &block_on(g.wait_async()),
        Some(&doom),
        "a second wait_async",
    );
}

#[test]
fn dropping_a_pending_wait_async_future_leaves_no_registration_behind() {
    let g = ErrGroup::new();
    let gate = CancelToken::new();
    let gt = gate.clone();
    g.go(move |_| -> TaskResult {
        gt.wait();
        Ok(())
    })
    .unwrap();
    let (wakes, waker) = CountingWaker::new();
    for _ in 0..100 {
        let mut fut = g.wait_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
    }
    gate.cancel();
    g.wait().unwrap();
    assert_eq!(
        wakes.wakes(),
        0,
        "the waker of a dropped future was still registered"
    );
}

#[test]
fn wait_until_reports_timeout_token_cause_or_the_groups_result() {
    let g = ErrGroup::new();
    let gate = CancelToken::new();
    let doom = Error::custom("until doom");
    let (gt, d) = (gate.clone(), doom.clone());
    g.go(move |_| -> TaskResult {
        gt.wait();
        Err(d)
    })
    .unwrap();
    assert_eq!(
        g.wait_until(Some(Instant::now() + SHORT), None)
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    let stop = CancelToken::new();
    let why = Error::custom("stop");
    stop.cancel_with(why.clone());
    assert!(Error::ptr_eq(
        &g.wait_until(None, Some(&stop)).unwrap_err(),
        &why
    ));
    gate.cancel();
    let got = g.wait_until(Some(Instant::now() + HANG), None);
    assert_same(&got, Some(&doom), "wait_until after the tasks finished");
}

#[test]
fn concurrent_waits_all_return_the_same_first_error() {
    let g = ErrGroup::new();
    let gate = CancelToken::new();
    let doom = Error::custom("shared doom");
    let (gt, d) = (gate.clone(), doom.clone());
    g.go(move |_| -> TaskResult {
        gt.wait();
        Err(d)
    })
    .unwrap();
    let start = Arc::new(Barrier::new(5));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (g, start) = (g.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                g.wait()
            })
        })
        .collect();
    start.wait();
    gate.cancel();
    for w in waiters {
        let got = within("a concurrent waiter was never released", move || {
            w.join().unwrap()
        });
        assert_same(&got, Some(&doom), "concurrent wait");
    }
}

// ---------------------------------------------------------------------------------------------
// Error conversions at the task boundary
// ---------------------------------------------------------------------------------------------

#[test]
fn a_task_may_fail_with_a_str_a_string_or_an_io_error() {
    let g = ErrGroup::builder().collect(Collect::All).build();
    g.go(|_| Err("plain str")).unwrap();
    spin_until("str error not recorded", || g.errors().len() == 1);
    g.go(|_| Err(String::from("owned string"))).unwrap();
    spin_until("String error not recorded", || g.errors().len() == 2);
    g.go(|_| Err(io::Error::new(io::ErrorKind::NotFound, "no such SKU")))
        .unwrap();
    spin_until("io error not recorded", || g.errors().len() == 3);
    let first = g.wait().unwrap_err();
    assert_eq!(first.message(), "plain str");
    let errs = g.errors();
    assert_eq!(errs[1].message(), "owned string");
    assert!(errs.iter().all(|e| e.kind() == ErrorKind::Custom));
    assert_eq!(
        errs[2].downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn a_task_started_inside_a_task_is_covered_by_wait() {
    let g = ErrGroup::new();
    let inner_ran = Arc::new(AtomicBool::new(false));
    let (g2, ir) = (g.clone(), inner_ran.clone());
    g.go(move |_| -> TaskResult {
        g2.go(move |_| -> TaskResult {
            ir.store(true, Ordering::SeqCst);
            Err(Error::custom("inner"))
        })
    })
    .unwrap();
    let got = g.wait();
    assert!(
        inner_ran.load(Ordering::SeqCst),
        "wait returned before the nested task ran"
    );
    assert_eq!(got.unwrap_err().message(), "inner");
}

#[test]
fn wait_resumes_the_original_panic_payload_even_when_it_is_not_a_string() {
    let g = ErrGroup::new();
    g.go(|_| -> TaskResult { std::panic::panic_any(7_u64) })
        .unwrap();
    let payload =
        catch_unwind(AssertUnwindSafe(|| g.wait())).expect_err("wait must resume the panic");
    assert_eq!(
        payload.downcast_ref::<u64>(),
        Some(&7),
        "the payload must be resumed untouched"
    );
}

#[test]
fn results_written_by_tasks_into_their_own_slots_are_all_visible_after_wait() {
    // ExampleGroup_parallel: each task fills its own slot; wait publishes them all.
    let g = ErrGroup::with_token(&CancelToken::new());
    let slots: Arc<Vec<std::sync::Mutex<Option<String>>>> =
        Arc::new((0..3).map(|_| std::sync::Mutex::new(None)).collect());
    for (i, query) in ["web", "image", "video"].into_iter().enumerate() {
        let slots = slots.clone();
        g.go(move |_| -> TaskResult {
            *slots[i].lock().unwrap() = Some(format!("{query} result for \"golang\""));
            Ok(())
        })
        .unwrap();
    }
    g.wait().unwrap();
    let got: Vec<String> = slots
        .iter()
        .map(|s| s.lock().unwrap().clone().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "web result for \"golang\"",
            "image result for \"golang\"",
            "video result for \"golang\""
        ]
    );
}

#[test]
fn a_group_under_a_cancelled_parent_still_runs_tasks_and_carries_the_parents_cause() {
    let parent = CancelToken::new();
    let why = Error::custom("request aborted");
    parent.cancel_with(why.clone());
    let g = ErrGroup::with_token(&parent);
    assert!(
        g.token().is_cancelled(),
        "the group token is born cancelled"
    );
    let (tx, rx) = channel();
    g.go(move |t| -> TaskResult {
        tx.send(t.cause()).unwrap();
        Ok(())
    })
    .expect("Go starts tasks even when the token is cancelled, if a slot is free");
    let seen = recv(&rx, "the task never ran").expect("the task saw a cause");
    assert!(Error::ptr_eq(&seen, &why));
    g.wait().unwrap();
    assert!(
        Error::ptr_eq(&g.token().cause().unwrap(), &why),
        "wait does not overwrite the cause"
    );
}

#[test]
fn waits_with_overflowing_timeouts_do_not_panic() {
    let g = ErrGroup::new();
    g.go(|_| -> TaskResult { Ok(()) }).unwrap();
    g.wait_timeout(std::time::Duration::MAX).unwrap();
    let wg = gogroup::WaitGroup::new();
    wg.go(|| {});
    assert!(wg.wait_timeout(std::time::Duration::MAX));
}

// ---------------------------------------------------------------- tasks run elsewhere (TaskSlot)

#[test]
fn a_task_slot_counts_as_active_until_finished_and_its_error_is_the_groups() {
    let parent = CancelToken::new();
    let g = ErrGroup::with_token(&parent);
    let slot = g.start().unwrap();
    assert_eq!(g.active(), 1);
    assert!(!g.token().is_cancelled());
    let doom = Error::custom("failed on the event loop");
    slot.finish(Err(doom.clone()));
    // The first error cancels a with_token group at once, with that error as cause.
    assert!(Error::ptr_eq(&g.token().cause().unwrap(), &doom));
    assert_same(&g.wait(), Some(&doom), "wait after a slot failed");
    assert!(!parent.is_cancelled());
}

#[test]
fn a_task_slot_dropped_without_finishing_is_reported_as_a_panic_and_cancels() {
    let g = ErrGroup::new();
    drop(g.start().unwrap());
    assert_eq!(g.active(), 0);
    assert!(
        g.token().is_cancelled(),
        "an abandoned task cancels even a plain group"
    );
    let err = g.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
}

#[test]
fn try_start_respects_the_limit_like_try_go() {
    let g = ErrGroup::new();
    g.set_limit(2).unwrap();
    let a = g.try_start().unwrap();
    let b = g.try_start().unwrap();
    assert!(g.try_start().is_none());
    assert!(!g.try_go(|_| Ok::<(), Error>(())));
    a.finish(Ok(()));
    let c = g.try_start().unwrap();
    b.finish(Ok(()));
    c.finish(Ok(()));
    g.wait().unwrap();
}

#[test]
fn start_async_waits_for_a_slot_without_blocking_and_is_woken_when_one_frees() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let first = g.start().unwrap();
    let mut fut = g.start_async();
    let (wakes, waker) = CountingWaker::new();
    assert!(poll_once(&mut fut, &waker).is_pending());
    assert_eq!(g.active(), 1);
    first.finish(Ok(()));
    assert!(
        wakes.wakes() >= 1,
        "releasing the slot must wake the waiting future"
    );
    let second = match poll_once(&mut fut, &waker) {
        std::task::Poll::Ready(r) => r.unwrap(),
        std::task::Poll::Pending => panic!("a free slot was not taken"),
    };
    assert_eq!(g.active(), 1);
    second.finish(Ok(()));
    g.wait().unwrap();
}

#[test]
fn start_async_gives_up_with_the_cause_when_the_group_is_cancelled() {
    let parent = CancelToken::new();
    let g = ErrGroup::with_token(&parent);
    g.set_limit(0).unwrap();
    let mut fut = g.start_async();
    let (wakes, waker) = CountingWaker::new();
    assert!(poll_once(&mut fut, &waker).is_pending());
    let why = Error::custom("request aborted");
    parent.cancel_with(why.clone());
    assert!(
        wakes.wakes() >= 1,
        "cancellation must wake the waiting future"
    );
    match poll_once(&mut fut, &waker) {
        std::task::Poll::Ready(Err(e)) => assert!(Error::ptr_eq(&e, &why)),
        other => panic!("expected the cause, got {:?}", other.map(|r| r.map(|_| ()))),
    }
    // Nothing was started and nothing is left registered on the token.
    assert_eq!(g.active(), 0);
    drop(fut);
    assert_eq!(g.token().dependents(), 0);
}

#[test]
fn dropping_a_pending_start_async_leaves_nothing_behind() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let first = g.start().unwrap();
    for _ in 0..100 {
        let mut fut = g.start_async();
        let (_, waker) = CountingWaker::new();
        assert!(poll_once(&mut fut, &waker).is_pending());
    }
    assert_eq!(g.token().dependents(), 0);
    first.finish(Ok(()));
    // The limit still works: a new slot is granted at once.
    block_on(g.start_async()).unwrap().finish(Ok(()));
    g.wait().unwrap();
}

// start_until / TaskSlot::go: the bounded wait for a slot that bindings use to stay responsive.

#[test]
fn start_until_times_out_on_a_full_limit_and_leaves_nothing_behind() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let busy = g.start().unwrap();
    let other = CancelToken::new();
    for _ in 0..20 {
        let err = g
            .start_until(Some(Instant::now() + SHORT), Some(&other))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }
    assert_eq!(g.active(), 1);
    assert_eq!(g.token().dependents(), 0);
    assert_eq!(other.dependents(), 0);
    busy.finish(Ok(()));
    g.wait().unwrap();
}

#[test]
fn start_until_gets_a_slot_freed_by_another_thread() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let busy = g.start().unwrap();
    let (tx, rx) = channel();
    let waiter = {
        let g = g.clone();
        thread::spawn(move || {
            tx.send(()).unwrap();
            g.start_until(Some(Instant::now() + HANG), None)
        })
    };
    recv(&rx, "the waiter started");
    busy.finish(Ok(()));
    let slot = waiter.join().unwrap().expect("the freed slot");
    assert_eq!(g.active(), 1);
    slot.go(|token| {
        assert!(!token.is_cancelled());
        Ok::<(), Error>(())
    });
    g.wait().unwrap();
}

#[test]
fn start_until_gives_up_with_the_cause_of_whichever_token_is_cancelled() {
    for cancel_group in [true, false] {
        let parent = CancelToken::new();
        let g = ErrGroup::with_token(&parent);
        g.set_limit(0).unwrap();
        let other = CancelToken::new();
        let why = Error::custom("stop waiting");
        let (tx, rx) = channel();
        let waiter = {
            let (g, other) = (g.clone(), other.clone());
            thread::spawn(move || {
                tx.send(()).unwrap();
                g.start_until(None, Some(&other)) // no deadline: only a cancel ends it
            })
        };
        recv(&rx, "the waiter started");
        if cancel_group {
            parent.cancel_with(why.clone());
        } else {
            other.cancel_with(why.clone());
        }
        let err = within("a cancelled token did not wake start_until", move || {
            waiter.join().unwrap()
        })
        .unwrap_err();
        assert!(
            Error::ptr_eq(&err, &why),
            "cancel_group={cancel_group}: {err}"
        );
        assert_eq!(g.active(), 0);
        assert_eq!(other.dependents(), 0);
    }
}

#[test]
fn a_task_run_with_task_slot_go_panics_into_wait_like_a_go_task() {
    let g = ErrGroup::with_token(&CancelToken::new());
    g.start_until(None, None)
        .unwrap()
        .go(|_| -> Result<(), Error> { panic!("in a slot") });
    let p = catch_unwind(AssertUnwindSafe(|| g.wait())).unwrap_err();
    assert_eq!(panic_message(&*p), "in a slot");
    assert!(g.token().is_cancelled());
}

// start_queued: a task counted by wait before it has a slot (asyncio.TaskGroup / p-limit style).

#[test]
fn a_queued_start_is_waited_for_before_it_has_a_slot() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let first = g.start().unwrap();
    let mut queued = g.start_queued();
    let (wakes, waker) = CountingWaker::new();
    assert!(poll_once(&mut queued, &waker).is_pending());
    first.finish(Ok(()));
    // The only slot holder finished, yet wait must not return: the queued task is counted.
    assert_eq!(
        g.wait_timeout(SHORT).unwrap_err().kind(),
        ErrorKind::Timeout
    );
    assert!(wakes.wakes() >= 1, "a freed slot wakes the queued start");
    let slot = match poll_once(&mut queued, &waker) {
        std::task::Poll::Ready(r) => r.unwrap(),
        std::task::Poll::Pending => panic!("the freed slot was not handed over"),
    };
    assert_eq!(g.active(), 1);
    slot.finish(Err(Error::custom("queued task failed")));
    assert_eq!(g.wait().unwrap_err().to_string(), "queued task failed");
}

#[test]
fn freed_slots_go_to_queued_starts_in_the_order_they_queued_skipping_those_that_gave_up() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let mut holder = Some(g.start().unwrap());
    let mut queued: Vec<_> = (0..5).map(|_| Some(g.start_queued())).collect();
    let wakers: Vec<_> = (0..5).map(|_| CountingWaker::new()).collect();
    for (q, (_, w)) in queued.iter_mut().zip(&wakers) {
        assert!(poll_once(q.as_mut().unwrap(), w).is_pending());
    }
    queued[1] = None; // gives up before its turn
    queued[3] = None;
    for expected in [0, 2, 4] {
        holder.take().unwrap().finish(Ok(()));
        for (i, (wakes, _)) in wakers.iter().enumerate() {
            let want = usize::from(i <= expected && i % 2 == 0);
            assert_eq!(
                wakes.wakes(),
                want,
                "after freeing for #{expected}: wake-ups of #{i}"
            );
        }
        let q = queued[expected].as_mut().unwrap();
        holder = match poll_once(q, &wakers[expected].1) {
            std::task::Poll::Ready(r) => Some(r.unwrap()),
            std::task::Poll::Pending => panic!("#{expected} was woken without a slot"),
        };
        queued[expected] = None;
    }
    holder.take().unwrap().finish(Ok(()));
    assert!(g.wait().is_ok());
}

#[test]
fn a_queued_start_leaves_the_count_when_cancelled_or_dropped() {
    let parent = CancelToken::new();
    let g = ErrGroup::with_token(&parent);
    g.set_limit(0).unwrap();
    let mut cancelled = g.start_queued();
    let dropped = g.start_queued();
    let (_, waker) = CountingWaker::new();
    assert!(poll_once(&mut cancelled, &waker).is_pending());
    assert_eq!(
        g.wait_timeout(SHORT).unwrap_err().kind(),
        ErrorKind::Timeout
    );
    drop(dropped); // never polled: leaves the count at once
    let why = Error::custom("shutting down");
    parent.cancel_with(why.clone());
    match poll_once(&mut cancelled, &waker) {
        std::task::Poll::Ready(Err(e)) => assert!(Error::ptr_eq(&e, &why)),
        _ => panic!("a cancelled queued start must resolve to the cause"),
    }
    // Nothing ran and nothing was recorded for the queued tasks: wait returns, with no error
    // (a parent's cancellation is not a task error, as in Go), and nothing stays registered.
    drop(cancelled);
    let token = g.token().clone();
    within("queued starts left the group's count", move || g.wait()).unwrap();
    assert_eq!(token.dependents(), 0);
}

#[test]
fn collect_all_leaves_out_the_cancellations_its_first_failure_caused() {
    let g = ErrGroup::builder()
        .token(&CancelToken::new())
        .collect(Collect::All)
        .build();
    let gate = CancelToken::new();
    let g2 = gate.clone();
    g.go(move |_| -> TaskResult {
        g2.wait();
        Err(Error::custom("first"))
    })
    .unwrap();
    for _ in 0..3 {
        g.go(|t| -> TaskResult {
            t.wait();
            Err(t.err().unwrap()) // gives up because it was told to
        })
        .unwrap();
    }
    g.go(|t| -> TaskResult {
        t.wait();
        Err(Error::custom("cleanup failed")) // a failure of its own
    })
    .unwrap();
    gate.cancel();
    assert_eq!(g.wait().unwrap_err().message(), "first");
    let messages: Vec<String> = g.errors().iter().map(|e| e.message().to_owned()).collect();
    assert_eq!(messages, ["first", "cleanup failed"]);
}

#[test]
fn collect_all_keeps_the_cancellations_a_parent_caused() {
    let parent = CancelToken::new();
    let g = ErrGroup::builder()
        .token(&parent)
        .collect(Collect::All)
        .build();
    for _ in 0..3 {
        g.go(|t| -> TaskResult {
            t.wait();
            Err(t.err().unwrap())
        })
        .unwrap();
    }
    parent.cancel();
    assert_eq!(g.wait().unwrap_err().kind(), ErrorKind::Canceled);
    assert_eq!(g.errors().len(), 3);
    assert!(g.errors().iter().all(Error::is_canceled));
}

// ---- weak handles and abandoned tasks (issue 12) ---------------------------------------------

#[test]
fn an_abandoned_group_ends_its_weak_waits_without_an_outcome_and_cancels_nothing() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let token = g.token().clone();
    let weak = g.downgrade();
    g.start().unwrap().abandon();
    let (counting, waker) = CountingWaker::new();
    let mut fut = Box::pin(weak.wait_async());
    assert!(poll_once(&mut fut, &waker).is_pending());
    drop(g);
    assert_eq!(counting.wakes(), 1);
    assert!(matches!(
        poll_once(&mut fut, &waker),
        std::task::Poll::Ready(None)
    ));
    assert!(!token.is_cancelled());
    assert!(weak.errors().is_empty());
    assert_eq!(weak.active(), 1); // an abandoned task holds its place for good
}

#[test]
fn a_weak_wait_reads_the_outcome_and_cancels_the_token_as_wait_does() {
    let g = ErrGroup::with_token(&CancelToken::new());
    let token = g.token().clone();
    let weak = g.downgrade();
    let slot = g.start().unwrap();
    drop(g); // the slot alone keeps the group going
    assert!(!weak.is_abandoned());
    let (tx, waiting) = channel();
    thread::spawn(move || tx.send(block_on(weak.wait_async())).unwrap());
    slot.finish(Err(Error::custom("late")));
    let outcome = recv(&waiting, "a lost wake-up").unwrap();
    assert_eq!(outcome.unwrap_err().to_string(), "late");
    assert_eq!(token.cause().unwrap().to_string(), "late");
}

#[test]
fn a_weak_wait_reports_a_task_panic_as_an_error() {
    let g = ErrGroup::new();
    g.go(|_| -> TaskResult { std::panic::resume_unwind(Box::new("boom")) })
        .unwrap();
    let err = block_on(g.downgrade().wait_async()).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
}

#[test]
fn an_abandoned_queued_start_keeps_its_count_and_lets_the_group_go() {
    let g = ErrGroup::new();
    g.set_limit(0).unwrap();
    let weak = g.downgrade();
    let queued = g.start_queued();
    queued.abandon();
    assert!(g.wait_timeout(SHORT).is_err()); // still counted: never ran, never will
    drop(g);
    assert!(weak.is_abandoned());
    assert!(block_on(weak.wait_async()).is_none());
}
