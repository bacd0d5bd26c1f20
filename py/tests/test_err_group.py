"""ErrGroup: Go's errgroup tests, ported, plus collect="all" and context managers."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from typing import Any

import pytest

import gogroup
from conftest import HANG

needs_exception_groups = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="ExceptionGroup is new in Python 3.11"
)


def test_zero_group_returns_the_first_error_as_in_gos_test_zero_group() -> None:
    err1, err2 = ValueError("errgroup_test: 1"), ValueError("errgroup_test: 2")
    cases: list[list[BaseException | None]] = [
        [],
        [None],
        [err1],
        [err1, None],
        [err1, None, err2],
    ]
    for errs in cases:
        g = gogroup.ErrGroup()
        first: BaseException | None = None
        for err in errs:

            def task(e: BaseException | None = err) -> None:
                if e is not None:
                    raise e

            g.go(task)
            if first is None and err is not None:
                first = err
            if first is None:
                g.wait(timeout=HANG)
            else:
                with pytest.raises(ValueError) as info:
                    g.wait(timeout=HANG)
                assert info.value is first
        assert not g.token.is_cancelled()  # a zero group cancels nothing


def test_first_error_cancels_the_token_with_that_error_as_cause() -> None:
    # Go's TestWithContext.
    parent = gogroup.CancelToken()
    g = gogroup.ErrGroup(token=parent)
    boom = ConnectionError("availability service unreachable")
    watched: queue.Queue[BaseException | None] = queue.Queue()

    def slow() -> None:
        g.token.wait()
        watched.put(g.token.cause)
        g.token.raise_if_cancelled()

    def fail() -> None:
        raise boom

    g.go(slow)
    g.go(fail)
    with pytest.raises(ConnectionError) as info:
        g.wait(timeout=HANG)
    assert info.value is boom
    assert watched.get(timeout=HANG) is boom
    assert g.token.cause is boom
    assert not parent.is_cancelled()


def test_wait_cancels_the_token_even_on_success_as_go_does() -> None:
    g = gogroup.ErrGroup(token=gogroup.CancelToken())
    g.go(lambda: None)
    g.wait(timeout=HANG)
    assert isinstance(g.token.cause, gogroup.Canceled)


def test_the_groups_token_follows_its_parent() -> None:
    parent = gogroup.CancelToken()
    g = gogroup.ErrGroup(token=parent)
    g.go(g.token.wait)
    why = KeyboardInterrupt()
    parent.cancel(why)
    g.wait(timeout=HANG)
    assert g.token.cause is why


def test_try_go_limits_42_then_1_then_0_as_in_gos_test_try_go() -> None:
    g = gogroup.ErrGroup()
    n = 42
    g.set_limit(n)
    ch: queue.Queue[None] = queue.Queue()
    release = threading.Semaphore(0)

    def fn() -> None:
        ch.put(None)
        assert release.acquire(timeout=HANG)

    for i in range(n):
        assert g.try_go(fn), f"TryGo should succeed but failed at call {i}"
    assert not g.try_go(fn), "TryGo is expected to fail but succeeded"
    for _ in range(n):
        ch.get(timeout=HANG)
        release.release()
    g.wait(timeout=HANG)

    assert g.try_go(fn)
    ch.get(timeout=HANG)
    release.release()
    g.wait(timeout=HANG)

    g.set_limit(1)
    assert g.try_go(fn)
    assert not g.try_go(fn)
    ch.get(timeout=HANG)
    release.release()
    g.wait(timeout=HANG)

    g.set_limit(0)
    for _ in range(1 << 10):
        assert not g.try_go(fn)
    g.wait(timeout=HANG)


def test_limit_10_is_never_exceeded_over_1025_tasks_as_in_gos_test_go_limit() -> None:
    limit = 10
    g = gogroup.ErrGroup(limit=limit)
    lock = threading.Lock()
    active = 0
    peak = 0

    def task() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active > limit:
                raise AssertionError(f"saw {active} active tasks, limit is {limit}")
        assert g.active <= limit
        with lock:
            active -= 1

    for _ in range((1 << 10) + 1):
        g.go(task)
    g.wait(timeout=HANG)
    assert 1 <= peak <= limit


def test_set_limit_while_tasks_run_is_limit_in_use() -> None:
    g = gogroup.ErrGroup()
    release = threading.Event()
    g.go(release.wait, HANG)
    with pytest.raises(gogroup.LimitInUseError, match="still active"):
        g.set_limit(2)
    g.set_limit(None)  # the current value: always allowed
    release.set()
    g.wait(timeout=HANG)
    g.set_limit(2)
    assert g.limit == 2


def test_go_blocked_on_a_full_limit_gives_up_with_the_tokens_cause() -> None:
    parent = gogroup.CancelToken()
    g = gogroup.ErrGroup(token=parent, limit=1)
    g.go(g.token.wait)
    ran = threading.Event()
    outcome: queue.Queue[BaseException | None] = queue.Queue()

    def second_go() -> None:
        try:
            g.go(ran.set)
            outcome.put(None)
        except BaseException as e:
            outcome.put(e)

    threading.Thread(target=second_go).start()
    why = RuntimeError("shutting down")
    parent.cancel(why)
    assert outcome.get(timeout=HANG) is why
    g.wait(timeout=HANG)
    assert not ran.is_set()


@needs_exception_groups
def test_collect_all_raises_an_exception_group_of_the_same_objects() -> None:
    g = gogroup.ErrGroup(collect="all")
    errors = [ValueError(str(i)) for i in range(5)]
    for e in errors:

        def fail(e: BaseException = e) -> None:
            raise e

        g.go(fail)
    g.go(lambda: None)
    with pytest.raises(ExceptionGroup) as info:
        g.wait(timeout=HANG)
    assert sorted(map(id, info.value.exceptions)) == sorted(map(id, errors))
    assert [id(e) for e in g.errors()] == [id(e) for e in info.value.exceptions]


@needs_exception_groups
def test_collect_all_keeps_base_exceptions_in_a_base_exception_group() -> None:
    g = gogroup.ErrGroup(collect="all")

    def stop() -> None:
        raise SystemExit(3)

    g.go(stop)
    with pytest.raises(BaseExceptionGroup) as info:
        g.wait(timeout=HANG)
    assert isinstance(info.value.exceptions[0], SystemExit)


def test_wait_timeout_raises_wait_timeout_error_and_cancels_nothing() -> None:
    g = gogroup.ErrGroup(token=gogroup.CancelToken())
    g.go(g.token.wait)
    with pytest.raises(gogroup.WaitTimeoutError):
        g.wait(timeout=0.02)
    assert not g.token.is_cancelled()
    assert g.shutdown(grace=HANG) == 0


def test_shutdown_reports_tasks_that_ignore_the_token() -> None:
    g = gogroup.ErrGroup()
    release = threading.Event()
    started = threading.Semaphore(0)

    def stubborn() -> None:
        started.release()
        release.wait(HANG)

    def polite() -> None:
        started.release()
        g.token.wait()

    # Both must be running before shutdown, so the count is about the token, not the pool.
    g.go(polite)
    assert started.acquire(timeout=HANG)
    g.go(stubborn)
    assert started.acquire(timeout=HANG)
    why = RuntimeError("deploy")
    assert g.shutdown(grace=0.02, cause=why) == 1
    assert g.token.cause is why
    release.set()
    g.wait(timeout=HANG)


def test_with_block_waits_and_raises_the_first_task_error() -> None:
    boom = LookupError("sku")
    with pytest.raises(LookupError) as info:  # noqa: SIM117 - the with under test
        with gogroup.ErrGroup(token=gogroup.CancelToken()) as g:

            def fail() -> None:
                raise boom

            g.go(fail)
    assert info.value is boom


def test_with_block_that_raises_cancels_the_token_and_waits_for_the_tasks() -> None:
    finished: list[Any] = []
    body = RuntimeError("body failed")
    with pytest.raises(RuntimeError) as info:  # noqa: SIM117 - the with under test
        with gogroup.ErrGroup() as g:

            def watch() -> None:
                g.token.wait()
                finished.append(g.token.cause)
                raise ValueError("a consequence, not reported")

            g.go(watch)
            raise body
    assert info.value is body
    assert finished == [body]
    assert g.active == 0


def test_tasks_get_arguments_and_run_off_the_main_thread() -> None:
    g = gogroup.ErrGroup()
    got: queue.Queue[tuple[Any, ...]] = queue.Queue()
    g.go(lambda *a, **k: got.put((a, k, threading.current_thread().name)), 1, 2, x=3)
    g.wait(timeout=HANG)
    args, kwargs, name = got.get_nowait()
    assert (args, kwargs) == ((1, 2), {"x": 3})
    assert name != threading.main_thread().name


FALLBACK_CHILD = r"""
import builtins
# What Python before 3.11 looks like to gogroup: no BaseExceptionGroup (looked up at run time).
del builtins.BaseExceptionGroup
import gogroup

first, second = KeyError("first"), ValueError("second")
g = gogroup.ErrGroup(collect="all")
slot = g.start()
g.start().finish(first)
slot.finish(second)
try:
    g.wait()
except BaseException as e:
    assert e is first, repr(e)  # the first error to finish, the same object
assert g.errors() == [first, second]  # and all of them, in finishing order
print("fallback ok", flush=True)
"""


def test_collect_all_before_python_3_11_raises_the_first_error_and_keeps_all() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FALLBACK_CHILD],
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fallback ok"
