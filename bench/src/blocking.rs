//! Blocking and long tasks: the workloads a pool of OS threads can get wrong.
//!
//! * `blocking_sleep_50ms`: N tasks that each sleep 50 ms (N = 100, 1,000,
//!   10,000), all started, then one wait. Wall time; peak thread count of the
//!   process (sampled from `/proc/self/status` every ~1 ms by a sampler
//!   thread); threads alive right after the wait (and gogroup's pool threads);
//!   the process CPU time spent in the 200 ms after the wait while the process
//!   is idle; and, for gogroup, how long until its pool is back to zero
//!   threads (polled, up to the idle timeout + 2 s). Peers: one
//!   `std::thread::spawn` per task.
//! * `blocking_cpu_64`: 64 tasks of ~20 ms of arithmetic each (calibrated on
//!   one thread first) on this machine's cores. Wall time, peak threads.
//!   Peers: rayon's pool, one thread per task.
//! * `blocking_waited_latency`: while a steady stream of short tasks is being
//!   submitted (bursts of 4 every 200 µs, 20,000 tasks/s, each ~20 µs of
//!   arithmetic; every 50th sleeps 20 ms instead), a task T1 submits a sibling
//!   T2 and waits for it; the delay from T2's submission to T2's start,
//!   p50/p99 over 300 samples (50 with `--quick`), 1 ms apart.
//!
//! Every case runs in a fresh process (`--blocking-case WORKLOAD:IMPL:N`), so
//! that thread counts are its own. One JSON line per case, `"kind":"blocking"`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gogroup::WaitGroup;

use crate::latency::percentiles;
use crate::scale::proc_status;

/// The sleep of one task in `blocking_sleep_50ms`.
const SLEEP: Duration = Duration::from_millis(50);
/// How long the process is watched, idle, after the wait returns.
const IDLE_WINDOW: Duration = Duration::from_millis(200);
/// Tasks of `blocking_cpu_64` and how long each computes.
const CPU_TASKS: usize = 64;
const CPU_TASK: Duration = Duration::from_millis(20);

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time of the whole process (every thread), in ns.
fn process_cpu_ns() -> u64 {
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout).
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Samples the process's thread count (and gogroup's live pool threads)
/// every ~1 ms until stopped; keeps the maxima.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    pool_peak: Arc<AtomicUsize>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(proc_status("Threads")));
        let pool_peak = Arc::new(AtomicUsize::new(gogroup::pool::stats().live));
        let (s, p, pp) = (Arc::clone(&stop), Arc::clone(&peak), Arc::clone(&pool_peak));
        let handle = thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    p.fetch_max(proc_status("Threads"), Ordering::Relaxed);
                    pp.fetch_max(gogroup::pool::stats().live, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(1));
                }
            })
            .expect("spawn sampler");
        // The sampler counts itself; let it take its first sample.
        thread::sleep(Duration::from_millis(2));
        Sampler {
            stop,
            peak,
            pool_peak,
            handle: Some(handle),
        }
    }

    /// Stops the sampler; (peak process threads, peak gogroup pool threads).
    fn finish(mut self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("sampler");
        }
        (
            self.peak.load(Ordering::Relaxed),
            self.pool_peak.load(Ordering::Relaxed),
        )
    }
}

fn emit(workload: &str, imp: &str, fields: &str) {
    println!(
        "{{\"lang\":\"rust\",\"impl\":\"{imp}\",\"kind\":\"blocking\",\"workload\":\"{workload}\",{fields}}}"
    );
}

