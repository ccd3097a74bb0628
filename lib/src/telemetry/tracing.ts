// The one tracing interface every service is handed, shaped like the OpenTelemetry API's
// TracerProvider and Tracer, with a span's parent passed explicitly instead of through an async
// context (no AsyncLocalStorage or Context objects on the hot path). Three implementations, chosen
// once here, so no service or plugin branches on the mode:
// - off (no endpoint): spans that carry ids only (flag 00), so a trace id still reaches the logs,
//   `traceresponse` and the upstreams;
// - lean (the default): our spans (span.ts) and OTLP span processor (otlp-span-processor.ts);
// - plugin (TRACING_MODE=plugin): @elysiajs/opentelemetry makes the SERVER spans (plugin-mode.ts).
// Why lean is the default: bench/README.md, "What this says". Nothing is registered globally
// (except by the plugin), so every app and test owns its tracer.

import { type Attributes, type Span, type SpanContext, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { AnyElysia } from 'elysia'
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
  /** Queue and batch sizes (spans) and the longest wait for a batch (ms); what is dropped or lost is
   * counted in otel_spans_dropped_total (the defaults held the bench's load: bench/README.md). */
  maxQueueSize?: number
  maxExportBatchSize?: number
  scheduledDelayMillis?: number
  /** Where a rate-limited warning goes when spans are lost (the service's logger). */
  warn?: OtlpProcessorOptions['warn']
  /** The lean spans' clocks: monotonic and wall, in milliseconds (performance.now, Date.now). */
  now?: () => number
  wallNow?: () => number
}

/** Shaped like the API's Tracer: what code that makes spans calls. */
export interface Tracer {
  /** Start a span as a child of `parent` (a span, or a caller's span context), or a root span. */
  startSpan(
    name: string,
    kind: SpanKind,
    parent: Span | SpanContext | undefined,
    attributes?: Attributes,
  ): Span
  /**
   * A span that only carries ids, never recorded (trace flags 00), continuing `parent`'s trace or
   * starting a new one: for requests that are not traced (probes), and every request with tracing off.
   */
  startUnrecorded(parent: SpanContext | undefined): Span
  /** A request's SERVER span, continuing `parent` (the caller's context). */
  startServerSpan(request: Request, parent: SpanContext | undefined): Span
  /**
   * Complete a recording SERVER span once the response is sent: its route, status, request id and
   * failure (semantic conventions), then end it unless the plugin that made it ends it.
   */
  endServerSpan(
    span: Span,
    request: Request,
    route: string,
    status: number,
    requestId: string,
    error: unknown,
  ): void
}

/** Shaped like the API's TracerProvider, plus what a service needs of its export. */
export interface Tracing extends Tracer {
  /**
   * False when no endpoint is configured: nothing is recorded or exported, and callers skip the
   * spans that would only describe work (CLIENT, store).
   */
  readonly enabled: boolean
  /** Whether probe requests (/livez, /healthz, /readyz, /metrics) get spans (TRACE_PROBES). */
  readonly traceProbes: boolean
  /** The caller's span context from a `traceparent` header, if it sent a valid one. */
  extract(headers: Headers): SpanContext | undefined
  /** Write `traceparent` (and `tracestate`) naming `span` as the parent into `headers`. */
  inject(span: Span, headers: Headers): void
  /** An Elysia plugin the app mounts before any other (plugin mode: @elysiajs/opentelemetry). */
  readonly instrumentation?: AnyElysia
  /** Spans dropped because the export queue was full. */
  droppedSpans(): number
  /** Spans lost because their export failed (after the processor's retries). */
  failedSpans(): number
  /** Spans ended and not yet exported (queued or being sent). */
  pendingSpans(): number
  forceFlush(): Promise<void>
  shutdown(): Promise<void>
}

