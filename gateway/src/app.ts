// The gateway app: the public API. It validates with the services' own schemas, so bad input is
// refused at the edge, then proxies to the catalog and the cart with native fetch. Only the public
// routes exist here: service-internal routes stay internal. Never listens; index.ts does.
// Each upstream may run as several instances: the upstream client spreads calls over them, ejects
// failing ones, retries what is safe to retry (reads, and writes carrying an Idempotency-Key, which
// is forwarded so the cart can deduplicate), and sheds calls beyond its concurrency limit with a
// 503 and Retry-After.

import { AddToCart, CartLineParams, CartParams } from '@shopstack/cart/model'
import { ProductListQuery, ProductParams } from '@shopstack/catalog/model'
import { createAdminRoutes } from '@shopstack/lib/admin'
import { createServiceBase } from '@shopstack/lib/app-kit'
import { createEdge } from '@shopstack/lib/edge'
import { UpstreamError } from '@shopstack/lib/errors'
import { createFaults, type Faults } from '@shopstack/lib/faults'
import type { Logger } from '@shopstack/lib/logger'
import type { Metrics } from '@shopstack/lib/metrics'
import type { OutlierOptions } from '@shopstack/lib/resilience'
import { pathOf, telemetryOf } from '@shopstack/lib/service-plugin'
import type { Tracing } from '@shopstack/lib/tracing'
import { createUpstream, createUpstreamMetrics, type RetryPolicy } from '@shopstack/lib/upstream'
import { Elysia, t } from 'elysia'
import { createProxy } from './proxy.ts'

export interface GatewayAppOptions {
  /** One catalog instance, or `catalogUrls` for several. */
  catalogUrl?: string
  catalogUrls?: readonly string[]
  /** One cart instance, or `cartUrls` for several. */
  cartUrl?: string
  cartUrls?: readonly string[]
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  version?: string
  /** Overall timeout of an upstream call, retries included. */
  upstreamTimeoutMs?: number
  /** Timeout of each try; half the overall timeout by default, so one slow try leaves room for another. */
  perTryTimeoutMs?: number
  /** Calls in flight per upstream beyond which calls are shed with a 503. */
  maxConcurrent?: number
  retry?: RetryPolicy
  outlier?: OutlierOptions
  /** Readiness check of every upstream instance on this interval (ms); off when unset or 0. */
  healthCheckIntervalMs?: number
  fetch?: (request: Request) => Promise<Response>
  random?: () => number
  sleep?: (ms: number) => Promise<unknown>
  isDraining?: () => boolean
  maxBodyBytes?: number
  /** Injected faults (an unreachable upstream among them); none by default. */
  faults?: Faults
  /** Bearer token for /admin/faults. */
  adminToken?: string
  /** Origins allowed to call from a browser; any by default. */
  corsOrigins?: readonly string[]
}

const Info = t.Object({
  name: t.String(),
  version: t.String(),
  upstreams: t.Record(t.String(), t.String()),
  docs: t.String(),
})

