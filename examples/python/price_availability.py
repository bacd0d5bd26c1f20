"""The example gogroup was born from, with threads: show a product page by fetching its price
and its availability in parallel, and give up on both as soon as either fails.

In Go this is ``errgroup.WithContext`` plus two ``g.Go`` calls whose HTTP requests carry the
group's context. Here each "fetch" is simulated by waiting on the group's token for the
service's latency: ``token.wait(timeout=latency)`` returns early (True) if the group is
cancelled, exactly as a request using the context would be aborted.

Run 1: both services answer, ``wait`` returns.
Run 2: the availability service fails fast; the group's token is cancelled with that exception
as its cause, the slow price fetch notices at once and raises the cause, and ``wait`` raises
the first exception — the very object the failing fetch raised.

Exits with 0 when everything behaved as described (a failed assertion otherwise).
``make demo-py`` runs it; alone: ``.venv/bin/python examples/python/price_availability.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import gogroup

PRICE_LATENCY = 3.0  # seconds the price service takes in run 2; the fetch must stop long before


class ServiceUnavailable(Exception):
    """What a failing service answers."""


@dataclass
class Report:
    service: str
    ran_for: float
    outcome: int | BaseException


class Reports:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Report] = []

    def add(self, report: Report) -> None:
        with self._lock:
            self.items.append(report)

    def find(self, service: str) -> Report:
        return next(r for r in self.items if r.service == service)

    def print(self) -> None:
        for r in self.items:
            verb = "ok" if isinstance(r.outcome, int) else "failed"
            print(f"  {r.service:<12} {verb} after {r.ran_for * 1000:7.1f} ms: {r.outcome!r}")


def fetch(token: gogroup.CancelToken, latency: float, answer: int | BaseException) -> int:
    """A request that answers after `latency` seconds unless the group is cancelled first."""
    if token.wait(timeout=latency):
        # Cancelled while "in flight": report why, as Go's context.Cause(ctx) would.
        cause = token.cause
        assert cause is not None
        raise cause
    if isinstance(answer, BaseException):
        raise answer
    return answer


def spawn_fetch(
    group: gogroup.ErrGroup,
    reports: Reports,
    service: str,
    latency: float,
    answer: int | BaseException,
) -> None:
    def task() -> None:
        started = time.monotonic()
        try:
            value = fetch(group.token, latency, answer)
        except BaseException as e:
            reports.add(Report(service, time.monotonic() - started, e))
            raise
        reports.add(Report(service, time.monotonic() - started, value))

    group.go(task)


def both_succeed() -> None:
    print("run 1: both services answer")
    request = gogroup.CancelToken()
    group = gogroup.ErrGroup(token=request)
    reports = Reports()

    started = time.monotonic()
    spawn_fetch(group, reports, "price", 0.04, 1999)
    spawn_fetch(group, reports, "availability", 0.03, 7)
    group.wait()
    took = time.monotonic() - started

    reports.print()
    print(f"  wait returned after {took * 1000:.1f} ms (the fetches ran side by side)")
    assert reports.find("price").outcome == 1999
    assert reports.find("availability").outcome == 7
    assert not request.is_cancelled(), "the group cancels its own child token, never the caller's"


def availability_fails_fast() -> None:
    print("run 2: the availability service fails fast")
    outage = ServiceUnavailable("availability service: 503 Service Unavailable")
    request = gogroup.CancelToken()
    group = gogroup.ErrGroup(token=request)
    reports = Reports()

    started = time.monotonic()
    spawn_fetch(group, reports, "price", PRICE_LATENCY, 1999)
    spawn_fetch(group, reports, "availability", 0.02, outage)
    try:
        group.wait()
    except ServiceUnavailable as e:
        err: BaseException | None = e
    else:
        err = None
    took = time.monotonic() - started

    reports.print()
    price = reports.find("price")
    print(
        f"  the price fetch was cancelled after {price.ran_for * 1000:.1f} ms "
        f"instead of running its {PRICE_LATENCY:.0f} s"
    )
    print(f"  wait raised the first error after {took * 1000:.1f} ms: {err!r}")
    assert err is outage, "wait must raise the availability exception itself"
    assert price.outcome is outage, "the price fetch must see the first error as the cause"
    assert price.ran_for < PRICE_LATENCY / 2, "the price fetch must stop when cancelled"
    assert group.token.cause is outage
    assert not request.is_cancelled(), "the group cancels its own child token, never the caller's"


def main() -> None:
    both_succeed()
    print()
    availability_fails_fast()
    print()
    print("price_availability (threads): behaved as expected")


if __name__ == "__main__":
    main()
