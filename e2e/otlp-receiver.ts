// A test OTLP/HTTP receiver: a small Bun.serve that accepts what the OTLP/HTTP JSON exporter
// POSTs to /v1/traces and keeps the spans, flattened, for assertions.

export interface ReceivedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  name: string
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number
  attributes: Record<string, unknown>
  events: string[]
  status: number
  /** When the span started, epoch milliseconds. */
  startMs: number
}

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  boolValue?: boolean
  doubleValue?: number
}
interface OtlpAttribute {
  key: string
  value: OtlpValue
}
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] }
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string
        spanId: string
        parentSpanId?: string
        name: string
        kind: number
        startTimeUnixNano?: string
        attributes?: OtlpAttribute[]
        events?: Array<{ name: string }>
        status?: { code?: number }
      }>
    }>
  }>
}

function attributes(list: OtlpAttribute[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const { key, value } of list) {
    out[key] =
      value.stringValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue)) ??
      value.boolValue ??
      value.doubleValue
  }
  return out
}

export type OtlpReceiver = ReturnType<typeof startOtlpReceiver>

export function startOtlpReceiver() {
  const spans: ReceivedSpan[] = []
  const resources: Array<Record<string, unknown>> = []
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const url = new URL(request.url)
      if (request.method !== 'POST' || url.pathname !== '/v1/traces')
        return new Response('not found', { status: 404 })
      if (!request.headers.get('content-type')?.includes('json'))
        return new Response('json only', { status: 415 })
      const body = (await request.json()) as OtlpRequest
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributes(resourceSpans.resource?.attributes)
        resources.push(resource)
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service: String(resource['service.name']),
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
              attributes: attributes(span.attributes),
              events: (span.events ?? []).map((e) => e.name),
              status: span.status?.code ?? 0,
              startMs: Number(BigInt(span.startTimeUnixNano ?? '0') / 1_000_000n),
            })
          }
        }
      }
      return Response.json({ partialSuccess: {} })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    resources,
    trace: (traceId: string) => spans.filter((span) => span.traceId === traceId),
    stop: () => server.stop(true),
  }
}
