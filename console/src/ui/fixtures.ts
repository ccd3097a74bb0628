// A stand-in for the console's server while app.ts is being written, and for the browser test: the
// real pages (Bun's HTML import) plus the JSON API of console/README.md answered from realistic
// fixtures — one POST /cart/add trace across gateway, cart and catalog with an injected latency
// fault and a failed cart write, its log lines, scraped RED series with exemplars, a fake load run
// and the faults proxy with cart's admin API unreachable. Services are named as their spans name them
// (shopstack-catalog); the load and faults APIs use the short names, as the load generator does.
// `bun console/src/ui/fixtures.ts` serves it.

import { pageRoutes } from './routes.ts'

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const SECOND_TRACE = '0af7651916cd43dd8448eb211c80319c'

type Kv = { key: string; type: string; value: unknown }
const tag = (key: string, value: unknown): Kv => ({
  key,
  type:
    typeof value === 'number'
      ? Number.isInteger(value)
        ? 'int64'
        : 'float64'
      : typeof value === 'boolean'
        ? 'bool'
        : 'string',
  value,
})

/** The trace in Jaeger's shape (what /api/traces/:id answers), starting `startMs`. */
export function fixtureTrace(startMs: number) {
  const us = (ms: number) => Math.round((startMs + ms) * 1000)
  const span = (
    spanID: string,
    parent: string | undefined,
    processID: string,
    operationName: string,
    fromMs: number,
    durationMs: number,
    tags: Kv[],
    logs: { timestamp: number; fields: Kv[] }[] = [],
  ) => ({
    traceID: TRACE_ID,
    spanID,
    operationName,
    references: parent ? [{ refType: 'CHILD_OF', traceID: TRACE_ID, spanID: parent }] : [],
    startTime: us(fromMs),
    duration: Math.round(durationMs * 1000),
    tags,
    logs,
    processID,
    warnings: null,
  })
  return {
    traceID: TRACE_ID,
    spans: [
      span('a1a1a1a1a1a1a1a1', undefined, 'p1', 'POST /cart/add', 0, 642.5, [
        tag('span.kind', 'server'),
        tag('http.request.method', 'POST'),
        tag('http.route', '/cart/add'),
        tag('http.response.status_code', 503),
        tag('otel.status_code', 'ERROR'),
        tag('error', true),
      ]),
      span('b2b2b2b2b2b2b2b2', 'a1a1a1a1a1a1a1a1', 'p1', 'POST', 1.2, 640.1, [
        tag('span.kind', 'client'),
        tag('http.request.method', 'POST'),
        tag('url.full', 'http://localhost:8002/cart/add'),
        tag('http.response.status_code', 503),
        tag('otel.status_code', 'ERROR'),
        tag('error', true),
      ]),
      span(
        'c3c3c3c3c3c3c3c3',
        'b2b2b2b2b2b2b2b2',
        'p2',
        'POST /cart/add',
        2.0,
        637.9,
        [
          tag('span.kind', 'server'),
          tag('http.route', '/cart/add'),
          tag('http.response.status_code', 503),
          tag('otel.status_code', 'ERROR'),
          tag('otel.status_description', 'simulated database failure'),
          tag('error', true),
        ],
        [
          {
            timestamp: us(639),
            fields: [
              tag('event', 'exception'),
              tag('exception.type', 'SimulatedFailure'),
              tag('exception.message', 'simulated database failure (cart write)'),
              tag(
                'exception.stacktrace',
                'SimulatedFailure: simulated database failure (cart write)\n    at addLine (cart/src/carts/store.ts:42:11)',
              ),
            ],
          },
        ],
      ),
      span('d4d4d4d4d4d4d4d4', 'c3c3c3c3c3c3c3c3', 'p2', 'GET', 3.1, 581.4, [
        tag('span.kind', 'client'),
        tag('url.full', 'http://localhost:8001/catalog/123'),
        tag('http.response.status_code', 200),
      ]),
      span(
        'e5e5e5e5e5e5e5e5',
        'd4d4d4d4d4d4d4d4',
        'p3',
        'GET /catalog/:id',
        4.0,
        578.2,
        [
          tag('span.kind', 'server'),
          tag('http.route', '/catalog/:id'),
          tag('http.response.status_code', 200),
          tag('shopstack.fault.latency_ms', 500),
        ],
        [
          {
            timestamp: us(4.5),
            fields: [tag('event', 'shopstack.fault.latency'), tag('shopstack.fault.latency_ms', 500)],
          },
        ],
      ),
      span('f6f6f6f6f6f6f6f6', 'e5e5e5e5e5e5e5e5', 'p3', 'db.products.get', 540, 37.6, [
        tag('span.kind', 'internal'),
        tag('db.system', 'sqlite'),
      ]),
    ],
    processes: {
      p1: { serviceName: 'shopstack-gateway', tags: [] },
      p2: { serviceName: 'shopstack-cart', tags: [] },
      p3: { serviceName: 'shopstack-catalog', tags: [] },
    },
  }
}

