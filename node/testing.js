'use strict'
// Test-only helpers (host statistics, wake-ups from native threads). Not part of the public
// API: the package's `exports` map does not expose this file.

require('./index.js')
const { binding } = require('./lib/native.js')
const { nativeOf } = require('./lib/wait_group.js')

const native = binding.testing

module.exports = {
  /** What this thread's event-loop glue holds right now (a leak shows as a growing number). */
  hostStats: () => native.hostStats(),
  /** Calls `wg.done()` on one of core's pool threads. */
  doneOnNativeThread: (wg) => native.doneOnNativeThread(nativeOf(wg)),
  /** Calls `token.cancel()` on one of core's pool threads. */
  cancelOnNativeThread: (token) => native.cancelOnNativeThread(token),
  /** How many threads are inside a blocking `waitSync` right now (for worker tests). */
  waitSyncBlocked: () => native.waitSyncBlocked(),
}
