// A lean OpenTelemetry tracer: spans of our own on the OpenTelemetry API (span.ts: ids, sampling,
// W3C trace context propagation) with an OTLP/HTTP JSON span processor of our own
// (otlp-exporter.ts, which batches and sends what ends). Nothing is registered globally, so every
// app and test owns its tracer; and parents are passed explicitly instead of through an async
// context manager, which keeps the hot path free of AsyncLocalStorage and of API Context objects.
//
// Why not @elysiajs/opentelemetry by default: it makes a span per lifecycle hook (about four per
// service per request) and always loads @opentelemetry/sdk-node; the measured cost is in
// bench/README.md. With `mode: 'plugin'` (TRACING_MODE=plugin) the plugin makes the SERVER spans
// instead (otel-plugin.ts): this tracer then makes no spans of its own, but hands its span
// processor to the plugin's SDK and starts the CLIENT spans from the global API, so every span of
// a request lands in one trace and goes through one counted export queue.

import {
  type Attributes,
  context as contextApi,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createOtlpSpanProcessor, type OtlpProcessorOptions } from './otlp-span-processor.ts'
import type { Sampling } from './sampling.ts'
import { LeanTracer } from './span.ts'
import { extractContext, injectContext } from './trace-context.ts'

export { type Span, type SpanContext, SpanKind, SpanStatusCode }

export interface TracingOptions {
  service: string
  /** 'lean' (this tracer's spans) or 'plugin' (@elysiajs/opentelemetry makes the server spans). */
  mode?: 'lean' | 'plugin'
  version?: string
  environment?: string
  /** OTLP/HTTP base URL, e.g. http://localhost:4318 (traces go to `${endpoint}/v1/traces`). */
  endpoint?: string
  /** Headers sent with every export (authentication for a hosted backend). */
  headers?: Readonly<Record<string, string>>
  /** Which traces are recorded (OTEL_TRACES_SAMPLER); by default every root trace, and what the caller sampled. */
  sampling?: Sampling
  /** Whether probe requests (health.ts PROBE_PATHS) get spans; by default they do not. */
  traceProbes?: boolean
  /** Export through the SDK's BatchSpanProcessor to this exporter instead (tests read spans in memory). */
  exporter?: SpanExporter
  /** Queue and batch sizes (spans) and the longest wait for a batch (ms). With bun run bench, 8192 /
   * 1024 / 500 dropped nothing at ~45k spans/s from one process (the catalog serving 22k req/s with
   * two spans each); anything dropped or lost is counted in otel_spans_dropped_total. */
  maxQueueSize?: number
  maxExportBatchSize?: number
  scheduledDelayMillis?: number
  /** Where a rate-limited warning goes when spans are lost (the service's logger). */
  warn?: OtlpProcessorOptions['warn']
}

export interface Tracing {
  /**
   * False when no endpoint is configured: nothing is recorded or exported, and callers skip the
   * spans that would only describe work (CLIENT, store). startSpan still returns a span that carries
   * ids (trace flags 00), so a request's trace context is continued, logged and passed on.
   */
  readonly enabled: boolean
  readonly mode: 'lean' | 'plugin'
  /** Whether probe requests (/livez, /healthz, /readyz, /metrics) get spans (TRACE_PROBES). */
  readonly traceProbes: boolean
  /** The caller's span context from a `traceparent` header, if it sent a valid one. */
  extract(headers: Headers): SpanContext | undefined
  /** Write `traceparent` (and `tracestate`) naming `span` as the parent into `headers`. */
  inject(span: Span, headers: Headers): void
  /** Start a span as a child of `parent` (a span, or a caller's span context), or a root span. */
  startSpan(
    name: string,
    kind: SpanKind,
    parent: Span | SpanContext | undefined,
    attributes?: Attributes,
  ): Span
  /**
   * A span that only carries ids, never recorded (trace flags 00), continuing `parent`'s trace or
   * starting a new one: for requests that are not traced (probes), and for every request when
   * tracing is off.
   */
  startUnrecorded(parent: SpanContext | undefined): Span
  /** Spans dropped because the export queue was full. */
  droppedSpans(): number
  /** Spans lost because their export failed (after the exporter's retries). */
  failedSpans(): number
  /** Spans ended and not yet exported (queued or being sent). */
  pendingSpans(): number
  forceFlush(): Promise<void>
  shutdown(): Promise<void>
  /**
   * Plugin mode only: what @elysiajs/opentelemetry's SDK must be built with — this tracer's
   * counted span processor (none when tracing is off) and the service's resource.
   */
  readonly sdk?: { readonly spanProcessors: readonly SpanProcessor[]; readonly resource: Resource }
}

type CountedProcessor = SpanProcessor & {
  droppedSpans(): number
  failedSpans(): number
  pendingSpans(): number
}

