// The SDK's BatchSpanProcessor, counted as our OTLP span processor is: for tests that read spans
// in memory (an InMemorySpanExporter). tracing.ts loads it only then, so a service never pays for
// the SDK at start-up.

import type { Context } from '@opentelemetry/api'
import type { ExportResult } from '@opentelemetry/core'
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'
import type { CountedProcessor } from './tracing.ts'

interface BatchConfig {
  maxQueueSize: number
  maxExportBatchSize: number
  scheduledDelayMillis: number
}

/**
 * A BatchSpanProcessor whose queue is counted from outside, through the exporter it is given: the
 * SDK takes a batch out of its queue and hands it to `export` in one step, so the spans queued are
 * those accepted minus those handed over, and a span that arrives at a full queue is dropped (the
 * SDK only logs that).
 */
export function createCountingBatchProcessor(exporter: SpanExporter, config: BatchConfig): CountedProcessor {
  let accepted = 0
  let handedOver = 0
  let dropped = 0
  let stopped = false
  const counted: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      handedOver += spans.length
      exporter.export(spans, done)
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  }
  const batch = new BatchSpanProcessor(counted, config)
  return {
    onStart: (span: Span, parent: Context) => batch.onStart(span, parent),
    onEnd(span: ReadableSpan) {
      // As the SDK: a span that is not sampled, or ends after shutdown, is not queued.
      if (!stopped && (span.spanContext().traceFlags & 1) === 1) {
        if (accepted - handedOver >= config.maxQueueSize) dropped++
        else accepted++
      }
      batch.onEnd(span)
    },
    forceFlush: () => batch.forceFlush(),
    shutdown() {
      stopped = true
      return batch.shutdown()
    },
    droppedSpans: () => dropped,
    failedSpans: () => 0,
    pendingSpans: () => accepted - handedOver,
  }
}
