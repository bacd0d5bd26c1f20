'use strict'
// `ErrGroup.run` and `ErrGroup.map`: tasks that give back a value (asyncio's
// `TaskGroup.create_task`, p-limit's `limit(fn)`, p-map), built on the group's own `go`.
//
// Every task is one `go` task, so the group's rules are the only rules: the limit, the queue
// when it is full (in call order), the first failure cancelling the token, `collect: 'all'`,
// `wait()` and `active` counting it. This file only carries the task's value (or failure) back
// to the caller's promise, and feeds `map`'s items to `go` lazily. It decides nothing about the
// group itself.
//
// Rules (the typings and README say the same):
// 1. The promise settles like the task: the value of `fn` (a thenable awaited, its `then`
//    called once), or a rejection with the very value thrown. The group records that failure
//    by its own rule, so the promise is marked handled: ignoring it never raises an
//    `unhandledRejection` (`wait()` reports the failure; awaiting the promise still sees it).
// 2. A task that never runs settles too: if the group's token is cancelled while the task
//    waits for a slot, core drops it (`go`'s rule) and the promise rejects with the token's
//    reason. Nothing is recorded for it in the group (the cancellation already says why).
// 3. `map` pulls an item only when a task can take it, inside that task's slot: so a large or
//    endless source is consumed lazily (at most `limit` items taken and not finished), `wait()`
//    covers a map still pulling, and an error thrown by the source is that task's failure.
//    It stops taking items once the group's token is cancelled (its first failure, a parent, a
//    shutdown) and then rejects with the token's reason unless one of its tasks failed first;
//    tasks already running go on, their outcome the group's. An early stop closes the source
//    (`return()`, as `for … of` does). Results are in input order.
//
// Cost: what the task costs in the group (`go`), plus a small record. `run` makes no closure
// per task, and no promise of its own for a task that starts at once and returns one. A map
// keeps at most `min(options.limit, group limit)` tasks of its own in the group and adds a
// reaction or two per item; with a limit, each next task starts in the slot a finished one
// freed (`Mapping` explains when it must wait in core's queue instead); on a busy group at
// most one of its tasks waits there.

const promiseThen = Promise.prototype.then
const noop = () => {}

// What the function of a `run` task gave, as the task's `kind`.
const NOTHING = 0 // not called yet
const VALUE = 1
const PROMISE = 2 // `out` is a native promise
const THREW = 3

const NOT_THENABLE = Symbol('not thenable')

// Where a `run` task is.
const WAITING = 0 // inside `go`, not started (yet)
const QUEUED = 1 // waits in core's queue for a slot
const STARTED = 2
const ABANDONED = 3 // never ran: the token was cancelled while it waited

/**
 * `r` as a native promise if it is a thenable (a foreign thenable's `then` is read and called
 * once, as `await` does), else `NOT_THENABLE`. Throws what reading `then` throws.
 */
function promiseOf(r) {
  if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return NOT_THENABLE
  const then = r.then
  if (typeof then !== 'function') return NOT_THENABLE
  if (then === promiseThen) return r
  return new Promise((resolve, reject) => then.call(r, resolve, reject))
}

/** Marks `p` handled: its rejection is the group's to report (rule 1). */
function handled(p) {
  promiseThen.call(p, undefined, noop)
}

/**
 * The `run`/`map` calls of one group whose task waits in core's queue for a slot. If the
 * group's token is cancelled first, core never runs that task (rule 2): each entry still
 * `waiting` then gets `abandon(reason)`.
 *
 * One `onCancel` registration per group, made when a task first waits and never stopped (a
 * registration costs ~3 µs: one per queued task would double what a queued task costs). Its
 * callback reaches only this object's queue, never the group or its token, so it keeps no
 * cycle through the addon: an idle group is collected as any other, and its registration with
 * its token. After the token was cancelled, an entry added later is abandoned in a microtask.
 *
 * Entries are kept in the order they queued: an entry that starts sets `waiting = false` and
 * calls `started()`, which drops the entries at the front that no longer wait (no hashing per
 * task; correct in any order, since a cancel looks at `waiting`, not at the position).
 */
