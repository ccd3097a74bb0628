import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import { SeverityNumber } from '@opentelemetry/api-logs'
import { createReceiver } from './receiver.ts'
import { logsBody, sdkShop, storesClosedAfterEach, tracesBody } from './sdk-fixtures.ts'

const openStore = storesClosedAfterEach()

function setup(options: { maxSpans?: number; maxLogs?: number; maxBodyBytes?: number; path?: string } = {}) {
  const store = openStore(options)
  return { store, receiver: createReceiver({ store, ...options }) }
}

/** Real SDK spans: a gateway SERVER span with a CLIENT child, then catalog's SERVER span under it. */
function sdkSpans(service: string, build: (tracer: Tracer) => void) {
  const shop = sdkShop([service])
  build(shop.tracer(service))
  return shop.spans()
}

/** What the receiver answers: partial success, when anything was refused. */
type Answer = {
  partialSuccess: { rejectedSpans?: number; rejectedLogRecords?: number; errorMessage: string }
}

function post(
  path: string,
  body: RequestInit['body'],
  type = 'application/json',
  headers: Record<string, string> = {},
) {
  return new Request(`http://console${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': type, ...headers },
  })
}

describe('POST /v1/traces', () => {
  test('stores the spans OpenTelemetry JS serializes, with ids, times, kind, status and attributes', async () => {
    const { store, receiver } = setup()
    const spans = sdkSpans('gateway', (tracer) => {
      tracer.startActiveSpan('GET /catalog/:id', { kind: SpanKind.SERVER }, (server) => {
        server.setAttributes({ 'http.route': '/catalog/:id', 'http.response.status_code': 500, retries: 2 })
        server.addEvent('exception', { 'exception.message': 'boom' })
        // No context manager is registered here, so the parent is passed explicitly.
        tracer.startSpan('GET', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), server)).end()
        server.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' })
        server.end()
      })
    })
    const response = await receiver.traces(post('/v1/traces', tracesBody(spans)))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})

    const server = spans.find((s) => s.kind === SpanKind.SERVER)
    const rows = store.trace(server?.spanContext().traceId ?? '')
    expect(rows).toHaveLength(2)
    const root = rows.find((r) => r.kind === 2)
    expect(root).toMatchObject({
      span_id: server?.spanContext().spanId,
      parent_span_id: '',
      service: 'gateway',
      name: 'GET /catalog/:id',
      status_code: 2,
      status_message: 'boom',
      http_route: '/catalog/:id',
      http_status: 500,
    })
    expect(JSON.parse(root?.attributes ?? '{}')).toMatchObject({ retries: 2, 'http.route': '/catalog/:id' })
    expect(JSON.parse(root?.events ?? '[]')[0]).toMatchObject({ name: 'exception' })
    const startUs = (server?.startTime[0] ?? 0) * 1e6 + (server?.startTime[1] ?? 0) / 1e3
    expect(Math.abs((root?.start_us ?? 0) - startUs)).toBeLessThan(2)
    const client = rows.find((r) => r.kind === 3)
    expect(client?.parent_span_id).toBe(root?.span_id ?? 'none')
  })

  test('protobuf gets 415 saying to send JSON, and nothing is stored', async () => {
    const { store, receiver } = setup()
    const response = await receiver.traces(
      post('/v1/traces', new Uint8Array([10, 0]), 'application/x-protobuf'),
    )
    expect(response.status).toBe(415)
    expect(response.headers.get('content-type')).toContain('application/problem+json')
    expect(((await response.json()) as { detail: string }).detail).toContain('application/json')
    expect(store.counts().spans).toBe(0)
  })

  test('a body that is not JSON gets 400', async () => {
    const { store, receiver } = setup()
    const response = await receiver.traces(post('/v1/traces', '{"resourceSpans": ['))
    expect(response.status).toBe(400)
    expect(((await response.json()) as { detail: string }).detail).toContain('not valid JSON')
    expect(store.counts().spans).toBe(0)
  })

  test('a body past the limit gets 413, chunked or not', async () => {
    const { store, receiver } = setup({ maxBodyBytes: 1024 })
    const big = JSON.stringify({ resourceSpans: [], pad: 'x'.repeat(4096) })
    expect((await receiver.traces(post('/v1/traces', big))).status).toBe(413)
    // A stream has no Content-Length: the limit is counted while reading.
    let sent = 0
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 100) return controller.close()
        controller.enqueue(new TextEncoder().encode(sent === 1 ? '{"pad":"' : 'x'.repeat(100)))
      },
    })
    const request = post('/v1/traces', chunked)
    expect(request.headers.get('content-length')).toBeNull()
    expect((await receiver.traces(request)).status).toBe(413)
    expect(sent).toBeLessThan(100)
    expect(store.counts().spans).toBe(0)
  })

  test('deeply nested JSON is refused without a crash', async () => {
    const { store, receiver } = setup()
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const response = await receiver.traces(post('/v1/traces', deep))
    expect(response.status).toBe(400)
    // A deep attribute value rejects its span only.
    let value: unknown = { stringValue: 'leaf' }
    for (let i = 0; i < 50; i++) value = { arrayValue: { values: [value] } }
    const spans = [goodSpan('1'), { ...goodSpan('2'), attributes: [{ key: 'deep', value }] }]
    const answer = await receiver.traces(post('/v1/traces', JSON.stringify(documentOf(spans))))
    expect(await answer.json()).toEqual({
      partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringContaining('nested') },
    })
    expect(store.counts().spans).toBe(1)
    // A resource nested too deep names no service; its log records are kept under unknown_service.
    const logs = await receiver.logs(
      post(
        '/v1/logs',
        JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: [{ key: 'deep', value }] },
              scopeLogs: [{ logRecords: [{ body: { stringValue: 'kept' } }] }],
            },
          ],
        }),
      ),
    )
    expect(logs.status).toBe(200)
    expect(store.logs().map((l) => [l.service, l.msg])).toEqual([['unknown_service', 'kept']])
  })

  test('spans with ids of the wrong length or not hex are rejected one by one, in partialSuccess', async () => {
    const { store, receiver } = setup()
    const spans = [
      goodSpan('1'),
      { ...goodSpan('2'), traceId: 'abc' },
      { ...goodSpan('3'), spanId: 'zzzzzzzzzzzzzzzz' },
      { ...goodSpan('4'), traceId: '0'.repeat(32) },
      { ...goodSpan('5'), parentSpanId: '123' },
    ]
    const response = await receiver.traces(post('/v1/traces', JSON.stringify(documentOf(spans))))
    expect(response.status).toBe(200)
    const body = (await response.json()) as Answer
    expect(body.partialSuccess.rejectedSpans).toBe(4)
    expect(body.partialSuccess.errorMessage).toContain('traceId')
    expect(store.counts().spans).toBe(1)
  })

  test('a gzip body is read', async () => {
    const { store, receiver } = setup()
    const body = Bun.gzipSync(new TextEncoder().encode(JSON.stringify(documentOf([goodSpan('1')]))))
    const response = await receiver.traces(
      post('/v1/traces', body, 'application/json', { 'content-encoding': 'gzip' }),
    )
    expect(response.status).toBe(200)
    expect(store.counts().spans).toBe(1)
  })
})

describe('POST /v1/logs', () => {
  test('reads our JSON log lines from records OpenTelemetry JS serializes', async () => {
    const { store, receiver } = setup()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const spanId = '00f067aa0ba902b7'
    const line = JSON.stringify({
      level: 'warn',
      time: 1_700_000_000_123,
      service: 'catalog',
      msg: 'request',
      method: 'GET',
      route: '/catalog/:id',
      status: 200,
      duration_ms: 3.2,
      request_id: 'r-1',
      trace_id: traceId,
      span_id: spanId,
    })
    const body = logsBody('catalog', [
      { body: line },
      { body: 'plain text line', severity: SeverityNumber.ERROR },
    ])
    const response = await receiver.logs(post('/v1/logs', body))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})

    const [plain, parsed] = store.logs()
    expect(parsed).toMatchObject({
      service: 'catalog',
      level: 'warn',
      level_num: 40,
      msg: 'request',
      trace_id: traceId,
      span_id: spanId,
      time_ms: 1_700_000_000_123,
      line,
    })
    expect(JSON.parse(parsed?.attributes ?? '{}')).toEqual({
      method: 'GET',
      route: '/catalog/:id',
      status: 200,
      duration_ms: 3.2,
      request_id: 'r-1',
    })
    expect(plain).toMatchObject({ level: 'error', msg: 'plain text line', trace_id: null })
    expect(store.logs({ trace_id: traceId })).toHaveLength(1)
    expect(store.logs({ level: 50 })).toHaveLength(1)
    expect(store.logs({ q: 'PLAIN' })).toHaveLength(1)
  })

  test('a record with a bad trace id is rejected in partialSuccess', async () => {
    const { store, receiver } = setup()
    const document = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: '1700000000000000000', body: { stringValue: 'ok' } },
                { timeUnixNano: '1700000000000000000', body: { stringValue: 'bad' }, traceId: 'xyz' },
              ],
            },
          ],
        },
      ],
    }
    const response = await receiver.logs(post('/v1/logs', JSON.stringify(document)))
    expect(((await response.json()) as Answer).partialSuccess.rejectedLogRecords).toBe(1)
    expect(store.counts().logs).toBe(1)
  })
})

describe('retention', () => {
  test('a flood past the bound keeps the newest, the count at the bound and memory bounded', async () => {
    const { store, receiver } = setup({ maxSpans: 5000 })
    Bun.gc(true)
    const before = process.memoryUsage().rss
    let sent = 0
    for (let batch = 0; batch < 100; batch++) {
      const spans = Array.from({ length: 512 }, () => goodSpan(String(sent++)))
      await receiver.traces(post('/v1/traces', JSON.stringify(documentOf(spans))))
      expect(store.counts().spans).toBeLessThanOrEqual(5000)
    }
    Bun.gc(true)
    const grown = process.memoryUsage().rss - before
    expect(store.counts().spans).toBeGreaterThan(4000)
    const newest = store.searchTraces({ limit: 1 })[0]
    expect(newest?.root_name).toBe(`span ${sent - 1}`)
    const oldest = store.searchTraces({ limit: 500 }).at(-1)
    expect(Number(oldest?.root_name.split(' ')[1])).toBeGreaterThan(sent - 5001)
    // 51 200 spans went through; a store that kept them all would have grown by far more.
    expect(grown).toBeLessThan(150 * 1024 * 1024)
    // Every span received is stored or was evicted: none lost on the way.
    const { spans } = store.counts()
    expect(store.totals()).toEqual({
      received_spans: sent,
      evicted_spans: sent - spans,
      received_logs: 0,
      evicted_logs: 0,
      lost_spans: 0,
      lost_logs: 0,
    })
  })

  test('spans received are written together within the flush interval, without waiting for a read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-store-'))
    try {
      const path = join(dir, 'console.sqlite')
      const { receiver } = setup({ path })
      const reader = new Database(path, { readonly: true })
      const stored = () => (reader.query('SELECT COUNT(*) AS n FROM spans').get() as { n: number }).n
      await receiver.traces(post('/v1/traces', JSON.stringify(documentOf([goodSpan('1')]))))
      await receiver.traces(post('/v1/traces', JSON.stringify(documentOf([goodSpan('2')]))))
      expect(stored()).toBe(0)
      await Bun.sleep(400)
      expect(stored()).toBe(2)
      reader.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a restart with a file keeps what was stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-store-'))
    try {
      const path = join(dir, 'console.sqlite')
      const first = setup({ path })
      await first.receiver.traces(
        post('/v1/traces', JSON.stringify(documentOf([goodSpan('1'), goodSpan('2')]))),
      )
      first.store.close()
      const second = setup({ path })
      expect(second.store.counts().spans).toBe(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

let counter = 0
/** A server span of its own trace, with a unique id, named `span <n>`. */
function goodSpan(n: string) {
  counter++
  const hex = counter.toString(16).padStart(16, '0')
  const start = BigInt(Date.now()) * 1_000_000n + BigInt(counter)
  return {
    traceId: `${hex}${hex}`,
    spanId: hex,
    name: `span ${n}`,
    kind: 2,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 1_000_000n),
    attributes: [{ key: 'http.route', value: { stringValue: '/x' } }],
    status: {},
  }
}

function documentOf(spans: unknown[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gateway' } }] },
        scopeSpans: [{ scope: { name: 't' }, spans }],
      },
    ],
  }
}
