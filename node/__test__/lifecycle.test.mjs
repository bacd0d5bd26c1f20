import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { here, run } from './helpers.mjs'

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
  const { warm, rounds } = JSON.parse(r.stdout)
  const glue = ({ values, pending, tasks, tokens, waitGroups }) => ({
    values,
    pending,
    tasks,
    tokens,
    waitGroups,
  })
  for (const after of rounds) {
    // What the glue holds (JS values kept by Rust, pending promises, unsettled tasks, tokens
    // and wait groups behind handles) is back to where it was after every round: nothing is
    // left per cycle.
    assert.deepEqual(glue(after), glue(warm))
    assert.ok(
      after.values <= 4 &&
        after.pending === 0 &&
        after.tasks === 0 &&
        after.tokens <= 4 &&
        after.waitGroups <= 4,
      JSON.stringify(after),
    )
  }
  const last = rounds[rounds.length - 1]
  assert.ok(last.heap - warm.heap < 2 * 1024 * 1024, `heap grew by ${last.heap - warm.heap} bytes`)
  // The process's size moves by tens of MB from one measurement to the next on its own (the
  // allocators and V8 return memory when they please), but a leak grows it in EVERY round: the
  // smallest growth of three rounds stays under 16 MB unless each cycle leaks ~160 bytes.
  const growths = rounds.map((x, i) => x.rss - (i === 0 ? warm : rounds[i - 1]).rss)
  assert.ok(Math.min(...growths) < 16 * 1024 * 1024, `rss grew in every round: ${growths}`)
})
