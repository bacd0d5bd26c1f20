import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WaitGroup } from '../index.js'
import testing from '../testing.js'
import { alive, isPending } from './helpers.mjs'

test('wait resolves true at once when the counter is zero', async () => {
  assert.equal(await new WaitGroup().wait(), true)
})

test('add and done count, and wait resolves when the counter reaches zero', async () => {
  const wg = new WaitGroup()
  wg.add(2)
  assert.equal(wg.count, 2)
  const p = wg.wait()
  wg.done()
  assert.equal(await isPending(p), true)
  wg.done()
  assert.equal(await alive(p), true)
  assert.equal(wg.count, 0)
})

test('add defaults to one', () => {
  const wg = new WaitGroup()
  wg.add()
  assert.equal(wg.count, 1)
})

test('a negative counter is rejected, not applied, with GOGROUP_NEGATIVE_COUNTER (Go: TestWaitGroupMisuse)', () => {
  const wg = new WaitGroup()
  wg.add(1)
  assert.throws(
    () => wg.add(-2),
    (e) =>
      e.code === 'GOGROUP_NEGATIVE_COUNTER' && e.message === 'sync: negative WaitGroup counter',
  )
  assert.equal(wg.count, 1)
  wg.done()
  assert.throws(() => wg.done(), { code: 'GOGROUP_NEGATIVE_COUNTER' })
  assert.equal(wg.count, 0)
})

test('a non-integer delta is INVALID_ARGUMENT', () => {
  assert.throws(() => new WaitGroup().add(1.5), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('barrier reuse: many rounds on one group, each wait released by its own round (Go: TestWaitGroup)', async () => {
  const wg = new WaitGroup()
  for (let round = 0; round < 100; round++) {
    const n = 16
    wg.add(n)
    const p = wg.wait()
    let finished = 0
    for (let i = 0; i < n; i++) {
      queueMicrotask(() => {
        finished++
        wg.done()
      })
    }
    assert.equal(await alive(p), true)
    assert.equal(finished, n)
  }
})

test('go tracks sync and async functions', async () => {
  const wg = new WaitGroup()
  const order = []
  let release
  const gate = new Promise((r) => (release = r))
  wg.go(() => order.push('sync'))
  wg.go(async () => {
    await gate
    order.push('async')
  })
  assert.equal(wg.count, 1) // the sync one already finished
  const p = wg.wait()
  assert.equal(await isPending(p), true)
  release()
  assert.equal(await alive(p), true)
  assert.deepEqual(order, ['sync', 'async'])
})

test('go rethrows a synchronous throw after releasing its count', () => {
  const wg = new WaitGroup()
  const boom = new Error('boom')
  assert.throws(
    () =>
      wg.go(() => {
        throw boom
      }),
    (e) => e === boom,
  )
  assert.equal(wg.count, 0)
})

test('go releases the count when the task rejects (no unhandled rejection)', async () => {
  const wg = new WaitGroup()
  wg.go(async () => {
    throw new Error('ignored by WaitGroup')
  })
  assert.equal(await alive(wg.wait()), true)
})

test('count reports every pending task, and core never sees zero while one is pending', async () => {
  const wg = new WaitGroup()
  const gates = []
  for (let i = 0; i < 3; i++) wg.go(() => new Promise((r) => gates.push(r)))
  assert.equal(wg.count, 3)
  // Another view of the same counter (as a worker or C code has) sees the tasks as pending.
  const other = WaitGroup.fromShared(wg.share())
  assert.equal(other.count > 0, true)
  const p = other.wait()
  gates.shift()()
  gates.shift()()
  await isPending(p)
  assert.equal(wg.count, 1)
  assert.equal(await isPending(p), true)
  gates.shift()()
  assert.equal(await alive(p), true)
  assert.equal(wg.count, 0)
  assert.equal(other.count, 0)
})

test('done() of an add() while loop tasks are pending leaves wait() pending until they settle', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  let release
  wg.go(() => new Promise((r) => (release = r)))
  assert.equal(wg.count, 2)
  const p = wg.wait()
  wg.done()
  assert.equal(wg.count, 1)
  assert.equal(await isPending(p), true)
  release()
  assert.equal(await alive(p), true)
  assert.equal(wg.count, 0)
})

test('a thenable that calls back twice, or both ways, is counted out once', async () => {
  const wg = new WaitGroup()
  wg.add(1) // a count of our own: an over-release would take it
  wg.go(() => ({
    then(ok, fail) {
      ok()
      ok()
      fail(new Error('late'))
    },
  }))
  assert.equal(wg.count, 1)
  let later
  wg.go(() => ({
    then(ok) {
      later = ok
    },
  }))
  assert.equal(wg.count, 2)
  later()
  later()
  assert.equal(wg.count, 1)
  wg.done()
  assert.equal(await wg.wait(), true)
})

test('go with a non-function, or a thenable whose then throws, throws and keeps no count', () => {
  const wg = new WaitGroup()
  assert.throws(() => wg.go(42), TypeError)
  assert.equal(wg.count, 0)
  const bad = new Error('then getter')
  assert.throws(
    () =>
      wg.go(() => ({
        get then() {
          throw bad
        },
      })),
    (e) => e === bad,
  )
  assert.equal(wg.count, 0)
  assert.throws(
    () =>
      wg.go(() => ({
        then() {
          throw bad
        },
      })),
    (e) => e === bad,
  )
  assert.equal(wg.count, 0)
  // A value that is not a thenable settles at once.
  wg.go(() => ({ then: 1 }))
  assert.equal(wg.count, 0)
})

test('go and count refuse a receiver that is not a WaitGroup, and never run the task', () => {
  let ran = false
  assert.throws(() => WaitGroup.prototype.go.call({}, () => (ran = true)))
  assert.equal(ran, false)
  const count = Object.getOwnPropertyDescriptor(WaitGroup.prototype, 'count').get
  assert.throws(() => count.call({}))
})

test('wait({ timeout }) resolves false when the counter is not zero in time', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  assert.equal(await alive(wg.wait({ timeout: 5 })), false)
  wg.done()
  assert.equal(await wg.wait({ timeout: 60000 }), true)
  // null means "none", as the typings say.
  assert.equal(await wg.wait({ timeout: null, signal: null }), true)
})

test('wait({ signal }) rejects with the signal reason, the same value', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  const ac = new AbortController()
  const p = wg.wait({ signal: ac.signal })
  const why = new Error('user left')
  ac.abort(why)
  await assert.rejects(alive(p), (e) => e === why)
  await assert.rejects(wg.wait({ signal: AbortSignal.abort() }), { name: 'AbortError' })
  wg.done()
})

