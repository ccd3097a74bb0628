// Span export over OTLP/HTTP JSON, on Bun's native fetch: a span processor that encodes each span
// as it ends and sends batches to <endpoint>/v1/traces.
//
// It replaces the SDK's BatchSpanProcessor + OTLPTraceExporter pair for the services (tests that
// read spans in memory still use those). What it sends is the document OpenTelemetry's own JSON
// serializer writes (otlp-transformer's JsonTraceSerializer: hex ids, nanosecond timestamps as
// decimal strings, the same fields; otlp-exporter.test.ts compares the two). What differs is when
// and how: the SDK pair keeps every finished span alive until its batch is exported, then builds an
// object per span, attribute and event, stringifies the lot and sends it with node:http. Measured
// on the gateway with every span exported (bench/README.md), that export cost about a fifth of the
// gateway's throughput. Here a span is written as UTF-8 JSON into a buffer when it ends, while it
// is still in the cache, the span object itself is garbage at once, and a batch is a copy of that
// buffer (the queue section below says why bytes and not strings).
//
// Batching and limits follow the BatchSpanProcessor's: at most `maxQueueSize` spans wait (beyond
// that a span is dropped and counted), a batch goes out when `maxExportBatchSize` spans wait or
// `scheduledDelayMillis` after the first one, with at most `maxConcurrentExports` requests in
// flight. Delivery follows the OTLP/HTTP spec (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
// 429, 502, 503, 504 and network errors are retried with exponential backoff (honouring
// Retry-After) while the export's timeout allows; any other answer fails the batch at once. Spans
// of a failed batch are counted too: nothing is lost silently.

import { type Attributes, TraceFlags } from '@opentelemetry/api'
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { ByteWriter } from './bytes.ts'
import type { FinishedSpan } from './span.ts'

export interface OtlpProcessorOptions {
  /** Full URL of the traces endpoint, e.g. http://localhost:4318/v1/traces. */
  url: string
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Readonly<Record<string, string>>
  /** Spans waiting to be sent beyond which new spans are dropped (and counted). */
  maxQueueSize?: number
  /** Spans per export request. */
  maxExportBatchSize?: number
  /** Longest a span waits before its batch is sent, in milliseconds. */
  scheduledDelayMillis?: number
  /** Export requests in flight at once. */
  maxConcurrentExports?: number
  /** Time for one export, retries included, in milliseconds (the OTLP default is 10 s). */
  timeoutMs?: number
  /** Delay before the first retry, doubled for each further one. */
  backoffMs?: number
  fetch?: (request: Request) => Promise<Response>
  sleep?: (ms: number) => Promise<unknown>
  /** Told when spans are lost (export failed, or the queue was full), at most once per `warnIntervalMs`. */
  warn?: (fields: SpanLossWarning, message: string) => void
  /** Least time between two warnings, in milliseconds: an endpoint that is down must not flood the log. */
  warnIntervalMs?: number
  now?: () => number
}

/** What a span-loss warning says: where, how many since the last warning, and the last cause. */
export interface SpanLossWarning {
  /** The traces URL without credentials or query. */
  endpoint: string
  spans_lost: number
  reason: 'export_failed' | 'queue_full'
  error?: string
}

export interface OtlpSpanProcessor extends SpanProcessor {
  /** Takes the SDK's spans (plugin mode) and the lean tracer's (span.ts) alike. */
  onEnd(span: FinishedSpan): void
  /** Spans dropped because `maxQueueSize` spans were already waiting. */
  droppedSpans(): number
  /** Spans in batches that could not be delivered. */
  failedSpans(): number
  /** Spans ended and not yet accepted by the endpoint: queued, or in a request in flight. */
  pendingSpans(): number
}

/** A URL fit for a log line: no user, password or query. */
function safeEndpoint(url: string): string {
  try {
    const { origin, pathname } = new URL(url)
    return `${origin}${pathname}`
  } catch {
    return 'an invalid URL'
  }
}

