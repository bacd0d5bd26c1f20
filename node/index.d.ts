// Types of the `gogroup` package (Node). Hand-written: the classes are JS (lib/*.js) over
// the napi-rs addon, whose own generated typings are binding.d.ts (internal).
//
// Arguments are checked at the call: a value of the wrong type throws a `TypeError` with
// `code: 'ERR_INVALID_ARG_TYPE'`; a value of the right type that is not allowed (NaN, a
// fraction, a negative count or duration, an unknown option value) throws a `TypeError` with
// `code: 'GOGROUP_INVALID_ARGUMENT'`. A refused call changes nothing. `undefined` means "not
// given"; `null` is accepted where a type says `| null`.

/** Options of `WaitGroup.wait` and `ErrGroup.wait`. */
export interface WaitOptions {
  /** Give up after this many ms (>= 0): `WaitGroup.wait` resolves `false`, `ErrGroup.wait` rejects with `GOGROUP_TIMEOUT`. */
  timeout?: number | null
  /** Give up when this signal aborts: the promise rejects with `signal.reason`. */
  signal?: AbortSignal | null
  /**
   * Whether the pending wait keeps the event loop (the process, or the worker) alive until it
   * settles. Default: `true` for a wait with a `timeout` (as `await setTimeout(ms)`), `false`
   * for an unbounded one (as any unsettled promise). Pass `true` when another thread or C code
   * will settle it.
   */
  ref?: boolean
}

/** Options of `CancelToken.whenCancelled`. */
export interface WhenCancelledOptions {
  /**
   * Keep the event loop alive until the token is cancelled (default `false`: a pending
   * `whenCancelled()` is like any unsettled promise). For a worker that waits for another
   * thread's cancel.
   */
  ref?: boolean
}

/** Options of `new ErrGroup()`. */
export interface ErrGroupOptions {
  /** The group's token derives from this token (cancelled when it is). */
  token?: CancelToken | null
  /** The group's token is cancelled when this signal aborts, with its reason. */
  signal?: AbortSignal | null
  /** At most this many tasks run at once: an integer; `0`: none may start; negative or `Infinity`: no limit. */
  limit?: number | null
  /**
   * `'first'` (default): `wait()` rejects with the first failure. `'all'`: with an
   * `AggregateError` of every failure, leaving out the cancellations that the group's own
   * first failure caused (a sibling that rethrew the token's reason or an `AbortError`), as
   * `asyncio.TaskGroup` does.
   */
  collect?: 'first' | 'all'
}

/** Options of `ErrGroup.map`. */
export interface MapOptions {
  /**
   * At most this many items of this call are processed at once (p-map's `concurrency`): an
   * integer >= 1, or `Infinity` (the default: only the group's limit bounds them). The
   * group's limit, if any, still bounds every task of the group; the smaller one applies.
   */
  limit?: number | null
}

/**
 * A cancellation signal for a tree of work (Go's `context.Context`), compatible with
 * `AbortSignal` and shareable with worker threads and native code.
 *
 * ```js
 * const { CancelToken } = require('gogroup')
 * const root = new CancelToken()
 * const child = root.child()
 * root.cancel()
 * child.cancelled // true, synchronously
 * child.reason.name // 'AbortError'
 * ```
 */
