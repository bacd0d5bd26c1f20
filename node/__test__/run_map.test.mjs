// ErrGroup.run and ErrGroup.map (lib/run_map.js): tasks that give back a value, under the
// group's limit and error rules. No sleeps: tasks wait on gates the test opens, and the test
// awaits the events it expects (bounded by `alive`).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CancelToken, ErrGroup } from '../index.js'
import testing from '../testing.js'
import { addon, alive, isPending, run as runNode } from './helpers.mjs'

function gate() {
  let open
  let fail
  const p = new Promise((resolve, reject) => {
    open = resolve
    fail = reject
  })
  return { p, open, fail }
}

/** Counts the tasks inside a section; `until(n)` resolves once exactly n are inside. */
class Meter {
  inside = 0
  max = 0
  #waits = []
  enter() {
    this.inside++
    this.max = Math.max(this.max, this.inside)
    this.#check()
  }
  leave() {
    this.inside--
    this.#check()
  }
  until(n) {
    return alive(
      new Promise((resolve) => {
        this.#waits.push({ n, resolve })
        this.#check()
      }),
      20000,
      `${n} tasks running at once never happened`,
    )
  }
  #check() {
    this.#waits = this.#waits.filter((w) => {
      if (w.n !== this.inside) return true
      w.resolve()
      return false
    })
  }
}

/** A generator over `items` that records how far it was pulled and whether it was closed. */
function tracked(items) {
  const t = { pulled: 0, closed: false, finished: false }
  t.it = (function* () {
    try {
      for (const x of items) {
        t.pulled++
        yield x
      }
      t.finished = true
    } finally {
      if (!t.finished) t.closed = true
    }
  })()
  return t
}

// ---- run ------------------------------------------------------------------------------------

test('run resolves with the value of fn: sync, async, and a foreign thenable (its then called once)', async () => {
  const g = new ErrGroup()
  let token
  const sync = g.run((t) => {
    token = t
    return 'sync'
  })
  assert.ok(sync instanceof Promise)
  assert.equal(token, g.token)
  assert.equal(await sync, 'sync')
  assert.equal(
    await g
      .run(async () => {
        await null
        return { cents: 1999 }
      })
      .then((v) => v.cents),
    1999,
  )
  let thens = 0
  const thenable = {
    then(ok) {
      thens++
      ok(42)
    },
  }
  assert.equal(await g.run(() => thenable), 42)
  assert.equal(thens, 1, 'the thenable is awaited once, for the group and the caller together')
  assert.equal(await g.run(() => undefined), undefined)
  await alive(g.wait())
})

test('run rejects with the very value thrown, sync or async; the group records it and cancels the token', async () => {
  const g = new ErrGroup()
  const boom = new Error('inventory down')
  const p = g.run(async () => {
    await null
    throw boom
  })
  await assert.rejects(alive(p), (e) => e === boom)
  await assert.rejects(alive(g.wait()), (e) => e === boom)
  assert.equal(g.token.reason, boom)

  const h = new ErrGroup()
  // A synchronous throw does not escape run(): it is the task's failure, as with go().
  const q = h.run(() => {
    throw 42
  })
  await assert.rejects(q, (e) => e === 42)
  await assert.rejects(h.wait(), (e) => e === 42)

  const k = new ErrGroup()
  const bad = {
    get then() {
      throw boom
    },
  }
  await assert.rejects(
    k.run(() => bad),
    (e) => e === boom,
    'reading then threw: the task failed with it',
  )
  await assert.rejects(k.wait(), (e) => e === boom)
})

test('run tasks are counted by wait() and active, and have left the group when their promise settles', async () => {
  for (const limit of [undefined, 2]) {
    const g = new ErrGroup({ limit })
    const { p, open } = gate()
    const r = g.run(() => p)
    assert.equal(g.active, 1)
    const w = g.wait()
    assert.equal(await isPending(w), true)
    open('done')
    assert.equal(await alive(r), 'done')
    assert.equal(g.active, 0, `limit ${limit}: the slot is free when the caller resumes`)
    await alive(w)
  }
})

