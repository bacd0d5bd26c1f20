//! Scale runs: how gogroup's cost grows (issue 7, "Scale").
//!
//! * `scale_go_wait[_limit64]`: per-task cost of N × `go` + one `wait`, N
//!   from 10 to 1,000,000, without a limit (`WaitGroup::go`) and through an
//!   `ErrGroup` with `set_limit(64)`.
//! * The single-shot cases run each in a fresh process (`--scale-case NAME`),
//!   so that peak RSS and thread counts are their own:
//!   `errgroup_1m_limit64`, `deadlines_100k`, `child_tokens_1m`,
//!   `waiters_10k`.
//!
//! Every result is one JSON line with `"kind":"scale"`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use gogroup::{CancelToken, ErrGroup, WaitGroup};

use crate::latency::percentiles;

/// A field of /proc/self/status, in kB (or a count), 0 if unknown.
pub(crate) fn proc_status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn emit(workload: &str, imp: &str, fields: &str) {
    println!(
        "{{\"lang\":\"rust\",\"impl\":\"{imp}\",\"kind\":\"scale\",\"workload\":\"{workload}\",{fields}}}"
    );
}

// ---------------------------------------------------------------- N sweep

fn go_wait(n: u64) {
    let wg = WaitGroup::new();
    for _ in 0..n {
        wg.go(|| {});
    }
    wg.wait();
}

fn go_wait_limit64(n: u64) {
    let g = ErrGroup::new();
    g.set_limit(64).expect("set_limit");
    for _ in 0..n {
        g.go(|_| Ok::<(), gogroup::Error>(())).expect("go");
    }
    g.wait().expect("wait");
}

fn go_wait_crossbeam_rayon(n: u64) {
    let wg = crossbeam_utils::sync::WaitGroup::new();
    for _ in 0..n {
        let w = wg.clone();
        rayon::spawn(move || drop(w));
    }
    wg.wait();
}

/// Median ns per task of repeated `f(n)`: at least 3 runs, more until
/// `budget` is spent (at most 200).
fn per_task(f: fn(u64), n: u64, budget: Duration) -> (f64, usize) {
    f(n.min(10_000)); // warm-up
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 3 || (start.elapsed() < budget && runs.len() < 200) {
        let t = Instant::now();
        f(n);
        runs.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    runs.sort_by(f64::total_cmp);
    (runs[runs.len() / 2], runs.len())
}

/// (workload, impl, run N tasks).
type SweepCase = (&'static str, &'static str, fn(u64));

pub(crate) fn sweep(quick: bool, round: u64) {
    let max_n: u64 = if quick { 100_000 } else { 1_000_000 };
    let budget = Duration::from_millis(if quick { 10 } else { 200 });
    let cases: [SweepCase; 3] = [
        ("scale_go_wait", "gogroup", go_wait),
        ("scale_go_wait", "crossbeam+rayon", go_wait_crossbeam_rayon),
        ("scale_go_wait_limit64", "gogroup", go_wait_limit64),
    ];
    let mut n = 10;
    while n <= max_n {
        for (workload, imp, f) in cases {
            let (ns, runs) = per_task(f, n, budget);
            emit(
                workload,
                imp,
                &format!("\"n\":{n},\"ns_per_task\":{ns},\"runs\":{runs},\"round\":{round}"),
            );
        }
        n *= 10;
    }
}

// ---------------------------------------------------------------- one-shot cases

fn errgroup_1m_limit64(quick: bool) {
    let n: u64 = if quick { 100_000 } else { 1_000_000 };
    let rss0 = proc_status("VmRSS");
    let t = Instant::now();
    let g = ErrGroup::new();
    g.set_limit(64).expect("set_limit");
    let peak_threads = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let peak = Arc::clone(&peak_threads);
        g.go(move |_| {
            // Cheap sample of the pool size from inside the tasks, one in 4096.
            if fastrand_ish().is_multiple_of(4096) {
                peak.fetch_max(gogroup::pool::stats().live, Ordering::Relaxed);
            }
            Ok::<(), gogroup::Error>(())
        })
        .expect("go");
    }
    g.wait().expect("wait");
    let secs = t.elapsed().as_secs_f64();
    emit(
        "errgroup_1m_limit64",
        "gogroup",
        &format!(
            "\"n\":{n},\"seconds\":{secs},\"ns_per_task\":{},\"rss_before_kb\":{rss0},\"peak_rss_kb\":{},\"pool_threads_peak\":{},\"threads_after\":{}",
            secs * 1e9 / n as f64,
            proc_status("VmHWM"),
            peak_threads.load(Ordering::Relaxed),
            proc_status("Threads"),
        ),
    );
}

fn fastrand_ish() -> u64 {
    static X: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let x = X.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32
}

