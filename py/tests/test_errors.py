"""One exception hierarchy, one class per core error kind, each also a builtin."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import gogroup
from gogroup import _gogroup

BUILTIN_FOR_KIND = {
    "NEGATIVE_COUNTER": ValueError,
    "DEADLINE_EXCEEDED": TimeoutError,
    "TIMEOUT": TimeoutError,
    "LIMIT_IN_USE": RuntimeError,
    "PANIC": RuntimeError,
    "INVALID_ARGUMENT": ValueError,
}


def test_every_core_error_kind_maps_to_its_own_class_never_the_fallback() -> None:
    kinds = _gogroup._error_kinds()
    assert len(kinds) == 8
    seen = set()
    for code, name in kinds:
        exc = _gogroup._error_of_kind(code)
        assert isinstance(exc, gogroup.GogroupError)
        cls = type(exc)
        assert cls is not gogroup.GogroupError, f"{name} falls back to the root class"
        assert cls.kind == name
        assert cls.code == code
        assert cls.__name__ in gogroup.__all__
        if name in BUILTIN_FOR_KIND:
            assert isinstance(exc, BUILTIN_FOR_KIND[name])
        seen.add(cls)
    assert len(seen) == len(kinds)


def test_deadline_exceeded_is_both_canceled_and_timeout_error() -> None:
    assert issubclass(gogroup.DeadlineExceeded, gogroup.Canceled)
    assert issubclass(gogroup.DeadlineExceeded, TimeoutError)
    assert not issubclass(gogroup.Canceled, BaseException) or issubclass(
        gogroup.Canceled, Exception
    )


def test_unknown_error_code_is_an_invalid_argument() -> None:
    with pytest.raises(gogroup.InvalidArgumentError):
        _gogroup._error_of_kind(0)


def test_misuse_raises_python_errors_never_panic_exception() -> None:
    wg = gogroup.WaitGroup()
    token = gogroup.CancelToken()
    busy = gogroup.ErrGroup()
    busy.go(busy.token.wait)
    misuses: list[tuple[str, Callable[[], object]]] = [
        ("done at zero", lambda: wg.done()),
        ("negative add", lambda: wg.add(-1)),
        ("counter overflow", lambda: wg.add(2**31)),
        ("huge delta", lambda: wg.add(2**70)),
        ("NaN timeout", lambda: wg.wait(timeout=float("nan"))),
        ("wrong token type", lambda: wg.wait(token="x")),  # type: ignore[arg-type]
        ("cause not an exception", lambda: token.cancel(cause="x")),  # type: ignore[arg-type]
        ("NaN deadline", lambda: token.with_deadline(float("nan"))),
        ("any of non-tokens", lambda: gogroup.CancelToken.any(1, 2)),  # type: ignore[arg-type]
        ("unknown collect", lambda: gogroup.ErrGroup(collect="most")),  # type: ignore[arg-type]
        ("set_limit while busy", lambda: busy.set_limit(3)),
        ("negative timeout on a busy group", lambda: busy.wait(timeout=-1)),
        ("wait_async without a loop", lambda: wg.wait_async()),
        ("shutdown with a NaN grace", lambda: busy.shutdown(float("nan"))),
        ("with_timeout of a string", lambda: token.with_timeout("1")),  # type: ignore[arg-type]
    ]
    for what, call in misuses:
        with pytest.raises(Exception) as info:  # any Exception; checked below
            call()
        assert type(info.value).__name__ != "PanicException", what
        assert not isinstance(info.value, gogroup.PanicError), what
    assert busy.shutdown(grace=10) == 0


def test_a_task_that_is_not_callable_fails_in_wait_not_with_a_panic() -> None:
    g = gogroup.ErrGroup()
    g.go(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not callable"):
        g.wait(timeout=30)
