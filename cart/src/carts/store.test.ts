// One contract for every cart store: the same tests run against SQLite (always) and against Redis
// (a real redis-server on a free loopback port, when the binary is installed). "Two processes"
// are two store instances on one database file or one Redis, each with its own connection.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_LINES, MAX_QUANTITY } from '@shopstack/contracts/limits'
import { hasRedis, type RunningRedis, startRedis } from '../../../e2e/redis.ts'
import { fingerprintOf, type IdempotentWrite } from './idempotency.ts'
import { createRedisCartStore } from './redis-store.ts'
import { type CartStore, createCartStore, type ProductRef, type WriteResult } from './store.ts'

interface StoreFactory {
  /** A store on the shared database; every call is another client ("process"). */
  open(options?: { now?: () => number }): CartStore
}

const product = (id: number, price_cents = 100 * id): ProductRef => ({
  id,
  name: `Product ${id}`,
  price_cents,
  currency: 'USD',
})

const cartOf = (result: WriteResult) => {
  if (result.replayed) throw new Error('expected a write, got a replay')
  return result.cart
}

let unique = 0
/** A cart id no other test uses (the Redis is shared by the suite). */
const fresh = (name: string) => `${name}-${++unique}-${Date.now().toString(36)}`

function contract(name: string, setup: () => Promise<StoreFactory>, teardown: () => Promise<void>) {
  describe(`the ${name} cart store`, () => {
    let factory: StoreFactory
    let store: CartStore
    const opened: CartStore[] = []
    const open = (options?: { now?: () => number }) => {
      const s = factory.open(options)
      opened.push(s)
      return s
    }

    beforeAll(async () => {
      factory = await setup()
      store = open()
    })
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()))
      await teardown()
    })

    test('an unknown cart is empty', async () => {
      expect(await store.get(fresh('none'))).toEqual({
        cart_id: expect.any(String),
        lines: [],
        item_count: 0,
        total_cents: 0,
        currency: 'USD',
      })
    })

    test('adds accumulate per product, lines are sorted by product, totals add up', async () => {
      const id = fresh('add')
      await store.add(id, product(7), 2)
      await store.add(id, product(3), 1)
      const cart = cartOf(await store.add(id, product(7), 3))
      expect(cart.lines.map((l) => [l.product_id, l.quantity])).toEqual([
        [3, 1],
        [7, 5],
      ])
      expect(cart.item_count).toBe(6)
      expect(cart.total_cents).toBe(300 + 5 * 700)
      expect(cart.lines[1]).toEqual({
        product_id: 7,
        name: 'Product 7',
        unit_price_cents: 700,
        currency: 'USD',
        quantity: 5,
        line_total_cents: 3500,
      })
      expect(await store.get(id)).toEqual(cart)
    })

    test('remove takes one line; a missing line is a 404; clear empties the cart', async () => {
      const id = fresh('rm')
      await store.add(id, product(1), 1)
      await store.add(id, product(2), 2)
      expect(cartOf(await store.remove(id, 1)).item_count).toBe(2)
      await expect(store.remove(id, 1)).rejects.toMatchObject({ status: 404 })
      expect(cartOf(await store.clear(id)).lines).toEqual([])
      expect((await store.get(id)).item_count).toBe(0)
    })

    test(`at most ${MAX_QUANTITY} of a product, and nothing is written when refused`, async () => {
      const id = fresh('max')
      await store.add(id, product(1), 60)
      await expect(store.add(id, product(1), 40)).rejects.toMatchObject({
        status: 422,
        detail: expect.stringContaining(`at most ${MAX_QUANTITY}`),
      })
      expect((await store.get(id)).item_count).toBe(60)
    })

    test(`at most ${MAX_LINES} different products`, async () => {
      const id = fresh('lines')
      for (let i = 1; i <= MAX_LINES; i++) await store.add(id, product(i), 1)
      await expect(store.add(id, product(MAX_LINES + 1), 1)).rejects.toMatchObject({ status: 422 })
      // More of a product already there is fine.
      expect(cartOf(await store.add(id, product(1), 1)).item_count).toBe(MAX_LINES + 1)
    })

    test('concurrent adds from several processes lose no unit', async () => {
      const id = fresh('busy')
      const processes = [store, open(), open(), open()]
      await Promise.all(
        Array.from({ length: 80 }, (_, i) =>
          (processes[i % processes.length] as CartStore).add(id, product(1 + (i % 4)), 1),
        ),
      )
      const cart = await store.get(id)
      expect(cart.lines.map((l) => l.quantity)).toEqual([20, 20, 20, 20])
    })

    test(`concurrent adds never pass ${MAX_QUANTITY} together, and every accepted one counts`, async () => {
      const id = fresh('race')
      const processes = [store, open(), open()]
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) => (processes[i % 3] as CartStore).add(id, product(9), 2)),
      )
      const accepted = results.filter((r) => r.status === 'fulfilled').length
      expect(accepted).toBe(Math.floor(MAX_QUANTITY / 2))
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 422 })
      }
      expect((await store.get(id)).item_count).toBe(accepted * 2)
    })

    describe('idempotency keys', () => {
      const keyed = (key: string, body: unknown): IdempotentWrite => ({
        key,
        fingerprint: fingerprintOf('POST', '/cart/add', body),
      })

      test('a replay returns the first outcome and writes nothing', async () => {
        const id = fresh('idem')
        const write = keyed(fresh('key'), { id, n: 1 })
        const first = cartOf(await store.add(id, product(4), 2, write))
        const again = await open().add(id, product(4), 2, write)
        expect(again.replayed).toBe(true)
        if (!again.replayed) return
        expect(again.response.status).toBe(200)
        expect(again.response.body).toBe(JSON.stringify(first))
        expect((await store.get(id)).item_count).toBe(2)
        expect(await store.recall(write.key)).toEqual({
          fingerprint: write.fingerprint,
          status: 200,
          body: JSON.stringify(first),
        })
      })

      test('the kept outcome is the cart the write left, even after later writes', async () => {
        const id = fresh('later')
        const write = keyed(fresh('key'), { id })
        const first = cartOf(await store.add(id, product(1), 1, write))
        await store.add(id, product(2), 5)
        expect((await store.recall(write.key))?.body).toBe(JSON.stringify(first))
      })

      test('the same key with another request is a 422 conflict, and nothing is written', async () => {
        const id = fresh('conflict')
        const key = fresh('key')
        await store.add(id, product(1), 1, keyed(key, { a: 1 }))
        await expect(store.add(id, product(1), 1, keyed(key, { a: 2 }))).rejects.toMatchObject({
          status: 422,
          detail: expect.stringContaining('different request'),
        })
        expect((await store.get(id)).item_count).toBe(1)
      })

      test('remove and clear keep their outcome too', async () => {
        const id = fresh('rm-idem')
        await store.add(id, product(1), 1)
        await store.add(id, product(2), 1)
        const remove = { key: fresh('key'), fingerprint: 'remove' }
        const removed = cartOf(await store.remove(id, 1, remove))
        const replay = await store.remove(id, 1, remove)
        expect(replay.replayed && replay.response.body).toBe(JSON.stringify(removed))
        const clear = { key: fresh('key'), fingerprint: 'clear' }
        cartOf(await store.clear(id, clear))
        await store.add(id, product(3), 1)
        expect((await store.clear(id, clear)).replayed).toBe(true)
        expect((await store.get(id)).item_count).toBe(1)
      })

      test('a refused write keeps nothing, so a retry is evaluated again', async () => {
        const id = fresh('refused')
        const write = keyed(fresh('key'), { id })
        await store.add(id, product(1), 98)
        await expect(store.add(id, product(1), 2, write)).rejects.toMatchObject({ status: 422 })
        expect(await store.recall(write.key)).toBeNull()
      })

      test('concurrent writes with one key count once', async () => {
        const id = fresh('dup')
        const write = keyed(fresh('key'), { id })
        const processes = [store, open(), open()]
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (processes[i % 3] as CartStore).add(id, product(5), 3, write)),
        )
        expect(results.filter((r) => !r.replayed)).toHaveLength(1)
        expect((await store.get(id)).item_count).toBe(3)
      })

      test('an outcome is kept for the TTL, then forgotten', async () => {
        let clock = 1_000_000
        const timed = open({ now: () => clock })
        const id = fresh('ttl')
        const write = keyed(fresh('key'), { id })
        await timed.add(id, product(1), 1, write)
        clock += 60_000
        expect((await timed.add(id, product(1), 1, write)).replayed).toBe(true)
        if (name === 'redis') {
          // Redis expires keys on its own clock: check the TTL it was given instead.
          return
        }
        clock += 24 * 60 * 60 * 1000
        expect(await timed.recall(write.key)).toBeNull()
        expect((await timed.add(id, product(1), 1, write)).replayed).toBe(false)
      })
    })

    test('check answers while the store is up', async () => {
      await store.check()
    })
  })
}

