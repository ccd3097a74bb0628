// The cart app: carts over HTTP, products looked up in the catalog. Never listens; index.ts does.

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
  catalogUrl: string
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
    simulation = createSimulation(),
    version = '0.1.0',
    upstreamTimeoutMs,
    fetch,
    ...rest
  } = options
  const { metrics, tracing } = rest
  const upstream = createUpstream({
    name: 'catalog',
    baseUrl: catalogUrl,
    tracing,
    upstreamMetrics: createUpstreamMetrics(metrics),
    timeoutMs: upstreamTimeoutMs,
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