/** Statuses the OTLP/HTTP spec says to retry. */
const RETRYABLE = new Set([429, 502, 503, 504])

export function createOtlpSpanProcessor(options: OtlpProcessorOptions): OtlpSpanProcessor {
  const {
    url,
    maxQueueSize = 8192,
    maxExportBatchSize = 1024,
    scheduledDelayMillis = 500,
    maxConcurrentExports = 2,
    timeoutMs = 10_000,
    backoffMs = 250,
    fetch: doFetch = (request) => fetch(request),
    sleep = Bun.sleep,
  } = options
  const headers = { ...options.headers, 'content-type': 'application/json' }
  const queue = new SpanQueue()
  const inFlight = new Set<Promise<void>>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let dropped = 0
  let failed = 0
  const { warn, warnIntervalMs = 30_000, now = Date.now } = options
  const endpoint = safeEndpoint(url)
  const lost = { export_failed: 0, queue_full: 0 }
  let lastError: string | undefined
  let lastWarning = Number.NEGATIVE_INFINITY

  /** Count spans lost, and warn when the last warning is old enough (it sums what came between). */
  function lose(reason: SpanLossWarning['reason'], count: number): void {
    if (!warn) return
    lost[reason] += count
    if (now() - lastWarning < warnIntervalMs) return
    lastWarning = now()
    for (const key of ['export_failed', 'queue_full'] as const) {
      if (lost[key] === 0) continue
      const fields: SpanLossWarning = { endpoint, spans_lost: lost[key], reason: key }
      if (key === 'export_failed' && lastError) fields.error = lastError
      warn(
        fields,
        key === 'export_failed'
          ? 'spans could not be exported and were dropped'
          : 'span export queue full; spans dropped',
      )
      lost[key] = 0
    }
  }
  let sendingSpans = 0
  let stopped = false

  /** POST one document; true once the endpoint accepted it. */
  async function deliver(body: Uint8Array): Promise<boolean> {
    const deadline = performance.now() + timeoutMs
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs: number | undefined
      try {
        const signal = AbortSignal.timeout(Math.max(1, deadline - performance.now()))
        const response = await doFetch(new Request(url, { method: 'POST', headers, body, signal }))
        await response.arrayBuffer()
        if (response.ok) return true
        lastError = `HTTP ${response.status}`
        if (!RETRYABLE.has(response.status)) return false
        retryAfterMs = retryAfter(response.headers.get('retry-after'))
      } catch (error) {
        // Refused, reset or timed out: retried below while time is left.
        lastError = error instanceof Error ? error.message : String(error)
      }
      const delay = retryAfterMs ?? backoffMs * 2 ** attempt
      if (stopped || performance.now() + delay >= deadline) return false
      await sleep(delay)
    }
  }

  /** Send up to one batch of what waits, if a request slot is free. */
  function sendBatch(): void {
    if (queue.size === 0 || inFlight.size >= maxConcurrentExports) return
    const { body, count } = queue.take(maxExportBatchSize)
    sendingSpans += count
    const sending = deliver(body).then((ok) => {
      if (!ok) {
        failed += count
        lose('export_failed', count)
      }
      sendingSpans -= count
      inFlight.delete(sending)
      schedule()
    })
    inFlight.add(sending)
  }

  /** After a change: a full batch goes now, a partial one when the delay has passed. */
  function schedule(): void {
    while (queue.size >= maxExportBatchSize && inFlight.size < maxConcurrentExports) sendBatch()
    if (queue.size > 0 && timer === undefined && !stopped) {
      timer = setTimeout(() => {
        timer = undefined
        sendBatch()
        schedule()
      }, scheduledDelayMillis)
      timer.unref?.()
    }
  }

  return {
    onStart() {},
    onEnd(span) {
      // As the BatchSpanProcessor: spans that are not sampled are not exported.
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
      if (stopped || queue.size >= maxQueueSize) {
        dropped++
        lose('queue_full', 1)
        return
      }
      queue.add(span)
      if (queue.size >= maxExportBatchSize || timer === undefined) schedule()
    },
    async forceFlush() {
      while (queue.size > 0 || inFlight.size > 0) {
        while (queue.size > 0 && inFlight.size < maxConcurrentExports) sendBatch()
        await Promise.race(inFlight)
      }
    },
    async shutdown() {
      await this.forceFlush()
      stopped = true
      clearTimeout(timer)
    },
    droppedSpans: () => dropped,
    failedSpans: () => failed,
    pendingSpans: () => queue.size + sendingSpans,
  }
}

