#!/usr/bin/env python3
"""Runs every conformance driver on every scenario and prints the matrix.

A driver is a program that takes scenario files as arguments and prints one JSON line per
scenario: {"scenario": NAME, "status": "pass" | "fail" | "departure" | "unsupported",
"detail": TEXT, "ms": N} ("unsupported" also names the "features" its binding cannot express).
Adding a runtime is adding its driver and one line to DRIVERS below (and its build to
mk/conformance.mk). See conformance/README.md.

Usage: python3 conformance/run.py [--driver NAME]... [-k SUBSTRING] [--json FILE]
Exit status: 0 if no cell is FAIL, 1 otherwise, 2 on a malformed scenario.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "conformance" / "scenarios"


@dataclass(frozen=True)
class Driver:
    name: str
    command: tuple[str, ...]  # relative paths are relative to the repository root
    reference: bool = False  # Go: runs the "go" overrides, reports "departure"
    # Features the runtime's binding cannot express, and why. A driver that meets one reports
    # "unsupported" naming it; the cell is "n/a" and the reason is printed under the matrix.
    # A feature not listed here is a FAIL: nothing is skipped silently.
    unsupported: dict[str, str] = field(default_factory=dict)
    # Scenarios on which the runtime's binding is known to differ from the scenario (a bug or
    # a gap to fix in the binding, never in the scenario): a failure is "differs", printed
    # with its detail under the matrix; once it passes, remove the entry.
    known: dict[str, str] = field(default_factory=dict)


C_UNSUPPORTED = {
    "task.panics": "a C task cannot panic: gogroup_task_fn returns a code, gogroup_fn returns nothing, "
    "and unwinding out of a C callback is undefined (no GOGROUP_RESULT_PANIC can come from a C task)",
}
NODE_UNSUPPORTED = {
    "eg.plain": "Node's ErrGroup is always Go's WithContext: there is no plain (zero) group whose "
    "errors cancel nothing",
    "eg.task_panics": "Node's ErrGroup has no task panic: a throw is the task's error",
    "wg.task_panics": "Node's WaitGroup.go reports nothing from wait(): a rejected async task only "
    "decrements the counter (a synchronous throw is rethrown by go() itself)",
    "eg.go_on_full_limit": "Node's ErrGroup.go never waits for a slot: it queues the task and returns at once",
}

# One line per runtime. The build of each lives in mk/conformance.mk.
DRIVERS = [
    Driver("go", ("target/conformance/go-driver",), reference=True),
    Driver("rust", ("target/conformance/release/gogroup-conformance",)),
    Driver("c", ("target/conformance/c-driver",), unsupported=C_UNSUPPORTED),
    Driver(
        "python",
        (".venv/bin/python", "conformance/drivers/python/driver.py"),
        unsupported={
            "eg.task_panics": "Python's ErrGroup has no task panic: every exception a task raises "
            "is its error, so a plain group's token is not cancelled by it",
        },
    ),
    Driver(
        "node",
        ("node", "conformance/drivers/node/driver.mjs"),
        unsupported=NODE_UNSUPPORTED,
    ),
]

# Every op a scenario may use (conformance/README.md); a typo fails here, once, for every driver.
OPS = {
    "wg.new", "wg.add", "wg.done", "wg.count", "wg.go", "wg.wait",
    "token.new", "token.child", "token.with_timeout", "token.with_deadline", "token.any",
    "token.cancel", "token.check", "token.wait", "token.on_cancel", "reg.stop",
    "eg.new", "eg.go", "eg.try_go", "eg.set_limit", "eg.wait", "eg.check", "eg.errors",
    "eg.shutdown",
    "signal", "await", "record", "event.check", "spawn", "join", "join_spawned", "blocked",
    "log.check", "counter.check", "gauge.check", "repeat",
}
ACTIONS = {"signal", "await", "await_cancel", "record", "count", "enter", "leave", "step"}
TASK_KEYS = {"do", "returns", "panics"}
# A scenario slower than this for any driver is listed after the matrix (not a failure: the
# matrix never depends on timing, but a slow pass usually hides a late wake-up).
SLOW_MS = 2000
# A driver that runs longer than this is stopped; its missing scenarios are FAIL.
DRIVER_TIMEOUT_S = 300


class ScenarioError(Exception):
    pass


def walk_steps(steps, where, seen_async, joined):
    """Checks a list of steps (recursively through repeats, tasks and go overrides)."""
    if not isinstance(steps, list):
        raise ScenarioError(f"{where}: steps must be a list")
    for i, st in enumerate(steps, 1):
        here = f"{where} step {i}"
        if not isinstance(st, dict) or st.get("op") not in OPS:
            raise ScenarioError(f"{here}: unknown op {st.get('op') if isinstance(st, dict) else st!r}")
        if "async" in st:
            seen_async.add(st["async"])
        if st["op"] in ("join", "blocked"):
            joined.add(st.get("call"))
        if st["op"] == "repeat":
            walk_steps(st.get("steps"), here, seen_async, joined)
        if "task" in st:
            walk_task(st["task"], here, seen_async, joined)
        if st["op"] == "token.on_cancel":
            walk_actions(st.get("do", []), here, seen_async, joined)
        go = st.get("go")
        if isinstance(go, list):
            walk_steps(go, here + " (go)", seen_async, joined)
        elif go is not None and not isinstance(go, dict):
            raise ScenarioError(f"{here}: a go override is an object or a list of steps")


def walk_task(task, where, seen_async, joined):
    if not isinstance(task, dict) or set(task) - TASK_KEYS:
        raise ScenarioError(f"{where}: a task has only {sorted(TASK_KEYS)}")
    walk_actions(task.get("do", []), where, seen_async, joined)


def walk_actions(actions, where, seen_async, joined):
    for a in actions:
        if not isinstance(a, dict) or len(a) != 1 or next(iter(a)) not in ACTIONS:
            raise ScenarioError(f"{where}: bad action {a!r}")
        if "step" in a:
            walk_steps([a["step"]], where + " (action)", seen_async, joined)


def has_go_override(v) -> bool:
    if isinstance(v, dict):
        return "go" in v or any(has_go_override(x) for x in v.values())
    if isinstance(v, list):
        return any(has_go_override(x) for x in v)
    return False


def load_scenarios(pattern: str | None) -> list[tuple[Path, dict]]:
    out = []
    names = set()
    for path in sorted(SCENARIOS.glob("*.json")):
        try:
            sc = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ScenarioError(f"{path.name}: {e}") from e
        name = sc.get("name")
        if name != path.stem or not re.fullmatch(r"[a-z0-9_]+", name or ""):
            raise ScenarioError(f"{path.name}: name must be the file's stem, in snake_case")
        if name in names:
            raise ScenarioError(f"{path.name}: duplicate name")
        names.add(name)
        if not sc.get("about") or not sc.get("rules"):
            raise ScenarioError(f"{path.name}: needs an 'about' sentence and the 'rules' it checks")
        seen_async, joined = set(), set()
        walk_steps(sc.get("steps"), path.name, seen_async, joined)
        if seen_async - joined:
            raise ScenarioError(f"{path.name}: async calls never joined: {sorted(seen_async - joined)}")
        dep = sc.get("departure")
        if dep is not None and not (isinstance(dep, dict) and dep.get("why")):
            raise ScenarioError(f"{path.name}: a departure needs a 'why'")
        if dep is not None and not dep.get("go_crash") and not has_go_override(sc["steps"]):
            raise ScenarioError(f"{path.name}: a departure states Go's behaviour (go overrides or go_crash)")
        if dep is None and has_go_override(sc["steps"]):
            raise ScenarioError(f"{path.name}: go overrides belong to departures only")
        if pattern is None or pattern in name:
            out.append((path, sc))
    return out


def run_driver(driver: Driver, scenarios: list[tuple[Path, dict]]) -> dict[str, dict]:
    """Runs one driver over the scenarios; a driver that dies is restarted after the culprit."""
    command = [str(ROOT / c) if (ROOT / c).is_file() else c for c in driver.command]
    results: dict[str, dict] = {}
    pending = [p for p, _ in scenarios]
    while pending:
        try:
            proc = subprocess.run(
                command + [str(p) for p in pending],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=DRIVER_TIMEOUT_S,
            )
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except FileNotFoundError:
            for p in pending:
                results[p.stem] = {"status": "fail", "detail": f"driver not built: {command[0]}", "ms": 0}
            break
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            stderr, code = "", f"timeout after {DRIVER_TIMEOUT_S}s"
        for line in stdout.splitlines():
            try:
                r = json.loads(line)
                results[r["scenario"]] = r
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
        missing = [p for p in pending if p.stem not in results]
        if not missing:
            break
        # The driver died (or hung) on the first scenario it did not report.
        tail = " ".join(stderr.strip().splitlines()[-3:])[:300]
        results[missing[0].stem] = {"status": "fail", "detail": f"driver died (exit {code}): {tail}", "ms": 0}
        pending = missing[1:]
    return results


def cell(driver: Driver, sc: dict, r: dict | None) -> tuple[str, str]:
    """The matrix cell and, for a FAIL, why."""
    if r is None:
        return "FAIL", "no result"
    status = r.get("status")
    departure = sc.get("departure") is not None
    if status == "fail":
        if sc["name"] in driver.known:
            return "differs", r.get("detail", "")
        return "FAIL", r.get("detail", "")
    if status == "unsupported" and not driver.reference:
        features = r.get("features") or []
        undeclared = [f for f in features if f not in driver.unsupported]
        if features and not undeclared:
            return "n/a", r.get("detail", "")
        return "FAIL", f"unsupported {undeclared or '(no feature named)'}, not declared in run.py: {r.get('detail', '')}"
    if status == "pass" and not (departure and driver.reference):
        return "pass", ""
    if status == "departure" and departure and driver.reference:
        return "departure", ""
    return "FAIL", f"unexpected status {status!r}" + (" for a departure" if departure else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", action="append", help="run only this driver (repeatable)")
    ap.add_argument("-k", dest="pattern", help="run only scenarios whose name contains this")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args()

    try:
        scenarios = load_scenarios(args.pattern)
    except ScenarioError as e:
        print(f"conformance: malformed scenario: {e}", file=sys.stderr)
        return 2
    drivers = [d for d in DRIVERS if not args.driver or d.name in args.driver]
    unknown = set(args.driver or []) - {d.name for d in DRIVERS}
    if unknown:
        print(f"conformance: unknown driver(s) {sorted(unknown)}", file=sys.stderr)
        return 2

    results = {}
    for d in drivers:
        start = time.monotonic()
        results[d.name] = run_driver(d, scenarios)
        print(f"{d.name}: {len(scenarios)} scenarios in {time.monotonic() - start:.1f}s", file=sys.stderr)

    width = max(len(sc["name"]) for _, sc in scenarios)
    header = "scenario".ljust(width) + "".join(f"  {d.name:<10}" for d in drivers)
    print(header)
    print("-" * len(header))
    failures, slow, counts = [], [], {d.name: {} for d in drivers}
    not_applicable: dict[tuple[str, str], list[str]] = {}
    differs: list[str] = []
    for _, sc in scenarios:
        row = sc["name"].ljust(width)
        for d in drivers:
            r = results[d.name].get(sc["name"])
            text, why = cell(d, sc, r)
            counts[d.name][text] = counts[d.name].get(text, 0) + 1
            row += f"  {text:<10}"
            if text == "FAIL":
                failures.append(f"{sc['name']} [{d.name}]: {why}")
            elif text == "n/a":
                for feature in r.get("features", []):
                    not_applicable.setdefault((d.name, feature), []).append(sc["name"])
            elif text == "pass" and sc["name"] in d.known:
                differs.append(f"{sc['name']} [{d.name}]: passed this time (fixed? remove it from known)")
            elif text == "differs":
                differs.append(f"{sc['name']} [{d.name}]: {d.known[sc['name']]}\n      observed: {why}")
            if r and r.get("ms", 0) > SLOW_MS:
                slow.append(f"{sc['name']} [{d.name}]: {r['ms']} ms")
        print(row.rstrip())
    print("-" * len(header))
    for d in drivers:
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts[d.name].items()))
        print(f"{d.name}: {summary}")
    if not_applicable:
        print("\nn/a (the binding cannot express a feature the scenario uses; see DRIVERS in run.py):")
        by_name = {d.name: d for d in drivers}
        for (name, feature), names in not_applicable.items():
            print(f"  [{name}] {feature}: {by_name[name].unsupported[feature]}")
            print(f"      {', '.join(names)}")
    if differs:
        print("\ndiffers (known differences of a binding, to fix there; see DRIVERS in run.py):")
        for f in differs:
            print(f"  {f}")
    if slow:
        print(f"\nslow (over {SLOW_MS} ms; not a failure, but usually a late wake-up):")
        for s in slow:
            print(f"  {s}")
    if failures:
        print("\nFAIL:")
        for f in failures:
            print(f"  {f}")
    if args.json:
        args.json.write_text(json.dumps({"drivers": [d.name for d in drivers], "results": results}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
