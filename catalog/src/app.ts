// The catalog app: products over HTTP. Never listens; index.ts does.

import { createAdminRoutes } from '@shopstack/lib/admin'
import { createEdge } from '@shopstack/lib/edge'
import { createFaults, type Faults } from '@shopstack/lib/faults'
import { createServiceBase } from '@shopstack/lib/service-base'
import type { Logger, Metrics, Tracing } from '@shopstack/lib/telemetry'
import { createProductRoutes } from './products/routes.ts'
import type { ProductStore } from './products/store.ts'

export interface CatalogAppOptions {
  store: ProductStore
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  /** Simulated database behaviour and injected faults; none by default. */
  faults?: Faults
  /** Bearer token for /admin/faults. */
  adminToken?: string
  version?: string
  isDraining?: () => boolean
  maxBodyBytes?: number
  /** Longest time a request body may take to arrive (408 past it). */
  bodyTimeoutMs?: number
}

export function createApp(options: CatalogAppOptions) {
  const { store, version = '0.1.0', adminToken, ...rest } = options
  const faults =
    options.faults ?? createFaults({ service: 'catalog', metrics: rest.metrics, logger: rest.logger })
  return (
    createServiceBase({
      service: 'catalog',
      version,
      description: 'Products: list, filter and read.',
      checks: { database: () => store.check(), faults: faults.readiness },
      ...rest,
    })
      // The gateway's security headers on direct answers too (the port is reachable); no CORS.
      .use(createEdge({ origins: [] }))
      .use(faults.plugin())
      .use(createAdminRoutes({ faults, token: adminToken }))
      .use(createProductRoutes({ store, simulation: faults.simulation, tracing: rest.tracing }))
  )
}