test('run honours the limit: queued tasks start in call order and each gets its own value', async () => {
  const g = new ErrGroup({ limit: 2 })
  const m = new Meter()
  const gates = Array.from({ length: 6 }, gate)
  const order = []
  const ps = gates.map((gt, i) =>
    g.run(async () => {
      order.push(i)
      m.enter()
      const v = await gt.p
      m.leave()
      return v * 10
    }),
  )
  await m.until(2)
  assert.deepEqual(order, [0, 1])
  for (let i = 0; i < gates.length; i++) {
    gates[i].open(i)
    assert.equal(await alive(ps[i]), i * 10)
    if (i + 2 < gates.length) await m.until(2)
  }
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5])
  assert.equal(m.max, 2)
  await alive(g.wait())
})

test('run(), go() and map() tasks waiting for a slot share one queue, in call order', async () => {
  const g = new ErrGroup({ limit: 1 })
  const order = []
  const hold = gate()
  const first = g.run(async () => {
    order.push('run 0')
    await hold.p
    return 0
  })
  const a = g.run(() => {
    order.push('run 1')
    return 1
  })
  g.go(async () => {
    order.push('go 2')
  })
  const b = g.run(async () => {
    order.push('run 3')
    return 3
  })
  const m = g.map(['map 4', 'map 5'], (x) => {
    order.push(x)
    return x
  })
  const c = g.run(() => {
    order.push('run 6')
    return 6
  })
  assert.deepEqual(order, ['run 0'])
  hold.open()
  assert.deepEqual(await alive(Promise.all([first, a, b, m, c])), [0, 1, 3, ['map 4', 'map 5'], 6])
  await alive(g.wait())
  // map keeps one task queued at a time, so its second item queues behind run 6.
  assert.deepEqual(order, ['run 0', 'run 1', 'go 2', 'run 3', 'map 4', 'run 6', 'map 5'])
})

test('run() on a group cancelled while tasks wait: those and any later queued ones reject, none runs', async () => {
  const g = new ErrGroup({ limit: 1 })
  const hold = gate()
  const first = g.run(() => hold.p)
  let ran = 0
  const before = [
    g.run(() => {
      ran++
    }),
    g.run(() => {
      ran++
    }),
  ]
  const why = new Error('cancelled')
  g.token.cancel(why)
  const after = [
    g.run(() => {
      ran++
    }),
    g.map([1], () => {
      ran++
    }),
  ]
  for (const p of [...before, ...after]) await assert.rejects(alive(p), (e) => e === why)
  hold.open('ok')
  assert.equal(await alive(first), 'ok')
  await alive(g.wait())
  assert.equal(ran, 0)
  // Once the slot is free, a run starts at once again (as go does on a cancelled group).
  assert.equal(await alive(g.run(() => 'again')), 'again')
})

test('the first failure rejects its run() and cancels the siblings, which see it as the reason', async () => {
  const g = new ErrGroup()
  const boom = new Error('boom')
  const sibling = g.run(async (token) => {
    const reason = await token.whenCancelled()
    return reason
  })
  const failing = g.run(async () => {
    throw boom
  })
  await assert.rejects(alive(failing), (e) => e === boom)
  assert.equal(await alive(sibling), boom, 'the sibling ran to its end with its own value')
  await assert.rejects(g.wait(), (e) => e === boom)
})

test("collect: 'all': each run() rejects with its own failure, and wait() reports every one", async () => {
  const g = new ErrGroup({ collect: 'all' })
  const a = new Error('a')
  const b = new Error('b')
  const { p, open } = gate()
  const pa = g.run(async () => {
    throw a
  })
  const pb = g.run(async () => {
    await p
    throw b
  }) // fails after the first one
  const ok = g.run(async () => 'fine')
  await assert.rejects(alive(pa), (e) => e === a)
  open()
  await assert.rejects(alive(pb), (e) => e === b)
  assert.equal(await ok, 'fine')
  const err = await alive(g.wait()).catch((e) => e)
  assert.ok(err instanceof AggregateError)
  assert.deepEqual(err.errors, [a, b])
})