fn deadlines_100k(quick: bool) {
    let n: usize = if quick { 10_000 } else { 100_000 };
    let root = CancelToken::new();
    let threads0 = proc_status("Threads");
    let rss0 = proc_status("VmRSS");
    let t = Instant::now();
    let tokens: Vec<CancelToken> = (0..n)
        .map(|i| root.with_timeout(Duration::from_secs(3600 + i as u64)))
        .collect();
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(50));
    let threads1 = proc_status("Threads");
    let rss1 = proc_status("VmRSS");
    let pending = gogroup::pool::stats().pending_deadlines;
    let t = Instant::now();
    root.cancel();
    let cancel_secs = t.elapsed().as_secs_f64();
    assert!(tokens.iter().all(CancelToken::is_cancelled));
    drop(tokens);
    emit(
        "deadlines_100k",
        "gogroup",
        &format!(
            "\"n\":{n},\"create_seconds\":{secs},\"threads_before\":{threads0},\"threads_after\":{threads1},\"rss_before_kb\":{rss0},\"rss_after_kb\":{rss1},\"pending_deadlines\":{pending},\"cancel_all_seconds\":{cancel_secs}"
        ),
    );
}

fn child_tokens_1m(quick: bool) {
    let n: u64 = if quick { 100_000 } else { 1_000_000 };
    let step = n / 20;
    let parent = CancelToken::new();
    // Warm the allocator with the first step, then sample.
    let mut series = String::new();
    let t = Instant::now();
    for i in 0..=n {
        if i % step == 0 {
            if !series.is_empty() {
                series.push(',');
            }
            let _ = write!(series, "[{i},{}]", proc_status("VmRSS"));
        }
        if i < n {
            let c = parent.child();
            std::hint::black_box(&c);
            drop(c);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    emit(
        "child_tokens_1m",
        "gogroup",
        &format!(
            "\"n\":{n},\"seconds\":{secs},\"ns_per_child\":{},\"dependents_after\":{},\"peak_rss_kb\":{},\"series\":[{series}]",
            secs * 1e9 / n as f64,
            parent.dependents(),
            proc_status("VmHWM"),
        ),
    );
}

/// `n` threads blocked in a wait; one release; how long until each ran.
fn release_many(imp: &str, n: usize, release: impl FnOnce(), wait: Arc<dyn Fn() + Send + Sync>) {
    let base = Instant::now();
    let woke: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let ready = Arc::new(Barrier::new(n + 1));
    let threads0 = proc_status("Threads");
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (wait, woke, ready) = (Arc::clone(&wait), Arc::clone(&woke), Arc::clone(&ready));
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    ready.wait();
                    wait();
                    woke[i].store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                })
                .expect("spawn waiter")
        })
        .collect();
    ready.wait();
    std::thread::sleep(Duration::from_millis(if n > 1000 { 300 } else { 50 }));
    let t0 = base.elapsed().as_nanos() as u64;
    release();
    let release_ns = base.elapsed().as_nanos() as u64 - t0;
    for h in handles {
        h.join().expect("waiter");
    }
    let lat: Vec<u64> = woke
        .iter()
        .map(|w| w.load(Ordering::Relaxed).saturating_sub(t0))
        .collect();
    let last = lat.iter().copied().max().unwrap_or(0);
    let (p50, p99) = percentiles(lat);
    emit(
        "waiters_10k",
        imp,
        &format!(
            "\"n\":{n},\"release_call_ns\":{release_ns},\"p50_ns\":{p50},\"p99_ns\":{p99},\"last_ns\":{last},\"threads\":{}",
            threads0 + n as u64
        ),
    );
}

fn waiters_10k(quick: bool) {
    let n = if quick { 1_000 } else { 10_000 };
    let wg = WaitGroup::new();
    wg.add(1).expect("add");
    let w = wg.clone();
    release_many(
        "gogroup",
        n,
        move || wg.done().expect("done"),
        Arc::new(move || w.wait()),
    );
}

fn waiters_10k_token(quick: bool) {
    let n = if quick { 1_000 } else { 10_000 };
    let t = CancelToken::new();
    let w = t.clone();
    release_many(
        "gogroup-token",
        n,
        move || {
            t.cancel();
        },
        Arc::new(move || w.wait()),
    );
}

/// (name, run; the argument is `--quick`).
pub(crate) type ScaleCase = (&'static str, fn(bool));

pub(crate) const CASES: &[ScaleCase] = &[
    ("errgroup_1m_limit64", errgroup_1m_limit64),
    ("deadlines_100k", deadlines_100k),
    ("child_tokens_1m", child_tokens_1m),
    ("waiters_10k", waiters_10k),
    ("waiters_10k_token", waiters_10k_token),
];
