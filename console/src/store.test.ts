import { describe, expect, test } from 'bun:test'
import { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { decodeLogs, decodeTraces } from './otlp.ts'
import { logsBody, parsed, sdkShop, storesClosedAfterEach, tracesBody } from './sdk-fixtures.ts'
import type { Store } from './store.ts'

const openStore = storesClosedAfterEach()

/** A fixed instant, so the windows of the tests do not depend on the clock. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

/** The three services, each with its own SDK provider and resource, as in a running ShopStack. */
function createShop() {
  return sdkShop(['gateway', 'cart', 'catalog', 'loadtest'])
}

type Shop = ReturnType<typeof createShop>

interface Call {
  service: string
  name: string
  kind: SpanKind
  /** Offsets from the trace's start, in milliseconds. */
  startMs: number
  endMs: number
  attributes?: Record<string, string | number>
  error?: string
}

/** Records the calls as one trace, each the child of the one before, and returns its spans. */
function record(shop: Shop, startMs: number, calls: Call[]): ReadableSpan[] {
  shop.reset()
  let parent: Context = ROOT_CONTEXT
  const open: { span: Span; call: Call }[] = []
  for (const call of calls) {
    const span = shop
      .tracer(call.service)
      .startSpan(call.name, { kind: call.kind, startTime: startMs + call.startMs }, parent)
    span.setAttributes(call.attributes ?? {})
    if (call.error) {
      span.recordException(new Error(call.error))
      span.setStatus({ code: SpanStatusCode.ERROR, message: call.error })
    }
    open.push({ span, call })
    // No context manager is registered here, so the parent is passed explicitly.
    parent = trace.setSpan(ROOT_CONTEXT, span)
  }
  for (const { span, call } of open.reverse()) span.end(startMs + call.endMs)
  return shop.spans()
}

interface CartAdd {
  durationMs?: number
  /** What the gateway answered; 502 when the cart failed. */
  status?: number
  /** The cart's simulated failure: its SERVER span is an ERROR with status 500. */
  cartFails?: boolean
  catalogMs?: number
  /** How far the catalog host's clock is behind the others, in milliseconds. */
  catalogSkewMs?: number
}

/** `POST /cart/add` as ShopStack traces it: gateway → cart → catalog, SERVER and CLIENT spans. */
function cartAdd(shop: Shop, startMs: number, options: CartAdd = {}): ReadableSpan[] {
  const { durationMs = 100, cartFails = false, catalogMs = 30, catalogSkewMs = 0 } = options
  const cartStatus = cartFails ? 500 : 200
  const status = options.status ?? (cartFails ? 502 : 200)
  const skew = -catalogSkewMs
  return record(shop, startMs, [
    {
      service: 'gateway',
      name: 'POST /cart/add',
      kind: SpanKind.SERVER,
      startMs: 0,
      endMs: durationMs,
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/cart/add',
        'http.response.status_code': status,
      },
      ...(status >= 500 ? { error: `upstream answered ${cartStatus}` } : {}),
    },
    {
      service: 'gateway',
      name: 'POST',
      kind: SpanKind.CLIENT,
      startMs: 1,
      endMs: durationMs - 1,
      attributes: { 'server.address': 'cart', 'http.response.status_code': cartStatus },
    },
    {
      service: 'cart',
      name: 'POST /cart/add',
      kind: SpanKind.SERVER,
      startMs: 2,
      endMs: durationMs - 2,
      attributes: { 'http.route': '/cart/add', 'http.response.status_code': cartStatus },
      ...(cartFails ? { error: 'simulated cart failure' } : {}),
    },
    {
      service: 'cart',
      name: 'GET',
      kind: SpanKind.CLIENT,
      startMs: 3,
      endMs: 3 + catalogMs + 2,
      attributes: { 'server.address': 'catalog', 'http.response.status_code': 200 },
    },
    {
      service: 'catalog',
      name: 'GET /catalog/:id',
      kind: SpanKind.SERVER,
      startMs: 4 + skew,
      endMs: 4 + skew + catalogMs,
      attributes: { 'http.route': '/catalog/:id', 'http.response.status_code': 200 },
    },
  ])
}

