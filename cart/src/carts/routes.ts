// Cart routes: add a product, read the cart, remove one line, clear the cart.
// A write looks the product up in the catalog, then takes the simulated database latency and
// maybe a simulated failure, and only then writes: a simulated failure never leaves a partial write.

import { HttpError, NotFoundError } from '@shopstack/lib/errors'
import type { Metrics } from '@shopstack/lib/metrics'
import { telemetryOf } from '@shopstack/lib/service-plugin'
import type { Simulation } from '@shopstack/lib/simulation'
import { inSpan, SpanKind, type Tracing } from '@shopstack/lib/tracing'
import { Elysia } from 'elysia'
import type { CatalogClient } from '../catalog-client.ts'
import { AddToCart, Cart, CartLineParams, CartParams } from './model.ts'
import type { CartStore } from './store.ts'

export interface CartRoutesOptions {
  store: CartStore
  catalog: CatalogClient
  simulation: Simulation
  tracing: Tracing
  metrics: Metrics
}

type Operation = 'add' | 'get' | 'remove' | 'clear'

const DB = { 'db.system.name': 'sqlite', 'db.collection.name': 'cart_lines' }

export function createCartRoutes(options: CartRoutesOptions) {
  const { store, catalog, simulation, tracing, metrics } = options
  const operations = metrics.counter('cart_operations_total', 'Cart operations by kind and outcome.', [
    'operation',
    'outcome',
  ])

  /** Run a cart operation: a store span, the simulation for writes, and the outcome counted. */
  async function run<T>(request: Request, operation: Operation, work: () => T): Promise<T> {
    const write = operation !== 'get'
    try {
      const result = await inSpan(
        tracing,
        `${write ? 'WRITE' : 'SELECT'} cart_lines`,
        telemetryOf(request).span,
        { ...DB, 'db.operation.name': write ? operation.toUpperCase() : 'SELECT' },
        async (span) => {
          if (write) await simulation.apply('cart write', { span })
          return work()
        },
        SpanKind.CLIENT,
      )
      operations.inc({ operation, outcome: 'ok' })
      return result
    } catch (error) {
      operations.inc({ operation, outcome: outcomeOf(error) })
      throw error
    }
  }

  return new Elysia({ name: 'cart/carts', prefix: '/cart' })
    .post(
      '/add',
      async ({ body, request }) => {
        const { span, requestId } = telemetryOf(request)
        const product = await catalog.getProduct(body.product_id, { parent: span, requestId })
        if (!product) {
          operations.inc({ operation: 'add', outcome: 'invalid' })
          throw new HttpError(404, `Product ${body.product_id} does not exist`, {
            product_id: body.product_id,
          })
        }
        return run(request, 'add', () => store.add(body.cart_id, product, body.quantity))
      },
      { body: AddToCart, response: Cart, detail: { summary: 'Add a product to a cart', tags: ['cart'] } },
    )
    .get('/:id', ({ params, request }) => run(request, 'get', () => store.get(params.id)), {
      params: CartParams,
      response: Cart,
      detail: { summary: 'Read a cart (an unknown cart is empty)', tags: ['cart'] },
    })
    .delete(
      '/:id',
      ({ params, request }) =>
        run(request, 'clear', () => {
          store.clear(params.id)
          return store.get(params.id)
        }),
      { params: CartParams, response: Cart, detail: { summary: 'Clear a cart', tags: ['cart'] } },
    )
    .delete(
      '/:id/items/:product_id',
      ({ params, request }) =>
        run(request, 'remove', () => {
          if (!store.remove(params.id, params.product_id)) {
            throw new NotFoundError(`Cart ${params.id} has no product ${params.product_id}`)
          }
          return store.get(params.id)
        }),
      {
        params: CartLineParams,
        response: Cart,
        detail: { summary: 'Remove one product from a cart', tags: ['cart'] },
      },
    )
}

function outcomeOf(error: unknown): string {
  if (error instanceof HttpError) {
    if (error.status === 404) return 'not_found'
    if (error.status < 500) return 'invalid'
  }
  return 'failed'
}
