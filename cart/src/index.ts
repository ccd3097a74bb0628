// Cart process entry: read the environment, open the store (Redis when CART_STORE_URL is set,
// else the embedded SQLite file), listen, stop gracefully.

import { createFaults } from '@shopstack/lib/faults'
import { createLifecycle, loadConfigOrExit, serve } from '@shopstack/lib/service-process'
import { createTelemetry } from '@shopstack/lib/telemetry'
import { createApp } from './app.ts'
import { createRedisCartStore } from './carts/redis-store.ts'
import { createCartStore } from './carts/store.ts'

const config = loadConfigOrExit('cart')
const telemetry = createTelemetry(config)
const lifecycle = createLifecycle()
const store = config.cartStoreUrl
  ? createRedisCartStore({ url: config.cartStoreUrl })
  : createCartStore({ path: config.databasePath })
const app = createApp({
  store,
  catalogUrls: config.catalogUrls,
  catalogDiscovery: config.catalogDiscovery,
  discoveryIntervalMs: config.discoveryIntervalMs,
  ...telemetry,
  faults: createFaults({ service: 'cart', database: config.simulation, ...telemetry }),
  adminToken: config.adminToken,
  version: config.version,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  healthCheckIntervalMs: config.healthCheckIntervalMs,
  retry: { ratio: config.retryBudgetRatio },
  isDraining: lifecycle.isDraining,
  maxBodyBytes: config.maxBodyBytes,
  bodyTimeoutMs: config.bodyTimeoutMs,
})

serve(app, { config, telemetry, lifecycle, close: () => store.close() })
