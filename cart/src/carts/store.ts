// The cart store: one interface, two implementations. `createCartStore` is the embedded default,
// SQLite (bun:sqlite, WAL) so a restart loses nothing; `createRedisCartStore` (redis-store.ts)
// keeps carts in Redis so several cart processes serve one set of carts. The interface is async
// because Redis is a network hop; SQLite answers at once behind the same promises.
// Every write is atomic — checks, change and idempotency record together — so concurrent adds
// never lose units and a retried write never counts twice. No Elysia here.

import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Cart, CartLine } from '@shopstack/contracts/carts'
import { MAX_LINES, MAX_QUANTITY } from '@shopstack/contracts/limits'
import { type HttpError, NotFoundError } from '@shopstack/lib/errors'
import { InvalidInputError } from '@shopstack/lib/validation'
import { IDEMPOTENCY_TTL_MS, type IdempotentWrite, replayOf, type StoredResponse } from './idempotency.ts'

/** What the store needs to know of a product when a line is added. */
export interface ProductRef {
  id: number
  name: string
  price_cents: number
  currency: string
}

/** A write either happened now (the cart after it) or was a replay of an earlier one. */
export type WriteResult = { replayed: false; cart: Cart } | { replayed: true; response: StoredResponse }

export interface CartStore {
  /** `db.system.name` for spans: "sqlite" or "redis". */
  readonly system: string
  /** The cart; an unknown cart is empty. */
  get(cartId: string): Promise<Cart>
  /** Add units of a product; 422 beyond MAX_QUANTITY per product or MAX_LINES lines. */
  add(
    cartId: string,
    product: ProductRef,
    quantity: number,
    idempotency?: IdempotentWrite,
  ): Promise<WriteResult>
  /** Remove one product's line; 404 when the cart has no such line. */
  remove(cartId: string, productId: number, idempotency?: IdempotentWrite): Promise<WriteResult>
  /** Remove every line. */
  clear(cartId: string, idempotency?: IdempotentWrite): Promise<WriteResult>
  /** The outcome kept for an idempotency key, or null (unknown or expired). */
  recall(key: string): Promise<StoredResponse | null>
  check(): Promise<void>
  close(): Promise<void>
}

export interface CartStoreOptions {
  /** A file path, or ':memory:' (tests). */
  path?: string
  /** Clock in milliseconds, for `updated_at` and idempotency expiry. */
  now?: () => number
  idempotencyTtlMs?: number
}

type LineRow = Omit<CartLine, 'line_total_cents'>

/** Lines (in any order) to the Cart the API returns: sorted by product, with totals. */
export function toCart(cartId: string, rows: readonly LineRow[]): Cart {
  let itemCount = 0
  let total = 0
  const lines: CartLine[] = [...rows]
    .sort((a, b) => a.product_id - b.product_id)
    .map((row) => {
      const lineTotal = row.quantity * row.unit_price_cents
      itemCount += row.quantity
      total += lineTotal
      return {
        product_id: row.product_id,
        name: row.name,
        unit_price_cents: row.unit_price_cents,
        currency: row.currency,
        quantity: row.quantity,
        line_total_cents: lineTotal,
      }
    })
  return {
    cart_id: cartId,
    lines,
    item_count: itemCount,
    total_cents: total,
    currency: lines[0]?.currency ?? 'USD',
  }
}

export function tooManyUnits(cartId: string, productId: number, wouldHold: number): HttpError {
  return new InvalidInputError([
    {
      in: 'body',
      path: 'quantity',
      message: `would make ${wouldHold} of product ${productId} in cart ${cartId}; at most ${MAX_QUANTITY} per product`,
    },
  ])
}

export function tooManyLines(cartId: string): HttpError {
  return new InvalidInputError([
    {
      in: 'body',
      path: 'product_id',
      message: `cannot be added: cart ${cartId} already has ${MAX_LINES} different products, the most a cart holds`,
    },
  ])
}

export function noSuchLine(cartId: string, productId: number): NotFoundError {
  return new NotFoundError(`Cart ${cartId} has no product ${productId}`)
}

