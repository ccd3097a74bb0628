import { afterEach, describe, expect, test } from 'bun:test'
import { type Link, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api'
import { TraceState } from '@opentelemetry/core'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { ByteWriter } from './bytes.ts'
import { encodeSpans } from './otlp-json.ts'
import { createOtlpSpanProcessor } from './otlp-span-processor.ts'

/** Real SDK spans covering every field the encoder writes, from two resources and three scopes. */
function sampleSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter()
  const provider = (service: string) =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'service.version': '1.2.3', pid: 42 }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    })
  const gateway = provider('shopstack-gateway')
  const catalog = provider('shopstack-catalog')
  const tracer = gateway.getTracer('shopstack', '0.1.0')
  const server = tracer.startSpan('GET /catalog/:id', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      ratio: 0.25,
      cached: false,
      tags: ['a', 'b "quoted"'],
      ports: [8000, 8001],
      'weird\nkey': 'line\u2028separator \\ "and" \u0000 control',
    },
  })
  server.addEvent('shopstack.fault.latency', { 'shopstack.fault.delay_ms': 12 })
  server.recordException(new Error('boom "quoted"'))
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said 503' })
  const link: Link = {
    context: {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      traceState: new TraceState('vendor=value'),
    },
    attributes: { reason: 'retry' },
  }
  const client = tracer.startSpan(
    'GET /catalog/:id',
    { kind: SpanKind.CLIENT, links: [link] },
    // A child of the server span, in a context that also carries a trace state.
    (() => {
      const { trace, context } = require('@opentelemetry/api') as typeof import('@opentelemetry/api')
      const parent = trace.wrapSpanContext({ ...server.spanContext(), traceState: new TraceState('k=v') })
      return trace.setSpan(context.active(), parent)
    })(),
  )
  client.setStatus({ code: SpanStatusCode.OK })
  client.end()
  server.end()
  gateway.getTracer('other-scope').startSpan('internal work').end()
  gateway.getTracer('versionless').startSpan('no version', { kind: SpanKind.INTERNAL }).end()
  catalog.getTracer('shopstack', '0.1.0').startSpan('SELECT products', { kind: SpanKind.CLIENT }).end()
  return memory.getFinishedSpans()
}

describe('encodeSpans', () => {
  test("writes the same document as OpenTelemetry's own JSON serializer", () => {
    const spans = sampleSpans()
    expect(spans).toHaveLength(5)
    const ours = JSON.parse(encodeSpans(spans))
    const theirs = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)))
    expect(ours).toEqual(theirs)
    // And not trivially: both resources, every scope, the events, links and parents are there.
    expect(ours.resourceSpans).toHaveLength(2)
    expect(ours.resourceSpans[0].scopeSpans).toHaveLength(3)
    const [client, server] = ours.resourceSpans[0].scopeSpans[0].spans
    expect(client.parentSpanId).toBe(server.spanId)
    expect(client.links[0].traceState).toBe('vendor=value')
    expect(server.events.map((e: { name: string }) => e.name)).toEqual([
      'shopstack.fault.latency',
      'exception',
    ])
  })

  test('writes "spanId" once per span, which is what the bench sink counts', () => {
    const spans = sampleSpans().filter((span) => span.links.length === 0)
    expect(encodeSpans(spans).split('"spanId":"').length - 1).toBe(spans.length)
  })

  test('nanosecond timestamps are exact decimal strings (beyond 2^53, so not via a Number)', () => {
    const nanos = (...times: Array<[number, number]>) => {
      const w = new ByteWriter(16)
      for (const time of times) w.nanos(time)
      return new TextDecoder().decode(w.take())
    }
    expect(nanos([1_764_172_800, 5])).toBe('"1764172800000000005"')
    // The seconds' digits are kept between calls; the fraction must still be each call's own.
    expect(nanos([1_764_172_800, 999_999_999], [1_764_172_800, 0], [1_764_172_801, 10])).toBe(
      '"1764172800999999999""1764172800000000000""1764172801000000010"',
    )
    expect(nanos([0, 1234])).toBe('"1234"')
  })

  test('an empty batch is a valid request', () => {
    expect(JSON.parse(encodeSpans([]))).toEqual({ resourceSpans: [] })
  })
})

