'use strict'
// The few idioms the native half needs that are one line in JS (DOMException, AbortController,
// `then`). Handed to Rust once per thread by `native.js` (src/install.rs) and called from
// there by name; nothing here is public.
//
// Every error's stack is formatted at once (`void e.stack`): until then V8 keeps the receiver
// of every frame, and a reason cached by a token would keep alive the objects that asked for
// it — among them the token itself (a cycle through a strong reference).

/**
 * Whether a task's failure `e` is its group's cancellation coming back, not a failure of its
 * own: the group's token (`token`) is cancelled, and the task threw its reason or an
 * `AbortError` (a `DOMException` from `signal.throwIfAborted()` or `fetch`, Node's
 * `AbortError` from `timers/promises` or streams). Core leaves such failures out of
 * `collect: 'all'` once the group's first failure cancelled the token, as
 * `asyncio.TaskGroup` leaves out its tasks' `CancelledError`.
 */
function cancellation(e, token) {
  if (token === undefined || token === null || !token.cancelled) return false
  if (e === token.reason) return true
  return e !== null && typeof e === 'object' && (e.name === 'AbortError' || e.code === 'ABORT_ERR')
}

// The token that stands for each AbortSignal this thread has watched (src/cancel_token.rs,
// `signal_source`): held by the signal's one listener, gone with the signal.
const sources = new WeakMap()

module.exports = {
  // Runs a task that holds a slot of its own; `arg` is what it receives (a group's token),
  // `owner` the group's object, which the promise's handlers hold as any continuation would.
  run(fn, arg, owner, id, settle) {
    const r = fn(arg)
    if (
      r !== null &&
      (typeof r === 'object' || typeof r === 'function') &&
      typeof r.then === 'function'
    ) {
      r.then(
        () => settle(owner, id, false, undefined, false),
        (e) => settle(owner, id, true, e, cancellation(e, arg)),
      )
      return true
    }
    return false
  },
  cancellation,
  // A promise that never settles: resolving a dropped resolver's promise with it frees the
  // resolver (napi frees a deferred only by settling it), and leaves that promise pending.
  never() {
    return new Promise(() => {})
  },
  abortError() {
    const e = new DOMException('This operation was aborted', 'AbortError')
    void e.stack
    return e
  },
  timeoutError() {
    const e = new DOMException('The operation timed out.', 'TimeoutError')
    void e.stack
    return e
  },
  error(message, code) {
    const e = new Error(message)
    e.code = code
    // The stack starts at the caller of the addon method, not here.
    Error.captureStackTrace(e, module.exports.error)
    void e.stack
    return e
  },
  aggregate(errors) {
    const e = new AggregateError(errors, `${errors.length} tasks failed`)
    void e.stack
    return e
  },
  describe(v) {
    // A value Rust keeps (a task's error, a reason) gets its stack formatted now (see above).
    if (v instanceof Error) {
      try {
        void v.stack
      } catch {}
    }
    if (
      v instanceof Error ||
      (v !== null && typeof v === 'object' && typeof v.message === 'string')
    ) {
      return String(v.message)
    }
    try {
      return String(v)
    } catch {
      return Object.prototype.toString.call(v)
    }
  },
  controller() {
    return new AbortController()
  },
  abort(c, reason) {
    c.abort(reason)
  },
  signalOf(c) {
    return c.signal
  },
  aborted(s) {
    return s.aborted === true
  },
  reasonOf(s) {
    return s.reason
  },
  // The source token of `signal` (an external), if this thread made one.
  source(signal) {
    return sources.get(signal)
  },
  // Makes `source` the token of `signal`: one listener per signal, however many tokens,
  // groups and waits derive from it; it goes with the signal.
  watch(signal, source, cancel) {
    signal.addEventListener('abort', () => cancel(source, signal.reason), { once: true })
    sources.set(signal, source)
  },
  date(ms) {
    return new Date(ms)
  },
  timeOf(d) {
    return d instanceof Date ? d.getTime() : Number(d)
  },
}
