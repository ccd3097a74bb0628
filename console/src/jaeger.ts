// Stored spans → the answer of Jaeger's query API for one trace (`GET /api/traces/:id`), so the
// page (and anyone's script written against Jaeger) reads a familiar shape. The mapping follows
// the OpenTelemetry Collector's OTLP → Jaeger translator (pkg/translator/jaeger in
// opentelemetry-collector-contrib): times in microseconds, the parent as the first CHILD_OF
// reference, attributes as typed tags, then `span.kind`, `otel.status_code`, `error` and
// `otel.status_description`; events become logs whose first field is `event` (the event's name).

import type { StoredSpan } from './store.ts'

export type JaegerTagType = 'string' | 'bool' | 'int64' | 'float64'

export interface JaegerKeyValue {
  key: string
  type: JaegerTagType
  value: string | boolean | number
}

export interface JaegerReference {
  refType: 'CHILD_OF'
  traceID: string
  spanID: string
}

export interface JaegerLog {
  /** Microseconds since the epoch. */
  timestamp: number
  fields: JaegerKeyValue[]
}

export interface JaegerSpan {
  traceID: string
  spanID: string
  operationName: string
  references: JaegerReference[]
  /** Microseconds since the epoch. */
  startTime: number
  /** Microseconds. */
  duration: number
  tags: JaegerKeyValue[]
  logs: JaegerLog[]
  processID: string
  warnings: string[] | null
}

export interface JaegerProcess {
  serviceName: string
  tags: JaegerKeyValue[]
}

export interface JaegerTrace {
  traceID: string
  spans: JaegerSpan[]
  processes: Record<string, JaegerProcess>
}

export interface JaegerAnswer {
  data: JaegerTrace[]
}

/** OTLP SpanKind → the OpenTracing `span.kind` value; 0 (unspecified) gets no tag. */
const SPAN_KINDS: Record<number, string> = {
  1: 'internal',
  2: 'server',
  3: 'client',
  4: 'producer',
  5: 'consumer',
}

const STATUS_OK = 1
const STATUS_ERROR = 2

/** A stored attribute value as a typed Jaeger tag. */
function tag(key: string, value: unknown): JaegerKeyValue {
  if (typeof value === 'string') return { key, type: 'string', value }
  if (typeof value === 'boolean') return { key, type: 'bool', value }
  // otlp.ts keeps attribute values as JSON values, so a double that happens to be whole (2.0)
  // comes back as an integer; every other number keeps the type OpenTelemetry gave it.
  if (typeof value === 'number') return { key, type: Number.isInteger(value) ? 'int64' : 'float64', value }
  // Arrays and maps are JSON strings, as the translator's AsString() writes them; an empty value
  // is the empty string.
  return { key, type: 'string', value: value === null || value === undefined ? '' : JSON.stringify(value) }
}

function tagsOf(attributes: Record<string, unknown>): JaegerKeyValue[] {
  return Object.entries(attributes).map(([key, value]) => tag(key, value))
}

function parseObject(json: string): Record<string, unknown> {
  const value: unknown = JSON.parse(json)
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

interface StoredEvent {
  time_us: number
  name: string
  attributes: Record<string, unknown>
}

function logsOf(events: string): JaegerLog[] {
  const list: unknown = JSON.parse(events)
  if (!Array.isArray(list)) return []
  return (list as StoredEvent[]).map((event) => {
    const fields = tagsOf(event.attributes ?? {})
    // The event's name is the `event` field, unless an attribute of that name says otherwise.
    if (event.name && !fields.some((field) => field.key === 'event')) {
      fields.unshift({ key: 'event', type: 'string', value: event.name })
    }
    return { timestamp: Math.round(event.time_us), fields }
  })
}

function spanTags(span: StoredSpan): JaegerKeyValue[] {
  const isError = span.status_code === STATUS_ERROR
  const tags = tagsOf(parseObject(span.attributes))
  const kind = SPAN_KINDS[span.kind]
  if (kind) tags.push({ key: 'span.kind', type: 'string', value: kind })
  if (span.status_code === STATUS_OK) tags.push({ key: 'otel.status_code', type: 'string', value: 'OK' })
  if (isError) {
    tags.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' })
    tags.push({ key: 'error', type: 'bool', value: true })
  }
  if (span.status_message) {
    tags.push({ key: 'otel.status_description', type: 'string', value: span.status_message })
  }
  return tags
}

/**
 * One trace in Jaeger's shape, or undefined when no span of it is stored (the route answers 404).
 * Processes are one per service, `p1`, `p2`, … in the order their first span appears. A span whose
 * parent is not in the trace (not received yet, or evicted) gets no reference and a warning in
 * the words Jaeger's UI shows, so the waterfall draws it as a root and says why.
 */
export function toJaegerTrace(traceId: string, spans: StoredSpan[]): JaegerAnswer | undefined {
  if (spans.length === 0) return undefined
  const traceID = traceId.toLowerCase()
  const present = new Set(spans.map((span) => span.span_id))
  const processIds = new Map<string, string>()
  const processes: Record<string, JaegerProcess> = {}
  const converted = spans.map((span): JaegerSpan => {
    let processID = processIds.get(span.service)
    if (!processID) {
      processID = `p${processIds.size + 1}`
      processIds.set(span.service, processID)
      processes[processID] = { serviceName: span.service, tags: [] }
    }
    const parent = span.parent_span_id
    const references: JaegerReference[] =
      parent && present.has(parent) ? [{ refType: 'CHILD_OF', traceID, spanID: parent }] : []
    const warnings =
      parent && !present.has(parent)
        ? [`invalid parent span IDs=${parent}; the parent span is not in this trace`]
        : null
    return {
      traceID,
      spanID: span.span_id,
      operationName: span.name,
      references,
      startTime: Math.round(span.start_us),
      duration: Math.round(span.duration_us),
      tags: spanTags(span),
      logs: logsOf(span.events),
      processID,
      warnings,
    }
  })
  return { data: [{ traceID, spans: converted, processes }] }
}
