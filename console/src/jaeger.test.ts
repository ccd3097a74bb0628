import { describe, expect, test } from 'bun:test'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { toJaegerTrace } from './jaeger.ts'
import { decodeTraces } from './otlp.ts'
import { parsed, sdkShop, storesClosedAfterEach, tracesBody } from './sdk-fixtures.ts'

const openStore = storesClosedAfterEach()

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

/**
 * A failed `POST /cart/add`, recorded with OpenTelemetry JS: the gateway's SERVER span (ERROR, an
 * exception event, attributes of every type) → its CLIENT span → the cart's SERVER span (OK) →
 * an INTERNAL span in the cart.
 */
function failedCartAdd(): ReadableSpan[] {
  const shop = sdkShop(['gateway', 'cart'])
  const gateway = shop.tracer('gateway')
  const cart = shop.tracer('cart')
  // No context manager is registered here, so each parent is passed explicitly.
  const under = (span: ReturnType<typeof gateway.startSpan>) => trace.setSpan(ROOT_CONTEXT, span)

  const server = gateway.startSpan('POST /cart/add', { kind: SpanKind.SERVER, startTime: T0 }, ROOT_CONTEXT)
  server.setAttributes({
    'http.request.method': 'POST',
    'http.route': '/cart/add',
    'http.response.status_code': 502,
    'shopstack.retry.delay_ms': 12.5,
    'shopstack.cart.existed': false,
    'shopstack.upstreams': ['cart', 'catalog'],
  })
  const client = gateway.startSpan('POST', { kind: SpanKind.CLIENT, startTime: T0 + 1 }, under(server))
  const cartServer = cart.startSpan(
    'POST /cart/add',
    { kind: SpanKind.SERVER, startTime: T0 + 2 },
    under(client),
  )
  cartServer.setStatus({ code: SpanStatusCode.OK })
  const internal = cart.startSpan(
    'validate',
    { kind: SpanKind.INTERNAL, startTime: T0 + 3 },
    under(cartServer),
  )
  internal.addEvent('checked', { event: 'validation', lines: 2 }, T0 + 4)
  internal.end(T0 + 5.25)
  cartServer.end(T0 + 40)
  client.end(T0 + 41)
  const failure = new TypeError('cart answered 500')
  failure.stack = 'TypeError: cart answered 500\n    at proxy (gateway/src/proxy.ts:42:11)'
  server.recordException(failure, T0 + 41.5)
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream cart answered 500' })
  server.end(T0 + 42)
  return shop.spans()
}

/** Stored as the receiver stores them: serialized by OpenTelemetry JS, decoded by otlp.ts. */
function stored(spans: ReadableSpan[]) {
  const store = openStore()
  const decoded = decodeTraces(parsed(tracesBody(spans)))
  expect(decoded.rejected).toBe(0)
  store.insertSpans(decoded.rows)
  const traceId = spans[0]?.spanContext().traceId ?? ''
  return { traceId, rows: store.trace(traceId) }
}

const idOf = (spans: ReadableSpan[], name: string, service: string) =>
  spans.find((s) => s.name === name && s.resource.attributes['service.name'] === service)?.spanContext()
    .spanId ?? 'missing'

