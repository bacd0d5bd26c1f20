"""After os.fork() the child process can create and use new gogroup objects, also when the
parent's pool was busy at the fork (core rebuilds its pool and timer in the child)."""

from __future__ import annotations

from conftest import run_python

FORK = r"""
import asyncio, os, sys, threading
import gogroup

# Warm up the pool threads and the timer thread in the parent.
g = gogroup.ErrGroup()
for _ in range(100):
    g.go(sum, [1])
g.wait()
assert gogroup.CancelToken().with_timeout(0.001).wait(timeout=10)
hold = gogroup.CancelToken()
wg_busy = gogroup.WaitGroup()
if sys.argv[1] == "busy":
    # Tasks still running at fork time, waiting where gogroup sees it and where it does not,
    # more queued behind them, and a deadline pending.
    ev = threading.Event()
    for _ in range(4):
        wg_busy.go(hold.wait)
        wg_busy.go(ev.wait, 30)
    pending = gogroup.CancelToken().with_timeout(3600)
    hold.on_cancel(lambda cause: ev.set())

pid = os.fork()
if pid == 0:
    try:
        out = []
        g = gogroup.ErrGroup(token=gogroup.CancelToken(), limit=4)
        for i in range(50):
            g.go(out.append, i)
        g.wait(timeout=10)
        assert sorted(out) == list(range(50)), out
        t = gogroup.CancelToken().with_timeout(0.01)
        assert t.wait(timeout=10), "deadline never fired in the child"
        wg = gogroup.WaitGroup()
        wg.go(lambda: None)
        assert wg.wait(timeout=10)

        async def main():
            wg = gogroup.WaitGroup()
            wg.go(lambda: None)
            await asyncio.wait_for(wg.wait_async(), 10)

        asyncio.run(main())
        # No thread of the parent counts as running Python code here: the exit hook has
        # nothing to wait for.
        assert gogroup._gogroup._shut_down(0.0), "the child waits for the parent's threads"
        print("child ok", flush=True)
        os._exit(0)
    except BaseException as e:
        print("child failed:", repr(e), flush=True)
        os._exit(1)
_, status = os.waitpid(pid, 0)
hold.cancel()
assert wg_busy.wait(timeout=10)
g = gogroup.ErrGroup()
g.go(sum, [1])
g.wait(timeout=10)
print("parent ok", os.waitstatus_to_exitcode(status), flush=True)
"""


def test_a_forked_child_can_create_and_use_new_objects() -> None:
    r = run_python(FORK, "idle")
    assert r.returncode == 0, r.stderr
    assert "child ok" in r.stdout, (r.stdout, r.stderr)
    assert "parent ok 0" in r.stdout
    assert "RuntimeWarning" not in r.stderr


def test_a_child_forked_while_tasks_run_can_use_gogroup_and_is_warned() -> None:
    r = run_python(FORK, "busy")
    assert r.returncode == 0, r.stderr
    assert "child ok" in r.stdout, (r.stdout, r.stderr)
    assert "parent ok 0" in r.stdout
    assert "gogroup: tasks were running or queued when this process forked" in r.stderr


EXIT = r"""
import threading
import gogroup

token = gogroup.CancelToken()
g = gogroup.ErrGroup()
for _ in range(8):
    g.go(token.wait)  # pool threads inside Python code (waiting) when the interpreter exits
for _ in range(100):
    token.child().on_cancel(lambda cause: None)
threading.Timer(0.05, token.cancel).start()
print("exiting", flush=True)
"""


def test_exiting_while_pool_threads_run_python_code_is_clean() -> None:
    for _ in range(5):
        r = run_python(EXIT)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert "exiting" in r.stdout
