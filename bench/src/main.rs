//! Rust side of gogroup's side-by-side benchmarks.
//!
//! Measures `gogroup` and its Rust peers (crossbeam-utils + rayon, tokio,
//! tokio-util) with the same plain harness and the same workload names as
//! the Go program in `bench/go/main.go`, and prints one JSON line per
//! result:
//!
//! ```text
//! {"lang":"rust","impl":"gogroup","workload":"wg_add_done_1t","ns_per_op":12.3,"ops":1000000,"round":0}
//! ```
//!
//! Harness (identical in both languages): for each workload and
//! implementation, warm up while sizing the iteration count so that one
//! measurement takes about `--target-ms` (150 ms; 10 ms with `--quick`), then
//! measure once. `--rounds N` repeats everything N times; the order of the
//! implementations alternates between rounds. `bench/run.sh` interleaves
//! one-round processes of both languages and `bench/summarize.py` turns the
//! lines into `BENCHMARKS.md`.
//!
//! `--scale` runs the scale runs (`scale.rs`) and `--blocking` the
//! blocking-task cases (`blocking.rs`) instead, once per `make bench`.
//!
//! Usage: `gogroup-bench [--filter SUBSTR[,SUBSTR]] [--rounds N]
//! [--round-start K] [--quick] [--target-ms MS] [--list] [--scale]
//! [--blocking]`

use std::hint::black_box;
use std::io::Write;
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gogroup::{CancelToken, ErrGroup, WaitGroup};
use tokio_util::sync::CancellationToken;

mod blocking;
mod latency;
mod scale;

/// N of the go+wait shapes: spawn N no-op tasks, then wait once.
const TASKS_PER_BATCH: u64 = 10_000;
/// Fan-out of `token_cancel_100_children`.
const CHILDREN: usize = 100;
/// The "work" of Go's `BenchmarkWaitGroup*Work` shapes.
const LOCAL_WORK: usize = 100;
/// Parallelism of the `*_2t` shapes (what `RunParallel` uses on 2 cores).
const THREADS: u64 = 2;

/// Runs at least `n` operations and returns how many it ran.
type RunFn = fn(u64) -> u64;

struct Workload {
    name: &'static str,
    impls: &'static [(&'static str, RunFn)],
}

/// Splits `n` operations over [`THREADS`] threads, each running
/// `body(its share)`, and returns the total.
fn parallel(n: u64, body: impl Fn(u64) + Sync) -> u64 {
    let per = n.div_ceil(THREADS);
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                barrier.wait();
                body(per);
            });
        }
    });
    per * THREADS
}

/// Keeps `x` in a register while hiding its value from the optimizer (the
/// Go compiler does not fold the work loop either; `black_box` would add a
/// store and a load per step).
#[inline(always)]
fn opaque(mut x: i64) -> i64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    // SAFETY: the assembly is empty; it only pins `x` in a register.
    unsafe {
        std::arch::asm!("/* {0} */", inout(reg) x, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        x = black_box(x);
    }
    x
}

/// The local work loop of Go's `benchmarkWaitGroupAddDone/Wait`
/// (`foo *= 2; foo /= 2`, 100 times), compiled to the same
/// shift/add/shift chain as Go's.
#[inline(always)]
fn work(mut acc: i64) -> i64 {
    for _ in 0..LOCAL_WORK {
        acc = opaque(acc.wrapping_mul(2)) / 2;
    }
    acc
}

fn batches(n: u64) -> u64 {
    n.div_ceil(TASKS_PER_BATCH)
}

fn sink(x: i64) {
    static SINK: Mutex<i64> = Mutex::new(0);
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    *s = s.wrapping_add(black_box(x));
}

fn tokio_rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS as usize)
            .build()
            .expect("tokio runtime")
    })
}

// ---------------------------------------------------------------- WaitGroup

fn wg_add_done_1t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    for _ in 0..n {
        wg.add(1).expect("add");
        wg.done().expect("done");
    }
    n
}

fn wg_add_done_2t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    parallel(n, |n| {
        for _ in 0..n {
            wg.add(1).expect("add");
            wg.done().expect("done");
        }
    })
}

fn wg_add_done_work_2t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    parallel(n, |n| {
        let mut acc = black_box(1); // see `seed` in bench/go/main.go
        for _ in 0..n {
            wg.add(1).expect("add");
            acc = work(acc);
            wg.done().expect("done");
        }
        sink(acc);
    })
}

fn wg_add_done_wait_1t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    for _ in 0..n {
        wg.add(1).expect("add");
        wg.done().expect("done");
        wg.wait();
    }
    n
}

