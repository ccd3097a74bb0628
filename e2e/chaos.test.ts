// Chaos, end to end: two catalog and two cart processes (carts on one real Redis) behind the
// gateway, under a steady load of cart adds, each with its own Idempotency-Key and retried by its
// client until acknowledged. Mid-run one cart replica is SIGKILLed and restarted on its port, and
// one catalog replica gets SIGTERM. Afterwards every acknowledged add is in its cart exactly once,
// and the clients' error rate is back to zero a few seconds after each event.

import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sampleValue } from '../lib/src/testing.ts'
import { type RunningService, type ServiceName, startService } from './harness.ts'
import { hasRedis, type RunningRedis, startRedis } from './redis.ts'

const CLIENTS = 8
const PRODUCTS_PER_CART = 40
/** Event times after the load starts, and its end (ms). */
const KILL_CART_AT = 1500
const RESTART_CART_AT = 3000
const TERM_CATALOG_AT = 6000
const LOAD_ENDS_AT = 10_000
/** How soon after an event the clients must see no more errors. */
const SETTLE_MS = 2500

interface Add {
  key: string
  cart: string
  product: number
  quantity: number
}

interface Attempt {
  /** When it ended, in ms after the load started. */
  at: number
  ok: boolean
  status: number
  key: string
  body: string
}

const running: RunningService[] = []
let redis: RunningRedis | undefined
let dataDir: string | undefined

afterAll(async () => {
  await Promise.all(running.map((service) => service.stop('SIGKILL')))
  await redis?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

async function start(name: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const service = await startService(name, { env })
  running.push(service)
  return service
}

describe.skipIf(!hasRedis)('chaos: replicas behind the gateway, carts on Redis', () => {
  test('a killed cart replica and a terminated catalog replica lose no acknowledged add', async () => {
    redis = await startRedis()
    dataDir = mkdtempSync(join(tmpdir(), 'shopstack-chaos-'))
    const dir = dataDir
    const catalogs = await Promise.all(
      [1, 2].map((n) => start('catalog', { DATABASE_PATH: join(dir, `catalog-${n}.sqlite`) })),
    )
    const catalogUrls = catalogs.map((c) => c.url).join(',')
    const cartEnv = {
      CART_STORE_URL: redis.url,
      CATALOG_SERVICE_URL: catalogUrls,
      UPSTREAM_TIMEOUT_MS: '3000',
    }
    const carts = await Promise.all([1, 2].map(() => start('cart', cartEnv)))
    const gateway = await start('gateway', {
      CATALOG_SERVICE_URL: catalogUrls,
      CART_SERVICE_URL: carts.map((c) => c.url).join(','),
      UPSTREAM_TIMEOUT_MS: '3000',
    })

    const acknowledged: Add[] = []
    const unacknowledged: Add[] = []
    const attempts: Attempt[] = []
    const unexpected: string[] = []
    const began = performance.now()
    const elapsed = () => performance.now() - began

    /** One add, retried with the same key until it is acknowledged (bounded). */
    async function addUntilAcknowledged(add: Add): Promise<void> {
      for (let attempt = 0; attempt < 40; attempt++) {
        let status = 0
        let body = ''
        try {
          const response = await fetch(`${gateway.url}/cart/add`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': add.key },
            body: JSON.stringify({ cart_id: add.cart, product_id: add.product, quantity: add.quantity }),
            signal: AbortSignal.timeout(5000),
          })
          status = response.status
          body = (await response.text()).slice(0, 200)
        } catch (error) {
          status = 0
          body = String(error)
        }
        attempts.push({ at: elapsed(), ok: status === 200, status, key: add.key, body })
        if (status === 200) {
          acknowledged.push(add)
          return
        }
        if (status > 0 && status < 500) {
          unexpected.push(`${add.key}: ${status}`)
          return
        }
        await Bun.sleep(100)
      }
      unacknowledged.push(add)
    }

    async function client(id: number): Promise<void> {
      for (let i = 0; elapsed() < LOAD_ENDS_AT; i++) {
        await addUntilAcknowledged({
          key: `chaos-${id}-${i}`,
          cart: `chaos-${id}-${Math.floor(i / PRODUCTS_PER_CART)}`,
          product: 1 + (i % PRODUCTS_PER_CART),
          quantity: 1 + (i % 3),
        })
      }
    }

    const events: number[] = []
    async function chaos(): Promise<void> {
      const victim = carts[0] as RunningService
      await Bun.sleep(KILL_CART_AT - elapsed())
      events.push(elapsed())
      await victim.stop('SIGKILL')
      await Bun.sleep(RESTART_CART_AT - elapsed())
      events.push(elapsed())
      await start('cart', { ...cartEnv, PORT: String(victim.port) })
      await Bun.sleep(TERM_CATALOG_AT - elapsed())
      events.push(elapsed())
      expect(await (catalogs[0] as RunningService).stop('SIGTERM')).toBe(0)
    }

    await Promise.all([chaos(), ...Array.from({ length: CLIENTS }, (_, id) => client(id))])
    const ended = elapsed()

    expect(unexpected).toEqual([])
    expect(unacknowledged).toEqual([])
    expect(acknowledged.length).toBeGreaterThan(50)

    // Every acknowledged add is in its cart, and none is counted twice.
    const expected = new Map<string, Map<number, number>>()
    for (const add of acknowledged) {
      const lines = expected.get(add.cart) ?? new Map<number, number>()
      lines.set(add.product, (lines.get(add.product) ?? 0) + add.quantity)
      expected.set(add.cart, lines)
    }
    for (const [cartId, lines] of expected) {
      const response = await fetch(`${gateway.url}/cart/${cartId}`)
      expect(response.status).toBe(200)
      const cart = (await response.json()) as { lines: Array<{ product_id: number; quantity: number }> }
      const actual = Object.fromEntries(cart.lines.map((l) => [l.product_id, l.quantity]))
      expect(actual).toEqual(Object.fromEntries(lines))
    }

    // The error rate is back to zero within SETTLE_MS of each event, until the next one.
    const windows = events.map((at, i) => [at + SETTLE_MS, events[i + 1] ?? ended] as const)
    for (const [from, to] of windows) {
      const failures = attempts
        .filter((a) => !a.ok && a.at >= from && a.at < to)
        .map((a) => `${Math.round(a.at)} ms ${a.key}: ${a.status} ${a.body}`)
      expect({ from: Math.round(from), to: Math.round(to), failures }).toEqual({
        from: Math.round(from),
        to: Math.round(to),
        failures: [],
      })
    }
    expect(attempts.filter((a) => !a.ok && a.at < (events[0] ?? 0))).toEqual([])

    // The gateway shows what it did: retries, and the killed replica ejected.
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(sampleValue(metrics, 'upstream_retries_total', { upstream: 'cart' })).toBeGreaterThan(0)
    expect(sampleValue(metrics, 'upstream_ejections_total', { upstream: 'cart' })).toBeGreaterThanOrEqual(1)
  }, 45_000)
})
