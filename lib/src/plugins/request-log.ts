// One JSON log line per request (telemetry/logger.ts writes it): method, route template, status,
// duration, request id and the SERVER span's ids; a 5xx at error with what failed, a probe at debug.

import { Elysia } from 'elysia'
import { createRequestLog, type Logger } from '../telemetry/logger.ts'
import { stateOf } from './request-context.ts'

export function requestLog(options: { service: string; logger: Logger }) {
  const { service, logger } = options
  const logRequest = createRequestLog(logger)
  return new Elysia({ name: '@shopstack/request-log', seed: service }).onAfterResponse(
    { as: 'global' },
    function logLine({ request }) {
      const state = stateOf(request)
      if (!state) return
      const context = state.span?.spanContext()
      logRequest(
        {
          method: request.method,
          route: state.route,
          status: state.status,
          duration_ms: Math.round(((state.end - state.start) / 1000) * 1e6) / 1000,
          request_id: state.requestId,
          trace_id: context?.traceId,
          span_id: context?.spanId,
          ...(state.error ? { err: state.error } : {}),
        },
        state.quiet,
      )
    },
  )
}
