//! Misuse is an error, never a panic and never corruption: negative counters, counter overflow,
//! changing a limit while tasks run, and the error vocabulary every binding maps.

mod common;

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::Instant;

use common::{CountingWaker, HANG, TaskResult, poll_once, within};
use gogroup::{CancelToken, ErrGroup, Error, ErrorKind, WaitGroup};

// ---------------------------------------------------------------------------------------------
// WaitGroup counter (TestWaitGroupMisuse, and our non-corrupting departure)
// ---------------------------------------------------------------------------------------------

#[test]
fn negative_counter_is_rejected_and_the_group_stays_usable() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    wg.done().unwrap();
    let err = wg.done().expect_err("a second done must be rejected");
    assert_eq!(err.kind(), ErrorKind::NegativeCounter);
    assert_eq!(err.message(), "sync: negative WaitGroup counter");
    assert_eq!(err.to_string(), "sync: negative WaitGroup counter");
    assert_eq!(err.code(), 1);
    assert_eq!(err.kind().name(), "NEGATIVE_COUNTER");
    assert_eq!(
        wg.count(),
        0,
        "Go leaves the counter at -1; we do not apply the change"
    );

    // Still a working WaitGroup.
    wg.add(2).unwrap();
    wg.go(|| {});
    wg.done().unwrap();
    wg.done().unwrap();
    assert!(
        wg.wait_timeout(HANG),
        "a hang here means the rejected done corrupted the counter"
    );
    assert_eq!(wg.count(), 0);
}

#[test]
fn a_negative_delta_larger_than_the_count_is_not_applied_and_wakes_nobody() {
    let wg = WaitGroup::new();
    wg.add(2).unwrap();
    let (wakes, waker) = CountingWaker::new();
    let mut fut = wg.wait_async();
    assert!(poll_once(&mut fut, &waker).is_pending());

    assert_eq!(wg.add(-3).unwrap_err().kind(), ErrorKind::NegativeCounter);
    assert_eq!(
        wg.add(i64::MIN).unwrap_err().kind(),
        ErrorKind::NegativeCounter
    );
    assert_eq!(wg.count(), 2);
    assert_eq!(wakes.wakes(), 0, "a rejected add must not wake waiters");
    assert!(poll_once(&mut fut, &waker).is_pending());

    wg.add(-2).unwrap();
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(()));
}

#[test]
fn add_zero_is_a_no_op() {
    let wg = WaitGroup::new();
    wg.add(0).unwrap();
    assert_eq!(wg.count(), 0);
    wg.add(1).unwrap();
    wg.add(0).unwrap();
    assert_eq!(wg.count(), 1);
}

#[test]
fn concurrent_dones_past_zero_are_rejected_exactly_once_each() {
    for _ in 0..50 {
        let wg = WaitGroup::new();
        wg.add(4).unwrap();
        let ok = Arc::new(AtomicUsize::new(0));
        let rejected = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (wg, ok, rejected, start) =
                    (wg.clone(), ok.clone(), rejected.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    match wg.done() {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            assert_eq!(e.kind(), ErrorKind::NegativeCounter);
                            rejected.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(ok.load(Ordering::SeqCst), 4);
        assert_eq!(rejected.load(Ordering::SeqCst), 4);
        assert_eq!(wg.count(), 0);
    }
}

#[test]
fn counter_overflow_is_rejected_as_invalid_argument_and_not_applied() {
    let wg = WaitGroup::new();
    let mut applied: u128 = 0;
    let mut failures = 0;
    for _ in 0..3 {
        match wg.add(i64::MAX) {
            Ok(()) => applied += i64::MAX as u128,
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    ErrorKind::InvalidArgument,
                    "overflow error: {e:?}"
                );
                failures += 1;
            }
        }
        assert_eq!(
            wg.count() as u128,
            applied,
            "a rejected add must not change the counter"
        );
    }
    assert!(
        failures >= 1,
        "three adds of i64::MAX cannot all fit in the counter"
    );
    while applied > 0 {
        wg.add(-i64::MAX).unwrap();
        applied -= i64::MAX as u128;
    }
    assert_eq!(wg.count(), 0);
    assert!(wg.wait_timeout(HANG));
}

#[test]
fn a_huge_delta_on_a_nonzero_counter_is_rejected_as_invalid_argument_not_a_panic() {
    let wg = WaitGroup::new();
    wg.add(1).unwrap();
    let r = std::panic::catch_unwind(|| wg.add(i64::MAX));
    let err = r
        .expect("add must return an error, not panic on arithmetic overflow")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "got {err:?}");
    assert_eq!(wg.count(), 1);
    let err = wg.add(i64::MIN).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NegativeCounter);
    assert_eq!(wg.count(), 1);
    wg.done().unwrap();
}

