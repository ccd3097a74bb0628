// An HTTP client for one upstream service, on Bun's native fetch (kept-alive connections).
// Bun's fetch is not instrumented by OpenTelemetry, so this makes the CLIENT span and injects the
// W3C `traceparent` itself. Every call has a timeout; a refused connection, a reset or a timeout
// becomes an UpstreamError (502 / 503 / 504) that names the upstream, never a hang or a bare 500.

import { UpstreamError } from './errors.ts'
import type { Metrics } from './metrics.ts'
import { recordFailure, type Span, SpanKind, SpanStatusCode, type Tracing } from './tracing.ts'

export type UpstreamMetrics = ReturnType<typeof createUpstreamMetrics>

/** Upstream RED metrics, created once per app and shared by all its upstreams. */
export function createUpstreamMetrics(metrics: Metrics) {
  return {
    requests: metrics.counter(
      'upstream_requests_total',
      'Requests sent to upstream services, by upstream, method, route and status (or error kind).',
      ['upstream', 'method', 'endpoint', 'status'],
    ),
    duration: metrics.histogram(
      'upstream_request_duration_seconds',
      'Duration of requests to upstream services in seconds.',
      ['upstream', 'method', 'endpoint', 'status'],
    ),
  }
}

export interface UpstreamOptions {
  /** Short name used in errors, metrics and spans ("catalog", "cart"). */
  name: string
  baseUrl: string
  tracing: Tracing
  upstreamMetrics?: UpstreamMetrics
  timeoutMs?: number
  fetch?: (input: Request) => Promise<Response>
}

export interface UpstreamRequest {
  method?: string
  /** Path and query on the upstream, starting with '/'. */
  path: string
  /** Route template for metric labels and span names ("/catalog/:id"). */
  route: string
  headers?: Headers
  body?: string | null
  /** The span this call is a child of (the caller's SERVER span). */
  parent?: Span
}

export type Upstream = ReturnType<typeof createUpstream>

export function createUpstream(options: UpstreamOptions) {
  const {
    name,
    baseUrl,
    tracing,
    upstreamMetrics,
    timeoutMs = 5000,
    fetch: doFetch = (r) => fetch(r),
  } = options
  const url = new URL(baseUrl)
  const peer = { 'server.address': url.hostname, 'server.port': Number(url.port) || 80 }

  return {
    name,
    baseUrl,
    async request(call: UpstreamRequest): Promise<Response> {
      const { method = 'GET', path, route, headers = new Headers(), body, parent } = call
      const started = performance.now()
      let span: Span | undefined
      if (tracing.enabled && parent) {
        span = tracing.startSpan(`${method} ${route}`, SpanKind.CLIENT, parent, {
          'http.request.method': method,
          'url.full': baseUrl + path,
          'http.route': route,
          'shopstack.upstream': name,
          ...peer,
        })
        tracing.inject(span, headers)
      }
      let status = 'error'
      try {
        const response = await doFetch(
          new Request(baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) }),
        )
        status = String(response.status)
        span?.setAttribute('http.response.status_code', response.status)
        if (response.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message: status })
        return response
      } catch (error) {
        const failure = toUpstreamError(name, error, timeoutMs)
        status = failure.status === 504 ? 'timeout' : 'unreachable'
        if (span) recordFailure(span, error, failure.detail)
        throw failure
      } finally {
        span?.end()
        if (upstreamMetrics) {
          const labels = { upstream: name, method, endpoint: route, status }
          upstreamMetrics.requests.inc(labels)
          upstreamMetrics.duration.observe(labels, (performance.now() - started) / 1000)
        }
      }
    },
  }
}

function toUpstreamError(name: string, error: unknown, timeoutMs: number): UpstreamError {
  const e = error as { name?: string; code?: string }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new UpstreamError(504, name, `The ${name} service did not answer within ${timeoutMs} ms`, {
      cause: error,
    })
  }
  return new UpstreamError(502, name, `The ${name} service is unreachable`, { cause: error })
}
