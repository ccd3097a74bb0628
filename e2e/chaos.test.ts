// Chaos, end to end, with real processes under a steady load: while one healthy instance of a
// service remains, losing or restarting another costs a client nothing.
// - SIGTERM of one of two catalogs under GETs: it turns unready and says `Connection: close`, keeps
//   serving through its drain grace, then stops; no request fails.
// - SIGKILL of one of two carts (carts on Redis) under adds that each carry an Idempotency-Key and
//   are sent once: the gateway retries what the dead replica dropped on the other one, refused
//   connections go elsewhere for free, the replica comes back on its port through a readiness
//   check; no add fails, and every acknowledged add is in its cart exactly once.
// - A rolling restart of both catalogs, one at a time, under GETs and adds (the cart's catalog
//   calls too): no request fails.
// And the grace itself, on one process: unready and `Connection: close` at once, yet serving; a
// second signal ends it.
// Every phase waits for counts of answered requests, not for times, so a slow machine only makes it
// longer; the load is bounded in requests and each wait in time.

import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sampleValue } from '../lib/src/testing.ts'
import { freePort, type RunningService, type ServiceName, startService, waitFor } from './harness.ts'
import { hasRedis, type RunningRedis, startRedis } from './redis.ts'

/** What every instance runs with: a drain grace and readiness checks short enough for a test. */
const SERVICE_ENV = {
  DRAIN_GRACE_MS: '2000',
  HEALTH_CHECK_INTERVAL_MS: '200',
  UPSTREAM_TIMEOUT_MS: '3000',
}
const CLIENTS = 8
/** The most requests one scenario sends, whatever happens. */
const MAX_REQUESTS = 20_000
/** The longest one phase (a number of answers, a process exiting or becoming ready) may take. */
const PHASE_MS = 20_000

interface Result {
  ok: boolean
  status: number
  detail: string
}

let running: RunningService[] = []
let redis: RunningRedis | undefined
let dataDir: string | undefined

afterEach(async () => {
  await Promise.all(running.map((service) => service.stop('SIGKILL')))
  running = []
  await redis?.stop()
  redis = undefined
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  dataDir = undefined
})

async function start(name: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const service = await startService(name, { env: { ...SERVICE_ENV, ...env } })
  running.push(service)
  return service
}

/** `clients` loops sending one request after another until stopped (or MAX_REQUESTS). */
function startLoad(send: (client: number, i: number) => Promise<Result>, clients = CLIENTS) {
  const results: Result[] = []
  let stopping = false
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; !stopping && results.length < MAX_REQUESTS; i++) {
      results.push(await send(client, i))
      // A steady load rather than the machine's all: others share it.
      await Bun.sleep(1)
    }
  })
  return {
    results,
    failures: () => results.filter((r) => !r.ok).map((r) => `${r.status} ${r.detail}`),
    /** Wait until `n` more requests have been answered from now. */
    async more(n: number) {
      const target = results.length + n
      await waitFor(() => results.length >= target || results.length >= MAX_REQUESTS, PHASE_MS, 10)
      if (results.length >= MAX_REQUESTS) throw new Error(`the load hit its bound of ${MAX_REQUESTS}`)
    },
    async stop() {
      stopping = true
      await Promise.all(loops)
    },
  }
}

async function call(url: string, init: RequestInit = {}): Promise<Result> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) })
    const body = await response.text()
    return { ok: response.ok, status: response.status, detail: response.ok ? '' : body.slice(0, 200) }
  } catch (error) {
    return { ok: false, status: 0, detail: String(error) }
  }
}

interface Add {
  key: string
  cart: string
  product: number
  quantity: number
}

/** The add client `client` sends as its `i`th request: its own carts, one key per add. */
function addOf(client: number, i: number, prefix: string): Add {
  return {
    key: `${prefix}-${client}-${i}`,
    cart: `${prefix}-${client}-${Math.floor(i / 40)}`,
    product: 1 + (i % 40),
    quantity: 1 + (i % 3),
  }
}

