// Node side of gogroup's side-by-side benchmarks (bench/run.sh runs it in every round).
//
// gogroup's Node binding against what Node programmers use instead: Promise.all, a plain-JS
// Promise-based WaitGroup, AbortController / AbortSignal.any, p-limit (pinned in
// node/bench/package.json, installed by `make bench-deps`), and for run/map the limiters
// people write by hand (a promise semaphore, a pool of async workers). Workload names are those of
// bench/src/main.rs where the shape is the same; tasks are async no-op functions. One JSON line
// per result:
//   {"lang":"node","impl":"gogroup","workload":"go_wait_noop","ns_per_op":812.3,"ops":120000,"round":0}
//   {"lang":"node","impl":"gogroup","kind":"latency","workload":"latency_cancel_promise","p50_ns":..,"p99_ns":..}
//
// Harness (as the Rust one): warm up while sizing the iteration count so that one measurement
// takes about --target-ms, then measure once; the implementations' order alternates by round.
//
// Usage: node --expose-gc node/bench/bench.mjs [--rounds N] [--round-start K] [--filter S[,S]]
//        [--quick] [--target-ms MS] [--latency-samples N] [--blocking]
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import pLimit from 'p-limit'

// bench/run.sh runs a private copy of the binding (GOGROUP_BENCH_NODE_DIR), so that a rebuild in
// the shared working tree cannot change or unmap it mid-run; alone, this uses node/.
const bindingPath = join(
  process.env.GOGROUP_BENCH_NODE_DIR ?? fileURLToPath(new URL('..', import.meta.url)),
  'index.js',
)
const { WaitGroup, ErrGroup, CancelToken } = createRequire(import.meta.url)(bindingPath)

function argValue(name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}
const quick = process.argv.includes('--quick')
const rounds = Number(argValue('rounds', 1))
const roundStart = Number(argValue('round-start', 0))
const filters = String(argValue('filter', '')).split(',').filter(Boolean)
const targetNs = (quick ? 10 : Number(argValue('target-ms', 150))) * 1e6
const latencySamples = quick ? 20 : Number(argValue('latency-samples', 200))
const selected = (name) => filters.length === 0 || filters.some((f) => name.includes(f))

const TASKS_PER_BATCH = quick ? 1_000 : 10_000 // quick: a smoke run, numbers meaningless
const CHILDREN = 100

