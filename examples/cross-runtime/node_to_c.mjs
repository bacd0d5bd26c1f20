// Node -> C in one process: a CancelToken and WaitGroups made in JS drive C pthreads.
//
// The C side is libcworkers.so (cworkers.c, linked against libgogroup.so), reached through
// node_addon.c, a small N-API addon compiled with cc against Node's own node_api.h (no
// node-gyp, no npm package). JS hands it *C handles* of its own objects (`token.cHandle()`,
// `wg.cHandle()`, BigInt addresses of owned handles): the Node addon of gogroup and
// libgogroup.so are two copies of gogroup, and a handle made by either works with the
// functions of both (ffi-c/README.md, "Handles across copies").
//
// 1. The C threads' gogroup_wait_group_done() resolves the promise of `wg.wait()`.
// 2. `token.cancel(reason)` in JS stops C threads that spin (checking the token inline) and
//    C threads blocked in poll() on the token's fd; each saw the reason's message.
// 3. A C thread cancels the JS token: `await token.whenCancelled()` resolves, `token.signal`
//    is aborted, and the reason carries the C thread's cause.
//
// Exits with 0 when every check passed, 1 otherwise. `make demo-cross` / `make test-cross` run
// it; alone: `node examples/cross-runtime/node_to_c.mjs` after `make cross-lib` (or point
// CWORKERS_NODE_ADDON at cworkers.node).

import { once } from 'node:events'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const require = createRequire(import.meta.url)
const addon = require(process.env.CWORKERS_NODE_ADDON ?? join(root, 'target/cross/cworkers.node'))
const { CancelToken, WaitGroup } = await import(
  pathToFileURL(process.env.GOGROUP_NODE_MODULE ?? join(root, 'node/index.js')).href
)

// An upper bound for anything that should take milliseconds: only a hang guard, never a wait.
const HANG_MS = 60_000
// cworkers.h
const SPIN = 0
const POLL = 1
const CANCEL_AFTER = 2
const CANCEL_CODE = 42
const CANCEL_MESSAGE = 'cworkers: quota reached, cancelling from C'
// gogroup.h
const OK = 0
const CUSTOM = 8

const failures = []
function check(cond, what) {
  if (!cond) {
    failures.push(what)
    console.error(`  FAILED: ${what}`)
  }
}

// Starts C threads on owned C handles of the JS objects; the pool takes clones of its own, so
// ours are released at once.
function startPool(token, started, finished, n, mode, quota = 0) {
  let t = null
  let f = null
  let s = null
  try {
    t = token.cHandle()
    f = finished.cHandle()
    s = started === null ? null : started.cHandle()
    return addon.start(t, s, f, n, mode, quota, HANG_MS)
  } finally {
    // null is NULL, which the free functions ignore
    addon.freeToken(t)
    addon.freeWaitGroup(f)
    addon.freeWaitGroup(s)
  }
}

function checkReports(reports, kind, cause, afterNs = 0n) {
  reports.forEach((r, i) => {
    check(
      r.doneResult === OK,
      `worker ${i}: gogroup calls failed (${addon.resultName(r.doneResult)})`,
    )
    check(
      r.causeKind === kind,
      `worker ${i}: observed ${addon.resultName(r.causeKind)}, expected ${addon.resultName(kind)}`,
    )
    check(
      r.cause === cause,
      `worker ${i}: cause ${JSON.stringify(r.cause)}, expected ${JSON.stringify(cause)}`,
    )
    check(r.observedNs >= afterNs, `worker ${i}: saw the cancel before it happened`)
  })
}

// `promise`, or 'hang guard' after HANG_MS. gogroup's promises never keep Node alive, by design,
// and Node does not know about the C threads: while JS awaits them, this timer is what keeps the
// process running (a real program would hold a server, a timer or a handle of its own). It is
// cleared as soon as `promise` settles.
async function guarded(promise) {
  let timer
  const guard = new Promise((resolve) => {
    timer = setTimeout(resolve, HANG_MS, 'hang guard')
  })
  try {
    return await Promise.race([promise, guard])
  } finally {
    clearTimeout(timer)
  }
}

const macrotask = () => new Promise((resolve) => setImmediate(resolve))

