"""The Python driver of gogroup's conformance suite: runs scenarios on the installed package.

Runs each scenario file given on the command line (format: conformance/README.md) against the
installed ``gogroup`` package and prints one JSON line per scenario:

    {"scenario": "wg_add_done_wait_releases_waiter", "status": "pass", "detail": "", "ms": 1}

The ``go`` overrides of a scenario state Go's behaviour and are ignored here.

Python idioms (conformance/README.md, "Drivers"):

* A task error is a raised exception: ``returns: doom`` raises the scenario's exception object
  ``doom`` (matched by identity, ``is``); ``panics`` raises a ``TaskPanic`` in a ``WaitGroup.go``
  task, which the binding treats as the task's panic and re-raises from ``wait`` (the same
  object), so the driver reads that object as kind ``PANIC``.
* ``ErrGroup.wait`` has no ``token=`` argument: a wait with a token races ``g.wait_async()``
  against ``token.wait_async()`` on an asyncio loop (the binding's documented way; cancelling
  the loser leaves nothing registered).
* With ``collect="all"``, ``wait`` raises an ``ExceptionGroup`` of every error in finishing
  order: its first exception is the scenario's "first error", and the group must hold exactly
  ``errors()``.
* A step the binding cannot express ends the scenario as ``unsupported``, naming the feature
  (declared in run.py's DRIVERS): ``eg.task_panics`` (Python's ErrGroup has no panic distinct
  from an exception).

Usage: python driver.py [--bound-ms N] FILE.json...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NoReturn

import gogroup

Step = dict[str, Any]

if sys.version_info >= (3, 11):
    _ExceptionGroup: tuple[type[BaseException], ...] = (BaseExceptionGroup,)  # noqa: F821
else:  # pragma: no cover
    _ExceptionGroup = ()


class StepFailure(Exception):
    """A scenario step did not do what the scenario says."""


class Unsupported(Exception):
    """A step uses a feature this binding cannot express (see the module docstring)."""

    def __init__(self, feature: str, why: str) -> None:
        super().__init__(why)
        self.feature = feature


class NamedError(Exception):
    """A scenario's named error (``errors`` in the scenario file)."""


class TaskPanic(Exception):
    """What a ``panics`` task raises: the Python equivalent of a panic in a WaitGroup task."""


