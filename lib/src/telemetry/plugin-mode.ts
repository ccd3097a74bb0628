// TRACING_MODE=plugin: the Tracing interface (tracing.ts) implemented with @elysiajs/opentelemetry.
// The plugin makes the SERVER span of every request (plus a span per lifecycle hook, which is why
// it is not the default: bench/README.md, "What this says"); our CLIENT and store spans are started
// from the global API as its children, so a request is still one trace, exported through the same
// counted processor as the lean mode's.
//
// The plugin starts @opentelemetry/sdk-node, which registers a global tracer provider, context
// manager (AsyncLocalStorage) and propagator: one plugin-mode app per process (services run one).
// Left to its defaults the SDK would read OTEL_* variables and build exporters of its own, so it is
// given an explicit processor list and no log processors or resource detectors.

import { opentelemetry } from '@elysiajs/opentelemetry'
import { type Attributes, type Context, context as contextApi, type Span, trace } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import type { ReadableSpan, Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Elysia } from 'elysia'
import { isProbeUrl } from '../health.ts'
import { type CountedProcessor, completeServerSpan, shutdownWhenEnded, type Tracing } from './tracing.ts'

/**
 * The plugin records every request header and both bodies as span attributes. Credentials and
 * bodies (which can carry personal data) never leave the process: they are removed before export.
 */
export const REDACTED_ATTRIBUTES = [
  'http.request.header.authorization',
  'http.request.header.cookie',
  'http.request.header.proxy-authorization',
  'http.request.cookie',
  'http.response.header.set-cookie',
  'http.request.body',
  'http.response.body',
]

/** Hands the next processor a view of each span without the redacted attributes; the span itself is left as it is. */
export class RedactingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}
  onStart(span: SdkSpan, parentContext: Context): void {
    this.next.onStart(span, parentContext)
  }
  onEnd(span: ReadableSpan): void {
    let kept: Attributes | undefined
    for (const key of REDACTED_ATTRIBUTES) {
      if (!(key in span.attributes)) continue
      kept ??= { ...span.attributes }
      delete kept[key]
    }
    // A view: the span's own fields and methods through the prototype, its attributes replaced.
    this.next.onEnd(kept ? Object.create(span, { attributes: { value: kept, enumerable: true } }) : span)
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush()
  }
  shutdown(): Promise<void> {
    return this.next.shutdown()
  }
}

/** The plugin's SERVER span, captured on the request before any hook span becomes the active one. */
const SERVER_SPAN = Symbol('shopstack.server-span')
type TaggedRequest = Request & { [SERVER_SPAN]?: Span }

export interface PluginTracingOptions {
  version: string
  resourceAttributes: Attributes
  processor: CountedProcessor
  traceProbes: boolean
  /** What every enabled mode shares (tracing.ts): ids, propagation and the processor's counters. */
  common: Pick<
    Tracing,
    | 'enabled'
    | 'traceProbes'
    | 'extract'
    | 'inject'
    | 'startUnrecorded'
    | 'droppedSpans'
    | 'failedSpans'
    | 'pendingSpans'
    | 'forceFlush'
  >
}

export function createPluginTracing(options: PluginTracingOptions): Tracing {
  const { version, resourceAttributes, processor, traceProbes, common } = options
  let open = 0
  const openSpans: SpanProcessor = {
    onStart: () => void open++,
    onEnd: () => void open--,
    forceFlush: async () => {},
    shutdown: async () => {},
  }
  const instrumentation = new Elysia({ name: '@shopstack/plugin-mode' })
    .use(
      opentelemetry({
        // The SDK sets service.name from this over the resource's; keep the resource's.
        serviceName: String(resourceAttributes['service.name']),
        resource: resourceFromAttributes(resourceAttributes),
        autoDetectResources: false,
        spanProcessors: [openSpans, new RedactingSpanProcessor(processor)],
        logRecordProcessors: [],
        instrumentations: [],
        // Probes make no trace unless TRACE_PROBES=true; the request plugins still answer them.
        ...(traceProbes ? {} : { checkIfShouldTrace: (request: Request) => !isProbeUrl(request.url) }),
      }),
    )
    // Trace listeners run when a request starts, before any hook: the active span is still the
    // plugin's root span (it later makes each hook's span the active one).
    .trace({ as: 'global' }, function captureServerSpan({ context }) {
      const span = trace.getActiveSpan()
      if (span) (context.request as TaggedRequest)[SERVER_SPAN] = span
    })
  // The API's proxy tracer delegates to the plugin's provider once it is registered.
  const tracer = trace.getTracer('shopstack', version)
  const root = contextApi.active()
  return {
    ...common,
    instrumentation,
    startSpan(name, kind, parent, attributes) {
      const ctx =
        parent === undefined
          ? root
          : 'spanContext' in parent
            ? trace.setSpan(root, parent)
            : trace.setSpanContext(root, parent)
      return tracer.startSpan(name, { kind, attributes }, ctx)
    },
    startServerSpan: (request, parent) =>
      (request as TaggedRequest)[SERVER_SPAN] ?? common.startUnrecorded(parent),
    // The plugin names the span after the route and ends it after this hook.
    endServerSpan: (span, _request, _route, status, requestId, error) =>
      completeServerSpan(span, status, requestId, error),
    shutdown: () => shutdownWhenEnded(() => open, processor),
  }
}
