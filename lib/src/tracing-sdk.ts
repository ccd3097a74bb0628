// The OpenTelemetry SDK side of tracing: a batch processor that counts what it drops, the provider
// and the W3C propagator (the exporter is otlp-exporter.ts). tracing.ts loads this module only when
// tracing is on, so a service with tracing off does not pay for it (about 50 ms of start-up).

import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'

export { BasicTracerProvider, resourceFromAttributes, W3CTraceContextPropagator }

/** Counts what the batch processor throws away when its queue is full (the SDK only logs it). */
export class CountingBatchSpanProcessor extends BatchSpanProcessor {
  dropped = 0
  readonly #maxQueueSize: number
  constructor(exporter: SpanExporter, config: ConstructorParameters<typeof BatchSpanProcessor>[1] & {}) {
    super(exporter, config)
    this.#maxQueueSize = config.maxQueueSize ?? 2048
  }
  override onEnd(span: ReadableSpan): void {
    // `_finishedSpans` is the SDK's queue (sdk-trace-base 2.0, pinned); reading its length is the
    // only way to know a span is about to be dropped.
    const queued = (this as unknown as { _finishedSpans: unknown[] })._finishedSpans.length
    if (queued >= this.#maxQueueSize) this.dropped++
    super.onEnd(span)
  }
}
