// The real console for the browser test: createConsole over an in-memory store filled through its
// own OTLP receiver (a POST /cart/add trace across the three services, made by the OpenTelemetry SDK,
// with a latency fault in catalog and an exception in cart, plus its log lines), the real scraper
// reading the services' lib metrics (prom-client, OpenMetrics with an exemplar) on a few scrapes of an
// injected clock, and the real load API with a runner whose requests go to a stub shop. Only the
// services' sockets are stubs; every answer the pages read is the console's own.

import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createFaultClient, type FaultSettings } from '@shopstack/loadtest/faults'
import { createLoadApi } from '@shopstack/loadtest/load-api'
import { createRunner, type Fetch } from '@shopstack/loadtest/runner'
import type { UserFactory } from '@shopstack/loadtest/scenarios'
import { createMetrics } from '../../../lib/src/telemetry/metrics.ts'
import { createUpstreamMetrics } from '../../../lib/src/upstream-metrics.ts'
import { createConsole } from '../app.ts'
import { toJaegerTrace } from '../jaeger.ts'
import { createScraper } from '../scraper.ts'
import { createStore } from '../store.ts'
import { pageRoutes } from './routes.ts'

const SHORT = ['gateway', 'catalog', 'cart'] as const
type Short = (typeof SHORT)[number]

/** One POST /cart/add through gateway → cart → catalog, as the services' tracing records it. */
function cartAddTrace(startMs: number) {
  const exporters = Object.fromEntries(SHORT.map((s) => [s, new InMemorySpanExporter()])) as Record<
    Short,
    InMemorySpanExporter
  >
  const tracer = (service: Short) =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': `shopstack-${service}` }),
      spanProcessors: [new SimpleSpanProcessor(exporters[service])],
    }).getTracer('shopstack')
  const at = (ms: number) => new Date(startMs + ms)
  const child = (parent: ReturnType<ReturnType<typeof tracer>['startSpan']>) =>
    trace.setSpan(context.active(), parent)
  const gateway = tracer('gateway').startSpan('POST /cart/add', {
    kind: SpanKind.SERVER,
    startTime: at(0),
    attributes: {
      'http.request.method': 'POST',
      'http.route': '/cart/add',
      'http.response.status_code': 503,
    },
  })
  const gatewayCall = tracer('gateway').startSpan(
    'POST',
    { kind: SpanKind.CLIENT, startTime: at(1), attributes: { 'url.full': 'http://localhost:8002/cart/add' } },
    child(gateway),
  )
  const cart = tracer('cart').startSpan(
    'POST /cart/add',
    {
      kind: SpanKind.SERVER,
      startTime: at(2),
      attributes: { 'http.route': '/cart/add', 'http.response.status_code': 503 },
    },
    child(gatewayCall),
  )
  const cartCall = tracer('cart').startSpan(
    'GET',
    {
      kind: SpanKind.CLIENT,
      startTime: at(3),
      attributes: { 'url.full': 'http://localhost:8001/catalog/123' },
    },
    child(cart),
  )
  const catalog = tracer('catalog').startSpan(
    'GET /catalog/:id',
    {
      kind: SpanKind.SERVER,
      startTime: at(4),
      attributes: {
        'http.route': '/catalog/:id',
        'http.response.status_code': 200,
        'shopstack.fault.latency_ms': 500,
      },
    },
    child(cartCall),
  )
  catalog.end(at(582))
  cartCall.end(at(584))
  const failure = new Error('simulated database failure (cart write)')
  failure.name = 'SimulatedFailure'
  cart.recordException(failure, at(639))
  cart.setStatus({ code: SpanStatusCode.ERROR, message: failure.message })
  cart.end(at(640))
  gatewayCall.setStatus({ code: SpanStatusCode.ERROR })
  gatewayCall.end(at(641))
  gateway.setStatus({ code: SpanStatusCode.ERROR })
  gateway.end(at(642))
  const ids = {
    traceId: gateway.spanContext().traceId,
    gateway: gateway.spanContext().spanId,
    cart: cart.spanContext().spanId,
    catalog: catalog.spanContext().spanId,
  }
  const bodies = SHORT.map(
    (s) => JsonTraceSerializer.serializeRequest(exporters[s].getFinishedSpans()) ?? new Uint8Array(),
  )
  return { ids, bodies }
}

/** Our pino lines of that request, as the services send them to /v1/logs. */
function logsOf(startMs: number, ids: ReturnType<typeof cartAddTrace>['ids']) {
  const line = (service: Short, ms: number, level: number, msg: string, spanId: string, extra = {}) => ({
    service,
    record: {
      timeUnixNano: String((startMs + ms) * 1_000_000),
      body: {
        stringValue: JSON.stringify({
          level,
          time: startMs + ms,
          msg,
          trace_id: ids.traceId,
          span_id: spanId,
          ...extra,
        }),
      },
    },
  })
  const lines = [
    line('gateway', 1, 30, 'request received', ids.gateway, { method: 'POST', url: '/cart/add' }),
    line('catalog', 5, 40, 'fault injected: latency 500 ms', ids.catalog, { fault: 'latency' }),
    line('cart', 639, 50, 'simulated database failure (cart write)', ids.cart, {
      err: { type: 'SimulatedFailure' },
    }),
    line('gateway', 642, 30, 'request completed', ids.gateway, { status: 503, responseTime: 642 }),
  ]
  return SHORT.map((service) => ({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: `shopstack-${service}` } }] },
        scopeLogs: [{ logRecords: lines.filter((l) => l.service === service).map((l) => l.record) }],
      },
    ],
  }))
}

