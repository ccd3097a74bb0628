// The span export's own metrics: spans that never reach the backend are counted, not silent.

import type { Metrics } from './metrics.ts'
import type { Tracing } from './tracing.ts'

/**
 * otel_spans_dropped_total{reason}: dropped because the export queue was full (`queue_full`), or
 * lost with a batch whose export failed (`export_failed`); otel_spans_pending: ended, not yet sent.
 */
export function countDroppedSpans(metrics: Metrics, tracing: Tracing): void {
  const sources = { queue_full: tracing.droppedSpans, export_failed: tracing.failedSpans }
  const reported = { queue_full: 0, export_failed: 0 }
  metrics.counter(
    'otel_spans_dropped_total',
    'Spans that were not exported: the export queue was full, or their export failed.',
    ['reason'],
    function () {
      // Counters only go up: add the growth since the previous scrape (both series exist from 0).
      for (const reason of ['queue_full', 'export_failed'] as const) {
        const now = sources[reason]()
        this.inc({ reason }, now - reported[reason])
        reported[reason] = now
      }
    },
  )
  metrics.gauge(
    'otel_spans_pending',
    'Spans ended and not yet accepted by the OTLP endpoint (queued, or being sent).',
    [],
    function () {
      this.set(tracing.pendingSpans())
    },
  )
}
