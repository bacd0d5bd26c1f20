// The Node driver of gogroup's conformance suite: runs scenarios on the built package in node/.
//
// Runs each scenario file given on the command line (format: conformance/README.md) against the
// `gogroup` package and prints one JSON line per scenario:
//
//   {"scenario":"wg_add_done_wait_releases_waiter","status":"pass","detail":"","ms":1}
//
// The `go` overrides of a scenario state Go's behaviour; this driver never reads them.
//
// Node idioms (conformance/README.md, "Drivers"):
// * Everything runs on the event loop: a task is an async function, "blocks until an event" is
//   an await, an `async` step is a promise started and not awaited, and every blocking step is
//   raced against the bound (a timer, which also keeps the loop alive: core's own timers do not).
//   `blocked` first lets the loop turn once (setImmediate), so a wrong implementation has had
//   the chance to return.
// * A named error is an `Error` object, matched by identity (===); a task returns it by
//   throwing it. Kinds: `err.code` 'GOGROUP_<KIND>'; reasons follow AbortSignal: an AbortError
//   DOMException is CANCELED, a TimeoutError DOMException is DEADLINE_EXCEEDED.
// * A wait with a token passes `token.signal` (the `signal` option of WaitGroup.wait and
//   ErrGroup.wait); `timeout_ms` is their `timeout` option. The token's own signal is not one
//   of its `dependents` (the binding leaves it out), so a wait leaves the count as it was.
// * A deadline's or a shutdown's `cause` is the named error passed as the reason
//   (`withTimeout(ms, reason)`, `withDeadline(date, reason)`, `shutdown(graceMs, reason)`).
// * What the binding cannot express is reported as "unsupported" naming the feature (run.py,
//   NODE_UNSUPPORTED): an observation it lacks is skipped and named (the rest of the scenario
//   still runs); a step it cannot perform ends the scenario.
//
// Usage: node driver.mjs [--bound-ms N] FILE.json...

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { CancelToken, ErrGroup, WaitGroup } = require(
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'node'),
)

class StepFailure extends Error {}

class Unsupported extends Error {
  constructor(feature, why) {
    super(why)
    this.feature = feature
  }
}

class NamedError extends Error {}

const fail = (msg) => {
  throw new StepFailure(msg)
}

const isKind = (s) => typeof s === 'string' && /^[A-Z_]+$/.test(s)

const substitute = (v, name, value) => {
  if (typeof v === 'string') return v.split(`{${name}}`).join(value)
  if (Array.isArray(v)) return v.map((x) => substitute(x, name, value))
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, name, value)]))
  }
  return v
}

const TIMEOUT = Symbol('timeout')

// A one-shot event.
class Event {
  constructor() {
    this.set = false
    this.promise = new Promise((resolve) => {
      this.resolve = resolve
    })
  }

  signal() {
    this.set = true
    this.resolve()
  }
}

class Run {
  constructor(messages, bound) {
    this.messages = messages
    this.bound = bound
    this.aborted = new Event()
    this.wgs = new Map()
    this.tokens = new Map()
    this.groups = new Map()
    this.collectAll = new Set()
    this.regs = new Map()
    this.calls = new Map()
    this.spawned = []
    this.events = new Map()
    this.errors = new Map()
    this.log = []
    this.counters = new Map()
    this.gauges = new Map()
    this.failures = []
    this.features = new Map() // unsupported observations met: feature -> why
    this.pending = [] // callbacks still running
  }

