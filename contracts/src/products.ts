// Product schemas: the single source of the Product type, of request validation and of the
// OpenAPI document. The catalog and the gateway both validate with these, so the public API
// refuses the same values in the same words at the edge and behind it.

import { t } from 'elysia'
import { CATEGORIES, MAX_PAGE, MAX_PAGE_SIZE, MAX_PRODUCT_ID } from './limits.ts'
import { DecimalParam } from './schemas.ts'

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
  id: DecimalParam({ maximum: MAX_PRODUCT_ID, description: 'Product id' }),
})

export const ProductListQuery = t.Object({
  page: t.Optional(DecimalParam({ maximum: MAX_PAGE, description: '1-based page number' })),
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