/** `GET /catalog/:id` through the gateway: gateway → catalog. */
function catalogGet(shop: Shop, startMs: number, durationMs = 40): ReadableSpan[] {
  return record(shop, startMs, [
    {
      service: 'gateway',
      name: 'GET /catalog/:id',
      kind: SpanKind.SERVER,
      startMs: 0,
      endMs: durationMs,
      attributes: { 'http.route': '/catalog/:id', 'http.response.status_code': 200 },
    },
    { service: 'gateway', name: 'GET', kind: SpanKind.CLIENT, startMs: 1, endMs: durationMs - 1 },
    {
      service: 'catalog',
      name: 'GET /catalog/:id',
      kind: SpanKind.SERVER,
      startMs: 2,
      endMs: durationMs - 2,
      attributes: { 'http.route': '/catalog/:id', 'http.response.status_code': 200 },
    },
  ])
}

/** Through the receiver's own path: OpenTelemetry JS's JSON serializer, then decodeTraces. */
function load(store: Store, spans: ReadableSpan[]): string {
  const decoded = decodeTraces(parsed(tracesBody(spans)))
  expect(decoded.rejected).toBe(0)
  store.insertSpans(decoded.rows)
  return spans[0]?.spanContext().traceId ?? ''
}

const serverOf = (spans: ReadableSpan[], service: string) =>
  spans.find((s) => s.kind === SpanKind.SERVER && s.resource.attributes['service.name'] === service)

