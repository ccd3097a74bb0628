// The cart store on Redis, through Bun's built-in client, so several cart processes share carts.
// A cart is two hashes, product id -> quantity and product id -> the product as added (name,
// price, currency); an idempotency record is a string key that expires after 24 h. Each write is
// one Lua script (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/):
// Redis runs a script alone, so the limit checks, the change and the idempotency record are one
// atomic step, and concurrent adds from many processes never lose or double a unit.
// The cart's keys share a hash tag ({cart id}); the idempotency key is separate, so on Redis
// Cluster the scripts would need the key scoped to the cart — one Redis (or a primary with
// replicas) is the deployment this targets. No Elysia here.

import { MAX_LINES, MAX_QUANTITY } from '@shopstack/contracts/limits'
import { HttpError } from '@shopstack/lib/errors'
import { RedisClient } from 'bun'
import { IDEMPOTENCY_TTL_MS, type IdempotentWrite, replayOf, type StoredResponse } from './idempotency.ts'
import {
  type CartStore,
  noSuchLine,
  type ProductRef,
  toCart,
  tooManyLines,
  tooManyUnits,
  type WriteResult,
} from './store.ts'

export interface RedisCartStoreOptions {
  /** redis://host:port (rediss:// for TLS). */
  url: string
  /** Key prefix, so tests (or tenants) can share one Redis. */
  prefix?: string
  idempotencyTtlMs?: number
  connectionTimeoutMs?: number
}

// KEYS[1] quantities hash, KEYS[2] products hash, KEYS[3] idempotency key.
// ARGV[1] request fingerprint ('' when the write carries no key), ARGV[2] key TTL in ms,
// ARGV[3] cart id. The write's own arguments follow from ARGV[4].
// A replay returns {'replay', record}; a write returns {'ok', quantities, products} (the cart as
// it left it, read in the same atomic step), and with a key keeps that cart as the outcome.
const PRELUDE = `
local function replay()
  if ARGV[1] == '' then return nil end
  local stored = redis.call('GET', KEYS[3])
  if stored then return {'replay', stored} end
  return nil
end
local function done()
  local quantities = redis.call('HGETALL', KEYS[1])
  local products = redis.call('HGETALL', KEYS[2])
  if ARGV[1] ~= '' then
    local record = cjson.encode({fingerprint = ARGV[1], status = 200, cart_id = ARGV[3],
      quantities = quantities, products = products})
    redis.call('SET', KEYS[3], record, 'PX', ARGV[2])
  end
  return {'ok', quantities, products}
end
`

// ARGV[4] product id, ARGV[5] quantity, ARGV[6] product JSON, ARGV[7] max per product, ARGV[8] max lines.
const ADD = `${PRELUDE}
local r = replay() if r then return r end
local existing = tonumber(redis.call('HGET', KEYS[1], ARGV[4]) or '0')
local quantity = tonumber(ARGV[5])
if existing + quantity > tonumber(ARGV[7]) then return {'too_many_units', existing + quantity} end
if existing == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[8]) then return {'too_many_lines'} end
redis.call('HINCRBY', KEYS[1], ARGV[4], quantity)
redis.call('HSET', KEYS[2], ARGV[4], ARGV[6])
return done()
`

// ARGV[4] product id.
const REMOVE = `${PRELUDE}
local r = replay() if r then return r end
if redis.call('HDEL', KEYS[1], ARGV[4]) == 0 then return {'no_line'} end
redis.call('HDEL', KEYS[2], ARGV[4])
return done()
`

const CLEAR = `${PRELUDE}
local r = replay() if r then return r end
redis.call('DEL', KEYS[1], KEYS[2])
return done()
`

// Both hashes in one step, so a reader never sees a quantity without its product.
const READ = `return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}`

interface Script {
  source: string
  sha: string
}

const script = (source: string): Script => ({
  source,
  sha: new Bun.CryptoHasher('sha1').update(source).digest('hex'),
})
const SCRIPTS = { add: script(ADD), remove: script(REMOVE), clear: script(CLEAR), read: script(READ) }

interface ProductInfo {
  name: string
  unit_price_cents: number
  currency: string
}

interface Record {
  fingerprint: string
  status: number
  cart_id: string
  quantities: string[] | object
  products: string[] | object
}

