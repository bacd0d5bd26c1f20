"""Side-by-side micro-benchmarks of gogroup's Python binding against the standard library.

Run: ``python py/bench/bench.py [--quick]``. Prints one JSON line per measurement:
``{"lang": "python", "impl": ..., "workload": ..., "ns_per_op": ..., "ops": ...}``; the best
of several rounds is reported (the least disturbed by the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait

import gogroup


class CondWaitGroup:
    """The usual pure-Python WaitGroup: a counter under a Condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def add(self, delta: int = 1) -> None:
        with self._cond:
            self._count += delta
            if self._count < 0:
                raise ValueError("negative counter")
            if self._count == 0:
                self._cond.notify_all()

    def done(self) -> None:
        self.add(-1)

    def wait(self) -> None:
        with self._cond:
            while self._count:
                self._cond.wait()


class EventToken:
    """The usual asyncio cancellation token: an Event plus a cause."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.cause: BaseException | None = None

    def cancel(self, cause: BaseException | None = None) -> None:
        if not self._event.is_set():
            self.cause = cause
            self._event.set()


def noop() -> None:
    pass


async def anoop() -> None:
    pass


def best(fn: Callable[[int], float], n: int, rounds: int) -> float:
    """Best ns/op of `rounds` runs of fn(n) (fn returns elapsed seconds)."""
    return min(fn(n) for _ in range(rounds)) / n * 1e9


def report(impl: str, workload: str, ns: float, ops: int) -> None:
    line = {"lang": "python", "impl": impl, "workload": workload, "ns_per_op": round(ns, 1)}
    line["ops"] = ops
    print(json.dumps(line), flush=True)


# --- add()+done() ------------------------------------------------------------------------


def wg_add_done(make: Callable[[], object]) -> Callable[[int], float]:
    def run(n: int) -> float:
        wg = make()
        add, done = wg.add, wg.done  # type: ignore[attr-defined]
        t = time.perf_counter()
        for _ in range(n):
            add()
            done()
        return time.perf_counter() - t

    return run


# --- go()+wait per no-op task ------------------------------------------------------------


def gogroup_errgroup(n: int) -> float:
    t = time.perf_counter()
    g = gogroup.ErrGroup()
    go = g.go
    for _ in range(n):
        go(noop)
    g.wait()
    return time.perf_counter() - t


def gogroup_waitgroup(n: int) -> float:
    t = time.perf_counter()
    wg = gogroup.WaitGroup()
    go = wg.go
    for _ in range(n):
        go(noop)
    wg.wait()
    return time.perf_counter() - t


_executor = ThreadPoolExecutor()


def thread_pool_executor(n: int) -> float:
    t = time.perf_counter()
    submit = _executor.submit
    futures = [submit(noop) for _ in range(n)]
    futures_wait(futures)
    return time.perf_counter() - t


def asyncio_taskgroup(n: int) -> float:
    async def main() -> float:
        t = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(anoop())
        return time.perf_counter() - t

    return asyncio.run(main())


def gogroup_errgroup_async(n: int) -> float:
    async def main() -> float:
        t = time.perf_counter()
        async with gogroup.ErrGroup() as g:
            go = g.go
            for _ in range(n):
                go(noop)
        return time.perf_counter() - t

    return asyncio.run(main())


def gogroup_errgroup_coroutines(n: int) -> float:
    async def main() -> float:
        t = time.perf_counter()
        async with gogroup.ErrGroup() as g:
            go = g.go
            for _ in range(n):
                go(anoop)
        return time.perf_counter() - t

    return asyncio.run(main())


# --- token create+cancel -----------------------------------------------------------------


def gogroup_token(n: int) -> float:
    token_type = gogroup.CancelToken
    t = time.perf_counter()
    for _ in range(n):
        token_type().cancel()
    return time.perf_counter() - t


def gogroup_child_token(n: int) -> float:
    root = gogroup.CancelToken()
    t = time.perf_counter()
    for _ in range(n):
        root.child().cancel()
    return time.perf_counter() - t


def event_token(n: int) -> float:
    async def main() -> float:
        t = time.perf_counter()
        for _ in range(n):
            EventToken().cancel()
        return time.perf_counter() - t

    return asyncio.run(main())


def threading_event(n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        threading.Event().set()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer operations (a smoke run)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rounds = 3 if args.quick else 5

    n = 1_000_000 // scale
    report("gogroup", "wg_add_done", best(wg_add_done(gogroup.WaitGroup), n, rounds), n)
    report("CondWaitGroup", "wg_add_done", best(wg_add_done(CondWaitGroup), n, rounds), n)

    n = 20_000 // scale
    for impl, fn in [
        ("gogroup.ErrGroup", gogroup_errgroup),
        ("gogroup.WaitGroup", gogroup_waitgroup),
        ("ThreadPoolExecutor", thread_pool_executor),
    ]:
        report(impl, "go_wait_noop", best(fn, n, rounds), n)
    for impl, fn in [
        ("gogroup.ErrGroup(async with, thread tasks)", gogroup_errgroup_async),
        ("gogroup.ErrGroup(async with, async def tasks)", gogroup_errgroup_coroutines),
        *([("asyncio.TaskGroup", asyncio_taskgroup)] if sys.version_info >= (3, 11) else []),
    ]:
        report(impl, "go_wait_noop_asyncio", best(fn, n, rounds), n)

    n = 200_000 // scale
    for impl, fn in [
        ("gogroup.CancelToken", gogroup_token),
        ("gogroup.CancelToken.child", gogroup_child_token),
        ("asyncio.Event token", event_token),
        ("threading.Event", threading_event),
    ]:
        report(impl, "token_create_cancel", best(fn, n, rounds), n)
    _executor.shutdown()


if __name__ == "__main__":
    main()
