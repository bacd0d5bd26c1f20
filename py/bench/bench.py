"""Python side of gogroup's side-by-side benchmarks (bench/run.sh runs it in every round).

gogroup's Python binding against what Python programmers use instead, on the same interpreter:
``ThreadPoolExecutor``, ``asyncio.TaskGroup``, a pure-Python ``Condition``-based WaitGroup and
``asyncio.Event``-based cancellation tokens. Workload names are those of bench/src/main.rs where
the shape is the same. One JSON line per result::

    {"lang": "python", "impl": "gogroup", "workload": "wg_add_done_1t", "ns_per_op": 80.1,
     "ops": 2000000, "round": 0}
    {"lang": "python", "impl": "gogroup", "kind": "latency", "workload": "latency_cancel_thread",
     "p50_ns": 41000, "p99_ns": 90000, "samples": 200, "round": 0}

Harness (as the Rust one): warm up while sizing the iteration count so that one measurement takes
about ``--target-ms``, then measure once; the order of the implementations alternates by round.

Usage: ``python py/bench/bench.py [--rounds N] [--round-start K] [--filter S[,S]] [--quick]
[--target-ms MS] [--latency-samples N]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

import gogroup
from gogroup import _gogroup

TASKS_PER_BATCH = 10_000
CHILDREN = 100

# --------------------------------------------------------------------------- peers


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
    """The usual asyncio cancellation token: an Event, a cause, children cancelled with it."""

    __slots__ = ("_children", "_event", "_parent", "cause")

    def __init__(self, parent: EventToken | None = None) -> None:
        self._event = asyncio.Event()
        self.cause: BaseException | None = None
        self._children: set[EventToken] = set()
        self._parent = parent
        if parent is not None:
            if parent.is_cancelled():
                self.cancel(parent.cause)
            else:
                parent._children.add(self)

    def child(self) -> EventToken:
        return EventToken(self)

    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, cause: BaseException | None = None) -> bool:
        if self._event.is_set():
            return False
        self.cause = cause
        self._event.set()
        children, self._children = self._children, set()
        for c in children:
            c.cancel(cause)
        if self._parent is not None:
            self._parent._children.discard(self)
            self._parent = None
        return True

    async def wait(self) -> None:
        await self._event.wait()


def noop() -> None:
    pass


async def anoop() -> None:
    pass


def batches(n: int) -> int:
    return max(1, -(-n // TASKS_PER_BATCH))


def run_async(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs `body` on this thread's event loop (one loop for the whole run)."""
    _loop().run_until_complete(body())


_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
        asyncio.set_event_loop(_LOOP)
    return _LOOP


_POOL: ThreadPoolExecutor | None = None
_POOL2: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor()
    return _POOL


def pool2() -> ThreadPoolExecutor:
    global _POOL2
    if _POOL2 is None:
        _POOL2 = ThreadPoolExecutor(max_workers=2)
    return _POOL2


# --------------------------------------------------------------------------- WaitGroup


# Method calls as people write them (`wg.add(1)`), for both: CPython 3.11 calls a method named
# on its object without making a bound method, which is faster than calling a bound method kept
# in a local (for gogroup's native methods ~80 ns against ~100 ns per pair here).
def wg_add_done_gogroup(n: int) -> int:
    wg = gogroup.WaitGroup()
    for _ in range(n):
        wg.add(1)
        wg.done()
    return n


def wg_add_done_cond(n: int) -> int:
    wg = CondWaitGroup()
    for _ in range(n):
        wg.add(1)
        wg.done()
    return n


# --------------------------------------------------------------------------- go + wait (threads)


def go_wait_gogroup(n: int) -> int:
    b = batches(n)
    for _ in range(b):
        wg = gogroup.WaitGroup()
        go = wg.go
        for _ in range(TASKS_PER_BATCH):
            go(noop)
        wg.wait()
    return b * TASKS_PER_BATCH


def go_wait_executor(n: int) -> int:
    b = batches(n)
    submit = pool().submit
    for _ in range(b):
        futures_wait([submit(noop) for _ in range(TASKS_PER_BATCH)])
    return b * TASKS_PER_BATCH


def go_wait_cond_executor(n: int) -> int:
    b = batches(n)
    submit = pool().submit
    for _ in range(b):
        wg = CondWaitGroup()
        done = wg.done
        wg.add(TASKS_PER_BATCH)
        for _ in range(TASKS_PER_BATCH):
            submit(done)
        wg.wait()
    return b * TASKS_PER_BATCH