class Waiters {
  #queue = new WaitingList()
  // `run` tasks go to `go` as ONE function per group, `runner`, never a closure per task:
  // the addon keeps a reference to the function of every queued task, and thousands of
  // distinct closures kept that way cost the garbage collector ~0.7 µs per task. The runner
  // starts `#current` when `go` calls it at once, else the oldest queued task: core starts
  // queued tasks of a group in call order, and which of the runner's queued calls starts
  // first does not matter, since each starts the oldest task still waiting.
  #current = null

  runner = (token) => {
    let r = this.#current
    if (r !== null) this.#current = null
    else {
      r = this.#queue.nextRun()
      if (r === null) return undefined // none waits any more
    }
    return r.start(token)
  }

  /** Starts `r` through `go`: at once, or queued (the runner's next call starts it). */
  go(group, r) {
    this.#current = r
    try {
      group.go(this.runner)
    } finally {
      this.#current = null
    }
  }

  /** `r` waits in core's queue (`go` did not start it). */
  queued(r, token) {
    this.#queue.runs.push(r)
    this.add(r, token)
  }

  /** `entry` waits for a slot in the group whose token is `token`. */
  add(entry, token) {
    const q = this.#queue
    q.push(entry)
    if (q.state === UNWATCHED) {
      q.state = WATCHED
      token.onCancel(q.cancelled) // kept until the token is cancelled or dropped
    } else if (q.state === CANCELLED) {
      queueMicrotask(q.flush)
    }
  }

  started() {
    this.#queue.started()
  }
}

// What a `WaitingList` knows of its group's token.
const UNWATCHED = 0
const WATCHED = 1 // its onCancel callback is registered
const CANCELLED = 2 // … and has run

class WaitingList {
  state = UNWATCHED
  reason = undefined
  #list = []
  #head = 0 // entries before it no longer wait
  runs = [] // the `run` tasks among them, in call order, for the runner
  #runsHead = 0

  /** The oldest `run` task still waiting, taken off the list; null if none. */
  nextRun() {
    const runs = this.runs
    let head = this.#runsHead
    while (head < runs.length && runs[head].state !== QUEUED) head++
    const r = head < runs.length ? runs[head++] : null
    if (head === runs.length) {
      this.runs = []
      head = 0
    } else if (head >= 1024 && head * 2 >= runs.length) {
      this.runs = runs.slice(head)
      head = 0
    } else {
      runs[head - 1] = null
    }
    this.#runsHead = head
    return r
  }

  cancelled = (reason) => {
    this.state = CANCELLED
    this.reason = reason
    this.flush()
  }

  flush = () => {
    const list = this.#list
    const head = this.#head
    this.#list = []
    this.#head = 0
    this.runs = []
    this.#runsHead = 0
    for (let i = head; i < list.length; i++) if (list[i].waiting) list[i].abandon(this.reason)
  }

  push(entry) {
    this.#list.push(entry)
  }

  started() {
    const list = this.#list
    let head = this.#head
    while (head < list.length && !list[head].waiting) head++
    if (head === list.length) {
      this.#list = []
      head = 0
    } else if (head >= 1024 && head * 2 >= list.length) {
      this.#list = list.slice(head) // a queue that never empties: drop the front now and then
      head = 0
    }
    this.#head = head
  }
}

/**
 * `group.run(fn)`: `fn(token)` as a `go` task; a promise of its value.
 *
 * A task that starts in this call and returns a native promise hands that very promise back:
 * the group attached its handling first (so the caller resumes after the task left the group,
 * and a rejection is handled), and no promise is made. Otherwise the caller gets a promise of
 * its own, which a task that waited for a slot returns to the group, so that the group handles
 * it in the same way.
 */