export declare class CancelToken {
  /**
   * A new root token, cancelled only when you cancel it.
   *
   * ```js
   * new CancelToken().cancelled // false
   * ```
   */
  constructor()
  /**
   * Cancels the token and every token derived from it. Without `reason` the reason is a
   * `DOMException` named `AbortError` (as `AbortController.abort()`); with one, `reason` is
   * kept as the very same value. Returns true if this call cancelled it (the first cancel
   * wins), false if it was already cancelled.
   *
   * ```js
   * const t = new CancelToken()
   * const why = new Error('shutting down')
   * t.cancel(why) // true
   * t.reason === why // true
   * ```
   */
  cancel(reason?: unknown): boolean
  /** Whether the token is cancelled (one atomic load). */
  get cancelled(): boolean
  /**
   * Why the token was cancelled (`undefined` while it is not): the value given to
   * `cancel(reason)`, else an `AbortError` (`cancel()`) or a `TimeoutError` (a deadline)
   * `DOMException`, exactly like `AbortSignal.reason`.
   */
  get reason(): unknown
  /**
   * Go's `ctx.Err()`: `null` while live, then an `Error` with `code` `'GOGROUP_CANCELED'`
   * or `'GOGROUP_DEADLINE_EXCEEDED'` (never the reason itself).
   */
  get err(): Error | null
  /**
   * Child tokens, `any` tokens and `onCancel` callbacks currently registered on this token
   * (core's `dependents`). This object's own `signal` is a view of the token, not a
   * dependent, and is left out. A diagnostic, for tests and leak hunting: it drops back
   * when they are cancelled, stopped or garbage-collected, and its exact value is not part
   * of the API.
   *
   * ```js
   * const t = new CancelToken()
   * const reg = t.onCancel(() => {})
   * t.dependents // 1
   * reg.stop()
   * t.dependents // 0
   * ```
   */
  get dependents(): number
  /**
   * The effective deadline (the earliest of this token's and its ancestors'), or `null`. A
   * deadline given before the machine booted (1970, say) reads as the instant given.
   */
  get deadline(): Date | null
  /**
   * A child token: cancelled (with the same reason) when this one is, and cancellable on its
   * own without affecting this one.
   */
  child(): CancelToken
  /**
   * A child token that is also cancelled after `ms` milliseconds (Go's `WithTimeout`), with
   * a `TimeoutError` reason — or with `reason`, kept as the very same value, if one is given
   * (Go's `WithTimeoutCause`; a `cancel()` before the deadline still gives its own reason).
   * `err` is `GOGROUP_DEADLINE_EXCEEDED` either way. The timer runs on core's timer thread
   * and, like `AbortSignal.timeout()`, does not keep the process alive.
   *
   * ```js
   * const t = root.withTimeout(5000, new Error('quote expired'))
   * ```
   */
  withTimeout(ms: number, reason?: unknown): CancelToken
  /**
   * A child token that is also cancelled at `deadline` (a `Date` or ms since the epoch),
   * with a `TimeoutError` reason, or with `reason` if one is given (Go's `WithDeadline` and
   * `WithDeadlineCause`, as `withTimeout`). A past deadline gives a cancelled token.
   */
  withDeadline(deadline: Date | number, reason?: unknown): CancelToken
  /**
   * A token cancelled as soon as any of `tokens` is, with that token's reason (like
   * `AbortSignal.any`, whose inputs it also takes). It leaves no trace in its inputs once it
   * is dropped or cancelled.
   */
  static any(tokens: Iterable<CancelToken | AbortSignal>): CancelToken
  /**
   * Runs `callback(reason)` on this thread's event loop once the token is cancelled (Go's
   * `AfterFunc`): inside `cancel()` when this thread cancels it, as `AbortController.abort()`
   * dispatches; in a microtask if it already is cancelled, as `addAbortListener` does; soon
   * after when another thread cancels it. `stop()` on the result unregisters it: true if that
   * prevented the call. A throw in `callback` is reported as uncaught, as EventTarget does.
   */
  onCancel(callback: (reason: unknown) => void): Registration
  /**
   * A real `AbortSignal`, aborted with the same reason when this token is cancelled (for
   * `fetch`, streams, timers and every API that takes a `signal`). Created on first use.
   */
  get signal(): AbortSignal
  /**
   * A token cancelled when `signal` aborts, with `signal.reason` as its reason (the same
   * value). An already-aborted signal gives a cancelled token.
   */
  static fromSignal(signal: AbortSignal): CancelToken
  /**
   * A promise that resolves with the reason once the token is cancelled (never rejects).
   * A pending promise does not keep the process alive, unless `{ ref: true }`.
   */
  whenCancelled(options?: WhenCancelledOptions | null): Promise<unknown>
  /** Throws the reason if the token is cancelled (like `AbortSignal.throwIfAborted()`). */
  throwIfCancelled(): void
  /**
   * Blocks this thread until the token is cancelled or `timeoutMs` passes; true if
   * cancelled. Only in worker threads: on the main thread it throws
   * (`GOGROUP_INVALID_ARGUMENT`), because blocking the event loop is a bug.
   */
  waitSync(timeoutMs?: number | undefined | null): boolean
  /**
   * A new C handle (`gogroup_cancel_token *`, as a `bigint` address) to this same token, for
   * native code linked against `libgogroup` (or any other copy of gogroup in the process):
   * its threads can wait on it, poll it and cancel it, and a cancel on either side is seen on
   * the other. Each call makes a new handle that the native side owns and releases exactly
   * once with `gogroup_cancel_token_free`. See `examples/cross-runtime`.
   *
   * ```js
   * const handle = token.cHandle() // pass to a native addon, which frees it when done
   * ```
   */
  cHandle(): bigint
  /**
   * A new number that `CancelToken.fromShared(n)` turns back into this same token on any
   * thread (post it to a `worker_threads` Worker, or put it in its `workerData`). Until it is
   * first taken, the number keeps the token on its own, whatever happens to this object; once
   * taken, it stays valid while this object or any object made from it is alive, then it is
   * released. A number never taken keeps the token until the process exits: share once per
   * receiver.
   */
  share(): number
  /**
   * The token a `share()` number stands for: the same core token, so cancelling either
   * side cancels both.
   */
  static fromShared(shared: number): CancelToken
}

