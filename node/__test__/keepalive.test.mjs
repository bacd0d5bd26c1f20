// Issue 12, point 2: which pending calls keep the event loop alive. A wait with a timeout does
// until it settles (as `await setTimeout(30)` does); a token's deadline alone does not (as
// `AbortSignal.timeout`); an unbounded wait is any unsettled promise, unless `{ ref: true }`.
// Each case is a script in a child process: its exit is what is tested. Exit code 13 is Node's
// "unsettled top-level await": the loop had nothing left that kept it alive.

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { join } from 'node:path'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { CancelToken } from '../index.js'
import { alive, here, run } from './helpers.mjs'

const PRELUDE = "import { WaitGroup, ErrGroup, CancelToken } from '../index.js';\n"

/** Runs `src` as an ES module in a child process (killed after `ms`). */
const script = (src, ms = 30000) =>
  run(['--unhandled-rejections=strict', '--input-type=module', '-e', PRELUDE + src], { ms })

/** Asserts the script ran to its end by itself, printing `out`. */
function finished(r, out) {
  assert.equal(r.signal, null, `killed after ${r.ms} ms: something kept the loop alive`)
  assert.equal(r.stderr, '')
  assert.equal(r.code, 0)
  assert.equal(r.stdout.trim(), out)
}

/** Asserts the loop emptied while the top-level await was still pending. */
function exitedEarly(r) {
  assert.equal(r.signal, null, `killed after ${r.ms} ms: something kept the loop alive`)
  assert.equal(r.code, 13, r.stderr)
  assert.equal(r.stdout, '')
}

test('WaitGroup.wait({ timeout }) keeps the process alive and resolves false when it passes', async () => {
  finished(
    await script(
      'const wg = new WaitGroup(); wg.add(1); console.log(await wg.wait({ timeout: 30 }))',
    ),
    'false',
  )
})

test('ErrGroup.wait({ timeout }) keeps the process alive and rejects with GOGROUP_TIMEOUT', async () => {
  const src = `const g = new ErrGroup(); g.go(() => new Promise(() => {}));
    console.log(await g.wait({ timeout: 30 }).catch((e) => e.code))`
  finished(await script(src), 'GOGROUP_TIMEOUT')
})

test('shutdown(graceMs) keeps the process alive until the grace period ends', async () => {
  finished(
    await script(
      'const g = new ErrGroup(); g.go(() => new Promise(() => {})); console.log(await g.shutdown(30))',
    ),
    '1',
  )
})

test('{ ref: false } lets a timed wait leave the loop free', async () => {
  // A wait of a minute that held the loop would be killed at 20 s.
  exitedEarly(
    await script(
      'const wg = new WaitGroup(); wg.add(1); await wg.wait({ timeout: 60000, ref: false }); console.log("resolved")',
      20000,
    ),
  )
  const src = `const g = new ErrGroup(); g.go(() => new Promise(() => {}));
    await g.wait({ timeout: 60000, ref: false }).catch(() => {}); console.log("settled")`
  exitedEarly(await script(src, 20000))
})

// Something settles each wait 50 ms later from core's timer thread through the loop (a
// token's deadline and an `onCancel` callback), which on its own keeps nothing alive.
const LATER = 'const later = (f) => new CancelToken().withTimeout(50).onCancel(() => f());\n'

test('an unbounded WaitGroup.wait() keeps nothing alive; with { ref: true } it does until it settles', async () => {
  const src = (opts) => `${LATER} const wg = new WaitGroup(); wg.add(1); later(() => wg.done());
    console.log(await wg.wait(${opts}))`
  exitedEarly(await script(src('')))
  finished(await script(src('{ ref: true }')), 'true')
  // A timed wait that the group settles first lets the loop go at once: its timer is dropped.
  finished(await script(src('{ timeout: 60000 }')), 'true')
})

test('an unbounded ErrGroup.wait() keeps nothing alive; with { ref: true } it does until it settles', async () => {
  const src = (
    opts,
  ) => `${LATER} const g = new ErrGroup(); g.go(() => new Promise((r) => later(r)));
    await g.wait(${opts}); console.log('done')`
  exitedEarly(await script(src('')))
  finished(await script(src('{ ref: true }')), 'done')
})

test("a token's deadline alone keeps nothing alive (as AbortSignal.timeout)", async () => {
  exitedEarly(
    await script(
      'const r = await new CancelToken().withTimeout(50).whenCancelled(); console.log(r.name)',
    ),
  )
})

test('whenCancelled({ ref: true }) keeps the process alive until the token is cancelled', async () => {
  finished(
    await script(
      'const r = await new CancelToken().withTimeout(50).whenCancelled({ ref: true }); console.log(r.name)',
    ),
    'TimeoutError',
  )
})

test('a script with unbounded waits and whenCancelled pending exits by itself', async () => {
  const src = `const wg = new WaitGroup(); wg.add(1); void wg.wait(); void wg.wait({ signal: new AbortController().signal })
    const g = new ErrGroup(); g.go(() => new Promise(() => {})); void g.wait(); void g[Symbol.asyncDispose]()
    const t = new CancelToken(); void t.whenCancelled(); void t.withTimeout(3_600_000).whenCancelled()
    void new WaitGroup().wait({ timeout: 3_600_000, ref: false }).then(() => {}, () => {})
    console.log('end')`
  finished(await script(src), 'end')
})

function worker(data) {
  const w = new Worker(join(here, 'fixtures', 'worker_ref.mjs'), { workerData: data })
  const messages = []
  const waiters = []
  w.on('message', (m) => {
    messages.push(m)
    for (const f of waiters.splice(0)) f()
  })
  const exited = once(w, 'exit')
  const next = async () => {
    while (messages.length === 0)
      await alive(new Promise((r) => waiters.push(r)), 30000, 'a message from the worker')
    return messages.shift()
  }
  return { next, exited }
}

test('a worker awaiting whenCancelled({ ref: true }) on a shared token stays until the main thread cancels it', async () => {
  const token = new CancelToken()
  const { next, exited } = worker({ shared: token.share(), ref: true })
  assert.equal(await next(), 'waiting')
  token.cancel(new Error('stop'))
  assert.deepEqual(await next(), { resolved: true, message: 'stop' })
  assert.deepEqual(await alive(exited), [0])
})

test('a worker awaiting whenCancelled() without ref exits when nothing else keeps it alive', async () => {
  const token = new CancelToken()
  const { next, exited } = worker({ shared: token.share(), ref: false })
  assert.equal(await next(), 'waiting')
  // Its loop emptied with the top-level await pending (Node's exit code 13), before anything
  // cancelled the token.
  assert.deepEqual(await alive(exited), [13])
  assert.equal(token.cancelled, false)
})