fn wg_uncontended_2t_gogroup(n: u64) -> u64 {
    parallel(n, |n| {
        let wg = WaitGroup::new(); // one per thread (its own allocation)
        for _ in 0..n {
            wg.add(1).expect("add");
            wg.done().expect("done");
            wg.wait();
        }
    })
}

fn wg_wait_zero_1t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    for _ in 0..n {
        black_box(&wg).wait();
    }
    n
}

fn wg_wait_zero_2t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    parallel(n, |n| {
        for _ in 0..n {
            black_box(&wg).wait();
        }
    })
}

fn wg_wait_zero_work_2t_gogroup(n: u64) -> u64 {
    let wg = WaitGroup::new();
    parallel(n, |n| {
        let mut acc = black_box(1); // see `seed` in bench/go/main.go
        for _ in 0..n {
            black_box(&wg).wait();
            acc = work(acc);
        }
        sink(acc);
    })
}

fn wg_actually_wait_2t_gogroup(n: u64) -> u64 {
    parallel(n, |n| {
        for _ in 0..n {
            let wg = WaitGroup::new();
            wg.go(|| {});
            wg.wait();
        }
    })
}

fn wg_actually_wait_2t_crossbeam_rayon(n: u64) -> u64 {
    parallel(n, |n| {
        for _ in 0..n {
            let wg = crossbeam_utils::sync::WaitGroup::new();
            let w = wg.clone();
            rayon::spawn(move || drop(w));
            wg.wait();
        }
    })
}

// ---------------------------------------------------------------- go + wait

fn go_wait_noop_gogroup(n: u64) -> u64 {
    let b = batches(n);
    for _ in 0..b {
        let wg = WaitGroup::new();
        for _ in 0..TASKS_PER_BATCH {
            wg.go(|| {});
        }
        wg.wait();
    }
    b * TASKS_PER_BATCH
}

fn go_wait_noop_crossbeam_rayon(n: u64) -> u64 {
    let b = batches(n);
    for _ in 0..b {
        let wg = crossbeam_utils::sync::WaitGroup::new();
        for _ in 0..TASKS_PER_BATCH {
            let w = wg.clone();
            rayon::spawn(move || drop(w));
        }
        wg.wait();
    }
    b * TASKS_PER_BATCH
}

fn go_wait_noop_tokio(n: u64) -> u64 {
    let b = batches(n);
    tokio_rt().block_on(async {
        for _ in 0..b {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..TASKS_PER_BATCH {
                set.spawn(async {});
            }
            while let Some(r) = set.join_next().await {
                r.expect("task");
            }
        }
    });
    b * TASKS_PER_BATCH
}

// ---------------------------------------------------------------- ErrGroup

fn errgroup_go_wait_gogroup(n: u64) -> u64 {
    let b = batches(n);
    for _ in 0..b {
        let g = ErrGroup::new();
        for _ in 0..TASKS_PER_BATCH {
            g.go(|_token| Ok::<(), gogroup::Error>(())).expect("go");
        }
        g.wait().expect("wait");
    }
    b * TASKS_PER_BATCH
}

fn errgroup_go_wait_limit2_gogroup(n: u64) -> u64 {
    let b = batches(n);
    for _ in 0..b {
        let g = ErrGroup::new();
        g.set_limit(2).expect("set_limit");
        for _ in 0..TASKS_PER_BATCH {
            g.go(|_token| Ok::<(), gogroup::Error>(())).expect("go");
        }
        g.wait().expect("wait");
    }
    b * TASKS_PER_BATCH
}

// ---------------------------------------------------------------- tokens

fn token_new_cancel_gogroup(n: u64) -> u64 {
    for _ in 0..n {
        let t = CancelToken::new();
        t.cancel();
        black_box(&t);
    }
    n
}

fn token_new_cancel_tokio_util(n: u64) -> u64 {
    for _ in 0..n {
        let t = CancellationToken::new();
        t.cancel();
        black_box(&t);
    }
    n
}

fn token_child_new_cancel_gogroup(n: u64) -> u64 {
    let root = CancelToken::new();
    for _ in 0..n {
        let t = root.child();
        t.cancel();
        black_box(&t);
    }
    n
}

fn token_child_new_cancel_tokio_util(n: u64) -> u64 {
    let root = CancellationToken::new();
    for _ in 0..n {
        let t = root.child_token();
        t.cancel();
        black_box(&t);
    }
    n
}

