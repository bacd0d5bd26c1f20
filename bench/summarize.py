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
                row["ns_per_op"] = float(row["ns_per_op"])
                row["round"] = int(row["round"])
                row["impl"], row["workload"] = str(row["impl"]), str(row["workload"])
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{path}:{n}: bad result line ({e}): {line[:200]}")
            rows.append(row)
    if not rows:
        sys.exit(f"{path}: no results")
    return rows


def summarize(rows: list[dict], meta: dict) -> str:
    # data[workload][impl][round] = ns_per_op
    data: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    order: list[str] = []
    for r in rows:
        if r["workload"] not in data:
            order.append(r["workload"])
        data[r["workload"]][r["impl"]][r["round"]] = r["ns_per_op"]
    workloads = [w for w in WORKLOADS if w in data] + [w for w in order if w not in WORKLOADS]
    rounds = sorted({r["round"] for r in rows})

    comparisons = []  # (section, workload, peer, stats...)
    missing = []
    for w in workloads:
        impls = data[w]
        section = WORKLOADS.get(w, ("Other",))[0]
        if SUBJECT not in impls:
            missing.append(f"{w}: no {SUBJECT} result")
            continue
        peers = sorted((p for p in impls if p != SUBJECT and not p.startswith(C_SUBJECT)),
                       key=lambda p: (PEER_ORDER.index(p) if p in PEER_ORDER else len(PEER_ORDER), p))
        if not peers:
            missing.append(f"{w}: no peer result")
        for p in peers:
            common = sorted(set(impls[SUBJECT]) & set(impls[p]))
            if not common:
                missing.append(f"{w} vs {p}: never measured in the same round")
                continue
            subj = [impls[SUBJECT][k] for k in common]
            peer = [impls[p][k] for k in common]
            ratios = [s / q for s, q in zip(subj, peer) if q > 0]
            if not ratios:
                missing.append(f"{w} vs {p}: peer time is zero")
                continue
            comparisons.append({
                "section": section, "workload": w, "peer": p, "n": len(ratios),
                "subj_med": statistics.median(subj), "subj_min": min(subj), "subj_max": max(subj),
                "peer_med": statistics.median(peer), "peer_min": min(peer), "peer_max": max(peer),
                "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            })

    quick = bool(meta.get("quick"))
    out: list[str] = []
    out.append("# Benchmarks: gogroup vs Go and Rust peers")
    out.append("")
    out.append("<!-- Generated by bench/summarize.py from bench/results/latest.jsonl; do not edit by hand. -->")
    out.append("")
    if quick:
        out.append("> **QUICK smoke run** (`QUICK=1 bench/run.sh`): 1 round of ~10 ms measurements. "
                   "These numbers only show that the harness works; run `make bench` for real ones.")
        out.append("")
    out.append("gogroup (Rust) measured side by side with Go's `sync.WaitGroup`, goroutines, "
               "`golang.org/x/sync/errgroup` and `context`, and with Rust peers "
               "(crossbeam-utils `WaitGroup` + `rayon::spawn`, tokio `JoinSet`, tokio-util "
               "`CancellationToken`), all in **one run**: each round runs the Go program and the Rust "
               "program one after the other (the order alternates), and every ratio below is the "
               "**median of the per-round ratios** gogroup / peer. A ratio above 1 means gogroup "
               "takes longer than the peer.")
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
    if meta.get("loadavg_before"):
        out.append(f"- Load average (1/5/15 min) before: {meta['loadavg_before']}; "
                   f"after: {meta.get('loadavg_after', 'unknown')}")
    out.append(f"- Rounds: {len(rounds)}" + (f" (filter `{meta['filter']}`)" if meta.get("filter") else ""))
    out.append("- Each measurement: warm up while sizing the iteration count, then one timed run of "
               f"about {'10' if quick else '150'} ms (plain `Instant` / `time.Now` harness in both "
               "languages, no criterion, no `go test -bench`)")
    made_with = meta.get("command", "make bench")
    out.append("- Reproduce: `make bench` (= `bench/run.sh`; `ROUNDS=N` for more rounds, "
               "`FILTER=substr` for some workloads, `QUICK=1` for a smoke run)" +
               (f"; this file was made with `{made_with}`" if made_with != "make bench" else ""))
    out.append("")

    slower = [c for c in comparisons if c["ratio"] > 1]
    out.append("## Summary")
    out.append("")
    out.append(f"{len(comparisons)} comparisons; gogroup is slower (median ratio > 1) in {len(slower)}:")
    out.append("")
    if slower:
        for c in sorted(slower, key=lambda c: -c["ratio"]):
            note = " (rounds disagree)" if c["ratio_min"] < 1 < c["ratio_max"] else ""
            out.append(f"- `{c['workload']}` vs {c['peer']}: {fmt_ratio(c['ratio'])}x{note}")
    else:
        out.append("- none")
    out.append("")

    header = ("| workload | peer | gogroup ns/op median (min–max) | peer ns/op median (min–max) "
              "| ratio gogroup/peer, median of rounds (min–max) | verdict |")
    sep = "|---|---|---:|---:|---:|---|"
    for section in SECTIONS + sorted({c["section"] for c in comparisons} - set(SECTIONS)):
        rows_s = [c for c in comparisons if c["section"] == section]
        if not rows_s:
            continue
        out.append(f"## {section}")
        out.append("")
        out.append(header)
        out.append(sep)
        for c in rows_s:
            out.append(
                f"| `{c['workload']}` | {c['peer']} "
                f"| {fmt_ns(c['subj_med'])} ({fmt_ns(c['subj_min'])}–{fmt_ns(c['subj_max'])}) "
                f"| {fmt_ns(c['peer_med'])} ({fmt_ns(c['peer_min'])}–{fmt_ns(c['peer_max'])}) "
                f"| {fmt_ratio(c['ratio'])} ({fmt_ratio(c['ratio_min'])}–{fmt_ratio(c['ratio_max'])}) "
                f"| {verdict(c['ratio'], c['ratio_min'], c['ratio_max'])} |")
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

    if missing:
        out.append("## Missing comparisons")
        out.append("")
        for m in missing:
            out.append(f"- {m}")
        out.append("")

    out.append("## Workloads")
    out.append("")
    out.append("Same names and shapes in both languages (bench/go/main.go, bench/src/main.rs). "
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
    out.append("- `token_cancel_100_children` times the whole tree: creating the root and its 100 children, "
               "cancelling the root, and (Rust) dropping the handles; Go's garbage collection of the "
               "tree happens inside the timed loop as it would in a program.")
    out.append("")
    return "\n".join(out)


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
    text = summarize(load(a.input), meta)
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
