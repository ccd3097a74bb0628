// What the request plugins share about one request, kept on the Request object under a private
// symbol: no registry to leak, and handlers in any plugin reach it through telemetryOf(request)
// without Elysia's derive. The requestContext plugin is mounted first: it starts the clock and,
// once the response is sent, settles the outcome (status, route, duration) once for the plugins
// after it (server span, RED metrics, request log).

import { Elysia, StatusMap } from 'elysia'
import type { Span } from '../telemetry/tracing.ts'

/** What a handler can read about the request it serves. */
export interface RequestTelemetry {
  readonly requestId: string
  /**
   * The SERVER span: the parent of spans the handler starts. With tracing off (or a trace the
   * sampler left out) it records nothing and only carries the trace context (flag 00).
   */
  readonly span: Span | undefined
}

export interface RequestState extends RequestTelemetry {
  requestId: string
  span: Span | undefined
  /** A probe (health.ts PROBE_PATHS) with TRACE_PROBES off: no span, its log line at debug. */
  quiet: boolean
  /** What failed, for the span and the log line (set by the error handler for a 5xx). */
  error: unknown
  /** The clock when the request arrived, in milliseconds. */
  readonly start: number
  /** Settled after the response: the status sent, the route template, the clock at the end. */
  status: number
  route: string
  end: number
}

/** Route label for requests that matched no route: one series, however many paths are tried. */
export const UNMATCHED_ROUTE = 'unmatched'

const STATE = Symbol('shopstack.request')
type TaggedRequest = Request & { [STATE]?: RequestState }

/** The request id and SERVER span of a request that went through the request plugins. */
export function telemetryOf(request: Request): RequestTelemetry {
  return (request as TaggedRequest)[STATE] ?? NONE
}
const NONE: RequestTelemetry = Object.freeze({ requestId: '', span: undefined })

/** The state of a request the requestContext plugin has seen (undefined for any other). */
export function stateOf(request: Request): RequestState | undefined {
  return (request as TaggedRequest)[STATE]
}

export interface RequestContextOptions {
  service: string
  /** Clock in milliseconds (performance.now by default). */
  now?: () => number
}

export function requestContext(options: RequestContextOptions) {
  const { service, now = () => performance.now() } = options
  return new Elysia({ name: '@shopstack/request-context', seed: service })
    .onRequest(function beginRequest({ request }) {
      // Every field is set here, so each request's state has one shape.
      const state: RequestState = {
        requestId: '',
        span: undefined,
        quiet: false,
        error: undefined,
        start: now(),
        status: 0,
        route: UNMATCHED_ROUTE,
        end: 0,
      }
      ;(request as TaggedRequest)[STATE] = state
    })
    .onAfterResponse({ as: 'global' }, function settleRequest(ctx) {
      const state = (ctx.request as TaggedRequest)[STATE]
      if (!state) return
      // Elysia keeps `set.status` at 200 when a handler returns a Response (the gateway does), so
      // the status is read from the returned Response when there is one.
      const response = (ctx as { responseValue?: unknown }).responseValue
      state.status = response instanceof Response ? response.status : statusCode(ctx.set.status)
      state.route = ctx.route || UNMATCHED_ROUTE
      state.end = now()
    })
}

function statusCode(status: number | string | undefined): number {
  if (typeof status === 'number') return status
  if (status === undefined) return 200
  return (StatusMap as Record<string, number>)[status] ?? 500
}
