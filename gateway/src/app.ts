// The gateway app: the public API. It validates with the services' own schemas, so bad input is
// refused at the edge, then proxies to the catalog and the cart with native fetch. Only the public
// routes exist here: service-internal routes stay internal. Never listens; index.ts does.
// Each upstream may run as several instances: the upstream client spreads calls over them, ejects
// failing ones, retries what is safe to retry (reads, and writes carrying an Idempotency-Key, which
// is forwarded so the cart can deduplicate), and sheds calls beyond its concurrency limit with a
// 503 and Retry-After.

import { AddToCart, Cart, CartLineParams, CartParams } from '@shopstack/contracts/carts'
import { Product, ProductListQuery, ProductPage, ProductParams } from '@shopstack/contracts/products'
import { IDEMPOTENCY_KEY_PARAMETER } from '@shopstack/contracts/schemas'
import { createAdminRoutes } from '@shopstack/lib/admin'
import { type DiscoveryTarget, redactUrl } from '@shopstack/lib/config'
import type { Resolver } from '@shopstack/lib/discovery'
import { problems } from '@shopstack/lib/docs'
import { createEdge } from '@shopstack/lib/edge'
import { UpstreamError } from '@shopstack/lib/errors'
import { createFaults, type Faults } from '@shopstack/lib/faults'
import { telemetryOf } from '@shopstack/lib/plugins'
import type { OutlierOptions } from '@shopstack/lib/resilience'
import { createServiceBase } from '@shopstack/lib/service-base'
import type { Logger, Metrics, Tracing } from '@shopstack/lib/telemetry'
import { createUpstream, type RetryPolicy } from '@shopstack/lib/upstream'
import { createUpstreamMetrics } from '@shopstack/lib/upstream-metrics'
import { Elysia, t } from 'elysia'
import { createProxy } from './proxy.ts'

export interface GatewayAppOptions {
  /** One catalog instance, or `catalogUrls` for several. */
  catalogUrl?: string
  catalogUrls?: readonly string[]
  /** One cart instance, or `cartUrls` for several. */
  cartUrl?: string
  cartUrls?: readonly string[]
  /** Catalog instances found by DNS (a headless Service); `catalogUrls` until the first lookup. */
  catalogDiscovery?: DiscoveryTarget
  /** Cart instances found by DNS, as the catalog's. */
  cartDiscovery?: DiscoveryTarget
  /** How often a discovered name is resolved again (ms). */
  discoveryIntervalMs?: number
  /** DNS lookups for discovery (tests inject their own). */
  resolve?: Resolver
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
  /** Longest time a request body may take to arrive (408 past it). */
  bodyTimeoutMs?: number
  /** Injected faults (an unreachable upstream among them); none by default. */
  faults?: Faults
  /** Bearer token for /admin/faults. */
  adminToken?: string
  /** Origins allowed to call from a browser; any by default. */
  corsOrigins?: readonly string[]
}

