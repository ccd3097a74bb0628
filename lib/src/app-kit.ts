// The parts every service app starts with, in order: with TRACING_MODE=plugin (and an OTLP
// endpoint) @elysiajs/opentelemetry, then the service plugin (ids, limits, errors, metrics, logs,
// spans, /metrics), health endpoints, and the OpenAPI docs.

import { Elysia } from 'elysia'
import { createDocs } from './docs.ts'
import { createHealth, type HealthCheck } from './health.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import type { createOtelPlugin as CreateOtelPlugin } from './otel-plugin.ts'
import { createServicePlugin } from './service-plugin.ts'
import type { Tracing } from './tracing.ts'

export interface ServiceBaseOptions {
  service: string
  version: string
  description: string
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  checks?: Record<string, HealthCheck>
  isDraining?: () => boolean
  maxBodyBytes?: number
  bodyTimeoutMs?: number
}

export function createServiceBase(options: ServiceBaseOptions) {
  const { service, version, description, checks, isDraining, ...telemetry } = options
  // standardHostname: false makes Elysia find the path after "http://" rather than guessing the
  // host is at least 4 characters long (index 11): with `Host: a` it routed `/catalog?/admin/x`
  // as /admin/x while the URL's path was /catalog.
  const base = new Elysia({
    name: '@shopstack/service-base',
    seed: service,
    handler: { standardHostname: false },
  })
  if (telemetry.tracing.enabled && telemetry.tracing.mode === 'plugin') {
    // Loaded only in plugin mode: @elysiajs/opentelemetry pulls in @opentelemetry/sdk-node, which
    // costs the default mode start-up time and memory for nothing. Bun's synchronous require keeps
    // createServiceBase synchronous.
    const { createOtelPlugin } = require('./otel-plugin.ts') as { createOtelPlugin: typeof CreateOtelPlugin }
    base.use(createOtelPlugin({ service, tracing: telemetry.tracing }))
  }
  return base
    .use(createServicePlugin({ service, ...telemetry }))
    .use(createHealth({ service, checks, isDraining }))
    .use(createDocs({ service, version, description }))
}
