// The public surface as a Node user meets it: arguments refused at the call with Node's error
// shapes, classes that behave like classes, and Node's idioms (microtask deferral, disposal,
// inspection, cloning, listener limits).

import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { inspect } from 'node:util'
import { MessageChannel } from 'node:worker_threads'
import * as gogroup from '../index.js'
import { alive } from './helpers.mjs'

const { CancelToken, ErrGroup, WaitGroup, Registration } = gogroup
const api = { ...gogroup } // looked up by name below

/** `fn` throws a TypeError with one of `codes`, whose message is ours, not napi-rs's. */
function refused(fn, codes = ['ERR_INVALID_ARG_TYPE', 'GOGROUP_INVALID_ARGUMENT']) {
  let thrown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  assert.ok(thrown !== undefined, `accepted: ${fn}`)
  assert.ok(thrown instanceof TypeError, `${fn}: ${thrown?.name}: ${thrown?.message}`)
  assert.ok(codes.includes(thrown.code), `${fn}: code ${thrown.code}`)
  assert.doesNotMatch(thrown.message, /napi|Failed to convert|Unwrap value|rust type/i)
  return thrown
}

test('wrong types are refused at the call with ERR_INVALID_ARG_TYPE', () => {
  const wg = new WaitGroup()
  const g = new ErrGroup()
  const t = new CancelToken()
  const typeErrors = [
    () => wg.add('1'),
    () => wg.add(null),
    () => wg.add(1n),
    () => wg.go('x'),
    () => wg.wait(5),
    () => wg.wait({ timeout: '5' }),
    () => wg.wait({ signal: {} }),
    () => wg.wait({ ref: 1 }),
    () => wg.waitSync('1'),
    () => g.go('x'),
    () => g.go(),
    () => g.tryGo(5),
    () => g.setLimit('2'),
    () => g.shutdown('1'),
    () => new ErrGroup({ token: {} }),
    () => new ErrGroup({ signal: 'abort' }),
    () => new ErrGroup({ limit: '4' }),
    () => new ErrGroup({ collect: 1 }),
    () => new ErrGroup('x'),
    () => t.onCancel(5),
    () => t.withTimeout(),
    () => t.withTimeout('10'),
    () => t.withDeadline('tomorrow'),
    () => t.withDeadline(),
    () => t.whenCancelled({ ref: 'yes' }),
    () => CancelToken.any([{}]),
    () => CancelToken.any(5),
    () => CancelToken.any('ab'),
    () => CancelToken.fromSignal({}),
    () => CancelToken.fromShared('1'),
    () => WaitGroup.fromShared(),
    () => gogroup.errorFromCode('1', 'x'),
  ]
  for (const call of typeErrors) {
    const e = refused(call, ['ERR_INVALID_ARG_TYPE'])
    assert.match(e.message, /^The "[^"]+" argument must be /)
  }
})

test('bad values of the right type are refused at the call with GOGROUP_INVALID_ARGUMENT, and change nothing', () => {
  const wg = new WaitGroup()
  const g = new ErrGroup()
  const t = new CancelToken()
  const valueErrors = [
    () => wg.add(NaN),
    () => wg.add(1.5),
    () => wg.add(2 ** 31),
    () => wg.add(Infinity),
    () => wg.wait({ timeout: NaN }),
    () => wg.wait({ timeout: -1 }),
    () => wg.waitSync(NaN),
    () => g.setLimit(NaN),
    () => g.setLimit(1.5),
    () => g.shutdown(NaN),
    () => g.shutdown(-5),
    () => g.wait({ timeout: NaN }),
    () => new ErrGroup({ limit: 0.5 }),
    () => new ErrGroup({ collect: 'some' }),
    () => t.withTimeout(NaN),
    () => t.withTimeout(-1),
    () => t.withDeadline(NaN),
    () => t.withDeadline(new Date('nope')),
    () => CancelToken.fromShared(-1),
    () => CancelToken.fromShared(1.5),
    () => gogroup.errorFromCode(0, 'x'),
  ]
  for (const call of valueErrors) refused(call, ['GOGROUP_INVALID_ARGUMENT'])
  // Nothing was applied by a refused call.
  assert.equal(wg.count, 0)
  assert.equal(g.limit, null)
  assert.equal(t.dependents, 0)
  assert.equal(t.cancelled, false)
})

test('no group runs or records a task it refused', async () => {
  const g = new ErrGroup()
  refused(() => g.go('x'))
  refused(() => g.tryGo(5))
  assert.equal(g.active, 0)
  await alive(g.wait()) // resolves: nothing failed later either
  const wg = new WaitGroup()
  refused(() => wg.go(42))
  assert.equal(wg.count, 0)
})

test('classes throw when called without new; Registration is not constructible', () => {
  for (const C of [WaitGroup, ErrGroup, CancelToken]) {
    assert.throws(() => C(), TypeError)
  }
  assert.throws(() => new Registration(), TypeError)
})

