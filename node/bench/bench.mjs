// Side-by-side benchmark of the Node binding, one run, JSON lines on stdout:
//   {"lang":"node","impl":"gogroup"|"plain-js"|"AbortController",...,"workload":...,"ns_per_op":...}
// Workloads (issue 5, "Speed"):
//   go_wait_async_noop   WaitGroup.go(async no-op) + one wait, per task; ErrGroup.go too
//   token_create_cancel  new CancelToken() + cancel()   vs  new AbortController() + abort()
//   cancel_100_children  a root with 100 children (each watched), then cancel the root
//                        vs AbortController + 100 × AbortSignal.any([root.signal])
// Usage: node --expose-gc node/bench/bench.mjs [--quick]
import { WaitGroup, ErrGroup, CancelToken } from '../index.js'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 7

/** The plain-JS baseline: a Promise-based WaitGroup, as people write it. */
class JsWaitGroup {
  #n = 0
  #waiters = []
  add(d = 1) { this.#n += d }
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

/** Median ns per op of `body(n)` (sync or async) over ROUNDS rounds, after a warm-up. */
async function measure(n, body) {
  await body(Math.min(n, 1000))
  const samples = []
  for (let r = 0; r < ROUNDS; r++) {
    // Yield so that napi finalizers (deferred by Node to the loop) free the last round.
    await new Promise((resolve) => setImmediate(resolve))
    globalThis.gc?.()
    const t0 = process.hrtime.bigint()
    await body(n)
    samples.push(Number(process.hrtime.bigint() - t0) / n)
  }
  samples.sort((a, b) => a - b)
  return samples[samples.length >> 1]
}

function emit(impl, workload, ns, extra = {}) {
  console.log(JSON.stringify({ lang: 'node', impl, workload, ns_per_op: Math.round(ns * 10) / 10, node: process.version, ...extra }))
}

const TASKS = quick ? 20_000 : 100_000
emit('plain-js', 'go_wait_async_noop', await measure(TASKS, async (n) => {
  const wg = new JsWaitGroup()
  for (let i = 0; i < n; i++) wg.go(noop)
  await wg.wait()
}), { variant: 'Promise-based WaitGroup' })
emit('gogroup', 'go_wait_async_noop', await measure(TASKS, async (n) => {
  const wg = new WaitGroup()
  for (let i = 0; i < n; i++) wg.go(noop)
  await wg.wait()
}), { variant: 'WaitGroup.go' })
emit('gogroup', 'go_wait_async_noop', await measure(TASKS, async (n) => {
  const g = new ErrGroup()
  for (let i = 0; i < n; i++) g.go(noop)
  await g.wait()
}), { variant: 'ErrGroup.go' })
emit('plain-js', 'go_wait_async_noop', await measure(TASKS, async (n) => {
  await Promise.all(Array.from({ length: n }, noop))
}), { variant: 'Promise.all' })

const TOKENS = quick ? 50_000 : 200_000
emit('AbortController', 'token_create_cancel', await measure(TOKENS, (n) => {
  for (let i = 0; i < n; i++) new AbortController().abort()
}))
emit('gogroup', 'token_create_cancel', await measure(TOKENS, (n) => {
  for (let i = 0; i < n; i++) new CancelToken().cancel()
}))
emit('gogroup', 'token_create_cancel', await measure(TOKENS / 10, (n) => {
  for (let i = 0; i < n; i++) {
    const t = new CancelToken()
    void t.signal
    t.cancel()
  }
}), { variant: 'with .signal' })

const TREES = quick ? 500 : 3_000
emit('AbortController', 'cancel_100_children', await measure(TREES, (n) => {
  for (let i = 0; i < n; i++) {
    const root = new AbortController()
    const kids = []
    for (let k = 0; k < 100; k++) kids.push(AbortSignal.any([root.signal]))
    root.abort()
    if (!kids[99].aborted) throw new Error('not propagated')
  }
}), { variant: 'AbortController + AbortSignal.any' })
emit('gogroup', 'cancel_100_children', await measure(TREES, (n) => {
  for (let i = 0; i < n; i++) {
    const root = new CancelToken()
    const kids = []
    for (let k = 0; k < 100; k++) kids.push(root.child())
    root.cancel()
    if (!kids[99].cancelled) throw new Error('not propagated')
  }
}), { variant: 'CancelToken.child' })

// The cancel alone, on trees built beforehand (creation excluded on both sides).
async function cancelOnly(build, cancel) {
  const samples = []
  for (let r = 0; r <= ROUNDS; r++) {
    const trees = Array.from({ length: TREES }, build)
    await new Promise((resolve) => setImmediate(resolve))
    globalThis.gc?.()
    const t0 = process.hrtime.bigint()
    for (const t of trees) cancel(t)
    if (r > 0) samples.push(Number(process.hrtime.bigint() - t0) / TREES) // round 0 warms up
  }
  samples.sort((a, b) => a - b)
  return samples[samples.length >> 1]
}
emit('AbortController', 'cancel_100_children_cancel_only', await cancelOnly(() => {
  const root = new AbortController()
  return { root, kids: Array.from({ length: 100 }, () => AbortSignal.any([root.signal])) }
}, (t) => t.root.abort()), { variant: 'AbortController + AbortSignal.any' })
emit('gogroup', 'cancel_100_children_cancel_only', await cancelOnly(() => {
  const root = new CancelToken()
  return { root, kids: Array.from({ length: 100 }, () => root.child()) }
}, (t) => t.root.cancel()), { variant: 'CancelToken.child' })
