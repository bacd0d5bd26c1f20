"""Python -> C in one process: a CancelToken and WaitGroups made in Python drive C pthreads.

The C side is ``libcworkers.so`` (cworkers.c, linked against libgogroup.so), loaded with
ctypes: nothing to install. Python hands it *C handles* of its own objects
(``CancelToken.c_handle()``, ``WaitGroup.c_handle()``): the Python extension and libgogroup.so
are two copies of gogroup, and a handle made by either works with the functions of both (see
ffi-c/README.md, "Handles across copies").

1. The C threads' ``gogroup_wait_group_done()`` resolves ``await wg.wait_async()`` on asyncio.
2. ``token.cancel(cause)`` in Python stops C threads that spin (checking the token inline) and
   C threads blocked in poll() on the token's fd; each saw the cause Python gave.
3. A C thread cancels the Python token; ``await token.wait_async()`` wakes, and
   ``token.cause`` is the C thread's cause.
4. Ctrl-C: a child Python process (this file, ``--sigint-child``) waits in ``wg.wait()``
   while C threads work; it prints READY, the parent sends SIGINT, the child's
   ``KeyboardInterrupt`` handler cancels the token, and every C thread reports the
   cancellation.

Exits with 0 when every check passed, 1 otherwise. ``make demo-cross`` / ``make test-cross``
run it; alone: ``.venv/bin/python examples/cross-runtime/python_to_c.py`` after
``make cross-lib`` (or point ``CWORKERS_LIB`` at libcworkers.so).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import gogroup

# An upper bound for anything that should take milliseconds: only a hang guard, never a wait.
HANG = 60.0
ROOT = Path(__file__).resolve().parents[2]
LIB_PATH = os.environ.get("CWORKERS_LIB", str(ROOT / "target/cross/libcworkers.so"))

# cworkers.h
SPIN, POLL, CANCEL_AFTER = 0, 1, 2
CANCEL_CODE = 42
CANCEL_MESSAGE = "cworkers: quota reached, cancelling from C"
# gogroup.h
OK, CANCELED, CUSTOM = 0, 2, 8


class Report(ctypes.Structure):
    """cworkers_report: what one C thread did."""

    _fields_ = [
        ("units", ctypes.c_uint64),
        ("cause_kind", ctypes.c_int32),
        ("mode", ctypes.c_int32),
        ("cause_code", ctypes.c_int64),
        ("observed_ns", ctypes.c_uint64),
        ("done_result", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("cause", ctypes.c_char * 96),
    ]

    def as_dict(self) -> dict[str, object]:
        return {
            "units": self.units,
            "cause_kind": self.cause_kind,
            "cause_code": self.cause_code,
            "cause": self.cause.decode(),
            "observed_ns": self.observed_ns,
            "done_result": self.done_result,
        }


def load() -> ctypes.CDLL:
    lib = ctypes.CDLL(LIB_PATH)
    vp = ctypes.c_void_p
    lib.cworkers_start.argtypes = [
        vp, vp, vp, ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint64,
        ctypes.POINTER(vp),
    ]  # fmt: skip
    lib.cworkers_start.restype = ctypes.c_int32
    lib.cworkers_join.argtypes = [vp, ctypes.POINTER(Report), ctypes.c_uint32]
    lib.cworkers_join.restype = ctypes.c_uint32
    # libgogroup.so is a dependency of libcworkers.so: its symbols are found through it.
    lib.gogroup_cancel_token_free.argtypes = [vp]
    lib.gogroup_cancel_token_free.restype = None
    lib.gogroup_wait_group_free.argtypes = [vp]
    lib.gogroup_wait_group_free.restype = None
    lib.gogroup_result_name.argtypes = [ctypes.c_uint32]
    lib.gogroup_result_name.restype = ctypes.c_char_p
    return lib


LIB = load()


def kind_name(kind: int) -> str:
    return (LIB.gogroup_result_name(kind) or b"?").decode()


class Pool:
    """C threads started by cworkers_start; join() once the `finished` wait group is zero."""

    def __init__(
        self,
        token: gogroup.CancelToken,
        started: gogroup.WaitGroup | None,
        finished: gogroup.WaitGroup,
        n: int,
        mode: int,
        quota: int = 0,
    ) -> None:
        # Owned C handles to the very Python objects. The pool takes clones of its own, so
        # ours are released as soon as it has started.
        token_h: int | None = None
        finished_h: int | None = None
        started_h: int | None = None
        try:
            token_h = token.c_handle()
            finished_h = finished.c_handle()
            started_h = started.c_handle() if started is not None else None
            pool = ctypes.c_void_p()
            rc = LIB.cworkers_start(
                token_h, started_h, finished_h, n, mode, quota, int(HANG * 1000), ctypes.byref(pool)
            )
        finally:  # the free functions ignore NULL (None)
            LIB.gogroup_cancel_token_free(token_h)
            LIB.gogroup_wait_group_free(finished_h)
            LIB.gogroup_wait_group_free(started_h)
        if rc != OK:
            if pool:
                LIB.cworkers_join(pool, None, 0)
            raise RuntimeError(f"cworkers_start: {kind_name(rc)}")
        self._pool: ctypes.c_void_p | None = pool
        self.n = n

    def join(self) -> list[Report]:
        reports = (Report * self.n)()
        assert self._pool is not None, "joined twice"
        LIB.cworkers_join(self._pool, reports, self.n)
        self._pool = None
        return list(reports)


failures: list[str] = []


def check(cond: bool, what: str) -> None:
    if not cond:
        failures.append(what)
        print(f"  FAILED: {what}", file=sys.stderr)


def check_reports(reports: Sequence[Report], kind: int, cause: str, after_ns: int = 0) -> None:
    for i, r in enumerate(reports):
        check(r.done_result == OK, f"worker {i}: gogroup calls failed ({kind_name(r.done_result)})")
        check(
            r.cause_kind == kind,
            f"worker {i}: observed {kind_name(r.cause_kind)}, expected {kind_name(kind)}",
        )
        check(r.cause.decode() == cause, f"worker {i}: cause {r.cause!r}, expected {cause!r}")
        check(r.observed_ns >= after_ns, f"worker {i}: saw the cancel before it happened")


async def done_resolves_wait_async() -> None:
    print("1. C threads' done() resolves `await wg.wait_async()`")
    token, finished = gogroup.CancelToken(), gogroup.WaitGroup()
    finished.add(4)  # as Go's wg.Add before `go`: from here on only C can release the waiter
    waiter = asyncio.ensure_future(finished.wait_async())
    ticks = 0

    async def ticker() -> None:  # the loop stays free while C works
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    spinning = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    check(not waiter.done(), "wait_async resolved before any C thread ran")
    pool = Pool(token, None, finished, 4, SPIN, quota=2000)
    await asyncio.wait_for(waiter, HANG)
    spinning.cancel()
    reports = pool.join()
    check(finished.count == 0, "counter is not zero")
    check_reports(reports, OK, "")
    check(all(r.units == 2000 for r in reports), "a worker did not finish its quota")
    print(f"   4 C threads x {reports[0].units} units; the loop ran {ticks} times meanwhile")


async def cancel_stops_c_threads() -> None:
    print("2. token.cancel(cause) in Python stops C threads (spinning and blocked in poll)")
    token, started, finished = gogroup.CancelToken(), gogroup.WaitGroup(), gogroup.WaitGroup()
    started.add(4)
    finished.add(4)
    spinners = Pool(token, started, finished, 2, SPIN)  # no quota: only the token stops them
    pollers = Pool(token, started, finished, 2, POLL)
    await asyncio.wait_for(started.wait_async(), HANG)  # all four are working
    check(finished.count == 4, "a C thread stopped before the cancel")
    cancelled_ns = time.monotonic_ns()  # CLOCK_MONOTONIC, as gogroup_now_ns()
    token.cancel(ConnectionAbortedError("client went away"))
    await asyncio.wait_for(finished.wait_async(), HANG)
    reports = spinners.join() + pollers.join()
    check_reports(reports, CUSTOM, "client went away", cancelled_ns)
    check(all(r.units >= 1 for r in reports[:2]), "a spinner did no work")
    latency = max(r.observed_ns - cancelled_ns for r in reports) / 1e6
    units = [r.units for r in reports[:2]]
    print(f"   spinners stopped after {units} units; all 4 saw CUSTOM 'client went away'")
    print(f"   within {latency:.2f} ms of token.cancel()")


async def c_thread_cancels_python_token() -> None:
    print("3. a C thread cancels the Python token; `await token.wait_async()` wakes")
    token, finished = gogroup.CancelToken(), gogroup.WaitGroup()
    finished.add(3)
    pollers = Pool(token, None, finished, 2, POLL)
    canceller = Pool(token, None, finished, 1, CANCEL_AFTER, quota=100)
    await asyncio.wait_for(token.wait_async(), HANG)
    cause = token.cause
    check(isinstance(cause, gogroup.CustomError), f"cause is {cause!r}")
    check(str(cause) == CANCEL_MESSAGE, f"cause message {str(cause)!r}")
    check(isinstance(token.err, gogroup.Canceled), f"err is {token.err!r}")
    await asyncio.wait_for(finished.wait_async(), HANG)
    reports = pollers.join() + canceller.join()
    check_reports(reports, CUSTOM, CANCEL_MESSAGE)
    check(all(r.cause_code == CANCEL_CODE for r in reports), "cause code lost")
    print(f"   token.cause = {type(cause).__name__}({str(cause)!r}); the 2 C pollers saw it too")


def sigint_child() -> int:
    """The child of scenario 4: C threads work until Ctrl-C cancels their token."""
    # A background shell may have started us with SIGINT ignored: Python's Ctrl-C, explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    token, started, finished = gogroup.CancelToken(), gogroup.WaitGroup(), gogroup.WaitGroup()
    started.add(3)
    finished.add(3)
    pools = [Pool(token, started, finished, 2, POLL), Pool(token, started, finished, 1, SPIN)]
    started.wait(timeout=HANG)
    interrupted = False
    try:
        print("READY", flush=True)  # the parent sends SIGINT when it reads this line
        finished.wait()  # releases the GIL; Ctrl-C interrupts it
    except KeyboardInterrupt:
        interrupted = True
        token.cancel()  # what a Ctrl-C handler is for: tell every C thread to stop
    all_stopped = finished.wait(timeout=HANG)
    reports = [r.as_dict() for pool in pools for r in pool.join()]
    print(json.dumps({"interrupted": interrupted, "all_stopped": all_stopped, "reports": reports}))
    return 0


def sigint_cancels_token() -> None:
    print("4. Ctrl-C (SIGINT) in a Python process cancels a token its C threads observe")
    child = subprocess.Popen(
        [sys.executable, __file__, "--sigint-child"], stdout=subprocess.PIPE, text=True
    )
    guard = threading.Timer(HANG, child.kill)  # a hang guard only
    guard.start()
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        check(line == "READY", f"child said {line!r} instead of READY")
        sent_ns = time.monotonic_ns()
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate()
    finally:
        guard.cancel()
    check(child.returncode == 0, f"child exited with {child.returncode}")
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        check(False, f"child printed no result: {out!r}")
        return
    check(result["interrupted"], "the child's wait was not interrupted by SIGINT")
    check(result["all_stopped"], "the child's C threads did not stop")
    reports = result["reports"]
    check(len(reports) == 3, f"{len(reports)} reports")
    for i, r in enumerate(reports):
        check(r["cause_kind"] == CANCELED, f"worker {i}: observed {kind_name(r['cause_kind'])}")
        check(r["done_result"] == OK, f"worker {i}: gogroup calls failed")
        check(r["observed_ns"] >= sent_ns, f"worker {i}: saw a cancel before SIGINT was sent")
    latency = max(r["observed_ns"] - sent_ns for r in reports) / 1e6
    print(f"   KeyboardInterrupt -> token.cancel(); 3 C threads saw CANCELED in {latency:.1f} ms")


async def main_async() -> None:
    await done_resolves_wait_async()
    await cancel_stops_c_threads()
    await c_thread_cancels_python_token()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--sigint-child":
        return sigint_child()
    asyncio.run(main_async())
    sigint_cancels_token()
    if failures:
        print(f"python_to_c: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("python_to_c: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