def errgroup_gogroup(limit: int | None) -> Callable[[int], int]:
    def run(n: int) -> int:
        b = batches(n)
        for _ in range(b):
            g = gogroup.ErrGroup(limit=limit)
            go = g.go
            for _ in range(TASKS_PER_BATCH):
                go(noop)
            g.wait()
        return b * TASKS_PER_BATCH

    return run


def errgroup_executor(get_pool: Callable[[], ThreadPoolExecutor]) -> Callable[[int], int]:
    """errgroup semantics on an executor: wait for all, then raise the first error."""

    def run(n: int) -> int:
        b = batches(n)
        submit = get_pool().submit
        for _ in range(b):
            futures = [submit(noop) for _ in range(TASKS_PER_BATCH)]
            futures_wait(futures)
            for f in futures:
                f.result()
        return b * TASKS_PER_BATCH

    return run


# --------------------------------------------------------------------------- go + wait (asyncio)


def go_wait_async_gogroup(n: int) -> int:
    b = batches(n)

    async def body() -> None:
        for _ in range(b):
            async with gogroup.ErrGroup() as g:
                go = g.go
                for _ in range(TASKS_PER_BATCH):
                    go(anoop)

    run_async(body)
    return b * TASKS_PER_BATCH


def go_wait_async_taskgroup(n: int) -> int:
    b = batches(n)

    async def body() -> None:
        for _ in range(b):
            async with asyncio.TaskGroup() as tg:
                create = tg.create_task
                for _ in range(TASKS_PER_BATCH):
                    create(anoop())

    run_async(body)
    return b * TASKS_PER_BATCH


# --------------------------------------------------------------------------- tokens


def token_new_cancel_gogroup(n: int) -> int:
    new = gogroup.CancelToken
    for _ in range(n):
        new().cancel()
    return n


def token_new_cancel_event(n: int) -> int:
    new = EventToken
    for _ in range(n):
        new().cancel()
    return n


def token_new_cancel_threading(n: int) -> int:
    new = threading.Event
    for _ in range(n):
        new().set()
    return n


def token_child_gogroup(n: int) -> int:
    root = gogroup.CancelToken()
    child = root.child
    for _ in range(n):
        child().cancel()
    return n


def token_child_event(n: int) -> int:
    root = EventToken()
    child = root.child
    for _ in range(n):
        child().cancel()
    return n


def token_tree_gogroup(n: int) -> int:
    for _ in range(n):
        root = gogroup.CancelToken()
        kids = [root.child() for _ in range(CHILDREN)]
        root.cancel()
        del kids
    return n


def token_tree_event(n: int) -> int:
    for _ in range(n):
        root = EventToken()
        kids = [root.child() for _ in range(CHILDREN)]
        root.cancel()
        del kids
    return n


def token_is_cancelled_gogroup(n: int) -> int:
    t = gogroup.CancelToken()
    is_cancelled = t.is_cancelled
    c = 0
    for _ in range(n):
        if is_cancelled():
            c += 1
    return n + c * 0


def token_is_cancelled_event(n: int) -> int:
    t = EventToken()
    is_cancelled = t.is_cancelled
    c = 0
    for _ in range(n):
        if is_cancelled():
            c += 1
    return n + c * 0


RunFn = Callable[[int], int]

GOGROUP = "gogroup"
WORKLOADS: list[tuple[str, list[tuple[str, RunFn]]]] = [
    ("wg_add_done_1t", [(GOGROUP, wg_add_done_gogroup), ("CondWaitGroup", wg_add_done_cond)]),
    (
        "go_wait_noop",
        [
            (GOGROUP, go_wait_gogroup),
            ("ThreadPoolExecutor", go_wait_executor),
            ("CondWaitGroup+ThreadPoolExecutor", go_wait_cond_executor),
        ],
    ),
    (
        "errgroup_go_wait",
        [(GOGROUP, errgroup_gogroup(None)), ("ThreadPoolExecutor", errgroup_executor(pool))],
    ),
    (
        "errgroup_go_wait_limit2",
        [
            (GOGROUP, errgroup_gogroup(2)),
            ("ThreadPoolExecutor(max_workers=2)", errgroup_executor(pool2)),
        ],
    ),
    (
        "go_wait_noop_async",
        [(GOGROUP, go_wait_async_gogroup), ("asyncio.TaskGroup", go_wait_async_taskgroup)],
    ),
    (
        "token_new_cancel",
        [
            (GOGROUP, token_new_cancel_gogroup),
            ("asyncio.Event token", token_new_cancel_event),
            ("threading.Event", token_new_cancel_threading),
        ],
    ),
    (
        "token_child_new_cancel",
        [(GOGROUP, token_child_gogroup), ("asyncio.Event token", token_child_event)],
    ),
    (
        "token_cancel_100_children",
        [(GOGROUP, token_tree_gogroup), ("asyncio.Event token", token_tree_event)],
    ),
    (
        "token_is_cancelled_live",
        [(GOGROUP, token_is_cancelled_gogroup), ("asyncio.Event token", token_is_cancelled_event)],
    ),
]

