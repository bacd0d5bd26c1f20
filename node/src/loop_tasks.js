// The JS halves of `WaitGroup` (`go`, `add`, `done`, `wait`, `count`) and of `ErrGroup`
// (`go`, `tryGo`, `active`, `shutdown`), installed over the native methods when the addon loads
// (src/loop_tasks.rs). Why they exist: a call into the addon costs about 250 ns, and the
// native `go` needed three crossings per task (go, the call back into JS, the settlement), 15x
// a plain-JS WaitGroup. Here a task costs no crossing at all: the JS tasks a group has pending
// on this thread's event loop hold ONE count (one slot, for an ErrGroup without a limit) in
// core, taken by the first and given back by the last. Core still decides everything:
// `wait()`, `waitSync()` in a worker, C code and `done()` from other threads all see a counter
// that is not zero while any of these tasks is pending; `count` and `active` report each task.
// `add`/`done` go straight to core through a raw call of one handle (src/handles.rs).
//
// Receives the module's exports; returns nothing. Strict, no globals, nothing kept but the
// closures below.
(function installLoopTasks(exports) {
  'use strict'
  const proto = exports.WaitGroup.prototype
  const nativeAdd = proto.add
  // `add`/`done` through a handle into this thread's table of core wait groups (raw N-API
  // calls of ~20 ns instead of napi-rs methods of ~250 ns; src/handles.rs). The handle
  // comes from a napi-rs method (so the receiver is checked), once per wait group; a
  // FinalizationRegistry releases it with the object.
  const handleOf = proto.__handle
  const wgAdd = exports.__wgAdd
  const wgCount = exports.__wgCount
  const wgRelease = exports.__wgRelease
  const nativeWait = proto.wait
  delete proto.__handle
  for (const k of ['__wgAdd', '__wgCount', '__wgRelease']) delete exports[k]
  const handleKey = Symbol('gogroup: wait group handle')
  const handles = new FinalizationRegistry((h) => {
    try {
      wgRelease(h)
    } catch {} // the thread is shutting down: its table goes with it
  })
  function handle(wg) {
    let h = wg[handleKey]
    if (h === undefined) {
      h = handleOf.call(wg) // also rejects a receiver that is not a WaitGroup
      wg[handleKey] = h
      handles.register(wg, h)
    }
    return h
  }
  function add(delta = 1) {
    // Small integers take the raw call; anything else gets the method's own checks and errors.
    if (delta === (delta | 0)) return wgAdd(handle(this), delta)
    return nativeAdd.call(this, delta)
  }
  function done() {
    wgAdd(handle(this), -1) // core's `done` is `add(-1)`
  }
  function wait(options) {
    // Nothing to wait for: settled at once, without a core future and a promise from the addon.
    if (options === undefined && wgCount(handle(this)) === 0) return Promise.resolve(true)
    return nativeWait.call(this, options)
  }
  const countDescriptor = Object.getOwnPropertyDescriptor(proto, 'count')
  // Per WaitGroup object, under a symbol only this closure knows: its JS tasks pending on
  // this loop, and the one settlement callback they share (as a plain-JS WaitGroup does).
  // User code cannot forge the symbol; a forged state would only make `add`/`done` throw.
  const loopTasks = Symbol('gogroup: pending loop tasks')
  const promiseThen = Promise.prototype.then

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
      // Reading or calling the result's `then` threw: count the task out (unless its outcome
      // already did), then throw from `go`, as a synchronous throw does.
      this.threw = (e, counted) => {
        if (!counted) this.settle()
        throw e
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
    whenSettled(r, tasks.settle, tasks.settle, tasks.threw)
  }

  // What a task's function returned: a thenable is awaited, and its outcome goes to `ok` or
  // `rejected` once; any other value is a success now. If reading or calling its `then` throws,
  // `threw(error, counted)` decides, `counted` telling whether the outcome was already given.
  function whenSettled(r, ok, rejected, threw) {
    if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return ok()
    let then
    try {
      then = r.then
      // The built-in `then` calls back once: the shared callbacks, no allocation per task
      // (checked this way rather than with `instanceof`, which costs more).
      if (then === promiseThen) return then.call(r, ok, rejected)
    } catch (e) {
      return threw(e, false)
    }
    if (typeof then !== 'function') return ok()
    let open = true
    const once = (settle) => (v) => {
      if (open) {
        open = false
        settle(v)
      }
    }
    try {
      then.call(r, once(ok), once(rejected))
    } catch (e) {
      const counted = !open
      open = false
      return threw(e, counted)
    }
  }

  installGroupTasks(exports.ErrGroup.prototype)

  Object.defineProperty(proto, 'go', {
    ...Object.getOwnPropertyDescriptor(proto, 'go'),
    value: go,
  })
  Object.defineProperty(proto, 'add', { ...Object.getOwnPropertyDescriptor(proto, 'add'), value: add })
  Object.defineProperty(proto, 'done', { ...Object.getOwnPropertyDescriptor(proto, 'done'), value: done })
  Object.defineProperty(proto, 'wait', { ...Object.getOwnPropertyDescriptor(proto, 'wait'), value: wait })
  Object.defineProperty(proto, 'count', {
    ...countDescriptor,
    get: function count() {
      const c = wgCount(handle(this)) // `handle` also rejects a receiver that is not a WaitGroup
      const n = this[loopTasks]?.n ?? 0
      return n > 0 ? c - 1 + n : c
    },
  })

  // The same for `ErrGroup.go`/`tryGo` in a group WITHOUT a limit: its tasks pending on this
  // loop share one slot in core (`__hold` takes it for the first, `__release` gives it back
  // after the last). A failure is recorded in core at once (`__fail`: the first one cancels
  // the token, as always). With a limit, or while a `go` waits for a slot, every task takes
  // its own slot through the native method, as before.
  function installGroupTasks(proto) {
    const nativeGo = proto.go
    const nativeTryGo = proto.tryGo
    const hold = proto.__hold
    const releaseHeld = proto.__release
    const fail = proto.__fail
    const tokenOf = Object.getOwnPropertyDescriptor(proto, 'token').get
    const activeDescriptor = Object.getOwnPropertyDescriptor(proto, 'active')
    const nativeActive = activeDescriptor.get
    const nativeShutdown = proto.shutdown
    for (const k of ['__hold', '__release', '__fail']) delete proto[k]
    const groupTasks = Symbol('gogroup: pending loop tasks of a group')

    class GroupTasks {
      constructor(g) {
        this.n = 0
        this.token = tokenOf.call(g) // the same object every time (the group caches it)
        this.ok = () => {
          if (--this.n === 0) releaseHeld.call(g)
        }
        this.failed = (e) => {
          fail.call(g, e)
          this.ok()
        }
        // Reading or calling the result's `then` threw: that is the task's error (unless its
        // outcome was already given).
        this.threw = (e, counted) => {
          if (!counted) this.failed(e)
        }
      }
    }

    // Starts `fn` in the shared slot; false if the group must use its native path.
    function start(g, fn) {
      const tasks = g[groupTasks] ?? (g[groupTasks] = new GroupTasks(g))
      if (tasks.n === 0 && !hold.call(g)) return false
      tasks.n++
      let r
      try {
        r = fn(tasks.token)
      } catch (e) {
        tasks.failed(e) // a throw is the task's error, as a rejection is
        return true
      }
      whenSettled(r, tasks.ok, tasks.failed, tasks.threw)
      return true
    }

    function go(fn) {
      if (typeof fn !== 'function' || !start(this, fn)) return nativeGo.call(this, fn)
    }

    function tryGo(fn) {
      if (typeof fn !== 'function') return nativeTryGo.call(this, fn)
      return start(this, fn) || nativeTryGo.call(this, fn)
    }

    // The shared slot counts once in core; report each task.
    function pendingShare(g) {
      const n = g[groupTasks]?.n ?? 0
      return n > 0 ? n - 1 : 0
    }

    function shutdown(graceMs, reason) {
      return nativeShutdown.call(this, graceMs, reason).then((running) =>
        running > 0 ? running + pendingShare(this) : running,
      )
    }

    Object.defineProperty(proto, 'go', { ...Object.getOwnPropertyDescriptor(proto, 'go'), value: go })
    Object.defineProperty(proto, 'tryGo', { ...Object.getOwnPropertyDescriptor(proto, 'tryGo'), value: tryGo })
    Object.defineProperty(proto, 'shutdown', { ...Object.getOwnPropertyDescriptor(proto, 'shutdown'), value: shutdown })
    Object.defineProperty(proto, 'active', {
      ...activeDescriptor,
      get: function active() {
        return nativeActive.call(this) + pendingShare(this)
      },
    })
  }
})