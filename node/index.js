'use strict'
// gogroup for Node: Go's WaitGroup, errgroup and context cancellation for the event loop and
// worker threads. The classes are in lib/; the addon (napi-rs, over the Rust core) is loaded
// by the generated binding.js. Types: index.d.ts.

const { binding } = require('./lib/native.js')
const helpers = require('./lib/helpers.js')
const validate = require('./lib/validate.js')
const { CancelToken, Registration, internals } = require('./lib/cancel_token.js')
const { WaitGroup } = require('./lib/wait_group.js')
const { ErrGroup } = require('./lib/err_group.js')

binding.__install(helpers, { nativeOf: internals.nativeOf, wrap: internals.wrap })

const codes = binding.errorCodes()

/** Every error code, in core's order: `errorCodes()[i] === 'GOGROUP_' + name`. */
function errorCodes() {
  return codes.slice()
}

/** The error a core error of kind `code` (1-based, core's numbering) becomes, with `message`. */
function errorFromCode(code, message) {
  validate.integer(code, 'code', 1, codes.length)
  if (typeof message !== 'string') validate.invalidType('message', 'of type string', message)
  return binding.errorFromCode(code, message)
}

/** The version of the package and of the native addon (the workspace version). */
function version() {
  return binding.version()
}

module.exports = {
  CancelToken,
  ErrGroup,
  Registration,
  WaitGroup,
  errorCodes,
  errorFromCode,
  version,
}
