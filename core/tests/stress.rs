//! Bounded stress: many threads hammering one counter, cancel storms racing child creation and
//! callback registration, a million short-lived children, and the Go race test in a loop.
//! Sizes are fixed so the whole file stays within a few seconds in a debug build on 2 cores;
//! nothing here asserts a speed, and every hang is turned into a failure with a reason.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{HANG, Rng, TaskResult, block_on, recv, within};
use gogroup::{CancelToken, ErrGroup, Error, WaitGroup};

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn eight_threads_adding_and_finishing_100_000_times_each_leave_a_zero_counter() {
    within(
        "a waiter was never released (lost wake-up under contention)",
        || {
            const THREADS: usize = 8;
            const ROUNDS: usize = 100_000;
            let wg = WaitGroup::new();
            let stop = Arc::new(AtomicBool::new(false));
            let start = Arc::new(Barrier::new(THREADS + 2));
            // Two waiters keep waiting while the counter bounces between 0 and 8.
            let waiters: Vec<_> = (0..2)
                .map(|i| {
                    let (wg, stop, start) = (wg.clone(), stop.clone(), start.clone());
                    thread::spawn(move || {
                        start.wait();
                        let mut waits = 0_usize;
                        while !stop.load(Ordering::SeqCst) {
                            if i == 0 {
                                assert!(wg.wait_timeout(HANG), "a hang here means a lost wake-up");
                            } else {
                                block_on(wg.wait_async());
                            }
                            waits += 1;
                        }
                        waits
                    })
                })
                .collect();
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (wg, start) = (wg.clone(), start.clone());
                    thread::spawn(move || {
                        start.wait();
                        for _ in 0..ROUNDS {
                            wg.add(1).unwrap();
                            wg.done().unwrap();
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            stop.store(true, Ordering::SeqCst);
            for w in waiters {
                assert!(w.join().unwrap() >= 1);
            }
            assert_eq!(wg.count(), 0);
            wg.wait();
        },
    );
}

#[test]
fn reusing_a_wait_group_while_earlier_waiters_are_still_waking_never_panics_or_hangs() {
    // Go's deleted TestWaitGroupMisuse2/3 expected a misuse panic here; our WaitGroup is safe
    // to reuse at once, so every wait simply returns.
    within("a waiter of a reused WaitGroup never returned", || {
        for _ in 0..300 {
            let wg = WaitGroup::new();
            wg.add(1).unwrap();
            let (tx, rx) = channel();
            {
                let wg = wg.clone();
                thread::spawn(move || wg.done().unwrap());
            }
            for _ in 0..2 {
                let (wg, tx) = (wg.clone(), tx.clone());
                thread::spawn(move || {
                    wg.wait();
                    tx.send(()).unwrap();
                });
            }
            wg.wait();
            wg.add(1).unwrap(); // reuse before the two waiters above have necessarily returned
            {
                let wg = wg.clone();
                thread::spawn(move || wg.done().unwrap());
            }
            wg.wait();
            recv(&rx, "first waiter");
            recv(&rx, "second waiter");
        }
    });
}

#[test]
fn the_go_race_test_passes_1000_rounds_on_one_reused_wait_group() {
    within("a round never finished (lost wake-up on reuse)", || {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        for round in 0..1000 {
            for _ in 0..2 {
                let n = n.clone();
                wg.go(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                });
            }
            wg.wait();
            assert_eq!(
                n.load(Ordering::SeqCst),
                2 * (round + 1),
                "spurious wake-up in round {round}"
            );
        }
    });
}

/// What one creator thread made during a storm.
struct Made {
    tokens: Vec<CancelToken>,
    registered: usize,
    stopped: usize,
}

#[test]
fn cancel_storms_with_concurrent_child_creation_and_callback_registration_lose_nothing() {
    const CREATORS: usize = 4;
    const STEPS: usize = 300;
    for round in 0..15_u64 {
        let root = CancelToken::new();
        let cause = Error::custom(format!("storm {round}"));
        // Every registered callback is one unit of this WaitGroup; a callback that runs twice,
        // or runs after a successful stop, drives it negative and is caught.
        let callbacks = WaitGroup::new();
        let broken = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
        let mid = Arc::new(Barrier::new(CREATORS + 1));
        let creators: Vec<_> = (0..CREATORS)
            .map(|c| {
                let (root, callbacks, broken, ran, mid) = (
                    root.clone(),
                    callbacks.clone(),
                    broken.clone(),
                    ran.clone(),
                    mid.clone(),
                );
                thread::spawn(move || {
                    let mut rng = Rng::new(round * 31 + c as u64);
                    let mut made = Made {
                        tokens: Vec::new(),
                        registered: 0,
                        stopped: 0,
                    };
                    for step in 0..STEPS {
                        if step == STEPS / 2 {
                            mid.wait(); // the canceller fires now, in the middle of our work
                        }
                        let parent = if made.tokens.is_empty() || rng.below(4) == 0 {
                            root.clone()
                        } else {
                            made.tokens[rng.below(made.tokens.len())].clone()
                        };
                        let t = if rng.below(3) == 0 {
                            parent.with_timeout(LONG)
                        } else {
                            parent.child()
                        };
                        callbacks.add(1).unwrap();
                        made.registered += 1;
                        let (cb, br, r) = (callbacks.clone(), broken.clone(), ran.clone());
                        let f = move |_: Error| {
                            r.fetch_add(1, Ordering::SeqCst);
                            if cb.done().is_err() {
                                br.store(true, Ordering::SeqCst);
                            }
                        };
                        let reg = if rng.below(2) == 0 {
                            t.on_cancel(f)
                        } else {
                            t.on_cancel_inline(f)
                        };
                        if rng.below(5) == 0 && reg.stop() {
                            made.stopped += 1;
                            callbacks.done().unwrap();
                        }
                        made.tokens.push(t);
                    }
                    made
                })
            })
            .collect();
        mid.wait();
        assert!(root.cancel_with(cause.clone()));
        let mut all = Vec::new();
        let (mut registered, mut stopped) = (0, 0);
        for h in creators {
            let made = h.join().unwrap();
            registered += made.registered;
            stopped += made.stopped;
            all.extend(made.tokens);
        }
        assert!(
            callbacks.wait_timeout(HANG),
            "round {round}: {} callbacks never ran (lost on_cancel registrations)",
            callbacks.count()
        );
        assert!(
            !broken.load(Ordering::SeqCst),
            "round {round}: a callback ran twice or after stop"
        );
        assert_eq!(
            ran.load(Ordering::SeqCst),
            registered - stopped,
            "round {round}"
        );
        for (i, t) in all.iter().enumerate() {
            assert!(
                t.is_cancelled(),
                "round {round}: token {i} escaped the storm"
            );
            let got = t.cause().unwrap();
            assert!(
                Error::ptr_eq(&got, &cause),
                "round {round}: token {i} has cause {got:?}"
            );
            assert_eq!(t.dependents(), 0);
        }
        assert_eq!(root.dependents(), 0);
    }
}

#[test]
fn concurrent_cancels_of_random_subtrees_while_children_are_created_never_deadlock() {
    within("cancels racing child creation deadlocked", || {
        for round in 0..10_u64 {
            let root = CancelToken::new();
            let mut nodes = vec![root.clone()];
            let mut rng = Rng::new(round + 7);
            for _ in 0..200 {
                let p = rng.below(nodes.len());
                nodes.push(nodes[p].child());
            }
            let nodes = Arc::new(nodes);
            let start = Arc::new(Barrier::new(4));
            let handles: Vec<_> = (0..4_u64)
                .map(|k| {
                    let (nodes, start) = (nodes.clone(), start.clone());
                    thread::spawn(move || {
                        let mut rng = Rng::new(round * 13 + k);
                        start.wait();
                        let mut kept = Vec::new();
                        for _ in 0..300 {
                            let n = &nodes[rng.below(nodes.len())];
                            match rng.below(3) {
                                0 => {
                                    n.cancel();
                                }
                                1 => kept.push(n.child()),
                                _ => drop(n.child().child()),
                            }
                        }
                        kept
                    })
                })
                .collect();
            let mut kept = Vec::new();
            for h in handles {
                kept.extend(h.join().unwrap());
            }
            root.cancel();
            for t in nodes.iter().chain(kept.iter()) {
                assert!(t.is_cancelled());
                assert_eq!(t.dependents(), 0);
            }
        }
    });
}

#[test]
fn a_million_children_created_and_dropped_under_one_live_parent_leave_no_dependents() {
    const TOTAL: usize = 1_000_000;
    const THREADS: usize = 2;
    let parent = CancelToken::new();
    let handles: Vec<_> = (0..THREADS)
        .map(|k| {
            let parent = parent.clone();
            thread::spawn(move || {
                for i in 0..TOTAL / THREADS {
                    if (i + k) % 1000 == 0 {
                        drop(parent.with_timeout(LONG));
                    } else {
                        drop(parent.child());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        parent.dependents(),
        0,
        "dropped children stayed registered in the parent"
    );
    assert!(!parent.is_cancelled());
    let child = parent.child();
    parent.cancel();
    assert!(
        child.is_cancelled(),
        "the parent still works after a million children"
    );
}

#[test]
fn many_futures_on_many_threads_all_complete_when_one_token_is_cancelled() {
    const THREADS: usize = 8;
    const FUTURES: usize = 200;
    let t = CancelToken::new();
    let start = Arc::new(Barrier::new(THREADS + 1));
    let (tx, rx) = channel();
    for _ in 0..THREADS {
        let (t, start, tx) = (t.clone(), start.clone(), tx.clone());
        thread::spawn(move || {
            // Register many futures (most are dropped again), then block on one.
            let (_, waker) = common::CountingWaker::new();
            let mut keep = Vec::new();
            for i in 0..FUTURES {
                let mut f = t.wait_async();
                let _ = common::poll_once(&mut f, &waker);
                if i % 10 == 0 {
                    keep.push(f);
                }
            }
            start.wait();
            block_on(t.wait_async());
            for mut f in keep {
                assert!(common::poll_once(&mut f, &waker).is_ready());
            }
            tx.send(()).unwrap();
        });
    }
    start.wait();
    t.cancel();
    for _ in 0..THREADS {
        recv(&rx, "a future was never woken by cancel");
    }
}

#[test]
fn many_submitters_into_a_limited_group_never_exceed_the_limit_and_lose_no_task() {
    const SUBMITTERS: usize = 4;
    const TASKS: usize = 500;
    const LIMIT: usize = 3;
    let g = ErrGroup::builder().limit(LIMIT as i64).build();
    let active = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    // One task stays running until every submitter is finished, so the group is never empty
    // while others call go (Go's rule: the first go must happen before wait).
    let anchor = CancelToken::new();
    let a = anchor.clone();
    g.go(move |_| -> TaskResult {
        a.wait();
        Ok(())
    })
    .unwrap();
    let start = Arc::new(Barrier::new(SUBMITTERS));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (g, active, max_seen, done, start) = (
                g.clone(),
                active.clone(),
                max_seen.clone(),
                done.clone(),
                start.clone(),
            );
            thread::spawn(move || {
                start.wait();
                for _ in 0..TASKS {
                    let (active, max_seen, done) = (active.clone(), max_seen.clone(), done.clone());
                    g.go(move |_| -> TaskResult {
                        let n = active.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(n, Ordering::SeqCst);
                        thread::yield_now();
                        active.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    let g2 = g.clone();
    within("limited submissions deadlocked", move || {
        for s in submitters {
            s.join().unwrap();
        }
        anchor.cancel();
        g2.wait().unwrap();
    });
    assert_eq!(done.load(Ordering::SeqCst), SUBMITTERS * TASKS);
    // The anchor holds one slot, so at most LIMIT - 1 counted tasks ran beside it.
    assert!(
        max_seen.load(Ordering::SeqCst) < LIMIT,
        "max active {}",
        max_seen.load(Ordering::SeqCst)
    );
}