# --------------------------------------------------------------------------- latency

SETTLE = 0.001  # lets a fresh waiter reach its blocking wait


def thread_sample(release: Callable[[], object], wait: Callable[[], object]) -> int:
    woke: list[int] = []

    def waiter() -> None:
        wait()
        woke.append(time.perf_counter_ns())

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(SETTLE)
    t0 = time.perf_counter_ns()
    release()
    th.join()
    return woke[0] - t0


def lat_cancel_thread_gogroup() -> int:
    t = gogroup.CancelToken()
    return thread_sample(t.cancel, t.wait)


def lat_cancel_thread_event() -> int:
    e = threading.Event()
    return thread_sample(e.set, e.wait)


def lat_done_thread_gogroup() -> int:
    wg = gogroup.WaitGroup()
    wg.add(1)
    return thread_sample(wg.done, wg.wait)


def lat_done_thread_cond() -> int:
    wg = CondWaitGroup()
    wg.add(1)
    return thread_sample(wg.done, wg.wait)


def asyncio_sample(release: Callable[[], object], wait: Callable[[], Any]) -> int:
    woke: list[int] = []

    async def waiter() -> None:
        await wait()
        woke.append(time.perf_counter_ns())

    async def body() -> None:
        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(SETTLE)
        t0 = time.perf_counter_ns()
        release()
        await task
        woke[0] -= t0

    run_async(body)
    return woke[0]


def asyncio_sample_from_thread(release: Callable[[], object], wait: Callable[[], Any]) -> int:
    """As asyncio_sample, but `release` runs on another thread (the loop is idle in select)."""
    woke: list[int] = []
    t0: list[int] = []

    async def waiter() -> None:
        await wait()
        woke.append(time.perf_counter_ns())

    def releaser() -> None:
        time.sleep(SETTLE)
        t0.append(time.perf_counter_ns())
        release()

    async def body() -> None:
        task = asyncio.ensure_future(waiter())
        th = threading.Thread(target=releaser)
        th.start()
        await task
        th.join()

    run_async(body)
    return woke[0] - t0[0]


def lat_cancel_asyncio_thread_gogroup() -> int:
    t = gogroup.CancelToken()
    return asyncio_sample_from_thread(t.cancel, t.wait_async)


def lat_cancel_asyncio_thread_event() -> int:
    e = asyncio.Event()
    loop = _loop()
    return asyncio_sample_from_thread(lambda: loop.call_soon_threadsafe(e.set), e.wait)


def lat_cancel_asyncio_gogroup() -> int:
    t = gogroup.CancelToken()
    return asyncio_sample(t.cancel, t.wait_async)


def lat_cancel_asyncio_event() -> int:
    e = asyncio.Event()
    return asyncio_sample(e.set, e.wait)


def lat_done_asyncio_gogroup() -> int:
    wg = gogroup.WaitGroup()
    wg.add(1)
    return asyncio_sample(wg.done, wg.wait_async)


LATENCY: list[tuple[str, str, Callable[[], int]]] = [
    ("latency_cancel_thread", GOGROUP, lat_cancel_thread_gogroup),
    ("latency_cancel_thread", "threading.Event", lat_cancel_thread_event),
    ("latency_done_thread", GOGROUP, lat_done_thread_gogroup),
    ("latency_done_thread", "CondWaitGroup", lat_done_thread_cond),
    ("latency_cancel_asyncio", GOGROUP, lat_cancel_asyncio_gogroup),
    ("latency_cancel_asyncio", "asyncio.Event", lat_cancel_asyncio_event),
    ("latency_done_asyncio", GOGROUP, lat_done_asyncio_gogroup),
    ("latency_cancel_asyncio_from_thread", GOGROUP, lat_cancel_asyncio_thread_gogroup),
    (
        "latency_cancel_asyncio_from_thread",
        "asyncio.Event + call_soon_threadsafe",
        lat_cancel_asyncio_thread_event,
    ),
]


