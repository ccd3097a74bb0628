// Gateway process entry: read the environment, listen, stop gracefully.

import { createFaults } from '@shopstack/lib/faults'
import { createLifecycle, loadConfigOrExit, serve } from '@shopstack/lib/service-process'
import { createTelemetry } from '@shopstack/lib/telemetry'
import { createApp } from './app.ts'

const config = loadConfigOrExit('gateway')
const telemetry = createTelemetry(config)
const lifecycle = createLifecycle()
const app = createApp({
  catalogUrls: config.catalogUrls,
  cartUrls: config.cartUrls,
  catalogDiscovery: config.catalogDiscovery,
  cartDiscovery: config.cartDiscovery,
  discoveryIntervalMs: config.discoveryIntervalMs,
  ...telemetry,
  version: config.version,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  healthCheckIntervalMs: config.healthCheckIntervalMs,
  retry: { ratio: config.retryBudgetRatio },
  isDraining: lifecycle.isDraining,
  maxBodyBytes: config.maxBodyBytes,
  bodyTimeoutMs: config.bodyTimeoutMs,
  faults: createFaults({ service: 'gateway', ...telemetry, upstreams: ['catalog', 'cart'] }),
  adminToken: config.adminToken,
  corsOrigins: config.corsOrigins,
})

serve(app, { config, telemetry, lifecycle })
