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

# Threads do not survive os.fork(). Before a fork, gogroup lets its (idle) pool threads and
# timer thread exit, so that the child starts with an empty pool it can grow again.
_FORK_PATIENCE = 2.0  # seconds to wait for pool threads to finish and exit
_fork_was_quiet = True
_fork_pool_stats: dict[str, int | bool] = {}


def _before_fork() -> None:
    global _fork_was_quiet, _fork_pool_stats
    _fork_was_quiet = _gogroup._quiesce_for_fork(_FORK_PATIENCE)
    if not _fork_was_quiet:
        _fork_pool_stats = _gogroup._pool_stats()


def _after_fork_in_child() -> None:
    if not _fork_was_quiet:
        _warnings.warn(
            "gogroup: tasks or deadlines were running when this process forked; in the child, "
            "new go() tasks and token deadlines may never run. Fork before starting work, or "
            f"use the 'spawn' or 'forkserver' start method. (Pool: {_fork_pool_stats})",
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
