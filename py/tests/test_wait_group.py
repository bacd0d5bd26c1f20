"""WaitGroup: Go's sync.WaitGroup tests, ported, plus what Python adds (exceptions, GIL)."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest

import gogroup
from conftest import HANG


def test_barrier_reuse_as_in_gos_test_wait_group() -> None:
    # Go's TestWaitGroup: two groups used as barriers, reused for 8 rounds.
    n = 16
    wg1, wg2 = gogroup.WaitGroup(), gogroup.WaitGroup()
    for _ in range(8):
        exited: queue.Queue[bool] = queue.Queue()
        wg1.add(n)
        wg2.add(n)

        def worker(exited: queue.Queue[bool] = exited) -> None:
            wg1.done()
            assert wg2.wait(timeout=HANG)
            exited.put(True)

        runners = gogroup.WaitGroup()
        for _ in range(n):
            runners.go(worker)  # 16 blocked pool tasks at once, as Go's goroutines
        assert wg1.wait(timeout=HANG)
        for _ in range(n):
            assert exited.empty(), "WaitGroup released a waiter early"
            wg2.done()
        for _ in range(n):
            assert exited.get(timeout=HANG)
        assert runners.wait(timeout=HANG)


def test_negative_counter_is_refused_and_not_applied() -> None:
    wg = gogroup.WaitGroup()
    wg.add(1)
    wg.done()
    with pytest.raises(gogroup.NegativeCounterError, match="sync: negative WaitGroup counter"):
        wg.done()
    with pytest.raises(ValueError, match="negative"):
        wg.add(-5)
    assert wg.count == 0
    wg.add(2)
    with pytest.raises(gogroup.NegativeCounterError):
        wg.add(-3)
    assert wg.count == 2


def test_counter_overflow_is_an_invalid_argument() -> None:
    wg = gogroup.WaitGroup()
    wg.add(2**31 - 1)
    with pytest.raises(gogroup.InvalidArgumentError):
        wg.add(1)
    assert wg.count == 2**31 - 1
    wg.add(-(2**31 - 1))


def test_wait_returns_false_on_timeout_and_true_once_done() -> None:
    wg = gogroup.WaitGroup()
    wg.add()
    assert wg.wait(timeout=0.01) is False
    assert wg.wait(timeout=0) is False
    wg.done()
    assert wg.wait(timeout=0) is True
    assert wg.wait() is True


def test_go_runs_the_callable_with_its_arguments() -> None:
    wg = gogroup.WaitGroup()
    seen: list[Any] = []
    lock = threading.Lock()

    def task(a: int, b: int, *, c: int) -> None:
        with lock:
            seen.append((a, b, c, threading.current_thread() is threading.main_thread()))

    for i in range(100):
        wg.go(task, i, 2, c=3)
    assert wg.wait(timeout=HANG)
    assert sorted(s[0] for s in seen) == list(range(100))
    assert all(s[1:] == (2, 3, False) for s in seen)


def test_a_go_task_exception_comes_out_of_wait_as_the_same_object() -> None:
    wg = gogroup.WaitGroup()
    boom = KeyError("boom")

    def fail() -> None:
        raise boom

    wg.go(fail)
    with pytest.raises(KeyError) as info:
        wg.wait(timeout=HANG)
    assert info.value is boom
    # The traceback still shows the task's frame.
    assert info.value.__traceback__ is not None
    frames = []
    tb: TracebackType | None = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "fail" in frames
    # Reported once: the group is clean and reusable afterwards.
    assert wg.wait(timeout=0) is True
    wg.go(lambda: None)
    assert wg.wait(timeout=HANG) is True


class Unraisable:
    """Collects what reaches sys.unraisablehook; `reported` is set on each report."""

    def __init__(self) -> None:
        self.caught: list[Any] = []
        self.reported = threading.Event()

    def __call__(self, u: Any) -> None:
        self.caught.append(u.exc_value)
        self.reported.set()


@pytest.fixture
def unraisable() -> Iterator[Unraisable]:
    hook = Unraisable()
    previous = sys.unraisablehook
    sys.unraisablehook = hook
    yield hook
    sys.unraisablehook = previous


def test_other_task_exceptions_of_a_round_go_to_unraisablehook(unraisable: Unraisable) -> None:
    wg = gogroup.WaitGroup()
    first, second = ValueError("first"), ValueError("second")
    release = threading.Event()

    def fail(e: BaseException) -> None:
        release.wait(HANG)
        raise e

    wg.go(fail, first)
    wg.go(fail, second)
    release.set()
    with pytest.raises(ValueError) as info:
        wg.wait(timeout=HANG)
    # Both tasks finished before wait returned, so the other one was already reported.
    assert {info.value, *unraisable.caught} == {first, second}
    assert len(unraisable.caught) == 1


def test_an_exception_nobody_waited_for_is_reported_when_the_group_goes(
    unraisable: Unraisable,
) -> None:
    release = threading.Event()
    wg = gogroup.WaitGroup()
    lost = OSError("nobody waited")

    def fail() -> None:
        release.wait(HANG)
        raise lost

    wg.go(fail)
    del wg  # the running task keeps the group alive until it finishes
    release.set()
    assert unraisable.reported.wait(HANG)
    assert unraisable.caught == [lost]


def test_wait_with_a_token_raises_the_tokens_cause() -> None:
    wg = gogroup.WaitGroup()
    wg.add()
    token = gogroup.CancelToken()
    why = ConnectionError("peer gone")
    threading.Thread(target=token.cancel, args=(why,)).start()
    with pytest.raises(ConnectionError) as info:
        wg.wait(token=token)
    assert info.value is why
    assert wg.count == 1
    with pytest.raises(gogroup.Canceled):
        wg.wait(token=gogroup.CancelToken.any(gogroup.CancelToken().with_timeout(0)))
    wg.done()
    assert wg.wait(token=token) is True


def test_wait_with_a_live_token_and_a_timeout_times_out() -> None:
    wg = gogroup.WaitGroup()
    wg.add()
    token = gogroup.CancelToken()
    assert wg.wait(timeout=0.05, token=token) is False
    assert token.dependents() == 0, "the wait left a registration on the token"
    wg.done()


def test_wait_releases_the_gil_so_other_threads_run() -> None:
    wg = gogroup.WaitGroup()
    wg.add()
    ticks = 0

    def spin() -> None:
        nonlocal ticks
        while ticks < 1000:
            ticks += 1
        wg.done()

    threading.Thread(target=spin).start()
    assert wg.wait(timeout=HANG)
    assert ticks == 1000


def test_done_from_many_threads_releases_one_waiter() -> None:
    wg = gogroup.WaitGroup()
    wg.add(64)
    threads = [threading.Thread(target=wg.done) for _ in range(64)]
    for t in threads:
        t.start()
    assert wg.wait(timeout=HANG)
    for t in threads:
        t.join()
    assert wg.count == 0
