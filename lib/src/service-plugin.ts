// The plugin every ShopStack service mounts first. One place for what each request gets:
// - a request id (`x-request-id`, forwarded or created) and a SERVER span that continues the
//   caller's W3C trace context, with the trace id returned in `traceresponse`;
// - limits on what a request may send (413 for large bodies, 415 for non-JSON bodies);
// - RFC 9457 problem+json for every error, and 5xx details kept out of responses;
// - RED metrics labelled by route template, one JSON log line, and the span ended with
//   semantic-convention attributes — all in one afterResponse hook;
// - GET /metrics.
//
// Elysia keeps `set.status` at 200 when a handler returns a Response (the gateway does), so the
// status is read from the returned Response when there is one.
//
// With TRACING_MODE=plugin, @elysiajs/opentelemetry (mounted before this plugin) makes the SERVER
// span; this plugin then only picks that span up, so handlers' CLIENT spans, the log line and
// `traceresponse` name it, and adds what the plugin cannot know (the status of a returned Response,
// the request id).
//
// The hot path allocates little: metric label sets are built once per method+route+status and
// reused, the path comes from the URL string without `new URL()`, and a histogram exemplar (a
// trace id) is refreshed at most once a second per series and bucket — Prometheus keeps one per
// bucket and scrapes every few seconds, so writing one per request bought nothing.

import { Elysia, StatusMap } from 'elysia'
import { HttpError, PROBLEM_CONTENT_TYPE, problem } from './errors.ts'
import { isProbeUrl } from './health.ts'
import { createRequestLog, type Logger } from './telemetry/logger.ts'
import { DURATION_BUCKETS, type Metrics } from './telemetry/metrics.ts'
import { activeSpan, type Span, SpanKind, SpanStatusCode, type Tracing } from './telemetry/tracing.ts'
import { detailOf, fromValidationError } from './validation.ts'

export interface ServicePluginOptions {
  service: string
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  maxBodyBytes?: number
  /** Longest time a request body may take to arrive, from the handler's first read (408 past it). */
  bodyTimeoutMs?: number
  /** Deepest nesting of arrays and objects a JSON body may have. */
  maxJsonDepth?: number
  /**
   * The methods routed for a path, when it matches a route: a request with another method is then
   * a 405 with `Allow` (RFC 9110 §15.5.6), not a 404. createServiceBase gives it the app's routes.
   */
  allowedMethods?: (path: string) => readonly string[] | undefined
  /** Clock in milliseconds (performance.now by default). */
  now?: () => number
}

/** What a handler can read about the request it serves. */
export interface RequestTelemetry {
  readonly requestId: string
  /**
   * The SERVER span: the parent of spans the handler starts. With tracing off (or a trace the
   * sampler left out) it records nothing and only carries the trace context (flag 00).
   */
  readonly span: Span | undefined
}

interface RequestState extends RequestTelemetry {
  readonly start: number
  /** A probe (health.ts PROBE_PATHS) with TRACE_PROBES off: no span, its log line at debug. */
  readonly quiet: boolean
  error?: unknown
}

// The request's state rides on the Request object under a private symbol: no registry to leak,
// and handlers in any plugin reach it through telemetryOf(request) without Elysia's derive.
const STATE = Symbol('shopstack.request')
const BODY_TEXT = Symbol('shopstack.body-text')
type TaggedRequest = Request & { [STATE]?: RequestState; [BODY_TEXT]?: string }

/** The JSON text of a request's body as it arrived (before Elysia drops unknown properties). */
export function bodyTextOf(request: Request): string | undefined {
  return (request as TaggedRequest)[BODY_TEXT]
}

/** The request id and SERVER span of a request that went through the service plugin. */
export function telemetryOf(request: Request): RequestTelemetry {
  return (request as TaggedRequest)[STATE] ?? { requestId: '', span: undefined }
}

/** Route label for requests that matched no route: one series, however many paths are tried. */
export const UNMATCHED_ROUTE = 'unmatched'

/** The plugin-mode SERVER span, captured before any lifecycle hook span becomes the active one. */
const SERVER_SPAN = Symbol('shopstack.server-span')
type PluginTaggedRequest = Request & { [SERVER_SPAN]?: Span }