// SQLite: one database file in a temp folder, opened by several store instances.
let sqliteDir = ''
contract(
  'sqlite',
  async () => {
    sqliteDir = mkdtempSync(join(tmpdir(), 'cart-contract-'))
    const path = join(sqliteDir, 'cart.sqlite')
    return { open: (options) => createCartStore({ path, now: options?.now }) }
  },
  async () => {
    rmSync(sqliteDir, { recursive: true, force: true })
  },
)

// Redis: a real server; each store is its own connection.
let redis: RunningRedis | undefined
describe.skipIf(!hasRedis)('redis', () => {
  contract(
    'redis',
    async () => {
      redis = await startRedis()
      const url = redis.url
      return { open: () => createRedisCartStore({ url, prefix: 'contract:' }) }
    },
    async () => {
      await redis?.stop()
    },
  )

  test('idempotency records expire after 24 h in Redis', async () => {
    // Runs after the contract's afterAll stopped the server: start another briefly.
    const server = await startRedis()
    const store = createRedisCartStore({ url: server.url, idempotencyTtlMs: 86_400_000 })
    const { RedisClient } = await import('bun')
    const client = new RedisClient(server.url)
    try {
      await store.add('ttl', product(1), 1, { key: 'k1', fingerprint: 'f' })
      const ttl = (await client.send('PTTL', ['shopstack:idempotency:k1'])) as number
      expect(ttl).toBeGreaterThan(86_400_000 - 60_000)
      expect(ttl).toBeLessThanOrEqual(86_400_000)
    } finally {
      client.close()
      await store.close()
      await server.stop()
    }
  })

  test('a Redis that is down is a 503 the caller can retry', async () => {
    const server = await startRedis()
    const store = createRedisCartStore({ url: server.url, connectionTimeoutMs: 500 })
    await store.check()
    await server.stop()
    await expect(store.get('x')).rejects.toMatchObject({ status: 503 })
    await store.close()
  })
})