/** What any proxied route can answer besides its upstream's answer. */
const UPSTREAM_PROBLEMS = {
  502: 'The upstream service is unreachable (or an injected upstream_unreachable fault)',
  503: 'The upstream has too many calls in flight (Retry-After), or answered 503 itself (a simulated failure)',
  504: 'The upstream did not answer in time',
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
    catalogDiscovery,
    cartDiscovery,
    discoveryIntervalMs,
    resolve,
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
  const upstream = (name: string, baseUrls: readonly string[], discovery?: DiscoveryTarget) =>
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
      discovery: discovery && { ...discovery, intervalMs: discoveryIntervalMs, resolve },
      logger: rest.logger,
      fetch,
      random,
      sleep,
    })
  const catalog = createProxy(upstream('catalog', catalogUrls, catalogDiscovery))
  const cart = createProxy(upstream('cart', cartUrls, cartDiscovery))
  const upstreams = {
    catalog: redactUrl(catalogUrls.join(',')),
    cart: redactUrl(cartUrls.join(',')),
  }
  /** A readiness check whose failure names no credential (its message ends up in /healthz). */
  const redacted = (check: () => Promise<unknown>) => () =>
    check().catch((error: unknown) => {
      throw new Error(redactUrl(error instanceof Error ? error.message : String(error)))
    })

  /**
   * A handler that forwards the request to `proxy`, labelled with the route template Elysia
   * matched. The upstream path is rebuilt from that template, the validated params and the
   * validated query (`queryKeys`), never copied from the request target: a proxy forwards exactly
   * what it routed, so no target (a malformed Host, an odd query, encoded dots) can reach another
   * upstream path. The validated body is re-serialised (the stream is consumed).
   */
  const pass =
    (proxy: typeof catalog, queryKeys: readonly string[] = []) =>
    async (context: {
      request: Request
      route: string
      params?: Record<string, unknown>
      query?: Record<string, unknown>
      body?: unknown
      set: { headers: Record<string, string | number> }
    }) => {
      const { request, route, params, query, body, set } = context
      const { requestId, span } = telemetryOf(request)
      const name = proxy.upstream.name
      if (faults.isUnreachable(name)) {
        span?.addEvent('shopstack.fault.upstream_unreachable', { 'shopstack.upstream': name })
        throw new UpstreamError(502, name, `The ${name} service is unreachable (injected fault)`)
      }
      const response = await proxy.forward(request, {
        path: upstreamPath(route, params, query, queryKeys),
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
      catalog: redacted(() => catalog.upstream.ready()),
      cart: redacted(() => cart.upstream.ready()),
      faults: faults.readiness,
    },
    ...rest,
  })
    .onStop(function stopHealthChecksAndDiscovery() {
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
            // Public: scheme, host, port and path of each instance; never their userinfo.
            upstreams,
            docs: '/docs',
          }),
          {
            response: Info,
            detail: { summary: 'Service information', tags: ['gateway'] },
          },
        )
        .get('/catalog', pass(catalog, Object.keys(ProductListQuery.properties)), {
          query: ProductListQuery,
          response: ProductPage,
          detail: { summary: 'List products', tags: ['catalog'], ...problems(UPSTREAM_PROBLEMS) },
        })
        .get('/catalog/:id', pass(catalog), {
          params: ProductParams,
          response: Product,
          detail: {
            summary: 'Get one product',
            tags: ['catalog'],
            ...problems({ ...UPSTREAM_PROBLEMS, 404: 'No product with this id' }),
          },
        })
        .post('/cart/add', pass(cart), {
          body: AddToCart,
          response: Cart,
          detail: {
            summary: 'Add a product to a cart (honours Idempotency-Key)',
            tags: ['cart'],
            parameters: [IDEMPOTENCY_KEY_PARAMETER],
            ...problems({ ...UPSTREAM_PROBLEMS, 404: 'No product with this id in the catalog' }),
          },
        })
        .get('/cart/:id', pass(cart), {
          params: CartParams,
          response: Cart,
          detail: {
            summary: 'Read a cart (an unknown cart is empty)',
            tags: ['cart'],
            ...problems(UPSTREAM_PROBLEMS),
          },
        })
        .delete('/cart/:id', pass(cart), {
          params: CartParams,
          response: Cart,
          detail: {
            summary: 'Clear a cart (honours Idempotency-Key)',
            tags: ['cart'],
            parameters: [IDEMPOTENCY_KEY_PARAMETER],
            ...problems(UPSTREAM_PROBLEMS),
          },
        })
        .delete('/cart/:id/items/:product_id', pass(cart), {
          params: CartLineParams,
          response: Cart,
          detail: {
            summary: 'Remove one product from a cart (honours Idempotency-Key)',
            tags: ['cart'],
            parameters: [IDEMPOTENCY_KEY_PARAMETER],
            ...problems({ ...UPSTREAM_PROBLEMS, 404: 'The cart has no line for this product' }),
          },
        }),
    )
}

/**
 * The upstream path and query for a request routed to `route` ("/cart/:id/items/:product_id"):
 * each `:name` is replaced by its validated parameter, percent-encoded, and the query holds only
 * the validated `queryKeys`. The parameter schemas already refuse `/`, `.` and `%`; the encoding
 * is the second lock.
 */
export function upstreamPath(
  route: string,
  params: Record<string, unknown> = {},
  query: Record<string, unknown> = {},
  queryKeys: readonly string[] = [],
): string {
  const path = route.includes(':')
    ? route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(params[name] ?? '')))
    : route
  let search = ''
  for (const key of queryKeys) {
    const value = query[key]
    if (value === undefined) continue
    search += `${search ? '&' : '?'}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
  }
  return path + search
}
