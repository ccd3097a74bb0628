// The cart app: carts over HTTP, products looked up in the catalog (through the same resilient
// upstream client as the gateway: round-robin over catalog instances, ejection, retried reads).
// Never listens; index.ts does.

import { createAdminRoutes } from '@shopstack/lib/admin'
import type { DiscoveryTarget } from '@shopstack/lib/config'
import type { Resolver } from '@shopstack/lib/discovery'
import { createEdge } from '@shopstack/lib/edge'
import { createFaults, type Faults } from '@shopstack/lib/faults'
import { createServiceBase } from '@shopstack/lib/service-base'
import type { Simulation } from '@shopstack/lib/simulation'
import type { Logger, Metrics, Tracing } from '@shopstack/lib/telemetry'
import { createUpstream, type RetryPolicy } from '@shopstack/lib/upstream'
import { createUpstreamMetrics } from '@shopstack/lib/upstream-metrics'
import { createCartRoutes } from './carts/routes.ts'
import type { CartStore } from './carts/store.ts'
import { createCatalogClient } from './catalog-client.ts'

export interface CartAppOptions {
  store: CartStore
  /** One catalog instance, or `catalogUrls` for several. */
  catalogUrl?: string
  catalogUrls?: readonly string[]
  /** Catalog instances found by DNS (a headless Service); `catalogUrls` until the first lookup. */
  catalogDiscovery?: DiscoveryTarget
  /** How often the discovered name is resolved again (ms). */
  discoveryIntervalMs?: number
  /** DNS lookups for discovery (tests inject their own). */
  resolve?: Resolver
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  /** Simulated database behaviour and injected faults; none by default. */
  faults?: Faults
  /** Overrides the faults' database simulation (tests inject their own dice). */
  simulation?: Simulation
  /** Bearer token for /admin/faults. */
  adminToken?: string
  version?: string
  upstreamTimeoutMs?: number
  /** Readiness check of every catalog instance on this interval (ms); off when unset or 0. */
  healthCheckIntervalMs?: number
  /** Retries of catalog calls and their budget (RETRY_BUDGET_RATIO). */
  retry?: RetryPolicy
  fetch?: (request: Request) => Promise<Response>
  isDraining?: () => boolean
  maxBodyBytes?: number
  /** Longest time a request body may take to arrive (408 past it). */
  bodyTimeoutMs?: number
}

export function createApp(options: CartAppOptions) {
  const {
    store,
    catalogUrl,
    catalogUrls = catalogUrl ? [catalogUrl] : [],
    faults: givenFaults,
    simulation: givenSimulation,
    adminToken,
    version = '0.1.0',
    upstreamTimeoutMs,
    healthCheckIntervalMs,
    retry,
    catalogDiscovery,
    discoveryIntervalMs,
    resolve,
    fetch,
    ...rest
  } = options
  const { metrics, tracing } = rest
  const faults = givenFaults ?? createFaults({ service: 'cart', metrics, logger: rest.logger })
  const simulation = givenSimulation ?? faults.simulation
  const upstream = createUpstream({
    name: 'catalog',
    baseUrls: catalogUrls,
    tracing,
    upstreamMetrics: createUpstreamMetrics(metrics),
    timeoutMs: upstreamTimeoutMs,
    // Half the overall time per try leaves room to retry a read on another instance.
    perTryTimeoutMs:
      upstreamTimeoutMs === undefined ? undefined : Math.max(1, Math.floor(upstreamTimeoutMs / 2)),
    retry,
    healthCheck: healthCheckIntervalMs ? { intervalMs: healthCheckIntervalMs } : undefined,
    discovery: catalogDiscovery && { ...catalogDiscovery, intervalMs: discoveryIntervalMs, resolve },
    logger: rest.logger,
    fetch,
  })
  return (
    createServiceBase({
      service: 'cart',
      version,
      description: 'Carts: add products, read, remove a line, clear.',
      checks: { database: () => store.check(), faults: faults.readiness },
      ...rest,
    })
      // The gateway's security headers on direct answers too (the port is reachable); no CORS.
      .use(createEdge({ origins: [] }))
      .use(faults.plugin())
      .use(createAdminRoutes({ faults, token: adminToken }))
      .use(createCartRoutes({ store, catalog: createCatalogClient(upstream), simulation, tracing, metrics }))
      .onStop(function stopHealthChecksAndDiscovery() {
        upstream.close()
      })
  )
}
