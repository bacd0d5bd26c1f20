"""gogroup: Go's ``sync.WaitGroup``, ``errgroup.Group`` and ``context`` cancellation for
Python threads and asyncio, with one object model.

The semantics live in gogroup's Rust core, shared with the C and Node bindings; this package
translates them to Python idioms. See ``README.md`` in the ``py/`` folder for a tour.

Example:
    >>> import gogroup
    >>> g = gogroup.ErrGroup(token=gogroup.CancelToken(), limit=4)
    >>> results = {}
    >>> for n in range(8):
    ...     g.go(results.__setitem__, n, n * n)
    >>> g.wait()
    >>> results[7]
    49
"""

from __future__ import annotations

import atexit as _atexit
import os as _os
import warnings as _warnings

from gogroup import _gogroup
from gogroup._aio import TaskLink, link_task
from gogroup._errors import (
    Canceled,
    CustomError,
    DeadlineExceeded,
    GogroupError,
    InvalidArgumentError,
    LimitInUseError,
    NegativeCounterError,
    PanicError,
    WaitTimeoutError,
)
from gogroup._gogroup import (
    CancelToken,
    ErrGroup,
    Registration,
    TaskSlot,
    WaitGroup,
    __version__,
)

__all__ = [
    "CancelToken",
    "Canceled",
    "CustomError",
    "DeadlineExceeded",
    "ErrGroup",
    "GogroupError",
    "InvalidArgumentError",
    "LimitInUseError",
    "NegativeCounterError",
    "PanicError",
    "Registration",
    "TaskLink",
    "TaskSlot",
    "WaitGroup",
    "WaitTimeoutError",
    "__version__",
    "link_task",
]

# Threads do not survive os.fork(): core gives the child a fresh pool and timer of its own on
# first use. What ran or waited in the parent's pool at the fork stays in the parent.
_fork_pool_stats: dict[str, int | bool] = {}


def _before_fork() -> None:
    global _fork_pool_stats
    _fork_pool_stats = _gogroup._pool_stats()


def _after_fork_in_child() -> None:
    _gogroup._after_fork_in_child()
    busy = _fork_pool_stats.get("busy", 0) or _fork_pool_stats.get("queued", 0)
    if busy:
        _warnings.warn(
            "gogroup: tasks were running or queued when this process forked; they run only in "
            "the parent, so groups that counted them never finish in the child. New groups, "
            f"tasks and deadlines work in the child. (Parent's pool: {_fork_pool_stats})",
            RuntimeWarning,
            stacklevel=2,
        )


# At exit, gogroup's threads must be out of Python before the interpreter finalizes (a thread
# that takes the GIL then is ended in a way that aborts Rust code). Running tasks get this long
# to finish, as ThreadPoolExecutor's workers are joined at exit.
_EXIT_PATIENCE = 30.0
_atexit.register(_gogroup._shut_down, _EXIT_PATIENCE)

if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