fn token_cancel_100_children_gogroup(n: u64) -> u64 {
    let mut children = Vec::with_capacity(CHILDREN);
    for _ in 0..n {
        let root = CancelToken::new();
        children.extend((0..CHILDREN).map(|_| root.child()));
        root.cancel();
        children.clear();
    }
    n
}

fn token_cancel_100_children_tokio_util(n: u64) -> u64 {
    let mut children = Vec::with_capacity(CHILDREN);
    for _ in 0..n {
        let root = CancellationToken::new();
        children.extend((0..CHILDREN).map(|_| root.child_token()));
        root.cancel();
        children.clear();
    }
    n
}

fn count_cancelled(n: u64, is_cancelled: impl Fn() -> bool) -> i64 {
    let mut c = 0;
    for _ in 0..n {
        if is_cancelled() {
            c += 1;
        }
    }
    c
}

fn token_is_cancelled_live_gogroup(n: u64) -> u64 {
    let t = CancelToken::new();
    sink(count_cancelled(n, || black_box(&t).is_cancelled()));
    n
}

fn token_is_cancelled_live_tokio_util(n: u64) -> u64 {
    let t = CancellationToken::new();
    sink(count_cancelled(n, || black_box(&t).is_cancelled()));
    n
}

fn token_is_cancelled_done_gogroup(n: u64) -> u64 {
    let t = CancelToken::new();
    t.cancel();
    sink(count_cancelled(n, || black_box(&t).is_cancelled()));
    n
}

fn token_is_cancelled_done_tokio_util(n: u64) -> u64 {
    let t = CancellationToken::new();
    t.cancel();
    sink(count_cancelled(n, || black_box(&t).is_cancelled()));
    n
}

fn token_is_cancelled_live_2t_gogroup(n: u64) -> u64 {
    let t = CancelToken::new();
    parallel(n, |n| {
        sink(count_cancelled(n, || black_box(&t).is_cancelled()))
    })
}

fn token_is_cancelled_live_2t_tokio_util(n: u64) -> u64 {
    let t = CancellationToken::new();
    parallel(n, |n| {
        sink(count_cancelled(n, || black_box(&t).is_cancelled()))
    })
}

// ---------------------------------------------------------------- table

const GOGROUP: &str = "gogroup";
const CROSSBEAM_RAYON: &str = "crossbeam+rayon";
const TOKIO: &str = "tokio";
const TOKIO_UTIL: &str = "tokio-util";

/// Same names and order as `workloads()` in `bench/go/main.go`.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "wg_add_done_1t",
        impls: &[(GOGROUP, wg_add_done_1t_gogroup)],
    },
    Workload {
        name: "wg_add_done_2t",
        impls: &[(GOGROUP, wg_add_done_2t_gogroup)],
    },
    Workload {
        name: "wg_add_done_work_2t",
        impls: &[(GOGROUP, wg_add_done_work_2t_gogroup)],
    },
    Workload {
        name: "wg_add_done_wait_1t",
        impls: &[(GOGROUP, wg_add_done_wait_1t_gogroup)],
    },
    Workload {
        name: "wg_uncontended_2t",
        impls: &[(GOGROUP, wg_uncontended_2t_gogroup)],
    },
    Workload {
        name: "wg_wait_zero_1t",
        impls: &[(GOGROUP, wg_wait_zero_1t_gogroup)],
    },
    Workload {
        name: "wg_wait_zero_2t",
        impls: &[(GOGROUP, wg_wait_zero_2t_gogroup)],
    },
    Workload {
        name: "wg_wait_zero_work_2t",
        impls: &[(GOGROUP, wg_wait_zero_work_2t_gogroup)],
    },
    Workload {
        name: "wg_actually_wait_2t",
        impls: &[
            (GOGROUP, wg_actually_wait_2t_gogroup),
            (CROSSBEAM_RAYON, wg_actually_wait_2t_crossbeam_rayon),
        ],
    },
    Workload {
        name: "go_wait_noop",
        impls: &[
            (GOGROUP, go_wait_noop_gogroup),
            (CROSSBEAM_RAYON, go_wait_noop_crossbeam_rayon),
            (TOKIO, go_wait_noop_tokio),
        ],
    },
    Workload {
        name: "errgroup_go_wait",
        impls: &[(GOGROUP, errgroup_go_wait_gogroup)],
    },
    Workload {
        name: "errgroup_go_wait_limit2",
        impls: &[(GOGROUP, errgroup_go_wait_limit2_gogroup)],
    },
    Workload {
        name: "token_new_cancel",
        impls: &[
            (GOGROUP, token_new_cancel_gogroup),
            (TOKIO_UTIL, token_new_cancel_tokio_util),
        ],
    },
    Workload {
        name: "token_child_new_cancel",
        impls: &[
            (GOGROUP, token_child_new_cancel_gogroup),
            (TOKIO_UTIL, token_child_new_cancel_tokio_util),
        ],
    },
    Workload {
        name: "token_cancel_100_children",
        impls: &[
            (GOGROUP, token_cancel_100_children_gogroup),
            (TOKIO_UTIL, token_cancel_100_children_tokio_util),
        ],
    },
    Workload {
        name: "token_is_cancelled_live",
        impls: &[
            (GOGROUP, token_is_cancelled_live_gogroup),
            (TOKIO_UTIL, token_is_cancelled_live_tokio_util),
        ],
    },
    Workload {
        name: "token_is_cancelled_done",
        impls: &[
            (GOGROUP, token_is_cancelled_done_gogroup),
            (TOKIO_UTIL, token_is_cancelled_done_tokio_util),
        ],
    },
    Workload {
        name: "token_is_cancelled_live_2t",
        impls: &[
            (GOGROUP, token_is_cancelled_live_2t_gogroup),
            (TOKIO_UTIL, token_is_cancelled_live_2t_tokio_util),
        ],
    },
];

