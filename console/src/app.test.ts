import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createConsole } from './app.ts'
import { loadConsoleConfig } from './config.ts'
import { createStore } from './store.ts'

const store = createStore()
let server: ReturnType<typeof Bun.serve>
let base = ''

/** A gateway read that failed in the catalog: gateway SERVER → CLIENT → catalog SERVER (error). */
function failedRead() {
  const exporters = { gateway: new InMemorySpanExporter(), catalog: new InMemorySpanExporter() }
  const tracer = (service: keyof typeof exporters) =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [new SimpleSpanProcessor(exporters[service])],
    }).getTracer('test')
  const server = tracer('gateway').startSpan('GET /catalog/:id', {
    kind: SpanKind.SERVER,
    attributes: { 'http.route': '/catalog/:id', 'http.response.status_code': 502 },
  })
  const client = tracer('gateway').startSpan(
    'GET',
    { kind: SpanKind.CLIENT },
    trace.setSpan(context.active(), server),
  )
  const backend = tracer('catalog').startSpan(
    'GET /catalog/:id',
    { kind: SpanKind.SERVER, attributes: { 'http.route': '/catalog/:id', 'http.response.status_code': 500 } },
    trace.setSpan(context.active(), client),
  )
  backend.setStatus({ code: SpanStatusCode.ERROR })
  for (const span of [backend, client, server]) span.end()
  return {
    traceId: server.spanContext().traceId,
    bodies: Object.values(exporters).map(
      (e) => JsonTraceSerializer.serializeRequest(e.getFinishedSpans()) ?? [],
    ),
  }
}

beforeAll(() => {
  const app = createConsole({
    store,
    jaegerTrace: (id, s) => (s.trace(id).length ? { data: [{ traceID: id }] } : undefined),
    // A scraper stand-in: one target that has sent no span, one that has.
    metrics: {
      status: () => [{ service: 'shopstack-cart' }, { service: 'gateway' }],
      red: () => ({ step_s: 1, series: [], retries: [], exemplars: [] }),
    },
  })
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    routes: app.routes,
    fetch: app.fetch,
    error: app.error,
  })
  base = `http://127.0.0.1:${server.port}`
})
afterAll(async () => {
  await server.stop(true)
  store.close()
})