async function sendAdd(gateway: string, add: Add, acknowledged: Add[]): Promise<Result> {
  const result = await call(`${gateway}/cart/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': add.key },
    body: JSON.stringify({ cart_id: add.cart, product_id: add.product, quantity: add.quantity }),
  })
  if (result.ok) acknowledged.push(add)
  return result
}

/** Every acknowledged add is in its cart, and none twice. */
async function expectEachAddOnce(gateway: string, acknowledged: Add[]): Promise<void> {
  const expected = new Map<string, Map<number, number>>()
  for (const add of acknowledged) {
    const lines = expected.get(add.cart) ?? new Map<number, number>()
    lines.set(add.product, (lines.get(add.product) ?? 0) + add.quantity)
    expected.set(add.cart, lines)
  }
  for (const [cartId, lines] of expected) {
    const response = await fetch(`${gateway}/cart/${cartId}`)
    expect(response.status).toBe(200)
    const cart = (await response.json()) as { lines: Array<{ product_id: number; quantity: number }> }
    const actual = Object.fromEntries(cart.lines.map((l) => [l.product_id, l.quantity]))
    expect({ cartId, lines: actual }).toEqual({ cartId, lines: Object.fromEntries(lines) })
  }
}

/** Until `caller` (gateway or cart) chooses `instance` of `upstream` again (its readiness check passed). */
async function readyIn(caller: RunningService, upstream: string, instance: RunningService): Promise<void> {
  await waitFor(
    async () => {
      const metrics = await (await fetch(`${caller.url}/metrics`)).text()
      const labels = { upstream, upstream_instance: `127.0.0.1:${instance.port}` }
      return sampleValue(metrics, 'upstream_instance_ready', labels) === 1
    },
    PHASE_MS,
    50,
  )
}

/**
 * Tries `caller` sent to `upstream` that failed (unreachable, timed out, 5xx), retried or not: none
 * when the callers stopped choosing a draining instance before it stopped accepting.
 */
async function failedTries(caller: RunningService, upstream: string): Promise<string[]> {
  const metrics = await (await fetch(`${caller.url}/metrics`)).text()
  return metrics
    .split('\n')
    .filter((line) => line.startsWith('upstream_requests_total{') && line.includes(`upstream="${upstream}"`))
    .filter((line) => /status="(unreachable|timeout|5\d\d)"/.test(line))
}

type Load = ReturnType<typeof startLoad>

/** Run `events` under a load of `send`, stop it, and say how many requests it sent and failed. */
async function underLoad(
  scenario: string,
  send: (client: number, i: number) => Promise<Result>,
  events: (load: Load) => Promise<void>,
  clients = CLIENTS,
): Promise<Load> {
  const load = startLoad(send, clients)
  try {
    await events(load)
  } finally {
    await load.stop()
  }
  console.log(`chaos: ${scenario}: ${load.results.length} requests, ${load.failures().length} failed`)
  return load
}

/** A product read through the gateway, spread over the catalog. */
function readProduct(gateway: RunningService, client: number, i: number): Promise<Result> {
  return call(`${gateway.url}/catalog/${1 + ((client * 131 + i) % 1000)}`)
}

describe('chaos: one instance goes away while a peer is alive', () => {
  test('SIGTERM of one of two catalogs under load fails no request', async () => {
    const catalogs = await Promise.all([1, 2].map(() => start('catalog', { DATABASE_PATH: ':memory:' })))
    const gateway = await start('gateway', {
      CATALOG_SERVICE_URL: catalogs.map((c) => c.url).join(','),
      CART_SERVICE_URL: `http://127.0.0.1:${freePort()}`,
    })
    const send = (client: number, i: number) => readProduct(gateway, client, i)
    const load = await underLoad('SIGTERM of one of two catalogs', send, async (load) => {
      await load.more(500)
      const victim = catalogs[0] as RunningService
      // It keeps serving through its grace, then drains and exits cleanly.
      expect(await victim.stop('SIGTERM')).toBe(0)
      expect(victim.lines.some((line) => String(line.msg).includes('stopped accepting'))).toBe(true)
      await load.more(500)
    })
    expect(load.failures()).toEqual([])
    // Not even a try failed: the gateway had stopped choosing it before its listener closed.
    expect(await failedTries(gateway, 'catalog')).toEqual([])
  }, 90_000)

  test.skipIf(!hasRedis)(
    'SIGKILL of one of two carts on Redis under keyed adds fails none, and each add is stored once',
    async () => {
      redis = await startRedis()
      const catalog = await start('catalog', { DATABASE_PATH: ':memory:' })
      const cartEnv = {
        CART_STORE_URL: redis.url,
        CATALOG_SERVICE_URL: catalog.url,
        // Writes take a while, so the kill finds several in flight (more than the budget's floor
        // of 3 retries at once); none fails on its own.
        SIMULATION: 'on',
        SIM_LATENCY_MS: '20-60',
        SIM_FAILURE_RATE: '0',
      }
      const carts = await Promise.all([1, 2].map(() => start('cart', cartEnv)))
      const gateway = await start('gateway', {
        CATALOG_SERVICE_URL: catalog.url,
        CART_SERVICE_URL: carts.map((c) => c.url).join(','),
      })
      const acknowledged: Add[] = []
      const send = (client: number, i: number) => sendAdd(gateway.url, addOf(client, i, 'kill'), acknowledged)
      const scenario = 'SIGKILL of one of two carts (Redis, keyed adds)'
      const load = await underLoad(
        scenario,
        send,
        async (load) => {
          await load.more(300)
          const victim = carts[0] as RunningService
          await victim.stop('SIGKILL')
          await load.more(500)
          const again = await start('cart', { ...cartEnv, PORT: String(victim.port) })
          await readyIn(gateway, 'cart', again)
          await load.more(500)
        },
        16,
      )
      expect(load.failures()).toEqual([])
      expect(acknowledged).toHaveLength(load.results.length)
      await expectEachAddOnce(gateway.url, acknowledged)
      // What the dead replica dropped was retried on the other one, none turned away by the budget.
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
      expect(sampleValue(metrics, 'upstream_retry_budget_exhausted_total', { upstream: 'cart' }) ?? 0).toBe(0)
    },
    90_000,
  )

  test('a rolling restart of both catalogs, one at a time, fails no request', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'shopstack-chaos-'))
    const catalogs = await Promise.all([1, 2].map(() => start('catalog', { DATABASE_PATH: ':memory:' })))
    const catalogUrls = catalogs.map((c) => c.url).join(',')
    const cart = await start('cart', {
      DATABASE_PATH: join(dataDir, 'cart.sqlite'),
      CATALOG_SERVICE_URL: catalogUrls,
    })
    const gateway = await start('gateway', { CATALOG_SERVICE_URL: catalogUrls, CART_SERVICE_URL: cart.url })
    const acknowledged: Add[] = []
    // Half the clients read the catalog through the gateway, half add to carts (the cart reads
    // the catalog for each add).
    const send = (client: number, i: number) =>
      client % 2 === 0
        ? readProduct(gateway, client, i)
        : sendAdd(gateway.url, addOf(client, i, 'roll'), acknowledged)
    const load = await underLoad('rolling restart of both catalogs', send, async (load) => {
      await load.more(300)
      for (const old of catalogs) {
        expect(await old.stop('SIGTERM')).toBe(0)
        const replacement = await start('catalog', { DATABASE_PATH: ':memory:', PORT: String(old.port) })
        await readyIn(gateway, 'catalog', replacement)
        await readyIn(cart, 'catalog', replacement)
        await load.more(300)
      }
    })
    expect(load.failures()).toEqual([])
    expect(await failedTries(gateway, 'catalog')).toEqual([])
    expect(await failedTries(cart, 'catalog')).toEqual([])
    await expectEachAddOnce(gateway.url, acknowledged)
  }, 120_000)
})

