'use strict'
// The public `CancelToken` class.
//
// Why it is JS: napi-rs wraps every object it hands to JS (about 800 ns per token) and every
// method call costs about 250 ns, so `new CancelToken().cancel()` cost 1 µs and a tree of 100
// children 100 µs. A token made here is a JS object holding a number: the core token lives in
// a per-thread table (src/handles.rs), `cancel()`, `cancelled` and `child()` reach it with one
// raw call, and a FinalizationRegistry frees the entry when the object is collected. Everything
// else (`reason`, `signal`, `onCancel`, `share`, …) goes to the napi-rs object for the same
// core token, made on first use, once per token, so that its caches (`token.reason ===
// token.reason`, one `signal`) hold. Tokens that native code makes (a group's token,
// `fromShared`, `any`, …) start from their napi-rs object and take a handle to the same core
// token for the cheap calls. Core decides everything; this file checks arguments and chooses
// the cheaper way to reach core.

const { setMaxListeners } = require('node:events')
const { binding, noClone, inspectAs, inspectCustom } = require('./native.js')
const validate = require('./validate.js')

const Native = binding.CancelToken
const newToken = binding.__tokenNew
const childOf = binding.__tokenChild
const cancelHandle = binding.__tokenCancel
const isCancelled = binding.__tokenCancelled
const release = binding.__tokenRelease
const fromHandle = binding.__tokenFromHandle
const handleOf = Native.prototype.__handle

const registry = new FinalizationRegistry((h) => {
  try {
    release(h)
  } catch {} // the thread is shutting down: its table goes with it
})
// Rarely used state lives beside the tokens rather than in them, so that a plain token stays
// two fields: the deadline as given (ms since the epoch) for tokens that have one (`deadline`
// reads it when core's monotonic instant cannot represent it), and the group tokens whose
// signal takes any number of listeners.
const givenDeadlines = new WeakMap()
let anyDeadline = false // no token has had a deadline yet: `child()` skips the lookup
const fanOut = new WeakSet()
// Only this module can pass these, so `new CancelToken(x)` from user code is a new root.
const HANDLE = Symbol('handle')
const NATIVE = Symbol('native')
const NO_CLONE = noClone(
  'CancelToken',
  'pass token.share() and call CancelToken.fromShared() there',
)

/**
 * What `onCancel` returns: `stop()` unregisters the callback (Go's `AfterFunc` stop function);
 * `using reg = token.onCancel(…)` stops it at the end of the block.
 */
class Registration {
  #native // the napi-rs registration, or null for a callback deferred to a microtask
  #deferred // for a token already cancelled: whether the callback has yet to run

  constructor(from, native) {
    if (from !== NATIVE)
      throw new TypeError('Illegal constructor: a Registration comes from token.onCancel()')
    this.#native = native
    this.#deferred = native === null
    this.gogroup = REGISTRATION_NO_CLONE
  }

  /** Runs `callback(reason)` in a microtask unless `stop()` comes first. */
  static #defer(callback, reason) {
    const reg = new Registration(NATIVE, null)
    queueMicrotask(() => {
      if (!reg.#deferred) return
      reg.#deferred = false
      callback(reason) // a throw is reported as uncaught, as EventTarget does
    })
    return reg
  }

  /**
   * Unregisters the callback: true if this prevented it from running, false if it already
   * ran (or was queued to run) or was already stopped.
   */
  stop() {
    if (this.#native === null) {
      const prevented = this.#deferred
      this.#deferred = false
      return prevented
    }
    return this.#native.stop()
  }

  [Symbol.dispose]() {
    this.stop()
  }

  static {
    Registration.defer = Registration.#defer
  }
}
const deferRegistration = Registration.defer
delete Registration.defer
const REGISTRATION_NO_CLONE = noClone('Registration', 'stop() it on the thread that made it')
Object.defineProperty(Registration.prototype, Symbol.toStringTag, {
  value: 'Registration',
  configurable: true,
})

/**
 * A cancellation signal for a tree of work (Go's `context.Context`), compatible with
 * `AbortSignal` and shareable with worker threads and native code.
 */
class CancelToken {
  #h // this thread's table entry for the core token
  #n = null // the napi-rs object, once needed

  constructor(from, value) {
    if (from === NATIVE) {
      // Made by the addon (a group's token, `fromShared`, `any`, …): the raw calls need a
      // handle to the same core token too, so that `cancelled` is as cheap here.
      this.#n = value
      this.#h = handleOf.call(value)
    } else {
      this.#h = from === HANDLE ? value : newToken()
    }
    this.gogroup = NO_CLONE
    registry.register(this, this.#h)
  }

  #native() {
    this.#n ??= fromHandle(this.#h)
    return this.#n
  }

