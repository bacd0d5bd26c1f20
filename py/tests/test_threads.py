"""Threads: nothing gogroup started is left blocked after cancel+wait, idle threads exit,
and a burst of go() calls from a thread holding the GIL does not balloon the pool."""

from __future__ import annotations

import threading

import gogroup
from conftest import HANG, eventually, os_threads, run_python
from gogroup import _gogroup


def test_after_cancel_and_wait_no_gogroup_thread_is_blocked_and_idle_ones_exit(
    short_idle: float,
) -> None:
    eventually(
        "no gogroup thread is alive before the test",
        lambda: _gogroup._pool_stats()["live"] == 0 and not _gogroup._pool_stats()["timer_thread"],
    )
    baseline = os_threads()
    token = gogroup.CancelToken()
    g = gogroup.ErrGroup(token=token)
    started = threading.Semaphore(0)

    def blocked() -> None:
        started.release()
        g.token.wait()

    for _ in range(20):
        g.go(blocked)
    for _ in range(20):
        assert started.acquire(timeout=HANG)
    assert os_threads() > baseline
    token.cancel()
    g.wait(timeout=HANG)
    stats = _gogroup._pool_stats()
    assert stats["queued"] == 0
    # Every task returned; no thread is still running one (idle ones may be on their way out).
    eventually("no pool thread is busy", lambda: _gogroup._pool_stats()["busy"] == 0)
    eventually(
        "every gogroup thread exited",
        lambda: _gogroup._pool_stats()["live"] == 0 and not _gogroup._pool_stats()["timer_thread"],
    )
    # At most the threads of before: a thread of an earlier test (not gogroup's) may have
    # exited meanwhile; gogroup's own are all gone (checked just above).
    eventually("the process is back to its threads", lambda: os_threads() <= baseline)


def test_a_burst_of_go_calls_holding_the_gil_keeps_the_pool_small() -> None:
    g = gogroup.ErrGroup()
    hits: list[int] = []
    for i in range(20_000):
        g.go(hits.append, i)
    g.wait(timeout=HANG)
    assert len(hits) == 20_000
    # Waiting for the GIL is not starvation; the pool must not grow towards one thread per
    # queued task (it did by doublings before go() let pool threads in every burst).
    assert _gogroup._pool_stats()["live"] <= 32


def test_awaits_and_waits_start_no_threads() -> None:
    wg = gogroup.WaitGroup()
    wg.add()
    before = os_threads()
    assert wg.wait(timeout=0.01) is False
    token = gogroup.CancelToken()
    assert token.wait(timeout=0.01) is False
    # No new thread: idle pool threads from earlier tests may exit meanwhile, never appear.
    assert os_threads() <= before
    wg.done()


def test_a_blocked_task_never_strands_a_later_one() -> None:
    # Core's pool strands a task queued while a worker spins if that worker then blocks in
    # its own task (reported; reproduced in pure Rust). With the GIL this is the common case,
    # so the binding tickles the pool when a Python task starts (task.rs, tickle_pool).
    wg = gogroup.WaitGroup()
    wg.go(lambda: None)
    wg.wait()
    eventually("the pool's workers are asleep", lambda: _gogroup._pool_stats()["busy"] == 0)
    stranded = 0
    for _ in range(5):
        block, second = threading.Event(), threading.Event()
        wg.go(block.wait, HANG)
        wg.go(second.set)
        stranded += not second.wait(2)  # upper bound: a healthy pool runs it in microseconds
        block.set()
        wg.wait(timeout=HANG)
    assert stranded == 0


BLOCKING = r"""
import sys, threading, time
import gogroup
from gogroup import _gogroup

n = int(sys.argv[1])
kind = sys.argv[2]
wg = gogroup.WaitGroup()
if kind == "sleep":
    for _ in range(n):
        wg.go(time.sleep, 0.05)
elif kind == "rendezvous":
    # Every task waits until all have started: only a pool that grows for blocking it cannot
    # see (a threading.Barrier) gets there.
    barrier = threading.Barrier(n)
    for _ in range(n):
        wg.go(barrier.wait, 60)
else:
    # No forced GIL switch in the middle of a task: every thread but the one running waits to
    # enter Python, which is exactly the wait the pool must not take for blocking.
    sys.setswitchinterval(30)

    def work() -> int:
        x = 0
        for i in range(300_000):
            x += i
        return x

    for _ in range(n):
        wg.go(work)
assert wg.wait(timeout=120)
print(_gogroup._pool_stats()["peak"], flush=True)
"""


def test_tasks_that_block_in_python_all_get_a_thread_and_no_more() -> None:
    for kind, n in (("sleep", 1000), ("rendezvous", 200)):
        r = run_python(BLOCKING, str(n), kind)
        assert r.returncode == 0, r.stderr
        peak = int(r.stdout.split()[-1])
        assert 1 <= peak <= n + 4, (kind, peak)


def test_threads_waiting_to_enter_python_do_not_grow_the_pool() -> None:
    # 64 CPU-bound tasks, with the switch interval so long that no task gives the GIL up
    # midway: every thread but one waits to enter Python, and waiting for the GIL is not
    # blocking (the pool grew to one thread per task before). In real programs a thread that
    # must take the GIL back in the middle of its task still looks blocked to the OS, so
    # CPU-bound Python tasks start some more (about 10-20 for these 64; see README).
    r = run_python(BLOCKING, "64", "cpu")
    assert r.returncode == 0, r.stderr
    peak = int(r.stdout.split()[-1])
    assert peak <= 8, peak