function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** The JSON text of an ExportTraceServiceRequest carrying `spans` (what one batch sends). */
export function encodeSpans(spans: readonly FinishedSpan[]): string {
  const queue = new SpanQueue()
  for (const span of spans) queue.add(span)
  return new TextDecoder().decode(queue.take(spans.length).body)
}

// ---------------------------------------------------------------------------------------------
// The queue: spans encoded as OTLP JSON bytes, one buffer per resource and instrumentation scope.
//
// Measured in the gateway (bench/README.md), encoding was the whole cost of exporting, and most of
// it was not the encoding proper: a span built as a JavaScript string is a rope of dozens of
// pieces, and joining a batch of them later, when they are no longer in the cache, cost more than
// building them. Here each span is written as UTF-8 into its group's buffer when it ends; what
// repeats is written from bytes encoded once (attribute keys, and whole attributes whose values
// repeat: methods, routes, upstream names); a batch is a few copies of those buffers.

/** Spans from one resource and instrumentation scope, encoded and comma-separated. */
class Group {
  readonly spans = new ByteWriter(16 * 1024)
  /** End offset of each queued span in `spans`. */
  ends: number[] = []

  constructor(
    /** `{"resource":{...},"scopeSpans":[` */
    readonly resourceOpen: Uint8Array,
    /** `{"scope":{...},"spans":[` */
    readonly scopeOpen: Uint8Array,
    /** `]}` or `],"schemaUrl":"..."}` */
    readonly scopeClose: Uint8Array,
  ) {}
}

class SpanQueue {
  /** Groups by resource (first seen first), then scope key. */
  readonly #groups = new Map<FinishedSpan['resource'], Map<string, Group>>()
  readonly #doc = new ByteWriter(64 * 1024)
  /** Spans queued. */
  size = 0

  add(span: FinishedSpan): void {
    const group = this.#groupOf(span)
    const w = group.spans
    if (group.ends.length > 0) w.byte(COMMA)
    writeSpan(w, span)
    group.ends.push(w.pos)
    this.size++
  }

  /** The request document for up to `max` queued spans (oldest groups first), removed from the queue. */
  take(max: number): { body: Uint8Array; count: number } {
    const doc = this.#doc
    doc.raw('{"resourceSpans":[')
    let count = 0
    let firstResource = true
    for (const scopes of this.#groups.values()) {
      let firstScope = true
      for (const group of scopes.values()) {
        const n = Math.min(group.ends.length, max - count)
        if (n === 0) continue
        if (firstScope) {
          if (!firstResource) doc.byte(COMMA)
          doc.bytes(group.resourceOpen)
          firstResource = false
        } else {
          doc.byte(COMMA)
        }
        firstScope = false
        doc.bytes(group.scopeOpen)
        const end = group.ends[n - 1] as number
        doc.bytes(group.spans.buf.subarray(0, end))
        doc.bytes(group.scopeClose)
        removeFront(group, n)
        count += n
      }
      if (!firstScope) doc.raw(']}')
    }
    doc.raw(']}')
    this.size -= count
    return { body: doc.take(), count }
  }

  /** The group of the last span added: a process's spans nearly all share one resource and scope. */
  #last: { resource: unknown; scope: unknown; group: Group } | undefined

