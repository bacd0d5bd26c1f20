"""Ctrl-C: SIGINT while the main thread blocks in any wait raises KeyboardInterrupt within
100 ms, and the objects stay consistent. Each case runs in a child interpreter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import HANG

CHILD = r"""
import signal, sys, time
import gogroup

# A process started in the background by a non-interactive shell (as CI starts tests)
# inherits SIGINT as ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)

wg = gogroup.WaitGroup()
wg.add(1)
token = gogroup.CancelToken()
g = gogroup.ErrGroup(limit=1)
g.go(token.wait)
waits = {
    "WaitGroup.wait": lambda: wg.wait(),
    "WaitGroup.wait(token=)": lambda: wg.wait(token=gogroup.CancelToken()),
    "CancelToken.wait": lambda: token.wait(),
    "ErrGroup.wait": lambda: g.wait(),
    "ErrGroup.shutdown": lambda: gogroup.ErrGroup().shutdown(3600) or g.shutdown(3600),
    # The limit (1) is full while token.wait runs: these wait for a slot.
    "ErrGroup.go": lambda: g.go(print, "never printed"),
    "ErrGroup.start": lambda: g.start().finish(),
}
print("ready", flush=True)
try:
    waits[sys.argv[1]]()
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)

# Consistent afterwards: the same objects still work.
assert wg.count == 1
wg.done()
assert wg.wait(timeout=5)
token.cancel()
g.wait(timeout=5)
assert g.active == 0
assert g.errors() == []
print("consistent", flush=True)
"""


def main_thread_sleeps(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    return state == "S"


@pytest.mark.parametrize(
    "wait",
    [
        "WaitGroup.wait",
        "WaitGroup.wait(token=)",
        "CancelToken.wait",
        "ErrGroup.wait",
        "ErrGroup.shutdown",
        "ErrGroup.go",
        "ErrGroup.start",
    ],
)
def test_sigint_interrupts_a_blocked_wait_within_100_ms(wait: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, wait],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # Wait until the main thread is asleep in the wait (an upper bound, not a delay).
        end = time.monotonic() + HANG
        while not main_thread_sleeps(child.pid):
            assert time.monotonic() < end, "the child never blocked"
        sent = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        line = child.stdout.readline().split()
        assert line[:1] == ["interrupted"], (line, child.stderr and child.stderr.read())
        latency = float(line[1]) - sent
        assert latency < 0.1, f"KeyboardInterrupt took {latency * 1000:.0f} ms"
        assert child.stdout.readline().strip() == "consistent"
        assert child.wait(timeout=HANG) == 0
    finally:
        child.kill()
        child.wait()
