//! Panics are never lost, and never skip anything: a payload whose `Drop` panics, a storm of
//! concurrent panics, later rounds after a panic, and the one rule that makes an `ErrGroup`'s
//! token cause and `wait`'s outcome the same failure.

mod common;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use common::{TaskResult, panic_message, spin_until, within};
use gogroup::{CancelToken, Collect, ErrGroup, Error, ErrorKind, WaitGroup};

/// A panic payload (or error payload) whose `Drop` panics while it is armed.
struct Bomb {
    armed: AtomicBool,
    drops: Arc<AtomicUsize>,
}

impl Bomb {
    fn new(drops: &Arc<AtomicUsize>) -> Bomb {
        Bomb {
            armed: AtomicBool::new(true),
            drops: drops.clone(),
        }
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.armed.load(Ordering::SeqCst) {
            panic!("a payload's Drop exploded (expected by the test)");
        }
    }
}

/// Disarms a resumed `Bomb` so that the test itself can drop it.
fn defuse(payload: Box<dyn Any + Send>) {
    let bomb = payload
        .downcast::<Bomb>()
        .expect("the resumed payload is the task's own Bomb");
    bomb.armed.store(false, Ordering::SeqCst);
}

// ---------------------------------------------------------------------------------------------
// WaitGroup
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_group_tasks_whose_payloads_panic_on_drop_still_release_the_counter() {
    let drops = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for _ in 0..16 {
        let bomb = Bomb::new(&drops);
        wg.go(move || panic_any(bomb));
    }
    // Fifteen payloads lose (only the first is kept) and are dropped inside the slot: their
    // explosions must neither skip `done` nor unwind into a worker.
    let w = wg.clone();
    let resumed = within(
        "a losing payload's Drop skipped the counter release",
        move || {
            catch_unwind(AssertUnwindSafe(|| w.wait())).expect_err("wait resumes the kept panic")
        },
    );
    defuse(resumed);
    assert_eq!(wg.count(), 0);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        16,
        "every payload was dropped once"
    );
    // The group is still usable and still reports panics.
    wg.go(|| panic!("after the bombs"));
    let p = catch_unwind(AssertUnwindSafe(|| wg.wait())).expect_err("a later panic is resumed");
    assert_eq!(panic_message(&*p), "after the bombs");
}

#[test]
fn wait_group_wait_until_reports_a_panic_whose_payload_panics_on_drop_without_unwinding() {
    let drops = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    let bomb = Bomb::new(&drops);
    wg.go(move || panic_any(bomb));
    // `wait_until` never unwinds: it reports the panic and drops the payload itself, quietly.
    let err = wg.wait_until(None, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(wg.count(), 0);
    wg.wait_until(None, None).unwrap(); // reported once
}

#[test]
fn a_kept_panic_nobody_waited_for_is_dropped_quietly_with_the_group() {
    let drops = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    let bomb = Bomb::new(&drops);
    wg.go(move || panic_any(bomb));
    // No wait: there is no event to wait on but the counter itself.
    spin_until("the panicking task never released the counter", || {
        wg.count() == 0
    });
    // The last handle goes here, with the payload still kept: its explosion must not unwind
    // into this thread.
    // (Or the worker's does, if it still holds the group: then it must not unwind there.)
    drop(wg);
    spin_until("the kept payload was never dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
}

#[test]
fn many_concurrent_panics_resume_exactly_one_and_later_rounds_still_report_theirs() {
    let wg = WaitGroup::new();
    for round in 0..50 {
        for i in 0..32 {
            wg.go(move || panic!("round {round} task {i}"));
        }
        let w = wg.clone();
        let caught = within("a panicking task never released the counter", move || {
            catch_unwind(AssertUnwindSafe(|| w.wait()))
        });
        let p = caught.expect_err("one panic of the round is resumed");
        let msg = panic_message(&*p);
        assert!(
            msg.starts_with(&format!("round {round} task ")),
            "round {round} resumed {msg:?}"
        );
        assert_eq!(wg.count(), 0);
        // Exactly one: nothing is left to resume.
        wg.wait_until(None, None)
            .expect("a panic was resumed twice, or one was left behind");
    }
}

// ---------------------------------------------------------------------------------------------
// ErrGroup
// ---------------------------------------------------------------------------------------------

#[test]
fn err_group_tasks_whose_payloads_panic_on_drop_release_their_slots_and_counts() {
    let drops = Arc::new(AtomicUsize::new(0));
    // A slot for every task: a `go` that gave up on the cancelled token would drop its
    // (armed) closure in this thread.
    let g = ErrGroup::builder().limit(16).build();
    for _ in 0..16 {
        let bomb = Bomb::new(&drops);
        g.go(move |_| -> TaskResult { panic_any(bomb) }).unwrap();
    }
    let g2 = g.clone();
    let resumed = within(
        "a payload's Drop skipped a slot or count release",
        move || {
            catch_unwind(AssertUnwindSafe(|| g2.wait())).expect_err("wait resumes the first panic")
        },
    );
    defuse(resumed);
    assert_eq!(g.active(), 0, "every slot came back");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        16,
        "every payload dropped once"
    );
    // Sticky: the next wait reports the same failure as an error, without unwinding.
    let again = g.wait().unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Panic);
    assert!(Error::ptr_eq(&again, &g.token().cause().unwrap()));
    // Limit slots are all free again: a limit change is accepted.
    g.set_limit(1).unwrap();
}

