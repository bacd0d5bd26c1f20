"""After os.fork() the child process can create and use new gogroup objects."""

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
    wg_busy.go(hold.wait)  # a task still running at fork time

pid = os.fork()
if pid == 0 and sys.argv[1] == "busy":
    os._exit(0)
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


def test_forking_while_a_task_runs_warns_in_the_child() -> None:
    r = run_python(FORK, "busy")
    assert r.returncode == 0, r.stderr
    assert "parent ok 0" in r.stdout
    assert "gogroup: tasks or deadlines were running when this process forked" in r.stderr


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
