'use strict'
// Every argument check of the public API, in one place. Two kinds of TypeError, as Node core:
//
// * a value of the wrong type (a string where a number goes, a non-function task, a plain
//   object where a CancelToken goes): `code: 'ERR_INVALID_ARG_TYPE'`, with Node's wording;
// * a value of the right type that is not allowed (NaN, a fraction, a negative count, an
//   out-of-range number, an unknown option value): `code: 'GOGROUP_INVALID_ARGUMENT'`, the
//   core error kind every runtime uses for it.
//
// Checks run before anything is changed, so a refused call has no effect. `undefined` means
// "not given" wherever an argument or option is optional; `null` is accepted only where the
// typings say `| null`.

const INVALID_ARGUMENT = 'GOGROUP_INVALID_ARGUMENT'

/** How Node's own errors show a received value. */
function received(value) {
  if (value === null || value === undefined) return ` Received ${value}`
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') {
    const name = value.constructor?.name
    return name ? ` Received an instance of ${name}` : ' Received an object'
  }
  let shown =
    typeof value === 'string'
      ? `'${value.length > 25 ? `${value.slice(0, 25)}...` : value}'`
      : String(value)
  if (typeof value === 'bigint') shown += 'n'
  return ` Received type ${typeof value} (${shown})`
}

/** Throws a TypeError with `code` from the public method that called the check. */
function fail(code, message, hide) {
  const e = new TypeError(message)
  e.code = code
  Error.captureStackTrace(e, hide)
  throw e
}

function invalidType(name, expected, value, hide = invalidType) {
  fail(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}.${received(value)}`,
    hide,
  )
}

function invalidValue(name, rule, value, hide = invalidValue) {
  fail(INVALID_ARGUMENT, `The "${name}" argument ${rule}.${received(value)}`, hide)
}

/** A function (a task, a callback). */
function fn(value, name) {
  if (typeof value !== 'function') invalidType(name, 'of type function', value, fn)
}

/** An integer in [min, max]. */
function integer(value, name, min, max) {
  if (typeof value !== 'number') invalidType(name, 'of type number', value, integer)
  if (!Number.isInteger(value) || value < min || value > max) {
    invalidValue(name, `must be an integer >= ${min} and <= ${max}`, value, integer)
  }
  return value
}

/** A duration in ms: a number >= 0 (fractions and Infinity allowed, as `setTimeout`). */
function duration(value, name) {
  if (typeof value !== 'number') invalidType(name, 'of type number', value, duration)
  if (Number.isNaN(value) || value < 0)
    invalidValue(name, 'must be a number of milliseconds >= 0', value, duration)
  return value
}

/** An optional duration (`undefined` or `null`: none). */
function optionalDuration(value, name) {
  return value === undefined || value === null ? undefined : duration(value, name)
}

/** A concurrency limit: an integer, negative or ±Infinity for none (Go's `SetLimit`). */
function limit(value, name) {
  if (typeof value !== 'number') invalidType(name, 'of type number', value, limit)
  if (Number.isNaN(value) || (Number.isFinite(value) && !Number.isInteger(value))) {
    invalidValue(name, 'must be an integer (negative or Infinity: no limit)', value, limit)
  }
  return value
}

/** An options object, or `undefined`/`null` for none. */
function options(value, name = 'options') {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' && typeof value !== 'function')
    invalidType(name, 'of type object', value, options)
  return value
}

/** An optional boolean option. */
function optionalBoolean(value, name) {
  if (value !== undefined && typeof value !== 'boolean')
    invalidType(name, 'of type boolean', value, optionalBoolean)
  return value
}

/** Whether `value` is an AbortSignal (Node's own test: an object with `aborted`). */
function isSignal(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    'aborted' in value &&
    typeof value.addEventListener === 'function'
  )
}

/** An optional AbortSignal option (`undefined` or `null`: none). */
function optionalSignal(value, name) {
  if (value === undefined || value === null) return undefined
  if (!isSignal(value)) invalidType(name, 'an instance of AbortSignal', value, optionalSignal)
  return value
}

/** An AbortSignal. */
function signal(value, name) {
  if (!isSignal(value)) invalidType(name, 'an instance of AbortSignal', value, signal)
  return value
}

/** A deadline: a valid `Date`, or a number of ms since the epoch; returns the ms. */
function deadline(value, name) {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) invalidValue(name, 'must be a valid Date', value, deadline)
    return ms
  }
  if (typeof value !== 'number')
    invalidType(name, 'an instance of Date or of type number', value, deadline)
  if (Number.isNaN(value))
    invalidValue(name, 'must be a number of milliseconds since the epoch', value, deadline)
  return value
}

/** One of `allowed` (strings), or `undefined`. */
function optionalOneOf(value, name, allowed) {
  if (value === undefined) return undefined
  if (typeof value !== 'string') invalidType(name, 'of type string', value, optionalOneOf)
  if (!allowed.includes(value)) {
    invalidValue(
      name,
      `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
      value,
      optionalOneOf,
    )
  }
  return value
}

/** A number from `share()`: a positive safe integer. */
function shared(value, name) {
  return integer(value, name, 1, Number.MAX_SAFE_INTEGER)
}

/** An iterable (not a string). */
function iterable(value, name, expected) {
  if (value === null || typeof value !== 'object' || typeof value[Symbol.iterator] !== 'function') {
    invalidType(name, expected, value, iterable)
  }
  return value
}

/** An iterable or an async iterable (not a string); true if it is to be read as async (as `for await`). */
function anyIterable(value, name, expected) {
  if (value !== null && typeof value === 'object') {
    if (typeof value[Symbol.asyncIterator] === 'function') return true
    if (typeof value[Symbol.iterator] === 'function') return false
  }
  invalidType(name, expected, value, anyIterable)
}

/** A concurrency of one call (p-map's `concurrency`): an integer >= 1, or Infinity. */
function concurrency(value, name) {
  if (typeof value !== 'number') invalidType(name, 'of type number', value, concurrency)
  if (value !== Infinity && (!Number.isInteger(value) || value < 1)) {
    invalidValue(name, 'must be an integer >= 1 or Infinity', value, concurrency)
  }
  return value
}

module.exports = {
  INVALID_ARGUMENT,
  invalidType,
  invalidValue,
  fn,
  integer,
  duration,
  optionalDuration,
  limit,
  options,
  optionalBoolean,
  isSignal,
  optionalSignal,
  signal,
  deadline,
  optionalOneOf,
  shared,
  iterable,
  anyIterable,
  concurrency,
}