describe('toJaegerTrace', () => {
  test("answers a stored trace in Jaeger's shape, field by field", () => {
    const spans = failedCartAdd()
    const { traceId, rows } = stored(spans)
    const answer = toJaegerTrace(traceId.toUpperCase(), rows)
    const gatewayServer = idOf(spans, 'POST /cart/add', 'gateway')
    const gatewayClient = idOf(spans, 'POST', 'gateway')
    const cartServer = idOf(spans, 'POST /cart/add', 'cart')
    const validate = idOf(spans, 'validate', 'cart')

    expect(answer?.data).toHaveLength(1)
    const [jaeger] = answer?.data ?? []
    expect(jaeger?.traceID).toBe(traceId)
    expect(jaeger?.processes).toEqual({
      p1: { serviceName: 'gateway', tags: [] },
      p2: { serviceName: 'cart', tags: [] },
    })
    const [root, client, server, internal] = jaeger?.spans ?? []

    expect(root).toEqual({
      traceID: traceId,
      spanID: gatewayServer,
      operationName: 'POST /cart/add',
      references: [],
      startTime: T0 * 1000,
      duration: 42_000,
      tags: [
        { key: 'http.request.method', type: 'string', value: 'POST' },
        { key: 'http.route', type: 'string', value: '/cart/add' },
        { key: 'http.response.status_code', type: 'int64', value: 502 },
        { key: 'shopstack.retry.delay_ms', type: 'float64', value: 12.5 },
        { key: 'shopstack.cart.existed', type: 'bool', value: false },
        { key: 'shopstack.upstreams', type: 'string', value: '["cart","catalog"]' },
        { key: 'span.kind', type: 'string', value: 'server' },
        { key: 'otel.status_code', type: 'string', value: 'ERROR' },
        { key: 'error', type: 'bool', value: true },
        { key: 'otel.status_description', type: 'string', value: 'upstream cart answered 500' },
      ],
      logs: [
        {
          timestamp: T0 * 1000 + 41_500,
          fields: [
            { key: 'event', type: 'string', value: 'exception' },
            { key: 'exception.type', type: 'string', value: 'TypeError' },
            { key: 'exception.message', type: 'string', value: 'cart answered 500' },
            {
              key: 'exception.stacktrace',
              type: 'string',
              value: 'TypeError: cart answered 500\n    at proxy (gateway/src/proxy.ts:42:11)',
            },
          ],
        },
      ],
      processID: 'p1',
      warnings: null,
    })

    expect(client).toMatchObject({
      spanID: gatewayClient,
      operationName: 'POST',
      references: [{ refType: 'CHILD_OF', traceID: traceId, spanID: gatewayServer }],
      startTime: T0 * 1000 + 1000,
      duration: 40_000,
      // UNSET status: no status tags, no error.
      tags: [{ key: 'span.kind', type: 'string', value: 'client' }],
      logs: [],
      processID: 'p1',
      warnings: null,
    })
    expect(server).toMatchObject({
      spanID: cartServer,
      references: [{ refType: 'CHILD_OF', traceID: traceId, spanID: gatewayClient }],
      tags: [
        { key: 'span.kind', type: 'string', value: 'server' },
        { key: 'otel.status_code', type: 'string', value: 'OK' },
      ],
      processID: 'p2',
    })
    expect(internal).toMatchObject({
      spanID: validate,
      references: [{ refType: 'CHILD_OF', traceID: traceId, spanID: cartServer }],
      startTime: T0 * 1000 + 3000,
      // 2.25 ms, in whole microseconds.
      duration: 2250,
      tags: [{ key: 'span.kind', type: 'string', value: 'internal' }],
      // An `event` attribute stands for the event's name, as the OpenTelemetry → Jaeger mapping says.
      logs: [
        {
          timestamp: T0 * 1000 + 4000,
          fields: [
            { key: 'event', type: 'string', value: 'validation' },
            { key: 'lines', type: 'int64', value: 2 },
          ],
        },
      ],
      processID: 'p2',
    })
    for (const span of jaeger?.spans ?? []) {
      expect(Number.isInteger(span.startTime)).toBe(true)
      expect(Number.isInteger(span.duration)).toBe(true)
    }
  })

  test('a span whose parent is not in the trace has no reference and a warning naming the parent', () => {
    const spans = failedCartAdd()
    // The gateway's CLIENT span was evicted, or its batch has not arrived.
    const missing = idOf(spans, 'POST', 'gateway')
    const { traceId, rows } = stored(spans.filter((s) => s.spanContext().spanId !== missing))
    const converted = toJaegerTrace(traceId, rows)?.data[0]?.spans ?? []
    const orphan = converted.find((s) => s.spanID === idOf(spans, 'POST /cart/add', 'cart'))
    expect(orphan?.references).toEqual([])
    expect(orphan?.warnings).toEqual([
      `invalid parent span IDs=${missing}; the parent span is not in this trace`,
    ])
    expect(converted.filter((s) => s.warnings !== null)).toHaveLength(1)
  })

  test('an unknown trace has no answer, so the route can say 404', () => {
    expect(toJaegerTrace('f'.repeat(32), [])).toBeUndefined()
  })
})