export function createTracing(options: TracingOptions): Tracing {
  const {
    service,
    mode = 'lean',
    version = '0.0.0',
    environment = 'development',
    endpoint,
    sampling,
    traceProbes = false,
    maxQueueSize = 8192,
    maxExportBatchSize = 1024,
    scheduledDelayMillis = 500,
  } = options
  const resourceAttributes = {
    'service.name': service,
    'service.version': version,
    'deployment.environment': environment,
    'deployment.environment.name': environment,
  }
  const resource = Object.freeze({ attributes: Object.freeze(resourceAttributes) })
  const scope = Object.freeze({ name: 'shopstack', version })
  // Spans that carry ids and nothing else: the always-off sampler makes every one a context-only
  // span (flag 00, no attributes kept, nothing handed to a processor), so a request's trace id
  // still reaches the logs, `traceresponse` and the upstreams when nothing is recorded.
  const unrecorded = new LeanTracer({ resource, scope, sink: NO_SINK, sampling: { sampler: 'always_off' } })
  const startUnrecorded = (parent: SpanContext | undefined) =>
    unrecorded.startSpan('', SpanKind.SERVER, parent)
  if (!options.exporter && !endpoint) {
    return {
      enabled: false,
      mode,
      traceProbes,
      extract: extractContext,
      inject: injectContext,
      startSpan: (name, kind, parent) => unrecorded.startSpan(name, kind, parent),
      startUnrecorded,
      droppedSpans: () => 0,
      failedSpans: () => 0,
      pendingSpans: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    }
  }

  // Services export with the OTLP span processor (otlp-exporter.ts); a given exporter (tests) gets
  // the SDK's batch processor, counted the same way. Bun's synchronous require keeps createTracing
  // synchronous and the SDK out of start-up when it is not used.
  const sdk = () => require('./sdk-batch-processor.ts') as typeof import('./sdk-batch-processor.ts')
  const processor: CountedProcessor = options.exporter
    ? countingBatchProcessor(sdk(), options.exporter, {
        maxQueueSize,
        maxExportBatchSize,
        scheduledDelayMillis,
      })
    : createOtlpSpanProcessor({
        url: `${endpoint}/v1/traces`,
        headers: options.headers,
        warn: options.warn,
        maxQueueSize,
        maxExportBatchSize,
        scheduledDelayMillis,
      })
  const counters = {
    extract: extractContext,
    inject: injectContext,
    startUnrecorded,
    traceProbes,
    droppedSpans: () => processor.droppedSpans(),
    failedSpans: () => processor.failedSpans(),
    pendingSpans: () => processor.pendingSpans(),
    forceFlush: () => processor.forceFlush(),
  }
  if (mode === 'plugin')
    return pluginTracing(version, sdk().resourceFromAttributes(resourceAttributes), processor, counters)

  const tracer = new LeanTracer({
    resource,
    scope,
    // The SDK's processors take these spans as they are: they carry every ReadableSpan field.
    sink: processor as unknown as { onEnd(span: unknown): void },
    sampling,
  })
  return {
    enabled: true,
    mode,
    ...counters,
    startSpan: (name, kind, parent, attributes) => tracer.startSpan(name, kind, parent, attributes),
    shutdown: () => shutdownWhenEnded(() => tracer.open, processor),
  }
}

/** The always-off sampler never hands a span to its sink. */
const NO_SINK = { onEnd() {} }

/**
 * Plugin mode: the plugin's SDK registers the global provider with this processor; the API's proxy
 * tracer delegates to it once it exists, so CLIENT spans join the plugin's traces.
 */
function pluginTracing(
  version: string,
  resource: Resource,
  processor: CountedProcessor,
  counters: Omit<Tracing, 'enabled' | 'mode' | 'startSpan' | 'shutdown'>,
): Tracing {
  let open = 0
  const openSpans: SpanProcessor = {
    onStart: () => void open++,
    onEnd: () => void open--,
    forceFlush: async () => {},
    shutdown: async () => {},
  }
  const tracer = trace.getTracer('shopstack', version)
  const root = contextApi.active()
  return {
    enabled: true,
    mode: 'plugin',
    ...counters,
    startSpan(name, kind, parent, attributes) {
      const ctx =
        parent === undefined
          ? root
          : 'spanContext' in parent
            ? trace.setSpan(root, parent)
            : trace.setSpanContext(root, parent)
      return tracer.startSpan(name, { kind, attributes }, ctx)
    },
    shutdown: () => shutdownWhenEnded(() => open, processor),
    sdk: { spanProcessors: [openSpans, processor], resource },
  }
}

/**
 * Shut the processor down once no span is open (at most 2 s): a SERVER span ends after its
 * response is written, so spans still open at SIGTERM would otherwise be lost.
 */
async function shutdownWhenEnded(open: () => number, processor: SpanProcessor): Promise<void> {
  const deadline = performance.now() + 2000
  while (open() > 0 && performance.now() < deadline) await Bun.sleep(5)
  await processor.shutdown()
}

function countingBatchProcessor(
  sdk: typeof import('./sdk-batch-processor.ts'),
  exporter: SpanExporter,
  config: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMillis: number },
): CountedProcessor {
  const processor = new sdk.CountingBatchSpanProcessor(exporter, config)
  // `_finishedSpans` is the SDK's queue (sdk-trace-base 2.0, pinned), as in CountingBatchSpanProcessor.
  const queued = () => (processor as unknown as { _finishedSpans: ReadableSpan[] })._finishedSpans.length
  return Object.assign(processor, {
    droppedSpans: () => processor.dropped,
    failedSpans: () => 0,
    pendingSpans: queued,
  })
}

/** The span active in the global context (plugin mode: set by @elysiajs/opentelemetry). */
export function activeSpan(): Span | undefined {
  return trace.getActiveSpan()
}

/** Mark a span failed: record the exception and set ERROR status (OTel semantic conventions). */
export function recordFailure(span: Span, error: unknown, message?: string): void {
  if (error instanceof Error) span.recordException(error)
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: message ?? (error instanceof Error ? error.message : undefined),
  })
}

/**
 * Run `work` inside a child span of `parent` (INTERNAL by default), ending it and recording a
 * failure when `work` throws. With tracing off or no parent, `work` runs with no span at all.
 */
export async function inSpan<T>(
  tracing: Tracing,
  name: string,
  parent: Span | undefined,
  attributes: Attributes,
  work: (span: Span | undefined) => T | Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!tracing.enabled || !parent) return work(undefined)
  const span = tracing.startSpan(name, kind, parent, attributes)
  try {
    return await work(span)
  } catch (error) {
    recordFailure(span, error)
    throw error
  } finally {
    span.end()
  }
}
