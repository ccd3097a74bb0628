// The cart's view of the catalog: one product by id, over HTTP, so a cart write is a real
// gateway -> cart -> catalog hop with its own CLIENT span.

import { HttpError, UpstreamError } from '@shopstack/lib/errors'
import type { Span } from '@shopstack/lib/telemetry'
import type { Upstream } from '@shopstack/lib/upstream'
import type { ProductRef } from './carts/store.ts'

export type CatalogClient = ReturnType<typeof createCatalogClient>

export function createCatalogClient(upstream: Upstream) {
  return {
    /** The product, or null when the catalog says it does not exist. */
    async getProduct(
      id: number,
      context: { parent?: Span; requestId?: string } = {},
    ): Promise<ProductRef | null> {
      const headers = new Headers({ accept: 'application/json' })
      if (context.requestId) headers.set('x-request-id', context.requestId)
      const response = await upstream.request({
        path: `/catalog/${id}`,
        route: '/catalog/:id',
        headers,
        parent: context.parent,
      })
      if (response.status === 404) {
        await response.body?.cancel()
        return null
      }
      if (!response.ok) {
        await response.body?.cancel()
        const status = response.status === 503 ? 503 : 502
        // Nothing was written, and another try may find a catalog instance that answers: the
        // catalog's own Retry-After (a shed 503) or a second.
        throw new UpstreamError(
          status,
          upstream.name,
          `The catalog answered ${response.status} for product ${id}`,
          { headers: { 'retry-after': response.headers.get('retry-after') ?? '1' } },
        )
      }
      const product = (await response.json()) as Partial<ProductRef>
      if (typeof product.id !== 'number' || typeof product.price_cents !== 'number' || !product.name) {
        throw new HttpError(502, `The catalog answered an invalid product for id ${id}`, {
          upstream: upstream.name,
        })
      }
      return {
        id: product.id,
        name: product.name,
        price_cents: product.price_cents,
        currency: product.currency ?? 'USD',
      }
    },
  }
}
