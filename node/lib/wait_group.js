'use strict'
// The public `WaitGroup` class (Go's `sync.WaitGroup`).
//
// `add`/`done` reach core through a raw call of one handle (src/handles.rs: ~20 ns instead of
// a napi-rs method's ~250 ns). `go(fn)` costs no crossing at all: the JS tasks a group has
// pending on this thread's event loop hold ONE count in core, taken by the first and given
// back by the last, so `go()` + `wait()` per async task costs what a plain-JS WaitGroup
// costs. Core still decides everything: `wait()`, `waitSync()` in a worker, C code and
// `done()` from other threads all see a counter that is not zero while any of these tasks is
// pending; `count` reports each task.

const { binding, noClone, inspectAs, inspectCustom } = require('./native.js')
const validate = require('./validate.js')
const { whenSettled } = require('./settle.js')

const Native = binding.WaitGroup
const handleOf = Native.prototype.__handle
const wgAdd = binding.__wgAdd
const wgCount = binding.__wgCount
const wgRelease = binding.__wgRelease

const handles = new FinalizationRegistry((h) => {
  try {
    wgRelease(h)
  } catch {} // the thread is shutting down: its table goes with it
})
const NATIVE = Symbol('native')
const NO_CLONE = noClone('WaitGroup', 'pass wg.share() and call WaitGroup.fromShared() there')
const MAX_DELTA = 2 ** 31 - 1

class WaitGroup {
  #n // the napi-rs object
  #h = -1 // this thread's handle for the raw add/done, once needed
  #pending = 0 // JS tasks of `go` pending on this loop (they hold one count together)
  #settle = null // their shared settlement callback
  #threw = null // and what runs when reading or calling a result's `then` throws

  constructor(from, native) {
    this.#n = from === NATIVE ? native : new Native()
    this.gogroup = NO_CLONE
  }

  #handle() {
    if (this.#h < 0) {
      this.#h = handleOf.call(this.#n)
      handles.register(this, this.#h)
    }
    return this.#h
  }

  static #nativeOf(wg) {
    return wg.#n
  }

  add(delta = 1) {
    validate.integer(delta, 'delta', -MAX_DELTA, MAX_DELTA)
    wgAdd(this.#handle(), delta)
  }

  done() {
    wgAdd(this.#handle(), -1) // core's `done` is `add(-1)`
  }

  get count() {
    const c = wgCount(this.#handle())
    return this.#pending > 0 ? c - 1 + this.#pending : c
  }

  wait(options) {
    const o = waitOptions(options)
    // Nothing to wait for: settled at once, without a core future and a promise from the addon.
    if (o === undefined) {
      if (wgCount(this.#handle()) === 0) return Promise.resolve(true)
      return this.#n.wait()
    }
    return this.#n.wait(o)
  }

  waitSync(timeoutMs) {
    validate.optionalDuration(timeoutMs, 'timeoutMs')
    return this.#n.waitSync(timeoutMs ?? undefined)
  }

  go(fn) {
    validate.fn(fn, 'fn')
    if (this.#pending === 0) wgAdd(this.#handle(), 1)
    this.#pending++
    if (this.#settle === null) this.#makeSettlers()
    const settle = this.#settle
    let r
    try {
      r = fn()
    } catch (e) {
      settle() // the count is released first, then the throw goes to the caller
      throw e
    }
    whenSettled(r, settle, settle, this.#threw)
  }

  #makeSettlers() {
    const settle = () => {
      if (--this.#pending === 0) {
        // The count was taken by the first pending task, so only a user's extra `done()`
        // can make this fail; the task is over either way.
        try {
          wgAdd(this.#handle(), -1)
        } catch {}
      }
    }
    this.#settle = settle
    // Reading or calling the result's `then` threw: count the task out (unless its outcome
    // already did), then throw from `go`, as a synchronous throw does.
    this.#threw = (e, counted) => {
      if (!counted) settle()
      throw e
    }
  }

  cHandle() {
    return this.#n.cHandle()
  }

  share() {
    return this.#n.share()
  }

  static fromShared(shared) {
    validate.shared(shared, 'shared')
    return new WaitGroup(NATIVE, Native.fromShared(shared))
  }

  [inspectCustom](depth, opts) {
    return inspectAs('WaitGroup', { count: this.count }, depth, opts)
  }

  static {
    WaitGroup.nativeOf = WaitGroup.#nativeOf
  }
}

const nativeOf = WaitGroup.nativeOf
delete WaitGroup.nativeOf
Object.defineProperty(WaitGroup.prototype, Symbol.toStringTag, {
  value: 'WaitGroup',
  configurable: true,
})

/** The options of a `wait()`, checked; `undefined` for none. */
function waitOptions(options) {
  const o = validate.options(options)
  if (o === undefined) return undefined
  const timeout = validate.optionalDuration(o.timeout, 'options.timeout')
  const signal = validate.optionalSignal(o.signal, 'options.signal')
  const ref = validate.optionalBoolean(o.ref, 'options.ref')
  return { timeout, signal, ref }
}

module.exports = { WaitGroup, nativeOf, waitOptions }
