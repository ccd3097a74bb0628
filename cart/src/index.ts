// Cart process entry: read the environment, open the store, listen, stop gracefully.

import { createLifecycle, createTelemetry, loadConfigOrExit, serve } from '@shopstack/lib/server'
import { createSimulation } from '@shopstack/lib/simulation'
import { createApp } from './app.ts'
import { createCartStore } from './carts/store.ts'

const config = loadConfigOrExit('cart')
const telemetry = createTelemetry(config)
const lifecycle = createLifecycle()
const store = createCartStore({ path: config.databasePath })
const app = createApp({
  store,
  catalogUrl: config.catalogUrl,
  ...telemetry,
  simulation: createSimulation({ ...config.simulation, faults: telemetry.metrics.simulatedFaults }),
  version: config.version,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  isDraining: lifecycle.isDraining,
  maxBodyBytes: config.maxBodyBytes,
})

serve(app, { config, telemetry, lifecycle, close: () => store.close() })