test('the package exports exactly its public API', () => {
  assert.deepEqual(
    Object.keys(gogroup)
      .filter((k) => k !== 'default')
      .sort(),
    [
      'CancelToken',
      'ErrGroup',
      'Registration',
      'WaitGroup',
      'errorCodes',
      'errorFromCode',
      'version',
    ],
  )
  const require = createRequire(import.meta.url)
  assert.throws(() => require('gogroup/testing.js'), {
    code: /ERR_PACKAGE_PATH_NOT_EXPORTED|MODULE_NOT_FOUND/,
  })
})

test('a deadline before 1970 or before boot reads as the instant given', () => {
  const root = new CancelToken()
  for (const ms of [0, -86_400_000, Date.UTC(1995, 0, 1)]) {
    const t = root.withDeadline(ms)
    assert.equal(t.cancelled, true)
    assert.equal(t.deadline.getTime(), ms)
    assert.equal(t.child().deadline.getTime(), ms)
  }
  assert.equal(root.withDeadline(new Date(0)).deadline.getTime(), 0)
  // A later deadline under an earlier one reads as the earlier.
  assert.equal(root.withDeadline(0).withTimeout(60_000).deadline.getTime(), 0)
})

test('onCancel on a cancelled token runs the callback in a microtask, not inside onCancel', async () => {
  const t = new CancelToken()
  const why = new Error('gone')
  t.cancel(why)
  const seen = []
  t.onCancel((r) => seen.push(r))
  assert.deepEqual(seen, [])
  await Promise.resolve()
  assert.deepEqual(seen, [why])
  // stop() before the microtask prevents it, and says so.
  let ran = false
  const reg = t.onCancel(() => (ran = true))
  assert.equal(reg.stop(), true)
  assert.equal(reg.stop(), false)
  await Promise.resolve()
  assert.equal(ran, false)
})

test('onCancel on a live token still runs inside cancel(), as AbortController.abort() dispatches', () => {
  const t = new CancelToken()
  const seen = []
  t.onCancel(() => seen.push('cb'))
  t.cancel()
  seen.push('after')
  assert.deepEqual(seen, ['cb', 'after'])
})

test('Registration is disposable: using stops it at the end of the block', () => {
  const t = new CancelToken()
  let ran = false
  const reg = t.onCancel(() => (ran = true))
  assert.equal(typeof reg[Symbol.dispose], 'function')
  reg[Symbol.dispose]() // what `using reg = t.onCancel(…)` does at the end of the block
  assert.equal(t.dependents, 0)
  t.cancel()
  assert.equal(ran, false)
})

test('cancel(null) keeps null as the reason, as AbortController.abort(null) does', async () => {
  const t = new CancelToken()
  const kid = t.child()
  t.cancel(null)
  assert.equal(t.reason, null)
  assert.equal(kid.reason, null)
  assert.equal(t.signal.reason, null)
  assert.equal(await alive(kid.whenCancelled()), null)
  const g = new ErrGroup()
  await g.shutdown(0, null)
  assert.equal(g.token.reason, null)
  assert.equal(new CancelToken().withTimeout(0, null).reason, null)
})

test('CancelToken.any takes AbortSignals as well as tokens', async () => {
  const c = new AbortController()
  const t = new CancelToken()
  const either = CancelToken.any([t, c.signal])
  assert.equal(either.cancelled, false)
  const why = new Error('aborted')
  c.abort(why)
  assert.equal(either.cancelled, true)
  assert.equal(either.reason, why)
  assert.equal(CancelToken.any([AbortSignal.abort('x')]).reason, 'x')
})

test('util.inspect shows each object state', async () => {
  const t = new CancelToken()
  assert.equal(inspect(t), 'CancelToken { cancelled: false }')
  t.cancel('why')
  assert.equal(inspect(t), "CancelToken { cancelled: true, reason: 'why' }")
  const wg = new WaitGroup()
  wg.add(2)
  assert.equal(inspect(wg), 'WaitGroup { count: 2 }')
  const g = new ErrGroup({ limit: 3 })
  let release
  g.go(() => new Promise((r) => (release = r)))
  assert.equal(inspect(g), 'ErrGroup { active: 1, limit: 3, cancelled: false }')
  release()
  await alive(g.wait())
  assert.match(inspect({ nested: { deeper: { t } } }, { depth: 2 }), /t: \[CancelToken\]/)
})

test('gogroup objects cannot be cloned or posted: DataCloneError, with a hint', () => {
  const t = new CancelToken()
  const objects = [t, new WaitGroup(), new ErrGroup(), t.onCancel(() => {})]
  const { port1, port2 } = new MessageChannel()
  try {
    for (const o of objects) {
      assert.throws(
        () => structuredClone(o),
        (e) => e.name === 'DataCloneError' && /share\(\)|cannot be cloned/.test(e.message),
      )
      assert.throws(
        () => port1.postMessage({ o }),
        (e) => e.name === 'DataCloneError',
      )
    }
  } finally {
    port1.close()
    port2.close()
  }
  assert.equal(JSON.stringify(t), '{}')
})

