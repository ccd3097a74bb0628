// The opt-in tracing mode (TRACING_MODE=plugin): @elysiajs/opentelemetry makes the SERVER span of
// every request (plus one span per lifecycle hook), and our tracer keeps making the CLIENT spans
// for upstream calls and store queries as children of it, so a request is still one trace.
//
// The plugin starts @opentelemetry/sdk-node, which registers a global tracer provider, context
// manager (AsyncLocalStorage) and propagator. Left to its defaults the SDK would also read
// OTEL_* variables and build exporters of its own (OTLP traces and logs to localhost:4318), so it
// is given an explicit list of span processors — the tracer's counted OTLP span processor
// (otlp-exporter.ts), or none when tracing is off — and no log processors or resource detectors.
//
// Globals mean one plugin-mode app per process: a second one finds the provider already
// registered and exports through the first one's processor. Services run one app per process.
//
// Why it is not the default: measured with `bun run bench`, see bench/README.md.

import { opentelemetry } from '@elysiajs/opentelemetry'
import type { Context } from '@opentelemetry/api'
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { isProbeUrl } from '../health.ts'
import type { Tracing } from './tracing.ts'

export interface OtelPluginOptions {
  /** service.name on the plugin's tracer (the resource carries the full set). */
  service: string
  tracing: Tracing
}

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

class RedactingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}
  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext)
  }
  onEnd(span: ReadableSpan): void {
    // A ReadableSpan's attributes are read-only by type, but the SDK (2.0, pinned) hands the span's
    // own object here, before any exporter sees it.
    const attributes = span.attributes as Record<string, unknown>
    for (const key of REDACTED_ATTRIBUTES) delete attributes[key]
    this.next.onEnd(span)
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush()
  }
  shutdown(): Promise<void> {
    return this.next.shutdown()
  }
}

export function createOtelPlugin(options: OtelPluginOptions) {
  const { service, tracing } = options
  const sdk = tracing.sdk
  return opentelemetry({
    // The SDK sets service.name from this over the resource's; keep the resource's.
    serviceName: String(sdk?.resource.attributes['service.name'] ?? service),
    resource: sdk?.resource,
    autoDetectResources: false,
    // Explicit, and empty when tracing is off: never the SDK's OTEL_* defaults.
    spanProcessors: (sdk?.spanProcessors ?? []).map((processor) => new RedactingSpanProcessor(processor)),
    logRecordProcessors: [],
    instrumentations: [],
    // Probes make no trace unless TRACE_PROBES=true; the service plugin still answers them.
    ...(tracing.traceProbes ? {} : { checkIfShouldTrace: (request: Request) => !isProbeUrl(request.url) }),
  })
}