test('done() on a native thread resolves wait() without polling', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  const p = wg.wait()
  testing.doneOnNativeThread(wg)
  assert.equal(await alive(p), true)
})

test('many pending waits all resolve together', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  const waits = Array.from({ length: 1000 }, () => wg.wait())
  testing.doneOnNativeThread(wg)
  assert.deepEqual(
    await alive(Promise.all(waits)),
    waits.map(() => true),
  )
})

test('waitSync throws on the main thread: it would block the event loop', () => {
  assert.throws(() => new WaitGroup().waitSync(0), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('share() gives a number that fromShared() turns into the same counter', async () => {
  const wg = new WaitGroup()
  const n = wg.share()
  assert.equal(typeof n, 'number')
  const same = WaitGroup.fromShared(n)
  wg.add(2)
  assert.equal(same.count, 2)
  const p = wg.wait()
  same.done()
  same.done()
  assert.equal(await alive(p), true)
  assert.throws(() => WaitGroup.fromShared(-1), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('an object that borrows Promise.prototype.then is not taken for a promise', async () => {
  const wg = new WaitGroup()
  const fake = { then: Promise.prototype.then }
  assert.throws(() => wg.go(() => fake), TypeError)
  assert.equal(wg.count, 0)
  class Later extends Promise {}
  let resolve
  wg.go(() => new Later((r) => (resolve = r)))
  assert.equal(wg.count, 1)
  resolve()
  assert.equal(await alive(wg.wait()), true)
})