describe('searchTraces', () => {
  test('a request through the gateway is one trace, summarised by its gateway SERVER span', () => {
    const store = openStore()
    const shop = createShop()
    const traceId = load(store, cartAdd(shop, T0, { durationMs: 120.5, cartFails: true }))
    expect(store.searchTraces()).toEqual([
      {
        trace_id: traceId,
        root_service: 'gateway',
        root_name: 'POST /cart/add',
        start_ms: T0,
        duration_ms: 120.5,
        span_count: 5,
        error_count: 2,
        services: ['cart', 'catalog', 'gateway'],
        http_status: 502,
      },
    ])
  })

  test('answers the newest traces first by start time, even when an older one arrived last', () => {
    const store = openStore()
    const shop = createShop()
    // Batch exporters send when their batch is due, so a trace's spans can arrive after a newer
    // trace's: the limit must keep the newest by time, not the last received.
    const newest = load(store, cartAdd(shop, T0 + 2000))
    const oldest = load(store, cartAdd(shop, T0))
    const middle = load(store, cartAdd(shop, T0 + 1000))
    expect(store.searchTraces().map((t) => t.trace_id)).toEqual([newest, middle, oldest])
    expect(store.searchTraces({ limit: 2 }).map((t) => t.trace_id)).toEqual([newest, middle])
    expect(store.searchTraces({ limit: 1, status: 'ok' }).map((t) => t.trace_id)).toEqual([newest])
  })

  test('service keeps the traces that service took part in', () => {
    const store = openStore()
    const shop = createShop()
    const add = load(store, cartAdd(shop, T0))
    const get = load(store, catalogGet(shop, T0 + 1000))
    expect(store.searchTraces({ service: 'cart' }).map((t) => t.trace_id)).toEqual([add])
    expect(store.searchTraces({ service: 'catalog' }).map((t) => t.trace_id)).toEqual([get, add])
    expect(store.searchTraces({ service: 'payments' })).toEqual([])
  })

  test("route matches any service's SERVER span, not CLIENT spans or names", () => {
    const store = openStore()
    const shop = createShop()
    const add = load(store, cartAdd(shop, T0))
    const get = load(store, catalogGet(shop, T0 + 1000))
    expect(store.searchTraces({ route: '/cart/add' }).map((t) => t.trace_id)).toEqual([add])
    // The cart's call to the catalog is served at /catalog/:id too.
    expect(store.searchTraces({ route: '/catalog/:id' }).map((t) => t.trace_id)).toEqual([get, add])
    expect(store.searchTraces({ route: '/catalog/:id', service: 'gateway' }).map((t) => t.trace_id)).toEqual([
      get,
    ])
    expect(store.searchTraces({ route: 'POST /cart/add' })).toEqual([])
  })

  test('status error, ok, or the HTTP status the root answered', () => {
    const store = openStore()
    const shop = createShop()
    const ok = load(store, cartAdd(shop, T0))
    const failed = load(store, cartAdd(shop, T0 + 1000, { cartFails: true }))
    const notFound = load(store, cartAdd(shop, T0 + 2000, { status: 404 }))
    const ids = (status: 'ok' | 'error' | number) => store.searchTraces({ status }).map((t) => t.trace_id)
    expect(ids('error')).toEqual([failed])
    expect(ids('ok')).toEqual([notFound, ok])
    expect(ids(502)).toEqual([failed])
    expect(ids(404)).toEqual([notFound])
    expect(ids(200)).toEqual([ok])
    // The cart answered 500 inside the failed trace, but the trace's status is the gateway's.
    expect(ids(500)).toEqual([])
  })

  test('min_duration_ms keeps traces at least that long, end to end', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0, { durationMs: 50 }))
    const exact = load(store, cartAdd(shop, T0 + 1000, { durationMs: 150 }))
    const slow = load(store, cartAdd(shop, T0 + 2000, { durationMs: 400 }))
    expect(store.searchTraces({ min_duration_ms: 150 }).map((t) => t.trace_id)).toEqual([slow, exact])
    expect(store.searchTraces({ min_duration_ms: 401 })).toEqual([])
  })

  test('start_ms and end_ms keep the traces with a span in the window', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0))
    const inside = load(store, cartAdd(shop, T0 + 60_000))
    load(store, cartAdd(shop, T0 + 120_000))
    const window = { start_ms: T0 + 30_000, end_ms: T0 + 90_000 }
    expect(store.searchTraces(window).map((t) => t.trace_id)).toEqual([inside])
    expect(store.searchTraces({ start_ms: T0 + 60_000 })).toHaveLength(2)
    expect(store.searchTraces({ end_ms: T0 + 60_000 })).toHaveLength(2)
    // Both ends are included: only the catalog's span of the middle trace starts at +4 ms.
    const instant = { start_ms: T0 + 60_004, end_ms: T0 + 60_004 }
    expect(store.searchTraces(instant).map((t) => t.trace_id)).toEqual([inside])
  })

  test('trace_id finds one trace whatever its case, and an unknown id finds none', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0))
    const wanted = load(store, cartAdd(shop, T0 + 1000))
    expect(store.searchTraces({ trace_id: wanted.toUpperCase() }).map((t) => t.trace_id)).toEqual([wanted])
    expect(store.searchTraces({ trace_id: 'f'.repeat(32) })).toEqual([])
  })

  test('a trace whose gateway spans have not arrived is summarised by its topmost span', () => {
    const store = openStore()
    const shop = createShop()
    // The catalog host's clock is 5 ms behind, so its span seems to start first; the cart's SERVER
    // span is still the top of what arrived, since its parent is the one missing.
    const spans = cartAdd(shop, T0, { catalogSkewMs: 5 })
    const partial = spans.filter((s) => s.resource.attributes['service.name'] !== 'gateway')
    const traceId = load(store, partial)
    const [summary] = store.searchTraces()
    expect(summary).toMatchObject({
      trace_id: traceId,
      root_service: 'cart',
      root_name: 'POST /cart/add',
      span_count: 3,
      http_status: 200,
    })
    // The status filter reads the same span the summary shows.
    expect(store.searchTraces({ status: 200 }).map((t) => t.trace_id)).toEqual([traceId])
  })
})

