"""Shared helpers. Synchronisation is by events and the objects' own waits; the timeouts
below are upper bounds that turn a hang into a failure, never a way to wait for something."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

import gogroup
from gogroup import _gogroup

# A hang here means a lost wake-up or a deadlock: fail instead of blocking the suite.
HANG = 30.0


def os_threads() -> int:
    """Threads of this process, as the kernel counts them (not only `threading`'s)."""
    return len(os.listdir("/proc/self/task"))


def eventually(what: str, cond: Callable[[], bool], timeout: float = HANG) -> None:
    """Re-checks `cond` until it holds; fails after `timeout` (an upper bound)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"not true within {timeout}s: {what}")
        time.sleep(0.005)


def run_python(code: str, *args: str, timeout: float = HANG) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (this one), failing the test on a hang."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def short_idle() -> Iterator[float]:
    """Pool threads exit after 50 ms idle during the test (so tests can watch them go)."""
    previous = _gogroup._idle_timeout()
    yield _gogroup._idle_timeout(0.05)
    _gogroup._idle_timeout(previous)


__all__ = ["HANG", "eventually", "gogroup", "os_threads", "run_python"]
