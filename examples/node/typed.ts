// A typed use of the Node binding, checked by `make lint-node` with `tsc --noEmit --strict`
// (never run: the same calls are exercised by node/__test__ and price_availability.mjs).
import {
  CancelToken,
  ErrGroup,
  errorCodes,
  type Registration,
  WaitGroup,
} from '../../node/index.js'

export async function fetchAll(urls: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const group = new ErrGroup({ signal, limit: 4, collect: 'first' })
  const bodies: string[] = new Array(urls.length)
  urls.forEach((url, i) => {
    group.go(async (token: CancelToken) => {
      const res = await fetch(url, { signal: token.signal })
      bodies[i] = await res.text()
    })
  })
  const started: boolean = group.tryGo(() => undefined)
  void started
  await group.wait()
  const remaining: number = await group.shutdown(100)
  void remaining
  return bodies
}

export async function counters(): Promise<boolean> {
  const wg = new WaitGroup()
  wg.add(2)
  wg.go(async () => {})
  wg.done()
  wg.done()
  const shared: number = wg.share()
  const again: WaitGroup = WaitGroup.fromShared(shared)
  const count: number = again.count
  void count
  return wg.wait({ timeout: 1000, signal: AbortSignal.timeout(5000) })
}

export function tokens(): unknown {
  const root = new CancelToken()
  const child: CancelToken = root
    .child()
    .withTimeout(50)
    .withDeadline(new Date(Date.now() + 1000))
  const either: CancelToken = CancelToken.any([
    root,
    child,
    CancelToken.fromSignal(AbortSignal.timeout(10)),
  ])
  const reg: Registration = either.onCancel((reason: unknown) => void reason)
  const stopped: boolean = reg.stop()
  void stopped
  const deadline: Date | null = child.deadline
  const err: Error | null = child.err
  void [deadline, err, errorCodes()]
  root.cancel(new Error('done'))
  root.throwIfCancelled
  const s: AbortSignal = child.signal
  void s
  return either.reason
}

export async function disposable(): Promise<void> {
  const g = new ErrGroup()
  await g[Symbol.asyncDispose]()
}

export async function values(urls: readonly string[]): Promise<number> {
  const group = new ErrGroup({ limit: 4 })
  // run: the promise's type is what the task returns, awaited.
  const status: number = await group.run(
    async (token: CancelToken) => (await fetch(urls[0], { signal: token.signal })).status,
  )
  const now: Date = await group.run(() => new Date())
  // @ts-expect-error: the task returns a number, not a string
  const wrong: string = await group.run(async () => 1)
  void [now, wrong]
  // map: results in input order, typed by fn; items from any iterable or async iterable.
  const lengths: number[] = await group.map(
    urls,
    async (url: string, index: number, token: CancelToken) => {
      const body = await (await fetch(url, { signal: token.signal })).text()
      return body.length + index * 0
    },
    { limit: 2 },
  )
  async function* ids(): AsyncGenerator<bigint> {
    yield 1n
  }
  const names: string[] = await group.map(ids(), (id: bigint) => id.toString(16))
  const pairs: Array<[string, number]> = await group.map(
    new Map([['a', 1]]),
    ([k, v]) => [k, v] as [string, number],
    null,
  )
  void [names, pairs]
  await group.wait()
  return status + lengths.reduce((a, b) => a + b, 0)
}
