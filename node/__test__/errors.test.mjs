import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ErrGroup, errorCodes, errorFromCode, version, WaitGroup } from '../index.js'
import { here } from './helpers.mjs'

const NAMES = [
  'NEGATIVE_COUNTER',
  'CANCELED',
  'DEADLINE_EXCEEDED',
  'TIMEOUT',
  'LIMIT_IN_USE',
  'PANIC',
  'INVALID_ARGUMENT',
  'CUSTOM',
]

test('every core error kind maps to its own code, GOGROUP_ + name, never a fallback', () => {
  assert.deepEqual(
    errorCodes(),
    NAMES.map((n) => `GOGROUP_${n}`),
  )
  NAMES.forEach((name, i) => {
    const e = errorFromCode(i + 1, `message ${i}`)
    assert.ok(e instanceof Error)
    assert.equal(e.code, `GOGROUP_${name}`)
    assert.equal(e.message, `message ${i}`)
  })
  assert.throws(() => errorFromCode(0, 'x'))
  assert.throws(() => errorFromCode(99, 'x'))
})

test('misuse errors thrown by the API carry their code', () => {
  assert.throws(() => new WaitGroup().done(), { code: 'GOGROUP_NEGATIVE_COUNTER' })
  const g = new ErrGroup()
  g.go(() => new Promise(() => {}))
  assert.throws(() => g.setLimit(1), {
    code: 'GOGROUP_LIMIT_IN_USE',
    message: /modify limit while 1 goroutines/,
  })
})

test('the addon, the package and the crate share one version', () => {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'))
  const cargo = readFileSync(join(here, '..', '..', 'Cargo.toml'), 'utf8')
  const workspaceVersion = /\[workspace\.package\][^[]*?version = "([^"]+)"/.exec(cargo)[1]
  assert.equal(version(), pkg.version)
  assert.equal(version(), workspaceVersion)
})