class Call:
    """A step running on its own thread (``async``), or a spawned task."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: str | None = None

    def finish(self, error: str | None) -> None:
        self.error = error
        self.done.set()


def is_kind(name: str) -> bool:
    return bool(name) and all(c.isupper() or c == "_" for c in name)


def strip_go(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: strip_go(x) for k, x in v.items() if k != "go"}
    if isinstance(v, list):
        return [strip_go(x) for x in v]
    return v


def substitute(v: Any, var: str, value: str) -> Any:
    if isinstance(v, str):
        return v.replace("{" + var + "}", value)
    if isinstance(v, list):
        return [substitute(x, var, value) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, var, value) for k, x in v.items()}
    return v


def fail(msg: str) -> NoReturn:
    raise StepFailure(msg)


class Run:
    """The state of one scenario, shared by the main thread, tasks and callbacks."""

    def __init__(self, messages: dict[str, Any], bound: float) -> None:
        self.messages = messages
        self.bound = bound
        self.lock = threading.Lock()
        self.aborted = False
        self.wgs: dict[str, gogroup.WaitGroup] = {}
        self.tokens: dict[str, gogroup.CancelToken] = {}
        self.groups: dict[str, gogroup.ErrGroup] = {}
        self.collect_all: set[str] = set()
        self.regs: dict[str, gogroup.Registration] = {}
        self.calls: dict[str, Call] = {}
        self.spawned: list[Call] = []
        self.events: dict[str, threading.Event] = {}
        self.errors: dict[str, BaseException] = {}
        self.panics: list[BaseException] = []  # the objects `panics` tasks raised
        self.log: list[str] = []
        self.counters: dict[str, int] = {}
        self.gauges: dict[str, list[int]] = {}  # [current, max]
        self.failures: list[str] = []

    # ---- scenario -------------------------------------------------------------------------

    def scenario(self, steps: list[Step]) -> None:
        try:
            self.steps(steps)
        finally:
            self.finish()
        with self.lock:
            if self.failures:
                fail("in a task or callback: " + "; ".join(self.failures))

    def finish(self) -> None:
        """Releases whatever a failed scenario left blocked."""
        with self.lock:
            self.aborted = True
            events = list(self.events.values())
            tokens = list(self.tokens.values())
        for ev in events:
            ev.set()
        for t in tokens:
            t.cancel()

    def record_failure(self, msg: str) -> None:
        with self.lock:
            self.failures.append(msg)

    def named_error(self, name: str) -> BaseException:
        with self.lock:
            if name not in self.errors:
                self.errors[name] = NamedError(str(self.messages.get(name, name)))
            return self.errors[name]

    def event(self, name: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def await_event(self, name: str) -> None:
        ev = self.event(name)
        ev.wait(self.bound)
        with self.lock:
            aborted = self.aborted
        if aborted:
            fail(f"scenario ended while waiting for event {name!r}")
        if not ev.is_set():
            fail(f"event {name!r} not set within {self.bound}s (a hang here means a lost wake-up)")

    def get(self, table: dict[str, Any], kind: str, name: Any) -> Any:
        with self.lock:
            if str(name) not in table:
                fail(f"no {kind} {name!r}")
            return table[str(name)]

    def token(self, name: Any) -> gogroup.CancelToken:
        t: gogroup.CancelToken = self.get(self.tokens, "token", name)
        return t

    # ---- tasks and callbacks --------------------------------------------------------------

    def actions(self, actions: list[dict[str, Any]]) -> None:
        for a in actions:
            for k, v in a.items():
                self.action(k, v)

    def action(self, k: str, v: Any) -> None:
        if k == "signal":
            self.event(str(v)).set()
        elif k == "await":
            self.await_event(str(v))
        elif k == "await_cancel":
            t = self.token(v)
            end = time.monotonic() + self.bound
            while not t.wait(0.05):  # slices, so that the end of the scenario interrupts it
                with self.lock:
                    if self.aborted:
                        fail(f"scenario ended while waiting for token {v}")
                if time.monotonic() >= end:
                    fail(
                        f"token {v} not cancelled within {self.bound}s "
                        "(a hang here means a lost wake-up)"
                    )
        elif k == "record":
            with self.lock:
                self.log.append(str(v))
        elif k == "count":
            with self.lock:
                self.counters[str(v)] = self.counters.get(str(v), 0) + 1
        elif k in ("enter", "leave"):
            with self.lock:
                g = self.gauges.setdefault(str(v), [0, 0])
                if k == "enter":
                    g[0] += 1
                    g[1] = max(g[1], g[0])
                else:
                    g[0] -= 1
        elif k == "step":
            self.step(v)
        else:
            fail(f"unknown action {k!r}")

    def task(self, spec: dict[str, Any]) -> Callable[[], None]:
        """The callable that runs a task spec; it raises what the task returns or panics."""

        def run() -> None:
            try:
                self.actions(spec.get("do", []))
            except (StepFailure, Unsupported) as e:
                self.record_failure(str(e))
            if "panics" in spec:
                exc = TaskPanic(str(spec["panics"]))
                with self.lock:
                    self.panics.append(exc)
                raise exc
            ret = spec.get("returns")
            if ret is None:
                return
            if isinstance(ret, str):
                raise self.named_error(ret)
            if isinstance(ret, dict) and "cause_of" in ret:
                try:
                    cause = self.token(ret["cause_of"]).cause
                except StepFailure as e:
                    self.record_failure(str(e))
                    return
                if cause is not None:
                    raise cause
                return
            self.record_failure(f"bad returns {ret!r}")

        return run

    # ---- matching -------------------------------------------------------------------------

    def kind_of(self, e: BaseException) -> str:
        if isinstance(e, gogroup.GogroupError):
            return e.kind
        with self.lock:
            if any(e is p for p in self.panics):
                return "PANIC"
        return "CUSTOM"

    def describe(self, got: BaseException | None) -> str:
        if got is None:
            return "no error"
        return f"{self.kind_of(got)} ({type(got).__name__}: {str(got)!r})"

    def match_err(self, want: Any, got: BaseException | None) -> None:
        if want is None:
            if got is not None:
                fail(f"want no error, got {self.describe(got)}")
        elif isinstance(want, str) and is_kind(want):
            if got is None or self.kind_of(got) != want:
                fail(f"want {want}, got {self.describe(got)}")
        elif isinstance(want, str):
            if got is None or got is not self.named_error(want):
                fail(f"want the error {want!r} itself, got {self.describe(got)}")
        elif isinstance(want, dict):
            if got is None:
                fail(f"want an error {want}, got none")
            if "kind" in want:
                self.match_err(want["kind"], got)
            if "is" in want:
                self.match_err(want["is"], got)
            if "message" in want and str(got) != str(want["message"]):
                fail(f"want message {want['message']!r}, got {str(got)!r}")
            if "contains" in want and str(want["contains"]) not in str(got):
                fail(f"want a message containing {want['contains']!r}, got {str(got)!r}")
        else:
            fail(f"bad error matcher {want!r}")

    def outcome(self, st: Step, fn: Callable[[], object]) -> object:
        """Runs fn and checks what it raised against the step's ``expect``."""
        got: BaseException | None = None
        value: object = None
        try:
            value = fn()
        except (StepFailure, Unsupported):
            raise
        except Exception as e:
            got = e
        self.match_err(st.get("expect"), got)
        return value

    @staticmethod
    def expect_bool(st: Step, got: bool, what: str) -> None:
        want = st.get("expect", True)
        if got != want:
            fail(f"want {what} to return {want}, got {got}")

    # ---- steps ----------------------------------------------------------------------------

    def steps(self, steps: list[Step]) -> None:
        for i, st in enumerate(steps, 1):
            try:
                self.step(st)
            except (StepFailure, Unsupported) as e:
                msg = f"step {i} ({st.get('op')}): {e}"
                if isinstance(e, Unsupported):
                    raise Unsupported(e.feature, msg) from None
                raise StepFailure(msg) from None

    def step(self, st: Step) -> None:
        name = st.get("async")
        if name is None:
            self.exec(st)
            return
        call = Call()
        with self.lock:
            self.calls[str(name)] = call

        def run() -> None:
            try:
                self.exec(st)
                call.finish(None)
            except (StepFailure, Unsupported) as e:
                call.finish(str(e))
            except Exception as e:  # a bug in the driver or an unexpected exception
                call.finish(f"unexpected {type(e).__name__}: {e}")

        threading.Thread(target=run, daemon=True).start()

    def bounded(self, st: Step) -> tuple[float, bool]:
        if "timeout_ms" in st:
            return st["timeout_ms"] / 1000, True
        return self.bound, False

    def hang(self) -> NoReturn:
        fail(f"wait did not return within {self.bound}s (a hang here means a lost wake-up)")

    def exec(self, st: Step) -> None:  # one branch per op, as in the README's table
        op = st["op"]
        # ---- WaitGroup
        if op == "wg.new":
            with self.lock:
                self.wgs[str(st["id"])] = gogroup.WaitGroup()
        elif op == "wg.add":
            wg = self.get(self.wgs, "wait group", st["wg"])
            self.outcome(st, lambda: wg.add(st["delta"]))
        elif op == "wg.done":
            wg = self.get(self.wgs, "wait group", st["wg"])
            self.outcome(st, wg.done)
        elif op == "wg.count":
            got = self.get(self.wgs, "wait group", st["wg"]).count
            if got != st["expect"]:
                fail(f"want counter {st['expect']}, got {got}")
        elif op == "wg.go":
            wg = self.get(self.wgs, "wait group", st["wg"])
            wg.go(self.task(st["task"]))
        elif op == "wg.wait":
            wg = self.get(self.wgs, "wait group", st["wg"])
            token = self.token(st["token"]) if "token" in st else None
            timeout, explicit = self.bounded(st)

            def wg_wait() -> None:
                if not wg.wait(timeout=timeout, token=token):
                    if not explicit:
                        self.hang()
                    raise gogroup.WaitTimeoutError("wait timed out")

            self.outcome(st, wg_wait)

        # ---- CancelToken
        elif op == "token.new":
            self.add_token(st, gogroup.CancelToken())
        elif op == "token.child":
            self.add_token(st, self.token(st["parent"]).child())
        elif op in ("token.with_timeout", "token.with_deadline"):
            p = self.token(st["parent"])
            cause = self.named_error(str(st["cause"])) if "cause" in st else None
            if op == "token.with_timeout":
                t = p.with_timeout(st["timeout_ms"] / 1000, cause=cause)
            else:
                offsets = {"past": -1.0, "now": 0.0, "far": 3600.0}
                if st["deadline"] not in offsets:
                    fail(f"deadline must be past, now or far, not {st['deadline']}")
                t = p.with_deadline(time.monotonic() + offsets[st["deadline"]], cause=cause)
            self.add_token(st, t)
        elif op == "token.any":
            self.add_token(st, gogroup.CancelToken.any(*(self.token(n) for n in st["of"])))
        elif op == "token.cancel":
            t = self.token(st["token"])
            first = t.cancel(self.named_error(str(st["cause"]))) if "cause" in st else t.cancel()
            if "expect" in st:
                self.expect_bool(st, first, "cancel")
        elif op == "token.check":
            self.check_token(st)
        elif op == "token.wait":
            t = self.token(st["token"])
            if "timeout_ms" in st:
                self.expect_bool(st, t.wait(st["timeout_ms"] / 1000), "wait")
            elif not t.wait(self.bound):
                fail(f"token not cancelled within {self.bound}s (a hang here means a lost wake-up)")
        elif op == "token.on_cancel":
            t = self.token(st["token"])

            def callback(cause: BaseException) -> None:
                try:
                    if "expect_cause" in st:
                        try:
                            self.match_err(st["expect_cause"], cause)
                        except StepFailure as e:
                            self.record_failure(f"on_cancel cause: {e}")
                    self.actions(st.get("do", []))
                except (StepFailure, Unsupported) as e:
                    self.record_failure(f"on_cancel: {e}")

            reg = t.on_cancel(callback)
            with self.lock:
                self.regs[str(st["id"])] = reg
        elif op == "reg.stop":
            reg = self.get(self.regs, "registration", st["reg"])
            self.expect_bool(st, reg.stop(), "stop")

        # ---- ErrGroup
        elif op == "eg.new":
            parent = self.token(st["token"]) if "token" in st else None
            collect = st.get("collect", "first")
            if collect not in ("first", "all"):
                fail(f"collect must be first or all, not {collect}")
            limit = st.get("limit")
            g = gogroup.ErrGroup(
                token=parent, limit=None if limit is None or limit < 0 else limit, collect=collect
            )
            with self.lock:
                if "token_id" in st:
                    self.tokens[str(st["token_id"])] = g.token
                self.groups[str(st["id"])] = g
                if collect == "all":
                    self.collect_all.add(str(st["id"]))
        elif op in ("eg.go", "eg.try_go"):
            g = self.group(st["group"])
            if "panics" in st["task"]:
                raise Unsupported(
                    "eg.task_panics",
                    "Python's ErrGroup has no task panic: every exception a task raises is its "
                    "error (a plain group's token is not cancelled by it)",
                )
            if op == "eg.go":
                self.outcome(st, lambda: g.go(self.task(st["task"])))
            else:
                self.expect_bool(st, g.try_go(self.task(st["task"])), "try_go")
        elif op == "eg.set_limit":
            g = self.group(st["group"])
            n = st["n"]
            self.outcome(st, lambda: g.set_limit(None if n < 0 else n))
        elif op == "eg.wait":
            self.eg_wait(st)
        elif op == "eg.check":
            g = self.group(st["group"])
            if "limit" in st and g.limit != st["limit"]:
                fail(f"want limit {st['limit']}, got {g.limit}")
            if "active" in st and g.active != st["active"]:
                fail(f"want {st['active']} active, got {g.active}")
        elif op == "eg.errors":
            got = self.group(st["group"]).errors()
            want = st["expect"]
            if len(got) != len(want):
                fail(f"want {len(want)} errors, got {[self.describe(e) for e in got]}")
            for w, e in zip(want, got):
                self.match_err(w, e)
        elif op == "eg.shutdown":
            g = self.group(st["group"])
            cause = self.named_error(str(st["cause"])) if "cause" in st else None
            left = g.shutdown(st["grace_ms"] / 1000, cause=cause)
            if left != st["expect"]:
                fail(f"want {st['expect']} tasks still running, got {left}")

        # ---- events, calls, observations
        elif op == "signal":
            self.event(str(st["event"])).set()
        elif op == "await":
            self.await_event(str(st["event"]))
        elif op == "record":
            with self.lock:
                self.log.append(str(st["label"]))
        elif op == "event.check":
            with self.lock:
                ev = self.events.get(str(st["event"]))
            is_set = ev is not None and ev.is_set()
            if is_set != st.get("set", True):
                fail(f"want event {st['event']} set={st.get('set', True)}, got {is_set}")
        elif op == "spawn":
            call = Call()
            with self.lock:
                self.spawned.append(call)
                if "id" in st:
                    self.calls[str(st["id"])] = call
            fn = self.task(st["task"])

            def spawned() -> None:
                # A spawned task's error or panic is not counted by anything.
                with contextlib.suppress(Exception):
                    fn()
                call.finish(None)

            threading.Thread(target=spawned, daemon=True).start()
        elif op == "join":
            call = self.get(self.calls, "call", st["call"])
            if not call.done.wait(self.bound):
                fail(
                    f"call {st['call']} did not return within {self.bound}s "
                    "(a hang here means a lost wake-up)"
                )
            if call.error is not None:
                fail(call.error)
        elif op == "join_spawned":
            with self.lock:
                spawned_calls, self.spawned = self.spawned, []
            for c in spawned_calls:
                if not c.done.wait(self.bound):
                    fail(f"a spawned task did not return within {self.bound}s")
        elif op == "blocked":
            call = self.get(self.calls, "call", st["call"])
            if call.done.wait(st.get("grace_ms", 0) / 1000):
                fail(f"call {st['call']} returned ({call.error or 'ok'}) but must still be blocked")
        elif op == "log.check":
            self.check_log(st)
        elif op == "counter.check":
            name = str(st["counter"])
            with self.lock:
                got = self.counters.get(name, 0)
                if st.get("reset"):
                    self.counters[name] = 0
            if got != st["expect"]:
                fail(f"want counter {name!r} = {st['expect']}, got {got}")
        elif op == "gauge.check":
            name = str(st["gauge"])
            with self.lock:
                current, peak = self.gauges.get(name, [0, 0])
            if "current" in st and current != st["current"]:
                fail(f"want gauge {name!r} at {st['current']}, got {current}")
            if "max" in st and peak != st["max"]:
                fail(f"want gauge {name!r} max {st['max']}, got {peak}")
            if "max_at_most" in st and peak > st["max_at_most"]:
                fail(f"want gauge {name!r} max <= {st['max_at_most']}, got {peak}")
        elif op == "repeat":
            var = st.get("var")
            for i in range(st["times"]):
                steps = st["steps"] if var is None else substitute(st["steps"], var, str(i))
                try:
                    self.steps(steps)
                except StepFailure as e:
                    fail(f"iteration {i}: {e}")
        else:
            fail(f"unknown op {op!r}")

    def group(self, name: Any) -> gogroup.ErrGroup:
        g: gogroup.ErrGroup = self.get(self.groups, "group", name)
        return g

    def add_token(self, st: Step, t: gogroup.CancelToken) -> None:
        with self.lock:
            self.tokens[str(st["id"])] = t

    def eg_wait(self, st: Step) -> None:
        g = self.group(st["group"])
        collect_all = str(st["group"]) in self.collect_all
        timeout, explicit = self.bounded(st)
        token = self.token(st["token"]) if "token" in st else None

        def wait() -> None:
            try:
                if token is None:
                    g.wait(timeout=timeout)
                else:
                    asyncio.run(self.wait_or_cancelled(g, token, timeout))
            except gogroup.WaitTimeoutError:
                if not explicit:
                    self.hang()
                raise
            except _ExceptionGroup as e:
                if not collect_all:
                    raise
                # collect="all": every error, in finishing order; the first is wait's error.
                errors = list(getattr(e, "exceptions", ()))
                recorded = g.errors()
                if len(errors) != len(recorded) or any(
                    a is not b for a, b in zip(errors, recorded)
                ):
                    fail(f"the ExceptionGroup {errors!r} is not errors() {recorded!r}")
                raise errors[0] from None

        self.outcome(st, wait)

    @staticmethod
    async def wait_or_cancelled(
        g: gogroup.ErrGroup, token: gogroup.CancelToken, timeout: float
    ) -> None:
        """ErrGroup.wait with a token: whichever of the group and the token finishes first."""
        waited = asyncio.ensure_future(g.wait_async())
        cancelled = asyncio.ensure_future(token.wait_async())
        try:
            done, _ = await asyncio.wait(
                {waited, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for f in (waited, cancelled):
                if not f.done():
                    f.cancel()
            await asyncio.gather(waited, cancelled, return_exceptions=True)
        if waited in done:
            waited.result()
        elif cancelled in done:
            cause = token.cause
            if cause is not None:
                raise cause
        else:
            raise gogroup.WaitTimeoutError("wait timed out")

    def check_token(self, st: Step) -> None:
        t = self.token(st["token"])
        if "cancelled" in st and t.is_cancelled() != st["cancelled"]:
            fail(f"want cancelled={st['cancelled']}, got {t.is_cancelled()}")
        for field in ("err", "cause"):
            if field in st:
                try:
                    self.match_err(st[field], getattr(t, field))
                except StepFailure as e:
                    fail(f"{field}: {e}")
        if "deadline" in st and st["deadline"] is None and t.deadline is not None:
            fail(f"want no deadline, got {t.deadline}")
        if "deadline_of" in st:
            o = self.token(st["deadline_of"])
            if t.deadline is None or t.deadline != o.deadline:
                fail(f"want the deadline of {st['deadline_of']} ({o.deadline}), got {t.deadline}")
        if "dependents" in st and t.dependents() != st["dependents"]:
            fail(f"want {st['dependents']} dependents, got {t.dependents()}")

    def check_log(self, st: Step) -> None:
        with self.lock:
            log = list(self.log)
        if "expect" in st and [str(x) for x in st["expect"]] != log:
            fail(f"want log {st['expect']}, got {log}")
        for a, b in st.get("order", []):
            if a not in log or b not in log or log.index(a) > log.index(b):
                fail(f"want {a!r} before {b!r} in the log, got {log}")
        for a in st.get("absent", []):
            if a in log:
                fail(f"want no {a} in the log, got {log}")


def run_file(path: str, bound: float) -> dict[str, Any]:
    start = time.monotonic()
    name = Path(path).stem
    status, detail, features = "pass", "", []
    try:
        sc = strip_go(json.loads(Path(path).read_text()))
        name = str(sc.get("name", name))
        Run(sc.get("errors") or {}, bound).scenario(sc["steps"])
    except Unsupported as e:
        status, detail, features = "unsupported", f"{e.feature}: {e}", [e.feature]
    except StepFailure as e:
        status, detail = "fail", str(e)
    except Exception as e:  # a malformed scenario or a bug: this scenario fails, the rest run
        status, detail = "fail", f"unexpected {type(e).__name__}: {e}"
    line: dict[str, Any] = {"scenario": name, "status": status, "detail": detail}
    if features:
        line["features"] = features
    line["ms"] = int((time.monotonic() - start) * 1000)
    return line


def main(argv: list[str]) -> int:
    bound = 10.0
    files: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--bound-ms":
            try:
                bound = int(next(args)) / 1000
            except (StopIteration, ValueError):
                print("--bound-ms needs a number of milliseconds", file=sys.stderr)
                return 2
        else:
            files.append(arg)
    for path in files:
        print(json.dumps(run_file(path, bound)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
