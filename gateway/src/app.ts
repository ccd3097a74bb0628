// The gateway app: the public API. It validates with the services' own schemas, so bad input is
// refused at the edge, then proxies to the catalog and the cart with native fetch. Only the public
// routes exist here: service-internal routes stay internal. Never listens; index.ts does.

import { AddToCart, CartLineParams, CartParams } from '@shopstack/cart/model'
import { ProductListQuery, ProductParams } from '@shopstack/catalog/model'
import { createServiceBase } from '@shopstack/lib/app-kit'
import type { Logger } from '@shopstack/lib/logger'
import type { Metrics } from '@shopstack/lib/metrics'
import { telemetryOf } from '@shopstack/lib/service-plugin'
import type { Tracing } from '@shopstack/lib/tracing'
import { createUpstream, createUpstreamMetrics, type Upstream } from '@shopstack/lib/upstream'
import { Elysia, t } from 'elysia'
import { createProxy } from './proxy.ts'

export interface GatewayAppOptions {
  catalogUrl: string
  cartUrl: string
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  version?: string
  upstreamTimeoutMs?: number
  fetch?: (request: Request) => Promise<Response>
  isDraining?: () => boolean
  maxBodyBytes?: number
}

const Info = t.Object({
  name: t.String(),
  version: t.String(),
  upstreams: t.Record(t.String(), t.String()),
  docs: t.String(),
})

export function createApp(options: GatewayAppOptions) {
  const { catalogUrl, cartUrl, version = '0.1.0', upstreamTimeoutMs, fetch, ...rest } = options
  const { metrics, tracing } = rest
  const upstreamMetrics = createUpstreamMetrics(metrics)
  const upstream = (name: string, baseUrl: string) =>
    createUpstream({ name, baseUrl, tracing, upstreamMetrics, timeoutMs: upstreamTimeoutMs, fetch })
  const catalog = createProxy(upstream('catalog', catalogUrl))
  const cart = createProxy(upstream('cart', cartUrl))

  /** Forward the request as it came (path and query), under the route template. */
  const pass = (proxy: typeof catalog, route: string, body?: unknown) => (request: Request) => {
    const { requestId, span } = telemetryOf(request)
    const url = new URL(request.url)
    return proxy.forward(request, {
      path: url.pathname + url.search,
      route,
      body: body === undefined ? undefined : JSON.stringify(body),
      requestId,
      parent: span,
    })
  }

  return createServiceBase({
    service: 'gateway',
    version,
    description: 'The public ShopStack API: catalog and cart, proxied to their services.',
    checks: { catalog: readiness(catalog.upstream), cart: readiness(cart.upstream) },
    ...rest,
  }).use(
    new Elysia({ name: 'gateway/routes' })
      .get(
        '/',
        () => ({
          name: 'shopstack-gateway',
          version,
          upstreams: { catalog: catalogUrl, cart: cartUrl },
          docs: '/docs',
        }),
        {
          response: Info,
          detail: { summary: 'Service information', tags: ['gateway'] },
        },
      )
      .get('/catalog', ({ request }) => pass(catalog, '/catalog')(request), {
        query: ProductListQuery,
        detail: { summary: 'List products', tags: ['catalog'] },
      })
      .get('/catalog/:id', ({ request }) => pass(catalog, '/catalog/:id')(request), {
        params: ProductParams,
        detail: { summary: 'Get one product', tags: ['catalog'] },
      })
      .post('/cart/add', ({ request, body }) => pass(cart, '/cart/add', body)(request), {
        body: AddToCart,
        detail: { summary: 'Add a product to a cart', tags: ['cart'] },
      })
      .get('/cart/:id', ({ request }) => pass(cart, '/cart/:id')(request), {
        params: CartParams,
        detail: { summary: 'Read a cart', tags: ['cart'] },
      })
      .delete('/cart/:id', ({ request }) => pass(cart, '/cart/:id')(request), {
        params: CartParams,
        detail: { summary: 'Clear a cart', tags: ['cart'] },
      })
      .delete(
        '/cart/:id/items/:product_id',
        ({ request }) => pass(cart, '/cart/:id/items/:product_id')(request),
        {
          params: CartLineParams,
          detail: { summary: 'Remove one product from a cart', tags: ['cart'] },
        },
      ),
  )
}

/** The gateway is ready when the upstream answers its own readiness check. */
function readiness(upstream: Upstream) {
  return async () => {
    const response = await upstream.request({ path: '/healthz', route: '/healthz' })
    await response.body?.cancel()
    if (!response.ok) throw new Error(`${upstream.name} answered ${response.status}`)
  }
}
