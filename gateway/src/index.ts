// Gateway process entry: read the environment, listen, stop gracefully.

import { createLifecycle, createTelemetry, loadConfigOrExit, serve } from '@shopstack/lib/server'
import { createApp } from './app.ts'

const config = loadConfigOrExit('gateway')
const telemetry = createTelemetry(config)
const lifecycle = createLifecycle()
const app = createApp({
  catalogUrls: config.catalogUrls,
  cartUrls: config.cartUrls,
  ...telemetry,
  version: config.version,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  isDraining: lifecycle.isDraining,
  maxBodyBytes: config.maxBodyBytes,
})

serve(app, { config, telemetry, lifecycle })
