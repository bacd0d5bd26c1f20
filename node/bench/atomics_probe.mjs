// Probe for issue #12's speed item: could `add`/`done` and `cancelled` stay in JS by reaching
// core's state word with `Atomics` (an external buffer over core's state) instead of a raw
// N-API call? Run: `node bench/atomics_probe.mjs` (not part of `make bench`: it measures the
// mechanism, not gogroup). It times, in one process:
//
// * a plain-JS counter (`add(1)` + `done()`), the peer of `wg_add_done_1t`;
// * the same on core's state layout (`core/src/wait_group.rs`, invariant 1: counter in the
//   high 32 bits, generation in bits 1..=31, waiters in bit 0, every change one 64-bit CAS):
//   `Atomics.add`/`compareExchange` on a `BigInt64Array`, as a JS fast path would have to;
// * the same with 32-bit words (a layout core does not have: the zero-crossing CAS must see
//   the waiters bit, so it would need a new state encoding and new loom models);
// * `signal.aborted` (the peer of `token_is_cancelled_live`) against `Atomics.load` on an
//   `Int32Array`;
// * what a view per object costs: a new buffer + view, and a view on a shared slab.
//
// Figures on this machine (Node 20.20, V8 11.3) are in BENCHMARKS.md, "Node".

const N = 5_000_000

function bench(name, f) {
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint()
    f()
    best = Math.min(best, Number(process.hrtime.bigint() - t) / N)
  }
  console.log(JSON.stringify({ probe: name, ns_per_op: Number(best.toFixed(1)) }))
}

let woken = 0
const wake = () => {
  woken++
}

class JsWaitGroup {
  n = 0
  add(d = 1) {
    this.n += d
  }
  done() {
    if (--this.n === 0) wake()
  }
}
const js = new JsWaitGroup()
bench('plain-js counter add+done', () => {
  for (let i = 0; i < N; i++) {
    js.add(1)
    js.done()
  }
})

const state = new BigInt64Array(new SharedArrayBuffer(8))
const ONE = 1n << 32n
const GEN_ONE = 2n
const GEN_MASK = 0xfffffffen
function add64() {
  Atomics.add(state, 0, ONE)
}
function done64() {
  for (;;) {
    const s = Atomics.load(state, 0)
    const last = s >> 32n === 1n
    const next = last ? (((s - ONE) & GEN_MASK) + GEN_ONE) & GEN_MASK : s - ONE
    if (Atomics.compareExchange(state, 0, s, next) === s) {
      if (last && (s & 1n) !== 0n) wake()
      return
    }
  }
}
bench("core's 64-bit layout via BigInt64Array add+done", () => {
  for (let i = 0; i < N; i++) {
    add64()
    done64()
  }
})

const words = new Int32Array(new SharedArrayBuffer(8))
bench('32-bit words via Int32Array add+done', () => {
  for (let i = 0; i < N; i++) {
    Atomics.add(words, 1, 1)
    if (Atomics.sub(words, 1, 1) === 1 && Atomics.load(words, 0) !== 0) wake()
  }
})

let hits = 0
const signal = new AbortController().signal
bench('signal.aborted', () => {
  for (let i = 0; i < N; i++) if (signal.aborted) hits++
})
bench('Atomics.load on an Int32Array', () => {
  for (let i = 0; i < N; i++) if (Atomics.load(words, 0) !== 0) hits++
})

const M = 200_000
let t = process.hrtime.bigint()
for (let i = 0; i < M; i++) new Int32Array(new SharedArrayBuffer(8))
console.log(
  JSON.stringify({
    probe: 'a buffer + view per object',
    ns_per_op: Math.round(Number(process.hrtime.bigint() - t) / M),
  }),
)
const slab = new SharedArrayBuffer(1 << 20)
t = process.hrtime.bigint()
for (let i = 0; i < M; i++) new Int32Array(slab, (i % 1000) * 8, 2)
console.log(
  JSON.stringify({
    probe: 'a view on a shared slab per object',
    ns_per_op: Math.round(Number(process.hrtime.bigint() - t) / M),
  }),
)
if (woken + hits < 0) console.log('unreachable')
