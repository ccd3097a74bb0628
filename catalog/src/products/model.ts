// Product schemas: the single source of the Product type, of request validation and of the
// OpenAPI document. The gateway imports these too, so the public API validates the same way.

import { DecimalParam } from '@shopstack/lib/schemas'
import { t } from 'elysia'

export const CATEGORIES = [
  'books',
  'clothing',
  'electronics',
  'garden',
  'grocery',
  'home',
  'kitchen',
  'sports',
  'toys',
  'beauty',
] as const

export const MAX_PAGE_SIZE = 100

export const Product = t.Object({
  id: t.Integer({ minimum: 1 }),
  sku: t.String(),
  name: t.String(),
  description: t.String(),
  category: t.String(),
  price_cents: t.Integer({ minimum: 0, description: 'Price in the smallest currency unit' }),
  currency: t.String({ minLength: 3, maxLength: 3 }),
})
export type Product = typeof Product.static

export const ProductParams = t.Object({
  id: DecimalParam({ maximum: 2_147_483_647, description: 'Product id' }),
})

export const ProductListQuery = t.Object({
  page: t.Optional(DecimalParam({ maximum: 100_000, description: '1-based page number' })),
  page_size: t.Optional(
    DecimalParam({ maximum: MAX_PAGE_SIZE, description: 'Products per page, default 20' }),
  ),
  // A union of literals, not t.UnionEnum: UnionEnum defaults to its first member, which would
  // silently filter every unfiltered list to one category.
  category: t.Optional(
    t.Union(
      CATEGORIES.map((c) => t.Literal(c)),
      { description: 'Only this category' },
    ),
  ),
})
export type ProductListQuery = typeof ProductListQuery.static

export const ProductPage = t.Object({
  items: t.Array(Product),
  page: t.Integer(),
  page_size: t.Integer(),
  total: t.Integer({ description: 'Products matching the filter, across all pages' }),
})
export type ProductPage = typeof ProductPage.static
