//! Wake-up latency: from `cancel()` (or the last `done()`) on one thread to
//! a thread blocked in `wait()` running again.
//!
//! Each sample starts a fresh waiter thread, lets it block (1 ms), takes the
//! time, releases it, and subtracts: the waiter reads the clock as the first
//! thing it does after its wait returns. One JSON line per (impl, case):
//! `{"kind":"latency","p50_ns":..,"p99_ns":..,"samples":..}`.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gogroup::{CancelToken, WaitGroup};

/// Pause that lets a fresh waiter reach its blocking wait.
const SETTLE: Duration = Duration::from_millis(1);

/// Runs one sample: `arm` prepares (release, wait) closures; the waiter runs
/// `wait` on its own thread, the caller runs `release` after the settle.
fn sample<R, W>(arm: impl FnOnce() -> (R, W)) -> u64
where
    R: FnOnce(),
    W: FnOnce() + Send + 'static,
{
    let (release, wait) = arm();
    let (tx, rx) = mpsc::channel::<Instant>();
    let waiter = thread::spawn(move || {
        wait();
        let woke = Instant::now();
        let _ = tx.send(woke);
    });
    thread::sleep(SETTLE);
    let t0 = Instant::now();
    release();
    let woke = rx.recv().expect("waiter woke");
    waiter.join().expect("waiter thread");
    woke.saturating_duration_since(t0).as_nanos() as u64
}

fn cancel_thread_gogroup() -> u64 {
    sample(|| {
        let t = CancelToken::new();
        let w = t.clone();
        (
            move || {
                t.cancel();
            },
            move || w.wait(),
        )
    })
}

/// The hand-written peer: a flag under a Mutex and a Condvar.
fn cancel_thread_condvar() -> u64 {
    sample(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let w = Arc::clone(&pair);
        (
            move || {
                *pair.0.lock().unwrap() = true;
                pair.1.notify_all();
            },
            move || {
                let mut set = w.0.lock().unwrap();
                while !*set {
                    set = w.1.wait(set).unwrap();
                }
            },
        )
    })
}

fn done_thread_gogroup() -> u64 {
    sample(|| {
        let wg = WaitGroup::new();
        wg.add(1).expect("add");
        let w = wg.clone();
        (move || wg.done().expect("done"), move || w.wait())
    })
}

fn done_thread_crossbeam() -> u64 {
    sample(|| {
        let wg = crossbeam_utils::sync::WaitGroup::new();
        let last = wg.clone();
        (move || drop(last), move || wg.wait())
    })
}

pub(crate) type SampleFn = fn() -> u64;

/// (case, impl, one sample). Case names are shared with the other
/// languages' benches.
pub(crate) const CASES: &[(&str, &str, SampleFn)] = &[
    ("latency_cancel_thread", "gogroup", cancel_thread_gogroup),
    (
        "latency_cancel_thread",
        "mutex+condvar",
        cancel_thread_condvar,
    ),
    ("latency_done_thread", "gogroup", done_thread_gogroup),
    ("latency_done_thread", "crossbeam", done_thread_crossbeam),
];

/// p50 and p99 (nearest rank) of `samples` ns.
pub(crate) fn percentiles(mut samples: Vec<u64>) -> (u64, u64) {
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i]
    };
    (at(0.50), at(0.99))
}

/// Collects `n` samples of every selected case, interleaving the
/// implementations sample by sample (so they see the same machine).
pub(crate) fn run(
    selected: &[(&str, &str, SampleFn)],
    n: usize,
) -> Vec<(String, String, u64, u64, usize)> {
    let mut all: Vec<Vec<u64>> = vec![Vec::with_capacity(n); selected.len()];
    for _ in 0..n {
        for (i, (_, _, f)) in selected.iter().enumerate() {
            all[i].push(f());
        }
    }
    selected
        .iter()
        .zip(all)
        .map(|((case, imp, _), s)| {
            let len = s.len();
            let (p50, p99) = percentiles(s);
            ((*case).to_owned(), (*imp).to_owned(), p50, p99, len)
        })
        .collect()
}