/** A span processor that counts what it could not export. */
export type CountedProcessor = SpanProcessor & {
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
  const resourceAttributes = Object.freeze({
    'service.name': service,
    'service.version': version,
    'deployment.environment': environment,
    'deployment.environment.name': environment,
  })
  const resource = Object.freeze({ attributes: resourceAttributes })
  const scope = Object.freeze({ name: 'shopstack', version })
  // The always-off sampler makes every span context-only and hands none to its sink.
  const unrecorded = new LeanTracer({ resource, scope, sink: NO_SINK, sampling: { sampler: 'always_off' } })
  const startUnrecorded = (parent: SpanContext | undefined) =>
    unrecorded.startSpan('', SpanKind.SERVER, parent)
  if (!options.exporter && !endpoint) {
    return {
      enabled: false,
      traceProbes,
      extract: extractContext,
      inject: injectContext,
      startSpan: (name, kind, parent) => unrecorded.startSpan(name, kind, parent),
      startUnrecorded,
      startServerSpan: (request, parent) => unrecorded.startSpan(request.method, SpanKind.SERVER, parent),
      // Its spans never record, so there is nothing to complete.
      endServerSpan: () => {},
      droppedSpans: () => 0,
      failedSpans: () => 0,
      pendingSpans: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    }
  }

  // A given exporter (tests) gets the SDK's batch processor, counted the same way. Bun's
  // synchronous require keeps createTracing synchronous and the SDK out of a service's start-up.
  const processor: CountedProcessor = options.exporter
    ? (
        require('./sdk-batch-processor.ts') as typeof import('./sdk-batch-processor.ts')
      ).createCountingBatchProcessor(options.exporter, {
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
  const common = {
    enabled: true,
    traceProbes,
    extract: extractContext,
    inject: injectContext,
    startUnrecorded,
    droppedSpans: () => processor.droppedSpans(),
    failedSpans: () => processor.failedSpans(),
    pendingSpans: () => processor.pendingSpans(),
    forceFlush: () => processor.forceFlush(),
  }
  if (mode === 'plugin') {
    const { createPluginTracing } = require('./plugin-mode.ts') as typeof import('./plugin-mode.ts')
    return createPluginTracing({ version, resourceAttributes, processor, traceProbes, common })
  }

  const tracer = new LeanTracer({
    resource,
    scope,
    // The SDK's processors take these spans as they are: they carry every ReadableSpan field.
    sink: processor as unknown as { onEnd(span: unknown): void },
    sampling,
    now: options.now,
    wallNow: options.wallNow,
  })
  return {
    ...common,
    startSpan: (name, kind, parent, attributes) => tracer.startSpan(name, kind, parent, attributes),
    startServerSpan: (request, parent) => tracer.startSpan(request.method, SpanKind.SERVER, parent),
    endServerSpan(span, request, route, status, requestId, error) {
      span.updateName(`${request.method} ${route}`)
      span.setAttributes({
        'http.request.method': request.method,
        'http.route': route,
        'url.path': pathOf(request.url),
      })
      completeServerSpan(span, status, requestId, error)
      span.end()
    },
    shutdown: () => shutdownWhenEnded(() => tracer.open, processor),
  }
}

/** The always-off sampler never hands a span to its sink. */
const NO_SINK = { onEnd() {} }

/**
 * What every mode writes on a SERVER span at the end: the status (the one actually sent, which the
 * plugin reads wrongly from `set.status` when a handler returns a Response), the request id, and a
 * 5xx as an ERROR with its exception.
 */
export function completeServerSpan(span: Span, status: number, requestId: string, error: unknown): void {
  span.setAttribute('http.response.status_code', status)
  span.setAttribute('shopstack.request_id', requestId)
  if (status >= 500) {
    if (error instanceof Error) span.recordException(error)
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) })
  }
}

/**
 * Shut the processor down once no span is open (at most 2 s): a SERVER span ends after its
 * response is written, so spans still open at SIGTERM would otherwise be lost.
 */
export async function shutdownWhenEnded(open: () => number, processor: SpanProcessor): Promise<void> {
  const deadline = performance.now() + 2000
  while (open() > 0 && performance.now() < deadline) await Bun.sleep(5)
  await processor.shutdown()
}

/** The path of a request URL (`http://host/a/b?x` -> `/a/b`) without parsing the whole URL. */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  const query = url.indexOf('?', start)
  const hash = url.indexOf('#', start)
  const end = query === -1 ? (hash === -1 ? url.length : hash) : hash === -1 ? query : Math.min(query, hash)
  return url.slice(start, end)
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