export async function startRealConsole() {
  const now = Date.now()
  const store = createStore()

  // Metrics: each service's own registry, scraped six times 15 s apart, ending now.
  const registries = Object.fromEntries(
    SHORT.map((s) => {
      const metrics = createMetrics({ service: s, runtime: false })
      return [s, { metrics, upstream: createUpstreamMetrics(metrics) }]
    }),
  ) as Record<
    Short,
    { metrics: ReturnType<typeof createMetrics>; upstream: ReturnType<typeof createUpstreamMetrics> }
  >
  let clock = now - 75_000
  const scraper = createScraper({
    targets: SHORT.map((s) => ({ service: `shopstack-${s}`, url: `http://${s}.test` })),
    fetch: async (url) => {
      const service = new URL(url).hostname.replace('.test', '') as Short
      return registries[service].metrics.scrape('application/openmetrics-text; version=1.0.0')
    },
    now: () => clock,
  })
  const traceStart = now - 40_000
  const { ids, bodies } = cartAddTrace(traceStart)
  const request = (
    s: Short,
    method: string,
    endpoint: string,
    status: number,
    seconds: number,
    traceId?: string,
  ) => {
    const labels = { method, endpoint, status: String(status) }
    registries[s].metrics.httpRequests.inc(labels)
    registries[s].metrics.httpDuration.observe({
      labels,
      value: seconds,
      // prom-client types exemplar labels as the metric's own; the scraper test casts the same way.
      exemplarLabels: traceId ? ({ trace_id: traceId } as Record<string, string>) : undefined,
    })
  }
  await scraper.scrapeOnce()
  for (let scrape = 1; scrape <= 5; scrape++) {
    for (let i = 0; i < 30 + scrape * 5; i++) {
      request('gateway', 'GET', '/catalog/:id', 200, 0.02 + (i % 7) / 100)
      request('catalog', 'GET', '/catalog/:id', 200, 0.015 + (i % 5) / 100)
    }
    for (let i = 0; i < 8; i++) {
      request('gateway', 'POST', '/cart/add', 200, 0.09)
      request('cart', 'POST', '/cart/add', 200, 0.08)
    }
    if (scrape === 3) {
      request('gateway', 'POST', '/cart/add', 503, 0.642, ids.traceId)
      request('cart', 'POST', '/cart/add', 503, 0.64)
      registries.gateway.upstream.retries.inc({ upstream: 'cart', reason: 'status_503' }, 2)
    }
    clock += 15_000
    await scraper.scrapeOnce()
  }

  // The load generator, its runner's requests answered by a stub shop (every third one a 503 naming
  // the trace), and the faults proxy with cart's admin API down.
  let sent = 0
  const shop: Fetch = async () => {
    const failed = ++sent % 3 === 0
    return new Response(failed ? '{}' : 'ok', {
      status: failed ? 503 : 200,
      statusText: failed ? 'Service Unavailable' : 'OK',
      headers: { traceresponse: `00-${ids.traceId}-${ids.gateway}-01` },
    })
  }
  const catalogUser: UserFactory = (runContext) => {
    const endpoint = runContext.stats.endpoint('gateway', 'GET', '/catalog/:id')
    const step = { endpoint, url: 'http://gateway.test/catalog/1', init: undefined }
    return { next: () => step, thinkMs: () => 50 }
  }
  const faultSets: Record<string, FaultSettings> = {
    catalog: { latency: { min_ms: 500, max_ms: 500, route: '/catalog/:id' } },
  }
  const faults = createFaultClient({
    hosts: { gateway: 'http://gateway.test', catalog: 'http://catalog.test', cart: 'http://cart.test' },
    fetch: async (url, init) => {
      const service = new URL(url).hostname.replace('.test', '')
      if (service === 'cart') throw new Error('Unable to connect. Is the computer able to access the url?')
      if (init?.method === 'PUT') faultSets[service] = JSON.parse(String(init.body))
      if (init?.method === 'DELETE') faultSets[service] = {}
      return Response.json({ service, faults: faultSets[service] ?? {}, leaked_bytes: 0 })
    },
  })
  const load = createLoadApi({
    base: { users: 2, spawnRate: 100, runTimeMs: 60_000, metricsUsers: 0 },
    faults,
    createRunner: (options) => createRunner({ ...options, fetch: shop, createUser: catalogUser, seed: 1 }),
    logError: () => {},
  })

  const app = createConsole({
    store,
    metrics: scraper,
    jaegerTrace: (id, spans) => toJaegerTrace(id, spans.trace(id)),
    pages: pageRoutes,
    apiRoutes: { ...load.routes('/api/load'), ...load.faultRoutes('/api') },
  })
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    // As the real console (console/src/index.ts): no hot-reload client over the page (fixtures.ts).
    development: false,
    routes: app.routes,
    fetch: app.fetch,
    error: app.error,
  })
  const url = `http://127.0.0.1:${server.port}`
  const post = async (path: string, body: string | Uint8Array) => {
    const answer = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`)
  }
  for (const body of bodies) await post('/v1/traces', new Uint8Array(body))
  for (const document of logsOf(traceStart, ids)) await post('/v1/logs', JSON.stringify(document))

  return {
    url,
    traceId: ids.traceId,
    async stop() {
      await load.close()
      await scraper.stop()
      await server.stop(true)
      store.close()
      for (const { metrics } of Object.values(registries)) metrics.stop()
    },
  }
}
