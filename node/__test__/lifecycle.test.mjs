import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { run, here } from './helpers.mjs'

const fixture = (f) => join(here, 'fixtures', f)

test('a script that finishes its work exits by itself (nothing keeps the loop alive)', async () => {
  const r = await run(['--unhandled-rejections=strict', fixture('finishes.mjs')])
  assert.equal(r.signal, null, `killed after ${r.ms} ms: something kept the process alive`)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'finished')
  assert.equal(r.stderr, '') // no warning, no unhandled rejection
})

test('CommonJS require works and the script exits by itself', async () => {
  const r = await run(['--unhandled-rejections=strict', fixture('finishes.cjs')])
  assert.equal(r.signal, null, 'killed: the process did not exit by itself')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'cjs 8')
})

test('100,000 create/drop cycles do not grow the heap or the process', async () => {
  const r = await run(['--expose-gc', fixture('heap.mjs')], { ms: 180000 })
  assert.equal(r.code, 0, r.stderr)
  const { heapGrowth, rssGrowth, before, after } = JSON.parse(r.stdout)
  // What the glue holds (JS values kept by Rust, pending promises, unsettled tasks) is back
  // to where it was: nothing is left behind per cycle.
  assert.deepEqual(after, before)
  assert.ok(after.values <= 4 && after.pending === 0 && after.tasks === 0, JSON.stringify(after))
  // A leak of one small object per cycle would be several MB over 100,000 cycles.
  assert.ok(heapGrowth < 2 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`)
  assert.ok(rssGrowth < 16 * 1024 * 1024, `rss grew by ${rssGrowth} bytes`)
})