export function createRedisCartStore(options: RedisCartStoreOptions): CartStore {
  const {
    url,
    prefix = 'shopstack:',
    idempotencyTtlMs = IDEMPOTENCY_TTL_MS,
    connectionTimeoutMs = 2000,
  } = options
  // No offline queue: while Redis is unreachable a command fails at once (a 503 the caller may
  // retry) instead of waiting to run later, when its caller has long given up on it.
  const client = new RedisClient(url, {
    connectionTimeout: connectionTimeoutMs,
    autoReconnect: true,
    enableOfflineQueue: false,
  })
  const cartKeys = (cartId: string) => [`${prefix}cart:{${cartId}}:qty`, `${prefix}cart:{${cartId}}:products`]
  const idempotencyKey = (key: string | undefined) => `${prefix}idempotency:${key ?? ''}`
  let connecting: Promise<void> | undefined

  /** Connect (or reconnect) on demand; Bun's connect() retries for long, so wait a bounded time. */
  async function connected(): Promise<void> {
    if (client.connected) return
    connecting ??= client.connect().finally(() => {
      connecting = undefined
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no connection within ${connectionTimeoutMs} ms`)),
        connectionTimeoutMs,
      )
    })
    await Promise.race([connecting, timeout]).finally(() => clearTimeout(timer))
  }

  /** A command; an unreachable Redis is a 503 (nothing was written; a retry may succeed). */
  async function send(command: string, args: string[]): Promise<unknown> {
    try {
      await connected()
      return await client.send(command, args)
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_REDIS_SERVER_ERROR') throw error
      throw new HttpError(
        503,
        'The cart store is unavailable; retry (a write with its Idempotency-Key)',
        {},
        {
          cause: error,
        },
      )
    }
  }

  async function evaluate(which: Script, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args]
    try {
      return await send('EVALSHA', [which.sha, ...tail])
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
      return send('EVAL', [which.source, ...tail])
    }
  }

  function linesOf(quantities: unknown, products: unknown) {
    const q = Array.isArray(quantities) ? (quantities as string[]) : []
    const p = Array.isArray(products) ? (products as string[]) : []
    const info = new Map<string, ProductInfo>()
    for (let i = 0; i + 1 < p.length; i += 2) info.set(p[i] as string, JSON.parse(p[i + 1] as string))
    const rows = []
    for (let i = 0; i + 1 < q.length; i += 2) {
      const id = q[i] as string
      const product = info.get(id)
      if (!product) continue
      rows.push({ product_id: Number(id), ...product, quantity: Number(q[i + 1]) })
    }
    return rows
  }

  function recordToResponse(text: string): StoredResponse {
    const record = JSON.parse(text) as Record
    const cart = toCart(record.cart_id, linesOf(record.quantities, record.products))
    return { fingerprint: record.fingerprint, status: record.status, body: JSON.stringify(cart) }
  }

  /** Run a write script; `args` start with the product id where the write names one. */
  async function write(
    which: Script,
    cartId: string,
    idempotency: IdempotentWrite | undefined,
    args: string[],
  ): Promise<WriteResult> {
    const keys = [...cartKeys(cartId), idempotencyKey(idempotency?.key)]
    const reply = (await evaluate(which, keys, [
      idempotency?.fingerprint ?? '',
      String(idempotencyTtlMs),
      cartId,
      ...args,
    ])) as [string, ...unknown[]]
    const [outcome, first, second] = reply
    if (outcome === 'replay' && idempotency) {
      return { replayed: true, response: replayOf(idempotency, recordToResponse(first as string)) }
    }
    if (outcome === 'ok') return { replayed: false, cart: toCart(cartId, linesOf(first, second)) }
    const productId = Number(args[0])
    if (outcome === 'too_many_units') throw tooManyUnits(cartId, productId, Number(first))
    if (outcome === 'too_many_lines') throw tooManyLines(cartId)
    if (outcome === 'no_line') throw noSuchLine(cartId, productId)
    throw new Error(`unexpected reply from a cart script: ${JSON.stringify(reply)}`)
  }

  return {
    system: 'redis',
    async get(cartId) {
      const [quantities, products] = (await evaluate(SCRIPTS.read, cartKeys(cartId), [])) as unknown[]
      return toCart(cartId, linesOf(quantities, products))
    },
    async add(cartId, product: ProductRef, quantity, idempotency) {
      const info: ProductInfo = {
        name: product.name,
        unit_price_cents: product.price_cents,
        currency: product.currency,
      }
      return write(SCRIPTS.add, cartId, idempotency, [
        String(product.id),
        String(quantity),
        JSON.stringify(info),
        String(MAX_QUANTITY),
        String(MAX_LINES),
      ])
    },
    async remove(cartId, productId, idempotency) {
      return write(SCRIPTS.remove, cartId, idempotency, [String(productId)])
    },
    async clear(cartId, idempotency) {
      return write(SCRIPTS.clear, cartId, idempotency, [])
    },
    async recall(key) {
      const text = (await send('GET', [idempotencyKey(key)])) as string | null
      return text === null ? null : recordToResponse(text)
    },
    async check() {
      await send('PING', [])
    },
    async close() {
      connecting?.catch(() => {})
      client.close()
    },
  }
}
