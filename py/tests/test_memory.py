"""Memory: 100,000 create/use/drop cycles of each type leave no growth."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tracemalloc
import weakref
from collections.abc import Callable

import pytest

import gogroup

CYCLES = 100_000
# Generous bounds: a leak of even one small object per cycle would be megabytes.
MAX_TRACED_GROWTH = 256 * 1024
MAX_RSS_GROWTH = 16 * 1024 * 1024


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def wait_group_cycle() -> None:
    wg = gogroup.WaitGroup()
    wg.add(2)
    wg.done()
    wg.done()
    wg.wait(timeout=1)


def cancel_token_cycle() -> None:
    root = gogroup.CancelToken()
    child = root.child().with_timeout(3600)
    reg = child.on_cancel(print)
    reg.stop()
    either = gogroup.CancelToken.any(root, child)
    root.cancel(ValueError("x"))
    assert either.cause is not None


def err_group_cycle() -> None:
    g = gogroup.ErrGroup(token=gogroup.CancelToken(), limit=2)
    g.go(int, "1")
    g.wait(timeout=10)


def failing_err_group_cycle() -> None:
    g = gogroup.ErrGroup()
    g.go(int, "x")
    with contextlib.suppress(ValueError):
        g.wait(timeout=10)


def fileno_cycle() -> None:
    token = gogroup.CancelToken()
    token.fileno()
    token.cancel()


@pytest.mark.parametrize(
    "cycle",
    [wait_group_cycle, cancel_token_cycle, err_group_cycle, failing_err_group_cycle, fileno_cycle],
)
def test_a_hundred_thousand_cycles_leave_no_growth(cycle: Callable[[], None]) -> None:
    for _ in range(CYCLES // 10):  # warm-up: pool threads, caches, allocator arenas
        cycle()
    gc.collect()
    rss_before = rss()
    tracemalloc.start()
    try:
        traced_before, _ = tracemalloc.get_traced_memory()
        for _ in range(CYCLES):
            cycle()
        gc.collect()
        traced_after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced_after - traced_before < MAX_TRACED_GROWTH
    assert rss() - rss_before < MAX_RSS_GROWTH


def test_twenty_thousand_awaits_leave_no_growth() -> None:
    async def cycles(n: int) -> None:
        for _ in range(n):
            wg = gogroup.WaitGroup()
            wg.go(int)
            await wg.wait_async()
            token = gogroup.CancelToken()
            token.cancel()
            await token.wait_async()

    asyncio.run(cycles(2_000))
    gc.collect()
    before = rss()
    asyncio.run(cycles(20_000))
    gc.collect()
    assert rss() - before < MAX_RSS_GROWTH
    assert gogroup._gogroup._live_async_waits() == 0


def test_a_token_cancelled_with_an_exception_from_its_own_frame_is_collected() -> None:
    # token -> exc -> traceback -> frame -> token: a cycle through Rust, collectable because
    # the token reports the cause it alone holds to the garbage collector.
    class Marker:
        pass

    def cancel_in_frame() -> weakref.ref[Marker]:
        token = gogroup.CancelToken()
        marker = Marker()
        try:
            raise ValueError("stop")
        except ValueError as e:
            token.cancel(e)
        assert token.cause is not None
        return weakref.ref(marker)

    refs = [cancel_in_frame() for _ in range(100)]
    gc.collect()
    assert all(r() is None for r in refs), "the frame, the token and the exception leaked"