/** The embedded SQLite store. */
export function createCartStore(options: CartStoreOptions = {}): CartStore {
  const { path = ':memory:', now = Date.now, idempotencyTtlMs = IDEMPOTENCY_TTL_MS } = options
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, strict: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run('PRAGMA synchronous = NORMAL')
  db.run('PRAGMA busy_timeout = 5000')
  db.run(`CREATE TABLE IF NOT EXISTS cart_lines (
    cart_id TEXT NOT NULL,
    product_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    currency TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (cart_id, product_id)
  ) WITHOUT ROWID`)
  db.run(`CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  )`)
  db.run('CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at)')

  const lines = db.query<LineRow, [string]>(
    'SELECT product_id, name, unit_price_cents, currency, quantity FROM cart_lines WHERE cart_id = ?',
  )
  const lineQuantity = db.query<{ quantity: number }, [string, number]>(
    'SELECT quantity FROM cart_lines WHERE cart_id = ? AND product_id = ?',
  )
  const lineCount = db.query<{ n: number }, [string]>(
    'SELECT COUNT(*) AS n FROM cart_lines WHERE cart_id = ?',
  )
  const upsert = db.query(
    `INSERT INTO cart_lines (cart_id, product_id, name, unit_price_cents, currency, quantity, updated_at)
     VALUES ($cart_id, $product_id, $name, $unit_price_cents, $currency, $quantity, $updated_at)
     ON CONFLICT (cart_id, product_id) DO UPDATE SET
       quantity = quantity + excluded.quantity,
       name = excluded.name,
       unit_price_cents = excluded.unit_price_cents,
       currency = excluded.currency,
       updated_at = excluded.updated_at`,
  )
  const deleteLine = db.query('DELETE FROM cart_lines WHERE cart_id = ? AND product_id = ?')
  const deleteCart = db.query('DELETE FROM cart_lines WHERE cart_id = ?')
  const findKey = db.query<StoredResponse, [string, number]>(
    'SELECT fingerprint, status, body FROM idempotency_keys WHERE key = ? AND expires_at > ?',
  )
  const saveKey = db.query(
    `INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, status, body, expires_at)
     VALUES ($key, $fingerprint, $status, $body, $expires_at)`,
  )
  const purgeKeys = db.query(
    `DELETE FROM idempotency_keys WHERE rowid IN
       (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT 100)`,
  )
  const ping = db.query('SELECT 1')

  const get = (cartId: string): Cart => toCart(cartId, lines.all(cartId))

  /**
   * One write in one transaction (BEGIN IMMEDIATE takes the write lock first, so two processes
   * cannot both pass a check): a replay returns the kept outcome; otherwise `change` runs and,
   * with a key, the cart it leaves is kept as the outcome.
   */
  const write = db.transaction(
    (cartId: string, change: () => void, idempotency: IdempotentWrite | undefined): WriteResult => {
      const at = now()
      if (idempotency) {
        const stored = findKey.get(idempotency.key, at)
        if (stored) return { replayed: true, response: replayOf(idempotency, stored) }
      }
      change()
      const cart = get(cartId)
      if (idempotency) {
        purgeKeys.run(at)
        saveKey.run({
          key: idempotency.key,
          fingerprint: idempotency.fingerprint,
          status: 200,
          body: JSON.stringify(cart),
          expires_at: at + idempotencyTtlMs,
        })
      }
      return { replayed: false, cart }
    },
  )
  const run = async (cartId: string, change: () => void, idempotency?: IdempotentWrite) =>
    write.immediate(cartId, change, idempotency)

  return {
    system: 'sqlite',
    get: async (cartId) => get(cartId),
    add: (cartId, product, quantity, idempotency) =>
      run(
        cartId,
        () => {
          const existing = lineQuantity.get(cartId, product.id)?.quantity ?? 0
          if (existing + quantity > MAX_QUANTITY) throw tooManyUnits(cartId, product.id, existing + quantity)
          if (existing === 0 && (lineCount.get(cartId)?.n ?? 0) >= MAX_LINES) throw tooManyLines(cartId)
          upsert.run({
            cart_id: cartId,
            product_id: product.id,
            name: product.name,
            unit_price_cents: product.price_cents,
            currency: product.currency,
            quantity,
            updated_at: now(),
          })
        },
        idempotency,
      ),
    remove: (cartId, productId, idempotency) =>
      run(
        cartId,
        () => {
          if (deleteLine.run(cartId, productId).changes === 0) throw noSuchLine(cartId, productId)
        },
        idempotency,
      ),
    clear: (cartId, idempotency) => run(cartId, () => void deleteCart.run(cartId), idempotency),
    recall: async (key) => findKey.get(key, now()),
    check: async () => {
      ping.get()
    },
    close: async () => {
      db.close()
    },
  }
}
