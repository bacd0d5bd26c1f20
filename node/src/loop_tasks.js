// The JS half of `WaitGroup.prototype.go`, installed over the native method when the addon
// loads (src/loop_tasks.rs). Why it exists: a call into the addon costs about 250 ns, and the
// native `go` needed three crossings per task (go, the call back into JS, the settlement), 15x
// a plain-JS WaitGroup. Here a task costs no crossing at all: the JS tasks a WaitGroup has
// pending on this thread's event loop hold ONE count in core, taken by the first and given
// back by the last. Core still decides everything: `wait()`, `waitSync()` in a worker, C code
// and `done()` from other threads all see a counter that is not zero while any of these tasks
// is pending; `count` reports each task.
//
// Receives the module's exports; returns nothing. Strict, no globals, nothing kept but the
// closures below.
(function installLoopTasks(exports) {
  'use strict'
  const proto = exports.WaitGroup.prototype
  const add = proto.add
  const done = proto.done
  const countDescriptor = Object.getOwnPropertyDescriptor(proto, 'count')
  const nativeCount = countDescriptor.get
  // Per WaitGroup object, under a symbol only this closure knows: its JS tasks pending on
  // this loop, and the one settlement callback they share (as a plain-JS WaitGroup does).
  // User code cannot forge the symbol; a forged state would only make `add`/`done` throw.
  const loopTasks = Symbol('gogroup: pending loop tasks')

  class LoopTasks {
    constructor(wg) {
      this.n = 0
      this.settle = () => {
        if (--this.n === 0) {
          // The count was taken by the first pending task, so only a user's extra `done()`
          // can make this fail; the task is over either way (as before: nothing thrown).
          try {
            done.call(wg)
          } catch {}
        }
      }
    }
  }

  function go(fn) {
    const tasks = this[loopTasks] ?? (this[loopTasks] = new LoopTasks(this))
    if (tasks.n === 0) {
      add.call(this, 1) // also rejects a receiver that is not a WaitGroup
    }
    tasks.n++
    let r
    try {
      r = fn() // a non-function throws TypeError here, as the native `go` did
    } catch (e) {
      tasks.settle() // decremented first, then rethrown: as documented
      throw e
    }
    if (r instanceof Promise) {
      // A native promise settles once: the shared callback, no allocation per task.
      r.then(tasks.settle, tasks.settle)
    } else {
      settleThenable(r, tasks.settle)
    }
  }

  // Anything else `fn` returned: a thenable is awaited (called back once at most), any other
  // value settles the task now.
  function settleThenable(r, settle) {
    if (r === null || (typeof r !== 'object' && typeof r !== 'function')) {
      settle()
      return
    }
    let then
    try {
      then = r.then
    } catch (e) {
      settle()
      throw e
    }
    if (typeof then !== 'function') {
      settle()
      return
    }
    let open = true
    const once = () => {
      if (open) {
        open = false
        settle()
      }
    }
    try {
      then.call(r, once, once)
    } catch (e) {
      once()
      throw e
    }
  }

  Object.defineProperty(proto, 'go', {
    ...Object.getOwnPropertyDescriptor(proto, 'go'),
    value: go,
  })
  Object.defineProperty(proto, 'count', {
    ...countDescriptor,
    get: function count() {
      const c = nativeCount.call(this) // also rejects a receiver that is not a WaitGroup
      const n = this[loopTasks]?.n ?? 0
      return n > 0 ? c - 1 + n : c
    },
  })
})