test("a group's signal takes a listener per task without MaxListenersExceededWarning", async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const g = new ErrGroup()
    for (let i = 0; i < 20; i++) {
      g.go((token) => delay(60_000, undefined, { signal: token.signal }).catch(() => {}))
    }
    await g.shutdown(60_000)
    await new Promise((r) => setImmediate(r)) // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning)
  }
  assert.deepEqual(
    warnings.map((w) => w.name),
    [],
  )
})

test("collect: 'all' leaves out the cancellations the group's own first failure caused", async () => {
  const g = new ErrGroup({ collect: 'all' })
  const first = new Error('first')
  const own = new Error('a failure of its own')
  let fail
  g.go(() => new Promise((_, reject) => (fail = reject)))
  g.go((token) => delay(60_000, undefined, { signal: token.signal })) // Node's AbortError
  g.go((token) => token.whenCancelled().then(() => token.throwIfCancelled())) // the reason itself
  g.go((token) => token.whenCancelled().then(() => token.signal.throwIfAborted()))
  g.go((token) =>
    token.whenCancelled().then(() => {
      throw own
    }),
  )
  fail(first)
  const e = await alive(
    g.wait().then(
      () => null,
      (x) => x,
    ),
  )
  assert.ok(e instanceof AggregateError)
  assert.deepEqual(e.errors, [first, own])
  assert.deepEqual(g.errors(), [first, own])
})

test("collect: 'all' keeps the AbortErrors that a parent's cancel caused", async () => {
  const c = new AbortController()
  const g = new ErrGroup({ collect: 'all', signal: c.signal })
  for (let i = 0; i < 3; i++) g.go((token) => delay(60_000, undefined, { signal: token.signal }))
  c.abort()
  const e = await alive(
    g.wait().then(
      () => null,
      (x) => x,
    ),
  )
  assert.ok(e instanceof AggregateError)
  assert.equal(e.errors.length, 3)
  assert.ok(e.errors.every((x) => x.name === 'AbortError'))
})

test('stacks of thrown errors point at real files, and at the caller', () => {
  const wg = new WaitGroup()
  for (const call of [() => wg.add('x'), () => wg.done()]) {
    let e
    try {
      call()
    } catch (x) {
      e = x
    }
    // The first frame is the public method, in its module file (never code evaluated from a
    // string, `Object.error (<anonymous>)`), and the next is the caller.
    const [, top, caller] = e.stack.split('\n')
    assert.match(top, /at WaitGroup\.(add|done) \(.*lib[\\/]wait_group\.js:\d+:\d+\)$/)
    assert.match(caller, /surface\.test\.mjs/)
  }
})

test('every js example in the README parses on this Node (the minimum supported is 20)', async () => {
  const { readFileSync, mkdtempSync, writeFileSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const { run, here } = await import('./helpers.mjs')
  const readme = readFileSync(join(here, '..', 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.ok(blocks.length >= 2)
  const dir = mkdtempSync(join(tmpdir(), 'gogroup-readme-'))
  try {
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `block${i}.mjs`)
      writeFileSync(file, code)
      const r = await run(['--check', file])
      assert.equal(r.code, 0, `README js block ${i} does not parse:\n${r.stderr}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('index.d.ts declares exactly the members each class has at run time', async () => {
  const { readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { here } = await import('./helpers.mjs')
  const dts = readFileSync(join(here, '..', 'index.d.ts'), 'utf8')
  const wellKnown = new Map([
    [Symbol.dispose, '[Symbol.dispose]'],
    [Symbol.asyncDispose, '[Symbol.asyncDispose]'],
    [Symbol.iterator, '[Symbol.iterator]'],
  ])
  const name = (k) => (typeof k === 'symbol' ? (wellKnown.get(k) ?? `[${k.description}]`) : k)
  for (const [, cls, body] of dts.matchAll(/export declare class (\w+)[^{]*\{([\s\S]*?)\n\}/g)) {
    const declared = { instance: new Set(), static: new Set() }
    for (const [, isStatic, member] of body.matchAll(
      /^ {2}(static )?(?:get |set )?([\w$]+|\[Symbol\.\w+\])[<(]/gm,
    )) {
      if (member !== 'constructor') declared[isStatic ? 'static' : 'instance'].add(member)
    }
    const C = api[cls]
    const actual = {
      instance: new Set(
        Reflect.ownKeys(C.prototype)
          .filter((k) => k !== 'constructor' && k !== Symbol.toStringTag && k !== inspect.custom)
          .map(name),
      ),
      static: new Set(
        Reflect.ownKeys(C)
          .filter((k) => !['length', 'name', 'prototype'].includes(k))
          .map(name),
      ),
    }
    for (const kind of ['instance', 'static']) {
      assert.deepEqual(
        [...declared[kind]].sort(),
        [...actual[kind]].sort(),
        `${cls} ${kind} members`,
      )
    }
  }
  for (const [, fn] of dts.matchAll(/export declare function (\w+)/g))
    assert.equal(typeof api[fn], 'function', fn)
})
