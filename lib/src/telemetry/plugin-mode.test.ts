// Plugin mode in process: @elysiajs/opentelemetry makes the SERVER span, our CLIENT spans and the
// log line join it. The plugin registers OpenTelemetry globals, so this file removes them after.

import { afterAll, describe, expect, test } from 'bun:test'
import { context, propagation, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { telemetryOf } from '../plugins/request-context.ts'
import { createServiceBase } from '../service-base.ts'
import { createLogger } from './logger.ts'
import { createMetrics } from './metrics.ts'
import { RedactingSpanProcessor } from './plugin-mode.ts'
import { createTracing, SpanKind } from './tracing.ts'

afterAll(() => {
  trace.disable()
  context.disable()
  propagation.disable()
})

/** A plugin-mode app's telemetry, exporting to memory, and its log lines. */
function pluginMode(service: string) {
  const exporter = new InMemorySpanExporter()
  const tracing = createTracing({
    service: `shopstack-${service}`,
    mode: 'plugin',
    exporter,
    scheduledDelayMillis: 1,
  })
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({
    service,
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  })
  const metrics = createMetrics({ service, runtime: false })
  const app = createServiceBase({ service, version: '1', description: 'd', logger, metrics, tracing })
  return { exporter, tracing, lines, app }
}

describe('TRACING_MODE=plugin', () => {
  test('the plugin makes the SERVER span; CLIENT spans, traceresponse and the log line use it', async () => {
    const { exporter, tracing, lines, app: base } = pluginMode('t')
    expect(tracing.instrumentation).toBeDefined()
    const app = base.get('/things/:id', ({ request }) => {
      tracing.startSpan('GET /upstream', SpanKind.CLIENT, telemetryOf(request).span).end()
      // A returned Response keeps set.status at 200; the span must still say 404.
      return new Response('no such thing', { status: 404 })
    })
    const incoming = '4bf92f3577b34da6a3ce929d0e0e4736'
    const response = await app.handle(
      new Request('http://localhost/things/1', {
        headers: { traceparent: `00-${incoming}-00f067aa0ba902b7-01`, authorization: 'Bearer secret' },
      }),
    )
    expect(response.status).toBe(404)
    const [, traceId, serverId] = (response.headers.get('traceresponse') ?? '').split('-')
    expect(traceId).toBe(incoming)

    await Bun.sleep(10)
    await tracing.forceFlush()
    const spans = exporter.getFinishedSpans()
    const server = spans.find((s) => s.kind === SpanKind.SERVER)
    expect(server?.name).toBe('GET /things/:id')
    expect(server?.spanContext().spanId).toBe(serverId as string)
    expect(server?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7')
    expect(server?.attributes['http.response.status_code']).toBe(404)
    expect(server?.attributes['http.request.header.authorization']).toBeUndefined()
    expect(server?.resource.attributes['service.name']).toBe('shopstack-t')
    const client = spans.find((s) => s.kind === SpanKind.CLIENT)
    expect(client?.parentSpanContext?.spanId).toBe(serverId as string)
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([incoming]))
    // Exactly one SERVER span: the request plugins made none of their own.
    expect(spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(1)
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({
      trace_id: incoming,
      span_id: serverId,
      status: 404,
    })
    await tracing.shutdown()
  })
  test('a probe makes no span in plugin mode either, but still answers its ids', async () => {
    const { exporter, tracing, app } = pluginMode('p')
    const response = await app.handle(new Request('http://localhost/livez'))
    expect(response.status).toBe(200)
    expect(response.headers.get('traceresponse')).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/)
    await Bun.sleep(10)
    await tracing.forceFlush()
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    await tracing.shutdown()
  })
})

describe('RedactingSpanProcessor', () => {
  function redactingToMemory() {
    const seen: ReadableSpan[] = []
    const next = {
      onStart() {},
      onEnd: (s: ReadableSpan) => void seen.push(s),
      forceFlush: async () => {},
      shutdown: async () => {},
    }
    return { seen, redacting: new RedactingSpanProcessor(next) }
  }

  test('hands on a view without credentials and bodies, and leaves the span itself as it was', () => {
    const { seen, redacting } = redactingToMemory()
    const attributes = Object.freeze({
      'http.route': '/x',
      'http.request.header.authorization': 'Bearer s',
      'http.request.body': '{}',
    })
    const span = {
      name: 'GET /x',
      attributes,
      spanContext: () => ({ traceId: 't', spanId: 's', traceFlags: 1 }),
    }
    redacting.onEnd(span as unknown as ReadableSpan)
    const [view] = seen as [ReadableSpan]
    expect(view.attributes).toEqual({ 'http.route': '/x' })
    expect(view.name).toBe('GET /x')
    expect(view.spanContext().spanId).toBe('s')
    expect(span.attributes).toBe(attributes)
    expect(Object.keys(attributes)).toHaveLength(3)
  })

  test('a span with nothing to redact is handed on as it is', () => {
    const { seen, redacting } = redactingToMemory()
    const span = { attributes: { 'http.route': '/x' } } as unknown as ReadableSpan
    redacting.onEnd(span)
    expect(seen[0]).toBe(span)
  })
})