async function doneResolvesPromise() {
  console.log("1. C threads' done() resolves the promise of `wg.wait()`")
  const token = new CancelToken()
  const finished = new WaitGroup()
  finished.add(4) // as Go's wg.Add before `go`: from here on only C can resolve the promise
  let settled = false
  const waiting = finished.wait().then((v) => {
    settled = true
    return v
  })
  let ticks = 0
  let ticking = true
  const ticker = (async () => {
    while (ticking) {
      ticks++
      await macrotask()
    }
  })()
  await macrotask()
  check(!settled, 'wait() settled before any C thread ran')
  const pool = startPool(token, null, finished, 4, SPIN, 2000)
  check((await guarded(waiting)) === true, 'wait() did not resolve')
  ticking = false
  await ticker
  const reports = addon.join(pool)
  check(finished.count === 0, 'counter is not zero')
  checkReports(reports, OK, '')
  check(
    reports.every((r) => r.units === 2000),
    'a worker did not finish its quota',
  )
  console.log(
    `   4 C threads x ${reports[0].units} units; the event loop turned ${ticks} times meanwhile`,
  )
}

async function cancelStopsCThreads() {
  console.log('2. token.cancel(reason) in JS stops C threads (spinning and blocked in poll)')
  const token = new CancelToken()
  const started = new WaitGroup()
  const finished = new WaitGroup()
  started.add(4)
  finished.add(4)
  const spinners = startPool(token, started, finished, 2, SPIN) // no quota: only the token stops them
  const pollers = startPool(token, started, finished, 2, POLL)
  check((await guarded(started.wait())) === true, 'the C threads did not start')
  check(finished.count === 4, 'a C thread stopped before the cancel')
  const cancelledNs = addon.nowNs()
  token.cancel(new Error('client went away'))
  check((await guarded(finished.wait())) === true, 'the C threads did not stop')
  const reports = [...addon.join(spinners), ...addon.join(pollers)]
  checkReports(reports, CUSTOM, 'client went away', cancelledNs)
  check(
    reports.slice(0, 2).every((r) => r.units >= 1),
    'a spinner did no work',
  )
  let slowestNs = 0n // BigInt nanoseconds, which Math.max rejects
  for (const r of reports) {
    if (r.observedNs - cancelledNs > slowestNs) slowestNs = r.observedNs - cancelledNs
  }
  const latencyMs = Number(slowestNs) / 1e6
  console.log(
    `   spinners stopped after [${reports.slice(0, 2).map((r) => r.units)}] units; all 4 saw CUSTOM 'client went away'`,
  )
  console.log(`   within ${latencyMs.toFixed(2)} ms of token.cancel()`)
}

async function cThreadCancelsJsToken() {
  console.log('3. a C thread cancels the JS token; `await token.whenCancelled()` resolves')
  const token = new CancelToken()
  const signal = token.signal
  const finished = new WaitGroup()
  finished.add(3)
  const pollers = startPool(token, null, finished, 2, POLL)
  const canceller = startPool(token, null, finished, 1, CANCEL_AFTER, 100)
  const reason = await guarded(token.whenCancelled())
  check(reason instanceof Error, `reason is ${String(reason)}`)
  check(reason?.message === CANCEL_MESSAGE, `reason message ${JSON.stringify(reason?.message)}`)
  check(reason?.code === 'GOGROUP_CUSTOM', `reason code ${reason?.code}`)
  check(token.cancelled, 'token not cancelled')
  // A cancel from another thread reaches the AbortSignal on this thread's loop: maybe after
  // whenCancelled() resolved, so wait for its event if it has not fired yet.
  if (!signal.aborted) await guarded(once(signal, 'abort'))
  check(signal.aborted && signal.reason === reason, 'token.signal was not aborted with the reason')
  check((await guarded(finished.wait())) === true, 'the C threads did not stop')
  const reports = [...addon.join(pollers), ...addon.join(canceller)]
  checkReports(reports, CUSTOM, CANCEL_MESSAGE)
  check(
    reports.every((r) => r.causeCode === CANCEL_CODE),
    'cause code lost',
  )
  console.log(
    `   reason = ${reason?.name}(${JSON.stringify(reason?.message)}), code ${reason?.code}; signal aborted; the 2 C pollers saw it too`,
  )
}

await doneResolvesPromise()
await cancelStopsCThreads()
await cThreadCancelsJsToken()
if (failures.length > 0) {
  console.error(`node_to_c: ${failures.length} check(s) failed`)
  process.exit(1)
}
console.log('node_to_c: every check passed')
