'use strict'
// The addon, loaded through the loader napi-rs generates (`binding.js`), and the few
// conventions every public class shares. Nothing here is public.

const { inspect } = require('node:util')
const binding = require('../binding.js')

/**
 * The value of the own enumerable `gogroup` property every public object gets in its
 * constructor, so that `structuredClone(obj)` and `postMessage(obj)` throw a `DataCloneError`,
 * as for any platform object that cannot be copied (Node 20 has no `markAsUncloneable`): the
 * serializer copies own enumerable string-keyed properties, and a symbol cannot be copied.
 * Its text is the message the user reads.
 */
function noClone(what, hint) {
  return Symbol(`a gogroup ${what} cannot be cloned or posted to another thread; ${hint}`)
}

/** `util.inspect` output `Name { key: value, … }` for the given state. */
function inspectAs(name, state, depth, opts) {
  if (depth < 0) return opts.stylize(`[${name}]`, 'special')
  const body = inspect(state, { ...opts, depth: opts.depth === null ? null : opts.depth - 1 })
  return `${name} ${body}`
}

module.exports = { binding, noClone, inspectAs, inspectCustom: inspect.custom }
