import { describe, expect, test } from 'bun:test'
import type { ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import { sampleValue } from '../testing.ts'
import { createMetrics } from './metrics.ts'
import { countDroppedSpans } from './span-metrics.ts'
import { createTracing, pathOf, SpanKind } from './tracing.ts'

/** An exporter that never answers, so the queue fills up. */
function stuckExporter(): SpanExporter {
  return {
    export: (_spans: ReadableSpan[], _done: (result: ExportResult) => void) => {},
    shutdown: async () => {},
  }
}

describe('createTracing', () => {
  test('without an endpoint tracing is off: spans carry ids only, marked not sampled, and record nothing', () => {
    const tracing = createTracing({ service: 's' })
    expect(tracing.enabled).toBe(false)
    const span = tracing.startSpan('GET', SpanKind.SERVER, undefined)
    expect(span.isRecording()).toBe(false)
    const headers = new Headers()
    tracing.inject(span, headers)
    const { traceId, spanId } = span.spanContext()
    expect(headers.get('traceparent')).toBe(`00-${traceId}-${spanId}-00`)
    const child = tracing.startSpan('GET', SpanKind.SERVER, tracing.extract(headers))
    expect(child.spanContext()).toMatchObject({ traceId, traceFlags: 0 })
    span.end()
    expect(tracing.droppedSpans()).toBe(0)
    expect(tracing.pendingSpans()).toBe(0)
  })

  test('spans dropped by a full export queue are counted and exposed as a metric', async () => {
    const tracing = createTracing({
      service: 's',
      exporter: stuckExporter(),
      maxQueueSize: 4,
      maxExportBatchSize: 4,
      scheduledDelayMillis: 60_000,
    })
    const metrics = createMetrics({ service: 's', runtime: false })
    countDroppedSpans(metrics, tracing)
    for (let i = 0; i < 10; i++) tracing.startSpan(`span ${i}`, SpanKind.INTERNAL, undefined).end()
    expect(tracing.droppedSpans()).toBeGreaterThanOrEqual(2)
    const text = await (await metrics.scrape(null)).text()
    expect(sampleValue(text, 'otel_spans_dropped_total', { reason: 'queue_full' })).toBe(
      tracing.droppedSpans(),
    )
    expect(sampleValue(text, 'otel_spans_dropped_total', { reason: 'export_failed' })).toBe(0)
    // The stuck exporter holds one batch; what waits behind it is pending.
    expect(sampleValue(text, 'otel_spans_pending')).toBe(tracing.pendingSpans())
    expect(tracing.pendingSpans()).toBeGreaterThan(0)
  })

  test('inject writes a W3C traceparent for the span, and extract reads it back', () => {
    const tracing = createTracing({ service: 's', exporter: stuckExporter() })
    const span = tracing.startSpan('parent', SpanKind.SERVER, undefined)
    const headers = new Headers()
    tracing.inject(span, headers)
    const { traceId, spanId } = span.spanContext()
    expect(headers.get('traceparent')).toBe(`00-${traceId}-${spanId}-01`)
    const child = tracing.startSpan('child', SpanKind.CLIENT, tracing.extract(headers))
    expect(child.spanContext().traceId).toBe(traceId)
  })
})

describe('pathOf', () => {
  test('reads the path of a request URL as new URL().pathname does', () => {
    for (const url of [
      'http://localhost/catalog/42',
      'http://127.0.0.1:8000/catalog?page=2#top',
      'http://localhost/cart/abc/items/7#x',
      'http://localhost:8000',
      'http://localhost/',
    ]) {
      expect(pathOf(url)).toBe(new URL(url).pathname)
    }
  })
})
