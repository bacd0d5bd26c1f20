//! Fan out with a [`WaitGroup`], and cancel a tree of work with [`CancelToken`]s.
//!
//! Part 1 starts 1000 tasks with `WaitGroup::go` (Go's `wg.Go`), each adding its number to one
//! `AtomicU64`, and waits for all of them.
//!
//! Part 2 builds a token tree like a server would: a process-wide root, a request token with a
//! timeout (Go's `context.WithTimeout`), and a child for one step of that request with an
//! `on_cancel` callback (Go's `context.AfterFunc`). The timeout cancels the request and its child
//! but leaves the root and its other children alone; a callback stopped in time never runs.
//!
//! Exits with 0 when everything behaved as described, non-zero (a failed assertion) otherwise.
//!
//! `make demo` runs it; alone: `cargo run --release -p gogroup --example fan_out`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gogroup::{CancelToken, ErrorKind, WaitGroup};

const TASKS: u64 = 1000;
/// The request's timeout in part 2.
const TIMEOUT: Duration = Duration::from_millis(50);

fn fan_out() {
    println!("part 1: {TASKS} tasks with WaitGroup::go");
    let wg = WaitGroup::new();
    let sum = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    for i in 1..=TASKS {
        let sum = Arc::clone(&sum);
        wg.go(move || {
            sum.fetch_add(i, Ordering::Relaxed);
        });
    }
    wg.wait();

    let sum = sum.load(Ordering::Relaxed);
    println!(
        "  sum of 1..={TASKS} = {sum}, all tasks done in {:.1?}",
        started.elapsed()
    );
    assert_eq!(
        sum,
        TASKS * (TASKS + 1) / 2,
        "every task must have run exactly once"
    );
    assert_eq!(wg.count(), 0, "the counter is back to zero after wait");
}

fn token_tree() {
    println!("part 2: a CancelToken tree with with_timeout and on_cancel");
    let root = CancelToken::new();
    let request = root.with_timeout(TIMEOUT);
    let step = request.child();
    let other_request = root.child();

    // Runs on core's pool once `step` is cancelled, with the cause.
    let (tx, rx) = mpsc::channel();
    let _on_step_cancelled = step.on_cancel(move |cause| {
        let _ = tx.send(cause);
    });

    // A callback stopped before cancellation never runs (Go's AfterFunc `stop()`).
    let stopped = other_request.on_cancel(|_| unreachable!("a stopped callback never runs"));
    assert!(
        stopped.stop(),
        "stop before cancellation prevents the callback"
    );

    let started = Instant::now();
    step.wait();
    let waited = started.elapsed();
    let cause = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the on_cancel callback must run (a hang here means it never did)");

    println!("  step cancelled after {waited:.1?} (timeout {TIMEOUT:?}): {cause}");
    println!(
        "  request cancelled: {}, root cancelled: {}, other request cancelled: {}",
        request.is_cancelled(),
        root.is_cancelled(),
        other_request.is_cancelled()
    );
    assert_eq!(cause.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(
        step.err().map(|e| e.kind()),
        Some(ErrorKind::DeadlineExceeded)
    );
    assert!(
        request.is_cancelled(),
        "the timeout cancels the request token"
    );
    assert!(
        waited >= TIMEOUT,
        "nothing is cancelled before the deadline"
    );
    assert!(
        !root.is_cancelled(),
        "a child's timeout never cancels its parent"
    );
    assert!(!other_request.is_cancelled(), "siblings are not affected");

    // Cancelling the root reaches every descendant before `cancel` returns.
    assert!(root.cancel(), "the first cancel wins");
    assert!(other_request.is_cancelled());
    println!(
        "  root cancelled by hand: other request cancelled at once, cause: {:?}",
        other_request.cause().map(|e| e.to_string())
    );
    assert_eq!(
        other_request.err().map(|e| e.kind()),
        Some(ErrorKind::Canceled)
    );
    assert!(
        !stopped.stop(),
        "stopping twice reports that nothing more was prevented"
    );
}

fn main() {
    fan_out();
    println!();
    token_tree();
    println!();
    println!("fan_out: behaved as expected");
}
