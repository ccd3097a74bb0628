// A lean OpenTelemetry tracer: the OpenTelemetry API and SDK (sdk-trace-base: spans, ids,
// sampling) with an OTLP/HTTP JSON span processor of our own (otlp-exporter.ts, which batches and
// sends what ends), and W3C trace context (https://www.w3.org/TR/trace-context/) propagation done
// explicitly. Nothing is registered globally, so every app and test owns its
// tracer; and parents are passed explicitly instead of through an async context manager, which
// keeps the hot path free of AsyncLocalStorage.
//
// Why not @elysiajs/opentelemetry by default: it makes a span per lifecycle hook (about four per
// service per request) and always loads @opentelemetry/sdk-node; the measured cost is in
// bench/README.md. With `mode: 'plugin'` (TRACING_MODE=plugin) the plugin makes the SERVER spans
// instead (otel-plugin.ts): this tracer then builds no provider of its own, but hands its span
// processor to the plugin's SDK and starts the CLIENT spans from the global API, so every span of
// a request lands in one trace and goes through one counted export queue.

import {
  type Attributes,
  type Context,
  context as contextApi,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { Resource } from '@opentelemetry/resources'
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createOtlpSpanProcessor } from './otlp-exporter.ts'

export { type Context, type Span, SpanKind, SpanStatusCode }

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
  /** Export through the SDK's BatchSpanProcessor to this exporter instead (tests read spans in memory). */
  exporter?: SpanExporter
  /** Queue and batch sizes (spans) and the longest wait for a batch (ms). With bun run bench, 8192 /
   * 1024 / 500 dropped nothing at ~45k spans/s from one process (the catalog serving 22k req/s with
   * two spans each); anything dropped or lost is counted in otel_spans_dropped_total. */
  maxQueueSize?: number
  maxExportBatchSize?: number
  scheduledDelayMillis?: number
}

export interface Tracing {
  /** False when no endpoint is configured: callers skip every span, so tracing off costs nothing. */
  readonly enabled: boolean
  readonly mode: 'lean' | 'plugin'
  readonly tracer: Tracer
  /** Context carrying the caller's span, from a `traceparent` header (or the root context). */
  extract(headers: Headers): Context
  /** Write `traceparent` (and `tracestate`) naming `span` as the parent into `headers`. */
  inject(span: Span, headers: Headers): void
  /** Start a span as a child of `parent` (a Context or a Span). */
  startSpan(name: string, kind: SpanKind, parent: Context | Span | undefined, attributes?: Attributes): Span
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

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => Array.from(carrier, ([key]) => key),
}
const headerSetter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) }

export function createTracing(options: TracingOptions): Tracing {
  const {
    service,
    mode = 'lean',
    version = '0.0.0',
    environment = 'development',
    endpoint,
    maxQueueSize = 8192,
    maxExportBatchSize = 1024,
    scheduledDelayMillis = 500,
  } = options
  if (!options.exporter && !endpoint) {
    const tracer = trace.getTracer(service)
    return {
      enabled: false,
      mode,
      tracer,
      extract: () => contextApi.active(),
      inject: () => {},
      startSpan: (name) => tracer.startSpan(name),
      droppedSpans: () => 0,
      failedSpans: () => 0,
      pendingSpans: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    }
  }

  // Bun's synchronous require keeps createTracing synchronous and the SDK out of start-up when off.
  const sdk = require('./tracing-sdk.ts') as typeof import('./tracing-sdk.ts')
  const propagator = new sdk.W3CTraceContextPropagator()
  // Services export with the OTLP span processor (otlp-exporter.ts); a given exporter (tests) gets
  // the SDK's batch processor, counted the same way.
  const processor: SpanProcessor & { droppedSpans(): number; failedSpans(): number; pendingSpans(): number } =
    options.exporter
      ? countingBatchProcessor(sdk, options.exporter, {
          maxQueueSize,
          maxExportBatchSize,
          scheduledDelayMillis,
        })
      : createOtlpSpanProcessor({
          url: `${endpoint}/v1/traces`,
          headers: options.headers,
          maxQueueSize,
          maxExportBatchSize,
          scheduledDelayMillis,
        })
  // Spans still open at shutdown (a SERVER span ends after its response is written) must end
  // before the exporter is shut down, or the last requests' spans are lost.
  let open = 0
  const openSpans: SpanProcessor = {
    onStart: () => void open++,
    onEnd: () => void open--,
    forceFlush: async () => {},
    shutdown: async () => {},
  }
  const resource = sdk.resourceFromAttributes({
    'service.name': service,
    'service.version': version,
    'deployment.environment': environment,
    'deployment.environment.name': environment,
  })
  const spanProcessors = [openSpans, processor]
  // Plugin mode: the plugin's SDK registers the global provider with these processors; the API's
  // proxy tracer delegates to it once it exists, so CLIENT spans join the plugin's traces.
  const provider = mode === 'plugin' ? undefined : new sdk.BasicTracerProvider({ resource, spanProcessors })
  const tracer = provider ? provider.getTracer('shopstack', version) : trace.getTracer('shopstack', version)
  const root = contextApi.active()

  return {
    enabled: true,
    mode,
    tracer,
    extract: (headers) => propagator.extract(root, headers, headerGetter),
    inject: (span, headers) => propagator.inject(trace.setSpan(root, span), headers, headerSetter),
    startSpan(name, kind, parent, attributes) {
      const ctx = parent === undefined ? root : isSpan(parent) ? trace.setSpan(root, parent) : parent
      return tracer.startSpan(name, { kind, attributes }, ctx)
    },
    droppedSpans: () => processor.droppedSpans(),
    failedSpans: () => processor.failedSpans(),
    pendingSpans: () => processor.pendingSpans(),
    forceFlush: () => (provider ? provider.forceFlush() : processor.forceFlush()),
    async shutdown() {
      const deadline = performance.now() + 2000
      while (open > 0 && performance.now() < deadline) await Bun.sleep(5)
      await (provider ? provider.shutdown() : processor.shutdown())
    },
    ...(provider ? {} : { sdk: { spanProcessors, resource } }),
  }
}

function countingBatchProcessor(
  sdk: typeof import('./tracing-sdk.ts'),
  exporter: SpanExporter,
  config: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMillis: number },
) {
  const processor = new sdk.CountingBatchSpanProcessor(exporter, config)
  // `_finishedSpans` is the SDK's queue (sdk-trace-base 2.0, pinned), as in CountingBatchSpanProcessor.
  const queued = () => (processor as unknown as { _finishedSpans: unknown[] })._finishedSpans.length
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

function isSpan(value: Context | Span): value is Span {
  return typeof (value as Span).spanContext === 'function'
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