export function createApp(options: GatewayAppOptions) {
  const {
    catalogUrl,
    catalogUrls = catalogUrl ? [catalogUrl] : [],
    cartUrl,
    cartUrls = cartUrl ? [cartUrl] : [],
    version = '0.1.0',
    upstreamTimeoutMs = 5000,
    perTryTimeoutMs = Math.max(1, Math.floor(upstreamTimeoutMs / 2)),
    maxConcurrent,
    retry,
    outlier,
    healthCheckIntervalMs,
    fetch,
    random,
    sleep,
    faults: givenFaults,
    adminToken,
    corsOrigins,
    ...rest
  } = options
  const { metrics, tracing } = rest
  const faults =
    givenFaults ??
    createFaults({ service: 'gateway', metrics, logger: rest.logger, upstreams: ['catalog', 'cart'] })
  const upstreamMetrics = createUpstreamMetrics(metrics)
  const upstream = (name: string, baseUrls: readonly string[]) =>
    createUpstream({
      name,
      baseUrls,
      tracing,
      upstreamMetrics,
      timeoutMs: upstreamTimeoutMs,
      perTryTimeoutMs,
      maxConcurrent,
      retry,
      outlier,
      healthCheck: healthCheckIntervalMs ? { intervalMs: healthCheckIntervalMs } : undefined,
      fetch,
      random,
      sleep,
    })
  const catalog = createProxy(upstream('catalog', catalogUrls))
  const cart = createProxy(upstream('cart', cartUrls))

  /**
   * A handler that forwards the request as it came (path and query) to `proxy`, labelled with the
   * route template Elysia matched, and the validated body re-serialised (the stream is consumed).
   */
  const pass =
    (proxy: typeof catalog) =>
    async (context: {
      request: Request
      route: string
      body?: unknown
      set: { headers: Record<string, string | number> }
    }) => {
      const { request, route, body, set } = context
      const { requestId, span } = telemetryOf(request)
      const name = proxy.upstream.name
      if (faults.isUnreachable(name)) {
        span?.addEvent('shopstack.fault.upstream_unreachable', { 'shopstack.upstream': name })
        throw new UpstreamError(502, name, `The ${name} service is unreachable (injected fault)`)
      }
      const response = await proxy.forward(request, {
        path: pathAndQuery(request.url),
        route,
        body: body === undefined ? undefined : JSON.stringify(body),
        requestId,
        parent: span,
        // RFC 9110 §9.2.2: GET is idempotent; a write is made so by its Idempotency-Key.
        idempotent: request.method === 'GET' || request.headers.has('idempotency-key'),
        responseHeaders: set.headers,
      })
      // They are in the response now (see proxy.ts); left here, Elysia would copy it to add them.
      for (const header in set.headers) delete set.headers[header]
      return response
    }

  return createServiceBase({
    service: 'gateway',
    version,
    description: 'The public ShopStack API: catalog and cart, proxied to their services.',
    checks: {
      catalog: () => catalog.upstream.ready(),
      cart: () => cart.upstream.ready(),
      faults: faults.readiness,
    },
    ...rest,
  })
    .onStop(function stopHealthChecks() {
      catalog.upstream.close()
      cart.upstream.close()
    })
    .use(createEdge({ origins: corsOrigins }))
    .use(faults.plugin())
    .use(createAdminRoutes({ faults, token: adminToken }))
    .use(
      new Elysia({ name: 'gateway/routes' })
        .get(
          '/',
          () => ({
            name: 'shopstack-gateway',
            version,
            upstreams: { catalog: catalogUrls.join(','), cart: cartUrls.join(',') },
            docs: '/docs',
          }),
          {
            response: Info,
            detail: { summary: 'Service information', tags: ['gateway'] },
          },
        )
        .get('/catalog', pass(catalog), {
          query: ProductListQuery,
          detail: { summary: 'List products', tags: ['catalog'] },
        })
        .get('/catalog/:id', pass(catalog), {
          params: ProductParams,
          detail: { summary: 'Get one product', tags: ['catalog'] },
        })
        .post('/cart/add', pass(cart), {
          body: AddToCart,
          detail: { summary: 'Add a product to a cart', tags: ['cart'] },
        })
        .get('/cart/:id', pass(cart), {
          params: CartParams,
          detail: { summary: 'Read a cart', tags: ['cart'] },
        })
        .delete('/cart/:id', pass(cart), {
          params: CartParams,
          detail: { summary: 'Clear a cart', tags: ['cart'] },
        })
        .delete('/cart/:id/items/:product_id', pass(cart), {
          params: CartLineParams,
          detail: { summary: 'Remove one product from a cart', tags: ['cart'] },
        }),
    )
}

/** `/a/b?x=1` from `http://host/a/b?x=1#frag`, without parsing the whole URL. */
function pathAndQuery(url: string): string {
  const path = pathOf(url)
  const query = url.indexOf('?')
  if (query === -1) return path
  const hash = url.indexOf('#', query)
  return path + url.slice(query, hash === -1 ? url.length : hash)
}
