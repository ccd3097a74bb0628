// The product store: SQLite through bun:sqlite, created and seeded on first open.
// Plain functions over a Database; no Elysia here.

import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { CATEGORIES } from '@shopstack/contracts/limits'
import type { Product, ProductPage } from '@shopstack/contracts/products'
import { generateProducts } from './seed.ts'

export interface ProductStoreOptions {
  /** A file path, or ':memory:' (tests). */
  path?: string
  /** How many products to seed into an empty database. */
  seedCount?: number
}

export type ProductStore = ReturnType<typeof createProductStore>

export function createProductStore(options: ProductStoreOptions = {}) {
  const { path = ':memory:', seedCount = 1000 } = options
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, strict: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run(`CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency TEXT NOT NULL
  )`)
  db.run('CREATE INDEX IF NOT EXISTS products_category ON products (category, id)')

  const count = db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM products')
  if ((count.get()?.n ?? 0) === 0) {
    const insert = db.query(
      'INSERT INTO products (id, sku, name, description, category, price_cents, currency) VALUES ($id, $sku, $name, $description, $category, $price_cents, $currency)',
    )
    db.transaction((products: Product[]) => {
      for (const product of products) insert.run(product)
    })(generateProducts(seedCount))
  }

  const byId = db.query<Product, [number]>('SELECT * FROM products WHERE id = ?')
  const page = db.query<Product, [number, number]>('SELECT * FROM products ORDER BY id LIMIT ? OFFSET ?')
  const pageInCategory = db.query<Product, [string, number, number]>(
    'SELECT * FROM products WHERE category = ? ORDER BY id LIMIT ? OFFSET ?',
  )
  const countInCategory = db.query<{ n: number }, [string]>(
    'SELECT COUNT(*) AS n FROM products WHERE category = ?',
  )
  const ping = db.query('SELECT 1')

  return {
    get(id: number): Product | null {
      return byId.get(id)
    },
    list(options: { page: number; pageSize: number; category?: string }): ProductPage {
      const { page: pageNumber, pageSize, category } = options
      const offset = (pageNumber - 1) * pageSize
      const items = category ? pageInCategory.all(category, pageSize, offset) : page.all(pageSize, offset)
      const total = (category ? countInCategory.get(category) : count.get())?.n ?? 0
      return { items, page: pageNumber, page_size: pageSize, total }
    },
    categories: (): readonly string[] => CATEGORIES,
    /** Readiness: the database answers a query. */
    check(): void {
      ping.get()
    },
    close(): void {
      db.close()
    },
  }
}