  #groupOf(span: FinishedSpan): Group {
    const last = this.#last
    if (last && last.resource === span.resource && last.scope === span.instrumentationScope) return last.group
    const group = this.#findGroup(span)
    this.#last = { resource: span.resource, scope: span.instrumentationScope, group }
    return group
  }

  #findGroup(span: FinishedSpan): Group {
    let scopes = this.#groups.get(span.resource)
    if (!scopes) {
      scopes = new Map()
      this.#groups.set(span.resource, scopes)
    }
    const { name, version, schemaUrl } = span.instrumentationScope
    const key = `${name}@${version ?? ''}:${schemaUrl ?? ''}`
    let group = scopes.get(key)
    if (!group) {
      const w = new ByteWriter(1024)
      w.raw('{"resource":{"attributes":')
      writeAttributes(w, span.resource.attributes)
      w.raw(',"droppedAttributesCount":0},"scopeSpans":[')
      const resourceOpen = w.take()
      w.raw('{"scope":{"name":')
      w.string(name)
      if (version !== undefined) {
        w.raw(',"version":')
        w.string(version)
      }
      w.raw('},"spans":[')
      const scopeOpen = w.take()
      w.raw(']')
      if (schemaUrl !== undefined) {
        w.raw(',"schemaUrl":')
        w.string(schemaUrl)
      }
      w.raw('}')
      group = new Group(resourceOpen, scopeOpen, w.take())
      scopes.set(key, group)
    }
    return group
  }
}

/** Drop the first `n` spans (and the comma after them) from a group. */
function removeFront(group: Group, n: number): void {
  const w = group.spans
  if (n === group.ends.length) {
    w.pos = 0
    group.ends = []
    return
  }
  const cut = (group.ends[n - 1] as number) + 1
  w.buf.copyWithin(0, cut, w.pos)
  w.pos -= cut
  group.ends = group.ends.slice(n).map((end) => end - cut)
}

const COMMA = 44

function writeSpan(w: ByteWriter, s: FinishedSpan): void {
  const context = s.spanContext()
  // Ids are hex (the SDK only takes a parent whose ids are), so they need no escaping. Literals and
  // values are written one by one rather than joined in a template: a template is a rope, which
  // must be flattened before it can be copied, and that costs more than the extra calls.
  w.raw('{"traceId":"')
  w.raw(context.traceId)
  w.raw('","spanId":"')
  w.raw(context.spanId)
  const parent = s.parentSpanContext?.spanId
  if (parent) {
    w.raw('","parentSpanId":"')
    w.raw(parent)
  }
  const traceState = context.traceState?.serialize()
  if (traceState !== undefined) {
    w.raw('","traceState":')
    w.string(traceState)
    w.raw(',"name":')
  } else {
    w.raw('","name":')
  }
  w.string(s.name)
  // OTLP's SpanKind counts from 1 (0 is "unspecified"); the API's counts from 0.
  w.raw(',"kind":')
  w.uint(s.kind == null ? 0 : s.kind + 1)
  w.raw(',"startTimeUnixNano":')
  w.nanos(s.startTime)
  w.raw(',"endTimeUnixNano":')
  w.nanos(s.endTime)
  w.raw(',"attributes":')
  writeAttributes(w, s.attributes)
  w.raw(',"droppedAttributesCount":')
  w.uint(s.droppedAttributesCount)
  w.raw(',"events":[')
  for (let i = 0; i < s.events.length; i++) {
    const event = s.events[i] as FinishedSpan['events'][number]
    w.raw(i ? ',{"attributes":' : '{"attributes":')
    writeAttributes(w, event.attributes)
    w.raw(',"name":')
    w.string(event.name)
    w.raw(',"timeUnixNano":')
    w.nanos(event.time)
    w.raw(',"droppedAttributesCount":')
    w.uint(event.droppedAttributesCount || 0)
    w.byte(125) // }
  }
  w.raw('],"droppedEventsCount":')
  w.uint(s.droppedEventsCount)
  w.raw(',"status":{"code":')
  w.uint(s.status.code)
  if (s.status.message !== undefined) {
    w.raw(',"message":')
    w.string(s.status.message)
  }
  w.raw('},"links":[')
  for (let i = 0; i < s.links.length; i++) {
    const link = s.links[i] as FinishedSpan['links'][number]
    w.raw(i ? ',{"attributes":' : '{"attributes":')
    writeAttributes(w, link.attributes)
    w.raw(',"spanId":"')
    w.raw(link.context.spanId)
    w.raw('","traceId":"')
    w.raw(link.context.traceId)
    const linkState = link.context.traceState?.serialize()
    if (linkState !== undefined) {
      w.raw('","traceState":')
      w.string(linkState)
      w.raw(',"droppedAttributesCount":')
    } else {
      w.raw('","droppedAttributesCount":')
    }
    w.uint(link.droppedAttributesCount || 0)
    w.byte(125)
  }
  w.raw('],"droppedLinksCount":')
  w.uint(s.droppedLinksCount)
  w.byte(125)
}