/// Runs `run` (which starts its tasks and waits for them) under a sampler,
/// then watches the idle process; returns the JSON fields.
fn observe(gogroup_pool: bool, run: impl FnOnce()) -> String {
    let threads_before = proc_status("Threads");
    let sampler = Sampler::start();
    let t = Instant::now();
    run();
    let seconds = t.elapsed().as_secs_f64();
    let (peak, pool_peak) = sampler.finish();
    let done = Instant::now();
    let threads_after = proc_status("Threads");
    let pool_after = gogroup::pool::stats().live;
    // Threads still being started when the wait returns count towards the peak.
    let (peak, pool_peak) = (peak.max(threads_after), pool_peak.max(pool_after));
    // Idle: nothing of ours runs; whatever CPU the process uses now is the pool's (or runtime's).
    let (cpu0, wall0) = (process_cpu_ns(), Instant::now());
    thread::sleep(IDLE_WINDOW);
    let idle_cpu_ms = (process_cpu_ns() - cpu0) as f64 / 1e6;
    let idle_window_ms = wall0.elapsed().as_secs_f64() * 1e3;
    let mut fields = format!(
        "\"seconds\":{seconds},\"threads_before\":{threads_before},\"peak_threads\":{peak},\
         \"threads_after\":{threads_after},\"idle_cpu_ms\":{idle_cpu_ms},\"idle_window_ms\":{idle_window_ms}"
    );
    if gogroup_pool {
        let timeout = gogroup::pool::idle_timeout();
        let give_up = done + timeout + Duration::from_secs(2);
        let zero_after = loop {
            if gogroup::pool::stats().live == 0 {
                break Some(done.elapsed().as_secs_f64());
            }
            if Instant::now() >= give_up {
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let zero = zero_after.map_or("null".to_owned(), |s| s.to_string());
        fields += &format!(
            ",\"pool_peak\":{pool_peak},\"pool_after\":{pool_after},\"pool_zero_after_s\":{zero},\
             \"idle_timeout_s\":{},\"threads_after_idle\":{}",
            timeout.as_secs_f64(),
            proc_status("Threads")
        );
    }
    fields
}

// ---------------------------------------------------------------- blocking_sleep_50ms

fn sleep_gogroup(n: usize) {
    let wg = WaitGroup::new();
    for _ in 0..n {
        wg.go(|| thread::sleep(SLEEP));
    }
    wg.wait();
}

fn sleep_threads(n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|_| thread::spawn(|| thread::sleep(SLEEP)))
        .collect();
    for h in handles {
        h.join().expect("task thread");
    }
}

// ---------------------------------------------------------------- blocking_cpu_64

/// Arithmetic the optimizer cannot drop: `iters` steps of an LCG.
fn spin(iters: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..iters {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 29;
    }
    black_box(x)
}

/// Iterations of `spin` that take about `d` on one thread of this machine.
fn iters_for(d: Duration) -> u64 {
    spin(100_000); // warm-up
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        spin(1_000_000);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (1_000_000.0 * d.as_secs_f64() / best) as u64
}

fn cpu_gogroup(iters: u64) {
    let wg = WaitGroup::new();
    for _ in 0..CPU_TASKS {
        wg.go(move || {
            spin(iters);
        });
    }
    wg.wait();
}

fn cpu_rayon(iters: u64) {
    let wg = crossbeam_utils::sync::WaitGroup::new();
    for _ in 0..CPU_TASKS {
        let w = wg.clone();
        rayon::spawn(move || {
            spin(iters);
            drop(w);
        });
    }
    wg.wait();
}

fn cpu_threads(iters: u64) {
    let handles: Vec<_> = (0..CPU_TASKS)
        .map(|_| thread::spawn(move || spin(iters)))
        .collect();
    for h in handles {
        h.join().expect("task thread");
    }
}

// ---------------------------------------------------------------- blocking_waited_latency

/// One short stream task: ~20 µs of arithmetic.
const SHORT_TASK: Duration = Duration::from_micros(20);
/// Every this many stream tasks, one sleeps [`STREAM_SLEEP`] instead.
const SLEEPER_EVERY: u64 = 50;
const STREAM_SLEEP: Duration = Duration::from_millis(20);
/// The stream submits a burst of this many tasks every [`STREAM_PERIOD`] (20,000 tasks/s),
/// catching up after a late wake-up.
const BURST: u64 = 4;
const STREAM_PERIOD: Duration = Duration::from_micros(200);

fn waited_latency(samples: usize) -> String {
    let short_iters = iters_for(SHORT_TASK);
    let stop = Arc::new(AtomicBool::new(false));
    let submitted = Arc::new(AtomicU64::new(0));
    let stream_wg = WaitGroup::new();
    let stream = {
        let (stop, submitted, wg) = (Arc::clone(&stop), Arc::clone(&submitted), stream_wg.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    thread::sleep(next - now);
                    continue;
                }
                // At most 10 ms of catching up after a stall.
                next = next.max(now - Duration::from_millis(10)) + STREAM_PERIOD;
                for _ in 0..BURST {
                    i += 1;
                    if i.is_multiple_of(SLEEPER_EVERY) {
                        wg.go(|| thread::sleep(STREAM_SLEEP));
                    } else {
                        wg.go(move || {
                            spin(short_iters);
                        });
                    }
                }
                submitted.store(i, Ordering::Relaxed);
            }
        })
    };
    thread::sleep(Duration::from_millis(200)); // the stream reaches its steady state
    let threads_before = proc_status("Threads");
    let sampler = Sampler::start();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(samples)));
    let t = Instant::now();
    let sub0 = submitted.load(Ordering::Relaxed);
    for _ in 0..samples {
        let wg = WaitGroup::new();
        let lat = Arc::clone(&lat);
        wg.go(move || {
            // T1: submit the sibling T2 and wait for it.
            let t2 = WaitGroup::new();
            let submitted_at = Instant::now();
            t2.go(move || {
                let d = submitted_at.elapsed().as_nanos() as u64;
                lat.lock().unwrap_or_else(|e| e.into_inner()).push(d);
            });
            t2.wait();
        });
        wg.wait();
        thread::sleep(Duration::from_millis(1));
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = (submitted.load(Ordering::Relaxed) - sub0) as f64 / secs;
    stop.store(true, Ordering::Relaxed);
    stream.join().expect("stream");
    stream_wg.wait();
    let (peak, pool_peak) = sampler.finish();
    let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    let n = lat.len();
    let max = lat.iter().copied().max().unwrap_or(0);
    let (p50, p99) = percentiles(lat);
    format!(
        "\"samples\":{n},\"p50_ns\":{p50},\"p99_ns\":{p99},\"max_ns\":{max},\"stream_tasks_per_s\":{rate},\
         \"threads_before\":{threads_before},\"peak_threads\":{peak},\"pool_peak\":{pool_peak}"
    )
}