  static #wrap(n) {
    return new CancelToken(NATIVE, n)
  }

  /** Remembers the effective deadline as given: the earlier of this token's and `ms`. */
  #withDeadline(t, ms) {
    const mine = anyDeadline ? givenDeadlines.get(this) : undefined
    const at = Number.isFinite(ms) && (mine === undefined || ms < mine) ? ms : mine
    if (at !== undefined) {
      anyDeadline = true
      givenDeadlines.set(t, at)
    }
    return t
  }

  // The napi-rs object of a token, for the Rust side (anything else is returned as is, and
  // refused there).
  static #nativeOf(t) {
    return CancelToken.#is(t) ? t.#native() : t
  }

  static #is(t) {
    return t !== null && typeof t === 'object' && #h in t
  }

  static #check(t, name) {
    if (!CancelToken.#is(t)) validate.invalidType(name, 'an instance of CancelToken', t)
    return t
  }

  cancel(reason) {
    if (reason === undefined) return cancelHandle(this.#h)
    return this.#native().cancel(reason)
  }

  get cancelled() {
    return isCancelled(this.#h)
  }

  get reason() {
    return this.#native().reason
  }

  get err() {
    return this.#native().err
  }

  get dependents() {
    return this.#native().dependents
  }

  get deadline() {
    const d = this.#native().deadline
    // Core keeps deadlines as monotonic instants, which cannot go back before the machine
    // booted: a deadline given before that (1970, say) reads back as the instant given.
    const given = anyDeadline ? givenDeadlines.get(this) : undefined
    if (given !== undefined && (d === null || given <= d.getTime())) return new Date(given)
    return d
  }

  child() {
    const t = new CancelToken(HANDLE, childOf(this.#h))
    return anyDeadline ? this.#withDeadline(t, undefined) : t
  }

  withTimeout(ms, reason) {
    validate.duration(ms, 'ms')
    const at = Date.now() + ms
    return this.#withDeadline(CancelToken.#wrap(this.#native().withTimeout(ms, reason)), at)
  }

  withDeadline(deadline, reason) {
    const ms = validate.deadline(deadline, 'deadline')
    return this.#withDeadline(CancelToken.#wrap(this.#native().withDeadline(ms, reason)), ms)
  }

  static any(tokens) {
    validate.iterable(tokens, 'tokens', 'an iterable of CancelToken or AbortSignal')
    const inputs = Array.from(tokens)
    // Every input is checked before any is used: a refused call listens to no signal.
    inputs.forEach((t, i) => {
      if (!CancelToken.#is(t) && !validate.isSignal(t)) {
        validate.invalidType(`tokens[${i}]`, 'an instance of CancelToken or AbortSignal', t)
      }
    })
    const natives = inputs.map((t) =>
      (CancelToken.#is(t) ? t : CancelToken.fromSignal(t)).#native(),
    )
    return CancelToken.#wrap(Native.any(natives))
  }

  onCancel(callback) {
    validate.fn(callback, 'callback')
    // As `addAbortListener` on an aborted signal: the callback runs in a microtask, never
    // inside this call.
    if (isCancelled(this.#h)) return deferRegistration(callback, this.reason)
    return new Registration(NATIVE, this.#native().onCancel(callback))
  }

  get signal() {
    const s = this.#native().signal
    if (fanOut.has(this)) {
      // Every task of a group may listen on its signal: no MaxListenersExceededWarning.
      setMaxListeners(0, s)
      fanOut.delete(this)
    }
    return s
  }

  static fromSignal(signal) {
    validate.signal(signal, 'signal')
    return CancelToken.#wrap(Native.fromSignal(signal))
  }

  whenCancelled(options) {
    const o = validate.options(options)
    if (o === undefined) return this.#native().whenCancelled()
    return this.#native().whenCancelled({ ref: validate.optionalBoolean(o.ref, 'options.ref') })
  }

  throwIfCancelled() {
    if (!isCancelled(this.#h)) return
    this.#native().throwIfCancelled()
  }

  waitSync(timeoutMs) {
    validate.optionalDuration(timeoutMs, 'timeoutMs')
    return this.#native().waitSync(timeoutMs ?? undefined)
  }

  cHandle() {
    return this.#native().cHandle()
  }

  share() {
    return this.#native().share()
  }

  static fromShared(shared) {
    validate.shared(shared, 'shared')
    return CancelToken.#wrap(Native.fromShared(shared))
  }

  [inspectCustom](depth, opts) {
    const state = { cancelled: this.cancelled }
    if (state.cancelled) state.reason = this.reason
    const d = this.deadline
    if (d !== null) state.deadline = d
    return inspectAs('CancelToken', state, depth, opts)
  }

  static {
    CancelToken.internals = {
      nativeOf: CancelToken.#nativeOf,
      wrap: CancelToken.#wrap,
      is: CancelToken.#is,
      check: CancelToken.#check,
      fanOut(t) {
        fanOut.add(t)
        return t
      },
    }
  }
}

const internals = CancelToken.internals
delete CancelToken.internals
Object.defineProperty(CancelToken.prototype, Symbol.toStringTag, {
  value: 'CancelToken',
  configurable: true,
})

module.exports = { CancelToken, Registration, internals }
