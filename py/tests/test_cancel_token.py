"""CancelToken: Go's context cancellation tests, ported, plus causes as Python objects."""

from __future__ import annotations

import gc
import queue
import selectors
import threading
import time
from typing import Any

import pytest

import gogroup
from conftest import HANG


def test_cancelling_a_parent_cancels_a_grandchild_before_cancel_returns() -> None:
    root = gogroup.CancelToken()
    child = root.child()
    grandchild = child.child()
    assert root.cancel() is True
    assert grandchild.is_cancelled()
    assert isinstance(grandchild.err, gogroup.Canceled)
    assert not isinstance(grandchild.err, gogroup.DeadlineExceeded)


def test_cancelling_a_child_never_touches_its_parent() -> None:
    parent = gogroup.CancelToken()
    child = parent.child()
    child.cancel()
    assert not parent.is_cancelled()
    assert parent.err is None
    assert parent.cause is None


def test_a_child_of_a_cancelled_token_is_born_cancelled_with_the_same_cause() -> None:
    why = RuntimeError("gone")
    parent = gogroup.CancelToken()
    parent.cancel(why)
    assert parent.child().cause is why


def test_cancel_cause_round_trips_as_the_same_object_and_the_first_cancel_wins() -> None:
    token = gogroup.CancelToken()
    first, second = ValueError("first"), ValueError("second")
    assert token.cancel(cause=first) is True
    assert token.cancel(cause=second) is False
    assert token.cause is first
    assert token.child().cause is first
    assert isinstance(token.err, gogroup.Canceled)


def test_a_plain_cancel_has_canceled_as_its_cause() -> None:
    token = gogroup.CancelToken()
    token.cancel()
    assert isinstance(token.cause, gogroup.Canceled)
    assert str(token.cause) == "context canceled"


def test_with_timeout_fires_deadline_exceeded_with_the_given_cause() -> None:
    slow = TimeoutError("price service too slow")
    token = gogroup.CancelToken().with_timeout(0.01, cause=slow)
    assert token.wait(timeout=HANG)
    assert isinstance(token.err, gogroup.DeadlineExceeded)
    assert token.cause is slow


def test_a_manual_cancel_before_the_deadline_records_canceled_not_the_deadline_cause() -> None:
    token = gogroup.CancelToken().with_timeout(HANG, cause=TimeoutError("late"))
    token.cancel()
    assert isinstance(token.cause, gogroup.Canceled)
    assert not isinstance(token.err, gogroup.DeadlineExceeded)


def test_deadline_is_on_the_monotonic_clock_and_the_earliest_wins() -> None:
    outer = gogroup.CancelToken().with_timeout(60)
    inner = outer.with_timeout(3600)
    assert outer.deadline is not None
    assert 59 < outer.deadline - time.monotonic() <= 60
    assert inner.deadline == outer.deadline  # the same instant reads as the same float
    for _ in range(100):  # found by the conformance suite: two clock reads per conversion
        assert outer.child().deadline == outer.deadline == inner.deadline
    assert gogroup.CancelToken().deadline is None
    at = time.monotonic() + 30
    token = gogroup.CancelToken().with_deadline(at)
    assert token.deadline is not None
    assert abs(token.deadline - at) < 0.001


def test_with_deadline_in_the_past_is_cancelled_at_once() -> None:
    token = gogroup.CancelToken().with_deadline(time.monotonic() - 1)
    assert token.is_cancelled()
    assert isinstance(token.err, gogroup.DeadlineExceeded)
    assert gogroup.CancelToken().with_timeout(-5).is_cancelled()


def test_any_is_cancelled_by_any_input_with_its_cause_and_leaves_no_trace() -> None:
    a, b = gogroup.CancelToken(), gogroup.CancelToken()
    either = gogroup.CancelToken.any(a, b)
    assert a.dependents() == 1
    why = KeyError("b")
    b.cancel(why)
    assert either.cause is why
    other = gogroup.CancelToken.any(a)
    del other
    gc.collect()
    assert a.dependents() == 0
    assert not gogroup.CancelToken.any().is_cancelled()


def test_on_cancel_runs_after_cancel_with_the_cause_on_a_pool_thread() -> None:
    # Go's TestAfterFuncCalledAfterCancel.
    token = gogroup.CancelToken()
    got: queue.Queue[tuple[Any, bool]] = queue.Queue()
    reg = token.on_cancel(lambda c: got.put((c, threading.current_thread() is main)))
    main = threading.main_thread()
    why = OSError("disk gone")
    token.cancel(why)
    cause, on_main = got.get(timeout=HANG)
    assert cause is why
    assert not on_main
    assert reg.stop() is False  # too late: it ran


