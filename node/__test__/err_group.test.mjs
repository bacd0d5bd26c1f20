import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { CancelToken, ErrGroup } from '../index.js'
import testing from '../testing.js'
import { alive, isPending } from './helpers.mjs'

function gate() {
  let open
  const p = new Promise((r) => (open = r))
  return { p, open }
}

test('wait resolves when every task finished', async () => {
  const g = new ErrGroup()
  let n = 0
  for (let i = 0; i < 10; i++)
    g.go(async () => {
      await null
      n++
    })
  g.go(() => {
    n++
  })
  await alive(g.wait())
  assert.equal(n, 11)
})

test('wait rejects with the first error, the very value thrown, and cancels the token with it (Go: TestWithContext)', async () => {
  const g = new ErrGroup()
  const boom = new Error('inventory service down')
  let sawReason
  g.go(async (token) => {
    sawReason = await token.whenCancelled()
    throw new Error('second')
  })
  g.go(async () => {
    throw boom
  })
  await assert.rejects(alive(g.wait()), (e) => e === boom)
  assert.equal(sawReason, boom)
  assert.equal(g.token.cancelled, true)
  assert.equal(g.token.reason, boom)
})

test('a synchronous throw and a thrown non-Error are task errors too', async () => {
  const g = new ErrGroup()
  g.go(() => {
    throw 42
  })
  await assert.rejects(g.wait(), (e) => e === 42)
})

test('the token passed to tasks is the group token, with a signal for fetch and friends', async () => {
  const g = new ErrGroup()
  let seen
  g.go((token) => {
    seen = token
  })
  await g.wait()
  assert.equal(seen, g.token)
  assert.ok(seen.signal instanceof AbortSignal)
  assert.equal(seen.signal.aborted, true) // wait() cancels the token, as Go's WithContext
})

