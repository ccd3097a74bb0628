// The console as Bun.serve routes: the OTLP/HTTP receiver, the JSON API of console/README.md and the
// pages. `createConsole` never listens; index.ts does. Each part is a parameter, so a test builds a
// console over an in-memory store, a scraper of its own targets and a fake load runner.

import { createReceiver } from './receiver.ts'
import type { LogQuery, Store, TraceQuery } from './store.ts'

/** What the API needs of the scraper (scraper.ts). */
export interface MetricsSource {
  status(): unknown[]
  red(query: { service?: string; route?: string; window_s?: number; step_s?: number }): unknown
}

/** Bun.serve route handlers, as `routes` takes them. */
export type Handler = (request: Bun.BunRequest) => Response | Promise<Response>
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
export type Routes = Record<string, Handler | Partial<Record<Method, Handler>> | Response | Bun.HTMLBundle>

export interface ConsoleOptions {
  store: Store
  metrics?: MetricsSource
  /** The Jaeger-shaped trace (jaeger.ts), undefined when the store has no span of it. */
  jaegerTrace?: (traceId: string, store: Store) => unknown | undefined
  /** More routes under /api: the load generator's and the faults proxy's. */
  apiRoutes?: Routes
  /** The pages (ui/routes.ts); left out by tests that only use the API. */
  pages?: Routes
  maxBodyBytes?: number
  now?: () => number
}

/** A refusal of a query parameter, answered 400 with the parameter named in words. */
class BadParameter extends Error {}

export function problem(status: number, title: string, detail: string): Response {
  return Response.json(
    { title, status, detail },
    { status, headers: { 'content-type': 'application/problem+json' } },
  )
}

/** Reads a query parameter as a number within bounds; absent or empty is undefined. */
function numberParam(url: URL, name: string, min: number, max: number, whole = false): number | undefined {
  const raw = url.searchParams.get(name)
  if (raw === null || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
    const kind = whole ? 'a whole number' : 'a number'
    throw new BadParameter(`${name} must be ${kind} from ${min} to ${max}, not "${raw}"`)
  }
  return n
}

function textParam(url: URL, name: string, maxLength = 256): string | undefined {
  const raw = url.searchParams.get(name)?.trim()
  if (!raw) return undefined
  if (raw.length > maxLength) throw new BadParameter(`${name} must be at most ${maxLength} characters`)
  return raw
}

const TRACE_ID = /^[0-9a-f]{32}$/i
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }
const DAY_S = 86_400

function traceQuery(url: URL): TraceQuery {
  const query: TraceQuery = {}
  const service = textParam(url, 'service')
  const route = textParam(url, 'route')
  const traceId = textParam(url, 'trace_id')
  const status = textParam(url, 'status')
  if (service) query.service = service
  if (route) query.route = route
  if (traceId) {
    if (!TRACE_ID.test(traceId)) throw new BadParameter('trace_id must be 32 hexadecimal characters')
    query.trace_id = traceId.toLowerCase()
  }
  if (status === 'ok' || status === 'error') query.status = status
  else if (status !== undefined) {
    const code = Number(status)
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      throw new BadParameter(
        `status must be ok, error or an HTTP status code from 100 to 599, not "${status}"`,
      )
    }
    query.status = code
  }
  const minDuration = numberParam(url, 'min_duration_ms', 0, 3_600_000)
  const start = numberParam(url, 'start_ms', 0, Number.MAX_SAFE_INTEGER)
  const end = numberParam(url, 'end_ms', 0, Number.MAX_SAFE_INTEGER)
  const limit = numberParam(url, 'limit', 1, 500, true)
  if (minDuration !== undefined) query.min_duration_ms = minDuration
  if (start !== undefined) query.start_ms = start
  if (end !== undefined) query.end_ms = end
  if (limit !== undefined) query.limit = limit
  return query
}