describe('createOtlpSpanProcessor', () => {
  const servers: Array<{ stop(force?: boolean): void }> = []
  afterEach(() => {
    for (const server of servers.splice(0)) server.stop(true)
  })

  /** A receiver answering each POST with the next status from `statuses` (then 200). */
  function receiver(statuses: number[] = [], headers: Record<string, string> = {}) {
    const received: Array<{ body: string; headers: Headers }> = []
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        received.push({ body: await request.text(), headers: request.headers })
        return new Response('{}', { status: statuses.shift() ?? 200, headers })
      },
    })
    servers.push(server)
    return { url: `http://127.0.0.1:${server.port}/v1/traces`, received }
  }

  const endAll = (processor: SpanProcessor, spans: ReadableSpan[]) => {
    for (const span of spans) processor.onEnd(span)
  }

  test('sends what ended as one JSON document with the configured headers', async () => {
    const sink = receiver()
    const processor = createOtlpSpanProcessor({ url: sink.url, headers: { authorization: 'Bearer t0ken' } })
    const spans = sampleSpans()
    endAll(processor, spans)
    await processor.forceFlush()
    expect(sink.received).toHaveLength(1)
    const [request] = sink.received
    expect(request?.headers.get('content-type')).toBe('application/json')
    expect(request?.headers.get('authorization')).toBe('Bearer t0ken')
    expect(JSON.parse(request?.body ?? '')).toEqual(JSON.parse(encodeSpans(spans)))
    expect(processor.failedSpans()).toBe(0)
  })

  test('a full batch goes at once, the rest after the scheduled delay', async () => {
    const sink = receiver()
    const processor = createOtlpSpanProcessor({
      url: sink.url,
      maxExportBatchSize: 2,
      scheduledDelayMillis: 50,
    })
    // (Spans without links: a link's spanId would be counted too.)
    const spans = sampleSpans().filter((span) => span.links.length === 0)
    endAll(processor, spans.slice(0, 3))
    for (let i = 0; i < 50 && sink.received.length < 1; i++) await Bun.sleep(2)
    expect(sink.received).toHaveLength(1)
    expect(sink.received[0]?.body.split('"spanId":"').length).toBe(3)
    // The third span waits for the delay, not for a second full batch.
    for (let i = 0; i < 100 && sink.received.length < 2; i++) await Bun.sleep(5)
    expect(sink.received).toHaveLength(2)
  })

  test('spans beyond maxQueueSize are dropped and counted while the endpoint is stuck', async () => {
    let release: () => void = () => {}
    const stuck = new Promise<void>((resolve) => {
      release = resolve
    })
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch() {
        await stuck
        return new Response('{}')
      },
    })
    servers.push(server)
    const processor = createOtlpSpanProcessor({
      url: `http://127.0.0.1:${server.port}/v1/traces`,
      maxQueueSize: 4,
      maxExportBatchSize: 2,
      maxConcurrentExports: 1,
    })
    const spans = sampleSpans()
    // 2 go out in the stuck request, 4 wait, the rest are dropped.
    endAll(processor, [...spans, ...spans])
    expect(processor.droppedSpans()).toBe(10 - 2 - 4)
    expect(processor.pendingSpans()).toBe(6)
    release()
    await processor.forceFlush()
    expect(processor.pendingSpans()).toBe(0)
    expect(processor.failedSpans()).toBe(0)
  })

  test('retries 503 and 429 (honouring Retry-After), then succeeds', async () => {
    const sink = receiver([503, 429], { 'retry-after': '0' })
    const delays: number[] = []
    const processor = createOtlpSpanProcessor({ url: sink.url, sleep: async (ms) => void delays.push(ms) })
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(sink.received).toHaveLength(3)
    expect(delays).toEqual([0, 0])
    expect(processor.failedSpans()).toBe(0)
  })

  test('a 400 fails the batch at once and its spans are counted as failed', async () => {
    const sink = receiver([400])
    const processor = createOtlpSpanProcessor({ url: sink.url })
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(sink.received).toHaveLength(1)
    expect(processor.failedSpans()).toBe(5)
  })

  test('an unreachable endpoint is retried with backoff until the timeout, then fails', async () => {
    const sink = receiver()
    for (const server of servers.splice(0)) server.stop(true)
    const delays: number[] = []
    const processor = createOtlpSpanProcessor({
      url: sink.url,
      timeoutMs: 2000,
      backoffMs: 100,
      sleep: (ms) => {
        delays.push(ms)
        return Bun.sleep(ms)
      },
    })
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(delays.slice(0, 3)).toEqual([100, 200, 400])
    expect(processor.failedSpans()).toBe(5)
  })

  test('failed exports are logged as a warning, at most once per interval, without credentials', async () => {
    const sink = receiver([400, 400, 400])
    const url = sink.url.replace('http://', 'http://user:secret@')
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = []
    let clock = 0
    const processor = createOtlpSpanProcessor({
      url,
      now: () => clock,
      warnIntervalMs: 30_000,
      warn: (fields, message) => void warnings.push({ fields: { ...fields }, message }),
    })
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.message).toBe('spans could not be exported and were dropped')
    expect(warnings[0]?.fields).toEqual({
      endpoint: sink.url,
      spans_lost: 5,
      reason: 'export_failed',
      error: 'HTTP 400',
    })
    expect(JSON.stringify(warnings)).not.toContain('secret')

    // Within the interval: counted, not logged; after it, one line with what was lost since.
    clock = 10_000
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(warnings).toHaveLength(1)
    clock = 40_000
    endAll(processor, sampleSpans())
    await processor.forceFlush()
    expect(warnings).toHaveLength(2)
    expect(warnings[1]?.fields.spans_lost).toBe(10)
  })

  test('shutdown sends what waits; spans ending after it are dropped and counted', async () => {
    const sink = receiver()
    const processor = createOtlpSpanProcessor({ url: sink.url, scheduledDelayMillis: 60_000 })
    const spans = sampleSpans()
    endAll(processor, spans)
    await processor.shutdown()
    expect(sink.received).toHaveLength(1)
    endAll(processor, spans)
    expect(processor.droppedSpans()).toBe(5)
  })
})