def test_on_cancel_of_a_cancelled_token_runs_at_once() -> None:
    token = gogroup.CancelToken()
    token.cancel()
    got: queue.Queue[object] = queue.Queue()
    token.on_cancel(got.put)
    assert isinstance(got.get(timeout=HANG), gogroup.Canceled)


def test_a_stopped_on_cancel_never_runs() -> None:
    # Go's TestAfterFuncNotCalledAfterStop.
    token = gogroup.CancelToken()
    ran = threading.Event()
    reg = token.on_cancel(lambda _: ran.set())
    assert reg.stop() is True
    assert reg.stop() is False
    assert token.dependents() == 0
    later: queue.Queue[object] = queue.Queue()
    token.on_cancel(later.put)
    token.cancel()
    later.get(timeout=HANG)
    assert not ran.is_set()


def test_an_on_cancel_callback_that_raises_goes_to_unraisablehook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: queue.Queue[BaseException | None] = queue.Queue()
    monkeypatch.setattr("sys.unraisablehook", lambda u: reported.put(u.exc_value))
    token = gogroup.CancelToken()
    bad = ZeroDivisionError("in callback")

    def callback(_: BaseException) -> None:
        raise bad

    token.on_cancel(callback)
    token.cancel()
    assert reported.get(timeout=HANG) is bad


def test_wait_is_woken_by_a_cancel_from_another_thread() -> None:
    token = gogroup.CancelToken()
    threading.Thread(target=token.cancel).start()
    assert token.wait() is True
    assert gogroup.CancelToken().wait(timeout=0.01) is False
    assert gogroup.CancelToken().wait(timeout=0) is False


def test_raise_if_cancelled_raises_the_err_with_the_cause_chained() -> None:
    token = gogroup.CancelToken()
    token.raise_if_cancelled()
    why = ValueError("stop")
    token.cancel(why)
    with pytest.raises(gogroup.Canceled) as info:
        token.raise_if_cancelled()
    assert info.value.__cause__ is why
    expired = gogroup.CancelToken().with_timeout(0)
    with pytest.raises(gogroup.DeadlineExceeded) as info2:
        expired.raise_if_cancelled()
    assert info2.value.__cause__ is None


def test_fileno_becomes_readable_on_cancel_and_works_with_selectors() -> None:
    token = gogroup.CancelToken()
    fd = token.fileno()
    assert token.fileno() == fd
    with selectors.DefaultSelector() as sel:
        sel.register(token, selectors.EVENT_READ)
        assert sel.select(timeout=0) == []
        threading.Thread(target=token.cancel).start()
        ready = sel.select(timeout=HANG)
        assert [key.fileobj for key, _ in ready] == [token]


def test_fileno_of_an_already_cancelled_token_is_readable_at_once() -> None:
    token = gogroup.CancelToken()
    token.cancel()
    with selectors.DefaultSelector() as sel:
        sel.register(token.fileno(), selectors.EVENT_READ)
        assert len(sel.select(timeout=HANG)) == 1


def test_dropping_a_token_with_a_fileno_unregisters_its_wake_up() -> None:
    parent = gogroup.CancelToken()
    wrapper = gogroup.ErrGroup(token=parent).token  # a second handle on a child of parent
    wrapper.fileno()
    child_handle_count = parent.dependents()
    assert child_handle_count == 1
    del wrapper
    gc.collect()
    assert parent.dependents() == 0


def test_a_million_deep_chain_of_children_is_cancelled_and_dropped_on_a_small_stack() -> None:
    # `t = t.child()` in a loop used to make cancelling or dropping the leaf recurse once per
    # level in Rust, which overflowed the stack (a segfault in Python). The chain is spliced to
    # one link as its handles go, and every walk is iterative: a 2 MiB thread is plenty.
    outcome: dict[str, Any] = {}

    def build_cancel_drop() -> None:
        root = gogroup.CancelToken()
        t = root.child()
        for _ in range(1_000_000):
            t = t.child()
        outcome["dependents"] = root.dependents()
        t.cancel()
        outcome["leaf"] = t.is_cancelled()
        outcome["root"] = root.is_cancelled()
        del t
        outcome["after"] = root.dependents()

    old = threading.stack_size(2 * 1024 * 1024)
    try:
        worker = threading.Thread(target=build_cancel_drop)
        worker.start()
    finally:
        threading.stack_size(old)
    worker.join(HANG)
    assert not worker.is_alive(), "building and cancelling the chain hung"
    assert outcome == {"dependents": 1, "leaf": True, "root": False, "after": 0}