describe('trace', () => {
  test('answers every span of the trace in start order, linked gateway → cart → catalog', () => {
    const store = openStore()
    const shop = createShop()
    const spans = cartAdd(shop, T0, { durationMs: 100 })
    // Each service exports on its own, children end first: arrival order is not start order.
    const fromGateway = (s: ReadableSpan) => s.resource.attributes['service.name'] === 'gateway'
    const traceId = load(store, spans.filter(fromGateway))
    load(store, catalogGet(shop, T0 + 10))
    load(
      store,
      spans.filter((s) => !fromGateway(s)),
    )
    const rows = store.trace(traceId.toUpperCase())
    expect(rows.map((r) => [r.service, r.kind, r.name])).toEqual([
      ['gateway', 2, 'POST /cart/add'],
      ['gateway', 3, 'POST'],
      ['cart', 2, 'POST /cart/add'],
      ['cart', 3, 'GET'],
      ['catalog', 2, 'GET /catalog/:id'],
    ])
    expect(rows[0]?.parent_span_id).toBe('')
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.parent_span_id).toBe(rows[i - 1]?.span_id ?? '-')
    expect(rows[0]).toMatchObject({
      start_us: T0 * 1000,
      duration_us: expect.closeTo(100_000, -1),
      http_route: '/cart/add',
    })
    expect(rows[2]?.span_id).toBe(serverOf(spans, 'cart')?.spanContext().spanId ?? '-')
    expect(store.trace(`${'0'.repeat(31)}1`)).toEqual([])
  })
})

/**
 * Our JSON log lines, as the dev runner forwards them: OTLP log records whose body is the line,
 * under a resource named after the service that wrote it.
 */