describe('the console API', () => {
  test('a trace exported by two services is found by search, by id and on the service map', async () => {
    const { traceId, bodies } = failedRead()
    for (const body of bodies) {
      const answer = await fetch(`${base}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Uint8Array(body),
      })
      expect(answer.status).toBe(200)
    }
    const errors = (await (await fetch(`${base}/api/traces?status=error&route=/catalog/:id`)).json()) as {
      traces: { trace_id: string; services: string[]; error_count: number }[]
    }
    expect(errors.traces).toEqual([
      expect.objectContaining({ trace_id: traceId, services: ['catalog', 'gateway'], error_count: 1 }),
    ])
    const ok = (await (await fetch(`${base}/api/traces?status=ok`)).json()) as { traces: unknown[] }
    expect(ok.traces).toEqual([])
    expect((await fetch(`${base}/api/traces/${traceId}`)).status).toBe(200)
    const map = (await (await fetch(`${base}/api/service-map`)).json()) as { edges: unknown[] }
    expect(map.edges).toEqual([
      expect.objectContaining({ from: 'gateway', to: 'catalog', requests: 1, error_ratio: 1 }),
    ])
  })

  test('bad parameters are refused with a problem that names them in words', async () => {
    const cases: [string, string][] = [
      ['/api/traces?min_duration_ms=fast', 'min_duration_ms must be a number from 0 to 3600000, not "fast"'],
      [
        '/api/traces?status=teapot',
        'status must be ok, error or an HTTP status code from 100 to 599, not "teapot"',
      ],
      ['/api/traces?limit=9999', 'limit must be a whole number from 1 to 500, not "9999"'],
      ['/api/logs?level=loud', 'level must be one of trace, debug, info, warn, error, fatal, not "loud"'],
      ['/api/logs?trace_id=xyz', 'trace_id must be 32 hexadecimal characters'],
    ]
    for (const [path, detail] of cases) {
      const response = await fetch(`${base}${path}`)
      expect(response.status).toBe(400)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
      expect(((await response.json()) as { detail: string }).detail).toBe(detail)
    }
  })

  test("a service's log line is answered with its fields as an object", async () => {
    const line = JSON.stringify({ level: 'warn', time: 1, service: 'cart', msg: 'slow', cart_id: 'abc' })
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shopstack-cart' } }] },
          scopeLogs: [{ logRecords: [{ body: { stringValue: line } }] }],
        },
      ],
    }
    const sent = await fetch(`${base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(sent.status).toBe(200)
    const { logs } = (await (await fetch(`${base}/api/logs?level=warn`)).json()) as { logs: unknown[] }
    expect(logs).toEqual([
      expect.objectContaining({
        service: 'shopstack-cart',
        level: 'warn',
        msg: 'slow',
        attributes: { cart_id: 'abc' },
      }),
    ])
  })

  test('another site cannot use it: a change from another origin, or a host it does not listen as, is a 403', async () => {
    const crossSite = await fetch(`${base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
      body: '{}',
    })
    expect(crossSite.status).toBe(403)
    expect(((await crossSite.json()) as { detail: string }).detail).toContain('http://evil.example')
    const rebound = await fetch(`${base}/api/logs`, { headers: { host: `evil.example:${server.port}` } })
    expect(rebound.status).toBe(403)
    // The console's own page may change things, and a reader on loopback may read.
    const own = await fetch(`${base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: '{}',
    })
    expect(own.status).toBe(200)
    expect((await fetch(`${base}/api/logs`, { headers: { host: `localhost:${server.port}` } })).status).toBe(
      200,
    )
  })

  test('an unknown trace and an unknown path are 404 problems', async () => {
    const trace = await fetch(`${base}/api/traces/${'ab'.repeat(16)}`)
    expect(trace.status).toBe(404)
    expect(((await trace.json()) as { detail: string }).detail).toContain('no trace')
    const other = await fetch(`${base}/api/nope`)
    expect(other.status).toBe(404)
    expect(other.headers.get('content-type')).toBe('application/problem+json')
  })

  test('the services are those that sent spans and the scrape targets that have not yet', async () => {
    const { services } = (await (await fetch(`${base}/api/services`)).json()) as { services: unknown[] }
    expect(services).toEqual([
      expect.objectContaining({ name: 'catalog', spans: 1 }),
      expect.objectContaining({ name: 'gateway', spans: 2 }),
      { name: 'shopstack-cart', spans: 0, last_seen_ms: null },
    ])
  })

  test('the status shows what is stored and the retention', async () => {
    const status = (await (await fetch(`${base}/api/status`)).json()) as Record<string, unknown>
    expect(status).toMatchObject({
      spans: 3,
      logs: 1,
      totals: {
        received_spans: 3,
        evicted_spans: 0,
        lost_spans: 0,
        received_logs: 1,
        evicted_logs: 0,
        lost_logs: 0,
      },
      retention: { max_spans: 200_000, max_logs: 200_000 },
    })
  })
})

describe('loadConsoleConfig', () => {
  test('defaults to port 8089, a file under data/ and the three services on localhost', () => {
    const config = loadConsoleConfig({})
    expect(config.port).toBe(8089)
    expect(config.databasePath).toBe('data/console.sqlite')
    expect(config.targets.map((t) => `${t.service}=${t.url}`)).toEqual([
      'shopstack-gateway=http://localhost:8000',
      'shopstack-catalog=http://localhost:8001',
      'shopstack-cart=http://localhost:8002',
    ])
  })

  test('a bad value stops it with one line naming the variable', () => {
    expect(() => loadConsoleConfig({ CONSOLE_PORT: 'eighty' })).toThrow('CONSOLE_PORT must be a whole number')
    expect(() => loadConsoleConfig({ CONSOLE_MAX_SPANS: '10' })).toThrow(
      'CONSOLE_MAX_SPANS must be a whole number from 1000',
    )
    expect(() => loadConsoleConfig({ CONSOLE_TARGETS: 'gateway' })).toThrow(
      'CONSOLE_TARGETS must be name=url pairs',
    )
    expect(() => loadConsoleConfig({ CONSOLE_TARGETS: 'a=http://x:1,a=http://y:2' })).toThrow(
      'CONSOLE_TARGETS names "a" twice',
    )
    expect(loadConsoleConfig({ CONSOLE_TARGETS: 'shop=http://127.0.0.1:9000/' }).targets).toEqual([
      { service: 'shop', url: 'http://127.0.0.1:9000' },
    ])
  })
})