/** Label sets kept per method+route+status; past this many, new ones are built per request. */
const MAX_CACHED_SERIES = 1000
/** How often a series' exemplar is refreshed, in milliseconds. */
const EXEMPLAR_INTERVAL_MS = 1000

interface Series {
  readonly labels: { readonly method: string; readonly endpoint: string; readonly status: string }
  /** When each histogram bucket's exemplar was last written: per bucket, so a rare slow request
   * still leaves its trace id in the slow bucket (the one a p99 panel links from). */
  readonly exemplarAt: Float64Array
}

/** Index of the histogram bucket (DURATION_BUCKETS, then +Inf) a duration falls into. */
function bucketOf(seconds: number): number {
  let i = 0
  while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++
  return i
}

/** The path of a request URL (`http://host/a/b?x` -> `/a/b`) without parsing the whole URL. */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  const query = url.indexOf('?', start)
  const hash = url.indexOf('#', start)
  const end = query === -1 ? (hash === -1 ? url.length : hash) : hash === -1 ? query : Math.min(query, hash)
  return url.slice(start, end)
}

const DECODER = new TextDecoder()
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i
const REQUEST_ID = /^[\w.:-]{1,128}$/
/** scheme://authority/ — what Bun gives for a request whose target and Host it could parse. */
const ABSOLUTE_URL = /^https?:\/\/[^/?#]*\//

export function createServicePlugin(options: ServicePluginOptions) {
  const {
    service,
    logger,
    metrics,
    tracing,
    maxBodyBytes = 16_384,
    bodyTimeoutMs = 10_000,
    maxJsonDepth = 32,
    allowedMethods,
    now = () => performance.now(),
  } = options
  const pluginMode = tracing.enabled && tracing.mode === 'plugin'
  const logRequest = createRequestLog(logger)
  const series = new Map<string, Series>()

  function seriesOf(method: string, endpoint: string, status: number): Series {
    const key = `${method} ${status} ${endpoint}`
    let found = series.get(key)
    if (!found) {
      found = {
        labels: Object.freeze({ method, endpoint, status: String(status) }),
        exemplarAt: new Float64Array(DURATION_BUCKETS.length + 1).fill(-Infinity),
      }
      if (series.size < MAX_CACHED_SERIES) series.set(key, found)
    }
    return found
  }

  function beginRequest(request: Request): RequestState {
    const incomingId = request.headers.get('x-request-id')
    const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : crypto.randomUUID()
    // Probes (unless TRACE_PROBES) get a span that only carries ids: traceresponse and the log
    // line still name a trace id, and no trace is made per probe per service every few seconds.
    const quiet = !tracing.traceProbes && isProbeUrl(request.url)
    let span: Span | undefined
    if (pluginMode) span = (request as PluginTaggedRequest)[SERVER_SPAN]
    if (!span) {
      const parent = tracing.extract(request.headers)
      // With tracing off startSpan, too, gives a span that carries ids only (flag 00): the
      // caller's trace is still continued, answered in `traceresponse` and written in the log line.
      span = quiet
        ? tracing.startUnrecorded(parent)
        : pluginMode
          ? undefined
          : tracing.startSpan(request.method, SpanKind.SERVER, parent)
    }
    const state: RequestState = { start: now(), requestId, span, quiet }
    ;(request as TaggedRequest)[STATE] = state
    return state
  }

  function stateOf(request: Request): RequestState {
    return (request as TaggedRequest)[STATE] ?? beginRequest(request)
  }

  const plugin = new Elysia({ name: '@shopstack/service-plugin', seed: service })
  if (pluginMode) {
    // Trace listeners run when a request starts, before any hook: the active span is still the
    // plugin's root span (it later makes each hook's span the active one).
    plugin.trace({ as: 'global' }, function captureServerSpan({ context }) {
      const span = activeSpan()
      if (span) (context.request as PluginTaggedRequest)[SERVER_SPAN] = span
    })
  }
  return plugin
    .onRequest(function startRequest({ request, set }) {
      const state = beginRequest(request)
      set.headers['x-request-id'] = state.requestId
      if (state.span) {
        const { traceId, spanId, traceFlags } = state.span.spanContext()
        set.headers.traceresponse = `00-${traceId}-${spanId}-0${traceFlags & 1}`
      }
      // With an empty or malformed Host, Bun hands over the bare request target ("/catalog?/x")
      // as the URL; every path reading here and in Elysia assumes an absolute URL, so such a
      // request is refused rather than routed on one reading and forwarded on another.
      if (!ABSOLUTE_URL.test(request.url)) {
        throw new HttpError(400, 'The request target or its Host header cannot be parsed')
      }
      // Refuse what no route here accepts before the body is read. (An onParse hook would see
      // only routes with bodies, but Elysia wraps anything it throws into a 400 ParseError.)
      if (!BODY_METHODS.has(request.method)) return
      const length = Number(request.headers.get('content-length') ?? 0)
      if (length > maxBodyBytes) {
        throw new HttpError(413, `Request body is ${length} bytes; the limit is ${maxBodyBytes}`)
      }
      const type = request.headers.get('content-type') ?? ''
      const declared = request.headers.get('content-length')
      const hasBody = declared === null ? request.body !== null : length > 0
      if (hasBody && !JSON_TYPE.test(type)) {
        throw new HttpError(415, `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`)
      }
    })
    .onParse({ as: 'global' }, async function boundedJson({ request }) {
      // Every body here is JSON (startRequest refused other types). Read it ourselves, so the
      // limit holds whatever the framing — Content-Length, checked above, or chunked, which
      // declares no length — the body has a deadline, and its nesting a bound. What this throws,
      // Elysia wraps in a ParseError; renderProblem unwraps it.
      // DELETE and the like: no route here reads their body, so it is left unread.
      if (!BODY_METHODS.has(request.method) || request.body === null) return
      const text = await readBody(request, maxBodyBytes, bodyTimeoutMs)
      ;(request as TaggedRequest)[BODY_TEXT] = text
      if (text === '') return
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        throw new HttpError(400, 'The request body is not valid JSON')
      }
      if (tooDeep(value, maxJsonDepth)) {
        throw new HttpError(400, `The request body nests deeper than ${maxJsonDepth} levels`)
      }
      return value
    })
    .onError({ as: 'global' }, function renderProblem({ code, error: thrown, request, set, path }) {
      const state = stateOf(request)
      // A refusal thrown while parsing the body arrives wrapped in Elysia's ParseError.
      const error = code === 'PARSE' && thrown.cause instanceof HttpError ? thrown.cause : thrown
      let body: ReturnType<typeof problem>
      if (error instanceof HttpError) {
        body = problem(error.status, error.detail, error.extensions)
        Object.assign(set.headers, error.headers)
        if (error.status >= 500) state.error = error
      } else if (code === 'VALIDATION' && (error as { type?: string }).type === 'response') {
        // A handler answered what its own schema refuses: our bug, not the client's.
        state.error = error
        body = problem(500, 'The server could not handle this request; it has been logged')
      } else if (code === 'VALIDATION') {
        const errors = fromValidationError(error)
        body = problem(422, detailOf(errors), { errors })
      } else if (code === 'PARSE') {
        body = problem(400, 'The request body is not valid JSON')
      } else if (code === 'NOT_FOUND') {
        const allow = allowedMethods?.(path)
        if (allow?.length) {
          set.headers.allow = allow.join(', ')
          body = problem(405, `${request.method} is not allowed on ${path}; it takes ${allow.join(', ')}`)
        } else {
          body = problem(404, `No route for ${request.method} ${path}`)
        }
      } else {
        state.error = error
        body = problem(500, 'The server could not handle this request; it has been logged')
      }
      set.status = body.status
      set.headers['content-type'] = PROBLEM_CONTENT_TYPE
      return JSON.stringify(body)
    })
    .onAfterResponse({ as: 'global' }, function observe(ctx) {
      const { request, set, route } = ctx
      const state = (request as TaggedRequest)[STATE]
      if (!state) return
      const response = (ctx as { responseValue?: unknown }).responseValue
      const status = response instanceof Response ? response.status : statusCode(set.status)
      const endpoint = route || UNMATCHED_ROUTE
      const end = now()
      const seconds = (end - state.start) / 1000
      const entry = seriesOf(request.method, endpoint, status)
      const labels = entry.labels
      metrics.httpRequests.inc(labels)

      const span = state.span
      if (span) {
        const { traceId, spanId, traceFlags } = span.spanContext()
        const bucket = bucketOf(seconds)
        // An exemplar links to a trace, so only a recorded (sampled) one gives it.
        if ((traceFlags & 1) === 1 && end - (entry.exemplarAt[bucket] as number) >= EXEMPLAR_INTERVAL_MS) {
          entry.exemplarAt[bucket] = end
          // prom-client types exemplar labels as the metric's own label names; they are free-form.
          const exemplarLabels = { trace_id: traceId } as Record<string, string>
          metrics.httpDuration.observe({ labels, value: seconds, exemplarLabels })
        } else {
          metrics.httpDuration.observe({ labels, value: seconds })
        }
        // Nothing to write on a span that records nothing (tracing off, or not sampled): skipping
        // it keeps the off mode to the ids alone.
        if (span.isRecording()) finishSpan(span, request, endpoint, status, state)
        log(status, endpoint, seconds, state, request, traceId, spanId)
      } else {
        metrics.httpDuration.observe({ labels, value: seconds })
        log(status, endpoint, seconds, state, request)
      }
    })
    .get('/metrics', ({ request }) => metrics.scrape(request.headers.get('accept')), {
      detail: {
        summary: 'Prometheus metrics (OpenMetrics with exemplars when asked)',
        tags: ['operations'],
        responses: {
          200: {
            description: 'Prometheus text, or OpenMetrics when the Accept header asks for it',
            content: {
              'text/plain': { schema: { type: 'string' } },
              'application/openmetrics-text': { schema: { type: 'string' } },
            },
          },
        },
      },
    })

  function finishSpan(span: Span, request: Request, endpoint: string, status: number, state: RequestState) {
    if (!pluginMode) {
      span.updateName(`${request.method} ${endpoint}`)
      span.setAttributes({
        'http.request.method': request.method,
        'http.route': endpoint,
        'url.path': pathOf(request.url),
      })
    }
    // In plugin mode the plugin ends its span after this hook; it reads the status from
    // `set.status`, which is wrong when a handler returned a Response, so ours wins.
    span.setAttribute('http.response.status_code', status)
    span.setAttribute('shopstack.request_id', state.requestId)
    if (status >= 500) {
      if (state.error instanceof Error) span.recordException(state.error)
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) })
    }
    if (!pluginMode) span.end()
  }

  function log(
    status: number,
    route: string,
    seconds: number,
    state: RequestState,
    request: Request,
    traceId?: string,
    spanId?: string,
  ) {
    logRequest(
      {
        method: request.method,
        route,
        status,
        duration_ms: Math.round(seconds * 1e6) / 1000,
        request_id: state.requestId,
        trace_id: traceId,
        span_id: spanId,
        ...(state.error ? { err: state.error } : {}),
      },
      state.quiet,
    )
  }
}

/**
 * A request body as text: at most `limit` bytes (413 past it), arrived within `timeoutMs` of the
 * first read (408 past it; the connection is closed, as the client is still sending).
 */
export async function readBody(request: Request, limit: number, timeoutMs: number): Promise<string> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(408, `The request body did not arrive within ${timeoutMs} ms`, undefined, {
            headers: { connection: 'close' },
          }),
        ),
      timeoutMs,
    )
  })
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline])
      if (done) break
      size += value.byteLength
      if (size > limit) {
        throw new HttpError(413, `Request body is over ${limit} bytes, the limit`, undefined, {
          headers: { connection: 'close' },
        })
      }
      chunks.push(value)
    }
  } catch (error) {
    reader.cancel().catch(() => {})
    throw error
  } finally {
    clearTimeout(timer)
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
  return DECODER.decode(bytes)
}

/** Does `value` nest arrays and objects deeper than `max`? Stops looking at max + 1. */
function tooDeep(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  for (const key in value) {
    if (tooDeep((value as Record<string, unknown>)[key], max - 1)) return true
  }
  return false
}

function statusCode(status: number | string | undefined): number {
  if (typeof status === 'number') return status
  if (status === undefined) return 200
  return (StatusMap as Record<string, number>)[status] ?? 500
}
