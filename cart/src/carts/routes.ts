// Cart routes: add a product, read the cart, remove one line, clear the cart.
// A write looks the product up in the catalog, then takes the simulated database latency and
// maybe a simulated failure, and only then writes: a simulated failure never leaves a partial write.
// Writes honour an Idempotency-Key (see idempotency.ts): a known key is answered from the store
// before the catalog or the simulation is asked, so a replay never fails where the first succeeded.

import { AddToCart, Cart, CartLineParams, CartParams } from '@shopstack/contracts/carts'
import { IDEMPOTENCY_KEY_PARAMETER } from '@shopstack/contracts/schemas'
import { problems } from '@shopstack/lib/docs'
import { HttpError } from '@shopstack/lib/errors'
import { telemetryOf } from '@shopstack/lib/plugins'
import type { Simulation } from '@shopstack/lib/simulation'
import { inSpan, type Metrics, SpanKind, type Tracing } from '@shopstack/lib/telemetry'
import { Elysia } from 'elysia'
import type { CatalogClient } from '../catalog-client.ts'
import {
  fingerprintOf,
  type IdempotentWrite,
  idempotencyKeyOf,
  REPLAYED_HEADER,
  replayOf,
  type StoredResponse,
} from './idempotency.ts'
import type { CartStore, WriteResult } from './store.ts'

export interface CartRoutesOptions {
  store: CartStore
  catalog: CatalogClient
  simulation: Simulation
  tracing: Tracing
  metrics: Metrics
}

type Operation = 'add' | 'get' | 'remove' | 'clear'

// A cart is one person's: no shared cache may keep it (RFC 9111 §5.2.2.5).
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }

