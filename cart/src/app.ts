// The cart app: carts over HTTP, products looked up in the catalog (through the same resilient
// upstream client as the gateway: round-robin over catalog instances, ejection, retried reads).
// Never listens; index.ts does.

import { createServiceBase } from '@shopstack/lib/app-kit'
import type { Logger } from '@shopstack/lib/logger'
import type { Metrics } from '@shopstack/lib/metrics'
import { createSimulation, type Simulation } from '@shopstack/lib/simulation'
import type { Tracing } from '@shopstack/lib/tracing'
import { createUpstream, createUpstreamMetrics } from '@shopstack/lib/upstream'
import { createCartRoutes } from './carts/routes.ts'
import type { CartStore } from './carts/store.ts'
import { createCatalogClient } from './catalog-client.ts'

export interface CartAppOptions {
  store: CartStore
  /** One catalog instance, or `catalogUrls` for several. */
  catalogUrl?: string
  catalogUrls?: readonly string[]
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  simulation?: Simulation
  version?: string
  upstreamTimeoutMs?: number
  fetch?: (request: Request) => Promise<Response>
  isDraining?: () => boolean
  maxBodyBytes?: number
}

export function createApp(options: CartAppOptions) {
  const {
    store,
    catalogUrl,
    catalogUrls = catalogUrl ? [catalogUrl] : [],
    simulation = createSimulation(),
    version = '0.1.0',
    upstreamTimeoutMs,
    fetch,
    ...rest
  } = options
  const { metrics, tracing } = rest
  const upstream = createUpstream({
    name: 'catalog',
    baseUrls: catalogUrls,
    tracing,
    upstreamMetrics: createUpstreamMetrics(metrics),
    timeoutMs: upstreamTimeoutMs,
    // Half the overall time per try leaves room to retry a read on another instance.
    perTryTimeoutMs:
      upstreamTimeoutMs === undefined ? undefined : Math.max(1, Math.floor(upstreamTimeoutMs / 2)),
    fetch,
  })
  return createServiceBase({
    service: 'cart',
    version,
    description: 'Carts: add products, read, remove a line, clear.',
    checks: { database: () => store.check() },
    ...rest,
  }).use(createCartRoutes({ store, catalog: createCatalogClient(upstream), simulation, tracing, metrics }))
}