/** The plain-JS peer: a Promise-based WaitGroup, as people write it. */
class JsWaitGroup {
  #n = 0
  #waiters = []
  add(d = 1) {
    this.#n += d
  }
  done() {
    if (--this.#n === 0) {
      const w = this.#waiters
      this.#waiters = []
      for (const r of w) r()
    }
  }
  go(fn) {
    this.#n++
    fn().then(this.#settle, this.#settle)
  }
  #settle = () => this.done()
  wait() {
    return this.#n === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r))
  }
}

const noop = async () => {}
const batches = (n) => Math.max(1, Math.ceil(n / TASKS_PER_BATCH))
const ITEMS = Array.from({ length: TASKS_PER_BATCH }, (_, i) => i)
const LIMIT = 8

/** The limiter people write by hand for run-style calls: a counting semaphore over promises. */
function semaphore(n) {
  let active = 0
  const queue = []
  return async (fn) => {
    if (active >= n) await new Promise((resolve) => queue.push(resolve))
    else active++
    try {
      return await fn()
    } finally {
      const next = queue.shift()
      if (next)
        next() // the slot passes to the next caller
      else active--
    }
  }
}

/** The p-map people write by hand: `n` async workers taking the next index. */
async function workerPool(items, n, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

/** Runs `batch()` (async) for ceil(n / TASKS_PER_BATCH) batches. */
const batched = (batch) => async (n) => {
  const b = batches(n)
  for (let i = 0; i < b; i++) await batch()
  return b * TASKS_PER_BATCH
}

let sink = 0

// biome-ignore format: a table laid out by hand, one [workload, [[impl, fn], ...]] per entry
const WORKLOADS = [
  ['wg_add_done_1t', [
    ['gogroup', (n) => {
      const wg = new WaitGroup()
      for (let i = 0; i < n; i++) { wg.add(1); wg.done() }
      return n
    }],
    ['plain-js WaitGroup', (n) => {
      const wg = new JsWaitGroup()
      for (let i = 0; i < n; i++) { wg.add(1); wg.done() }
      return n
    }],
  ]],
  ['go_wait_noop', [
    ['gogroup', batched(async () => {
      const wg = new WaitGroup()
      for (let i = 0; i < TASKS_PER_BATCH; i++) wg.go(noop)
      await wg.wait()
    })],
    ['plain-js WaitGroup', batched(async () => {
      const wg = new JsWaitGroup()
      for (let i = 0; i < TASKS_PER_BATCH; i++) wg.go(noop)
      await wg.wait()
    })],
    ['Promise.all', batched(async () => {
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = noop()
      await Promise.all(ps)
    })],
  ]],
  ['errgroup_go_wait', [
    ['gogroup', batched(async () => {
      const g = new ErrGroup()
      for (let i = 0; i < TASKS_PER_BATCH; i++) g.go(noop)
      await g.wait()
    })],
    ['Promise.all', batched(async () => {
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = noop()
      await Promise.all(ps)
    })],
  ]],
  ['errgroup_go_wait_limit2', [
    ['gogroup', batched(async () => {
      const g = new ErrGroup({ limit: 2 })
      for (let i = 0; i < TASKS_PER_BATCH; i++) g.go(noop)
      await g.wait()
    })],
    ['p-limit', batched(async () => {
      const limit = pLimit(2)
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = limit(noop)
      await Promise.all(ps)
    })],
  ]],
  // Values from tasks (ErrGroup.run / ErrGroup.map), as the caller awaits them.
  ['errgroup_run_noop', [
    ['gogroup', batched(async () => {
      const g = new ErrGroup()
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = g.run(noop)
      await Promise.all(ps)
    })],
    ['Promise.all', batched(async () => {
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = noop()
      await Promise.all(ps)
    })],
  ]],
  ['errgroup_run_noop_limit8', [
    ['gogroup', batched(async () => {
      const g = new ErrGroup({ limit: LIMIT })
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = g.run(noop)
      await Promise.all(ps)
    })],
    ['p-limit', batched(async () => {
      const limit = pLimit(LIMIT)
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = limit(noop)
      await Promise.all(ps)
    })],
    ['semaphore + Promise.all', batched(async () => {
      const limit = semaphore(LIMIT)
      const ps = new Array(TASKS_PER_BATCH)
      for (let i = 0; i < TASKS_PER_BATCH; i++) ps[i] = limit(noop)
      await Promise.all(ps)
    })],
  ]],
  ['errgroup_map_noop', [
    ['gogroup', batched(async () => {
      await new ErrGroup().map(ITEMS, noop)
    })],
    ['Promise.all', batched(async () => {
      await Promise.all(ITEMS.map(noop))
    })],
  ]],
  ['errgroup_map_noop_limit8', [
    ['gogroup', batched(async () => {
      await new ErrGroup({ limit: LIMIT }).map(ITEMS, noop)
    })],
    ['p-limit', batched(async () => {
      const limit = pLimit(LIMIT)
      await Promise.all(ITEMS.map((x) => limit(noop, x)))
    })],
    ['worker pool', batched(async () => {
      await workerPool(ITEMS, LIMIT, noop)
    })],
  ]],
  ['errgroup_map_noop_maplimit8', [
    ['gogroup', batched(async () => {
      await new ErrGroup().map(ITEMS, noop, { limit: LIMIT })
    })],
    ['p-limit', batched(async () => {
      const limit = pLimit(LIMIT)
      await Promise.all(ITEMS.map((x) => limit(noop, x)))
    })],
    ['worker pool', batched(async () => {
      await workerPool(ITEMS, LIMIT, noop)
    })],
  ]],
  ['token_new_cancel', [
    ['gogroup', (n) => {
      for (let i = 0; i < n; i++) new CancelToken().cancel()
      return n
    }],
    ['AbortController', (n) => {
      for (let i = 0; i < n; i++) new AbortController().abort()
      return n
    }],
  ]],
  ['token_child_new_cancel', [
    ['gogroup', (n) => {
      const root = new CancelToken()
      for (let i = 0; i < n; i++) root.child().cancel()
      return n
    }],
    ['AbortController + AbortSignal.any', (n) => {
      // A child with a cancel of its own: its controller, linked to the parent's signal.
      const root = new AbortController()
      for (let i = 0; i < n; i++) {
        const own = new AbortController()
        const signal = AbortSignal.any([root.signal, own.signal])
        own.abort()
        sink += signal.aborted ? 1 : 0
      }
      return n
    }],
  ]],
  ['token_cancel_100_children', [
    ['gogroup', (n) => {
      for (let i = 0; i < n; i++) {
        const root = new CancelToken()
        const kids = []
        for (let k = 0; k < CHILDREN; k++) kids.push(root.child())
        root.cancel()
        if (!kids[CHILDREN - 1].cancelled) throw new Error('not propagated')
      }
      return n
    }],
    ['AbortController + AbortSignal.any', (n) => {
      for (let i = 0; i < n; i++) {
        const root = new AbortController()
        const kids = []
        for (let k = 0; k < CHILDREN; k++) kids.push(AbortSignal.any([root.signal]))
        root.abort()
        if (!kids[CHILDREN - 1].aborted) throw new Error('not propagated')
      }
      return n
    }],
  ]],
  ['token_is_cancelled_live', [
    ['gogroup', (n) => {
      const t = new CancelToken()
      let c = 0
      for (let i = 0; i < n; i++) if (t.cancelled) c++
      sink += c
      return n
    }],
    ['AbortController', (n) => {
      const s = new AbortController().signal
      let c = 0
      for (let i = 0; i < n; i++) if (s.aborted) c++
      sink += c
      return n
    }],
  ]],
]

// ---- latency ------------------------------------------------------------------------------

const SETTLE_MS = 1
const now = () => process.hrtime.bigint()

/** A promise waiter on this thread's event loop: `wait()` returns the promise awaited. */
async function promiseSample(release, wait) {
  let woke = 0n
  const p = wait().then(() => {
    woke = now()
  })
  await sleep(SETTLE_MS)
  const t0 = now()
  release()
  await p
  return Number(woke - t0)
}

// One worker for the worker cases: it blocks (token.waitSync() or Atomics.wait) and stores the
// time it woke in shared memory. process.hrtime is the same monotonic clock in every thread.
const WORKER_SRC = `
const { parentPort } = require('node:worker_threads')
const { CancelToken } = require(${JSON.stringify(bindingPath)})
parentPort.on('message', ({ kind, shared, sab }) => {
  const woke = new BigInt64Array(sab, 0, 1)
  const flag = new Int32Array(sab, 8, 1)
  if (kind === 'gogroup') {
    const t = CancelToken.fromShared(shared)
    parentPort.postMessage('ready')
    t.waitSync()
  } else {
    parentPort.postMessage('ready')
    Atomics.wait(flag, 0, 0)
  }
  woke[0] = process.hrtime.bigint()
  parentPort.postMessage('woke')
})
`
let worker = null
function getWorker() {
  if (!worker) {
    worker = new Worker(WORKER_SRC, { eval: true })
    worker.unref()
  }
  return worker
}
function nextMessage(w) {
  return new Promise((resolve) => w.once('message', resolve))
}

async function workerSample(kind) {
  const w = getWorker()
  const sab = new SharedArrayBuffer(16)
  const token = kind === 'gogroup' ? new CancelToken() : null
  const ready = nextMessage(w)
  w.postMessage({ kind, shared: token ? token.share() : 0, sab })
  await ready
  const wokeMsg = nextMessage(w)
  await sleep(SETTLE_MS)
  const t0 = now()
  if (token) {
    token.cancel()
  } else {
    const flag = new Int32Array(sab, 8, 1)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  }
  await wokeMsg
  return Number(new BigInt64Array(sab, 0, 1)[0] - t0)
}

// biome-ignore format: a table laid out by hand, one [workload, impl, sample] per entry
const LATENCY = [
  ['latency_cancel_promise', 'gogroup', () => {
    const t = new CancelToken()
    return promiseSample(() => t.cancel(), () => t.whenCancelled())
  }],
  ['latency_cancel_promise', 'AbortController', () => {
    const c = new AbortController()
    return promiseSample(() => c.abort(), () => new Promise((resolve) => {
      c.signal.addEventListener('abort', resolve, { once: true })
    }))
  }],
  ['latency_done_promise', 'gogroup', () => {
    const wg = new WaitGroup()
    wg.add(1)
    return promiseSample(() => wg.done(), () => wg.wait())
  }],
  ['latency_done_promise', 'plain-js WaitGroup', () => {
    const wg = new JsWaitGroup()
    wg.add(1)
    return promiseSample(() => wg.done(), () => wg.wait())
  }],
  ['latency_cancel_worker', 'gogroup', () => workerSample('gogroup')],
  ['latency_cancel_worker', 'Atomics.wait/notify', () => workerSample('atomics')],
]

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p) => s[Math.min(Math.max(Math.ceil(p * s.length), 1), s.length) - 1]
  return [at(0.5), at(0.99)]
}

