// The OpenTelemetry SDK parts tracing still uses: the resource the plugin's SDK is built with
// (TRACING_MODE=plugin), and a batch processor that counts what it drops, for tests that read
// spans in memory. tracing.ts loads this module only then, so a service does not pay for the SDK
// at start-up (about 50 ms).

import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base'

export { resourceFromAttributes }

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