/**
 * A group of tasks that fail together (Go's `errgroup.Group` made with `WithContext`): every
 * task receives the group's token; the first failure cancels it, with that failure as reason.
 *
 * ```js
 * const { ErrGroup } = require('gogroup')
 * const g = new ErrGroup({ limit: 4 })
 * for (const url of urls) g.go(async (token) => { await fetch(url, { signal: token.signal }) })
 * await g.wait() // rejects with the first error, the very value that was thrown
 * ```
 */
export declare class ErrGroup {
  /**
   * A new group. `token`/`signal`: the group's token derives from them (cancelled when
   * either is); `limit`: at most this many tasks run at once (`0`: none may start; negative
   * or absent: no limit, as `setLimit`); `collect: 'all'` makes `wait()` reject with an
   * `AggregateError` of every failure instead of the first.
   */
  constructor(options?: ErrGroupOptions | null)
  /**
   * The group's token: cancelled by the first failure (with it as the reason), by a parent
   * token or signal, by `shutdown()`, and when `wait()` settles. Tasks receive it.
   */
  get token(): CancelToken
  /**
   * Starts `fn(token)`: at once if a slot is free, else as soon as one is (in call order).
   * `fn` may be sync or async; a throw or a rejection is the task's error. If the group's
   * token is cancelled while `fn` waits for a slot, `fn` never runs.
   *
   * In a group without a limit this costs what `Promise.all` costs per task: the tasks
   * pending on this thread's loop share one slot in core, and only a failure crosses into
   * the addon (recorded at once, so the first one cancels the token at once); `active`
   * and `shutdown()` still count each task.
   */
  go(fn: (token: CancelToken) => unknown): void
  /** Starts `fn(token)` only if a slot is free right now (Go's `TryGo`); false otherwise. */
  tryGo(fn: (token: CancelToken) => unknown): boolean
  /**
   * Starts `fn(token)` exactly as `go(fn)` does (at once if a slot is free, else queued in
   * call order; counted by `wait()` and `active`; a failure is the task's, by the group's
   * rules) and returns a promise of its value (asyncio's `TaskGroup.create_task`, p-limit's
   * `limit(fn)`): it resolves with what `fn` returned (a thenable is awaited, its `then`
   * called once) and rejects with the very value `fn` threw or rejected with.
   *
   * - Ignoring the promise never raises an `unhandledRejection`: the group owns the failure
   *   (the first one cancels the token; `wait()` reports it), and the promise is marked
   *   handled. Awaiting it still sees the rejection.
   * - If the group's token is cancelled while the task waits for a slot, `fn` never runs
   *   and the promise rejects with the token's reason (nothing is recorded in the group).
   * - A synchronous throw does not escape `run`: the promise rejects with it.
   * - A task that starts at once has left the group (its slot is free) by the time a caller
   *   awaiting the promise resumes.
   *
   * ```js
   * const g = new ErrGroup({ limit: 4 })
   * const price = g.run(async (token) => (await fetch(priceUrl, { signal: token.signal })).json())
   * const stock = g.run(async (token) => (await fetch(stockUrl, { signal: token.signal })).json())
   * const page = { price: await price, stock: await stock } // the first failure rejects here
   * ```
   */
  run<T>(fn: (token: CancelToken) => T | PromiseLike<T>): Promise<Awaited<T>>
  /**
   * Calls `fn(item, index, token)` for every item of `items` (any iterable, or an async
   * iterable), each call a task of the group as with `run`, and resolves with their values
   * in input order (p-map, `Promise.all(items.map(…))` under the limit).
   *
   * - At most `options.limit` items of this call, and never more than the group's limit,
   *   are processed at once. Items are taken lazily, one when a task can start on it, inside
   *   that task's slot: a generator or a stream of millions is never read ahead, and
   *   `wait()` covers a map that is still reading. An async iterable is read one `next()`
   *   at a time, by the task that will run the item (a pending `next()` is awaited, as
   *   `for await` does). Items are passed as they are (a promise item is not awaited).
   * - Rejects with the first failure of its items — the very value thrown, also when the
   *   iterable itself throws — which the group records and which cancels its token. Once
   *   the group's token is cancelled (by that failure, a parent, `shutdown()`), no item is
   *   taken any more, the iterable is closed (`return()`, as `for … of` does), and the map
   *   rejects with the token's reason unless one of its items failed first. Items already
   *   running go on; their outcome is the group's (`collect: 'all'` reports their failures).
   * - Like `run`, never raises an `unhandledRejection`.
   *
   * ```js
   * const g = new ErrGroup({ signal: request.signal })
   * const pages = await g.map(urls, async (url, i, token) => (await fetch(url, { signal: token.signal })).text(), { limit: 8 })
   * ```
   */
  map<I, R>(
    items: Iterable<I> | AsyncIterable<I>,
    fn: (item: I, index: number, token: CancelToken) => R | PromiseLike<R>,
    options?: MapOptions | null,
  ): Promise<Awaited<R>[]>
  /**
   * Limits the tasks running at once to `n` (Go's `SetLimit`): `0` so that nothing may
   * start (`tryGo` returns false, `go` queues until the limit is raised or the group is
   * cancelled), negative or `Infinity` for no limit. Throws `GOGROUP_LIMIT_IN_USE` while
   * tasks are running (setting the current value again is always allowed), and
   * `GOGROUP_INVALID_ARGUMENT` for NaN or a fraction.
   *
   * ```js
   * const g = new ErrGroup()
   * g.setLimit(0)
   * g.tryGo(() => {}) // false
   * g.limit // 0
   * ```
   */
  setLimit(n: number): void
  /**
   * Tasks holding a slot right now: started and not yet finished (the number the limit
   * bounds and `setLimit` checks). Tasks still waiting for a slot are not counted.
   *
   * ```js
   * const g = new ErrGroup()
   * g.go(() => new Promise(() => {})) // never settles
   * g.active // 1
   * ```
   */
  get active(): number
  /**
   * The current limit on tasks running at once, or `null` for none (`0`: nothing may
   * start).
   *
   * ```js
   * new ErrGroup({ limit: 4 }).limit // 4
   * new ErrGroup().limit // null
   * ```
   */
  get limit(): number | null
  /**
   * The recorded failures, in the order the tasks finished, as the very values the tasks
   * threw or rejected with: at most the first one, or every one with `collect: 'all'`.
   * Empty while nothing failed.
   *
   * ```js
   * const g = new ErrGroup({ collect: 'all' })
   * g.go(() => { throw 42 })
   * await g.wait().catch(() => {})
   * g.errors() // [42]
   * ```
   */
  errors(): unknown[]
  /**
   * Resolves once every task finished; rejects with the first failure — the very value the
   * task threw or rejected with — or, with `collect: 'all'`, with an `AggregateError` of all
   * of them. The group's token is cancelled when it settles.
   *
   * `timeout` (ms): rejects with an `Error` whose `code` is `'GOGROUP_TIMEOUT'` if tasks
   * still run then; `signal`: rejects with `signal.reason` if it aborts first. Giving up
   * early leaves the group untouched: its token is not cancelled, its tasks keep running,
   * and a later `wait()` still reports their outcome. Never blocks.
   *
   * ```js
   * await g.wait({ timeout: 1000 })               // GOGROUP_TIMEOUT after 1 s
   * await g.wait({ signal: request.signal })      // rejects with request.signal.reason
   * ```
   */
  wait(options?: WaitOptions | null): Promise<void>
  /**
   * Graceful shutdown: cancels the token, waits at most `graceMs` for the tasks, and
   * resolves to how many still run (0: all stopped). Never rejects. With `reason`, the token
   * is cancelled with it, kept as the very same value (as `token.cancel(reason)`); without,
   * with an `AbortError`. A token cancelled already keeps its first reason.
   *
   * ```js
   * await g.shutdown(500, new Error('server stopping')) // tasks see token.reason
   * ```
   */
  shutdown(graceMs?: number | null, reason?: unknown): Promise<number>
  /**
   * `await using g = new ErrGroup()`: cancels the token and waits for every task (errors
   * are left to `wait()`).
   */
  [Symbol.asyncDispose](): Promise<void>
}