  // Races `promise` against `ms` (and the end of the scenario): its value, or TIMEOUT.
  async within(promise, ms) {
    let timer
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), ms)
    })
    try {
      return await Promise.race([promise, timeout, this.aborted.promise.then(() => TIMEOUT)])
    } finally {
      clearTimeout(timer)
    }
  }

  async scenario(steps) {
    try {
      await this.steps(steps)
      await this.within(Promise.allSettled(this.pending), this.bound)
    } catch (e) {
      // A task's failure is often why a later step failed: show both.
      if (e instanceof StepFailure && this.failures.length > 0) {
        fail(`${e.message}; in a task or callback: ${this.failures.join('; ')}`)
      }
      throw e
    } finally {
      this.finish()
    }
    if (this.failures.length > 0) fail(`in a task or callback: ${this.failures.join('; ')}`)
  }

  finish() {
    this.aborted.signal()
    for (const t of this.tokens.values()) t.cancel()
  }

  note(feature, why) {
    if (!this.features.has(feature)) this.features.set(feature, why)
  }

  recordFailure(e) {
    if (e instanceof Unsupported) this.note(e.feature, e.message)
    else this.failures.push(e instanceof StepFailure ? e.message : `unexpected ${e?.stack ?? e}`)
  }

  namedError(name) {
    if (!this.errors.has(name))
      this.errors.set(name, new NamedError(String(this.messages[name] ?? name)))
    return this.errors.get(name)
  }

  event(name) {
    if (!this.events.has(name)) this.events.set(name, new Event())
    return this.events.get(name)
  }

  async awaitEvent(name) {
    const got = await this.within(this.event(name).promise, this.bound)
    if (this.event(name).set) return
    if (this.aborted.set) fail(`scenario ended while waiting for event ${JSON.stringify(name)}`)
    if (got === TIMEOUT) {
      fail(
        `event ${JSON.stringify(name)} not set within ${this.bound} ms (a hang here means a lost wake-up)`,
      )
    }
  }

  get(table, what, name) {
    if (!table.has(String(name))) fail(`no ${what} ${JSON.stringify(name)}`)
    return table.get(String(name))
  }

  token(name) {
    return this.get(this.tokens, 'token', name)
  }

  // ---- tasks and callbacks ------------------------------------------------------------------

  async actions(list) {
    for (const a of list ?? []) {
      for (const [k, v] of Object.entries(a)) await this.action(k, v)
    }
  }

  async action(k, v) {
    switch (k) {
      case 'signal':
        this.event(String(v)).signal()
        break
      case 'await':
        await this.awaitEvent(String(v))
        break
      case 'await_cancel': {
        const t = this.token(v)
        const got = await this.within(t.whenCancelled(), this.bound)
        if (!t.cancelled) {
          if (this.aborted.set) fail(`scenario ended while waiting for token ${v}`)
          if (got === TIMEOUT)
            fail(
              `token ${v} not cancelled within ${this.bound} ms (a hang here means a lost wake-up)`,
            )
        }
        break
      }
      case 'record':
        this.log.push(String(v))
        break
      case 'count':
        this.counters.set(String(v), (this.counters.get(String(v)) ?? 0) + 1)
        break
      case 'enter':
      case 'leave': {
        const g = this.gauges.get(String(v)) ?? { current: 0, max: 0 }
        g.current += k === 'enter' ? 1 : -1
        g.max = Math.max(g.max, g.current)
        this.gauges.set(String(v), g)
        break
      }
      case 'step':
        await this.step(v)
        break
      default:
        fail(`unknown action ${k}`)
    }
  }

  // The async function that runs a task spec: it throws what the task returns.
  task(spec) {
    return async () => {
      try {
        await this.actions(spec.do)
      } catch (e) {
        this.recordFailure(e)
      }
      const ret = spec.returns
      if (ret === undefined || ret === null) return
      if (typeof ret === 'string') throw this.namedError(ret)
      if (typeof ret === 'object' && 'cause_of' in ret) {
        let t
        try {
          t = this.token(ret.cause_of)
        } catch (e) {
          this.recordFailure(e)
          return
        }
        if (t.cancelled) throw t.reason
        return
      }
      this.recordFailure(new StepFailure(`bad returns ${JSON.stringify(ret)}`))
    }
  }

  // ---- matching -----------------------------------------------------------------------------

  kindOf(e) {
    if (e instanceof DOMException && e.name === 'AbortError') return 'CANCELED'
    if (e instanceof DOMException && e.name === 'TimeoutError') return 'DEADLINE_EXCEEDED'
    if (e instanceof Error && typeof e.code === 'string' && e.code.startsWith('GOGROUP_')) {
      return e.code.slice('GOGROUP_'.length)
    }
    return 'CUSTOM'
  }

  describe(got) {
    if (got === undefined) return 'no error'
    return `${this.kindOf(got)} (${got?.constructor?.name}: ${JSON.stringify(String(got?.message ?? got))})`
  }

  match(want, got) {
    const message = got instanceof Error ? got.message : String(got)
    if (want === undefined || want === null) {
      if (got !== undefined) fail(`want no error, got ${this.describe(got)}`)
    } else if (isKind(want)) {
      if (got === undefined || this.kindOf(got) !== want)
        fail(`want ${want}, got ${this.describe(got)}`)
    } else if (typeof want === 'string') {
      if (got !== this.namedError(want))
        fail(`want the error ${JSON.stringify(want)} itself, got ${this.describe(got)}`)
    } else if (typeof want === 'object') {
      if (got === undefined) fail(`want an error ${JSON.stringify(want)}, got none`)
      if ('kind' in want) this.match(want.kind, got)
      if ('is' in want) this.match(want.is, got)
      if ('message' in want && message !== String(want.message)) {
        fail(`want message ${JSON.stringify(want.message)}, got ${JSON.stringify(message)}`)
      }
      if ('contains' in want && !message.includes(String(want.contains))) {
        fail(
          `want a message containing ${JSON.stringify(want.contains)}, got ${JSON.stringify(message)}`,
        )
      }
    } else {
      fail(`bad error matcher ${JSON.stringify(want)}`)
    }
  }

  // Runs fn (sync or async) and checks what it threw against the step's `expect`.
  async outcome(st, fn) {
    let got
    try {
      await fn()
    } catch (e) {
      if (e instanceof StepFailure || e instanceof Unsupported) throw e
      got = e
    }
    this.match(st.expect, got)
  }

  expectBool(st, got, what) {
    const want = st.expect ?? true
    if (got !== want) fail(`want ${what} to return ${want}, got ${got}`)
  }

  // ---- steps --------------------------------------------------------------------------------

  async steps(list) {
    for (const [i, st] of list.entries()) {
      try {
        await this.step(st)
      } catch (e) {
        const where = `step ${i + 1} (${st.op}): `
        if (e instanceof Unsupported) throw new Unsupported(e.feature, where + e.message)
        if (e instanceof StepFailure) fail(where + e.message)
        throw e
      }
    }
  }

  step(st) {
    if (st.async === undefined) return this.exec(st)
    // What the step cannot do is known before it starts: say so now, not from its promise.
    if (st.op === 'eg.go') this.goOnFullLimit()
    const call = { done: false, error: undefined }
    call.promise = this.exec(st).then(
      () => {
        call.done = true
      },
      (e) => {
        call.done = true
        call.error = e
      },
    )
    this.calls.set(String(st.async), call)
    return Promise.resolve()
  }

  // A step that relies on go waiting for a slot (an async go, or one expected to fail).
  goOnFullLimit() {
    throw new Unsupported(
      'eg.go_on_full_limit',
      'ErrGroup.go never waits for a slot (it queues the task)',
    )
  }

  hang() {
    fail(`wait did not return within ${this.bound} ms (a hang here means a lost wake-up)`)
  }

  async exec(st) {
    switch (st.op) {
      // ---- WaitGroup
      case 'wg.new':
        this.wgs.set(String(st.id), new WaitGroup())
        break
      case 'wg.add': {
        const wg = this.get(this.wgs, 'wait group', st.wg)
        await this.outcome(st, () => wg.add(st.delta))
        break
      }
      case 'wg.done': {
        const wg = this.get(this.wgs, 'wait group', st.wg)
        await this.outcome(st, () => wg.done())
        break
      }
      case 'wg.count': {
        const got = this.get(this.wgs, 'wait group', st.wg).count
        if (got !== st.expect) fail(`want counter ${st.expect}, got ${got}`)
        break
      }
      case 'wg.go': {
        const wg = this.get(this.wgs, 'wait group', st.wg)
        if ('panics' in st.task) {
          throw new Unsupported(
            'wg.task_panics',
            "WaitGroup.wait() reports nothing of a task's throw",
          )
        }
        wg.go(this.task(st.task))
        break
      }
      case 'wg.wait': {
        const wg = this.get(this.wgs, 'wait group', st.wg)
        const explicit = 'timeout_ms' in st
        const signal = 'token' in st ? this.token(st.token).signal : undefined
        await this.outcome(st, async () => {
          const timeout = explicit ? st.timeout_ms : this.bound
          // within(): a timer of the driver's own keeps the loop alive (the binding's timers do
          // not, as AbortSignal.timeout()); the wait's own timeout decides first.
          const zero = await this.within(wg.wait({ signal, timeout }), timeout + this.bound)
          if (zero === TIMEOUT) this.hang()
          if (!zero) {
            if (!explicit) this.hang()
            const e = new Error('wait timed out')
            e.code = 'GOGROUP_TIMEOUT'
            throw e
          }
        })
        break
      }

      // ---- CancelToken
      case 'token.new':
        this.tokens.set(String(st.id), new CancelToken())
        break
      case 'token.child':
        this.tokens.set(String(st.id), this.token(st.parent).child())
        break
      case 'token.with_timeout':
      case 'token.with_deadline': {
        const p = this.token(st.parent)
        const cause = 'cause' in st ? this.namedError(String(st.cause)) : undefined
        let t
        if (st.op === 'token.with_timeout') {
          t = p.withTimeout(st.timeout_ms, cause)
        } else {
          const offsets = { past: -1000, now: 0, far: 3600 * 1000 }
          if (!(st.deadline in offsets))
            fail(`deadline must be past, now or far, not ${st.deadline}`)
          t = p.withDeadline(Date.now() + offsets[st.deadline], cause)
        }
        this.tokens.set(String(st.id), t)
        break
      }
      case 'token.any':
        this.tokens.set(String(st.id), CancelToken.any(st.of.map((n) => this.token(n))))
        break
      case 'token.cancel': {
        const t = this.token(st.token)
        const first = 'cause' in st ? t.cancel(this.namedError(String(st.cause))) : t.cancel()
        if ('expect' in st) this.expectBool(st, first, 'cancel')
        break
      }
      case 'token.check':
        this.checkToken(st)
        break
      case 'token.wait': {
        const t = this.token(st.token)
        const ms = 'timeout_ms' in st ? st.timeout_ms : this.bound
        await this.within(t.whenCancelled(), ms)
        if ('timeout_ms' in st) this.expectBool(st, t.cancelled, 'wait')
        else if (!t.cancelled)
          fail(`token not cancelled within ${this.bound} ms (a hang here means a lost wake-up)`)
        break
      }
      case 'token.on_cancel': {
        const t = this.token(st.token)
        const reg = t.onCancel((reason) => {
          const run = async () => {
            if ('expect_cause' in st) {
              try {
                this.match(st.expect_cause, reason)
              } catch (e) {
                this.recordFailure(new StepFailure(`on_cancel cause: ${e.message}`))
              }
            }
            await this.actions(st.do)
          }
          this.pending.push(run().catch((e) => this.recordFailure(e)))
        })
        this.regs.set(String(st.id), reg)
        break
      }
      case 'reg.stop':
        this.expectBool(st, this.get(this.regs, 'registration', st.reg).stop(), 'stop')
        break

      // ---- ErrGroup
      case 'eg.new': {
        if (!('token' in st) && 'token_id' in st) {
          throw new Unsupported(
            'eg.plain',
            "a plain group's token is observed, and ErrGroup is always WithContext",
          )
        }
        const collect = st.collect ?? 'first'
        if (collect !== 'first' && collect !== 'all')
          fail(`collect must be first or all, not ${collect}`)
        const options = { collect }
        if ('token' in st) options.token = this.token(st.token)
        if (st.limit !== undefined && st.limit !== null) options.limit = st.limit
        const g = new ErrGroup(options)
        if ('token_id' in st) this.tokens.set(String(st.token_id), g.token)
        this.groups.set(String(st.id), g)
        if (collect === 'all') this.collectAll.add(String(st.id))
        break
      }
      case 'eg.go':
      case 'eg.try_go': {
        const g = this.get(this.groups, 'group', st.group)
        if ('panics' in st.task)
          throw new Unsupported('eg.task_panics', "a throw is the task's error")
        if (st.op === 'eg.go') {
          if (st.expect !== undefined && st.expect !== null) this.goOnFullLimit()
          await this.outcome(st, () => g.go(this.task(st.task)))
        } else {
          this.expectBool(st, g.tryGo(this.task(st.task)), 'try_go')
        }
        break
      }
      case 'eg.set_limit': {
        const g = this.get(this.groups, 'group', st.group)
        await this.outcome(st, () => g.setLimit(st.n))
        break
      }
      case 'eg.wait': {
        const g = this.get(this.groups, 'group', st.group)
        const signal = 'token' in st ? this.token(st.token).signal : undefined
        const timeout = 'timeout_ms' in st ? st.timeout_ms : undefined
        await this.outcome(st, async () => {
          try {
            // The wait's own timeout decides first; within() is the driver's bound (and timer).
            const got = await this.within(g.wait({ signal, timeout }), (timeout ?? 0) + this.bound)
            if (got === TIMEOUT) this.hang()
          } catch (e) {
            // collect: 'all' rejects with an AggregateError of every failure, the first first.
            if (this.collectAll.has(String(st.group)) && e instanceof AggregateError)
              throw e.errors[0]
            throw e
          }
        })
        break
      }
      case 'eg.check': {
        const g = this.get(this.groups, 'group', st.group)
        if ('active' in st && g.active !== st.active)
          fail(`want active ${st.active}, got ${g.active}`)
        if ('limit' in st && g.limit !== st.limit) fail(`want limit ${st.limit}, got ${g.limit}`)
        break
      }
      case 'eg.errors': {
        const got = this.get(this.groups, 'group', st.group).errors()
        if (!Array.isArray(st.expect))
          fail(`eg.errors expects a list, not ${JSON.stringify(st.expect)}`)
        if (got.length !== st.expect.length) {
          fail(
            `want ${st.expect.length} recorded errors, got ${got.length}: ${got.map((e) => this.describe(e)).join(', ')}`,
          )
        }
        for (const [i, want] of st.expect.entries()) {
          try {
            this.match(want, got[i])
          } catch (e) {
            fail(`error ${i}: ${e.message}`)
          }
        }
        break
      }
      case 'eg.shutdown': {
        const g = this.get(this.groups, 'group', st.group)
        const cause = 'cause' in st ? this.namedError(String(st.cause)) : undefined
        const left = await this.within(g.shutdown(st.grace_ms, cause), st.grace_ms + this.bound)
        if (left === TIMEOUT) this.hang()
        if (left !== st.expect) fail(`want ${st.expect} tasks still running, got ${left}`)
        break
      }

      // ---- events, calls, observations
      case 'signal':
        this.event(String(st.event)).signal()
        break
      case 'await':
        await this.awaitEvent(String(st.event))
        break
      case 'record':
        this.log.push(String(st.label))
        break
      case 'event.check': {
        const set = this.events.get(String(st.event))?.set ?? false
        if (set !== (st.set ?? true))
          fail(`want event ${st.event} set=${st.set ?? true}, got ${set}`)
        break
      }
      case 'spawn': {
        const call = { done: false }
        call.promise = this.task(st.task)()
          .catch(() => {}) // a spawned task's error is nobody's
          .then(() => {
            call.done = true
          })
        this.spawned.push(call)
        if ('id' in st) this.calls.set(String(st.id), call)
        break
      }
      case 'join': {
        const call = this.get(this.calls, 'call', st.call)
        if ((await this.within(call.promise, this.bound)) === TIMEOUT && !call.done) {
          fail(
            `call ${st.call} did not return within ${this.bound} ms (a hang here means a lost wake-up)`,
          )
        }
        if (call.error !== undefined) throw call.error
        break
      }
      case 'join_spawned': {
        const all = this.spawned
        this.spawned = []
        for (const call of all) {
          if ((await this.within(call.promise, this.bound)) === TIMEOUT && !call.done) {
            fail(`a spawned task did not return within ${this.bound} ms`)
          }
        }
        break
      }
      case 'blocked': {
        const call = this.get(this.calls, 'call', st.call)
        // One turn of the loop (and the grace, if any) for a wrong implementation to return.
        await new Promise((resolve) => setImmediate(resolve))
        if (st.grace_ms) await this.within(call.promise, st.grace_ms)
        if (call.done) {
          fail(
            `call ${st.call} returned (${call.error?.message ?? 'ok'}) but must still be blocked`,
          )
        }
        break
      }
      case 'log.check':
        this.checkLog(st)
        break
      case 'counter.check': {
        const name = String(st.counter)
        const got = this.counters.get(name) ?? 0
        if (st.reset) this.counters.set(name, 0)
        if (got !== st.expect)
          fail(`want counter ${JSON.stringify(name)} = ${st.expect}, got ${got}`)
        break
      }
      case 'gauge.check': {
        const name = String(st.gauge)
        const { current, max } = this.gauges.get(name) ?? { current: 0, max: 0 }
        if ('current' in st && current !== st.current)
          fail(`want gauge ${name} at ${st.current}, got ${current}`)
        if ('max' in st && max !== st.max) fail(`want gauge ${name} max ${st.max}, got ${max}`)
        if ('max_at_most' in st && max > st.max_at_most)
          fail(`want gauge ${name} max <= ${st.max_at_most}, got ${max}`)
        break
      }
      case 'repeat':
        for (let i = 0; i < st.times; i++) {
          const steps = st.var === undefined ? st.steps : substitute(st.steps, st.var, String(i))
          try {
            await this.steps(steps)
          } catch (e) {
            if (e instanceof StepFailure) fail(`iteration ${i}: ${e.message}`)
            throw e
          }
        }
        break
      default:
        fail(`unknown op ${JSON.stringify(st.op)}`)
    }
  }

  checkToken(st) {
    const t = this.token(st.token)
    if ('cancelled' in st && t.cancelled !== st.cancelled)
      fail(`want cancelled=${st.cancelled}, got ${t.cancelled}`)
    if ('err' in st) {
      try {
        this.match(st.err, t.err ?? undefined)
      } catch (e) {
        fail(`err: ${e.message}`)
      }
    }
    if ('cause' in st) {
      try {
        this.match(st.cause, t.cancelled ? t.reason : undefined)
      } catch (e) {
        fail(`cause: ${e.message}`)
      }
    }
    if ('deadline' in st && st.deadline === null && t.deadline !== null)
      fail(`want no deadline, got ${t.deadline}`)
    if ('deadline_of' in st) {
      const o = this.token(st.deadline_of)
      if (
        t.deadline === null ||
        o.deadline === null ||
        t.deadline.getTime() !== o.deadline.getTime()
      ) {
        fail(
          `want the deadline of ${st.deadline_of} (${o.deadline?.toISOString()}), got ${t.deadline?.toISOString()}`,
        )
      }
    }
    if ('dependents' in st && t.dependents !== st.dependents)
      fail(`want ${st.dependents} dependents, got ${t.dependents}`)
  }

  checkLog(st) {
    const log = this.log
    const show = JSON.stringify(log)
    if ('expect' in st && JSON.stringify(st.expect.map(String)) !== show) {
      fail(`want log ${JSON.stringify(st.expect)}, got ${show}`)
    }
    for (const [a, b] of st.order ?? []) {
      const x = log.indexOf(a)
      const y = log.indexOf(b)
      if (x < 0 || y < 0 || x > y)
        fail(`want ${JSON.stringify(a)} before ${JSON.stringify(b)} in the log, got ${show}`)
    }
    for (const a of st.absent ?? []) {
      if (log.includes(a)) fail(`want no ${a} in the log, got ${show}`)
    }
  }
}

