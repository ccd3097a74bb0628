// The SERVER span of every request, through the one Tracing interface (telemetry/tracing.ts): it
// continues the caller's W3C trace context, is answered in `traceresponse`, and is completed with
// the route and status once the response is sent. Probes (unless TRACE_PROBES) get a span that only
// carries ids, so no trace is made per probe per service every few seconds.

import { Elysia } from 'elysia'
import { isProbeUrl } from '../health.ts'
import type { Tracing } from '../telemetry/tracing.ts'
import { stateOf } from './request-context.ts'

export function serverSpan(options: { service: string; tracing: Tracing }) {
  const { service, tracing } = options
  return (
    new Elysia({ name: '@shopstack/server-span', seed: service })
      // No `return` in this hook: Elysia wraps a hook whose source has one to check for an early response.
      .onRequest(function startServerSpan({ request, set }) {
        const state = stateOf(request)
        if (state) {
          const parent = tracing.extract(request.headers)
          state.quiet = !tracing.traceProbes && isProbeUrl(request.url)
          // With tracing off the span, too, carries ids only (flag 00): the caller's trace is still
          // continued, answered in `traceresponse` and written in the log line.
          const span = state.quiet
            ? tracing.startUnrecorded(parent)
            : tracing.startServerSpan(request, parent)
          state.span = span
          const { traceId, spanId, traceFlags } = span.spanContext()
          set.headers.traceresponse = `00-${traceId}-${spanId}-0${traceFlags & 1}`
        }
      })
      .onAfterResponse({ as: 'global' }, function endServerSpan({ request }) {
        const state = stateOf(request)
        // Nothing to write on a span that records nothing (tracing off, or not sampled).
        if (!state?.span?.isRecording()) return
        tracing.endServerSpan(state.span, request, state.route, state.status, state.requestId, state.error)
      })
  )
}