function run(group, waiters, fn) {
  const r = new RunTask(fn, waiters)
  waiters.go(group, r)
  if (r.state === STARTED) {
    if (r.kind === PROMISE) return r.out
    if (r.kind === VALUE) return Promise.resolve(r.out)
    const p = Promise.reject(r.out)
    handled(p)
    return p
  }
  r.state = QUEUED
  r.promise = new Promise((resolve, reject) => {
    r.resolve = resolve
    r.reject = reject
  })
  waiters.queued(r, group.token)
  return r.promise
}

/** One `run` task, and its entry in `Waiters` while it waits for a slot. */
class RunTask {
  constructor(fn, waiters) {
    this.fn = fn
    this.waiters = waiters
    this.state = WAITING
    this.kind = NOTHING
    this.out = undefined
    this.promise = null // the caller's, when the task does not give one at once
    this.resolve = null
    this.reject = null
  }

  get waiting() {
    return this.state === QUEUED
  }

  start(token) {
    if (this.state === ABANDONED) return undefined // the caller was told it never ran (rule 2)
    const queued = this.state === QUEUED
    this.state = STARTED
    try {
      const r = this.fn(token)
      const p = promiseOf(r)
      if (p === NOT_THENABLE) {
        this.kind = VALUE
        this.out = r
      } else {
        this.kind = PROMISE
        this.out = p
      }
    } catch (e) {
      this.kind = THREW
      this.out = e
    }
    if (!queued) {
      if (this.kind === THREW) throw this.out // the group records it, by its rules
      return this.kind === PROMISE ? this.out : undefined
    }
    this.waiters.started()
    if (this.kind === THREW) {
      this.reject(this.out)
      handled(this.promise)
      throw this.out
    }
    this.resolve(this.out)
    // The group handles the caller's promise, which follows `out`, one step later.
    return this.kind === PROMISE ? this.promise : undefined
  }

  abandon(reason) {
    if (this.state !== QUEUED) return
    this.state = ABANDONED
    this.reject(reason)
    handled(this.promise)
  }
}

/**
 * `group.map(items, fn, { limit })`. `isAsync`: `items` is read as an async iterable
 * (`validate.anyIterable`). `limit`: an integer >= 1, or Infinity.
 */
function map(group, waiters, items, isAsync, fn, limit) {
  const groupLimit = group.limit
  // Never more of its own tasks than the group can run: each then starts at once.
  const window = groupLimit !== null && groupLimit > 0 && groupLimit < limit ? groupLimit : limit
  return new Mapping(group, waiters, items, isAsync, fn, window, groupLimit === null).promise
}

/**
 * One `map` call.
 *
 * The group must never look idle while the map has items left: `wait()` completes (and cancels
 * the token) the moment the group's count drops to zero, inside the call that drops it. So a
 * task of the map reports its value to the map (`#ok`) BEFORE the group sees it finish (the
 * group awaits the task's promise `d`, which settles after `#ok`), and the next task is started
 * before the last task of the map in the group leaves it. In a group without a limit `#ok`
 * starts it at once. In a group with a limit the slot is still held during `#ok`, and a task
 * started then would wait in core's queue: so the next task starts after the group's own
 * reaction to `d` (`after`), directly in the freed slot; only the map's last task in the group
 * is held back (its `d` follows a promise resolved once the next task has started).
 */
class Mapping {
  constructor(group, waiters, items, isAsync, fn, window, unlimited) {
    this.group = group
    this.waiters = waiters
    this.fn = fn
    this.window = window
    this.unlimited = unlimited // the group has no limit: a next task always starts at once
    this.isAsync = isAsync
    // An array that iterates as arrays do: read by index (the same items, in the same order,
    // as its iterator would give; its length read at each step, as the iterator does).
    this.array =
      !isAsync && Array.isArray(items) && items[Symbol.iterator] === arrayValues ? items : null
    this.it = null // the iterator, opened at the first pull
    this.items = items
    this.index = 0 // items taken
    this.running = 0 // tasks in the window: started or waiting for a slot, not yet left the group
    this.unreported = 0 // of them, those whose value (or failure) has not reached the map
    this.waiting = false // one task waits in core's queue (never more: the next goes after it)
    this.pulling = false // async source: a task awaits next()
    this.inPull = false // sync source: inside next() (a cancel from there closes it after)
    this.exhausted = false
    this.stopped = false // the promise is settled (or settling): take no more items
    this.results = []
    this.inGo = false
    this.startedNow = false
    this.promise = new Promise((res, rej) => {
      this.resolve = res
      this.reject = rej
    })
    this.task = (token) => this.#start(token)
    this.failed = (e) => {
      this.stop(e)
      throw e // the task's failure, for the group
    }
    this.after = () => {
      this.running--
      this.#pump()
    }
    this.refill = () => this.#pump()
    this.entry = null // in `Waiters`, while a task of this map waits for a slot
    this.#pump()
  }

