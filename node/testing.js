'use strict'
// Test-only helpers (host statistics, wake-ups from native threads). Not part of the public
// API: the package's `exports` map does not expose this file.
module.exports = require('./index.js').testing