/**
 * What is known about an attribute key: `{"key":"<key>","value":` as bytes, and whole encoded
 * attributes for string values seen before, until a key shows too many distinct values to be
 * worth remembering (request ids, URLs).
 */
interface KeyEntry {
  readonly prefix: Uint8Array
  values: Map<string, Uint8Array> | undefined
}
const keys = new Map<string, KeyEntry>()
const MAX_KEYS = 1024
const MAX_VALUES_PER_KEY = 32
const scratch = new ByteWriter(256)

function keyEntry(key: string): KeyEntry {
  let entry = keys.get(key)
  if (!entry) {
    scratch.raw('{"key":')
    scratch.string(key)
    scratch.raw(',"value":')
    entry = { prefix: scratch.take(), values: new Map() }
    if (keys.size < MAX_KEYS) keys.set(key, entry)
  }
  return entry
}

function writeAttributes(w: ByteWriter, attrs: Attributes | undefined): void {
  w.raw('[')
  let first = true
  for (const key in attrs) {
    if (!first) w.byte(COMMA)
    first = false
    const entry = keyEntry(key)
    const value = attrs[key]
    if (typeof value === 'string' && entry.values) {
      let whole = entry.values.get(value)
      if (!whole) {
        scratch.bytes(entry.prefix)
        scratch.raw('{"stringValue":')
        scratch.string(value)
        scratch.raw('}}')
        whole = scratch.take()
        if (entry.values.size < MAX_VALUES_PER_KEY) entry.values.set(value, whole)
        else entry.values = undefined
      }
      w.bytes(whole)
      continue
    }
    w.bytes(entry.prefix)
    writeValue(w, value)
    w.byte(125) // }
  }
  w.raw(']')
}

function writeValue(w: ByteWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.raw('{"stringValue":')
      w.string(value)
      w.byte(125)
      return
    case 'number':
      // JSON has no NaN or Infinity: JSON.stringify writes null, as the SDK's serializer does.
      w.raw(Number.isInteger(value) ? `{"intValue":${value}}` : `{"doubleValue":${JSON.stringify(value)}}`)
      return
    case 'boolean':
      w.raw(value ? '{"boolValue":true}' : '{"boolValue":false}')
      return
  }
  if (Array.isArray(value)) {
    w.raw('{"arrayValue":{"values":[')
    for (let i = 0; i < value.length; i++) {
      if (i) w.byte(COMMA)
      writeValue(w, value[i])
    }
    w.raw(']}}')
  } else if (value instanceof Uint8Array) {
    w.raw(`{"bytesValue":"${Buffer.from(value).toString('base64')}"}`)
  } else if (value !== null && typeof value === 'object') {
    w.raw('{"kvlistValue":{"values":[')
    let first = true
    for (const [k, v] of Object.entries(value)) {
      if (!first) w.byte(COMMA)
      first = false
      w.bytes(keyEntry(k).prefix)
      writeValue(w, v)
      w.byte(125)
    }
    w.raw(']}}')
  } else {
    w.raw('{}')
  }
}