describe('drain grace', () => {
  test('after SIGTERM a service is unready and says Connection: close, yet serves; a second signal ends the grace', async () => {
    // A grace far longer than the harness waits for an exit (15 s): only the second signal ends it.
    const catalog = await start('catalog', { DATABASE_PATH: ':memory:', DRAIN_GRACE_MS: '60000' })
    catalog.process.kill('SIGTERM')
    await waitFor(() => catalog.lines.some((line) => String(line.msg).includes('serving through the grace')))
    const ready = await fetch(`${catalog.url}/healthz`)
    expect([ready.status, ready.headers.get('connection')]).toEqual([503, 'close'])
    const product = await fetch(`${catalog.url}/catalog/1`)
    expect([product.status, product.headers.get('connection')]).toEqual([200, 'close'])
    expect(await catalog.stop('SIGTERM')).toBe(0)
  }, 30_000)

  test('a SIGTERM sent the moment the listening line appears is a drain, not a kill', async () => {
    // The handler is in place before that line is written: a supervisor that signals as soon as it
    // sees it (a rolling update of a pod that just started) still gets a clean exit.
    for (let i = 0; i < 5; i++) {
      const catalog = await start('catalog', { DATABASE_PATH: ':memory:', DRAIN_GRACE_MS: '0' })
      catalog.process.kill('SIGTERM')
      expect(await catalog.stop('SIGTERM')).toBe(0)
      expect(catalog.lines.some((line) => line.msg === 'stopped')).toBe(true)
    }
  }, 60_000)
})
