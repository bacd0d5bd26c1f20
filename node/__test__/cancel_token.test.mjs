import assert from 'node:assert/strict'
import { EventEmitter, once } from 'node:events'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import * as addonModule from '../index.js'
import { CancelToken, ErrGroup } from '../index.js'
import testing from '../testing.js'
import { alive, isPending } from './helpers.mjs'

test('a plain cancel gives an AbortError DOMException, the same object every time', () => {
  const t = new CancelToken()
  assert.equal(t.cancelled, false)
  assert.equal(t.reason, undefined)
  assert.equal(t.err, null)
  assert.equal(t.cancel(), true)
  assert.equal(t.cancel(), false) // the first cancel wins
  assert.ok(t.reason instanceof DOMException)
  assert.equal(t.reason.name, 'AbortError')
  assert.equal(t.reason, t.reason)
  assert.equal(t.err.code, 'GOGROUP_CANCELED')
})

test('a given reason is kept as the very same value, also for descendants', () => {
  const t = new CancelToken()
  const c = t.child().child()
  const why = { any: 'value' }
  t.cancel(why)
  assert.equal(t.reason, why)
  assert.equal(c.reason, why)
  assert.equal(c.err.code, 'GOGROUP_CANCELED')
  t.cancel(new Error('later'))
  assert.equal(t.reason, why)
})

test('cancelling a parent cancels the grandchild synchronously; a child cancel leaves the parent', () => {
  const root = new CancelToken()
  const child = root.child()
  const grandchild = child.child()
  child.cancel()
  assert.equal(root.cancelled, false)
  assert.equal(grandchild.cancelled, true)
  const other = root.child()
  root.cancel()
  assert.equal(other.cancelled, true)
  assert.equal(root.child().cancelled, true) // born cancelled
})

test('withTimeout cancels with a TimeoutError DOMException and has a deadline', async () => {
  const t = new CancelToken().withTimeout(5)
  assert.ok(t.deadline instanceof Date)
  const reason = await alive(t.whenCancelled())
  assert.equal(reason.name, 'TimeoutError')
  assert.equal(t.reason, reason)
  assert.equal(t.err.code, 'GOGROUP_DEADLINE_EXCEEDED')
})

test('withDeadline in the past is born cancelled; an earlier parent deadline governs', () => {
  const root = new CancelToken()
  assert.equal(root.deadline, null)
  assert.equal(root.withDeadline(new Date(Date.now() - 1000)).cancelled, true)
  const soon = root.withDeadline(Date.now() + 60_000)
  const later = soon.withDeadline(Date.now() + 3_600_000)
  assert.ok(Math.abs(later.deadline.getTime() - soon.deadline.getTime()) <= 1)
  assert.ok(Math.abs(soon.deadline.getTime() - (Date.now() + 60_000)) < 5_000)
})

test('CancelToken.any follows the first input to be cancelled, with its reason', () => {
  const a = new CancelToken()
  const b = new CancelToken()
  const either = CancelToken.any([a, b])
  const why = new Error('b gave up')
  b.cancel(why)
  assert.equal(either.cancelled, true)
  assert.equal(either.reason, why)
  assert.equal(CancelToken.any([]).cancelled, false)
})

test('onCancel runs with the reason on the loop; stop() prevents it (Go: TestAfterFuncNotCalledAfterStop)', async () => {
  const t = new CancelToken()
  const calls = []
  const stopped = t.onCancel(() => calls.push('stopped'))
  let ran
  const seen = new Promise((r) => (ran = r))
  const reg = t.onCancel((reason) => ran(reason))
  assert.equal(stopped.stop(), true)
  assert.equal(stopped.stop(), false)
  const why = new Error('why')
  t.cancel(why)
  assert.equal(await alive(seen), why)
  assert.equal(reg.stop(), false) // too late: it ran
  assert.deepEqual(calls, [])
})

test('onCancel on an already cancelled token runs soon after', async () => {
  const t = new CancelToken()
  t.cancel()
  const reason = await alive(new Promise((r) => t.onCancel(r)))
  assert.equal(reason.name, 'AbortError')
})

