// Spans as the OTLP/HTTP JSON document OpenTelemetry's serializer writes (otlp-transformer's
// JsonTraceSerializer: hex ids, nanoseconds as decimal strings; otlp-span-processor.test.ts
// compares them), written as UTF-8 into a buffer per resource and scope when each span ends, from
// bytes encoded once for what repeats; a batch is a few copies of those buffers (why bytes: bytes.ts).

import type { Attributes } from '@opentelemetry/api'
import { ByteWriter } from './bytes.ts'
import type { FinishedSpan } from './span.ts'

/** The JSON text of an ExportTraceServiceRequest carrying `spans` (what one batch sends). */
export function encodeSpans(spans: readonly FinishedSpan[]): string {
  const queue = new SpanQueue()
  for (const span of spans) queue.add(span)
  return new TextDecoder().decode(queue.take(spans.length).body)
}

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

export class SpanQueue {
  /** Groups by resource (first seen first), then scope key. */
  readonly #groups = new Map<FinishedSpan['resource'], Map<string, Group>>()
  readonly #doc = new ByteWriter(64 * 1024)
  /** Attribute keys and repeated values, encoded once for this queue's spans. */
  readonly #keys = new KeyCache()
  /** Spans queued. */
  size = 0

  add(span: FinishedSpan): void {
    const group = this.#groupOf(span)
    const w = group.spans
    if (group.ends.length > 0) w.byte(COMMA)
    writeSpan(w, span, this.#keys)
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
      writeAttributes(w, span.resource.attributes, this.#keys)
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

function writeSpan(w: ByteWriter, s: FinishedSpan, keys: KeyCache): void {
  const context = s.spanContext()
  // Ids are hex, so they need no escaping. Pieces are written one by one, not joined in a template
  // (a template is a rope: bytes.ts).
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
  writeAttributes(w, s.attributes, keys)
  w.raw(',"droppedAttributesCount":')
  w.uint(s.droppedAttributesCount)
  w.raw(',"events":[')
  for (let i = 0; i < s.events.length; i++) {
    const event = s.events[i] as FinishedSpan['events'][number]
    w.raw(i ? ',{"attributes":' : '{"attributes":')
    writeAttributes(w, event.attributes, keys)
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
    writeAttributes(w, link.attributes, keys)
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

/** What is known about an attribute key: `{"key":"<key>","value":` as bytes, and whole encoded
 * attributes for its string values seen before, until it shows too many (request ids, URLs). */
interface KeyEntry {
  readonly prefix: Uint8Array
  values: Map<string, Uint8Array> | undefined
}
const MAX_KEYS = 1024
const MAX_VALUES_PER_KEY = 32

/** Encoded keys and values, owned by one queue (so one processor's spans never grow another's). */
class KeyCache {
  readonly #keys = new Map<string, KeyEntry>()
  /** Where a key or value is encoded before it is kept. */
  readonly scratch = new ByteWriter(256)

  entry(key: string): KeyEntry {
    let entry = this.#keys.get(key)
    if (!entry) {
      const scratch = this.scratch
      scratch.raw('{"key":')
      scratch.string(key)
      scratch.raw(',"value":')
      entry = { prefix: scratch.take(), values: new Map() }
      if (this.#keys.size < MAX_KEYS) this.#keys.set(key, entry)
    }
    return entry
  }
}

function writeAttributes(w: ByteWriter, attrs: Attributes | undefined, keys: KeyCache): void {
  w.raw('[')
  let first = true
  for (const key in attrs) {
    if (!first) w.byte(COMMA)
    first = false
    const entry = keys.entry(key)
    const value = attrs[key]
    if (typeof value === 'string' && entry.values) {
      let whole = entry.values.get(value)
      if (!whole) {
        const scratch = keys.scratch
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
    writeValue(w, value, keys)
    w.byte(125) // }
  }
  w.raw(']')
}

function writeValue(w: ByteWriter, value: unknown, keys: KeyCache): void {
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
      writeValue(w, value[i], keys)
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
      w.bytes(keys.entry(k).prefix)
      writeValue(w, v, keys)
      w.byte(125)
    }
    w.raw(']}}')
  } else {
    w.raw('{}')
  }
}
