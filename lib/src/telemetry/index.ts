// Telemetry, one part: a service's logger (logger.ts), Prometheus metrics (metrics.ts) and tracer
// (tracing.ts), built from the config in one call. Everything here is owned by the instances this
// returns: a test builds its own (../testing.ts), and close() releases timers and flushes.

import { otelServiceName } from '@shopstack/contracts/services'
import type { Config } from '../config.ts'
import { createLogger, type Logger } from './logger.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { countDroppedSpans } from './span-metrics.ts'
import { createTracing, type Tracing } from './tracing.ts'

export type { Logger } from './logger.ts'
export type { Metrics } from './metrics.ts'
export {
  inSpan,
  recordFailure,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracing,
} from './tracing.ts'

export interface Telemetry {
  logger: Logger
  metrics: Metrics
  tracing: Tracing
}

export function createTelemetry(config: Config): Telemetry {
  const metrics = createMetrics({ service: config.service })
  const logger = createLogger({ service: config.service, version: config.version, level: config.logLevel })
  const tracing = createTracing({
    warn: (fields, message) => logger.warn(fields, message),
    service: otelServiceName(config.service),
    version: config.version,
    environment: config.environment,
    endpoint: config.otlpEndpoint,
    headers: config.otlpHeaders,
    mode: config.tracingMode,
    sampling: config.sampling,
    traceProbes: config.traceProbes,
  })
  if (tracing.enabled) countDroppedSpans(metrics, tracing)
  return { logger, metrics, tracing }
}
