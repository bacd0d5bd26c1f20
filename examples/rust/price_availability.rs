//! The example gogroup was born from: show a product page by fetching its price and its
//! availability in parallel, and give up on both as soon as either fails.
//!
//! In Go this is `errgroup.WithContext` plus two `g.Go` calls whose HTTP requests carry the
//! group's context. Here each "fetch" is simulated by waiting on the group's token for the
//! service's latency: `token.wait_timeout(latency)` returns early (true) if the group is
//! cancelled, exactly as a request using the context would be aborted.
//!
//! Run 1: both services answer, `wait` returns `Ok`.
//! Run 2: the availability service fails fast; the group's token is cancelled with that error as
//! its cause, the slow price fetch notices at once and returns the cause, and `wait` returns the
//! first error.
//!
//! Exits with 0 when everything behaved as described, non-zero (a failed assertion) otherwise.
//!
//! `make demo` runs it; alone: `cargo run --release -p gogroup --example price_availability`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gogroup::{CancelToken, ErrGroup, Error};

/// What one simulated fetch did: which service, how long it ran, what it returned.
struct Report {
    service: &'static str,
    ran_for: Duration,
    outcome: Result<u64, Error>,
}

type Reports = Arc<Mutex<Vec<Report>>>;

/// How long the price service takes in run 2; the cancelled fetch must stop long before.
const PRICE_LATENCY: Duration = Duration::from_secs(3);

/// Simulates a request that answers `answer` after `latency`, unless the group's token is
/// cancelled first; then it stops at once and returns the cancellation cause.
fn fetch(token: &CancelToken, latency: Duration, answer: Result<u64, Error>) -> Result<u64, Error> {
    if token.wait_timeout(latency) {
        // Cancelled while "in flight": report why, as Go's context.Cause(ctx) would.
        return Err(token.cause().unwrap_or_else(Error::canceled));
    }
    answer
}

/// Starts `fetch(service, …)` in `group`, recording what it did in `reports`.
fn spawn_fetch(
    group: &ErrGroup,
    reports: &Reports,
    service: &'static str,
    latency: Duration,
    answer: Result<u64, Error>,
) {
    let reports = Arc::clone(reports);
    group
        .go(move |token: CancelToken| -> Result<(), Error> {
            let started = Instant::now();
            let outcome = fetch(&token, latency, answer);
            let result = outcome.as_ref().map(|_| ()).map_err(Error::clone);
            reports.lock().unwrap().push(Report {
                service,
                ran_for: started.elapsed(),
                outcome,
            });
            result
        })
        .expect("the group has no limit, so go never blocks and never fails");
}

fn print_reports(reports: &Reports) {
    for r in reports.lock().unwrap().iter() {
        match &r.outcome {
            Ok(value) => println!("  {:<12} ok after {:>7.1?}: {value}", r.service, r.ran_for),
            Err(e) => println!("  {:<12} failed after {:>7.1?}: {e}", r.service, r.ran_for),
        }
    }
}

fn find(reports: &Reports, service: &str) -> Option<(Duration, Result<u64, Error>)> {
    let reports = reports.lock().unwrap();
    let r = reports.iter().find(|r| r.service == service)?;
    Some((r.ran_for, r.outcome.clone()))
}

/// Run 1: both services answer; the group waits for the slower one.
fn both_succeed() {
    println!("run 1: both services answer");
    let request = CancelToken::new();
    let group = ErrGroup::with_token(&request);
    let reports: Reports = Arc::default();

    let started = Instant::now();
    spawn_fetch(
        &group,
        &reports,
        "price",
        Duration::from_millis(40),
        Ok(1999),
    );
    spawn_fetch(
        &group,
        &reports,
        "availability",
        Duration::from_millis(30),
        Ok(7),
    );
    let result = group.wait();
    let took = started.elapsed();

    print_reports(&reports);
    println!("  wait returned {result:?} after {took:.1?} (the fetches ran side by side)");

    assert!(
        result.is_ok(),
        "both fetches succeeded, so wait must return Ok"
    );
    assert!(matches!(find(&reports, "price"), Some((_, Ok(1999)))));
    assert!(matches!(find(&reports, "availability"), Some((_, Ok(7)))));
    assert!(
        !request.is_cancelled(),
        "the group cancels its own child token, never the caller's"
    );
}

/// Run 2: availability fails fast; its error cancels the slow price fetch.
fn availability_fails_fast() {
    println!("run 2: the availability service fails fast");
    let outage = Error::custom("availability service: 503 Service Unavailable");

    let request = CancelToken::new();
    let group = ErrGroup::with_token(&request);
    let reports: Reports = Arc::default();

    let started = Instant::now();
    spawn_fetch(&group, &reports, "price", PRICE_LATENCY, Ok(1999));
    spawn_fetch(
        &group,
        &reports,
        "availability",
        Duration::from_millis(20),
        Err(outage.clone()),
    );
    let result = group.wait();
    let took = started.elapsed();

    print_reports(&reports);
    let (price_ran_for, price_outcome) = find(&reports, "price").expect("price fetch ran");
    println!(
        "  the price fetch was cancelled after {price_ran_for:.1?} instead of running its {PRICE_LATENCY:?}"
    );
    match &result {
        Ok(()) => println!("  wait returned Ok after {took:.1?}"),
        Err(e) => println!("  wait returned the first error after {took:.1?}: {e}"),
    }

    let err = result.expect_err("availability failed, so wait must return an error");
    assert!(
        Error::ptr_eq(&err, &outage),
        "wait must return the availability error itself, got {err:?}"
    );
    let price_err = price_outcome.expect_err("the price fetch must have been cancelled");
    assert!(
        Error::ptr_eq(&price_err, &outage),
        "the price fetch must see the first error as the cancellation cause, got {price_err:?}"
    );
    assert!(
        price_ran_for < PRICE_LATENCY / 2,
        "the price fetch must stop when the group is cancelled, not after {price_ran_for:?}"
    );
    assert!(
        !request.is_cancelled(),
        "the group cancels its own child token, never the caller's"
    );
}

fn main() {
    both_succeed();
    println!();
    availability_fails_fast();
    println!();
    println!("price_availability: behaved as expected");
}