// ---- harness ------------------------------------------------------------------------------

async function timeIt(run, n) {
  const t0 = now()
  const ops = await run(n)
  return [Number(now() - t0), ops]
}

async function calibrate(run) {
  let n = 1
  for (;;) {
    let [d, ops] = await timeIt(run, n)
    n = Math.max(n, ops)
    d = Math.max(d, 1)
    if (d >= targetNs / 4) return Math.max(1, Math.floor((n * targetNs) / d))
    n = Math.max(n + 1, Math.min(n * 100, Math.floor((1.5 * n * targetNs) / d)))
  }
}

async function measure(run) {
  let n = await calibrate(run)
  for (let attempt = 1; ; attempt++) {
    // Let napi finalizers (deferred to the loop) free the last run, then collect.
    await new Promise((resolve) => setImmediate(resolve))
    globalThis.gc?.()
    const [d, ops] = await timeIt(run, n)
    if (d >= targetNs / 2 || attempt >= 6) return [d, ops]
    n = Math.max(ops + 1, Math.min(ops * 100, Math.floor((ops * targetNs) / Math.max(d, 1))))
  }
}

const emit = (line) => console.log(JSON.stringify({ lang: 'node', ...line }))

// ---- blocking tasks -----------------------------------------------------------------------
//
// blocking_sleep_50ms (see bench/src/blocking.rs): N tasks that each wait 50 ms, all started,
// then one wait. In Node a task cannot block a thread of its own: the "blocking" task is an async
// function awaiting a 50 ms timer, run by gogroup's `WaitGroup.go` vs `Promise.all`. Thread count
// of the process from /proc/self/status, sampled by a 1 ms interval timer on this thread (the
// tasks yield to it); CPU time of the process over the 200 ms after the wait, idle.
// Every case runs in a fresh process (`--blocking-case WORKLOAD:IMPL:N`).

