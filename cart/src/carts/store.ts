// The cart store: SQLite (bun:sqlite, WAL) so a restart loses nothing. Every write is one
// transaction, and the quantity is added in SQL (an UPSERT), so concurrent adds never lose units.
// No Elysia here.

import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { HttpError } from '@shopstack/lib/errors'
import { type Cart, type CartLine, MAX_LINES, MAX_QUANTITY } from './model.ts'

export interface CartStoreOptions {
  /** A file path, or ':memory:' (tests). */
  path?: string
  /** Clock for `updated_at`, in milliseconds. */
  now?: () => number
}

/** What the store needs to know of a product when a line is added. */
export interface ProductRef {
  id: number
  name: string
  price_cents: number
  currency: string
}

export type CartStore = ReturnType<typeof createCartStore>

export function createCartStore(options: CartStoreOptions = {}) {
  const { path = ':memory:', now = Date.now } = options
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

  const lines = db.query<Omit<CartLine, 'line_total_cents'>, [string]>(
    'SELECT product_id, name, unit_price_cents, currency, quantity FROM cart_lines WHERE cart_id = ? ORDER BY product_id',
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
  const ping = db.query('SELECT 1')

  function get(cartId: string): Cart {
    const rows = lines.all(cartId)
    let itemCount = 0
    let total = 0
    const out: CartLine[] = rows.map((row) => {
      itemCount += row.quantity
      const lineTotal = row.quantity * row.unit_price_cents
      total += lineTotal
      return { ...row, line_total_cents: lineTotal }
    })
    return {
      cart_id: cartId,
      lines: out,
      item_count: itemCount,
      total_cents: total,
      currency: rows[0]?.currency ?? 'USD',
    }
  }

  // Checks and write in one transaction (BEGIN IMMEDIATE takes the write lock first), so two
  // processes adding to the same cart cannot both pass the quantity check.
  const addLine = db.transaction((cartId: string, product: ProductRef, quantity: number) => {
    const existing = lineQuantity.get(cartId, product.id)?.quantity ?? 0
    if (existing + quantity > MAX_QUANTITY) {
      throw new HttpError(
        422,
        `Cart ${cartId} would hold ${existing + quantity} of product ${product.id}; at most ${MAX_QUANTITY} per product`,
      )
    }
    if (existing === 0 && (lineCount.get(cartId)?.n ?? 0) >= MAX_LINES) {
      throw new HttpError(422, `Cart ${cartId} already has ${MAX_LINES} different products`)
    }
    upsert.run({
      cart_id: cartId,
      product_id: product.id,
      name: product.name,
      unit_price_cents: product.price_cents,
      currency: product.currency,
      quantity,
      updated_at: now(),
    })
  })

  return {
    get,
    add(cartId: string, product: ProductRef, quantity: number): Cart {
      addLine.immediate(cartId, product, quantity)
      return get(cartId)
    },
    /** Remove one product's line; false when the cart had no such line. */
    remove(cartId: string, productId: number): boolean {
      return deleteLine.run(cartId, productId).changes > 0
    },
    /** Remove every line; returns how many lines there were. */
    clear(cartId: string): number {
      return deleteCart.run(cartId).changes
    },
    check(): void {
      ping.get()
    },
    close(): void {
      db.close()
    },
  }
}