def percentiles(samples: list[int]) -> tuple[int, int]:
    s = sorted(samples)

    def at(p: float) -> int:
        i = min(max(int(-(-p * len(s) // 1)), 1), len(s)) - 1
        return s[i]

    return at(0.50), at(0.99)


# --------------------------------------------------------------------------- blocking tasks
#
# The shapes of bench/src/blocking.rs. Each case runs in a fresh interpreter (--blocking-case
# WORKLOAD:IMPL:N) so that its thread counts are its own. The sampler is a Python thread: under
# contention it samples every ~1 ms up to the GIL's switch interval (5 ms), still far shorter than
# the 50 ms every task lasts.

BLOCK_SLEEP = 0.050
IDLE_WINDOW = 0.200
CPU_TASKS = 64
CPU_TASK = 0.020
SLEEP_IMPLS = ["gogroup", "threading.Thread", "ThreadPoolExecutor(max_workers=N)"]
CPU_IMPLS = ["gogroup", "ThreadPoolExecutor"]
BLOCKING_WORKLOADS = ["blocking_sleep_50ms", "blocking_cpu_64", "blocking_waited_latency"]


def proc_threads() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def pool_live() -> int:
    return int(_gogroup._pool_stats()["live"])


class Sampler:
    """Peak process threads (and gogroup pool threads), sampled every ~1 ms."""

    def __init__(self) -> None:
        self.peak = proc_threads()
        self.pool_peak = pool_live()
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()
        time.sleep(0.002)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_threads())
            self.pool_peak = max(self.pool_peak, pool_live())
            time.sleep(0.001)

    def finish(self) -> tuple[int, int]:
        self._stop.set()
        self._th.join()
        return self.peak, self.pool_peak


def observe(out: dict[str, object], uses_pool: bool, run: Callable[[], None]) -> None:
    out["threads_before"] = proc_threads()
    s = Sampler()
    t = time.perf_counter()
    run()
    out["seconds"] = time.perf_counter() - t
    peak, pool_peak = s.finish()
    done = time.perf_counter()
    out["threads_after"] = after = proc_threads()
    pool_after = pool_live()
    # Threads still being started when the wait returns count towards the peak.
    out["peak_threads"] = max(peak, after)
    pool_peak = max(pool_peak, pool_after)
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(IDLE_WINDOW)
    out["idle_cpu_ms"] = (time.process_time() - cpu0) * 1e3
    out["idle_window_ms"] = (time.perf_counter() - wall0) * 1e3  # longer if the GIL is busy
    if uses_pool:
        timeout = _gogroup._idle_timeout()
        give_up = done + timeout + 2
        zero: float | None = None
        while True:
            if pool_live() == 0:
                zero = time.perf_counter() - done
                break
            if time.perf_counter() >= give_up:
                break
            time.sleep(0.010)
        out.update(
            pool_peak=pool_peak,
            pool_after=pool_after,
            pool_zero_after_s=zero,
            idle_timeout_s=timeout,
            threads_after_idle=proc_threads(),
        )


def sleep_gogroup(n: int) -> None:
    wg = gogroup.WaitGroup()
    for _ in range(n):
        wg.go(time.sleep, BLOCK_SLEEP)
    wg.wait()


def sleep_threads(n: int) -> None:
    threads = [threading.Thread(target=time.sleep, args=(BLOCK_SLEEP,)) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def sleep_executor(n: int) -> None:
    with ThreadPoolExecutor(max_workers=n) as ex:
        futures_wait([ex.submit(time.sleep, BLOCK_SLEEP) for _ in range(n)])


def spin(iters: int) -> int:
    x = 1
    for _ in range(iters):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return x


def iters_for(seconds: float) -> int:
    spin(10_000)
    best = min(time_it(spin, 100_000)[0] for _ in range(3))
    return int(100_000 * seconds / best)


def cpu_gogroup(iters: int) -> None:
    wg = gogroup.WaitGroup()
    for _ in range(CPU_TASKS):
        wg.go(spin, iters)
    wg.wait()


def cpu_executor(iters: int) -> None:
    with ThreadPoolExecutor() as ex:
        futures_wait([ex.submit(spin, iters) for _ in range(CPU_TASKS)])


def blocking_cases(quick: bool, selected: Callable[[str], bool]) -> list[str]:
    out = []
    if selected("blocking_sleep_50ms"):
        for n in (100, 1_000) if quick else (100, 1_000, 10_000):
            out += [f"blocking_sleep_50ms:{impl}:{n}" for impl in SLEEP_IMPLS]
    if selected("blocking_cpu_64"):
        out += [f"blocking_cpu_64:{impl}:{CPU_TASKS}" for impl in CPU_IMPLS]
    if selected("blocking_waited_latency"):
        out += [f"blocking_waited_latency:{impl}:0" for impl in LAT_IMPLS]
    return out


# blocking_waited_latency, Python's version: the stream is a tenth of Rust's and Go's (a burst of 4
# every 2 ms, 2,000 tasks/s, each ~20 us of arithmetic, every 50th a 20 ms sleep), since every
# task takes the GIL; T1 submits T2 to the same pool and waits for it.
LAT_IMPLS = ["gogroup", "ThreadPoolExecutor"]
STREAM_PERIOD = 0.002
STREAM_BURST = 4
SLEEPER_EVERY = 50


def waited_latency(impl: str, samples: int) -> dict[str, object]:
    short_iters = iters_for(20e-6)
    ex = ThreadPoolExecutor() if impl == "ThreadPoolExecutor" else None
    stream_wg = gogroup.WaitGroup()

    def submit(fn: Callable[..., object], *args: object) -> Callable[[], object]:
        """Runs fn(*args) on the pool; returns a function that waits for it."""
        if ex is not None:
            return ex.submit(fn, *args).result
        wg = gogroup.WaitGroup()
        wg.go(fn, *args)
        return wg.wait

    stop = threading.Event()
    submitted = [0]

    def stream() -> None:
        i = 0
        nxt = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            if now < nxt:
                time.sleep(nxt - now)
                continue
            nxt = max(nxt, now - 0.010) + STREAM_PERIOD
            for _ in range(STREAM_BURST):
                i += 1
                fn: Callable[[Any], object] = time.sleep if i % SLEEPER_EVERY == 0 else spin
                arg = 0.020 if i % SLEEPER_EVERY == 0 else short_iters
                if ex is not None:
                    ex.submit(fn, arg)
                else:
                    stream_wg.go(fn, arg)
            submitted[0] = i

    th = threading.Thread(target=stream)
    th.start()
    time.sleep(0.2)
    out: dict[str, object] = {"threads_before": proc_threads()}
    s = Sampler()
    lat: list[int] = []

    def t1() -> None:
        at = time.perf_counter_ns()
        submit(lambda: lat.append(time.perf_counter_ns() - at))()

    t = time.perf_counter()
    sub0 = submitted[0]
    for _ in range(samples):
        submit(t1)()
        time.sleep(0.001)
    out["stream_tasks_per_s"] = (submitted[0] - sub0) / (time.perf_counter() - t)
    stop.set()
    th.join()
    stream_wg.wait()
    if ex is not None:
        ex.shutdown()
    peak, pool_peak = s.finish()
    p50, p99 = percentiles(lat)
    out.update(samples=len(lat), p50_ns=p50, p99_ns=p99, max_ns=max(lat), peak_threads=peak)
    if impl == GOGROUP:
        out["pool_peak"] = pool_peak
    return out


# A case that runs longer is killed and reported as such (today gogroup's pool needs over a minute
# for 10,000 sleeps from Python, and make bench should not).
BLOCKING_TIMEOUT = 20.0


def child_threads(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_blocking(quick: bool, selected: Callable[[str], bool]) -> None:
    for case in blocking_cases(quick, selected):
        cmd = [sys.executable, os.path.abspath(__file__), "--blocking-case", case]
        start = time.perf_counter()
        with subprocess.Popen(cmd + (["--quick"] if quick else [])) as child:
            peak = 0
            while child.poll() is None and time.perf_counter() - start < BLOCKING_TIMEOUT:
                peak = max(peak, child_threads(child.pid))
                time.sleep(0.001)
            if child.poll() is None:
                child.kill()
                child.wait()
                workload, impl, n = case.split(":", 2)
                emit(
                    {
                        "impl": impl,
                        "kind": "blocking",
                        "workload": workload,
                        "n": int(n),
                        "timed_out": True,
                        "seconds": BLOCKING_TIMEOUT,
                        "peak_threads": peak,
                    }
                )
            elif child.returncode != 0:
                sys.exit(f"blocking case {case} failed: exit {child.returncode}")


def run_blocking_case(case: str, quick: bool) -> None:
    workload, impl, n_text = case.split(":", 2)
    n = int(n_text)
    out: dict[str, object] = {"impl": impl, "kind": "blocking", "workload": workload, "n": n}
    if workload == "blocking_sleep_50ms":
        sleeps = {
            "gogroup": sleep_gogroup,
            "threading.Thread": sleep_threads,
            "ThreadPoolExecutor(max_workers=N)": sleep_executor,
        }
        observe(out, impl == "gogroup", lambda: sleeps[impl](n))
    elif workload == "blocking_cpu_64":
        iters = iters_for(CPU_TASK)
        cpus = {"gogroup": cpu_gogroup, "ThreadPoolExecutor": cpu_executor}
        observe(out, impl == "gogroup", lambda: cpus[impl](iters))
        out["task_ms"] = CPU_TASK * 1e3
        out["ideal_seconds"] = CPU_TASKS * CPU_TASK  # the GIL: one task at a time
    elif workload == "blocking_waited_latency" and impl in LAT_IMPLS:
        out.update(waited_latency(impl, 50 if quick else 300))
    else:
        sys.exit(f"unknown blocking case {case!r}")
    emit(out)


# --------------------------------------------------------------------------- harness


def time_it(run: RunFn, n: int) -> tuple[float, int]:
    t = time.perf_counter()
    ops = run(n)
    return time.perf_counter() - t, ops


def calibrate(run: RunFn, target: float) -> int:
    n = 1
    while True:
        d, ops = time_it(run, n)
        n = max(n, ops)
        d = max(d, 1e-9)
        if d >= target / 4:
            return max(1, int(n * target / d))
        n = max(n + 1, min(n * 100, int(1.5 * n * target / d)))


def measure(run: RunFn, target: float) -> tuple[float, int]:
    n = calibrate(run, target)
    for attempt in range(1, 7):
        gc.collect()
        d, ops = time_it(run, n)
        if d >= target / 2 or attempt == 6:
            return d, ops
        n = max(ops + 1, min(ops * 100, int(ops * target / max(d, 1e-9))))
    raise AssertionError("unreachable")


def emit(line: dict[str, object]) -> None:
    print(json.dumps({"lang": "python", **line}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--round-start", type=int, default=0)
    ap.add_argument("--filter", default="")
    ap.add_argument("--quick", action="store_true", help="smoke run: ~10 ms per measurement")
    ap.add_argument("--target-ms", type=float, default=150.0)
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--blocking", action="store_true", help="run the blocking-task workloads")
    ap.add_argument("--blocking-case", default="", help="one blocking case, WORKLOAD:IMPL:N")
    args = ap.parse_args()
    target = 0.010 if args.quick else args.target_ms / 1000
    samples = 20 if args.quick else args.latency_samples
    filters = [f for f in args.filter.split(",") if f]

    def selected(name: str) -> bool:
        return not filters or any(f in name for f in filters)

    if args.blocking_case:
        run_blocking_case(args.blocking_case, args.quick)
        return
    if args.blocking:
        run_blocking(args.quick, selected)
        return

    for r in range(args.rounds):
        rnd = args.round_start + r
        for name, impls in WORKLOADS:
            if not selected(name) or (name.endswith("_async") and sys.version_info < (3, 11)):
                continue
            for impl, run in impls if rnd % 2 == 0 else list(reversed(impls)):
                d, ops = measure(run, target)
                emit(
                    {
                        "impl": impl,
                        "workload": name,
                        "ns_per_op": d * 1e9 / ops,
                        "ops": ops,
                        "round": rnd,
                    }
                )
        cases = [c for c in LATENCY if selected(c[0])]
        if rnd % 2 == 1:
            cases.reverse()
        got: dict[int, list[int]] = {i: [] for i in range(len(cases))}
        for _ in range(samples):
            for i, (_, _, sample) in enumerate(cases):
                got[i].append(sample())
        for i, (name, impl, _) in enumerate(cases):
            p50, p99 = percentiles(got[i])
            emit(
                {
                    "impl": impl,
                    "kind": "latency",
                    "workload": name,
                    "p50_ns": p50,
                    "p99_ns": p99,
                    "samples": len(got[i]),
                    "round": rnd,
                }
            )
    for p in (_POOL, _POOL2):
        if p is not None:
            p.shutdown()


if __name__ == "__main__":
    main()
