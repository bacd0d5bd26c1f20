// Shared test helpers. No sleeps: `alive` only keeps the loop running (gogroup's own wake-ups
// are weak, like AbortSignal.timeout's timer) and bounds the wait with a generous deadline.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const addon = join(here, '..', 'index.js')

/** Resolves like `p`; rejects if `p` has not settled after `ms` (a hang: a lost wake-up). */
export function alive(p, ms = 20000, what = 'a lost wake-up') {
  let timer
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer))
}

/** Whether `p` is still pending after everything already queued has run. */
export async function isPending(p) {
  const marker = Symbol('pending')
  const r = await Promise.race([p, new Promise((resolve) => setImmediate(() => resolve(marker)))])
  return r === marker
}

/** Runs `node args…` and resolves to { code, signal, stdout, stderr, ms }; kills it after `ms`. */
export function run(args, { ms = 30000, cwd = here } = {}) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('exit', (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, stdout, stderr, ms: Number(process.hrtime.bigint() - start) / 1e6 })
    })
  })
}
