// The public `CancelToken` class, installed over the napi-rs one when the addon loads
// (src/loop_tasks.rs). Why it exists: napi-rs wraps every object it hands to JS (about 800 ns
// per token) and every method call costs about 250 ns, so `new CancelToken().cancel()` cost
// 1 µs and a tree of 100 children 100 µs. A token made here is a JS object holding a number:
// the core token lives in a per-thread table (src/handles.rs), `cancel()`, `cancelled`
// and `child()` reach it with one cheap call, and a FinalizationRegistry frees the entry when
// the object is collected. Everything else (`reason`, `signal`, `onCancel`, `share`, …)
// goes to the napi-rs object for the same core token, made on first use, once per token, so
// that its caches (`token.reason === token.reason`, one `signal`) hold as before. Tokens that
// native code makes (a group's token, `fromShared`, `any`, …) start from their napi-rs object,
// and take a handle to the same core token for the cheap calls.
// Core decides everything; this file only chooses the cheaper way to reach it.
//
// Receives the module's exports; replaces `exports.CancelToken` and removes the internal
// functions from them; returns `{ nativeOf, wrap }` for the Rust side.
(function installTokens(exports) {
  'use strict'
  const Native = exports.CancelToken
  const newToken = exports.__tokenNew
  const childOf = exports.__tokenChild
  const cancelHandle = exports.__tokenCancel
  const isCancelled = exports.__tokenCancelled
  const release = exports.__tokenRelease
  const fromHandle = exports.__tokenFromHandle
  const handleOf = Native.prototype.__handle
  delete Native.prototype.__handle
  for (const k of ['__tokenNew', '__tokenChild', '__tokenCancel', '__tokenCancelled', '__tokenRelease', '__tokenFromHandle']) {
    delete exports[k]
  }
  const registry = new FinalizationRegistry((h) => {
    try {
      release(h)
    } catch {} // the thread is shutting down: its table goes with it
  })
  // Only this closure can pass these, so `new CancelToken(x)` from user code is a new root.
  const HANDLE = Symbol('handle')
  const NATIVE = Symbol('native')

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
      registry.register(this, this.#h)
    }

    #native() {
      return this.#n ?? (this.#n = fromHandle(this.#h))
    }

    static #wrap(n) {
      return new CancelToken(NATIVE, n)
    }

    // Used by the Rust side: the napi-rs object of a token (anything else is returned as is,
    // for napi-rs to refuse with its usual error).
    static #nativeOf(t) {
      return t !== null && typeof t === 'object' && #h in t ? t.#native() : t
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
      return this.#native().deadline
    }

    child() {
      return new CancelToken(HANDLE, childOf(this.#h))
    }

    withTimeout(ms, reason) {
      return CancelToken.#wrap(this.#native().withTimeout(ms, reason))
    }

    withDeadline(deadline, reason) {
      return CancelToken.#wrap(this.#native().withDeadline(deadline, reason))
    }

    static any(tokens) {
      if (tokens === null || typeof tokens !== 'object' || typeof tokens[Symbol.iterator] !== 'function') {
        return CancelToken.#wrap(Native.any(tokens)) // the addon's own error
      }
      return CancelToken.#wrap(Native.any(Array.from(tokens, CancelToken.#nativeOf)))
    }

    onCancel(callback) {
      return this.#native().onCancel(callback)
    }

    get signal() {
      return this.#native().signal
    }

    static fromSignal(signal) {
      return CancelToken.#wrap(Native.fromSignal(signal))
    }

    whenCancelled() {
      return this.#native().whenCancelled()
    }

    throwIfCancelled() {
      if (!isCancelled(this.#h)) return
      this.#native().throwIfCancelled()
    }

    waitSync(timeoutMs) {
      return this.#native().waitSync(timeoutMs)
    }

    cHandle() {
      return this.#native().cHandle()
    }

    share() {
      return this.#native().share()
    }

    static fromShared(shared) {
      return CancelToken.#wrap(Native.fromShared(shared))
    }

    static {
      // For the Rust side (see the top of this file).
      exports.CancelToken = CancelToken
      CancelToken.internals = { nativeOf: CancelToken.#nativeOf, wrap: CancelToken.#wrap }
    }
  }

  const internals = CancelToken.internals
  delete CancelToken.internals
  Object.defineProperty(CancelToken.prototype, Symbol.toStringTag, { value: 'CancelToken', configurable: true })
  return internals
})
