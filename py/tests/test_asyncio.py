"""asyncio: awaiting never blocks the loop; a cancelled await leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

import gogroup
from conftest import HANG, os_threads
from gogroup import _gogroup


async def settle() -> None:
    """Lets the loop run the callbacks already scheduled (done-callbacks of cancelled futures)."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_awaiting_a_wait_group_never_blocks_the_loop() -> None:
    async def main() -> int:
        wg = gogroup.WaitGroup()
        wg.add()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while ticks < 100:
                ticks += 1
                await asyncio.sleep(0)
            threading.Thread(target=wg.done).start()

        t = asyncio.create_task(ticker())
        await asyncio.wait_for(wg.wait_async(), HANG)
        await t
        return ticks

    assert asyncio.run(main()) == 100


def test_cancelling_the_awaiting_task_leaves_no_registration_and_no_thread() -> None:
    async def main() -> None:
        wg = gogroup.WaitGroup()
        wg.add()
        token = gogroup.CancelToken()
        g = gogroup.ErrGroup()
        g.go(token.wait)
        await settle()
        threads_before = os_threads()
        waits = [wg.wait_async(), token.wait_async(), g.wait_async()]
        tasks = [asyncio.ensure_future(w) for w in waits]
        await settle()
        assert _gogroup._live_async_waits() == 3
        assert os_threads() == threads_before, "an await started a thread"
        for t in tasks:
            t.cancel()
        for t in tasks:
            with pytest.raises(asyncio.CancelledError):
                await t
        del waits, tasks
        await settle()
        gc.collect()
        assert _gogroup._live_async_waits() == 0
        # Completing the work later touches nothing that was cancelled.
        wg.done()
        token.cancel()
        g.wait(timeout=HANG)

    asyncio.run(main())
    assert _gogroup._live_async_waits() == 0


def test_wait_for_timing_out_then_completing_is_clean() -> None:
    async def main() -> None:
        token = gogroup.CancelToken()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(token.wait_async(), 0.02)
        await settle()
        assert _gogroup._live_async_waits() == 0
        token.cancel()
        await asyncio.wait_for(token.wait_async(), HANG)

    asyncio.run(main())


def test_an_unawaited_future_is_collected_not_leaked() -> None:
    async def main() -> None:
        wg = gogroup.WaitGroup()
        wg.add()
        wg.wait_async()  # dropped at once, never awaited
        await settle()
        gc.collect()
        assert _gogroup._live_async_waits() == 0
        wg.done()

    asyncio.run(main())


def test_a_thousand_awaits_on_one_token_all_wake_on_one_cancel() -> None:
    async def main() -> None:
        token = gogroup.CancelToken()
        waits = [token.wait_async() for _ in range(1000)]
        threading.Thread(target=token.cancel).start()
        await asyncio.wait_for(asyncio.gather(*waits), HANG)

    asyncio.run(main())
    assert _gogroup._live_async_waits() == 0


def test_a_go_task_exception_comes_out_of_wait_async_as_the_same_object() -> None:
    boom = ArithmeticError("overflow")

    def fail() -> None:
        raise boom

    async def main() -> None:
        wg = gogroup.WaitGroup()
        wg.go(fail)
        with pytest.raises(ArithmeticError) as info:
            await asyncio.wait_for(wg.wait_async(), HANG)
        assert info.value is boom

        g = gogroup.ErrGroup(token=gogroup.CancelToken())
        g.go(fail)
        with pytest.raises(ArithmeticError) as info:
            await asyncio.wait_for(g.wait_async(), HANG)
        assert info.value is boom
        assert g.token.cause is boom

    asyncio.run(main())


def test_async_with_waits_and_raises_the_first_task_error() -> None:
    boom = LookupError("sku")

    def fail() -> None:
        raise boom

    async def main() -> None:
        done: list[int] = []
        async with gogroup.ErrGroup() as g:
            for i in range(10):
                g.go(done.append, i)
        assert sorted(done) == list(range(10))
        with pytest.raises(LookupError) as info:
            async with gogroup.ErrGroup(token=gogroup.CancelToken()) as g:
                g.go(fail)
        assert info.value is boom

    asyncio.run(main())


def test_async_with_body_raising_cancels_the_token_and_propagates() -> None:
    body = RuntimeError("body")

    async def main() -> None:
        with pytest.raises(RuntimeError) as info:
            async with gogroup.ErrGroup() as g:
                g.go(g.token.wait)
                raise body
        assert info.value is body
        assert g.token.cause is body
        assert g.active == 0

    asyncio.run(main())


def test_token_cancelled_cancels_the_linked_task() -> None:
    async def main() -> str:
        token = gogroup.CancelToken()

        async def work() -> str:
            gogroup.link_task(token)
            try:
                await asyncio.sleep(HANG)
            except asyncio.CancelledError:
                return "cancelled"
            return "not cancelled"

        t = asyncio.create_task(work())
        await settle()
        threading.Thread(target=token.cancel).start()
        return await asyncio.wait_for(t, HANG)

    assert asyncio.run(main()) == "cancelled"


