'use strict'
// What a task's function returned, as the groups' bookkeeping needs it: a thenable is
// awaited, and its outcome goes to `ok` or `rejected` once; any other value is a success now.
// If reading or calling its `then` throws, `threw(error, counted)` decides, `counted` telling
// whether the outcome was already given.

const promiseThen = Promise.prototype.then

function whenSettled(r, ok, rejected, threw) {
  if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return ok(r)
  let then
  try {
    then = r.then
    // The built-in `then` calls back once: the shared callbacks, no allocation per task
    // (checked this way rather than with `instanceof`, which costs more).
    if (then === promiseThen) return then.call(r, ok, rejected)
  } catch (e) {
    return threw(e, false)
  }
  if (typeof then !== 'function') return ok(r)
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

module.exports = { whenSettled }
