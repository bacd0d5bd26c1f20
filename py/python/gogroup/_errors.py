"""gogroup's exceptions: one class per core error kind, rooted at :class:`GogroupError`.

Each class also subclasses the builtin a Python programmer would catch for that failure, so
``except ValueError`` catches a negative counter and ``except TimeoutError`` catches an
expired deadline. ``kind`` and ``code`` are core's stable name and number for the kind (the
same in the C and Node bindings).

A task's own exception is never wrapped: it comes out of ``wait()`` as the very object the
task raised.
"""

from __future__ import annotations

__all__ = [
    "Canceled",
    "CustomError",
    "DeadlineExceeded",
    "GogroupError",
    "InvalidArgumentError",
    "LimitInUseError",
    "NegativeCounterError",
    "PanicError",
    "WaitTimeoutError",
]


class GogroupError(Exception):
    """Root of every exception gogroup itself raises.

    Example:
        >>> import gogroup
        >>> try:
        ...     gogroup.WaitGroup().done()
        ... except gogroup.GogroupError as e:
        ...     print(e.kind, e.code)
        NEGATIVE_COUNTER 1
    """

    kind: str = ""
    code: int = 0


class NegativeCounterError(GogroupError, ValueError):
    """A WaitGroup counter would have dropped below zero; the change was not applied.

    Example:
        >>> import gogroup
        >>> issubclass(gogroup.NegativeCounterError, ValueError)
        True
    """

    kind = "NEGATIVE_COUNTER"
    code = 1


class Canceled(GogroupError):
    """A token was cancelled (Go's ``context.Canceled``); a token's ``err``.

    Not an ``asyncio.CancelledError``: that one is a ``BaseException`` that ``except
    Exception`` would not catch, and it means "this asyncio task is being cancelled".

    Example:
        >>> import gogroup
        >>> token = gogroup.CancelToken()
        >>> _ = token.cancel()
        >>> isinstance(token.err, gogroup.Canceled)
        True
    """

    kind = "CANCELED"
    code = 2


class DeadlineExceeded(Canceled, TimeoutError):
    """A token's deadline passed (Go's ``context.DeadlineExceeded``).

    Example:
        >>> import gogroup
        >>> err = gogroup.CancelToken().with_timeout(0).err
        >>> isinstance(err, gogroup.Canceled), isinstance(err, TimeoutError)
        (True, True)
    """

    kind = "DEADLINE_EXCEEDED"
    code = 3


class WaitTimeoutError(GogroupError, TimeoutError):
    """A bounded wait gave up before its condition held (``ErrGroup.wait(timeout=...)``).

    Example:
        >>> import gogroup
        >>> g = gogroup.ErrGroup()
        >>> g.go(g.token.wait)
        >>> try:
        ...     g.wait(timeout=0.01)
        ... except TimeoutError as e:
        ...     print(type(e).__name__)
        WaitTimeoutError
        >>> g.shutdown(grace=10)
        0
    """

    kind = "TIMEOUT"
    code = 4


class LimitInUseError(GogroupError, RuntimeError):
    """``ErrGroup.set_limit`` was called while tasks were active.

    Example:
        >>> import gogroup
        >>> g = gogroup.ErrGroup()
        >>> g.go(g.token.wait)
        >>> try:
        ...     g.set_limit(1)
        ... except RuntimeError as e:
        ...     print(e)
        errgroup: modify limit while 1 goroutines in the group are still active
        >>> g.shutdown(grace=10)
        0
    """

    kind = "LIMIT_IN_USE"
    code = 5


class PanicError(GogroupError, RuntimeError):
    """Native code failed inside a task (a bug in gogroup: please report it).

    Example:
        >>> import gogroup
        >>> issubclass(gogroup.PanicError, RuntimeError)
        True
    """

    kind = "PANIC"
    code = 6


class InvalidArgumentError(GogroupError, ValueError):
    """An argument was out of range (a NaN timeout, an unknown ``collect`` mode...).

    Example:
        >>> import gogroup
        >>> try:
        ...     gogroup.ErrGroup(collect="some")
        ... except ValueError as e:
        ...     print(type(e).__name__)
        InvalidArgumentError
    """

    kind = "INVALID_ARGUMENT"
    code = 7


class CustomError(GogroupError):
    """An application error that reached Python without an exception object (for example
    a cause given by C or Node code through a shared token).

    Example:
        >>> import gogroup
        >>> gogroup.CustomError.kind
        'CUSTOM'
    """

    kind = "CUSTOM"
    code = 8