def test_task_cancelled_cancels_the_linked_token_and_stops_thread_work() -> None:
    async def main() -> None:
        token = gogroup.CancelToken()
        g = gogroup.ErrGroup(token=token)
        g.go(g.token.wait)  # a thread that stops when the token is cancelled

        async def work() -> None:
            await asyncio.sleep(HANG)

        t = asyncio.create_task(work())
        await settle()
        gogroup.link_task(token, t)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await asyncio.wait_for(token.wait_async(), HANG)
        assert isinstance(token.cause, gogroup.Canceled)
        await asyncio.wait_for(g.wait_async(), HANG)

    asyncio.run(main())


def test_fileno_works_with_loop_add_reader() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        token = gogroup.CancelToken()
        readable = asyncio.Event()
        loop.add_reader(token.fileno(), readable.set)
        try:
            threading.Thread(target=token.cancel).start()
            await asyncio.wait_for(readable.wait(), HANG)
        finally:
            loop.remove_reader(token.fileno())
        assert token.is_cancelled()

    asyncio.run(main())


def test_wait_async_outside_a_running_loop_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        gogroup.WaitGroup().wait_async()


def test_async_def_tasks_run_on_the_loop_and_the_first_error_cancels_the_rest() -> None:
    boom = ConnectionError("availability: 503")
    seen: list[str] = []

    async def fetch(name: str, latency: float, fail: BaseException | None = None) -> None:
        try:
            await asyncio.sleep(latency)
        except asyncio.CancelledError:
            seen.append(f"{name} cancelled")
            raise
        if fail is not None:
            raise fail
        seen.append(f"{name} ok")

    async def main() -> None:
        with pytest.raises(ConnectionError) as info:
            async with gogroup.ErrGroup(token=gogroup.CancelToken()) as g:
                g.go(fetch, "price", HANG)
                g.go(fetch, "availability", 0, boom)
        assert info.value is boom
        assert g.token.cause is boom
        assert seen == ["price cancelled"]
        assert g.active == 0

    asyncio.run(main())


def test_async_def_tasks_respect_the_limit_and_try_go() -> None:
    async def main() -> None:
        release = asyncio.Event()
        g = gogroup.ErrGroup(limit=1)

        async def hold() -> None:
            await release.wait()

        g.go(hold)
        assert g.active == 1
        assert g.try_go(hold) is False
        slot_wait = asyncio.ensure_future(g.start_async())
        await settle()
        assert not slot_wait.done()
        release.set()
        slot = await asyncio.wait_for(slot_wait, HANG)
        assert g.active == 1
        slot.finish()
        await asyncio.wait_for(g.wait_async(), HANG)

    asyncio.run(main())


def test_go_async_def_on_a_full_limit_queues_and_wait_counts_the_queued_tasks() -> None:
    async def main() -> None:
        g = gogroup.ErrGroup(limit=2)
        running = 0
        most = 0
        finished: list[int] = []
        gate = asyncio.Event()

        async def task(i: int) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await gate.wait()
            running -= 1
            finished.append(i)

        for i in range(6):
            g.go(task, i)  # returns at once, even with the limit full
        await settle()
        assert g.active == 2
        assert running == 2
        waiting = asyncio.ensure_future(g.wait_async())
        await settle()
        assert not waiting.done(), "wait must count the queued tasks"
        gate.set()
        await asyncio.wait_for(waiting, HANG)
        assert sorted(finished) == list(range(6))
        assert most == 2
        assert g.active == 0

    asyncio.run(main())


def test_queued_async_def_tasks_never_start_once_the_group_is_cancelled() -> None:
    async def main() -> None:
        # With a token (Go's WithContext), the first error cancels the group.
        g = gogroup.ErrGroup(token=gogroup.CancelToken(), limit=1)
        started: list[str] = []
        boom = ValueError("first task failed")

        async def fail() -> None:
            started.append("fail")
            await asyncio.sleep(0)
            raise boom

        async def queued() -> None:
            started.append("queued")  # must never run

        g.go(fail)
        g.go(queued)
        g.go(queued)
        with pytest.raises(ValueError) as info:
            await asyncio.wait_for(g.wait_async(), HANG)
        assert info.value is boom
        assert started == ["fail"]
        assert g.active == 0

    asyncio.run(main())


def test_wait_group_go_refuses_an_async_def_function() -> None:
    async def coro() -> None:
        pass

    with pytest.raises(TypeError, match=r"ErrGroup\.go"):
        gogroup.WaitGroup().go(coro)


def test_a_cancelled_start_async_takes_no_slot() -> None:
    async def main() -> None:
        g = gogroup.ErrGroup(limit=1)
        held = g.start()
        waiting = asyncio.ensure_future(g.start_async())
        await settle()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        held.finish()
        await settle()
        assert g.active == 0
        assert g.errors() == []

    asyncio.run(main())