test('a run() whose task never runs (token cancelled while it waits for a slot) rejects with the reason', async () => {
  const parent = new AbortController()
  const g = new ErrGroup({ signal: parent.signal, limit: 1 })
  const { p, open } = gate()
  const first = g.run(() => p)
  let ran = 0
  const queued = [
    g.run(() => {
      ran++
    }),
    g.run(async () => {
      ran++
    }),
  ]
  const why = new Error('client went away')
  parent.abort(why)
  for (const q of queued)
    await assert.rejects(
      alive(q, 20000, 'a never-run task left its caller hanging'),
      (e) => e === why,
    )
  open('first')
  assert.equal(await alive(first), 'first', 'the task that had started keeps its own outcome')
  await alive(g.wait())
  assert.equal(ran, 0)
})

test('tasks queued behind a failing one never run; their run() rejects with that failure', async () => {
  const g = new ErrGroup({ limit: 1 })
  const boom = new Error('boom')
  const { p, fail } = gate()
  const first = g.run(() => p)
  let ran = false
  const second = g.run(() => {
    ran = true
  })
  fail(boom)
  await assert.rejects(alive(first), (e) => e === boom)
  await assert.rejects(alive(second), (e) => e === boom) // the token's reason: that failure
  await assert.rejects(alive(g.wait()), (e) => e === boom)
  assert.equal(ran, false)
})

test('limit 0: a run() waits until the limit is raised, or rejects when the group is cancelled', async () => {
  const g = new ErrGroup({ limit: 0 })
  const r = g.run(() => 'late')
  assert.equal(await isPending(r), true)
  g.setLimit(1)
  assert.equal(await alive(r), 'late')

  const h = new ErrGroup({ limit: 0 })
  const s = h.run(() => 'never')
  const why = new Error('stopping')
  assert.equal(await alive(h.shutdown(0, why)), 0)
  await assert.rejects(alive(s), (e) => e === why)
})

test('a task started at once on a cancelled group still runs (as go), and keeps its value', async () => {
  const g = new ErrGroup()
  g.token.cancel()
  assert.equal(await alive(g.run((t) => t.cancelled)), true)
})