  /** Starts tasks while the window allows, then settles if everything is done. */
  #pump() {
    while (
      !this.stopped &&
      !this.waiting &&
      !this.pulling &&
      !this.exhausted &&
      this.running < this.window &&
      (this.array === null || this.index < this.array.length)
    ) {
      this.running++
      this.unreported++
      this.startedNow = false
      this.inGo = true
      try {
        this.group.go(this.task)
      } catch (e) {
        this.stop(e)
        return
      } finally {
        this.inGo = false
      }
      if (!this.startedNow) {
        // Waits for a slot (another task of the group holds it); the next one goes when this
        // one starts, so a busy group never holds more than one of this map's tasks queued.
        this.waiting = true
        this.entry = new MapEntry(this)
        this.waiters.add(this.entry, this.group.token)
        return
      }
    }
    if (this.stopped || this.running > 0) return
    if (this.exhausted || (this.array !== null && this.index >= this.array.length)) {
      this.stopped = true
      this.resolve(this.results)
    }
  }

  /** The task, in its slot (`token`: the group's): takes an item and calls `fn` on it. */
  #start(token) {
    const now = this.inGo
    if (now) {
      this.startedNow = true
    } else {
      this.waiting = false
      this.entry.waiting = false
      this.entry = null
      this.waiters.started()
      queueMicrotask(this.refill) // fill the window, outside core's poll of its queue
    }
    if (this.stopped) {
      this.#gone()
      return undefined
    }
    if (token.cancelled) {
      this.#gone()
      this.stop(token.reason)
      return undefined
    }
    const record = { i: -1, d: null } // the item's index (once taken), the task's promise
    let p // what the task gives: a promise of fn's value
    if (this.isAsync) {
      p = this.#pullAsync(token, record)
    } else {
      let out
      try {
        out = this.#take(token, record)
      } catch (e) {
        this.#gone()
        this.stop(e)
        throw e // the task's failure, for the group
      }
      if (record.i < 0) {
        this.#gone() // the source is exhausted: nothing to do
        return undefined
      }
      // A value too goes through a promise: the task must not leave the group before `#ok`.
      p = out === NOT_THENABLE ? Promise.resolve(record.value) : out
      record.value = undefined
    }
    const d = promiseThen.call(p, (v) => this.#ok(record, v), this.failed)
    record.d = d
    return d
  }

  /**
   * Takes the next item of a sync source (its index in `record.i`, -1 if none is left) and
   * calls `fn` on it: a native promise of its value, or NOT_THENABLE with the value in
   * `record.value`. Throws what the source or `fn` throws.
   */
  #take(token, record) {
    let value
    if (this.array !== null) {
      if (this.index >= this.array.length) {
        this.exhausted = true
        return undefined
      }
      value = this.array[this.index]
    } else {
      let step
      this.inPull = true
      try {
        if (this.it === null) this.it = this.items[Symbol.iterator]()
        step = this.it.next()
        if (step === null || typeof step !== 'object')
          throw new TypeError(`Iterator result ${step} is not an object`)
        if (step.done) {
          this.exhausted = true
          return undefined
        }
        value = step.value
      } catch (e) {
        this.exhausted = true // a source that threw is finished (`for … of` does not close it)
        throw e
      } finally {
        this.inPull = false
        if (this.stopped) this.#close()
      }
      if (this.stopped) return undefined // stopped from inside next(): the item is dropped
    }
    const i = this.index++
    this.results.push(undefined) // its place, so that the array stays dense whatever finishes first
    record.i = i
    const r = this.fn(value, i, token)
    const p = promiseOf(r)
    if (p === NOT_THENABLE) record.value = r
    return p
  }

  /**
   * Async source: the task awaits the next item (one pull at a time: the next task starts
   * pulling once this one has its item), then runs `fn` on it. A promise of fn's value.
   */
  #pullAsync(token, record) {
    let pull
    try {
      if (this.it === null) this.it = this.items[Symbol.asyncIterator]()
      pull = Promise.resolve(this.it.next())
    } catch (e) {
      this.exhausted = true
      pull = Promise.reject(e)
    }
    this.pulling = true
    return promiseThen.call(
      pull,
      (step) => {
        this.pulling = false
        if (step === null || typeof step !== 'object')
          throw new TypeError(`Iterator result ${step} is not an object`)
        if (step.done) {
          this.exhausted = true
          return undefined
        }
        if (this.stopped) return undefined
        if (token.cancelled) {
          this.stop(token.reason) // cancelled while this task awaited the item: not taken
          return undefined
        }
        const i = this.index++
        this.results.push(undefined)
        record.i = i
        const r = this.fn(step.value, i, token)
        this.#pump() // the next task may pull the next item (this one is in the group)
        return r // this task's promise follows it (a thenable is adopted)
      },
      (e) => {
        this.pulling = false
        this.exhausted = true
        throw e
      },
    )
  }

  /** A task's value, before the group sees the task finish (see the class comment). */
  #ok(record, v) {
    this.unreported--
    if (this.stopped) return v
    if (record.i >= 0) this.results[record.i] = v
    if (this.unlimited) {
      this.running--
      this.#pump() // starts at once: the group never looks idle
      return v
    }
    if (this.unreported > 0) {
      // A task of the map that has not reported keeps the group busy: this one leaves the
      // window, and the next starts, once the group has freed the slot.
      promiseThen.call(record.d, this.after, noop)
      return v
    }
    // The map's last task in the group: it stays there until another one is. The map's other
    // tasks have reported already, so the group's reactions to them (and `after`, which starts
    // the next tasks in their slots) are queued before this microtask and have run by then.
    return new Promise((resolve) => {
      queueMicrotask(() => {
        if (this.unreported > 0 || this.stopped) {
          promiseThen.call(record.d, this.after, noop)
        } else {
          // None could start in a freed slot: the next one starts now, waiting in core's queue
          // for this slot if no other is free (counted by the group all the same).
          this.running--
          this.#pump()
          promiseThen.call(record.d, this.refill, noop)
        }
        resolve(v)
      })
    })
  }

  /** A task that ends at once, without a value (it leaves the group as it returns). */
  #gone() {
    this.running--
    this.unreported--
  }

  /** Rejects with `e` (the first failure, or the token's reason) and closes the source. */
  stop(e) {
    if (this.stopped) return
    this.stopped = true
    this.reject(e)
    handled(this.promise)
    this.#close()
  }

  /** An early stop: `return()` on the source, as `for … of` does; its own failure is dropped. */
  #close() {
    if (this.it === null || this.exhausted || this.inPull) return
    const it = this.it
    this.it = null
    this.exhausted = true
    try {
      const ret = it.return
      if (typeof ret !== 'function') return
      const r = ret.call(it)
      if (this.isAsync) promiseThen.call(Promise.resolve(r), undefined, noop)
    } catch {}
  }
}

/** A map's entry in `Waiters`: its task waiting for a slot. */
class MapEntry {
  constructor(mapping) {
    this.mapping = mapping
    this.waiting = true
  }

  abandon(reason) {
    this.waiting = false
    this.mapping.waiting = false
    this.mapping.stop(reason)
  }
}

const arrayValues = Array.prototype[Symbol.iterator]

module.exports = { Waiters, run, map }
