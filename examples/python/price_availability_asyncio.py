"""The example gogroup was born from, in asyncio: fetch a product's price and availability
concurrently, and give up on both as soon as either fails.

The fetches are ``async def`` functions; ``ErrGroup.go`` runs them as asyncio tasks on this
loop (a blocking function would run on a pool thread instead, in the same group). With
``token=``, the first failure cancels the group's token with that exception as its cause, and
the token cancels the other fetch at its next ``await``. A "spinner" coroutine, linked to the
group's token with ``gogroup.link_task``, shows that the loop stays free while the group is
awaited, and stops with the group.

Run 1: both services answer; ``async with`` returns.
Run 2: the availability service fails fast; ``async with`` raises the very exception the fetch
raised, the slow price fetch was cancelled at once, and so was the spinner.

Exits with 0 when everything behaved as described (a failed assertion otherwise).
``make demo-py`` runs it; alone: ``.venv/bin/python examples/python/price_availability_asyncio.py``.
"""

from __future__ import annotations

import asyncio
import time

import gogroup

PRICE_LATENCY = 3.0


class ServiceUnavailable(Exception):
    """What a failing service answers."""


async def fetch(
    results: dict[str, object], service: str, latency: float, answer: int | BaseException
) -> None:
    """A request that answers after `latency` seconds; cancelled with the group."""
    started = time.monotonic()
    try:
        await asyncio.sleep(latency)
        if isinstance(answer, BaseException):
            raise answer
        results[service] = answer
    except asyncio.CancelledError:
        results[service] = f"cancelled after {(time.monotonic() - started) * 1000:.1f} ms"
        raise


async def spinner(ticks: list[float]) -> None:
    """Shows the page is "loading": proves the loop is free while the group is awaited."""
    while True:
        ticks.append(time.monotonic())
        await asyncio.sleep(0.005)


async def both_succeed() -> None:
    print("run 1: both services answer")
    results: dict[str, object] = {}
    ticks: list[float] = []
    spin = asyncio.create_task(spinner(ticks))

    started = time.monotonic()
    async with gogroup.ErrGroup(token=gogroup.CancelToken()) as group:
        group.go(fetch, results, "price", 0.04, 1999)
        group.go(fetch, results, "availability", 0.03, 7)
    took = time.monotonic() - started
    spin.cancel()

    print(f"  results {results} after {took * 1000:.1f} ms; the spinner ticked {len(ticks)} times")
    assert results == {"price": 1999, "availability": 7}
    assert len(ticks) >= 2, "the event loop was blocked while the group was awaited"


async def availability_fails_fast() -> None:
    print("run 2: the availability service fails fast")
    outage = ServiceUnavailable("availability service: 503 Service Unavailable")
    results: dict[str, object] = {}
    ticks: list[float] = []
    request = gogroup.CancelToken()
    group = gogroup.ErrGroup(token=request)
    spin = asyncio.create_task(spinner(ticks))
    gogroup.link_task(group.token, spin)  # the group's cancellation also stops the spinner

    started = time.monotonic()
    try:
        async with group:
            group.go(fetch, results, "price", PRICE_LATENCY, 1999)
            group.go(fetch, results, "availability", 0.02, outage)
    except ServiceUnavailable as e:
        err: BaseException | None = e
    else:
        err = None
    took = time.monotonic() - started
    try:
        await spin
    except asyncio.CancelledError:
        print(f"  the spinner was cancelled by the group's token after {len(ticks)} ticks")

    print(f"  the price fetch: {results.get('price')} (instead of {PRICE_LATENCY:.0f} s)")
    print(f"  async with raised the first error after {took * 1000:.1f} ms: {err!r}")
    assert err is outage, "async with must raise the availability exception itself"
    assert group.token.cause is outage, "the first error is the token's cause"
    assert str(results.get("price", "")).startswith("cancelled"), "price must be cancelled"
    assert took < PRICE_LATENCY / 2, "the group must not wait for the slow fetch"
    assert spin.cancelled(), "the token must have cancelled the linked spinner"
    assert not request.is_cancelled(), "the group cancels its own child token, never the caller's"


async def main() -> None:
    await both_succeed()
    print()
    await availability_fails_fast()
    print()
    print("price_availability (asyncio): behaved as expected")


if __name__ == "__main__":
    asyncio.run(main())