/** The handle `onCancel` returns (Go's `AfterFunc` stop function); not constructible. */
export declare class Registration {
  /**
   * Unregisters the callback: true if this prevented it from running, false if it already
   * ran (or was queued to run) or was already stopped.
   */
  stop(): boolean
  /** `using reg = token.onCancel(…)`: stops the registration at the end of the block. */
  [Symbol.dispose](): void
}

/**
 * Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
 *
 * ```js
 * const { WaitGroup } = require('gogroup')
 * const wg = new WaitGroup()
 * for (const url of urls) wg.go(async () => { await fetch(url) })
 * await wg.wait()
 * ```
 */
export declare class WaitGroup {
  /** A new wait group with a zero counter. */
  constructor()
  /**
   * Adds `delta` (default 1, may be negative) to the counter. A change that would make it
   * negative throws `GOGROUP_NEGATIVE_COUNTER` and is not applied.
   */
  add(delta?: number | undefined | null): void
  /** Decrements the counter by one. Throws `GOGROUP_NEGATIVE_COUNTER` if it is zero. */
  done(): void
  /**
   * A new C handle (`gogroup_wait_group *`, as a `bigint` address) to this same counter, for
   * native code linked against `libgogroup` (or any other copy of gogroup in the process):
   * its threads can `add`/`done`/`wait`, and `done()` there resolves `wait()` here. Each call
   * makes a new handle that the native side owns and releases exactly once with
   * `gogroup_wait_group_free`. See `examples/cross-runtime`.
   *
   * ```js
   * const handle = wg.cHandle() // pass to a native addon, which frees it when done
   * ```
   */
  cHandle(): bigint
  /** The current counter. */
  get count(): number
  /**
   * Resolves to `true` once the counter is zero (at once if it is), to `false` after
   * `timeout` ms; rejects with `signal.reason` if `signal` aborts first. Never blocks.
   */
  wait(options?: WaitOptions | null): Promise<boolean>
  /**
   * Blocks this thread until the counter is zero or `timeoutMs` passes; true if zero.
   * Only in worker threads: on the main thread it throws (`GOGROUP_INVALID_ARGUMENT`),
   * because blocking the event loop is a bug.
   */
  waitSync(timeoutMs?: number | undefined | null): boolean
  /**
   * Runs `fn()` counted by this group (Go's `WaitGroup.Go`): the counter is incremented
   * now and decremented when `fn` returns or, for an async function, when its promise
   * settles. A synchronous throw is rethrown here (after the decrement); a rejection only
   * decrements the counter (use `ErrGroup` to collect errors).
   *
   * Costs what a plain-JS WaitGroup's `go` costs: the tasks pending on this thread's event
   * loop share one count in core (taken by the first, given back by the last), so no task
   * crosses into the addon; every wait, on any thread, still sees them, and `count` reports
   * each one.
   */
  go(fn: () => unknown): void
  /**
   * A new number that `WaitGroup.fromShared(n)` turns back into this same wait group on any
   * thread (post it to a `worker_threads` Worker, or put it in its `workerData`), with the
   * lifetime of `CancelToken.share()`'s numbers.
   */
  share(): number
  /**
   * The wait group a `share()` number stands for: the same counter, so `done()` in a
   * worker resolves `wait()` on the main thread.
   */
  static fromShared(shared: number): WaitGroup
}

/**
 * Every error code, in core's order: `errorCodes()[i] === 'GOGROUP_' + name`.
 *
 * ```js
 * const { errorCodes } = require('gogroup')
 * errorCodes().includes('GOGROUP_NEGATIVE_COUNTER') // true
 * ```
 */
export declare function errorCodes(): Array<string>

/**
 * Builds the error a core error of kind `code` (1-based, core's numbering) becomes in JS,
 * with `message`: for tests and for code that bridges C results.
 *
 * ```js
 * const { errorFromCode } = require('gogroup')
 * errorFromCode(1, 'x').code // 'GOGROUP_NEGATIVE_COUNTER'
 * ```
 */
export declare function errorFromCode(code: number, message: string): Error

/**
 * The version of the native addon (the workspace version).
 *
 * ```js
 * require('gogroup').version() // '0.1.0'
 * ```
 */
export declare function version(): string