// ---------------------------------------------------------------------------------------------
// ErrGroup limits (SetLimit's panic, and the unlimited→limited hole Go leaves open)
// ---------------------------------------------------------------------------------------------

fn blocked_task(release: &CancelToken) -> impl FnOnce(CancelToken) -> TaskResult + Send + 'static {
    let r = release.clone();
    move |_| {
        r.wait();
        Ok(())
    }
}

#[test]
fn changing_the_limit_while_a_task_runs_is_rejected_with_limit_in_use() {
    let g = ErrGroup::new();
    g.set_limit(1).unwrap();
    let release = CancelToken::new();
    g.go(blocked_task(&release)).unwrap();

    let err = g
        .set_limit(2)
        .expect_err("set_limit while a task is active must fail");
    assert_eq!(err.kind(), ErrorKind::LimitInUse);
    assert_eq!(err.code(), 5);
    assert_eq!(err.kind().name(), "LIMIT_IN_USE");
    assert_eq!(
        err.message(),
        "errgroup: modify limit while 1 goroutines in the group are still active"
    );
    assert!(
        !g.try_go(|_| -> TaskResult { panic!("ran past the old limit") }),
        "the old limit must still apply"
    );

    release.cancel();
    g.wait().unwrap();
    g.set_limit(2)
        .expect("changing the limit of an idle group is legal");
    let release = CancelToken::new();
    g.go(blocked_task(&release)).unwrap();
    g.go(blocked_task(&release)).unwrap();
    assert!(!g.try_go(|_| -> TaskResult { panic!("ran past the new limit") }));
    let err = g.set_limit(0).unwrap_err();
    assert_eq!(
        err.message(),
        "errgroup: modify limit while 2 goroutines in the group are still active"
    );
    release.cancel();
    g.wait().unwrap();
}

#[test]
fn setting_a_limit_on_a_busy_unlimited_group_is_rejected_unlike_go() {
    let g = ErrGroup::new();
    let release = CancelToken::new();
    for _ in 0..3 {
        g.go(blocked_task(&release)).unwrap();
    }
    assert_eq!(g.active(), 3);
    let err = g
        .set_limit(1)
        .expect_err("Go silently allows this and corrupts its semaphore");
    assert_eq!(err.kind(), ErrorKind::LimitInUse);
    assert_eq!(
        err.message(),
        "errgroup: modify limit while 3 goroutines in the group are still active"
    );
    // Still unlimited.
    assert!(g.try_go(blocked_task(&release)));
    release.cancel();
    within("wait never returned", {
        let g = g.clone();
        move || g.wait().unwrap()
    });
    g.set_limit(1).unwrap();
    assert_eq!(g.active(), 0);
}

// ---------------------------------------------------------------------------------------------
// The error vocabulary
// ---------------------------------------------------------------------------------------------

#[test]
fn error_kinds_have_the_published_codes_and_names() {
    let table = [
        (ErrorKind::NegativeCounter, 1, "NEGATIVE_COUNTER"),
        (ErrorKind::Canceled, 2, "CANCELED"),
        (ErrorKind::DeadlineExceeded, 3, "DEADLINE_EXCEEDED"),
        (ErrorKind::Timeout, 4, "TIMEOUT"),
        (ErrorKind::LimitInUse, 5, "LIMIT_IN_USE"),
        (ErrorKind::Panic, 6, "PANIC"),
        (ErrorKind::InvalidArgument, 7, "INVALID_ARGUMENT"),
        (ErrorKind::Custom, 8, "CUSTOM"),
    ];
    assert_eq!(
        ErrorKind::ALL.len(),
        table.len(),
        "the table above must list every kind"
    );
    for (kind, code, name) in table {
        assert_eq!(kind.code(), code, "{kind:?}");
        assert_eq!(kind.name(), name, "{kind:?}");
        assert_eq!(ErrorKind::from_code(code), Some(kind));
        assert!(ErrorKind::ALL.contains(&kind));
        let e = Error::new(kind, "m");
        assert_eq!(e.kind(), kind);
        assert_eq!(e.code(), code);
    }
    assert_eq!(ErrorKind::from_code(0), None, "0 is success in the C ABI");
    assert_eq!(ErrorKind::from_code(9), None);
    assert_eq!(ErrorKind::from_code(u32::MAX), None);
}