test("collect: 'all' rejects with an AggregateError of every failure", async () => {
  const g = new ErrGroup({ collect: 'all' })
  const a = new Error('a')
  const b = new Error('b')
  g.go(async () => {
    throw a
  })
  g.go(async () => {
    await null
    throw b
  })
  const err = await alive(g.wait()).catch((e) => e)
  assert.ok(err instanceof AggregateError)
  assert.deepEqual(new Set(err.errors), new Set([a, b]))
  assert.throws(() => new ErrGroup({ collect: 'some' }), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('a failing task never produces an unhandled rejection, even without wait()', async () => {
  const seen = []
  const onUnhandled = (e) => seen.push(e)
  process.on('unhandledRejection', onUnhandled)
  try {
    const g = new ErrGroup()
    g.go(async () => {
      throw new Error('nobody waits for me')
    })
    g.go(() => Promise.reject(new Error('nor me')))
    // Let the rejections propagate through several turns of the loop.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    assert.deepEqual(seen, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('tryGo honours the limit: 42, then 1, then 0 (Go: TestTryGo)', async () => {
  const g = new ErrGroup()
  for (const n of [42, 1]) {
    g.setLimit(n)
    const { p, open } = gate()
    for (let i = 0; i < n; i++)
      assert.equal(
        g.tryGo(() => p),
        true,
      )
    assert.equal(
      g.tryGo(() => p),
      false,
    )
    assert.throws(() => g.setLimit(n + 1), { code: 'GOGROUP_LIMIT_IN_USE' })
    open()
    await alive(g.wait())
  }
  const h = new ErrGroup()
  h.setLimit(0)
  assert.equal(
    h.tryGo(() => {}),
    false,
  )
})

test('limit 10 over 1025 tasks is never exceeded, and every task runs (Go: TestGoLimit)', async () => {
  const g = new ErrGroup({ limit: 10 })
  let active = 0
  let max = 0
  let ran = 0
  for (let i = 0; i < 1025; i++) {
    g.go(async () => {
      active++
      max = Math.max(max, active)
      await null
      await null
      active--
      ran++
    })
  }
  await alive(g.wait())
  assert.equal(ran, 1025)
  assert.ok(max <= 10, `max active ${max}`)
  assert.equal(max, 10)
})

test('tasks waiting for a slot start in call order', async () => {
  const g = new ErrGroup({ limit: 1 })
  const order = []
  for (let i = 0; i < 20; i++)
    g.go(async () => {
      order.push(i)
      await null
    })
  await alive(g.wait())
  assert.deepEqual(order, [...Array(20).keys()])
})

test('a task waiting for a slot never runs once the group is cancelled', async () => {
  const parent = new CancelToken()
  const g = new ErrGroup({ token: parent, limit: 1 })
  const { p, open } = gate()
  let second = false
  g.go(() => p)
  g.go(() => {
    second = true
  })
  parent.cancel()
  open()
  await alive(g.wait())
  assert.equal(second, false)
})

test('a parent token or signal cancels the group token, with its reason', () => {
  const parent = new CancelToken()
  const ac = new AbortController()
  const g = new ErrGroup({ token: parent, signal: ac.signal })
  assert.equal(g.token.cancelled, false)
  const why = new Error('navigated away')
  ac.abort(why)
  assert.equal(g.token.reason, why)
  const h = new ErrGroup({ token: parent })
  parent.cancel()
  assert.equal(h.token.cancelled, true)
})

test('shutdown cancels, waits at most the grace period, and reports what still runs', async () => {
  const g = new ErrGroup()
  g.go((token) => token.whenCancelled())
  assert.equal(await alive(g.shutdown(60_000)), 0)
  const h = new ErrGroup()
  const { p, open } = gate()
  h.go(() => p) // ignores the token
  assert.equal(await alive(h.shutdown(1)), 1)
  open()
  await alive(h.wait())
})

test('Symbol.asyncDispose cancels and waits', async () => {
  const g = new ErrGroup()
  let stopped = false
  g.go(async (token) => {
    await token.whenCancelled()
    stopped = true
  })
  const p = g[Symbol.asyncDispose]()
  await alive(p)
  assert.equal(stopped, true)
  assert.equal(g.token.cancelled, true)
})

test('wait is pending while a task runs', async () => {
  const g = new ErrGroup()
  const { p, open } = gate()
  g.go(() => p)
  const w = g.wait()
  assert.equal(await isPending(w), true)
  open()
  await alive(w)
})

test('a task may start tasks and read its token before its first await (found by the conformance suite)', async () => {
  const g = new ErrGroup()
  let n = 0
  g.go((token) => {
    n++
    assert.equal(token.signal.aborted, false) // the token object, reached from inside go
    g.go(() => {
      n++
      g.go(async () => {
        n++
      })
    })
    assert.equal(
      g.tryGo(() => {
        n++
      }),
      true,
    )
  })
  await g.wait()
  assert.equal(n, 4)
})

test('an onCancel callback may read the token it runs for', async () => {
  const t = new CancelToken()
  let seen
  t.onCancel(() => {
    seen = t.signal.aborted
    t.share() // any method, inside the callback
  })
  t.cancel()
  await t.whenCancelled()
  assert.equal(seen, true)
})

test('active counts the tasks holding a slot; limit is the limit or null (core active/limit)', async () => {
  const g = new ErrGroup({ limit: 2 })
  assert.equal(g.limit, 2)
  assert.equal(g.active, 0)
  const { p, open } = gate()
  for (let i = 0; i < 3; i++) g.go(() => p)
  assert.equal(g.active, 2) // the third waits for a slot and is not active
  open()
  await alive(g.wait())
  assert.equal(g.active, 0)
  g.setLimit(-1)
  assert.equal(g.limit, null)
  assert.equal(new ErrGroup().limit, null)
  assert.equal(new ErrGroup({ limit: null }).limit, null)
  assert.equal(new ErrGroup({ limit: Infinity }).limit, null)
  g.setLimit(7)
  assert.equal(g.limit, 7)
})

test('errors() returns the recorded failures as the very values thrown, in finishing order', async () => {
  const first = new ErrGroup()
  assert.deepEqual(first.errors(), [])
  const boom = new Error('boom')
  const late = gate()
  first.go(() =>
    late.p.then(() => {
      throw new Error('second')
    }),
  )
  first.go(async () => {
    throw boom
  })
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(first.errors(), [boom]) // observable before wait()
  late.open()
  const why = await alive(first.wait()).catch((e) => e)
  assert.equal(why, boom)
  assert.equal(first.errors().length, 1) // collect: 'first' keeps only the first
  assert.equal(first.errors()[0], boom)

  const all = new ErrGroup({ collect: 'all' })
  const a = gate()
  const b = { code: 7 }
  all.go(() =>
    a.p.then(() => {
      throw 42
    }),
  )
  all.go(async () => {
    throw b
  })
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(all.errors(), [b]) // observable before wait()
  a.open()
  await alive(all.wait()).catch(() => {})
  const got = all.errors()
  assert.equal(got.length, 2)
  assert.equal(got[0], b)
  assert.equal(got[1], 42)
  assert.notEqual(all.errors(), got) // a new array each call
})

test('limit 0: nothing may start until the limit is raised (Go: SetLimit(0))', async () => {
  const g = new ErrGroup({ limit: 0 })
  assert.equal(g.limit, 0)
  assert.equal(
    g.tryGo(() => {}),
    false,
  )
  let ran = false
  g.go(() => {
    ran = true
  }) // waits for a slot
  const w = g.wait()
  assert.equal(await isPending(w), true)
  assert.equal(ran, false)
  g.setLimit(1) // nothing is active: allowed, and frees the waiting task
  await alive(w)
  assert.equal(ran, true)

  const parent = new CancelToken()
  const h = new ErrGroup({ token: parent })
  h.setLimit(0)
  assert.equal(h.limit, 0)
  let never = false
  h.go(() => {
    never = true
  })
  parent.cancel() // a task waiting for a slot never runs once the group is cancelled
  await alive(h.wait())
  assert.equal(never, false)
})

test('a limit must be an integer: NaN or a fraction throws and changes nothing', () => {
  const g = new ErrGroup({ limit: 3 })
  assert.throws(() => g.setLimit(NaN), { code: 'GOGROUP_INVALID_ARGUMENT' })
  assert.throws(() => g.setLimit(1.5), { code: 'GOGROUP_INVALID_ARGUMENT' })
  assert.equal(g.limit, 3)
  assert.throws(() => new ErrGroup({ limit: 0.5 }), { code: 'GOGROUP_INVALID_ARGUMENT' })
  assert.throws(() => new ErrGroup({ limit: NaN }), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('wait({ timeout }) rejects with GOGROUP_TIMEOUT and leaves the group untouched', async () => {
  const g = new ErrGroup()
  const { p, open } = gate()
  const boom = new Error('boom')
  g.go(() =>
    p.then(() => {
      throw boom
    }),
  )
  // The timeout is the behaviour checked here; alive() keeps the loop running meanwhile.
  const e = await alive(g.wait({ timeout: 1 })).catch((x) => x)
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'GOGROUP_TIMEOUT')
  assert.equal(g.token.cancelled, false) // giving up cancels nothing
  assert.equal(g.active, 1)
  open()
  await assert.rejects(alive(g.wait({ timeout: 60_000 })), (x) => x === boom)
  assert.equal(g.token.reason, boom)
  // Finished: resolves at once, whatever the timeout.
  const done = new ErrGroup()
  done.go(() => {})
  await alive(done.wait({ timeout: 0 }))
})

test('wait({ signal }) rejects with signal.reason and leaves the group untouched', async () => {
  const g = new ErrGroup()
  const { p, open } = gate()
  g.go(() => p)
  const ac = new AbortController()
  const w = g.wait({ signal: ac.signal })
  assert.equal(await isPending(w), true)
  const why = new Error('client went away')
  ac.abort(why)
  await assert.rejects(alive(w), (x) => x === why)
  assert.equal(g.token.cancelled, false)
  // An aborted signal rejects at once, with its reason.
  await assert.rejects(alive(g.wait({ signal: AbortSignal.abort(42) })), (x) => x === 42)
  await assert.rejects(alive(g.wait({ signal: AbortSignal.abort() })), { name: 'AbortError' })
  open()
  await alive(g.wait({ signal: new AbortController().signal, timeout: null }))
  assert.equal(g.token.cancelled, true) // a completed wait cancels the token, as always
})

test('shutdown(graceMs, reason) cancels with that very reason', async () => {
  const g = new ErrGroup()
  const why = { stopping: true }
  let seen
  g.go(async (token) => {
    seen = await token.whenCancelled()
  })
  assert.equal(await alive(g.shutdown(60_000, why)), 0)
  assert.equal(seen, why)
  assert.equal(g.token.reason, why)
  // Without a reason: an AbortError; an already cancelled token keeps its first reason.
  const h = new ErrGroup()
  assert.equal(await alive(h.shutdown(0, undefined)), 0)
  assert.equal(h.token.reason.name, 'AbortError')
  assert.equal(await alive(h.shutdown(0, new Error('later'))), 0)
  assert.equal(h.token.reason.name, 'AbortError')
})

test('a bounded wait leaves nothing behind: one listener on the signal however many waits, no pending promise', async () => {
  // The signal gets one listener, for its source token, on first use (issue 12: a listener
  // per wait piled up on a long-lived signal); waits register on that token and unregister.
  // The counts are read with the garbage of earlier tests collected and released (values
  // held for objects of earlier tests go away whenever a collection finds them).
  const quiet = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.()
      await new Promise((r) => setImmediate(r))
    }
  }
  await quiet()
  const before = testing.hostStats()
  const g = new ErrGroup()
  const { p, open } = gate()
  g.go(() => p)
  const ac = new AbortController()
  await assert.rejects(alive(g.wait({ signal: ac.signal, timeout: 1 })), {
    code: 'GOGROUP_TIMEOUT',
  })
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1)
  const waits = []
  for (let i = 0; i < 100; i++) waits.push(g.wait({ signal: ac.signal }))
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1)
  open()
  await alive(Promise.all(waits))
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1)
  await quiet()
  const after = testing.hostStats()
  assert.equal(after.pending, before.pending)
  assert.equal(after.values, before.values + 1) // the group's token object, made by the first wait's go
  assert.equal(g.active, 0) // and the group is still alive, holding it
})

test('active and shutdown() count every pending task of a group without a limit', async () => {
  const g = new ErrGroup()
  const gates = []
  for (let i = 0; i < 3; i++) g.go(() => new Promise((r) => gates.push(r)))
  assert.equal(g.active, 3)
  assert.throws(() => g.setLimit(2), { code: 'GOGROUP_LIMIT_IN_USE' })
  assert.equal(await alive(g.shutdown(0)), 3, 'three tasks still run')
  gates.shift()()
  await isPending(g.wait())
  assert.equal(g.active, 2)
  for (const open of gates.splice(0)) open()
  assert.equal(await alive(g.wait()), undefined) // cancelling is not a task's failure
  assert.equal(g.active, 0)
  g.setLimit(2) // nothing runs any more: allowed
  assert.equal(g.limit, 2)
})

test('a failure cancels the token at once, before the other tasks settle, with that very value', async () => {
  const g = new ErrGroup({ collect: 'all' })
  let release
  let seen
  g.go((token) => new Promise((r) => (release = r)).then(() => (seen = token.reason)))
  const first = new Error('first')
  g.go(() => {
    throw first
  }) // a synchronous throw is the task's error; go does not throw
  g.go(async () => {
    throw 'second'
  }) // finishes later: recorded second
  await isPending(g.wait())
  assert.equal(g.token.cancelled, true)
  assert.equal(g.token.reason, first)
  release()
  await assert.rejects(
    alive(g.wait()),
    (e) => e instanceof AggregateError && e.errors[0] === first && e.errors[1] === 'second',
  )
  assert.equal(seen, first)
})

test('an ErrGroup task returning a thenable is counted once; a throwing then is its error', async () => {
  const g = new ErrGroup({ collect: 'all' })
  const bad = new Error('then threw')
  const worse = new Error('then threw too')
  g.go(() => ({
    then(ok, fail) {
      ok()
      fail(new Error('late'))
      ok()
    },
  }))
  g.go(() => ({
    get then() {
      throw bad
    },
  }))
  g.go(() => ({
    then() {
      throw worse
    },
  }))
  g.go(() => 42) // not a thenable: a success
  assert.equal(
    g.tryGo(() => {}),
    true,
  )
  await assert.rejects(
    alive(g.wait()),
    (e) => e.errors.length === 2 && e.errors[0] === bad && e.errors[1] === worse,
  )
  assert.equal(g.active, 0)
})

test('an ErrGroup task returning an object that borrows Promise.prototype.then fails', async () => {
  const g = new ErrGroup()
  g.go(() => ({ then: Promise.prototype.then }))
  await assert.rejects(alive(g.wait()), TypeError)
  assert.equal(g.active, 0)
})

test('a limit set after tasks ran without one binds the next tasks', async () => {
  const g = new ErrGroup()
  g.go(async () => {})
  await g.wait()
  g.setLimit(1)
  const gates = []
  for (let i = 0; i < 3; i++) g.go(() => new Promise((r) => gates.push(r)))
  assert.equal(g.active, 1, 'one slot, two queued')
  assert.equal(
    g.tryGo(() => {}),
    false,
  )
  while (gates.length > 0 || g.active > 0) {
    const open = gates.shift()
    if (open) open()
    await isPending(g.wait()) // lets the freed slot reach the next task
    assert.ok(g.active <= 1)
  }
  await alive(g.wait())
  g.setLimit(-1)
  const more = []
  for (let i = 0; i < 3; i++) g.go(() => new Promise((r) => more.push(r)))
  assert.equal(g.active, 3, 'no limit again')
  for (const open of more) open()
  await alive(g.wait())
})