function logQuery(url: URL): LogQuery {
  const query: LogQuery = {}
  const service = textParam(url, 'service')
  const level = textParam(url, 'level')
  const q = textParam(url, 'q')
  const traceId = textParam(url, 'trace_id')
  if (service) query.service = service
  if (level !== undefined) {
    const n = LEVELS[level.toLowerCase()]
    if (n === undefined) {
      throw new BadParameter(`level must be one of ${Object.keys(LEVELS).join(', ')}, not "${level}"`)
    }
    query.level = n
  }
  if (q) query.q = q
  if (traceId) {
    if (!TRACE_ID.test(traceId)) throw new BadParameter('trace_id must be 32 hexadecimal characters')
    query.trace_id = traceId.toLowerCase()
  }
  const since = numberParam(url, 'since_ms', 0, Number.MAX_SAFE_INTEGER)
  const until = numberParam(url, 'until_ms', 0, Number.MAX_SAFE_INTEGER)
  const after = numberParam(url, 'after_id', 0, Number.MAX_SAFE_INTEGER, true)
  const limit = numberParam(url, 'limit', 1, 1000, true)
  if (since !== undefined) query.since_ms = since
  if (until !== undefined) query.until_ms = until
  if (after !== undefined) query.after_id = after
  if (limit !== undefined) query.limit = limit
  return query
}

/** A GET handler over the request's URL; a BadParameter becomes a 400 problem naming it. */
function get(work: (url: URL, params: Record<string, string>) => unknown): Handler {
  return (request) => {
    try {
      const answer = work(new URL(request.url), request.params)
      return answer instanceof Response ? answer : Response.json(answer)
    } catch (error) {
      if (error instanceof BadParameter) return problem(400, 'Bad Request', error.message)
      throw error
    }
  }
}

export function createConsole(options: ConsoleOptions) {
  const { store, metrics, jaegerTrace, apiRoutes = {}, pages = {}, maxBodyBytes, now = Date.now } = options
  const receiver = createReceiver(maxBodyBytes === undefined ? { store } : { store, maxBodyBytes })

  const routes: Routes = {
    ...pages,
    // As every service has them, so `bun run restart console` and orchestrators can wait for it.
    '/livez': get(() => ({ status: 'ok' })),
    '/healthz': get(() => ({ status: 'ok', spans: store.counts().spans })),
    '/v1/traces': { POST: receiver.traces },
    '/v1/logs': { POST: receiver.logs },
    '/api/status': get(() => ({
      ...store.counts(),
      retention: { max_spans: store.maxSpans, max_logs: store.maxLogs },
      database: store.path,
      targets: metrics?.status() ?? [],
    })),
    '/api/services': get(() => ({ services: store.services() })),
    '/api/traces': get((url) => ({ traces: store.searchTraces(traceQuery(url)) })),
    '/api/traces/:id': get((_url, params) => {
      const id = params.id ?? ''
      if (!TRACE_ID.test(id)) throw new BadParameter('a trace id is 32 hexadecimal characters')
      const trace = jaegerTrace?.(id.toLowerCase(), store)
      return trace ?? problem(404, 'Not Found', `no trace ${id} is stored (it may have been evicted)`)
    }),
    '/api/logs': get((url) => ({ logs: store.logs(logQuery(url)) })),
    '/api/service-map': get((url) => store.serviceMap(numberParam(url, 'window_s', 1, DAY_S) ?? 300, now())),
    '/api/metrics/red': get((url) => {
      const query: { service?: string; route?: string; window_s?: number; step_s?: number } = {}
      const service = textParam(url, 'service')
      const route = textParam(url, 'route')
      const windowS = numberParam(url, 'window_s', 10, DAY_S)
      const stepS = numberParam(url, 'step_s', 0, 3600)
      if (service) query.service = service
      if (route) query.route = route
      if (windowS !== undefined) query.window_s = windowS
      if (stepS !== undefined) query.step_s = stepS
      if (!metrics) return { step_s: 0, series: [], retries: [], exemplars: [] }
      try {
        return metrics.red(query)
      } catch (error) {
        // The scraper names the parameter (a step finer than its interval, say).
        if (error instanceof RangeError) throw new BadParameter(error.message)
        throw error
      }
    }),
    ...apiRoutes,
  }

  return {
    routes,
    /** Anything no route matched: a problem, never a page that is not there. */
    fetch(request: Request): Response {
      const { pathname } = new URL(request.url)
      return problem(404, 'Not Found', `nothing is served at ${pathname}`)
    },
    /** Answers a thrown error as a 500 problem; the details go to the console's own log. */
    error(error: Error): Response {
      console.error(JSON.stringify({ level: 'error', msg: 'console request failed', err: error.message }))
      return problem(500, 'Internal Server Error', 'the console could not answer; see its log')
    },
  }
}
