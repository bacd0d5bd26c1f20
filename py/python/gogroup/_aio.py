"""The bridge between asyncio tasks and :class:`~gogroup.CancelToken`, both ways."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from gogroup._gogroup import CancelToken, ErrGroup, TaskSlot

__all__ = ["TaskLink", "link_task"]


class TaskLink:
    """Ties one asyncio task to one token (made by :func:`link_task`).

    While linked: cancelling the token cancels the task (``task.cancel(msg)``, from any
    thread), and cancelling the task cancels the token. ``close()`` unlinks both directions
    and leaves nothing registered.

    Example:
        >>> import asyncio, gogroup
        >>> async def main():
        ...     token = gogroup.CancelToken()
        ...     link = gogroup.link_task(token)
        ...     link.close()
        ...     return token.dependents()
        >>> asyncio.run(main())
        0
    """

    def __init__(
        self,
        token: CancelToken,
        task: asyncio.Task[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._token = token
        self._task = task
        self._loop = loop
        self._registration = token.on_cancel(self._on_token_cancelled)
        task.add_done_callback(self._on_task_done)

    def _on_token_cancelled(self, cause: BaseException) -> None:
        # On a gogroup pool thread: hand over to the loop.
        with contextlib.suppress(RuntimeError):  # a closed loop: no task left to cancel
            self._loop.call_soon_threadsafe(self._cancel_task, cause)

    def _cancel_task(self, cause: BaseException) -> None:
        if not self._task.done():
            self._task.cancel(f"gogroup token cancelled: {cause!r}")

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._token.cancel()
        self._registration.stop()

    def close(self) -> None:
        """Unlinks the task and the token (both directions); idempotent.

        Example:
            >>> import asyncio, gogroup
            >>> async def main():
            ...     token = gogroup.CancelToken()
            ...     link = gogroup.link_task(token)
            ...     link.close()
            ...     link.close()
            ...     _ = token.cancel()
            ...     await asyncio.sleep(0)
            ...     return asyncio.current_task().cancelled()
            >>> asyncio.run(main())
            False
        """
        self._registration.stop()
        self._task.remove_done_callback(self._on_task_done)


def link_task(token: CancelToken, task: asyncio.Task[Any] | None = None) -> TaskLink:
    """Links an asyncio task (default: the current one) and a token, both ways.

    Token cancelled → the task is cancelled (it sees ``asyncio.CancelledError`` at its next
    ``await``); task cancelled → the token is cancelled (cause ``Canceled``), so threads and
    groups watching the token stop too.

    Example:
        >>> import asyncio, gogroup
        >>> async def main():
        ...     token = gogroup.CancelToken().with_timeout(0.01)
        ...     gogroup.link_task(token)
        ...     try:
        ...         await asyncio.sleep(60)
        ...     except asyncio.CancelledError:
        ...         return "cancelled by the token"
        >>> asyncio.run(main())
        'cancelled by the token'
    """
    loop = asyncio.get_running_loop()
    if task is None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("link_task() needs a task: none is running")
    return TaskLink(token, task, loop)


class _GroupTasks:
    """The running ``async def`` tasks of one group and their slots, cancelled together by its
    token (one ``on_cancel`` registration per group and loop, not one per task). Each task's
    outcome goes to its slot from one done-callback, a bound method made once per group."""

    def __init__(self, group: ErrGroup, loop: asyncio.AbstractEventLoop) -> None:
        self.tasks: dict[asyncio.Future[Any], TaskSlot | None] = {}
        self.loop = loop
        self.stopped = False  # the token's cancellation reached this loop
        self.registration = group.token.on_cancel(self._on_token_cancelled)
        self.task_done = self._task_done

    def _on_token_cancelled(self, cause: BaseException) -> None:
        # On a gogroup pool thread: hand over to the loop.
        with contextlib.suppress(RuntimeError):  # a closed loop: no task left to cancel
            self.loop.call_soon_threadsafe(self._cancel_all, cause)

    def _cancel_all(self, cause: BaseException) -> None:
        self.stopped = True
        for task in list(self.tasks):
            task.cancel(f"gogroup token cancelled: {cause!r}")

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        slot = self.tasks.pop(task, None)
        if slot is None:
            return  # a queued task: it finishes its own slot
        if task.cancelled():
            # Stopped by the group's token: it did what it was asked, not a failure.
            slot.finish(None if self.stopped else asyncio.CancelledError())
        else:
            slot.finish(task.exception())


_groups: weakref.WeakKeyDictionary[ErrGroup, _GroupTasks] = weakref.WeakKeyDictionary()


def _go_coroutine(
    group: ErrGroup,
    fn: Callable[..., Coroutine[Any, Any, object]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    try_only: bool,
) -> bool:
    """``ErrGroup.go``/``try_go`` for an ``async def`` function: an asyncio task in a
    ``TaskSlot``. Core decides everything (the limit, the first error, the token); this only
    runs the coroutine on the loop and reports its outcome with ``slot.finish``.

    With the limit full, ``try_go`` returns False; ``go`` returns at once with the task
    queued (core's ``start_queued``: ``wait`` counts it already), and the task starts when a
    slot frees. A queued task that the group's cancellation stops before it started never
    runs, and by rule nothing is recorded for it.
    """
    loop = asyncio.get_running_loop()
    slot = group.try_start()
    if slot is None and try_only:
        return False
    running = _groups.get(group)
    if running is None or running.loop is not loop:
        running = _groups[group] = _GroupTasks(group, loop)
    task: asyncio.Future[Any]
    if slot is None:
        task = loop.create_task(_run_when_started(running, group._start_queued(), fn, args, kwargs))
    else:
        try:
            coro = fn(*args, **(kwargs or {}))
        except BaseException as e:  # e.g. a TypeError for wrong arguments: the task's error
            slot.finish(e)
            return True
        task = loop.create_task(coro)
    running.tasks[task] = slot
    task.add_done_callback(running.task_done)
    if group.token.is_cancelled():
        task.cancel()
    return True


async def _run_when_started(
    running: _GroupTasks,
    queued: asyncio.Future[TaskSlot],
    fn: Callable[..., Coroutine[Any, Any, object]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
) -> None:
    try:
        slot = await queued
    except BaseException:
        # The group was cancelled before a slot freed (or this task was): it never ran.
        return
    try:
        await fn(*args, **(kwargs or {}))
    except asyncio.CancelledError as e:
        slot.finish(None if running.stopped else e)
    except BaseException as e:
        slot.finish(e)
    else:
        slot.finish(None)