// ---------------------------------------------------------------- dispatch

/// (workload, impl) of every case; `blocking_sleep_50ms` runs once per N.
const SLEEP_IMPLS: &[&str] = &["gogroup", "thread-per-task"];
const CPU_IMPLS: &[&str] = &["gogroup", "rayon", "thread-per-task"];

/// The N of `blocking_sleep_50ms`.
pub(crate) fn sleep_ns(quick: bool) -> &'static [usize] {
    if quick {
        &[100, 1_000]
    } else {
        &[100, 1_000, 10_000]
    }
}

/// Names of the workloads (for `--filter`).
pub(crate) const WORKLOADS: &[&str] = &[
    "blocking_sleep_50ms",
    "blocking_cpu_64",
    "blocking_waited_latency",
];

/// Every case as a `--blocking-case` argument, in run order.
pub(crate) fn cases(quick: bool, matches: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    if matches("blocking_sleep_50ms") {
        for n in sleep_ns(quick) {
            for imp in SLEEP_IMPLS {
                out.push(format!("blocking_sleep_50ms:{imp}:{n}"));
            }
        }
    }
    if matches("blocking_cpu_64") {
        for imp in CPU_IMPLS {
            out.push(format!("blocking_cpu_64:{imp}:{CPU_TASKS}"));
        }
    }
    if matches("blocking_waited_latency") {
        out.push("blocking_waited_latency:gogroup:0".to_owned());
    }
    out
}

/// Runs one case in this process.
pub(crate) fn run_case(case: &str, quick: bool) -> Result<(), String> {
    let mut parts = case.splitn(3, ':');
    let (workload, imp, n) = match (parts.next(), parts.next(), parts.next()) {
        (Some(w), Some(i), Some(n)) => (w, i, n.parse::<usize>().map_err(|e| e.to_string())?),
        _ => return Err(format!("bad blocking case {case:?} (WORKLOAD:IMPL:N)")),
    };
    let fields = match (workload, imp) {
        ("blocking_sleep_50ms", "gogroup") => observe(true, || sleep_gogroup(n)),
        ("blocking_sleep_50ms", "thread-per-task") => observe(false, || sleep_threads(n)),
        ("blocking_cpu_64", _) => {
            let iters = iters_for(CPU_TASK);
            let f: fn(u64) = match imp {
                "gogroup" => cpu_gogroup,
                "rayon" => cpu_rayon,
                "thread-per-task" => cpu_threads,
                _ => return Err(format!("unknown impl {imp:?} of {workload}")),
            };
            let ms = CPU_TASK.as_secs_f64() * 1e3;
            format!(
                "{},\"task_ms\":{ms},\"ideal_seconds\":{}",
                observe(imp == "gogroup", || f(iters)),
                CPU_TASKS as f64 * CPU_TASK.as_secs_f64()
                    / thread::available_parallelism().map_or(1, |p| p.get()) as f64
            )
        }
        ("blocking_waited_latency", "gogroup") => waited_latency(if quick { 50 } else { 300 }),
        _ => return Err(format!("unknown blocking case {case:?}")),
    };
    emit(workload, imp, &format!("\"n\":{n},{fields}"));
    Ok(())
}
