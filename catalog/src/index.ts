// Catalog process entry: read the environment, open the store, listen, stop gracefully.

import { createFaults } from '@shopstack/lib/faults'
import { createLifecycle, loadConfigOrExit, serve } from '@shopstack/lib/service-process'
import { createTelemetry } from '@shopstack/lib/telemetry'
import { createApp } from './app.ts'
import { createProductStore } from './products/store.ts'

const config = loadConfigOrExit('catalog')
const telemetry = createTelemetry(config)
const lifecycle = createLifecycle()
const store = createProductStore({ path: config.databasePath })
const app = createApp({
  store,
  ...telemetry,
  faults: createFaults({ service: 'catalog', database: config.simulation, ...telemetry }),
  adminToken: config.adminToken,
  version: config.version,
  isDraining: lifecycle.isDraining,
  maxBodyBytes: config.maxBodyBytes,
  bodyTimeoutMs: config.bodyTimeoutMs,
})

serve(app, { config, telemetry, lifecycle, close: () => store.close() })