function loadLines(store: Store, lines: Record<string, unknown>[]): void {
  for (const line of lines) {
    const decoded = decodeLogs(parsed(logsBody(String(line.service), [{ body: JSON.stringify(line) }])))
    expect(decoded.rejected).toBe(0)
    store.insertLogs(decoded.rows)
  }
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

/** Six lines a second apart: a cart add that failed, between catalog reads. */
function sixLines(store: Store): void {
  loadLines(store, [
    { level: 'info', time: T0, service: 'catalog', msg: 'request', route: '/catalog/:id', status: 200 },
    { level: 'debug', time: T0 + 1000, service: 'cart', msg: 'adding', cart_id: 'CART-42', trace_id: TRACE },
    { level: 'warn', time: T0 + 2000, service: 'cart', msg: 'simulated failure', trace_id: TRACE },
    { level: 'error', time: T0 + 3000, service: 'gateway', msg: 'upstream 500', trace_id: TRACE },
    { level: 'info', time: T0 + 4000, service: 'catalog', msg: 'request', route: '/catalog', status: 200 },
    { level: 'fatal', time: T0 + 5000, service: 'cart', msg: 'redis gone' },
  ])
}

describe('logs', () => {
  test("answers by the lines' own time, not by when each service's batch arrived", () => {
    const store = openStore()
    // The cart's batch arrives after the gateway's, though its lines are older.
    loadLines(store, [
      { level: 'info', time: T0 + 300, service: 'gateway', msg: 'gateway 300' },
      { level: 'info', time: T0 + 500, service: 'gateway', msg: 'gateway 500' },
    ])
    loadLines(store, [
      { level: 'info', time: T0 + 200, service: 'cart', msg: 'cart 200' },
      { level: 'info', time: T0 + 400, service: 'cart', msg: 'cart 400' },
    ])
    expect(store.logs().map((l) => l.msg)).toEqual(['gateway 500', 'cart 400', 'gateway 300', 'cart 200'])
  })

  test('answers the newest first, each line read from our JSON', () => {
    const store = openStore()
    sixLines(store)
    const logs = store.logs()
    expect(logs.map((l) => l.time_ms)).toEqual([5, 4, 3, 2, 1, 0].map((s) => T0 + s * 1000))
    expect(logs[4]).toMatchObject({ service: 'cart', level: 'debug', msg: 'adding', trace_id: TRACE })
    expect(JSON.parse(logs[4]?.attributes ?? '{}')).toEqual({ cart_id: 'CART-42' })
  })

  test('service, minimum level, and a case-insensitive substring of the whole line', () => {
    const store = openStore()
    sixLines(store)
    const msgs = (query: Parameters<Store['logs']>[0]) => store.logs(query).map((l) => l.msg)
    expect(msgs({ service: 'cart' })).toEqual(['redis gone', 'simulated failure', 'adding'])
    expect(msgs({ level: 40 })).toEqual(['redis gone', 'upstream 500', 'simulated failure'])
    expect(msgs({ level: 50, service: 'cart' })).toEqual(['redis gone'])
    // A field of the line, not only the message, and in any case.
    expect(msgs({ q: 'cart-42' })).toEqual(['adding'])
    expect(msgs({ q: 'REQUEST' })).toEqual(['request', 'request'])
    expect(msgs({ q: '100%' })).toEqual([])
  })

  test('trace_id joins the lines of one trace, whatever its case', () => {
    const store = openStore()
    sixLines(store)
    expect(store.logs({ trace_id: TRACE.toUpperCase() }).map((l) => l.service)).toEqual([
      'gateway',
      'cart',
      'cart',
    ])
  })

  test('since_ms and until_ms bound the time, both ends included', () => {
    const store = openStore()
    sixLines(store)
    const times = store.logs({ since_ms: T0 + 1000, until_ms: T0 + 3000 }).map((l) => l.time_ms - T0)
    expect(times).toEqual([3000, 2000, 1000])
  })

  test('limit keeps the newest lines', () => {
    const store = openStore()
    sixLines(store)
    expect(store.logs({ limit: 2 }).map((l) => l.msg)).toEqual(['redis gone', 'request'])
  })

  test('after_id tails: only newer lines, oldest first, and a limit leaves no gap for the next poll', () => {
    const store = openStore()
    sixLines(store)
    const last = store.logs({ limit: 1 })[0]?.id ?? 0
    expect(store.logs({ after_id: last })).toEqual([])
    loadLines(store, [
      { level: 'info', time: T0 + 6000, service: 'cart', msg: 'one' },
      { level: 'info', time: T0 + 7000, service: 'cart', msg: 'two' },
      { level: 'info', time: T0 + 8000, service: 'cart', msg: 'three' },
    ])
    const first = store.logs({ after_id: last, limit: 2 })
    expect(first.map((l) => l.msg)).toEqual(['one', 'two'])
    const next = store.logs({ after_id: first.at(-1)?.id ?? 0, limit: 2 })
    expect(next.map((l) => l.msg)).toEqual(['three'])
  })
})

describe('serviceMap', () => {
  const NOW = T0 + 300_000

  test('edges from each CLIENT span to its SERVER child in another service, with RED numbers', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0 + 10_000, { durationMs: 100 }))
    load(store, cartAdd(shop, T0 + 20_000, { durationMs: 200, cartFails: true }))
    load(store, cartAdd(shop, T0 + 30_000, { durationMs: 60 }))
    load(store, catalogGet(shop, T0 + 40_000, 40))
    // Outside the window: before it, and after the instant it ends at.
    load(store, cartAdd(shop, T0 - 1000))
    load(store, cartAdd(shop, NOW + 1000))
    const map = store.serviceMap(300, NOW)
    expect(map.window_s).toBe(300)
    expect(map.nodes).toEqual([
      { service: 'cart', requests: 3, errors: 1 },
      { service: 'catalog', requests: 4, errors: 0 },
      { service: 'gateway', requests: 4, errors: 1 },
    ])
    const edges = [...map.edges].sort((a, b) => `${a.from}${a.to}`.localeCompare(`${b.from}${b.to}`))
    expect(edges).toEqual([
      // The cart's SERVER spans last the trace less 4 ms: 96, 196, 56. Times come through OTLP's
      // nanoseconds read as doubles, good to a microsecond, hence closeTo.
      {
        from: 'cart',
        to: 'catalog',
        requests: 3,
        rate_per_s: 3 / 300,
        error_ratio: 0,
        p99_ms: expect.closeTo(30, 2),
      },
      {
        from: 'gateway',
        to: 'cart',
        requests: 3,
        rate_per_s: 3 / 300,
        error_ratio: 1 / 3,
        p99_ms: expect.closeTo(196, 2),
      },
      {
        from: 'gateway',
        to: 'catalog',
        requests: 1,
        rate_per_s: 1 / 300,
        error_ratio: 0,
        p99_ms: expect.closeTo(36, 2),
      },
    ])
  })

  test('p99 is the nearest-rank 99th percentile of the SERVER durations', () => {
    const store = openStore()
    const shop = createShop()
    // Catalog reads of 1 … 150 ms: the 99th percentile by nearest rank is the ⌈148.5⌉th, 149 ms.
    for (let ms = 1; ms <= 150; ms++) load(store, cartAdd(shop, T0 + ms * 100, { catalogMs: ms }))
    const edge = store.serviceMap(300, NOW).edges.find((e) => e.to === 'catalog')
    expect(edge?.requests).toBe(150)
    expect(edge?.p99_ms).toBeCloseTo(149, 2)
  })

  test('a service that only calls out (no SERVER span) is a node too, so its edges have two ends', () => {
    const store = openStore()
    const shop = createShop()
    load(
      store,
      record(shop, T0 + 1000, [
        { service: 'loadtest', name: 'GET', kind: SpanKind.CLIENT, startMs: 0, endMs: 10 },
        { service: 'gateway', name: 'GET /', kind: SpanKind.SERVER, startMs: 1, endMs: 9 },
      ]),
    )
    const map = store.serviceMap(300, NOW)
    expect(map.edges.map((e) => [e.from, e.to])).toEqual([['loadtest', 'gateway']])
    expect(map.nodes).toEqual([
      { service: 'gateway', requests: 1, errors: 0 },
      { service: 'loadtest', requests: 0, errors: 0 },
    ])
  })

  test('a call nobody answered (the callee was down) is an edge to its peer.service, with its error', () => {
    const store = openStore()
    const shop = createShop()
    const refused = (startMs: number) =>
      record(shop, startMs, [
        { service: 'gateway', name: 'GET /catalog/:id', kind: SpanKind.SERVER, startMs: 0, endMs: 5 },
        {
          service: 'gateway',
          name: 'GET /catalog/:id',
          kind: SpanKind.CLIENT,
          startMs: 1,
          endMs: 3,
          attributes: { 'peer.service': 'catalog' },
          error: 'ECONNREFUSED',
        },
      ])
    load(store, refused(T0 + 1000))
    load(store, refused(T0 + 2000))
    load(store, catalogGet(shop, T0 + 3000, 40))
    const edge = store.serviceMap(300, NOW).edges.find((e) => e.from === 'gateway' && e.to === 'catalog')
    expect(edge).toMatchObject({ requests: 3, error_ratio: 2 / 3 })
  })

  test('an empty store has no nodes and no edges', () => {
    expect(openStore().serviceMap(60, NOW)).toEqual({ window_s: 60, nodes: [], edges: [] })
  })
})

describe('services and counts', () => {
  test('services lists each service once, with its spans and the start of its latest span', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0))
    load(store, catalogGet(shop, T0 + 1000))
    expect(store.services()).toEqual([
      { name: 'cart', spans: 2, last_seen_ms: T0 + 3 },
      { name: 'catalog', spans: 2, last_seen_ms: T0 + 1002 },
      { name: 'gateway', spans: 4, last_seen_ms: T0 + 1001 },
    ])
  })

  test('counts spans, traces, logs and the bytes of the database', () => {
    const store = openStore()
    const shop = createShop()
    load(store, cartAdd(shop, T0))
    load(store, catalogGet(shop, T0 + 1000))
    sixLines(store)
    const counts = store.counts()
    expect(counts).toMatchObject({ spans: 8, traces: 2, logs: 6 })
    expect(counts.bytes).toBeGreaterThan(0)
  })
})
