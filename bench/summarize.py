#!/usr/bin/env python3
"""Turn bench/results/latest.jsonl into BENCHMARKS.md (Python stdlib only).

Input: one JSON object per line, as printed by bench/go/main.go and
bench/src/main.rs:
    {"lang": "go"|"rust", "impl": "go"|"gogroup"|..., "workload": "...",
     "ns_per_op": float, "round": int, ...}

For every workload, gogroup is compared with each other implementation that
ran it (the "peer"). Ratios are computed per round (gogroup and peer measured
in the same round, i.e. seconds apart) and the median of those per-round
ratios is reported, so machine-wide noise that hits both sides cancels out.

Usage: bench/summarize.py [--input FILE] [--meta FILE] [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SUBJECT = "gogroup"
# The C API over the same core: compared with the Rust core (the cost of the boundary).
C_SUBJECT = "gogroup-c"

# name -> (section, what one "op" is, the shape it mirrors)
WORKLOADS = {
    "wg_add_done_1t": ("WaitGroup", "`add(1)` + `done()` on one WaitGroup, 1 thread",
                       "BenchmarkWaitGroupAddDone at 1 proc"),
    "wg_add_done_2t": ("WaitGroup", "`add(1)` + `done()` on a WaitGroup shared by 2 threads",
                       "BenchmarkWaitGroupAddDone"),
    "wg_add_done_work_2t": ("WaitGroup", "as wg_add_done_2t with 100 steps of local work between add and done",
                            "BenchmarkWaitGroupAddDoneWork"),
    "wg_add_done_wait_1t": ("WaitGroup", "`add(1)` + `done()` + `wait()`, 1 thread",
                            "BenchmarkWaitGroupUncontended at 1 proc"),
    "wg_uncontended_2t": ("WaitGroup", "`add(1)` + `done()` + `wait()`, 2 threads, one WaitGroup each",
                          "BenchmarkWaitGroupUncontended"),
    "wg_wait_zero_1t": ("WaitGroup", "`wait()` on a WaitGroup at zero, 1 thread",
                        "BenchmarkWaitGroupWait at 1 proc"),
    "wg_wait_zero_2t": ("WaitGroup", "`wait()` at zero, 2 threads sharing the WaitGroup",
                        "BenchmarkWaitGroupWait"),
    "wg_wait_zero_work_2t": ("WaitGroup", "as wg_wait_zero_2t with 100 steps of local work per wait",
                             "BenchmarkWaitGroupWaitWork"),
    "wg_actually_wait_2t": ("WaitGroup", "new WaitGroup, one task that finishes it (`wg.go` / "
                            "`Add(1); go Done()` / rayon::spawn + crossbeam clone), `wait()` blocks; 2 threads",
                            "BenchmarkWaitGroupActuallyWait"),
    "go_wait_noop": ("go + wait", "per task: spawn 10,000 no-op tasks (`wg.go` / `wg.Go` / rayon::spawn "
                     "+ crossbeam WaitGroup clone / tokio JoinSet), then one wait",
                     "goroutine + WaitGroup"),
    "errgroup_go_wait": ("ErrGroup", "per task: 10,000 `go(|_| Ok(()))` on a fresh group, then `wait()`",
                         "errgroup BenchmarkGo + Wait"),
    "errgroup_go_wait_limit2": ("ErrGroup", "as errgroup_go_wait with `set_limit(2)`",
                                "errgroup SetLimit(2)"),
    "token_new_cancel": ("CancelToken", "new root token + `cancel()` (Go: `WithCancel(Background())` + cancel)",
                         "context.WithCancel"),
    "token_child_new_cancel": ("CancelToken", "`child()` of a live root + `cancel()` of the child",
                               "BenchmarkCommonParentCancel at 1 proc"),
    "token_cancel_100_children": ("CancelToken", "new root + 100 children + `cancel()` of the root "
                                  "(+ dropping them); ns per tree", "WithCancel tree, 100 children"),
    "token_is_cancelled_live": ("CancelToken", "`is_cancelled()` on a live token (Go: `ctx.Err()`)",
                                "BenchmarkErrOK"),
    "token_is_cancelled_done": ("CancelToken", "`is_cancelled()` on a cancelled token (Go: `ctx.Err()`)",
                                "BenchmarkErrCanceled"),
    "go_wait_noop_async": ("go + wait", "Python: per task, 10,000 no-op `async def` tasks under "
                           "`async with gogroup.ErrGroup()` / `asyncio.TaskGroup`", "asyncio.TaskGroup"),
    "token_is_cancelled_live_2t": ("CancelToken", "`is_cancelled()` on a live token shared by 2 threads",
                                   "BenchmarkErrOKParallel"),
}
SECTIONS = ["WaitGroup", "go + wait", "ErrGroup", "CancelToken"]
PEER_ORDER = ["go", "crossbeam+rayon", "tokio-util", "tokio"]


def run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_ns(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}"


def verdict(ratio: float, lo: float, hi: float) -> str:
    pct = abs(ratio - 1) * 100
    if ratio > 1:
        text = "**gogroup slower** (" + (f"{ratio:.2f}x the time" if pct >= 5 else f"by {pct:.1f}%") + ")"
    elif ratio < 1:
        text = "gogroup faster (" + (f"{1 / ratio:.2f}x less time" if pct >= 5 else f"by {pct:.1f}%") + ")"
    else:
        text = "equal"
    if lo < 1 < hi:
        text += "; rounds disagree"
    return text


def load(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                row.setdefault("kind", "time")
                row["lang"] = str(row.get("lang", "?"))
                if row["kind"] == "time":
                    row["ns_per_op"] = float(row["ns_per_op"])
                elif row["kind"] == "latency":
                    row["p50_ns"], row["p99_ns"] = float(row["p50_ns"]), float(row["p99_ns"])
                row["round"] = int(row.get("round", 0))
                row["impl"], row["workload"] = str(row["impl"]), str(row["workload"])
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{path}:{n}: bad result line ({e}): {line[:200]}")
            rows.append(row)
    if not rows:
        sys.exit(f"{path}: no results")
    return rows


def group_of(lang: str) -> str:
    """Rust, Go and C share one table set (the native runtimes); Python and Node have theirs."""
    return lang if lang in ("python", "node") else "native"


def compare(rows: list[dict], section_of, peer_order: list[str]) -> tuple[list[dict], list[str], list[str], dict]:
    """gogroup vs every other impl of each workload, per round. Returns (comparisons, missing,
    workload order, data)."""
    # data[workload][impl][round] = ns_per_op
    data: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    order: list[str] = []
    for r in rows:
        if r["workload"] not in data:
            order.append(r["workload"])
        data[r["workload"]][r["impl"]][r["round"]] = r["ns_per_op"]
    workloads = [w for w in WORKLOADS if w in data] + [w for w in order if w not in WORKLOADS]
    comparisons = []
    missing = []
    for w in workloads:
        impls = data[w]
        section = section_of(w)
        if SUBJECT not in impls:
            missing.append(f"{w}: no {SUBJECT} result")
            continue
        peers = sorted((p for p in impls if p != SUBJECT and not p.startswith(C_SUBJECT)),
                       key=lambda p: (peer_order.index(p) if p in peer_order else len(peer_order), p))
        if not peers:
            missing.append(f"{w}: no peer result")
        for p in peers:
            common = sorted(set(impls[SUBJECT]) & set(impls[p]))
            if not common:
                missing.append(f"{w} vs {p}: never measured in the same round")
                continue
            subj = [impls[SUBJECT][k] for k in common]
            peer = [impls[p][k] for k in common]
            ratios = [x / q for x, q in zip(subj, peer) if q > 0]
            if not ratios:
                missing.append(f"{w} vs {p}: peer time is zero")
                continue
            comparisons.append({
                "section": section, "workload": w, "peer": p, "n": len(ratios),
                "subj_med": statistics.median(subj), "subj_min": min(subj), "subj_max": max(subj),
                "peer_med": statistics.median(peer), "peer_min": min(peer), "peer_max": max(peer),
                "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            })
    return comparisons, missing, workloads, data


TABLE_HEADER = ("| workload | peer | gogroup ns/op median (min–max) | peer ns/op median (min–max) "
                "| ratio gogroup/peer, median of rounds (min–max) | verdict |")
TABLE_SEP = "|---|---|---:|---:|---:|---|"


def table_row(c: dict) -> str:
    return (f"| `{c['workload']}` | {c['peer']} "
            f"| {fmt_ns(c['subj_med'])} ({fmt_ns(c['subj_min'])}–{fmt_ns(c['subj_max'])}) "
            f"| {fmt_ns(c['peer_med'])} ({fmt_ns(c['peer_min'])}–{fmt_ns(c['peer_max'])}) "
            f"| {fmt_ratio(c['ratio'])} ({fmt_ratio(c['ratio_min'])}–{fmt_ratio(c['ratio_max'])}) "
            f"| {verdict(c['ratio'], c['ratio_min'], c['ratio_max'])} |")


def summarize(all_rows: list[dict], meta: dict, plots_dir: str) -> str:
    rows = [r for r in all_rows if r["kind"] == "time" and group_of(r["lang"]) == "native"]
    comparisons, missing, workloads, data = compare(
        rows, lambda w: WORKLOADS.get(w, ("Other",))[0], PEER_ORDER)
    by_lang = {}
    for lang in ("python", "node"):
        lrows = [r for r in all_rows if r["kind"] == "time" and r["lang"] == lang]
        if lrows:
            by_lang[lang] = compare(lrows, lambda w: lang, [])
    rounds = sorted({r["round"] for r in all_rows if r["kind"] not in ("scale", "blocking")})

    quick = bool(meta.get("quick"))
    out: list[str] = []
    out.append("# Benchmarks: gogroup vs Go, Rust, Python and Node peers")
    out.append("")
    out.append("<!-- Generated by bench/summarize.py from bench/results/latest.jsonl; do not edit by hand. -->")
    out.append("")
    if quick:
        out.append("> **QUICK smoke run** (`QUICK=1 make bench`): 1 round of ~10 ms measurements, few "
                   "latency samples, scale runs at a tenth of their size. "
                   "These numbers only show that the harness works; run `make bench` for real ones.")
        out.append("")
    out.append("gogroup measured side by side with what each language uses instead, all in **one "
               "run** (`make bench`): Rust gogroup vs Go's `sync.WaitGroup`, goroutines, "
               "`golang.org/x/sync/errgroup` and `context`, and vs Rust peers (crossbeam-utils "
               "`WaitGroup` + `rayon::spawn`, tokio `JoinSet`, tokio-util `CancellationToken`); the C API "
               "vs the Rust core; the Python binding vs `ThreadPoolExecutor`, `asyncio.TaskGroup`, a "
               "Condition-based WaitGroup and `asyncio.Event` tokens; the Node binding vs "
               "`Promise.all`, a plain-JS WaitGroup, `AbortController`/`AbortSignal.any` and p-limit. "
               "Each round runs the Go, Rust, C, Python and Node programs one after the other (the "
               "order alternates between rounds, and so does the order of implementations inside "
               "each program); every ratio below is the **median of the per-round ratios** gogroup / "
               "peer. A ratio above 1 means gogroup takes longer than the peer. Then come wake-up "
               "latencies (p50/p99), blocking and long tasks (sleeping and CPU-bound tasks, thread "
               "counts, idle CPU), and scale runs with plots.")
    out.append("")
    out.append("This machine is small and shared: absolute nanoseconds mean little and move from run "
               "to run; ratios measured seconds apart in the same round are what to compare. "
               "\"rounds disagree\" marks comparisons where some rounds had gogroup faster and "
               "others slower: treat those as a tie.")
    out.append("")

    out.append("## Machine and run")
    out.append("")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    started, finished = meta.get("started", now), meta.get("finished")
    out.append(f"- Date: {started}" + (f" to {finished}" if finished and finished != started else ""))
    out.append(f"- CPU: {cpu_model()}; `nproc` = {os.cpu_count()}")
    out.append(f"- OS: {platform.system()} {platform.release()} ({platform.machine()})")
    out.append(f"- Rust: `{run(['rustc', '--version'])}`; Go: `{run(['go', 'version'])}`")
    out.append(f"- Python: `{meta.get('python', 'unknown')}`; Node: `{meta.get('node', 'unknown')}`; "
               f"p-limit {meta.get('p_limit', 'unknown')}")
    if meta.get("loadavg_before"):
        out.append(f"- Load average (1/5/15 min) before: {meta['loadavg_before']}; "
                   f"after the rounds: {meta.get('loadavg_after', 'unknown')}")
    out.append(f"- Rounds: {len(rounds)}" + (f" (filter `{meta['filter']}`)" if meta.get("filter") else ""))
    out.append("- Each measurement: warm up while sizing the iteration count, then one timed run of "
               f"about {'10' if quick else meta.get('target_ms', 150)} ms (the same plain harness in every "
               "language: `Instant`, `time.Now`, `clock_gettime`, `perf_counter`, `hrtime`; no "
               "criterion, no `go test -bench`)")
    if meta.get("revision"):
        out.append(f"- Code measured: `{meta['revision']}` (`git describe --dirty`; every binary is "
                   "built at the start of the run and run from a private copy)")
    if meta.get("latency_samples"):
        out.append(f"- Latency: {meta['latency_samples']} samples per case and round")
    if meta.get("note"):
        out.append(f"- Note: {meta['note']}")
    made_with = meta.get("command", "make bench")
    out.append("- Reproduce: `make bench` (builds everything it needs, then `bench/run.sh`; "
               "`ROUNDS=N` for more rounds, `FILTER=substr` for some workloads, `SCALE=0` to skip the "
               "scale runs, `BLOCKING=0` to skip the blocking-task runs, `QUICK=1` for a smoke run)" +
               (f"; this file was made with `{made_with}`" if made_with != "make bench" else ""))
    out.append("")

    tagged = [("Rust", c) for c in comparisons] + [
        (LANG_TITLE[lang], c) for lang, res in by_lang.items() for c in res[0]]
    slower = [(t, c) for t, c in tagged if c["ratio"] > 1]
    out.append("## Summary: where gogroup loses")
    out.append("")
    out.append(f"{len(tagged)} time comparisons (Rust {len(comparisons)}"
               + "".join(f", {LANG_TITLE[lang]} {len(res[0])}" for lang, res in by_lang.items())
               + f"); gogroup is slower (median ratio > 1) in {len(slower)}:")
    out.append("")
    if slower:
        for t, c in sorted(slower, key=lambda tc: -tc[1]["ratio"]):
            note = " (rounds disagree: a tie)" if c["ratio_min"] < 1 < c["ratio_max"] else ""
            out.append(f"- {t}: `{c['workload']}` vs {c['peer']}: {fmt_ratio(c['ratio'])}x the time{note}")
    else:
        out.append("- none")
    out.append("")
    out.extend(latency_losses(all_rows))
    out.extend(blocking_losses(all_rows))

    header, sep = TABLE_HEADER, TABLE_SEP
    for section in SECTIONS + sorted({c["section"] for c in comparisons} - set(SECTIONS)):
        rows_s = [c for c in comparisons if c["section"] == section]
        if not rows_s:
            continue
        out.append(f"## {section}")
        out.append("")
        out.append(header)
        out.append(sep)
        for c in rows_s:
            out.append(table_row(c))
        out.append("")

    # The C API against the Rust core, same workload, same round: the cost of the boundary.
    c_rows = []
    for w in workloads:
        impls = data[w]
        if C_SUBJECT not in impls or SUBJECT not in impls:
            continue
        common = sorted(set(impls[C_SUBJECT]) & set(impls[SUBJECT]))
        if not common:
            continue
        cs = [impls[C_SUBJECT][k] for k in common]
        rs = [impls[SUBJECT][k] for k in common]
        ratios = [c / r for c, r in zip(cs, rs) if r > 0]
        if ratios:
            c_rows.append((w, statistics.median(cs), statistics.median(rs),
                           statistics.median(ratios), min(ratios), max(ratios)))
    if c_rows:
        out.append("## The C API (cost of the boundary)")
        out.append("")
        out.append("The same workloads through `libgogroup` (C, `ffi-c/bench/bench.c`) and through the "
                   "Rust core, in the same rounds. `is_cancelled` from C is the header's inline "
                   "`gogroup_cancel_token_is_cancelled_inline` (an exported function call costs more "
                   "than the single atomic load it wraps). Targets: add+done and is_cancelled within "
                   "1.5x of Rust, go+wait within 1.2x.")
        out.append("")
        out.append("| workload | C ns/op (median) | Rust ns/op (median) | ratio C/Rust, median of rounds (min–max) |")
        out.append("|---|---:|---:|---:|")
        for w, cm, rm, ratio, lo, hi in c_rows:
            out.append(f"| `{w}` | {fmt_ns(cm)} | {fmt_ns(rm)} "
                       f"| {fmt_ratio(ratio)} ({fmt_ratio(lo)}–{fmt_ratio(hi)}) |")
        out.append("")

    for lang, (lcomp, lmissing, _, _) in by_lang.items():
        out.append(f"## {LANG_TITLE[lang]}")
        out.append("")
        out.append(LANG_INTRO[lang])
        out.append("")
        out.append(header)
        out.append(sep)
        for c in lcomp:
            out.append(table_row(c))
        out.append("")
        out.extend(LANG_NOTES[lang])
        missing += [f"{LANG_TITLE[lang]}: {m}" for m in lmissing]

    out.extend(latency_section(all_rows))
    out.extend(blocking_section(all_rows, plots_dir))
    out.extend(scale_section(all_rows, plots_dir))

    if missing:
        out.append("## Missing comparisons")
        out.append("")
        for m in missing:
            out.append(f"- {m}")
        out.append("")

    out.append("## Workloads")
    out.append("")
    out.append("Same names and shapes in every language that runs them (bench/go/main.go, "
               "bench/src/main.rs, ffi-c/bench/bench.c, py/bench/bench.py, node/bench/bench.mjs; "
               "Python and Node run the subset in their tables, with their own kind of no-op task). "
               "`_2t` shapes run on 2 threads (Go: 2 goroutines, GOMAXPROCS = nproc, as "
               "`b.RunParallel` does) and report wall time divided by the operations of both threads.")
    out.append("")
    out.append("| workload | one op | mirrors |")
    out.append("|---|---|---|")
    for w in workloads:
        _, what, mirrors = WORKLOADS.get(w, ("Other", "(not described)", ""))
        out.append(f"| `{w}` | {what} | {mirrors} |")
    out.append("")
    out.append("Notes:")
    out.append("")
    out.append("- The \"work\" shapes run `x *= 2; x /= 2` 100 times like Go's benchmarks, but start from "
               "a run-time value: Go's own benchmarks start from the constant 0, which the Go compiler's "
               "constant propagation folds away entirely, so there the work is free.")
    out.append("- `go_wait_noop`, `errgroup_*`: gogroup runs tasks on its own elastic thread pool, Go on "
               "goroutines, the Rust peers on rayon's global pool / a 2-worker tokio runtime.")
    out.append("- gogroup's `ErrGroup::go` hands every task a clone of the group's `CancelToken`; "
               "that cost is included, as Go's errgroup has no such argument.")
    out.append("- Memory: the Rust binary uses the default system allocator, Go its own allocator and "
               "garbage collector; allocation costs are part of what each side measures.")
    out.append("- Hand-off shapes (`wg_actually_wait_2t`, `errgroup_go_wait_limit2`, the limit-64 "
               "sweep below): one thread blocks until another runs a task. gogroup's pool is OS "
               "threads, so each hand-off goes through the kernel's scheduler; when other processes "
               "compete for the 2 cores these shapes slow down by 10-100x for gogroup and the Rust "
               "peers, while Go hands goroutines off inside its own scheduler and hardly moves. The "
               "per-round min-max shows how much. (Checked on 2026-11-28: the bench built from an "
               "older core, 0d4502a, degraded the same way under the same load, so this is the "
               "machine, not a regression.)")
    out.append("- `token_cancel_100_children` times the whole tree: creating the root and its 100 children, "
               "cancelling the root, and (Rust) dropping the handles; Go's garbage collection of the "
               "tree happens inside the timed loop as it would in a program.")
    out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------ Python and Node

LANG_TITLE = {"python": "Python", "node": "Node"}
LANG_INTRO = {
    "python": (
        "gogroup's Python binding (`py/bench/bench.py`) against what Python programs use instead, on "
        "the same interpreter in the same rounds: `concurrent.futures.ThreadPoolExecutor`, "
        "`asyncio.TaskGroup`, a pure-Python `threading.Condition` WaitGroup (`CondWaitGroup`) and an "
        "`asyncio.Event`-based token with children (`EventToken`, the usual hand-written one). Tasks "
        "are no-op functions run on threads, except `go_wait_noop_async` (no-op `async def` tasks "
        "under `async with gogroup.ErrGroup()` / `asyncio.TaskGroup`)."),
    "node": (
        "gogroup's Node binding (`node/bench/bench.mjs`) against plain JavaScript in the same rounds: "
        "`Promise.all`, a Promise-based WaitGroup written in JS (`plain-js WaitGroup`), "
        "`AbortController` / `AbortSignal.any`, [p-limit](https://www.npmjs.com/package/p-limit) "
        "(pinned in `node/bench/package.json`), and the limiters people write by hand (a promise "
        "semaphore, a pool of async workers). Tasks are no-op `async` functions on the event loop."),
}
LANG_NOTES = {
    "python": [
        "- Every gogroup call crosses from Python into Rust (PyO3); the pure-Python peers stay in "
        "the interpreter. `go_wait_noop`/`errgroup_*` run each task on gogroup's pool threads "
        "(taking the GIL to call it) vs the executor's worker threads.",
        "- `ThreadPoolExecutor` as an errgroup: submit all, `wait`, then `result()` of each future "
        "(the first error). `errgroup_go_wait_limit2` uses an executor with `max_workers=2`.",
        "",
    ],
    "node": [
        "- A call from JS into the addon costs far more than a JS method call: a napi-rs method "
        "about 250 ns, a raw N-API call about 20 ns. So the hot paths avoid it: `go` keeps a "
        "group's pending loop tasks as ONE count (or slot) in core and runs them in JS; a token "
        "made by `new CancelToken()`/`child()` is a JS object holding a handle; `add`/`done`, "
        "`cancel()` and `cancelled` are raw calls. What still crosses per call shows in "
        "`wg_add_done_1t` and `token_is_cancelled_live` (the plain-JS peers keep their state in "
        "JS, not shared with other threads or C). With a limit, every task takes a slot in core, "
        "where the limit lives.",
        "- Could `add`/`done` and `cancelled` reach core's state word through `Atomics` instead "
        "(an external buffer over core's state)? `node/bench/atomics_probe.mjs` measured the "
        "mechanism on Node 20.20 (V8 11.3), one process, best of 5: a plain-JS counter's "
        "`add(1)` + `done()` 2.6 ns; the same on core's layout (invariant 1 of "
        "`core/src/wait_group.rs`: counter, generation and waiters bit in one 64-bit word, every "
        "change one CAS) with `Atomics` on a `BigInt64Array` 115 ns, no faster than today's two "
        "raw calls, since every 64-bit atomic boxes a BigInt; with 32-bit words (a layout core "
        "does not have: the zero-crossing CAS must see the waiters bit, so it would take a new "
        "state encoding and new loom models) 49 ns, still 19x the peer. `Atomics.load` on an "
        "`Int32Array` 16.6 ns vs `signal.aborted` 0.7 ns, and every token would need a view "
        "(51 ns on a shared slab, 557 ns with a buffer of its own) where `new CancelToken()` "
        "costs ~0.3 µs. So neither row can reach 2x its plain-JS peer this way on Node 20: "
        "`cancelled` stays a raw call (already within 2x: see its row), and `add` + `done` "
        "stays at two raw calls; the gap is the crossing, which only state kept in JS (and so "
        "not shared with other threads or C) avoids.",
        "- `errgroup_go_wait_limit2`: `new ErrGroup({ limit: 2 })` vs `pLimit(2)` + `Promise.all`.",
        "- Values from tasks, awaited by the caller: `errgroup_run_noop*` call `g.run(fn)` 10,000 "
        "times and await `Promise.all` of the promises (peers: `Promise.all` of the calls; with "
        "limit 8, `pLimit(8)` and a hand-written promise semaphore); `errgroup_map_noop*` await "
        "`g.map(items, fn)` over 10,000 items (peers: `Promise.all(items.map(fn))`; with limit 8, "
        "`pLimit(8)` + `Promise.all` and a pool of 8 async workers, the p-map people write by "
        "hand). `_limit8` puts the limit on the group, `_maplimit8` on the call "
        "(`{ limit: 8 }`) in a group without one. Each `run`/`map` task is a `go` task of the "
        "group (counted, cancellable, its failure the group's), which the hand-written peers are "
        "not; with a group limit each task takes its slot in core.",
        "- `token_child_new_cancel` peer: a child `AbortController` linked to the parent's signal "
        "with `AbortSignal.any([parent.signal, own.signal])`; `token_cancel_100_children` peer: "
        "100 × `AbortSignal.any([root.signal])`.",
        "",
    ],
}


# ------------------------------------------------------------------ latency

LATENCY_CASES = {
    "latency_cancel_thread": "`cancel()` → a thread blocked in the token's `wait()` runs again",
    "latency_done_thread": "last `done()` → a thread blocked in `wait()` runs again",
    "latency_cancel_asyncio": "`cancel()` (on the loop) → an asyncio task awaiting the token resumes",
    "latency_done_asyncio": "last `done()` (on the loop) → an asyncio task awaiting `wait_async()` resumes",
    "latency_cancel_asyncio_from_thread": "`cancel()` on another thread → an asyncio task awaiting "
                                          "the token resumes (peer: `loop.call_soon_threadsafe(event.set)`)",
    "latency_cancel_promise": "`cancel()` → a promise continuation (`await token.whenCancelled()`) runs",
    "latency_done_promise": "last `done()` → a continuation of `await wg.wait()` runs",
    "latency_cancel_worker": "`cancel()` on the main thread → a worker blocked in `token.waitSync()` runs again",
}
LANG_ORDER = ["c", "rust", "go", "python", "node"]
LANG_NAME = {"c": "C", "rust": "Rust", "go": "Go", "python": "Python", "node": "Node"}


def fmt_us(ns: float) -> str:
    us = ns / 1000
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


def latency_stats(all_rows: list[dict]) -> list[dict]:
    """One entry per (lang, case, impl): medians over rounds of p50 and p99, and the per-round
    ratio of gogroup's p50 to each peer's."""
    lat: dict[tuple[str, str], dict[str, dict[int, tuple[float, float]]]] = defaultdict(lambda: defaultdict(dict))
    for r in all_rows:
        if r["kind"] == "latency":
            lat[(r["lang"], r["workload"])][r["impl"]][r["round"]] = (r["p50_ns"], r["p99_ns"])
    out = []
    keys = sorted(lat, key=lambda k: (list(LATENCY_CASES).index(k[1]) if k[1] in LATENCY_CASES else 99,
                                      LANG_ORDER.index(k[0]) if k[0] in LANG_ORDER else 99))
    for lang, case in keys:
        impls = lat[(lang, case)]
        subj = next((i for i in impls if i in (SUBJECT, C_SUBJECT)), None)
        for imp in sorted(impls, key=lambda i: (i != subj, i)):
            vals = impls[imp]
            e = {"lang": lang, "case": case, "impl": imp, "subject": imp == subj,
                 "p50": statistics.median(v[0] for v in vals.values()),
                 "p99": statistics.median(v[1] for v in vals.values()),
                 "p99_max": max(v[1] for v in vals.values()), "rounds": len(vals)}
            if subj and imp != subj:
                common = sorted(set(vals) & set(impls[subj]))
                ratios = [impls[subj][k][0] / vals[k][0] for k in common if vals[k][0] > 0]
                if ratios:
                    e["ratio"], e["ratio_min"], e["ratio_max"] = (
                        statistics.median(ratios), min(ratios), max(ratios))
            out.append(e)
    return out


def latency_losses(all_rows: list[dict]) -> list[str]:
    losses = [e for e in latency_stats(all_rows) if e.get("ratio", 0) > 1]
    if not losses:
        return []
    out = ["Wake-up latency (p50, see [Latency](#latency)) where gogroup is slower:", ""]
    for e in sorted(losses, key=lambda e: -e["ratio"]):
        note = " (rounds disagree: a tie)" if e["ratio_min"] < 1 < e["ratio_max"] else ""
        out.append(f"- {LANG_NAME.get(e['lang'], e['lang'])}: `{e['case']}` vs {e['impl']}: "
                   f"{fmt_ratio(e['ratio'])}x{note}")
    out.append("")
    return out


def latency_section(all_rows: list[dict]) -> list[str]:
    stats = latency_stats(all_rows)
    if not stats:
        return []
    out = ["## Latency", ""]
    out.append("From the release (`cancel()`, or the last `done()`) to the waiter running again, in "
               "microseconds. Each sample starts a fresh waiter, lets it block for 1 ms, reads the "
               "monotonic clock, releases it; the waiter reads the clock first thing after its wait "
               "returns. The implementations of one case alternate sample by sample. p50 and p99 are "
               "per round; the table shows their median over the rounds (and the worst p99). Ratio = "
               "gogroup p50 / peer p50, median of rounds.")
    out.append("")
    out.append("| case | runtime | implementation | p50 µs | p99 µs (worst round) | ratio gogroup/peer p50 (min–max) |")
    out.append("|---|---|---|---:|---:|---:|")
    for e in stats:
        ratio = ""
        if "ratio" in e:
            ratio = f"{fmt_ratio(e['ratio'])} ({fmt_ratio(e['ratio_min'])}–{fmt_ratio(e['ratio_max'])})"
            if e["ratio_min"] < 1 < e["ratio_max"]:
                ratio += " rounds disagree: a tie"
            elif e["ratio"] > 1:
                ratio += " **gogroup slower**"
        name = f"**{e['impl']}**" if e["subject"] else e["impl"]
        out.append(f"| `{e['case']}` | {LANG_NAME.get(e['lang'], e['lang'])} | {name} "
                   f"| {fmt_us(e['p50'])} | {fmt_us(e['p99'])} ({fmt_us(e['p99_max'])}) | {ratio} |")
    out.append("")
    out.append("Cases:")
    out.append("")
    for case in sorted({e["case"] for e in stats}, key=lambda c: list(LATENCY_CASES).index(c)
                       if c in LATENCY_CASES else 99):
        out.append(f"- `{case}`: {LATENCY_CASES.get(case, '')}")
    out.append("")
    out.append("Thread waiters: C (`gogroup_cancel_token_wait`, `gogroup_wait_group_wait`; peer "
               "`pthread_cond_wait`), Rust (peers: a `Mutex<bool>` + `Condvar`, crossbeam "
               "`WaitGroup`), Go (a goroutine on `<-ctx.Done()` / `wg.Wait()`), Python (peers "
               "`threading.Event`, `CondWaitGroup`). asyncio: the token's `wait_async()` vs "
               "`asyncio.Event.wait()`, both released from the loop's own thread. Node: a promise "
               "continuation (peer: an `abort` listener resolving a promise) and a worker thread "
               "blocked in `waitSync()` on a shared token (peer: `Atomics.wait` / `Atomics.notify`). Go's waiters are goroutines, parked and woken by "
               "Go's own scheduler without an OS thread wake-up (hence sub-microsecond figures): shown "
               "for reference, with no ratio, since no gogroup runtime can wait that way.")
    out.append("")
    return out



# ------------------------------------------------------------------ blocking tasks

BLOCK_SLEEP = "blocking_sleep_50ms"
BLOCK_CPU = "blocking_cpu_64"
BLOCK_LAT = "blocking_waited_latency"
# Targets the reworked pool is judged by (stated in BENCHMARKS.md, checked below).
TARGET_RUST_10K_S = 1.0
TARGET_WAITED_P99_NS = 5e6
TARGET_IDLE_CPU_MS = 2.0  # "no CPU once done": at most 1% of the 200 ms idle window
TARGET_CPU_THREADS = 8  # "a handful": gogroup pool threads for 64 CPU-bound tasks
# (lang, impl) -> (label in tables and plots, colour, dash)
BLOCK_SERIES = {
    ("rust", "gogroup"): ("Rust gogroup WaitGroup::go", "#1f77b4", ""),
    ("rust", "thread-per-task"): ("Rust thread::spawn per task", "#1f77b4", "6,4"),
    ("rust", "rayon"): ("Rust rayon::spawn", "#2ca02c", ""),
    ("go", "go"): ("Go wg.Go (goroutines)", "#d62728", ""),
    ("go", "go-syscall-sleep"): ("Go wg.Go, nanosleep syscall", "#d62728", "6,4"),
    ("python", "gogroup"): ("Python gogroup WaitGroup.go", "#9467bd", ""),
    ("python", "threading.Thread"): ("Python threading.Thread", "#9467bd", "6,4"),
    ("python", "ThreadPoolExecutor(max_workers=N)"): ("Python ThreadPoolExecutor(N)", "#9467bd", "2,3"),
    ("python", "ThreadPoolExecutor"): ("Python ThreadPoolExecutor()", "#9467bd", "2,3"),
    ("node", "gogroup"): ("Node gogroup WaitGroup.go", "#ff7f0e", ""),
    ("node", "Promise.all"): ("Node Promise.all", "#ff7f0e", "6,4"),
}
# Peers gogroup is compared with, per runtime ("native": Rust gogroup vs Rust peers and Go).
BLOCK_GROUP = {"rust": "native", "go": "native", "python": "python", "node": "node"}


def block_rows(all_rows: list[dict], workload: str) -> list[dict]:
    rows = [r for r in all_rows if r["kind"] == "blocking" and r["workload"] == workload]
    order = {k: i for i, k in enumerate(BLOCK_SERIES)}
    return sorted(rows, key=lambda r: (LANG_ORDER.index(r["lang"]) if r["lang"] in LANG_ORDER else 99,
                                       int(r.get("n", 0)), order.get((r["lang"], r["impl"]), 99)))


def block_name(r: dict) -> str:
    name = BLOCK_SERIES.get((r["lang"], r["impl"]), (f"{LANG_NAME.get(r['lang'], r['lang'])} {r['impl']}",))[0]
    return f"**{name}**" if r["impl"] == SUBJECT else name


def fmt_s(r: dict) -> str:
    if r.get("timed_out"):
        return f"> {r['seconds']:.0f} s (killed)"
    return f"{r['seconds']:.3f} s"


def fmt_opt(v, fmt="{}") -> str:
    return "—" if v is None else fmt.format(v)


def block_comparisons(all_rows: list[dict]) -> list[dict]:
    """gogroup vs every peer of its runtime group, same workload and N: wall time and peak threads
    (one run each, no rounds). Rust gogroup is also compared with Go."""
    out = []
    for wl in (BLOCK_SLEEP, BLOCK_CPU):
        rows = block_rows(all_rows, wl)
        for subj in (r for r in rows if r["impl"] == SUBJECT):
            for peer in rows:
                if (peer["impl"] == SUBJECT or BLOCK_GROUP.get(peer["lang"]) != BLOCK_GROUP.get(subj["lang"])
                        or peer.get("n") != subj.get("n")):
                    continue
                who = f"{LANG_NAME.get(subj['lang'], subj['lang'])}: `{wl}` N={int(subj['n']):,} vs {block_name(peer)}"
                if peer["seconds"] > 0:
                    out.append({"what": who, "measure": "wall time",
                                "ratio": subj["seconds"] / peer["seconds"]})
                extra_s = subj["peak_threads"] - subj.get("threads_before", 0)
                extra_p = peer["peak_threads"] - peer.get("threads_before", 0)
                out.append({"what": who, "measure": "peak threads above the start",
                            "ratio": extra_s / max(extra_p, 1), "detail": f"{extra_s:,} vs {extra_p:,}"})
    lat = block_rows(all_rows, BLOCK_LAT)
    for subj in (r for r in lat if r["impl"] == SUBJECT):
        for peer in lat:
            if peer["impl"] == SUBJECT or BLOCK_GROUP.get(peer["lang"]) != BLOCK_GROUP.get(subj["lang"]):
                continue
            for key, label in (("p50_ns", "p50"), ("p99_ns", "p99")):
                if peer[key] > 0:
                    out.append({"what": f"{LANG_NAME.get(subj['lang'], subj['lang'])}: `{BLOCK_LAT}` vs "
                                        f"{block_name(peer)}", "measure": label, "ratio": subj[key] / peer[key]})
    return out


def block_targets(all_rows: list[dict]) -> list[tuple[str, bool | None, str]]:
    """(target, met? (None: not measured), what was measured)."""
    out: list[tuple[str, bool | None, str]] = []
    sleep = block_rows(all_rows, BLOCK_SLEEP)
    r10k = next((r for r in sleep if r["lang"] == "rust" and r["impl"] == SUBJECT and int(r["n"]) == 10_000), None)
    if r10k:
        out.append((f"Rust: 10,000 × 50 ms in ≤ {TARGET_RUST_10K_S:.1f} s", r10k["seconds"] <= TARGET_RUST_10K_S,
                    fmt_s(r10k)))
        pool = r10k.get("pool_peak", r10k["peak_threads"])
        out.append(("Rust: 10,000 × 50 ms with ≤ one thread per task", pool <= 10_000,
                    f"{pool:,} pool threads at the peak"))
    else:
        out.append((f"Rust: 10,000 × 50 ms in ≤ {TARGET_RUST_10K_S:.1f} s", None, "not run (QUICK runs stop at N = 1,000)"))
    for n in sorted({int(r["n"]) for r in sleep if r["lang"] == "python"}):
        py = {r["impl"]: r for r in sleep if r["lang"] == "python" and int(r["n"]) == n}
        g = py.get(SUBJECT)
        peers = [r for i, r in py.items() if i != SUBJECT]
        if g and peers:
            ok = not g.get("timed_out") and all(g["seconds"] <= p["seconds"] for p in peers)
            out.append((f"Python: N = {n:,} no slower than thread-per-task and ThreadPoolExecutor(max_workers=N)",
                        ok, f"{fmt_s(g)} vs " + ", ".join(f"{fmt_s(p)} ({p['impl']})" for p in peers)))
    for r in block_rows(all_rows, BLOCK_LAT):
        if r["impl"] == SUBJECT:
            out.append((f"{LANG_NAME.get(r['lang'], r['lang'])}: p99 of the waited-for task ≤ 5 ms",
                        r["p99_ns"] <= TARGET_WAITED_P99_NS, f"p99 {fmt_us(r['p99_ns'])} µs"))
    for r in sleep + block_rows(all_rows, BLOCK_CPU):
        if r["impl"] != SUBJECT or r.get("timed_out") or r["lang"] not in ("rust", "python"):
            continue
        where = f"{LANG_NAME[r['lang']]} `{r['workload']}` N={int(r['n']):,}"
        if "pool_zero_after_s" in r:
            z = r["pool_zero_after_s"]
            out.append((f"{where}: pool threads back to 0 after the idle timeout ({r['idle_timeout_s']:g} s)",
                        z is not None, "never (gave up after the timeout + 2 s)" if z is None else f"after {z:.2f} s"))
        out.append((f"{where}: no CPU once done (≤ {TARGET_IDLE_CPU_MS:g} ms in the 200 ms after)",
                    r["idle_cpu_ms"] <= TARGET_IDLE_CPU_MS, f"{r['idle_cpu_ms']:.1f} ms"))
    for r in block_rows(all_rows, BLOCK_CPU):
        if r["impl"] == SUBJECT:
            pool = r.get("pool_peak", r["peak_threads"] - r.get("threads_before", 0))
            out.append((f"{LANG_NAME.get(r['lang'], r['lang'])}: 64 CPU-bound tasks on ≤ {TARGET_CPU_THREADS} threads",
                        pool <= TARGET_CPU_THREADS, f"{pool} pool threads at the peak"))
    return out


def blocking_losses(all_rows: list[dict]) -> list[str]:
    comps = block_comparisons(all_rows)
    targets = block_targets(all_rows)
    if not comps and not targets:
        return []
    worse = [c for c in comps if c["ratio"] > 1]
    out = [f"Blocking and long tasks (one run each, see [Blocking and long tasks](#blocking-and-long-tasks)): "
           f"{len(comps)} comparisons of wall time, peak threads and waited-for latency; gogroup is worse in "
           f"{len(worse)}:", ""]
    for c in sorted(worse, key=lambda c: -c["ratio"]):
        detail = f" ({c['detail']})" if c.get("detail") else ""
        tie = " (within 10% on a single run: a tie)" if c["ratio"] < 1.1 else ""
        out.append(f"- {c['what']}: {c['measure']} {fmt_ratio(c['ratio'])}x{detail}{tie}")
    if not worse:
        out.append("- none")
    out.append("")
    missed = [t for t in targets if t[1] is False]
    out.append(f"Targets for blocking tasks: {len(targets)}, missed {len(missed)}" + (":" if missed else "."))
    out.append("")
    for t, _, got in missed:
        out.append(f"- {t}: {got}")
    if missed:
        out.append("")
    return out


def blocking_section(all_rows: list[dict], plots_dir: str) -> list[str]:
    sleep = block_rows(all_rows, BLOCK_SLEEP)
    cpu = block_rows(all_rows, BLOCK_CPU)
    lat = block_rows(all_rows, BLOCK_LAT)
    if not (sleep or cpu or lat):
        return []
    rel = os.path.relpath(plots_dir, ROOT)
    out = ["## Blocking and long tasks", ""]
    out.append("The workloads a pool of OS threads can get wrong: tasks that block (sleep) and tasks that "
               "compute for a long time (bench/src/blocking.rs, bench/go/blocking.go, "
               "py/bench/bench.py, node/bench/bench.mjs). Run once per `make bench`, after the rounds; every "
               "case in a fresh process, so its thread counts are its own. Peak threads: the process's "
               "`Threads:` in `/proc/self/status`, sampled every ~1 ms by a sampler thread (Python: a "
               "thread, so under GIL contention up to every 5 ms; Node: a 1 ms interval timer on the "
               "loop) and once more right after the wait. Idle CPU: the process's CPU time "
               "(`CLOCK_PROCESS_CPUTIME_ID`, `getrusage`, `time.process_time`, `process.cpuUsage`) over the "
               "200 ms after the wait returns, with the sampler stopped and nothing of the benchmark's "
               "running. Pool: gogroup's own count of its threads (`gogroup::pool::stats().live`; "
               "Python `_pool_stats()`; Node does not expose it), and how long after the wait it is back "
               "to 0 (polled every 10 ms, up to the idle timeout + 2 s). Single runs, no rounds: these "
               "are big effects, not percent differences. The C API is not run here (ffi-c/bench has no "
               "harness for one-shot multi-threaded cases; the core under it is the Rust one).")
    out.append("")
    out.append("**Targets** the reworked pool is judged by: 10,000 × 50 ms from Rust in ≤ 1.0 s with at most "
               "one thread per task; from Python no slower than one `threading.Thread` per task and than "
               "`ThreadPoolExecutor(max_workers=N)`; the waited-for task's p99 ≤ 5 ms; pool threads back to "
               "0 after the idle timeout and no CPU spent once the work is done (≤ 2 ms of CPU in the "
               "200 ms after); 64 CPU-bound tasks never start more than a handful (≤ 8) of threads.")
    out.append("")
    targets = block_targets(all_rows)
    if targets:
        out.append("| target | met | measured |")
        out.append("|---|---|---|")
        for t, ok, got in targets:
            mark = "not measured" if ok is None else ("yes" if ok else "**no**")
            out.append(f"| {t} | {mark} | {got} |")
        out.append("")
    if sleep:
        out.append("### N tasks that each sleep 50 ms")
        out.append("")
        out.append("All N started, then one wait. Rust and Python tasks block their thread in `sleep`; Go's "
                   "`time.Sleep` parks the goroutine without a thread (the `nanosleep` syscall variant "
                   "shows what a goroutine blocked in the kernel costs: a thread each, as in gogroup); "
                   "Node's tasks are `async` functions awaiting a 50 ms timer (nothing blocks a thread "
                   "there). The ideal wall time is 50 ms. Python runs N = 10,000 too, but a case that "
                   "takes more than 20 s is killed (its row says so) so that `make bench` stays short; "
                   "QUICK runs stop at N = 1,000.")
        out.append("")
        out.append("| runtime | implementation | N | wall time | peak threads (at start) | threads right after "
                   "| gogroup pool: peak / right after / back to 0 after | CPU in the 200 ms after |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in sleep:
            out.append(block_row(r, with_n=True))
        out.append("")
        plot_blocking(sleep, plots_dir)
        out.append(f"![wall time vs N]({rel}/blocking_sleep_time.svg)")
        out.append("")
        out.append(f"![peak threads vs N]({rel}/blocking_sleep_threads.svg)")
        out.append("")
        out.append(f"Plots: [{rel}/blocking_sleep_time.svg]({rel}/blocking_sleep_time.svg), "
                   f"[{rel}/blocking_sleep_threads.svg]({rel}/blocking_sleep_threads.svg)")
        out.append("")
    if cpu:
        out.append("### 64 CPU-bound tasks")
        out.append("")
        out.append("64 tasks of ~20 ms of arithmetic each (the iteration count calibrated on one thread "
                   "first, per language), started at once, then one wait, on "
                   f"{os.cpu_count()} cores. Ideal wall time: 64 × 20 ms / cores (Python: 64 × 20 ms, the "
                   "GIL runs one task at a time). More threads than cores cannot help here; they only cost.")
        out.append("")
        out.append("| runtime | implementation | wall time | ideal | peak threads (at start) | threads right after "
                   "| gogroup pool: peak / right after / back to 0 after | CPU in the 200 ms after |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in cpu:
            out.append(block_row(r, with_n=False))
        out.append("")
    if lat:
        out.append("### Latency of a waited-for task under a stream of short tasks")
        out.append("")
        out.append("A submitter keeps a steady stream going: a burst of 4 tasks every 200 µs (20,000 "
                   "tasks/s), each ~20 µs of arithmetic, every 50th a 20 ms sleep instead. Meanwhile, "
                   "1 ms apart, a task T1 submits a sibling T2 (`go` on a fresh WaitGroup) and waits for "
                   "it; the delay from T2's submission to T2's first instruction is one sample (300 per run, 50 "
                   "with QUICK). Go's T1 and T2 are goroutines (T2 lands in the run queue of T1's processor "
                   "and runs as soon as T1 blocks). Python: a tenth of the stream (a burst of 4 every 2 ms, "
                   "2,000 tasks/s: every task takes the GIL), gogroup `WaitGroup.go` vs one "
                   "`ThreadPoolExecutor()` that runs the stream, T1 and T2 (T1 waits on T2's future). The "
                   "measured stream rate is in the table.")
        out.append("")
        out.append("| runtime | implementation | samples | p50 µs | p99 µs | max µs | stream tasks/s (measured) "
                   "| peak threads (at start) | gogroup pool peak |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in lat:
            out.append(f"| {LANG_NAME.get(r['lang'], r['lang'])} | {block_name(r)} | {r['samples']} "
                       f"| {fmt_us(r['p50_ns'])} | {fmt_us(r['p99_ns'])} | {fmt_us(r['max_ns'])} "
                       f"| {r['stream_tasks_per_s']:,.0f} | {r['peak_threads']:,} ({r['threads_before']}) "
                       f"| {fmt_opt(r.get('pool_peak'), '{:,}')} |")
        out.append("")
    return out


def block_row(r: dict, with_n: bool) -> str:
    cells = [LANG_NAME.get(r["lang"], r["lang"]), block_name(r)]
    if with_n:
        cells.append(f"{int(r['n']):,}")
    cells.append(fmt_s(r))
    if not with_n:
        cells.append(f"{r['ideal_seconds']:.2f} s" if "ideal_seconds" in r else "")
    if r.get("timed_out"):
        cells += [f"≥ {r['peak_threads']:,} (seen from outside)", "—", "—", "—"]
        return "| " + " | ".join(cells) + " |"
    cells.append(f"{r['peak_threads']:,} ({r['threads_before']})")
    cells.append(f"{r['threads_after']:,}")
    if "pool_peak" in r:
        z = r.get("pool_zero_after_s")
        zero = (f"never (> {r['idle_timeout_s'] + 2:g} s; {r['threads_after_idle']:,} threads then)"
                if z is None else f"{z:.2f} s")
        cells.append(f"{r['pool_peak']:,} / {r['pool_after']:,} / {zero}")
    else:
        cells.append("—")
    idle = f"{r['idle_cpu_ms']:.1f} ms"
    if abs(r.get("idle_window_ms", 200) - 200) > 20:
        idle += f" (window {r['idle_window_ms']:.0f} ms)"
    cells.append(idle)
    return "| " + " | ".join(cells) + " |"


def plot_blocking(rows: list[dict], plots_dir: str) -> None:
    series: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        series[(r["lang"], r["impl"])].append(r)
    keys = [k for k in BLOCK_SERIES if k in series] + [k for k in series if k not in BLOCK_SERIES]

    def style(k: tuple[str, str]) -> tuple[str, str, str]:
        return BLOCK_SERIES.get(k, (f"{k[0]} {k[1]}", "#7f7f7f", ""))

    svg_line_plot(os.path.join(plots_dir, "blocking_sleep_time.svg"),
                  "N tasks sleeping 50 ms: wall time (killed runs at their limit)", "N tasks (log)",
                  "wall time, s (log)",
                  [(*style(k), [(float(r["n"]), float(r["seconds"])) for r in series[k]]) for k in keys],
                  logx=True, logy=True)
    svg_line_plot(os.path.join(plots_dir, "blocking_sleep_threads.svg"),
                  "N tasks sleeping 50 ms: peak threads of the process", "N tasks (log)",
                  "peak threads (log)",
                  [(*style(k), [(float(r["n"]), float(r["peak_threads"])) for r in series[k]]) for k in keys],
                  logx=True, logy=True)


# ------------------------------------------------------------------ scale

SWEEP_SERIES = [
    ("scale_go_wait", "rust", "gogroup", "gogroup WaitGroup.go", "#1f77b4", ""),
    ("scale_go_wait", "go", "go", "Go goroutine + WaitGroup", "#d62728", ""),
    ("scale_go_wait", "rust", "crossbeam+rayon", "rayon::spawn + crossbeam WaitGroup", "#2ca02c", ""),
    ("scale_go_wait_limit64", "rust", "gogroup", "gogroup ErrGroup, limit 64", "#1f77b4", "6,4"),
    ("scale_go_wait_limit64", "go", "go", "Go errgroup, SetLimit(64)", "#d62728", "6,4"),
]


def svg_line_plot(path: str, title: str, xlabel: str, ylabel: str,
                  series: list[tuple[str, str, str, list[tuple[float, float]]]],
                  logx: bool, logy: bool, y_from_zero: bool = False) -> None:
    """A small line chart in plain SVG. series: (label, colour, dasharray, [(x, y)])."""
    import math
    w, h, left, right, top, bottom = 720, 420, 80, 230, 40, 60
    pts = [p for _, _, _, ps in series for p in ps]
    if not pts:
        return
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    xs = [fx(x) for x, _ in pts]
    ys = [fy(y) for _, y in pts if y > 0 or not logy]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if logy:
        y0, y1 = math.floor(y0), math.ceil(y1)
    else:
        y0 = 0.0 if y_from_zero else y0
        pad = (y1 - y0) * 0.1 or 1.0
        y1 += pad
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pw, ph = w - left - right, h - top - bottom

    def px(v: float) -> float:
        return left + (fx(v) - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return top + ph - (fy(v) - y0) / (y1 - y0) * ph

    def label_num(v: float) -> str:
        if v >= 1e6:
            return f"{v / 1e6:.3g}M"
        if v >= 1e3:
            return f"{v / 1e3:.3g}k"
        return f"{v:.3g}"

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15">{html_escape(title)}</text>']
    # grid and ticks
    if logx:
        xticks = [10.0 ** k for k in range(math.floor(x0), math.ceil(x1) + 1)]
    else:
        step = (x1 - x0) / 5
        xticks = [x0 + i * step for i in range(6)]
    for t in xticks:
        x = px(t)
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{label_num(t)}</text>')
    if logy:
        yticks = [10.0 ** k for k in range(int(y0), int(y1) + 1)]
    else:
        step = (y1 - y0) / 5
        yticks = [y0 + i * step for i in range(6)]
    for t in yticks:
        y = py(t)
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label_num(t)}</text>')
    o.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    o.append(f'<text x="{left + pw / 2}" y="{h - 18}" text-anchor="middle">{html_escape(xlabel)}</text>')
    o.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
             f'{html_escape(ylabel)}</text>')
    for i, (label, colour, dash, ps) in enumerate(series):
        ps = sorted(p for p in ps if p[1] > 0 or not logy)
        if not ps:
            continue
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ps)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        o.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for x, y in ps:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + i * 20
        lx = left + pw + 12
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colour}" '
                 f'stroke-width="2"{dash_attr}/>')
        o.append(f'<text x="{lx + 30}" y="{ly + 4}">{html_escape(label)}</text>')
    o.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")


def html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fmt_kb(kb: float) -> str:
    return f"{kb / 1024:,.1f} MiB"


def scale_section(all_rows: list[dict], plots_dir: str) -> list[str]:
    rows = [r for r in all_rows if r["kind"] == "scale"]
    if not rows:
        return []
    rel = os.path.relpath(plots_dir, ROOT)
    out = ["## Scale", ""]
    out.append("Run once per `make bench`, after the rounds (bench/src/scale.rs, bench/go/scale.go). "
               "Every one-shot case runs in a fresh process, so its peak RSS (`VmHWM`) and thread "
               "count (`/proc/self/status`) are its own.")
    out.append("")
    # --- sweep
    sweep: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r["workload"].startswith("scale_go_wait"):
            sweep[(r["workload"], r["lang"], r["impl"])][int(r["n"])] = float(r["ns_per_task"])
    if sweep:
        ns = sorted({n for v in sweep.values() for n in v})
        cols = [s for s in SWEEP_SERIES if (s[0], s[1], s[2]) in sweep]
        out.append("### Per-task cost of `go` + `wait` as N grows")
        out.append("")
        out.append("N no-op tasks, then one wait; ns per task, the median of repeated runs (at least 3, "
                   "more while under 200 ms per N). \"limit 64\" puts every task through an ErrGroup "
                   "with `set_limit(64)` (Go: errgroup `SetLimit(64)`).")
        out.append("")
        out.append("| N | " + " | ".join(c[3] for c in cols) + " | gogroup/Go, no limit | gogroup/Go, limit 64 |")
        out.append("|---:|" + "---:|" * (len(cols) + 2))
        for n in ns:
            cells = []
            for c in cols:
                v = sweep[(c[0], c[1], c[2])].get(n)
                cells.append(fmt_ns(v) if v is not None else "")
            ratios = []
            for wl in ("scale_go_wait", "scale_go_wait_limit64"):
                a = sweep.get((wl, "rust", "gogroup"), {}).get(n)
                b = sweep.get((wl, "go", "go"), {}).get(n)
                if a and b:
                    r = a / b
                    ratios.append(fmt_ratio(r) + (" **slower**" if r > 1 else ""))
                else:
                    ratios.append("")
            out.append(f"| {n:,} | " + " | ".join(cells + ratios) + " |")
        out.append("")
        svg_line_plot(os.path.join(plots_dir, "scale_go_wait.svg"),
                      "go + wait: ns per task as N grows", "N tasks (log)", "ns per task (log)",
                      [(c[3], c[4], c[5], sorted(sweep[(c[0], c[1], c[2])].items())) for c in cols],
                      logx=True, logy=True)
        out.append(f"![ns per task vs N]({rel}/scale_go_wait.svg)")
        out.append("")
        out.append(f"Plot: [{rel}/scale_go_wait.svg]({rel}/scale_go_wait.svg)")
        out.append("")
    one = {(r["workload"], r["lang"], r["impl"]): r for r in rows if not r["workload"].startswith("scale_")}
    name = {("rust", "gogroup"): "gogroup", ("go", "go"): "Go", ("rust", "gogroup-token"): "gogroup"}

    eg = [(k, v) for k, v in one.items() if k[0] == "errgroup_1m_limit64"]
    if eg:
        out.append(f"### {eg[0][1]['n']:,} tasks through one ErrGroup with limit 64")
        out.append("")
        out.append("| implementation | time | ns per task | RSS before | peak RSS | threads after |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for (_, lang, imp), r in sorted(eg, key=lambda kv: kv[0][1] != "rust"):
            who = "gogroup `ErrGroup` + `set_limit(64)`" if lang == "rust" else "Go errgroup + `SetLimit(64)`"
            out.append(f"| {who} | {r['seconds']:.3f} s | {fmt_ns(r['ns_per_task'])} "
                       f"| {fmt_kb(r['rss_before_kb'])} | {fmt_kb(r['peak_rss_kb'])} | {r['threads_after']} |")
        out.append("")
        out.append("A full limit blocks the submitting thread in `go` (as Go's `g.Go` blocks), so "
                   "tasks never pile up: peak memory stays that of 64 tasks.")
        out.append("")

    dl = [(k, v) for k, v in one.items() if k[0] == "deadlines_100k"]
    if dl:
        out.append(f"### {dl[0][1]['n']:,} pending deadlines")
        out.append("")
        out.append("Children of one live root, each `with_timeout` of an hour or more (Go: "
                   "`context.WithTimeout`), all pending at once; then the root is cancelled.")
        out.append("")
        out.append("| implementation | create all | threads before → after | RSS before → after | cancel the root (all) |")
        out.append("|---|---:|---:|---:|---:|")
        for (_, lang, imp), r in sorted(dl, key=lambda kv: kv[0][1] != "rust"):
            out.append(f"| {name.get((lang, imp), imp)} | {r['create_seconds'] * 1000:.1f} ms "
                       f"| {r['threads_before']} → {r['threads_after']} "
                       f"| {fmt_kb(r['rss_before_kb'])} → {fmt_kb(r['rss_after_kb'])} "
                       f"| {r['cancel_all_seconds'] * 1000:.1f} ms |")
        out.append("")
        out.append("gogroup keeps every deadline in one timer thread's queue: the thread count grows by one "
                   "(the timer), not by one per deadline. Go's runtime timers need no thread either.")
        out.append("")

    ct = [(k, v) for k, v in one.items() if k[0] == "child_tokens_1m"]
    if ct:
        out.append(f"### {ct[0][1]['n']:,} child tokens created and dropped under one live parent")
        out.append("")
        out.append("| implementation | ns per child | RSS at start | RSS at the end | highest sample | parent's dependents after |")
        out.append("|---|---:|---:|---:|---:|---:|")
        series = []
        for (_, lang, imp), r in sorted(ct, key=lambda kv: kv[0][1] != "rust"):
            pts = [(float(a), float(b)) for a, b in r["series"]]
            dep = r.get("dependents_after", "—")
            how = "`child()` + drop" if lang == "rust" else "`WithCancel` + `cancel()`"
            out.append(f"| {name.get((lang, imp), imp)} ({how}) "
                       f"| {fmt_ns(r['ns_per_child'])} | {fmt_kb(pts[0][1])} | {fmt_kb(pts[-1][1])} "
                       f"| {fmt_kb(max(p[1] for p in pts))} | {dep} |")
            series.append((name.get((lang, imp), imp), "#1f77b4" if lang == "rust" else "#d62728", "",
                           [(max(x, 1.0), y / 1024) for x, y in pts]))
        svg_line_plot(os.path.join(plots_dir, "child_tokens_rss.svg"),
                      "RSS while creating and dropping child tokens", "children created so far",
                      "RSS (MiB)", series, logx=False, logy=False, y_from_zero=True)
        out.append("")
        out.append("A dropped child unlinks itself from its parent (the parent's `dependents()` is back "
                   "to 0), so memory stays flat however many children come and go. (Go's cancelled "
                   "children are unlinked too; its RSS moves with the garbage collector's heap target, "
                   "not with a leak.)")
        out.append("")
        out.append(f"![RSS vs children created]({rel}/child_tokens_rss.svg)")
        out.append("")
        out.append(f"Plot: [{rel}/child_tokens_rss.svg]({rel}/child_tokens_rss.svg)")
        out.append("")

    wt = [(k, v) for k, v in one.items() if k[0] == "waiters_10k"]
    if wt:
        out.append(f"### {wt[0][1]['n']:,} waiters released at once")
        out.append("")
        out.append("That many threads (64 KiB stacks) blocked in `wait()`, then one release; each "
                   "waiter records when it ran again. On 2 cores the last of them necessarily runs "
                   "long after the first: this measures how the release scales, not a single wake-up.")
        out.append("")
        out.append("| release | threads | the release call itself | waiters running again: p50 | p99 | last |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for (_, lang, imp), r in sorted(wt):
            what = "`WaitGroup::done()` (count 1 → 0)" if imp == "gogroup" else "`CancelToken::cancel()`"
            out.append(f"| {what} | {r['threads']:,} | {r['release_call_ns'] / 1e6:.1f} ms "
                       f"| {r['p50_ns'] / 1e6:.1f} ms | {r['p99_ns'] / 1e6:.1f} ms | {r['last_ns'] / 1e6:.1f} ms |")
        out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=os.path.join(HERE, "results", "latest.jsonl"))
    ap.add_argument("--meta", default=os.path.join(HERE, "results", "latest.meta.json"))
    ap.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    meta = {}
    if a.meta and os.path.exists(a.meta):
        with open(a.meta, encoding="utf-8") as f:
            meta = json.load(f)
    plots = os.path.join(HERE, "plots")
    os.makedirs(plots, exist_ok=True)
    text = summarize(load(a.input), meta, plots)
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
