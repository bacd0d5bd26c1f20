use loom::thread;

use crate::loom::{Arc, AtomicUsize};
use crate::{CancelToken, ErrGroup, Error};
use std::future::Future;
use std::sync::atomic::Ordering;

/// The first error to be recorded is the one `wait` returns and the token's cause.
#[test]
fn loom_first_error_wins_and_becomes_the_cause() {
    loom::model(|| {
        let g = ErrGroup::with_token(&CancelToken::new());
        let (a, b) = (Error::custom("a"), Error::custom("b"));
        let (g2, a2) = (g.clone(), a.clone());
        let t = thread::spawn(move || g2.go_inline(move |_| Err::<(), _>(a2)).unwrap());
        let b2 = b.clone();
        g.go_inline(move |_| Err::<(), _>(b2)).unwrap();
        t.join().unwrap();
        let first = g.wait().unwrap_err();
        assert!(Error::ptr_eq(&first, &a) || Error::ptr_eq(&first, &b));
        assert!(Error::ptr_eq(&g.token().cause().unwrap(), &first));
    });
}

/// With a limit of 1, two concurrent tasks never run at the same time.
#[test]
fn loom_limit_is_never_exceeded() {
    loom::model(|| {
        let g = ErrGroup::new();
        g.set_limit(1).unwrap();
        let active = Arc::new(AtomicUsize::new(0));
        let task = |active: Arc<AtomicUsize>| {
            move |_| {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                assert_eq!(now, 1, "limit exceeded");
                active.fetch_sub(1, Ordering::SeqCst);
                Ok::<(), Error>(())
            }
        };
        let (g2, a2) = (g.clone(), active.clone());
        let t = thread::spawn(move || g2.go_inline(task(a2)).unwrap());
        g.go_inline(task(active.clone())).unwrap();
        t.join().unwrap();
        g.wait().unwrap();
    });
}

/// `set_limit` racing a task either succeeds before it or is refused while it is active.
#[test]
fn loom_limit_change_while_busy_is_refused_not_corrupting() {
    loom::model(|| {
        let g = ErrGroup::new();
        let g2 = g.clone();
        let t = thread::spawn(move || g2.go_inline(|_| Ok::<(), Error>(())).unwrap());
        let changed = g.set_limit(1);
        t.join().unwrap();
        if let Err(e) = changed {
            assert_eq!(e.kind(), crate::ErrorKind::LimitInUse);
        }
        g.wait().unwrap();
        // Idle again: any change is accepted, and the group still runs tasks.
        g.set_limit(2).unwrap();
        g.go_inline(|_| Ok::<(), Error>(())).unwrap();
        g.wait().unwrap();
    });
}

/// A release wakes ONE waiting future; if that future gives up (is dropped) at the same time,
/// the wake-up is passed on, so the other waiting future still gets the freed slot.
#[test]
fn loom_a_freed_slot_reaches_a_waiting_future_even_if_another_gives_up() {
    loom::model(|| {
        let g = ErrGroup::new();
        g.set_limit(1).unwrap();
        let held = g.start().unwrap();
        let mut first = Box::pin(g.start_async());
        let mut second = Box::pin(g.start_async());
        // `second` waits with a waker that blocks this thread until it is woken: a lost wake-up
        // leaves the thread blocked for good, which loom reports as a deadlock.
        let woken = Arc::new(loom::sync::Notify::new());
        let waker = std::task::Waker::from(std::sync::Arc::new(Flag(woken.clone())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut noop = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut noop).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        let t = thread::spawn(move || held.finish(Ok(())));
        drop(first); // may have been the one woken: must pass the wake-up on
        let slot = loop {
            woken.wait();
            if let std::task::Poll::Ready(r) = second.as_mut().poll(&mut cx) {
                break r.unwrap();
            }
        };
        slot.finish(Ok(()));
        t.join().unwrap();
        g.wait().unwrap();
    });
}

/// A waker that notifies a loom `Notify` (std's `Arc`, as `Wake` requires).
struct Flag(Arc<loom::sync::Notify>);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// An error and a panic racing: whichever is the group's first failure is both the token's
/// cause and what `wait` reports (one decision point), never one for each.
#[test]
fn loom_an_error_and_a_panic_racing_agree_on_cause_and_wait() {
    loom::model(|| {
        let g = ErrGroup::with_token(&CancelToken::new());
        let a = Error::custom("a");
        let (g2, a2) = (g.clone(), a.clone());
        let t = thread::spawn(move || g2.go_inline(move |_| Err::<(), _>(a2)).unwrap());
        // `resume_unwind` panics without running the panic hook (no noise per interleaving).
        g.go_inline(|_| -> Result<(), Error> { std::panic::resume_unwind(Box::new("p")) })
            .unwrap();
        t.join().unwrap();
        let reported = g.wait_until(None, None).unwrap_err();
        assert!(Error::ptr_eq(&g.token().cause().unwrap(), &reported));
        if !Error::ptr_eq(&reported, &a) {
            assert_eq!(reported.kind(), crate::ErrorKind::Panic);
        }
        assert_eq!(g.active(), 0);
    });
}

/// A group whose last handle goes on one thread while its only task is abandoned on another:
/// a weak wait ends as abandoned, and nothing is recorded or cancelled.
#[test]
fn loom_weak_wait_of_an_abandoned_group_ends_without_an_outcome() {
    loom::model(|| {
        let g = ErrGroup::with_token(&CancelToken::new());
        let slot = g.start().unwrap();
        let weak = g.downgrade();
        let token = g.token().clone();
        let t = thread::spawn(move || slot.abandon());
        drop(g);
        assert!(super::block_on(weak.wait_async()).is_none());
        t.join().unwrap();
        assert!(!token.is_cancelled());
        assert!(weak.errors().is_empty());
    });
}

/// A task that finishes on another thread after the group's last handle went: the weak wait
/// reports its outcome (the slot was a holder), never abandonment.
#[test]
fn loom_weak_wait_sees_a_task_that_finishes_after_the_last_handle_went() {
    loom::model(|| {
        let g = ErrGroup::new();
        let slot = g.start().unwrap();
        let weak = g.downgrade();
        let t = thread::spawn(move || slot.finish(Err(Error::custom("late"))));
        drop(g);
        let outcome = super::block_on(weak.wait_async());
        assert_eq!(outcome.unwrap().unwrap_err().to_string(), "late");
        t.join().unwrap();
        assert!(weak.is_abandoned());
    });
}
