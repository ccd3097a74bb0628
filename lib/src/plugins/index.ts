// The request plugins every service mounts, in the order they must run (each is its own file):
// 1. requestContext — the clock, and the request's outcome settled once after the response;
// 2. requestId — `x-request-id`;  3. serverSpan — the SERVER span and `traceresponse`;
// 4. bodyLimits — 400/408/413/415 before a handler reads a body;  5. problemJson — every error;
// 6. redMetrics, 7. requestLog — after the response, from the settled outcome;  8. GET /metrics.

import { Elysia } from 'elysia'
import type { Logger } from '../telemetry/logger.ts'
import type { Metrics } from '../telemetry/metrics.ts'
import type { Tracing } from '../telemetry/tracing.ts'
import { type BodyLimitsOptions, bodyLimits } from './body-limits.ts'
import { metricsRoute } from './metrics-route.ts'
import { type ProblemJsonOptions, problemJson } from './problem-json.ts'
import { redMetrics } from './red-metrics.ts'
import { requestContext } from './request-context.ts'
import { requestId } from './request-id.ts'
import { requestLog } from './request-log.ts'
import { serverSpan } from './server-span.ts'

export { bodyTextOf } from './body-limits.ts'
export { type RequestTelemetry, telemetryOf, UNMATCHED_ROUTE } from './request-context.ts'

export interface RequestPluginsOptions extends BodyLimitsOptions, ProblemJsonOptions {
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  /** Clock in milliseconds (performance.now by default). */
  now?: () => number
}

export function requestPlugins(options: RequestPluginsOptions) {
  const { service } = options
  return new Elysia({ name: '@shopstack/request-plugins', seed: service })
    .use(requestContext(options))
    .use(requestId(options))
    .use(serverSpan(options))
    .use(bodyLimits(options))
    .use(problemJson(options))
    .use(redMetrics(options))
    .use(requestLog(options))
    .use(metricsRoute(options))
}
