// The example gogroup was born from, for Node: a product page needs a price and an
// availability, fetched concurrently from two services with `fetch`, and the first failure
// must stop the other request at once.
//
// The two "services" are a local HTTP server: /price answers slowly, /availability answers
// fast, or fails with a 503 in run 2. Every task receives the group's token and passes
// `token.signal` to `fetch`, so cancelling the group aborts the request in flight. The whole
// page also takes a caller's AbortSignal (`AbortSignal.timeout`, as a web framework would).
//
// Run 1: both services answer.
// Run 2: availability fails; `wait()` rejects with the very error the task threw, the slow
// price request is aborted at once (the server sees the connection close), and the caller's
// signal is left alone.
// Run 3: `await using`-style cleanup with Symbol.asyncDispose and a WaitGroup fan-out.
// Run 4: values from tasks: the page again with `run()` (a promise of each task's value),
// then a catalogue of prices with `map()` under a limit; one unknown SKU fails the whole map.
//
// Exits with 0 when everything behaved as described (a failed assertion otherwise).
// `make demo-node` runs it; alone: `node examples/node/price_availability.mjs`.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { CancelToken, ErrGroup, WaitGroup } from '../../node/index.js'

const PRICE_LATENCY_MS = 3000

class ServiceUnavailable extends Error {}

// The two services. `failAvailability` switches run 2's outage on.
let failAvailability = false
let priceLatencyMs = 40
let priceAborted
const priceAbortedSeen = new Promise((r) => (priceAborted = r))
let catalogueInFlight = 0
let catalogueMostInFlight = 0
let slowAborted
const slowAbortedSeen = new Promise((r) => (slowAborted = r))
const server = createServer((req, res) => {
  const sku = /^\/sku\/(\w+)$/.exec(req.url)?.[1]
  if (sku === 'unknown') {
    res.writeHead(404).end('Not Found')
  } else if (sku === 'slow') {
    res.on('close', () => slowAborted(req.url)) // answers only when aborted
  } else if (sku !== undefined) {
    catalogueMostInFlight = Math.max(catalogueMostInFlight, ++catalogueInFlight)
    setTimeout(() => {
      catalogueInFlight-- // before the answer leaves, so the next request cannot overlap it
      res.end(JSON.stringify({ sku, cents: 100 * sku.length }))
    }, 5)
  } else if (req.url === '/price') {
    const timer = setTimeout(() => res.end(JSON.stringify({ cents: 1999 })), priceLatencyMs)
    res.on('close', () => {
      if (!res.writableFinished) {
        clearTimeout(timer)
        priceAborted(req.url)
      }
    })
  } else if (failAvailability) {
    res.writeHead(503).end('Service Unavailable')
  } else {
    setTimeout(() => res.end(JSON.stringify({ inStock: 7 })), 20)
  }
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const base = `http://127.0.0.1:${server.address().port}`

/** GET a JSON document; aborts with the token's reason when the group is cancelled. */
async function getJson(token, path) {
  const res = await fetch(base + path, { signal: token.signal })
  if (!res.ok) throw new ServiceUnavailable(`${path}: ${res.status} ${res.statusText}`)
  return res.json()
}

/** The page: both fetches in one group, bounded by the caller's signal. */
async function productPage(signal) {
  const group = new ErrGroup({ signal, limit: 2 })
  const page = {}
  group.go(async (token) => {
    page.price = (await getJson(token, '/price')).cents
  })
  group.go(async (token) => {
    page.stock = (await getJson(token, '/availability')).inStock
  })
  await group.wait()
  return page
}

console.log('run 1: both services answer')
{
  const started = performance.now()
  const page = await productPage(AbortSignal.timeout(10_000))
  console.log(`  page ${JSON.stringify(page)} after ${(performance.now() - started).toFixed(0)} ms`)
  assert.deepEqual(page, { price: 1999, stock: 7 })
}

console.log('run 2: the availability service fails fast')
{
  failAvailability = true
  priceLatencyMs = PRICE_LATENCY_MS
  const caller = new AbortController()
  const started = performance.now()
  const err = await productPage(caller.signal).catch((e) => e)
  const took = performance.now() - started
  console.log(`  wait() rejected after ${took.toFixed(0)} ms with ${err}`)
  assert.ok(err instanceof ServiceUnavailable, 'wait() rejects with the error the task threw')
  assert.ok(took < PRICE_LATENCY_MS / 2, 'the slow price request was aborted, not awaited')
  assert.equal(await priceAbortedSeen, '/price', 'the server saw the price request aborted')
  assert.equal(caller.signal.aborted, false, "the group never cancels the caller's signal")
  failAvailability = false
}

console.log('run 3: a token tree, a WaitGroup fan-out and Symbol.asyncDispose')
{
  const root = new CancelToken()
  const request = root.withTimeout(50)
  const reason = await request.whenCancelled()
  console.log(`  the request timed out: ${reason.name}; root cancelled: ${root.cancelled}`)
  assert.equal(reason.name, 'TimeoutError')
  assert.equal(root.cancelled, false)

  const wg = new WaitGroup()
  let sum = 0
  for (let i = 1; i <= 1000; i++)
    wg.go(async () => {
      await null
      sum += i
    })
  await wg.wait()
  console.log(`  1000 async tasks with WaitGroup.go: sum ${sum}`)
  assert.equal(sum, 500500)

  const group = new ErrGroup()
  let stopped = false
  group.go(async (token) => {
    await token.whenCancelled()
    stopped = true
  })
  await group[Symbol.asyncDispose]() // what `await using group = new ErrGroup()` does
  console.log(`  disposing the group cancelled and awaited its task: ${stopped}`)
  assert.equal(stopped, true)
}

console.log('run 4: values from tasks with run() and map()')
{
  priceLatencyMs = 40
  const group = new ErrGroup({ limit: 2 })
  const price = group.run(async (token) => (await getJson(token, '/price')).cents)
  const stock = group.run(async (token) => (await getJson(token, '/availability')).inStock)
  const page = { price: await price, stock: await stock }
  console.log(`  page ${JSON.stringify(page)} from two run() promises`)
  assert.deepEqual(page, { price: 1999, stock: 7 })

  const skus = ['apple', 'kiwi', 'banana', 'fig', 'cherry', 'plum']
  const prices = await group.map(
    skus,
    async (sku, _i, token) => (await getJson(token, `/sku/${sku}`)).cents,
  )
  console.log(
    `  map() over ${skus.length} SKUs, at most ${catalogueMostInFlight} requests at once: ${prices}`,
  )
  assert.deepEqual(
    prices,
    skus.map((s) => 100 * s.length),
    'in input order',
  )
  assert.ok(catalogueMostInFlight <= 2, "the group's limit")
  await group.wait()

  let asked = 0
  function* catalogue() {
    for (const sku of ['slow', 'unknown', 'lime', 'mango', 'peach']) {
      asked++
      yield sku
    }
  }
  const failing = new ErrGroup({ limit: 2 })
  const err = await failing
    .map(catalogue(), (sku, _i, token) => getJson(token, `/sku/${sku}`))
    .catch((e) => e)
  await assert.rejects(failing.wait(), (e) => e === err)
  console.log(`  map() rejected with ${err}; items read from the generator: ${asked} of 5`)
  assert.ok(err instanceof ServiceUnavailable, 'map rejects with the very error the task threw')
  assert.equal(asked, 2, 'no item is taken once the first failure cancelled the group')
  assert.equal(
    await slowAbortedSeen,
    '/sku/slow',
    'the request in flight was aborted through token.signal',
  )
}

server.closeAllConnections()
server.close()
console.log('\nprice_availability (node): behaved as expected')