// ---------------------------------------------------------------- harness

fn time_it(run: RunFn, n: u64) -> (Duration, u64) {
    let start = Instant::now();
    let ops = run(n);
    (start.elapsed(), ops)
}

/// Warms `run` up and returns an `n` for which one run should take about
/// `target`.
fn calibrate(run: RunFn, target: Duration, max_n: u64) -> u64 {
    let mut n: u64 = 1;
    loop {
        let (d, ops) = time_it(run, n);
        n = n.max(ops);
        let d = d.as_secs_f64().max(1e-9);
        let t = target.as_secs_f64();
        if d >= t / 4.0 || n >= max_n {
            return ((n as f64 * t / d) as u64).clamp(1, max_n);
        }
        // Grow quickly, but at most 100x per step (like testing.B).
        let next = (n.saturating_mul(100)).min((1.5 * n as f64 * t / d) as u64);
        n = next.clamp(n + 1, max_n);
    }
}

/// Calibrates, then measures once; if that run was much shorter than
/// `target` (a stall during calibration, or fixed costs such as starting
/// threads dominated a tiny `n`), re-sizes from it and measures again.
/// Returns (elapsed, ops) of the last run.
fn measure(run: RunFn, target: Duration, max_n: u64) -> (Duration, u64) {
    let mut n = calibrate(run, target, max_n);
    let mut attempt = 0;
    loop {
        let (d, ops) = time_it(run, n);
        attempt += 1;
        if d >= target / 2 || ops >= max_n || attempt >= 6 {
            return (d, ops);
        }
        let d = d.as_secs_f64().max(1e-9);
        let next = (ops as f64 * target.as_secs_f64() / d) as u64;
        n = next.clamp(ops + 1, ops.saturating_mul(100).min(max_n));
    }
}

struct Args {
    filter: Vec<String>,
    rounds: u64,
    round_start: u64,
    quick: bool,
    target_ms: u64,
    list: bool,
    latency_samples: usize,
    scale: bool,
    scale_case: Option<String>,
    blocking: bool,
    blocking_case: Option<String>,
}

