// The catalog app: products over HTTP. Never listens; index.ts does.

import { createServiceBase } from '@shopstack/lib/app-kit'
import type { Logger } from '@shopstack/lib/logger'
import type { Metrics } from '@shopstack/lib/metrics'
import { createSimulation, type Simulation } from '@shopstack/lib/simulation'
import type { Tracing } from '@shopstack/lib/tracing'
import { createProductRoutes } from './products/routes.ts'
import type { ProductStore } from './products/store.ts'

export interface CatalogAppOptions {
  store: ProductStore
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  simulation?: Simulation
  version?: string
  isDraining?: () => boolean
  maxBodyBytes?: number
}

export function createApp(options: CatalogAppOptions) {
  const { store, simulation = createSimulation(), version = '0.1.0', ...rest } = options
  return createServiceBase({
    service: 'catalog',
    version,
    description: 'Products: list, filter and read.',
    checks: { database: () => store.check() },
    ...rest,
  }).use(createProductRoutes({ store, simulation, tracing: rest.tracing }))
}