interface Log {
  id: number
  time_ms: number
  service: string
  level: string
  level_num: number
  msg: string
  trace_id?: string
  span_id?: string
  attributes: Record<string, unknown>
  line: string
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

function logLine(
  id: number,
  time_ms: number,
  service: string,
  level: string,
  msg: string,
  trace_id?: string,
  span_id?: string,
  extra: Record<string, unknown> = {},
): Log {
  const line = JSON.stringify({
    level: LEVELS[level],
    time: time_ms,
    service,
    msg,
    trace_id,
    span_id,
    ...extra,
  })
  return {
    id,
    time_ms,
    service,
    level,
    level_num: LEVELS[level] ?? 30,
    msg,
    ...(trace_id ? { trace_id } : {}),
    ...(span_id ? { span_id } : {}),
    attributes: extra,
    line,
  }
}

const problem = (status: number, title: string, detail: string) =>
  Response.json(
    { title, status, detail },
    { status, headers: { 'content-type': 'application/problem+json' } },
  )

export interface FixtureServerOptions {
  port?: number
  /** Break one API route (the test that proves a broken page is caught). */
  broken?: string
}

export function createFixtureServer(options: FixtureServerOptions = {}) {
  const { port = 0, broken } = options
  const now = Date.now()
  const traceStart = now - 60_000
  const trace = fixtureTrace(traceStart)

  const logs: Log[] = [
    logLine(1, now - 120_000, 'shopstack-catalog', 'info', 'catalog listening on :8001'),
    logLine(2, now - 119_000, 'shopstack-cart', 'info', 'cart listening on :8002'),
    logLine(3, now - 118_000, 'shopstack-gateway', 'info', 'gateway listening on :8000'),
    logLine(
      4,
      traceStart + 2,
      'shopstack-gateway',
      'info',
      'request received',
      TRACE_ID,
      'a1a1a1a1a1a1a1a1',
      {
        method: 'POST',
        url: '/cart/add',
      },
    ),
    logLine(
      5,
      traceStart + 5,
      'shopstack-catalog',
      'warn',
      'fault injected: latency 500 ms',
      TRACE_ID,
      'e5e5e5e5e5e5e5e5',
      { fault: 'latency' },
    ),
    logLine(
      6,
      traceStart + 639,
      'shopstack-cart',
      'error',
      'simulated database failure (cart write)',
      TRACE_ID,
      'c3c3c3c3c3c3c3c3',
      { err: { type: 'SimulatedFailure' } },
    ),
    logLine(
      7,
      traceStart + 642,
      'shopstack-gateway',
      'info',
      'request completed',
      TRACE_ID,
      'a1a1a1a1a1a1a1a1',
      {
        status: 503,
        responseTime: 642,
      },
    ),
    logLine(
      8,
      now - 30_000,
      'shopstack-catalog',
      'info',
      'request completed',
      SECOND_TRACE,
      '1111111111111111',
      {
        status: 200,
      },
    ),
  ]
  let nextLogId = 9

  const summaries = [
    {
      trace_id: TRACE_ID,
      root_service: 'shopstack-gateway',
      root_name: 'POST /cart/add',
      start_ms: traceStart,
      duration_ms: 642.5,
      span_count: 6,
      error_count: 3,
      services: ['shopstack-gateway', 'shopstack-cart', 'shopstack-catalog'],
      http_status: 503,
    },
    {
      trace_id: SECOND_TRACE,
      root_service: 'shopstack-gateway',
      root_name: 'GET /catalog/:id',
      start_ms: now - 30_000,
      duration_ms: 41.7,
      span_count: 3,
      error_count: 0,
      services: ['shopstack-gateway', 'shopstack-catalog'],
      http_status: 200,
    },
  ]

  function red(url: URL) {
    const window_s = Number(url.searchParams.get('window_s') ?? 300)
    const step_s = Number(url.searchParams.get('step_s') ?? 15)
    const service = url.searchParams.get('service')
    const times: number[] = []
    for (let t = now - window_s * 1000; t <= now; t += step_s * 1000) times.push(Math.round(t))
    const wave = (i: number, base: number, amp: number) => base + amp * Math.sin(i / 6)
    const points = (base: number, errors: number, p99: number) =>
      times.map((t_ms, i) => ({
        t_ms,
        rate: wave(i, base, base / 5),
        error_ratio: Math.max(0, wave(i, errors, errors / 2)),
        p50_ms: wave(i, p99 / 3, 2),
        p99_ms: wave(i, p99, p99 / 6),
      }))
    const routes: Record<string, [string, number, number, number][]> = {
      'shopstack-gateway': [
        ['/catalog', 6, 0, 60],
        ['/catalog/:id', 9, 0.002, 70],
        ['/cart/add', 3, 0.03, 180],
        ['/cart/:id', 2, 0.01, 120],
      ],
      'shopstack-catalog': [
        ['/catalog', 6, 0, 55],
        ['/catalog/:id', 12, 0, 62],
      ],
      'shopstack-cart': [
        ['/cart/add', 3, 0.03, 150],
        ['/cart/:id', 2, 0.01, 95],
      ],
    }
    const series = service
      ? (routes[service] ?? []).map(([route, base, errors, p99]) => ({
          service,
          route,
          points: points(base, errors, p99),
        }))
      : [
          { service: 'shopstack-gateway', route: null, points: points(20, 0.012, 160) },
          { service: 'shopstack-catalog', route: null, points: points(18, 0, 64) },
          { service: 'shopstack-cart', route: null, points: points(5, 0.03, 150) },
        ]
    return {
      step_s,
      series,
      retries: [
        {
          service: 'shopstack-gateway',
          upstream: 'cart',
          points: times.map((t_ms, i) => ({ t_ms, rate: i % 9 === 0 ? 0.4 : 0.05 })),
        },
        {
          service: 'shopstack-gateway',
          upstream: 'catalog',
          points: times.map((t_ms) => ({ t_ms, rate: 0 })),
        },
      ],
      exemplars: [
        {
          t_ms: times[Math.floor(times.length / 2)] ?? now,
          service: 'shopstack-gateway',
          route: '/cart/add',
          value_ms: 642.5,
          trace_id: TRACE_ID,
        },
        {
          t_ms: times[times.length - 3] ?? now,
          service: 'shopstack-catalog',
          route: '/catalog/:id',
          value_ms: 41.7,
          trace_id: SECOND_TRACE,
        },
      ].filter((e) => !service || e.service === service),
    }
  }

  // A fake load run: series and stats grow with the seconds since start.
  let load: { started: number; stopped?: number; users: number } | undefined
  function loadStatus() {
    const elapsed = load ? ((load.stopped ?? Date.now()) - load.started) / 1000 : 0
    const state = !load ? 'ready' : load.stopped ? 'stopped' : 'running'
    const steps = Array.from({ length: Math.floor(elapsed) }, (_, i) => i)
    const requests = Math.round(elapsed * 40)
    const row = (name: string, method: string, route: string, share: number, fail: number) => ({
      name,
      target: 'gateway',
      method,
      route,
      requests: Math.round(requests * share),
      failures: Math.round(requests * share * fail),
      min_ms: 3,
      avg_ms: 48,
      p50_ms: 41,
      p90_ms: 88,
      p95_ms: 120,
      p99_ms: 640,
      max_ms: 702,
      rps: 40 * share,
      current_rps: 40 * share,
      failures_per_s: 40 * share * fail,
    })
    const endpoints = load
      ? [
          row('GET /catalog', 'GET', '/catalog', 0.35, 0),
          row('GET /catalog/:id', 'GET', '/catalog/:id', 0.35, 0),
          row('POST /cart/add', 'POST', '/cart/add', 0.2, 0.05),
          row('GET /cart/:id', 'GET', '/cart/:id', 0.1, 0),
        ]
      : []
    return {
      status: {
        state,
        model: 'closed',
        users: load && !load.stopped ? load.users : 0,
        target_users: load?.users ?? 0,
        rate: 0,
        in_flight: 2,
        issued: requests,
        elapsed_s: elapsed,
        run_time_s: 60,
      },
      defaults: { host: 'http://localhost:8000', users: 10, spawn_rate: 10, rate: 0, run_time_s: 60 },
      totals: load ? { ...row('Aggregated', '', '', 1, 0.01), error_rate: 0.01 } : undefined,
      endpoints,
      failures: load
        ? [
            {
              endpoint: 'POST /cart/add',
              method: 'POST',
              route: '/cart/add',
              target: 'gateway',
              cause: '503 Service Unavailable',
              status: 503,
              count: Math.max(1, Math.round(requests * 0.01)),
              example: { url: 'http://localhost:8000/cart/add', trace_id: TRACE_ID, at_s: 1.2 },
            },
          ]
        : [],
      series: {
        t: steps.map((i) => i + 1),
        rps: steps.map((i) => 35 + 5 * Math.sin(i)),
        failures_per_s: steps.map(() => 0.4),
        p50_ms: steps.map(() => 40),
        p95_ms: steps.map((i) => 115 + i),
        p99_ms: steps.map(() => 600),
        users: steps.map((i) => Math.min(load?.users ?? 0, (i + 1) * 10)),
        in_flight: steps.map(() => 2),
      },
      annotations: [],
    }
  }

  const faults: Record<string, Record<string, unknown>> = {
    gateway: {},
    catalog: { latency: { min_ms: 500, max_ms: 500, route: '/catalog/:id' } },
  }
  const unreachable = (service: string) =>
    problem(
      502,
      'Bad Gateway',
      `${service}'s admin API at http://localhost:8002/admin/faults did not answer: Unable to connect. Is the computer able to access the url?`,
    )
  const faultState = (service: string) => ({ service, faults: faults[service] ?? {}, leaked_bytes: 0 })

  const api: Record<
    string,
    (request: Request & { params: Record<string, string> }) => Response | Promise<Response>
  > = {
    '/api/status': () =>
      Response.json({
        spans: 1234,
        traces: 210,
        logs: 3456,
        bytes: 2_400_000,
        retention: { max_spans: 200_000, max_logs: 200_000 },
        database: ':memory:',
        targets: [
          {
            service: 'shopstack-gateway',
            url: 'http://localhost:8000/metrics',
            up: true,
            last_scrape_ms: now,
          },
          {
            service: 'shopstack-catalog',
            url: 'http://localhost:8001/metrics',
            up: true,
            last_scrape_ms: now,
          },
          {
            service: 'shopstack-cart',
            url: 'http://localhost:8002/metrics',
            up: false,
            last_scrape_ms: now,
            error: 'connection refused',
          },
        ],
      }),
    '/api/services': () =>
      Response.json({
        services: ['shopstack-gateway', 'shopstack-catalog', 'shopstack-cart'].map((name) => ({
          name,
          spans: 400,
          last_seen_ms: now,
        })),
      }),
    '/api/service-map': (request) =>
      Response.json({
        window_s: Number(new URL(request.url).searchParams.get('window_s') ?? 300),
        nodes: [
          { service: 'shopstack-gateway', requests: 600, errors: 7 },
          { service: 'shopstack-catalog', requests: 540, errors: 0 },
          { service: 'shopstack-cart', requests: 150, errors: 5 },
        ],
        edges: [
          {
            from: 'shopstack-gateway',
            to: 'shopstack-catalog',
            requests: 450,
            rate_per_s: 1.5,
            error_ratio: 0,
            p99_ms: 71.3,
          },
          {
            from: 'shopstack-gateway',
            to: 'shopstack-cart',
            requests: 150,
            rate_per_s: 0.5,
            error_ratio: 0.033,
            p99_ms: 642.5,
          },
          {
            from: 'shopstack-cart',
            to: 'shopstack-catalog',
            requests: 90,
            rate_per_s: 0.3,
            error_ratio: 0,
            p99_ms: 581.4,
          },
        ],
      }),
    '/api/metrics/red': (request) => Response.json(red(new URL(request.url))),
    '/api/traces': (request) => {
      const q = new URL(request.url).searchParams
      const status = q.get('status')
      const found = summaries.filter(
        (s) =>
          (!q.get('service') || s.services.includes(q.get('service') ?? '')) &&
          (!q.get('trace_id') || s.trace_id.startsWith(q.get('trace_id') ?? '')) &&
          (!q.get('min_duration_ms') || s.duration_ms >= Number(q.get('min_duration_ms'))) &&
          (!status ||
            (status === 'error'
              ? s.error_count > 0
              : status === 'ok'
                ? s.error_count === 0
                : s.http_status === Number(status))),
      )
      return Response.json({ traces: found })
    },
    '/api/traces/:id': (request) =>
      request.params.id === TRACE_ID
        ? Response.json({ data: [trace] })
        : problem(404, 'Not Found', `no trace ${request.params.id} in the store (it may have been evicted)`),
    '/api/logs': (request) => {
      const q = new URL(request.url).searchParams
      const min = LEVELS[q.get('level') ?? ''] ?? 0
      const text = (q.get('q') ?? '').toLowerCase()
      const afterId = q.get('after_id')
      let found = logs.filter(
        (l) =>
          (!q.get('service') || l.service === q.get('service')) &&
          l.level_num >= min &&
          (!text || l.line.toLowerCase().includes(text)) &&
          (!q.get('trace_id') || l.trace_id === q.get('trace_id')) &&
          (!afterId || l.id > Number(afterId)),
      )
      found = afterId ? found.sort((a, b) => a.id - b.id) : found.sort((a, b) => b.id - a.id)
      return Response.json({
        logs: found.slice(0, Number(q.get('limit') ?? 200)).map(({ level_num: _, ...l }) => l),
      })
    },
    '/api/load/status': () => Response.json(loadStatus()),
    '/api/load/start': async (request) => {
      if (load && !load.stopped) return problem(409, 'Conflict', 'a run is already going; stop it first')
      const body = (await request.json()) as { users?: number }
      load = { started: Date.now() - 3000, users: Number(body.users ?? 10) }
      return Response.json(loadStatus())
    },
    '/api/load/stop': () => {
      if (load && !load.stopped) load.stopped = Date.now()
      return Response.json(loadStatus())
    },
    '/api/load/report.json': () => Response.json({ report: 'fixture' }),
    '/api/faults': () =>
      Response.json({
        services: ['gateway', 'catalog', 'cart'].map((service) =>
          service === 'cart'
            ? {
                service,
                url: 'http://localhost:8002',
                error: {
                  title: 'Bad Gateway',
                  status: 502,
                  detail:
                    "cart's admin API at http://localhost:8002/admin/faults did not answer: Unable to connect",
                },
              }
            : {
                service,
                url: `http://localhost:${service === 'gateway' ? 8000 : 8001}`,
                state: faultState(service),
                summary: '',
              },
        ),
      }),
    '/api/faults/:service': async (request) => {
      const service = request.params.service ?? ''
      if (service === 'cart') return unreachable(service)
      if (!(service in faults))
        return problem(404, 'Not Found', `no service "${service}" (one of gateway, catalog, cart)`)
      if (request.method === 'DELETE') faults[service] = {}
      if (request.method === 'PUT') faults[service] = (await request.json()) as Record<string, unknown>
      return Response.json(faultState(service))
    },
  }
  if (broken && broken in api)
    api[broken] = () => problem(500, 'Internal Server Error', `${broken} is broken on purpose`)

  const server = Bun.serve({
    port,
    hostname: '127.0.0.1',
    // As the real console (console/src/index.ts): the page as users get it. Bun's default in a test
    // is development, whose hot-reload client can put an overlay over the page under a busy suite
    // (`<bun-hmr> intercepts pointer events`, seen once in a full run).
    development: false,
    routes: { ...pageRoutes, ...api },
    fetch: () => problem(404, 'Not Found', 'no such route'),
  })
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    /** A new log line of the trace, as the receiver would store it (the live tail test). */
    addLog(service: string, level: string, msg: string, traceId?: string) {
      logs.push(logLine(nextLogId++, Date.now(), service, level, msg, traceId))
    },
    stop: () => server.stop(true),
  }
}

if (import.meta.main) {
  const { url } = createFixtureServer({ port: Number(Bun.env.PORT ?? 8089) })
  console.log(`console pages with fixture data on ${url}`)
}