const USAGE: &str = "usage: gogroup-bench [--filter SUBSTR[,SUBSTR...]] [--rounds N] \
                     [--round-start K] [--quick] [--target-ms MS] [--latency-samples N] [--list] \
                     [--scale] [--scale-case NAME] [--blocking] [--blocking-case WORKLOAD:IMPL:N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        filter: Vec::new(),
        rounds: 1,
        round_start: 0,
        quick: false,
        target_ms: 150,
        list: false,
        latency_samples: 200,
        scale: false,
        scale_case: None,
        blocking: false,
        blocking_case: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let key = key.trim_start_matches('-');
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("--{key} needs a value\n{USAGE}"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|e| format!("--{key} {v:?}: {e}\n{USAGE}"))
        };
        match key {
            "filter" => {
                args.filter = value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "rounds" => args.rounds = number(value()?)?,
            "round-start" => args.round_start = number(value()?)?,
            "target-ms" => args.target_ms = number(value()?)?,
            "latency-samples" => args.latency_samples = number(value()?)? as usize,
            "scale" => args.scale = true,
            "scale-case" => args.scale_case = Some(value()?),
            "blocking" => args.blocking = true,
            "blocking-case" => args.blocking_case = Some(value()?),
            "quick" => args.quick = true,
            "list" => args.list = true,
            "h" | "help" => return Err(USAGE.to_owned()),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let (target, max_n) = if args.quick {
        (Duration::from_millis(10), 200_000)
    } else {
        (Duration::from_millis(args.target_ms), 1 << 40)
    };
    let matches =
        |name: &str| args.filter.is_empty() || args.filter.iter().any(|f| name.contains(f));
    if let Some(case) = &args.blocking_case {
        if let Err(msg) = blocking::run_case(case, args.quick) {
            eprintln!("{msg}");
            std::process::exit(2);
        }
        return;
    }
    if args.blocking {
        // Every case in a fresh process of its own (thread counts are per process).
        let exe = std::env::current_exe().expect("current_exe");
        for case in blocking::cases(args.quick, matches) {
            let mut cmd = std::process::Command::new(&exe);
            cmd.args(["--blocking-case", &case]);
            if args.quick {
                cmd.arg("--quick");
            }
            let status = cmd.status().expect("run blocking case");
            if !status.success() {
                eprintln!("blocking case {case} failed: {status}");
                std::process::exit(1);
            }
        }
        return;
    }
    if let Some(case) = &args.scale_case {
        match scale::CASES.iter().find(|(name, _)| name == case) {
            Some((_, run)) => run(args.quick),
            None => {
                eprintln!("unknown scale case {case:?}");
                std::process::exit(2);
            }
        }
        return;
    }
    if args.scale {
        // The sweep here; every one-shot case in a fresh process of its own.
        if matches("scale_go_wait") {
            scale::sweep(args.quick, args.round_start);
        }
        let exe = std::env::current_exe().expect("current_exe");
        for (name, _) in scale::CASES.iter().filter(|(n, _)| matches(n)) {
            let mut cmd = std::process::Command::new(&exe);
            cmd.args(["--scale-case", name]);
            if args.quick {
                cmd.arg("--quick");
            }
            let status = cmd.status().expect("run scale case");
            if !status.success() {
                eprintln!("scale case {name} failed: {status}");
                std::process::exit(1);
            }
        }
        return;
    }
    let selected: Vec<&Workload> = WORKLOADS.iter().filter(|w| matches(w.name)).collect();
    let latency_cases: Vec<_> = latency::CASES
        .iter()
        .copied()
        .filter(|(case, _, _)| matches(case))
        .collect();
    if args.list {
        for w in &selected {
            println!("{}", w.name);
        }
        for (case, imp, _) in &latency_cases {
            println!("{case} ({imp})");
        }
        return;
    }
    // The blocking workloads run in their own phase (`--blocking`); a filter that names only
    // them selects nothing here, and that is not an error.
    let blocking_only = blocking::WORKLOADS.iter().any(|w| matches(w));
    if selected.is_empty() && latency_cases.is_empty() && !blocking_only {
        eprintln!("no workload matches {:?}", args.filter);
        std::process::exit(2);
    }

    let stdout = std::io::stdout();
    for r in 0..args.rounds {
        let round = args.round_start + r;
        for w in &selected {
            let mut impls: Vec<_> = w.impls.iter().collect();
            if round % 2 == 1 {
                impls.reverse(); // alternate which implementation runs first
            }
            for (name, run) in impls {
                let (d, ops) = measure(*run, target, max_n);
                let ns = d.as_nanos() as f64 / ops as f64;
                let mut out = stdout.lock();
                writeln!(
                    out,
                    "{{\"lang\":\"rust\",\"impl\":\"{name}\",\"workload\":\"{}\",\"ns_per_op\":{ns},\"ops\":{ops},\"round\":{round}}}",
                    w.name
                )
                .and_then(|()| out.flush())
                .expect("write to stdout");
            }
        }
        let samples = if args.quick { 20 } else { args.latency_samples };
        let mut cases = latency_cases.clone();
        if round % 2 == 1 {
            cases.reverse();
        }
        for (case, imp, p50, p99, n) in latency::run(&cases, samples) {
            let mut out = stdout.lock();
            writeln!(
                out,
                "{{\"lang\":\"rust\",\"impl\":\"{imp}\",\"kind\":\"latency\",\"workload\":\"{case}\",\"p50_ns\":{p50},\"p99_ns\":{p99},\"samples\":{n},\"round\":{round}}}"
            )
            .and_then(|()| out.flush())
            .expect("write to stdout");
        }
    }
}