async function runFile(path, bound) {
  const start = performance.now()
  let name = basename(path).replace(/\.json$/, '')
  let status = 'pass'
  let detail = ''
  let features = []
  try {
    const sc = JSON.parse(readFileSync(path, 'utf8'))
    name = String(sc.name ?? name)
    const run = new Run(sc.errors ?? {}, bound)
    try {
      await run.scenario(sc.steps)
    } finally {
      features = [...run.features.keys()]
      if (features.length > 0) {
        status = 'unsupported'
        detail = `${features[0]}: ${run.features.get(features[0])}`
      }
    }
  } catch (e) {
    if (e instanceof Unsupported) {
      status = 'unsupported'
      detail = `${e.feature}: ${e.message}`
      if (!features.includes(e.feature)) features.push(e.feature)
    } else {
      status = 'fail'
      features = []
      detail = e instanceof StepFailure ? e.message : `unexpected ${e?.stack ?? e}`
    }
  }
  const line = { scenario: name, status, detail }
  if (status === 'unsupported') line.features = features
  line.ms = Math.round(performance.now() - start)
  return line
}

async function main(argv) {
  let bound = 10000
  const files = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--bound-ms') {
      bound = Number(argv[++i])
      if (!Number.isInteger(bound) || bound <= 0) {
        process.stderr.write('--bound-ms needs a number of milliseconds\n')
        return 2
      }
    } else {
      files.push(argv[i])
    }
  }
  for (const path of files) {
    const line = await runFile(path, bound)
    process.stdout.write(`${JSON.stringify(line)}\n`)
  }
  return 0
}

process.exitCode = await main(process.argv.slice(2))