export function createCartRoutes(options: CartRoutesOptions) {
  const { store, catalog, simulation, tracing, metrics } = options
  const DB = { 'db.system.name': store.system, 'db.collection.name': 'cart_lines' }
  const operations = metrics.counter('cart_operations_total', 'Cart operations by kind and outcome.', [
    'operation',
    'outcome',
  ])

  /** Run a cart operation: a store span, the simulation for writes, and the outcome counted. */
  async function run<T>(request: Request, operation: Operation, work: () => T | Promise<T>): Promise<T> {
    const write = operation !== 'get'
    try {
      const result = await inSpan(
        tracing,
        `${write ? 'WRITE' : 'SELECT'} cart_lines`,
        telemetryOf(request).span,
        { ...DB, 'db.operation.name': write ? operation.toUpperCase() : 'SELECT' },
        async (span) => {
          if (write) await simulation.apply('cart write', { span })
          const value = await work()
          if (span && isReplay(value)) span.setAttribute('shopstack.idempotency.replayed', true)
          return value
        },
        SpanKind.CLIENT,
      )
      operations.inc({ operation, outcome: isReplay(result) ? 'replayed' : 'ok' })
      return result
    } catch (error) {
      operations.inc({ operation, outcome: outcomeOf(error) })
      throw error
    }
  }

  /**
   * The request's idempotent write (key and fingerprint), or undefined without a key; and the kept
   * outcome when the key is known, checked against this request. A key is scoped to its cart
   * (stored as `<cart id>:<key>`; cart ids hold no colon): the same key sent for another cart is
   * another write, so a client that picks, or learns, someone's key never gets their cart back.
   */
  async function idempotency(
    request: Request,
    cartId: string,
    path: string,
    body?: unknown,
  ): Promise<{ write?: IdempotentWrite; replay?: Response }> {
    const given = idempotencyKeyOf(request.headers)
    if (given === undefined) return {}
    const key = `${cartId}:${given}`
    const write = { key, fingerprint: fingerprintOf(request.method, path, body) }
    const kept = await store.recall(key)
    if (!kept) return { write }
    const operation = request.method === 'POST' ? 'add' : path.includes('/items/') ? 'remove' : 'clear'
    operations.inc({ operation, outcome: 'replayed' })
    telemetryOf(request).span?.setAttribute('shopstack.idempotency.replayed', true)
    return { write, replay: replayResponse(replayOf(write, kept)) }
  }

  /**
   * A write's answer. The body is the exact text a key keeps (JSON.stringify of the Cart), so a
   * replay is byte for byte the first answer; the Cart schema still documents it.
   */
  function respond(result: WriteResult): Response {
    if (result.replayed) return replayResponse(result.response)
    return new Response(JSON.stringify(result.cart), { status: 200, headers: JSON_HEADERS })
  }

  return new Elysia({ name: 'cart/carts', prefix: '/cart' })
    .post(
      '/add',
      async ({ body, request }) => {
        const { cart_id, product_id, quantity } = body
        const { write, replay } = await idempotency(request, cart_id, '/cart/add', {
          cart_id,
          product_id,
          quantity,
        })
        if (replay) return replay
        const { span, requestId } = telemetryOf(request)
        const product = await catalog.getProduct(body.product_id, { parent: span, requestId })
        if (!product) {
          operations.inc({ operation: 'add', outcome: 'invalid' })
          throw new HttpError(404, `Product ${body.product_id} does not exist`, {
            product_id: body.product_id,
          })
        }
        const result = await run(request, 'add', () => store.add(cart_id, product, quantity, write))
        return respond(result)
      },
      {
        body: AddToCart,
        response: Cart,
        detail: {
          summary: 'Add a product to a cart (honours Idempotency-Key)',
          tags: ['cart'],
          ...problems({
            404: 'No product with this id in the catalog',
            502: 'The catalog is unreachable, or answered an invalid product',
            503: 'A simulated failure: nothing was written, the request can be retried',
            504: 'The catalog did not answer in time',
          }),
          parameters: [IDEMPOTENCY_KEY_PARAMETER],
        },
      },
    )
    .get(
      '/:id',
      ({ params, request, set }) => {
        set.headers['cache-control'] = JSON_HEADERS['cache-control']
        return run(request, 'get', () => store.get(params.id))
      },
      {
        params: CartParams,
        response: Cart,
        detail: { summary: 'Read a cart (an unknown cart is empty)', tags: ['cart'] },
      },
    )
    .delete(
      '/:id',
      async ({ params, request }) => {
        const { write, replay } = await idempotency(request, params.id, `/cart/${params.id}`)
        if (replay) return replay
        return respond(await run(request, 'clear', () => store.clear(params.id, write)))
      },
      {
        params: CartParams,
        response: Cart,
        detail: {
          summary: 'Clear a cart (honours Idempotency-Key)',
          tags: ['cart'],
          ...problems({ 503: 'A simulated failure: nothing was written, the request can be retried' }),
          parameters: [IDEMPOTENCY_KEY_PARAMETER],
        },
      },
    )
    .delete(
      '/:id/items/:product_id',
      async ({ params, request }) => {
        const { id, product_id } = params
        const { write, replay } = await idempotency(request, id, `/cart/${id}/items/${product_id}`)
        if (replay) return replay
        return respond(await run(request, 'remove', () => store.remove(id, product_id, write)))
      },
      {
        params: CartLineParams,
        response: Cart,
        detail: {
          summary: 'Remove one product from a cart (honours Idempotency-Key)',
          tags: ['cart'],
          ...problems({
            404: 'The cart has no line for this product',
            503: 'A simulated failure: nothing was written, the request can be retried',
          }),
          parameters: [IDEMPOTENCY_KEY_PARAMETER],
        },
      },
    )
}

/** A kept outcome, answered again: same status, same body, marked as a replay. */
function replayResponse(stored: StoredResponse): Response {
  return new Response(stored.body, {
    status: stored.status,
    headers: { ...JSON_HEADERS, [REPLAYED_HEADER]: 'true' },
  })
}

function isReplay(value: unknown): boolean {
  return (value as WriteResult | undefined)?.replayed === true
}

function outcomeOf(error: unknown): string {
  if (error instanceof HttpError) {
    if (error.status === 404) return 'not_found'
    if (error.status < 500) return 'invalid'
  }
  return 'failed'
}