const procThreads = () =>
  Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? 0)
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e3
}
const BLOCK_MS = 50
const IDLE_WINDOW_MS = 200
const SLEEP_IMPLS = {
  gogroup: async (n) => {
    const wg = new WaitGroup()
    for (let i = 0; i < n; i++) wg.go(() => sleep(BLOCK_MS))
    await wg.wait()
  },
  'Promise.all': async (n) => {
    const ps = new Array(n)
    for (let i = 0; i < n; i++) ps[i] = sleep(BLOCK_MS)
    await Promise.all(ps)
  },
}

async function blockingCase(c) {
  const [workload, impl, nText] = c.split(':')
  const n = Number(nText)
  const run = workload === 'blocking_sleep_50ms' ? SLEEP_IMPLS[impl] : undefined
  if (!run) throw new Error(`unknown blocking case ${c}`)
  const out = { impl, kind: 'blocking', workload, n, threads_before: procThreads() }
  let peak = out.threads_before
  const timer = setInterval(() => {
    peak = Math.max(peak, procThreads())
  }, 1)
  const t0 = now()
  await run(n)
  out.seconds = Number(now() - t0) / 1e9
  clearInterval(timer)
  out.threads_after = procThreads()
  out.peak_threads = Math.max(peak, out.threads_after)
  const cpu0 = cpuMs()
  const w0 = now()
  await sleep(IDLE_WINDOW_MS)
  out.idle_cpu_ms = cpuMs() - cpu0
  out.idle_window_ms = Number(now() - w0) / 1e6
  emit(out)
}

if (argValue('blocking-case', '')) {
  await blockingCase(argValue('blocking-case', ''))
  process.exit(0)
}
if (process.argv.includes('--blocking')) {
  const script = fileURLToPath(import.meta.url)
  if (selected('blocking_sleep_50ms')) {
    for (const n of quick ? [100, 1_000] : [100, 1_000, 10_000]) {
      for (const impl of Object.keys(SLEEP_IMPLS)) {
        const args = ['--expose-gc', script, '--blocking-case', `blocking_sleep_50ms:${impl}:${n}`]
        const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
        if (r.status !== 0) throw new Error(`blocking case ${impl} ${n} failed: ${r.status}`)
      }
    }
  }
  process.exit(0)
}

for (let r = 0; r < rounds; r++) {
  const round = roundStart + r
  for (const [workload, impls] of WORKLOADS) {
    if (!selected(workload)) continue
    for (const [impl, run] of round % 2 === 0 ? impls : [...impls].reverse()) {
      const [d, ops] = await measure(run)
      emit({ impl, workload, ns_per_op: d / ops, ops, round })
    }
  }
  const cases = LATENCY.filter(([w]) => selected(w))
  if (round % 2 === 1) cases.reverse()
  const got = cases.map(() => [])
  for (let i = 0; i < latencySamples; i++) {
    for (let c = 0; c < cases.length; c++) got[c].push(await cases[c][2]())
  }
  cases.forEach(([workload, impl], c) => {
    const [p50, p99] = percentiles(got[c])
    emit({
      impl,
      kind: 'latency',
      workload,
      p50_ns: p50,
      p99_ns: p99,
      samples: got[c].length,
      round,
    })
  })
}
if (worker) await worker.terminate()
if (sink === -1) console.error('unreachable')