#[test]
fn err_group_errors_whose_payloads_panic_on_drop_are_dropped_quietly() {
    let drops = Arc::new(AtomicUsize::new(0));
    let g = ErrGroup::new(); // Collect::First: every error but the first is dropped by core
    for i in 0..8 {
        let bomb = Bomb::new(&drops);
        g.go(move |_| Err(Error::custom(format!("error {i}")).with_payload(bomb)))
            .unwrap();
    }
    let first = within("a dropped error's payload skipped a release", {
        let g = g.clone();
        move || g.wait().unwrap_err()
    });
    assert_eq!(g.active(), 0);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        7,
        "the seven losers are dropped"
    );
    first
        .downcast_ref::<Bomb>()
        .unwrap()
        .armed
        .store(false, Ordering::SeqCst);
    drop((first, g));
    // The last handle may be a worker's, released just after its count.
    spin_until("the first error was never dropped", || {
        drops.load(Ordering::SeqCst) == 8
    });
}

/// An error type whose conversion into `gogroup::Error` panics: user code, run by core.
struct BadError;

impl From<BadError> for Error {
    fn from(_: BadError) -> Error {
        panic!("conversion exploded (expected by the test)")
    }
}

#[test]
fn a_task_error_whose_conversion_panics_is_reported_as_that_panic() {
    let g = ErrGroup::new();
    g.go(|_| Err::<(), _>(BadError)).unwrap();
    let err = within("the panicking conversion skipped the release", move || {
        g.wait_until(None, None).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Panic);
    assert!(err.message().contains("conversion exploded"), "{err}");
}

#[test]
fn err_group_many_concurrent_panics_resume_one_and_later_rounds_report_their_own() {
    let g = ErrGroup::new();
    for round in 0..50 {
        for i in 0..16 {
            // No limit: `go` never waits, so the token cancelled in round 0 stops nothing.
            g.go(move |_| -> TaskResult { panic!("round {round} task {i}") })
                .unwrap();
        }
        let g2 = g.clone();
        let p = within("a panicking task never released its count", move || {
            catch_unwind(AssertUnwindSafe(|| g2.wait()))
        })
        .expect_err("round 0: the first failure is a panic; later: the round's first panic");
        let msg = panic_message(&*p);
        assert!(msg.starts_with(&format!("round {round} task ")), "{msg:?}");
        assert_eq!(g.active(), 0);
        // Exactly one was resumed: the next wait only repeats the sticky first failure.
        let sticky = g.wait().unwrap_err();
        assert!(sticky.message().starts_with("task panicked: round 0 task "));
    }
}

#[test]
fn later_round_panics_are_resumed_although_the_first_failure_is_sticky() {
    let g = ErrGroup::new();
    g.go(|_| Err(Error::custom("round 1 error"))).unwrap();
    assert_eq!(g.wait().unwrap_err().to_string(), "round 1 error");
    for round in 2..20 {
        for i in 0..8 {
            g.go(move |_| -> TaskResult { panic!("round {round} task {i}") })
                .unwrap();
        }
        let g2 = g.clone();
        let p = within("a panicking task never released its count", move || {
            catch_unwind(AssertUnwindSafe(|| g2.wait()))
        })
        .expect_err("a new panic is reported by its round's wait");
        assert!(panic_message(&*p).starts_with(&format!("round {round} task ")));
        // Its cause: the panic this round reports (a plain group's token is cancelled by it).
        assert_eq!(g.token().cause().unwrap().kind(), ErrorKind::Panic);
        assert_eq!(g.wait().unwrap_err().to_string(), "round 1 error", "sticky");
    }
}

/// The failures a racing task can end with.
#[derive(Clone, Copy)]
enum Ending {
    Ok,
    Error,
    Panic,
}

fn racing_round(g: &ErrGroup, endings: &[Ending], round: usize) {
    let gate = Arc::new(AtomicBool::new(false));
    for (i, ending) in endings.iter().copied().enumerate() {
        let gate = gate.clone();
        g.go(move |_| {
            // Released together, so that the failures race (a spin on a flag the test thread
            // sets, not a sleep: a task that starts late simply finds it open).
            while !gate.load(Ordering::Acquire) {
                thread::yield_now();
            }
            match ending {
                Ending::Ok => Ok(()),
                Ending::Error => Err(Error::custom(format!("round {round} error {i}"))),
                Ending::Panic => panic!("round {round} panic {i}"),
            }
        })
        .unwrap();
    }
    gate.store(true, Ordering::Release);
}

#[test]
fn the_token_cause_is_the_failure_wait_reports_however_errors_and_panics_race() {
    use Ending::{Error as E, Ok as O, Panic as P};
    let shapes: [&[Ending]; 5] = [&[E, E], &[E, P], &[P, P], &[P, E, E, O], &[E, P, E, P]];
    for round in 0..300 {
        let endings = shapes[round % shapes.len()];
        let g = ErrGroup::with_token(&CancelToken::new());
        racing_round(&g, endings, round);
        let outcome = within("a racing task never released its count", {
            let g = g.clone();
            move || {
                if round % 2 == 0 {
                    // The waits that report a panic as an error.
                    g.wait_until(None, None).map_err(|e| (e, None))
                } else {
                    // The wait that resumes a panic.
                    match catch_unwind(AssertUnwindSafe(|| g.wait())) {
                        Ok(r) => r.map_err(|e| (e, None)),
                        Err(p) => Err((g.errors()[0].clone(), Some(panic_message(&*p)))),
                    }
                }
            }
        });
        let (reported, resumed) = outcome.expect_err("a task failed");
        let cause = g
            .token()
            .cause()
            .expect("the first failure cancels the token");
        assert!(
            Error::ptr_eq(&cause, &reported),
            "round {round}: token cause {cause:?} but wait reported {reported:?}"
        );
        if let Some(msg) = resumed {
            assert_eq!(
                cause.message(),
                format!("task panicked: {msg}"),
                "round {round}"
            );
        }
        assert_eq!(g.active(), 0);
    }
}

#[test]
fn in_a_plain_group_a_panic_cancels_the_token_with_the_failure_wait_reports() {
    use Ending::{Error as E, Panic as P};
    for round in 0..300 {
        let g = ErrGroup::builder().collect(Collect::All).build();
        racing_round(&g, &[E, P, E], round);
        let reported = within("a racing task never released its count", {
            let g = g.clone();
            move || g.wait_until(None, None).unwrap_err()
        });
        // Errors do not cancel a plain group; the panic does, with what wait reports (the
        // panic if it came first, else the first error).
        let cause = g.token().cause().expect("the panic cancels the token");
        assert!(
            Error::ptr_eq(&cause, &reported),
            "round {round}: token cause {cause:?} but wait reported {reported:?}"
        );
        assert_eq!(g.errors().len(), 3, "Collect::All records every failure");
    }
}

// ---------------------------------------------------------------------------------------------
// The raw pool
// ---------------------------------------------------------------------------------------------

#[test]
fn raw_pool_jobs_whose_payloads_panic_on_drop_leave_every_worker_alive() {
    // `pool::spawn` drops a job's panic by rule; a payload whose `Drop` panics must not unwind
    // out of the worker either. Afterwards, the pool still runs tasks.
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        let bomb = Bomb::new(&drops);
        gogroup::pool::spawn(move || panic_any(bomb));
    }
    spin_until("every exploding payload was dropped", || {
        drops.load(Ordering::SeqCst) == 8
    });
    let wg = WaitGroup::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..64 {
        let ran = ran.clone();
        wg.go(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    within("a worker died of a payload's Drop", move || wg.wait());
    assert_eq!(ran.load(Ordering::SeqCst), 64);
}
