// The console as Bun.serve routes: the OTLP/HTTP receiver, the JSON API of console/README.md and the
// pages. `createConsole` never listens; index.ts does. Each part is a parameter, so a test builds a
// console over an in-memory store, a scraper of its own targets and a fake load runner.
// Plain Bun.serve routes rather than Elysia, unlike the services: the pages are Bun HTML imports,
// which Bun.serve's `routes` bundle and serve, the receiver reads raw bodies with its own streaming
// limit, and the load API (loadtest) is Bun.serve routes already. Query parameters are checked
// below, each refusal a 400 problem naming the parameter in words.

import { sameSiteRoutes } from '@shopstack/lib/same-site'
import { createReceiver } from './receiver.ts'
import type { LogQuery, Store, TraceQuery } from './store.ts'

/** What the API needs of the scraper (scraper.ts). */
export interface MetricsSource {
  status(): { service: string }[]
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
  /**
   * Host names the console answers to besides loopback ones (the address it listens on, when that
   * is not a wildcard); `['*']` for any, when it listens on every interface.
   */
  allowedHosts?: readonly string[]
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

/** `trace_id`: 32 hexadecimal characters, in any case; answered in lower case. */
function traceIdParam(url: URL): string | undefined {
  const traceId = textParam(url, 'trace_id')
  if (traceId === undefined) return undefined
  if (!TRACE_ID.test(traceId)) throw new BadParameter('trace_id must be 32 hexadecimal characters')
  return traceId.toLowerCase()
}

/** `status`: ok, error, or the HTTP status code of the trace's root. */
function statusParam(url: URL): TraceQuery['status'] {
  const status = textParam(url, 'status')
  if (status === undefined || status === 'ok' || status === 'error') return status
  const code = Number(status)
  if (!Number.isInteger(code) || code < 100 || code > 599) {
    throw new BadParameter(`status must be ok, error or an HTTP status code from 100 to 599, not "${status}"`)
  }
  return code
}

/** `level`: a level's name, the lowest shown. */
function levelParam(url: URL): number | undefined {
  const level = textParam(url, 'level')
  if (level === undefined) return undefined
  const n = LEVELS[level.toLowerCase()]
  if (n === undefined) {
    throw new BadParameter(`level must be one of ${Object.keys(LEVELS).join(', ')}, not "${level}"`)
  }
  return n
}

// An absent parameter is an undefined field, which the store reads as "no condition".
const traceQuery = (url: URL): TraceQuery => ({
  service: textParam(url, 'service'),
  route: textParam(url, 'route'),
  trace_id: traceIdParam(url),
  status: statusParam(url),
  min_duration_ms: numberParam(url, 'min_duration_ms', 0, 3_600_000),
  start_ms: numberParam(url, 'start_ms', 0, Number.MAX_SAFE_INTEGER),
  end_ms: numberParam(url, 'end_ms', 0, Number.MAX_SAFE_INTEGER),
  limit: numberParam(url, 'limit', 1, 500, true),
})

const logQuery = (url: URL): LogQuery => ({
  service: textParam(url, 'service'),
  level: levelParam(url),
  q: textParam(url, 'q'),
  trace_id: traceIdParam(url),
  since_ms: numberParam(url, 'since_ms', 0, Number.MAX_SAFE_INTEGER),
  until_ms: numberParam(url, 'until_ms', 0, Number.MAX_SAFE_INTEGER),
  after_id: numberParam(url, 'after_id', 0, Number.MAX_SAFE_INTEGER, true),
  limit: numberParam(url, 'limit', 1, 1000, true),
})

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
  const {
    store,
    metrics,
    jaegerTrace,
    apiRoutes = {},
    pages = {},
    maxBodyBytes,
    now = Date.now,
    allowedHosts = [],
  } = options
  const receiver = createReceiver(maxBodyBytes === undefined ? { store } : { store, maxBodyBytes })

  const api: Routes = {
    // As every service has them, so `bun run restart console` and orchestrators can wait for it.
    '/livez': get(() => ({ status: 'ok' })),
    '/healthz': get(() => ({ status: 'ok', spans: store.counts().spans })),
    '/v1/traces': { POST: receiver.traces },
    '/v1/logs': { POST: receiver.logs },
    '/api/status': get(() => ({
      ...store.counts(),
      // Since the console started; stored = received − evicted, so a script can tell none was lost.
      totals: store.totals(),
      retention: { max_spans: store.maxSpans, max_logs: store.maxLogs },
      database: store.path,
      targets: metrics?.status() ?? [],
    })),
    // Services that sent spans, and the scrape targets that have not (yet): their metrics and
    // logs are there before their first span, or when their spans go elsewhere.
    '/api/services': get(() => {
      const services: { name: string; spans: number; last_seen_ms: number | null }[] = store.services()
      for (const { service } of metrics?.status() ?? []) {
        if (!services.some((s) => s.name === service))
          services.push({ name: service, spans: 0, last_seen_ms: null })
      }
      return { services: services.sort((a, b) => a.name.localeCompare(b.name)) }
    }),
    '/api/traces': get((url) => ({ traces: store.searchTraces(traceQuery(url)) })),
    '/api/traces/:id': get((_url, params) => {
      const id = params.id ?? ''
      if (!TRACE_ID.test(id)) throw new BadParameter('a trace id is 32 hexadecimal characters')
      const trace = jaegerTrace?.(id.toLowerCase(), store)
      return (
        trace ??
        problem(
          404,
          'Not Found',
          `no trace ${id} is stored: it was evicted, or never recorded (health checks and /metrics make no span unless TRACE_PROBES=true)`,
        )
      )
    }),
    // The store keeps attributes as JSON text; the API answers them as the object they are.
    '/api/logs': get((url) => ({
      logs: store.logs(logQuery(url)).map((line) => ({ ...line, attributes: JSON.parse(line.attributes) })),
    })),
    '/api/service-map': get((url) => store.serviceMap(numberParam(url, 'window_s', 1, DAY_S) ?? 300, now())),
    '/api/metrics/red': get((url) => {
      const query = {
        service: textParam(url, 'service'),
        route: textParam(url, 'route'),
        window_s: numberParam(url, 'window_s', 10, DAY_S),
        step_s: numberParam(url, 'step_s', 0, 3600),
      }
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
  // Pages are only read; every API route (the receiver's too) is behind the same-site guard.
  const routes: Routes = { ...pages, ...sameSiteRoutes(api, allowedHosts) }

  return {
    routes,
    /** Anything no route matched: a problem, never a page that is not there. */
    fetch(request: Request): Response {
      const { pathname } = new URL(request.url)
      return problem(404, 'Not Found', `nothing is served at ${pathname}`)
    },
    /** Answers a thrown error as a 500 problem; the details go to the console's own log. */
    error(error: Error): Response {
      console.error(
        JSON.stringify({
          level: 'error',
          service: 'console',
          msg: 'console request failed',
          err: { message: error.message, stack: error.stack },
        }),
      )
      return problem(500, 'Internal Server Error', 'the console could not answer; see its log')
    },
  }
}