test('signal is a real AbortSignal, aborted with the same reason', async () => {
  const t = new CancelToken()
  const s = t.signal
  assert.ok(s instanceof AbortSignal)
  assert.equal(t.signal, s)
  assert.equal(s.aborted, false)
  const fired = once(s, 'abort')
  const why = new Error('stop')
  t.cancel(why)
  assert.equal(s.aborted, true) // before cancel() returned
  assert.equal(s.reason, why)
  await alive(fired)
  const late = new CancelToken()
  late.cancel()
  assert.equal(late.signal.aborted, true)
  assert.equal(late.signal.reason, late.reason)
})

test('a child signal aborts when the parent is cancelled', () => {
  const root = new CancelToken()
  const s = root.child().signal
  root.cancel()
  assert.equal(s.aborted, true)
  assert.equal(s.reason.name, 'AbortError')
})

test('AbortSignal interop: timers, events and fetch abort with the token reason', async () => {
  const t = new CancelToken()
  const sleeping = delay(600_000, null, { signal: t.signal })
  const waiting = once(new EventEmitter(), 'never', { signal: t.signal })
  const server = createServer(() => {}) // never answers
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${server.address().port}/`
  const connected = once(server, 'connection')
  const fetching = fetch(url, { signal: t.signal })
  await alive(connected)
  const why = new Error('user cancelled')
  t.cancel(why)
  await assert.rejects(alive(sleeping), { name: 'AbortError' })
  await assert.rejects(alive(waiting), { name: 'AbortError' })
  await assert.rejects(alive(fetching), (e) => e === why)
  server.closeAllConnections()
  server.close()
})

test('fromSignal: a token cancelled when the signal aborts, with its reason', () => {
  const ac = new AbortController()
  const t = CancelToken.fromSignal(ac.signal)
  const c = t.child()
  assert.equal(t.cancelled, false)
  const why = new Error('aborted')
  ac.abort(why)
  assert.equal(c.cancelled, true)
  assert.equal(c.reason, why)
  const pre = CancelToken.fromSignal(AbortSignal.abort('already'))
  assert.equal(pre.cancelled, true)
  assert.equal(pre.reason, 'already')
})

test('whenCancelled resolves with the reason; throwIfCancelled throws it', async () => {
  const t = new CancelToken()
  t.throwIfCancelled()
  const p = t.whenCancelled()
  assert.equal(await isPending(p), true)
  const why = new Error('done')
  t.cancel(why)
  assert.equal(await alive(p), why)
  assert.throws(
    () => t.throwIfCancelled(),
    (e) => e === why,
  )
})

test('cancel() on a native thread resolves promises and aborts the signal', async () => {
  const t = new CancelToken()
  const s = t.signal
  const p = t.whenCancelled()
  const fired = once(s, 'abort')
  testing.cancelOnNativeThread(t)
  const reason = await alive(p)
  await alive(fired)
  assert.equal(reason.name, 'AbortError')
  assert.equal(s.reason, reason)
})

test('waitSync throws on the main thread', () => {
  assert.throws(() => new CancelToken().waitSync(0), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('share() and fromShared() reach the same token', () => {
  const t = new CancelToken()
  const same = CancelToken.fromShared(t.share())
  same.cancel()
  assert.equal(t.cancelled, true)
  assert.throws(() => CancelToken.fromShared(0), { code: 'GOGROUP_INVALID_ARGUMENT' })
})

test('withTimeout(ms, reason): the reason is kept when the deadline fires; err stays DEADLINE_EXCEEDED', async () => {
  const root = new CancelToken()
  const why = new Error('quote expired')
  const t = root.withTimeout(1, why)
  assert.equal(await alive(t.whenCancelled()), why)
  assert.equal(t.reason, why)
  assert.equal(t.signal.reason, why)
  assert.equal(t.err.code, 'GOGROUP_DEADLINE_EXCEEDED')
  // A cancel before the deadline gives its own reason, not the deadline's.
  const u = root.withTimeout(3_600_000, why)
  u.cancel()
  assert.equal(u.reason.name, 'AbortError')
  assert.equal(u.err.code, 'GOGROUP_CANCELED')
  // Without a reason (or undefined): the TimeoutError DOMException, as before.
  const v = root.withTimeout(0, undefined)
  assert.equal(v.reason.name, 'TimeoutError')
})

test('withDeadline(date, reason): a past deadline is born cancelled with the reason', () => {
  const root = new CancelToken()
  const t = root.withDeadline(new Date(Date.now() - 1000), 42)
  assert.equal(t.cancelled, true)
  assert.equal(t.reason, 42)
  assert.equal(t.err.code, 'GOGROUP_DEADLINE_EXCEEDED')
  const far = root.withDeadline(Date.now() + 3_600_000, new Error('never'))
  assert.equal(far.cancelled, false)
  far.cancel(new Error('by hand'))
  assert.equal(far.reason.message, 'by hand')
  assert.equal(root.withDeadline(0).reason.name, 'TimeoutError')
})

test('dependents counts children, any tokens and callbacks, and drops back (a diagnostic)', () => {
  const t = new CancelToken()
  assert.equal(t.dependents, 0)
  const c = t.child()
  assert.equal(t.dependents, 1)
  const reg = t.onCancel(() => {})
  assert.equal(t.dependents, 2)
  const a = CancelToken.any([t, new CancelToken()])
  assert.equal(t.dependents, 3)
  c.cancel()
  reg.stop()
  a.cancel()
  assert.equal(t.dependents, 0)
  t.cancel()
  assert.equal(t.dependents, 0)
  // The token's own signal is the token seen as an AbortSignal, not a dependent.
  const u = new CancelToken()
  assert.ok(u.signal instanceof AbortSignal)
  assert.equal(u.dependents, 0)
  u.child()
  assert.equal(u.dependents, 1)
  u.cancel()
  assert.equal(u.dependents, 0)
})

test('tokens made in JS and tokens made by the addon are one class, and interoperate', async () => {
  const root = new CancelToken()
  const kid = root.child()
  const g = new ErrGroup({ token: kid })
  let seen
  g.go((token) => {
    seen = token
  })
  await g.wait()
  assert.ok(
    root instanceof CancelToken && kid instanceof CancelToken && g.token instanceof CancelToken,
  )
  assert.equal(seen, g.token, 'tasks get the group token itself')
  assert.equal(Object.prototype.toString.call(root), '[object CancelToken]')
  const either = CancelToken.any([kid, g.token.child()])
  assert.ok(either instanceof CancelToken)
  // The group's wait cancelled its token (Go's WithContext), not its parent.
  assert.equal(g.token.cancelled, true)
  assert.equal(either.cancelled, true)
  assert.equal(kid.cancelled, false)
  root.cancel()
  assert.equal(kid.cancelled, true)
  assert.equal(kid.reason.name, 'AbortError')
  assert.equal(kid.reason, kid.reason, 'one reason object per token')
  assert.equal(kid.err.code, 'GOGROUP_CANCELED')
})

test('a JS-made token keeps the reason given to cancel, and its children inherit it', () => {
  const t = new CancelToken()
  const c = t.child()
  const why = { any: 'value' }
  assert.equal(t.cancel(why), true)
  assert.equal(t.cancel(), false, 'the first cancel wins')
  assert.equal(t.reason, why)
  assert.equal(c.reason, why)
  assert.throws(
    () => c.throwIfCancelled(),
    (e) => e === why,
  )
  new CancelToken().throwIfCancelled() // live: does nothing
})

test('CancelToken methods refuse a receiver that is not a token; the table is not exported', () => {
  assert.throws(() => CancelToken.prototype.cancel.call({}), TypeError)
  assert.throws(
    () => Object.getOwnPropertyDescriptor(CancelToken.prototype, 'cancelled').get.call({}),
    TypeError,
  )
  const exported = Object.keys(addonModule)
  assert.deepEqual(
    exported.filter((k) => k.startsWith('__token')),
    [],
  )
  assert.throws(() => new ErrGroup({ token: {} }))
  assert.throws(() => CancelToken.any([{}]))
})
