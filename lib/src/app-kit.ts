// The parts every service app starts with, in order: the service plugin (ids, limits, errors,
// metrics, logs, spans, /metrics), health endpoints, and the OpenAPI docs.

import { Elysia } from 'elysia'
import { createDocs } from './docs.ts'
import { createHealth, type HealthCheck } from './health.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
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
}

export function createServiceBase(options: ServiceBaseOptions) {
  const { service, version, description, checks, isDraining, ...telemetry } = options
  return new Elysia({ name: '@shopstack/service-base', seed: service })
    .use(createServicePlugin({ service, ...telemetry }))
    .use(createHealth({ service, checks, isDraining }))
    .use(createDocs({ service, version, description }))
}
