import assert from 'node:assert/strict'
import { once } from 'node:events'
import { join } from 'node:path'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { CancelToken, WaitGroup } from '../index.js'
import { alive, here } from './helpers.mjs'

function worker(file, workerData) {
  const w = new Worker(join(here, 'fixtures', file), { workerData })
  const messages = []
  const waiters = []
  w.on('message', (m) => {
    messages.push(m)
    for (const f of waiters.splice(0)) f()
  })
  const next = async () => {
    while (messages.length === 0) {
      await alive(new Promise((r) => waiters.push(r)), 30000, 'a message from the worker')
    }
    return messages.shift()
  }
  return { w, next, exited: once(w, 'exit') }
}

test('cancel on the main thread wakes waitSync in a worker at once', async () => {
  const token = new CancelToken()
  const { next, exited } = worker('worker_token.mjs', { shared: token.share(), mode: 'sync' })
  assert.deepEqual(await next(), { ready: true })
  token.cancel(new Error('stop now'))
  assert.deepEqual(await next(), { cancelled: true, message: 'stop now' })
  assert.deepEqual(await alive(exited), [0])
})

test('cancel on the main thread resolves a promise in a worker', async () => {
  const token = new CancelToken()
  const { next, exited } = worker('worker_token.mjs', { shared: token.share(), mode: 'async' })
  assert.deepEqual(await next(), { ready: true })
  token.cancel()
  // Another thread sees the cause, not this thread's JS reason: a fresh AbortError.
  assert.deepEqual(await next(), {
    cancelled: true,
    name: 'AbortError',
    message: 'This operation was aborted',
  })
  await alive(exited)
})

test('done() in workers resolves wait() on the main thread: the same counter', async () => {
  const wg = new WaitGroup()
  wg.add(8)
  const p = wg.wait()
  const shared = wg.share()
  const workers = [
    worker('worker_wait_group.mjs', { shared, mode: 'done', n: 4 }),
    worker('worker_wait_group.mjs', { shared, mode: 'done', n: 4 }),
  ]
  assert.equal(await alive(p), true)
  assert.equal(wg.count, 0)
  await alive(Promise.all(workers.map((w) => w.exited)))
})

test('waitSync in a worker returns when the main thread finishes the work', async () => {
  const wg = new WaitGroup()
  wg.add(1)
  const { next, exited } = worker('worker_wait_group.mjs', { shared: wg.share(), mode: 'waitSync' })
  assert.deepEqual(await next(), { ready: true })
  wg.done()
  assert.deepEqual(await next(), { zero: true })
  await alive(exited)
})

test('cancel in a worker cancels the main thread token and aborts its signal', async () => {
  const token = new CancelToken()
  const s = token.signal
  const aborted = once(s, 'abort')
  const wg = new WaitGroup()
  const { exited } = worker('worker_wait_group.mjs', {
    shared: wg.share(),
    token: token.share(),
    mode: 'cancel',
  })
  await alive(aborted)
  assert.equal(token.cancelled, true)
  // The reason was a worker's JS value: here it is an Error carrying its text.
  assert.equal(token.reason.message, 'from worker')
  assert.equal(token.reason.code, 'GOGROUP_CUSTOM')
  await alive(exited)
})