#[test]
fn every_error_kind_in_all_has_a_unique_code_and_name() {
    let codes: HashSet<u32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    let names: HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(codes.len(), ErrorKind::ALL.len());
    assert_eq!(names.len(), ErrorKind::ALL.len());
    assert!(!codes.contains(&0));
    for k in ErrorKind::ALL {
        assert_eq!(ErrorKind::from_code(k.code()), Some(k));
        let n = k.name();
        assert!(
            !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{n:?} is not SCREAMING_SNAKE_CASE"
        );
    }
}

#[test]
fn the_core_produces_each_runtime_kind_with_gos_messages() {
    let wg = WaitGroup::new();
    assert_eq!(
        wg.done().unwrap_err().message(),
        "sync: negative WaitGroup counter"
    );

    wg.add(1).unwrap();
    let timeout = wg.wait_until(Some(Instant::now()), None).unwrap_err();
    assert_eq!(
        (timeout.kind(), timeout.message()),
        (ErrorKind::Timeout, "wait timed out")
    );

    let t = CancelToken::new();
    t.cancel();
    let canceled = t.err().unwrap();
    assert_eq!(
        (canceled.kind(), canceled.to_string().as_str()),
        (ErrorKind::Canceled, "context canceled")
    );

    let d = CancelToken::new().with_deadline(Instant::now());
    assert!(d.wait_timeout(HANG));
    let exceeded = d.err().unwrap();
    assert_eq!(
        (exceeded.kind(), exceeded.to_string().as_str()),
        (ErrorKind::DeadlineExceeded, "context deadline exceeded")
    );
    assert!(canceled.is_canceled() && exceeded.is_canceled());
    assert!(!timeout.is_canceled());
}

#[test]
fn errors_carry_kind_message_app_code_and_payload_and_keep_identity_when_cloned() {
    let e = Error::custom("price service down")
        .with_code(503)
        .with_payload(vec![1_u8, 2, 3]);
    assert_eq!(e.kind(), ErrorKind::Custom);
    assert_eq!(e.code(), 8);
    assert_eq!(e.app_code(), 503);
    assert_eq!(e.message(), "price service down");
    assert_eq!(format!("{e}"), "price service down");
    assert!(format!("{e:?}").contains("price service down"));
    assert_eq!(e.downcast_ref::<Vec<u8>>(), Some(&vec![1, 2, 3]));
    assert!(e.downcast_ref::<String>().is_none());
    assert!(e.payload().is_some());

    let same = e.clone();
    assert!(Error::ptr_eq(&e, &same));
    assert!(!Error::ptr_eq(&e, &Error::custom("price service down")));
    assert_eq!(Error::custom("x").app_code(), 0);
    assert!(Error::custom("x").payload().is_none());

    assert!(
        Error::ptr_eq(&Error::canceled(), &Error::canceled()),
        "canceled() is one shared value"
    );
    assert!(Error::ptr_eq(
        &Error::deadline_exceeded(),
        &Error::deadline_exceeded()
    ));
    assert_eq!(Error::canceled().kind(), ErrorKind::Canceled);
    assert_eq!(
        Error::deadline_exceeded().kind(),
        ErrorKind::DeadlineExceeded
    );
}

#[test]
fn standard_errors_strings_and_io_errors_convert_to_custom_errors() {
    let from_str: Error = "plain".into();
    let from_string: Error = String::from("owned").into();
    let from_io: Error = io::Error::new(io::ErrorKind::TimedOut, "slow disk").into();
    let from_std = Error::from_std(io::Error::new(io::ErrorKind::NotFound, "no such SKU"));
    for (e, msg) in [
        (&from_str, "plain"),
        (&from_string, "owned"),
        (&from_io, "slow disk"),
        (&from_std, "no such SKU"),
    ] {
        assert_eq!(e.kind(), ErrorKind::Custom);
        assert_eq!(e.message(), msg);
    }
    assert_eq!(
        from_io.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::TimedOut
    );
    assert_eq!(
        from_std.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn public_types_are_send_sync_static_and_errors_are_std_errors() {
    fn handle<T: Clone + Send + Sync + 'static>() {}
    fn std_error<E: std::error::Error + Send + Sync + 'static>() {}
    fn future<F: std::future::Future + Send + Unpin + 'static>(_: &F) {}
    handle::<WaitGroup>();
    handle::<CancelToken>();
    handle::<ErrGroup>();
    handle::<Error>();
    std_error::<Error>();
    let (wg, t, g) = (WaitGroup::new(), CancelToken::new(), ErrGroup::new());
    future(&wg.wait_async());
    future(&t.wait_async());
    future(&g.wait_async());
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&t.on_cancel(|_| {}));
    let guard = t.drop_guard();
    send_sync(&guard);
    guard.disarm();
}
