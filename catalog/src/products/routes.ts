// Catalog routes: list products (paginated, filtered by category) and read one.
// Each read takes the simulated database latency before it queries the store.

import { Product, ProductListQuery, ProductPage, ProductParams } from '@shopstack/contracts/products'
import { problems } from '@shopstack/lib/docs'
import { NotFoundError } from '@shopstack/lib/errors'
import { telemetryOf } from '@shopstack/lib/plugins'
import type { Simulation } from '@shopstack/lib/simulation'
import { inSpan, SpanKind, type Tracing } from '@shopstack/lib/telemetry'
import { Elysia } from 'elysia'
import type { ProductStore } from './store.ts'

export interface ProductRoutesOptions {
  store: ProductStore
  simulation: Simulation
  tracing: Tracing
}

const DB = { 'db.system.name': 'sqlite', 'db.collection.name': 'products' }

export function createProductRoutes(options: ProductRoutesOptions) {
  const { store, simulation, tracing } = options

  /** A store read, as a CLIENT span (OTel database semconv) that includes the simulated latency. */
  const read = <T>(request: Request, operation: string, query: () => T): Promise<T> =>
    inSpan(
      tracing,
      `${operation} products`,
      telemetryOf(request).span,
      { ...DB, 'db.operation.name': operation },
      async (span) => {
        await simulation.apply('catalog read', { span, mayFail: false })
        return query()
      },
      SpanKind.CLIENT,
    )

  return new Elysia({ name: 'catalog/products', prefix: '/catalog' })
    .get(
      '',
      ({ query, request }) =>
        read(request, 'SELECT', () =>
          store.list({ page: query.page ?? 1, pageSize: query.page_size ?? 20, category: query.category }),
        ),
      {
        query: ProductListQuery,
        response: ProductPage,
        detail: { summary: 'List products', tags: ['catalog'] },
      },
    )
    .get(
      '/:id',
      async ({ params, request }) => {
        const product = await read(request, 'SELECT', () => store.get(params.id))
        if (!product)
          throw new NotFoundError(`Product ${params.id} does not exist`, { product_id: params.id })
        return product
      },
      {
        params: ProductParams,
        response: Product,
        detail: {
          summary: 'Get one product',
          tags: ['catalog'],
          ...problems({ 404: 'No product with this id' }),
        },
      },
    )
}