test('run checks its argument: a non-function throws ERR_INVALID_ARG_TYPE at the call, starting nothing', () => {
  const g = new ErrGroup()
  for (const bad of [undefined, null, 42, 'fn', {}, Promise.resolve()]) {
    assert.throws(
      () => g.run(bad),
      (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && /"fn"/.test(e.message),
    )
  }
  assert.equal(g.active, 0)
})

test('rejected run() and map() promises nobody handles never raise an unhandled rejection (strict mode)', async () => {
  const src = `
    import { ErrGroup, CancelToken } from ${JSON.stringify(addon)}
    const g = new ErrGroup({ collect: 'all' })
    g.run(() => { throw new Error('sync') })
    g.run(async () => { throw new Error('async') })
    g.run(() => Promise.reject(new Error('rejected')))
    g.run(() => ({ then(_, no) { no(new Error('thenable')) } }))
    g.map([1, 2], async (x) => { throw new Error('map ' + x) })
    g.map((function* () { throw new Error('source') })(), (x) => x)
    const parent = new CancelToken()
    const h = new ErrGroup({ token: parent, limit: 1 })
    h.run(() => new Promise(() => {})) // holds the only slot forever
    h.run(() => 'never runs')
    h.map([1, 2, 3], (x) => x)
    parent.cancel(new Error('cancelled while waiting'))
    await g.wait().catch(() => {})
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    console.log('no unhandled rejection')
  `
  const r = await runNode(['--unhandled-rejections=strict', '--input-type=module', '-e', src])
  assert.equal(r.signal, null, `killed after ${r.ms} ms`)
  assert.equal(r.stderr, '')
  assert.equal(r.code, 0)
  assert.equal(r.stdout.trim(), 'no unhandled rejection')
})

test('groups whose run() and map() tasks queued leave nothing behind once dropped, cancelled or not', async () => {
  // Collects until what the addon's glue holds stops changing (tokens are freed by a
  // FinalizationRegistry, in a task of its own after a collection).
  async function settled() {
    let last = ''
    let same = 0
    for (let i = 0; i < 1000 && same < 5; i++) {
      globalThis.gc()
      await new Promise((r) => setImmediate(r))
      const h = testing.hostStats()
      const now = JSON.stringify(h)
      same = now === last ? same + 1 : 0
      last = now
    }
    return JSON.parse(last)
  }
  const before = await settled()
  for (let i = 0; i < 2000; i++) {
    const g = new ErrGroup({ limit: 1 })
    const hold = gate()
    const first = g.run(() => hold.p)
    const queued = g.run(() => i) // waits: the group watches its token from now on
    const mapped = g.map([1, 2], (x) => x)
    hold.open()
    await Promise.all([first, queued, mapped])
    if (i % 2 === 0) await g.wait() // half of them cancelled (wait() does), half never
  }
  const after = await settled()
  assert.equal(after.values, before.values, 'JS values kept by the addon')
  assert.equal(after.tokens, before.tokens, 'tokens behind handles')
  assert.equal(after.tasks, before.tasks)
  assert.equal(after.pending, before.pending)
})

// ---- map ------------------------------------------------------------------------------------

test('map resolves with the results in input order, whatever order the tasks finish in', async () => {
  const g = new ErrGroup()
  const gates = Array.from({ length: 5 }, gate)
  const seen = []
  const p = g.map(['a', 'b', 'c', 'd', 'e'], async (item, index, token) => {
    seen.push([item, index, token === g.token])
    return `${item}${await gates[index].p}`
  })
  for (let i = gates.length - 1; i >= 0; i--) gates[i].open(i) // the last finishes first
  assert.deepEqual(await alive(p), ['a0', 'b1', 'c2', 'd3', 'e4'])
  assert.deepEqual(seen, [
    ['a', 0, true],
    ['b', 1, true],
    ['c', 2, true],
    ['d', 3, true],
    ['e', 4, true],
  ])
  await alive(g.wait())
})

test('wait() waits for a map still taking items: the group never looks idle between two of its tasks', async () => {
  for (const [groupLimit, callLimit] of [
    [undefined, 1],
    [1, undefined],
    [3, 2],
    [undefined, undefined],
  ]) {
    for (const fn of [
      async (x) => {
        await null
        return x
      },
      (x) => x,
    ]) {
      for (const items of [
        () => [1, 2, 3, 4, 5],
        () => new Set([1, 2, 3, 4, 5]).values(),
        async function* () {
          yield* [1, 2, 3, 4, 5]
        },
      ]) {
        const g = new ErrGroup({ limit: groupLimit })
        const m = g.map(items(), fn, { limit: callLimit })
        await alive(g.wait())
        assert.equal(await isPending(m), false, 'map settled before wait() resolved')
        assert.deepEqual(
          await m,
          [1, 2, 3, 4, 5],
          `group limit ${groupLimit}, call limit ${callLimit}`,
        )
      }
    }
  }
})

test('map takes any iterable: a Set, a Map, a generator, an array with holes; fn may be sync or return thenables', async () => {
  const g = new ErrGroup({ limit: 3 })
  assert.deepEqual(await g.map(new Set([3, 1, 2]), (x) => x * 2), [6, 2, 4])
  assert.deepEqual(await g.map(new Map([['k', 1]]), ([k, v]) => k + v), ['k1'])
  assert.deepEqual(
    await g.map(
      (function* () {
        yield* [1, 2, 3, 4]
      })(),
      async (x) => x + 1,
    ),
    [2, 3, 4, 5],
  )
  // A hole reads as undefined, as in for…of.
  // biome-ignore lint/suspicious/noSparseArray: the hole is what this line tests
  assert.deepEqual(await g.map([1, , 3], (x) => x), [1, undefined, 3])
  assert.deepEqual(await g.map([1, 2], (x) => ({ then: (ok) => ok(x * 100) })), [100, 200])
  await alive(g.wait())
})

test('map with an empty input resolves with [] (even on a group where nothing may start)', async () => {
  const g = new ErrGroup()
  assert.deepEqual(await g.map([], () => assert.fail('not called')), [])
  assert.deepEqual(await g.map(new Set(), () => assert.fail('not called')), [])
  assert.deepEqual(await g.map((async function* () {})(), () => assert.fail('not called')), [])
  const closed = new ErrGroup({ limit: 0 })
  assert.deepEqual(await alive(closed.map([], () => 1)), [])
  await alive(g.wait())
})

test("map runs under the group's limit: never more tasks at once, and the limit is reached", async () => {
  const g = new ErrGroup({ limit: 3 })
  const m = new Meter()
  const gates = Array.from({ length: 10 }, gate)
  const p = g.map(gates, async (gt, i) => {
    m.enter()
    await gt.p
    m.leave()
    return i
  })
  for (let i = 0; i < gates.length; i++) {
    if (i + 3 <= gates.length) await m.until(3)
    assert.ok(g.active <= 3)
    gates[i].open()
  }
  assert.deepEqual(await alive(p), [...Array(10).keys()])
  assert.equal(m.max, 3)
  await alive(g.wait())
})

test('map({ limit }) bounds that call on a group without a limit; the smaller of the two limits wins', async () => {
  for (const [groupLimit, callLimit, expected] of [
    [undefined, 2, 2],
    [4, 2, 2],
    [2, 5, 2],
    [undefined, Infinity, 6],
  ]) {
    const g = new ErrGroup({ limit: groupLimit })
    const m = new Meter()
    const gates = Array.from({ length: 6 }, gate)
    const p = g.map(
      gates,
      async (gt) => {
        m.enter()
        await gt.p
        m.leave()
      },
      { limit: callLimit },
    )
    await m.until(expected)
    for (const gt of gates) gt.open()
    await alive(p)
    assert.equal(m.max, expected, `group limit ${groupLimit}, call limit ${callLimit}`)
    await alive(g.wait())
  }
})

test('map consumes a large input lazily: of 100,000 items under limit 8, never more than 8 taken or made into tasks ahead', async () => {
  const N = 100_000
  for (const kind of ['generator', 'array']) {
    const g = new ErrGroup({ limit: 8 })
    // Every task map makes goes through g.go: count them, to see how many it has made ahead.
    const go = g.go.bind(g)
    let tasks = 0
    g.go = (fn) => {
      tasks++
      return go(fn)
    }
    let pulled = 0
    let finished = 0
    let most = 0
    let mostTasks = 0
    function* source() {
      for (let i = 0; i < N; i++) {
        pulled++
        most = Math.max(most, pulled - finished)
        yield i
      }
    }
    const items = kind === 'array' ? Array.from({ length: N }, (_, i) => i) : source()
    const out = await alive(
      g.map(items, async (x) => {
        mostTasks = Math.max(mostTasks, tasks - finished)
        await null
        finished++
        return x * 2
      }),
      120000,
    )
    assert.equal(out.length, N)
    assert.equal(out[0], 0)
    assert.equal(out[N - 1], 2 * (N - 1))
    if (kind === 'generator') {
      assert.ok(most <= 8, `${most} items taken and not finished`)
      assert.equal(most, 8)
    }
    assert.ok(
      mostTasks <= 8,
      `${kind}: ${mostTasks} tasks made and not finished: the input is not consumed lazily`,
    )
    assert.ok(tasks <= N + 8, `${kind}: ${tasks} tasks for ${N} items`)
    await alive(g.wait())
  }
})

test('the first failure rejects map with that very value, cancels the siblings and closes the source', async () => {
  const g = new ErrGroup({ limit: 2 })
  const boom = new Error('item 1 failed')
  const t = tracked([0, 1, 2, 3, 4, 5])
  const cancelledSiblings = []
  const p = g.map(t.it, async (x, i, token) => {
    if (x === 1) throw boom
    await token.whenCancelled()
    cancelledSiblings.push(i)
    throw token.reason
  })
  await assert.rejects(alive(p), (e) => e === boom)
  await assert.rejects(alive(g.wait()), (e) => e === boom)
  assert.deepEqual(cancelledSiblings, [0])
  assert.equal(t.pulled, 2, 'no item taken after the failure')
  assert.equal(t.closed, true, 'the generator was closed (its finally ran)')
})

test('a synchronous throw in fn, or a source that throws, is the failure of that task', async () => {
  const g = new ErrGroup()
  await assert.rejects(
    g.map([1, 2, 3], (x) => {
      if (x === 2) throw x
      return x
    }),
    (e) => e === 2,
  )
  await assert.rejects(g.wait(), (e) => e === 2)

  const h = new ErrGroup({ limit: 2 })
  const broken = new Error('source broke')
  const src = (function* () {
    yield 1
    throw broken
  })()
  await assert.rejects(alive(h.map(src, async (x) => x)), (e) => e === broken)
  await assert.rejects(alive(h.wait()), (e) => e === broken)
})

test("collect: 'all': map rejects with its first failure, and the later failures of its running tasks reach wait()", async () => {
  const g = new ErrGroup({ collect: 'all' })
  const errors = [new Error('0'), new Error('1'), new Error('2')]
  const gates = errors.map(() => gate())
  const p = g.map([0, 1, 2], async (i) => {
    await gates[i].p
    throw errors[i]
  })
  gates[1].open()
  await assert.rejects(alive(p), (e) => e === errors[1])
  gates[0].open()
  gates[2].open()
  const err = await alive(g.wait()).catch((e) => e)
  assert.ok(err instanceof AggregateError)
  assert.equal(err.errors[0], errors[1])
  assert.deepEqual(new Set(err.errors), new Set(errors))
})

test('map stops taking items once the token is cancelled from outside, and rejects with the reason', async () => {
  const parent = new CancelToken()
  const g = new ErrGroup({ token: parent })
  const t = tracked([0, 1, 2, 3])
  const gates = [gate(), gate()]
  const p = g.map(
    t.it,
    async (x) => {
      await gates[x].p
      return x
    },
    { limit: 2 },
  )
  const why = new Error('deadline')
  parent.cancel(why)
  gates[0].open()
  gates[1].open()
  await assert.rejects(alive(p), (e) => e === why)
  assert.equal(t.pulled, 2)
  assert.equal(t.closed, true)
  await alive(g.wait()) // the two tasks that ran succeeded: no failure of the group's own
})

test('a map whose next task waits for a slot rejects with the reason when the group is cancelled', async () => {
  const g = new ErrGroup({ limit: 1 })
  const hold = gate()
  const holder = g.run(() => hold.p) // the only slot
  let called = 0
  const t = tracked([1, 2, 3])
  const p = g.map(t.it, () => {
    called++
  })
  assert.equal(await isPending(p), true)
  const why = new Error('stop')
  g.token.cancel(why)
  await assert.rejects(alive(p, 20000, 'a never-run map left its caller hanging'), (e) => e === why)
  hold.open('held')
  assert.equal(await alive(holder), 'held')
  await alive(g.wait())
  assert.equal(called, 0)
  assert.equal(t.pulled, 0, 'no item was taken: the source is pulled only in a slot')
})

test('map on a busy group keeps one task queued and fills the limit as slots free', async () => {
  const g = new ErrGroup({ limit: 2 })
  const holds = [gate(), gate()]
  const held = holds.map((h) => g.run(() => h.p))
  const m = new Meter()
  const gates = Array.from({ length: 4 }, gate)
  const p = g.map(gates, async (gt, i) => {
    m.enter()
    await gt.p
    m.leave()
    return i
  })
  assert.equal(m.inside, 0)
  holds[0].open()
  holds[1].open()
  await Promise.all(held)
  await m.until(2)
  for (const gt of gates) gt.open()
  assert.deepEqual(await alive(p), [0, 1, 2, 3])
  assert.equal(m.max, 2)
  await alive(g.wait())
})

test('map takes an async iterable: one pull at a time, results in order, a failing source fails the task', async () => {
  const g = new ErrGroup({ limit: 3 })
  let pulling = 0
  let mostPulling = 0
  const source = {
    i: 0,
    [Symbol.asyncIterator]() {
      return this
    },
    async next() {
      pulling++
      mostPulling = Math.max(mostPulling, pulling)
      await null
      pulling--
      return this.i < 5 ? { value: this.i++, done: false } : { value: undefined, done: true }
    },
  }
  const m = new Meter()
  const gates = Array.from({ length: 5 }, gate)
  const p = g.map(source, async (x, i) => {
    m.enter()
    await gates[i].p
    m.leave()
    return x * 10
  })
  await m.until(3)
  for (let i = 4; i >= 0; i--) gates[i].open()
  assert.deepEqual(await alive(p), [0, 10, 20, 30, 40])
  assert.equal(mostPulling, 1)
  assert.equal(m.max, 3)
  await alive(g.wait())

  const h = new ErrGroup()
  const broken = new Error('stream broke')
  async function* stream() {
    yield 1
    throw broken
  }
  await assert.rejects(alive(h.map(stream(), (x) => x)), (e) => e === broken)
  await assert.rejects(alive(h.wait()), (e) => e === broken)
})

test('an item an async source gives after the token was cancelled is not taken', async () => {
  const g = new ErrGroup()
  const next = gate()
  let asked = 0
  const source = {
    [Symbol.asyncIterator]() {
      return this
    },
    next() {
      asked++
      return next.p
    },
    return() {
      return Promise.resolve({ done: true })
    },
  }
  let called = 0
  const p = g.map(source, () => {
    called++
  })
  assert.equal(asked, 1) // the task awaits its item
  const why = new Error('gone')
  g.token.cancel(why)
  next.open({ value: 1, done: false })
  await assert.rejects(alive(p), (e) => e === why)
  await alive(g.wait())
  assert.equal(called, 0)
})

test('an early stop closes an async source too', async () => {
  const g = new ErrGroup()
  let closed
  const closing = new Promise((resolve) => (closed = resolve))
  async function* stream() {
    try {
      for (let i = 0; ; i++) yield i
    } finally {
      closed()
    }
  }
  const boom = new Error('boom')
  await assert.rejects(
    alive(
      g.map(stream(), (x) => {
        if (x === 3) throw boom
        return x
      }),
    ),
    (e) => e === boom,
  )
  await alive(closing, 20000, 'the async generator was never closed')
  await assert.rejects(g.wait(), (e) => e === boom)
})

test('map checks its arguments at the call: items, fn and options.limit', () => {
  const g = new ErrGroup()
  const typeError = (name) => (e) =>
    e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && e.message.includes(`"${name}"`)
  for (const bad of [undefined, null, 42, 'abc', {}, () => [1]])
    assert.throws(() => g.map(bad, (x) => x), typeError('items'))
  for (const bad of [undefined, null, 'fn', {}])
    assert.throws(() => g.map([1], bad), typeError('fn'))
  assert.throws(() => g.map([1], (x) => x, 5), typeError('options'))
  assert.throws(() => g.map([1], (x) => x, { limit: '2' }), typeError('options.limit'))
  for (const bad of [0, -1, 1.5, NaN, -Infinity]) {
    assert.throws(() => g.map([1], (x) => x, { limit: bad }), { code: 'GOGROUP_INVALID_ARGUMENT' })
  }
  assert.equal(g.active, 0, 'a refused call started nothing')
})
