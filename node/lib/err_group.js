'use strict'
// The public `ErrGroup` class (Go's `errgroup.Group` made with `WithContext`).
//
// A JS task is not run on core's pool: it takes a place in the group (so the limit and the
// first-error rule are core's), runs on this thread, and reports its outcome when its
// promise settles. In a group WITHOUT a limit, the tasks pending on this loop share ONE slot
// in core (`__hold` takes it for the first, `__release` gives it back after the last), so a
// task costs what `Promise.all` costs; a failure is recorded in core at once (`__fail`: the
// first one cancels the token, as always). With a limit, or while a `go` waits for a slot,
// every task takes its own slot through the native method. `run`/`map` (lib/run_map.js) are
// `go` tasks that carry a value back.

const { binding, noClone, inspectAs, inspectCustom } = require('./native.js')
const validate = require('./validate.js')
const { whenSettled } = require('./settle.js')
const { internals: tokens } = require('./cancel_token.js')
const { waitOptions } = require('./wait_group.js')
const { cancellation } = require('./helpers.js')
const runMap = require('./run_map.js')

const Native = binding.ErrGroup

/** Whether a valid limit (`undefined`: none) is one: a number >= 0 (negative or Infinity: none). */
const limited = (n) => n !== undefined && n >= 0 && n !== Infinity
const NO_CLONE = noClone('ErrGroup', 'share its token instead (group.token.share())')

class ErrGroup {
  #n // the napi-rs object
  #token = null // the public CancelToken tasks receive (always the same object)
  #pending = 0 // tasks sharing the held slot, pending on this loop
  #ok = null // their shared callbacks (made on first use)
  #failed = null
  #threw = null
  #waiters = null // the run()/map() calls whose task waits for a slot (lib/run_map.js)
  #limited = false // the group has a limit: `__hold` would refuse, so `#start` does not ask

  constructor(options) {
    const o = validate.options(options)
    let native
    if (o !== undefined) {
      const token =
        o.token === undefined || o.token === null
          ? undefined
          : tokens.check(o.token, 'options.token')
      const signal = validate.optionalSignal(o.signal, 'options.signal')
      const limit =
        o.limit === undefined || o.limit === null
          ? undefined
          : validate.limit(o.limit, 'options.limit')
      const collect = validate.optionalOneOf(o.collect, 'options.collect', ['first', 'all'])
      native = { token, signal, limit, collect }
      this.#limited = limited(limit)
    }
    this.#n = new Native(native)
    this.gogroup = NO_CLONE
  }

  get token() {
    if (this.#token === null) this.#token = tokens.fanOut(this.#n.token)
    return this.#token
  }

  go(fn) {
    validate.fn(fn, 'fn')
    if (!this.#start(fn)) this.#n.go(fn)
  }

  tryGo(fn) {
    validate.fn(fn, 'fn')
    return this.#start(fn) || this.#n.tryGo(fn)
  }

  run(fn) {
    validate.fn(fn, 'fn')
    return runMap.run(this, this.#waitersOf(), fn)
  }

  map(items, fn, options) {
    const isAsync = validate.anyIterable(items, 'items', 'an iterable or an async iterable')
    validate.fn(fn, 'fn')
    const o = validate.options(options)
    const none = o === undefined || o.limit === undefined || o.limit === null
    const limit = none ? Infinity : validate.concurrency(o.limit, 'options.limit')
    return runMap.map(this, this.#waitersOf(), items, isAsync, fn, limit)
  }

  #waitersOf() {
    this.#waiters ??= new runMap.Waiters()
    return this.#waiters
  }

  /** Starts `fn` in the shared slot; false if the group must use its native path. */
  #start(fn) {
    if (this.#pending === 0 && (this.#limited || !this.#n.__hold())) return false
    if (this.#ok === null) this.#makeSettlers()
    this.#pending++
    const token = this.token
    let r
    try {
      r = fn(token)
    } catch (e) {
      this.#failed(e) // a throw is the task's error, as a rejection is
      return true
    }
    whenSettled(r, this.#ok, this.#failed, this.#threw)
    return true
  }

  #makeSettlers() {
    const n = this.#n
    const ok = () => {
      if (--this.#pending === 0) n.__release()
    }
    const failed = (e) => {
      n.__fail(e, cancellation(e, this.#token))
      ok()
    }
    this.#ok = ok
    this.#failed = failed
    // Reading or calling the result's `then` threw: that is the task's error (unless its
    // outcome was already given).
    this.#threw = (e, counted) => {
      if (!counted) failed(e)
    }
  }

  /** The shared slot counts once in core; report each task. */
  #shared() {
    return this.#pending > 0 ? this.#pending - 1 : 0
  }

  setLimit(n) {
    validate.limit(n, 'n')
    this.#n.setLimit(n)
    this.#limited = limited(n)
  }

  get active() {
    return this.#n.active + this.#shared()
  }

  get limit() {
    return this.#n.limit
  }

  errors() {
    return this.#n.errors()
  }

  wait(options) {
    const o = waitOptions(options)
    return o === undefined ? this.#n.wait() : this.#n.wait(o)
  }

  shutdown(graceMs, reason) {
    const grace = validate.optionalDuration(graceMs, 'graceMs')
    return this.#n
      .shutdown(grace, reason)
      .then((running) => (running > 0 ? running + this.#shared() : running))
  }

  [Symbol.asyncDispose]() {
    return this.#n[Symbol.asyncDispose]()
  }

  [inspectCustom](depth, opts) {
    const state = { active: this.active, limit: this.limit, cancelled: this.token.cancelled }
    return inspectAs('ErrGroup', state, depth, opts)
  }
}

Object.defineProperty(ErrGroup.prototype, Symbol.toStringTag, {
  value: 'ErrGroup',
  configurable: true,
})

module.exports = { ErrGroup }
