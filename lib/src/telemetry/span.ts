// Spans of our own on the OpenTelemetry API, for the lean tracer (tracing.ts): span ids, sampling,
// W3C trace context (https://www.w3.org/TR/trace-context/) and a Span class that keeps what OTLP
// carries and hands itself to a processor when it ends.
//
// Why not sdk-trace-base's Tracer and SpanImpl: measured on the gateway (bench/README.md), its two
// spans per request and the API contexts they are started from cost more than encoding and sending
// them — an Object.entries and a sanitized copy per attribute set, a `new Map` per context, a diag
// call per attribute, Date.now() plus hrtime arithmetic per timestamp. This class keeps the SDK's
// behaviour where a user could see it (ParentBased(AlwaysOn) sampling by default and
// OTEL_TRACES_SAMPLER's samplers, 128 attributes and events per span, ids of crypto-random bytes,
// the `exception` event, end() only once) and the SDK's ReadableSpan fields, so its span
// processors (the tests' in-memory exporter) take these spans as they are.
//
// Timestamps: a root span starts at performance.now() plus an offset to the wall clock (re-read
// every 10 s, and moved only when the wall clock has moved by more than 2 ms, so the millisecond
// steps of Date.now() never show); a child starts at its parent's start plus the monotonic time
// between them, and every end and event time is the span's start plus monotonic time. So a child
// never starts before its parent, as it can when each span reads Date.now() (the SDK), and
// durations keep performance.now()'s precision.

import {
  type Attributes,
  type AttributeValue,
  createTraceState,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  trace,
} from '@opentelemetry/api'

/** An event as the SDK's ReadableSpan holds it. */
export interface TimedEvent {
  readonly name: string
  readonly time: HrTime
  readonly attributes?: Attributes
  readonly droppedAttributesCount?: number
}

/** What a span processor reads of an ended span: the ReadableSpan fields that OTLP carries. */
export interface FinishedSpan {
  readonly name: string
  readonly kind: SpanKind
  spanContext(): SpanContext
  readonly parentSpanContext?: SpanContext
  readonly startTime: HrTime
  readonly endTime: HrTime
  readonly status: SpanStatus
  readonly attributes: Attributes
  readonly links: Link[]
  readonly events: TimedEvent[]
  readonly droppedAttributesCount: number
  readonly droppedEventsCount: number
  readonly droppedLinksCount: number
  readonly resource: { readonly attributes: Attributes }
  readonly instrumentationScope: {
    readonly name: string
    readonly version?: string
    readonly schemaUrl?: string
  }
}

/** Where ended spans go (an OTLP span processor, or the SDK's batch processor in tests). */
export interface SpanSink {
  onEnd(span: FinishedSpan): void
}

/** The samplers OTEL_TRACES_SAMPLER names (OpenTelemetry's environment variable specification). */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const
export type SamplerName = (typeof SAMPLERS)[number]

export interface Sampling {
  sampler: SamplerName
  /** For the traceidratio samplers: the share of root traces kept, 0..1. */
  ratio?: number
}

/** Attributes, events and links kept per span (the SDK's defaults); the rest are counted as dropped. */
export const SPAN_LIMIT = 128

const INVALID_TRACE_ID = '0'.repeat(32)
const INVALID_SPAN_ID = '0'.repeat(16)
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET })
const NOT_ENDED: HrTime = Object.freeze([0, 0]) as unknown as HrTime

// ---------------------------------------------------------------------------------------------
// Ids: hex of crypto-random bytes, drawn from a pool refilled 4 KiB at a time.

const idPool = Buffer.allocUnsafe(4096)
let idAt = idPool.length

function randomId(bytes: 8 | 16, invalid: string): string {
  for (;;) {
    if (idAt + bytes > idPool.length) {
      crypto.getRandomValues(idPool)
      idAt = 0
    }
    const id = idPool.toString('hex', idAt, idAt + bytes)
    idAt += bytes
    if (id !== invalid) return id
  }
}

// ---------------------------------------------------------------------------------------------
// Time: milliseconds since the epoch, as performance.now() plus an offset to the wall clock.

const REREAD_MS = 10_000
const MOVE_MS = 2
let offsetMs = Date.now() - performance.now()
let readAt = performance.now()

function wallOffset(now: number): number {
  if (now - readAt >= REREAD_MS) {
    readAt = now
    const offset = Date.now() - now
    if (Math.abs(offset - offsetMs) > MOVE_MS) offsetMs = offset
  }
  return offsetMs
}

/** `time` moved by `nanos` (which may be negative). */
function addNanos(time: HrTime, nanos: number): HrTime {
  const total = time[1] + Math.round(nanos)
  const carry = Math.floor(total / 1e9)
  return [time[0] + carry, total - carry * 1e9]
}

function hrTime(epochMs: number): HrTime {
  let seconds = Math.floor(epochMs / 1000)
  let nanos = Math.round((epochMs - seconds * 1000) * 1e6)
  if (nanos >= 1e9) {
    seconds++
    nanos -= 1e9
  }
  return [seconds, nanos]
}

function isHrTime(value: unknown): value is HrTime {
  return (
    Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number'
  )
}

function isTimeInput(value: unknown): value is TimeInput {
  return typeof value === 'number' || value instanceof Date || isHrTime(value)
}

// ---------------------------------------------------------------------------------------------
// Attribute values: primitives, or arrays of one primitive type (nulls allowed), as the API says.

function isAttributeValue(value: unknown): value is AttributeValue {
  const type = typeof value
  if (type === 'string' || type === 'number' || type === 'boolean') return true
  if (!Array.isArray(value)) return false
  let elementType: string | undefined
  for (const element of value) {
    if (element == null) continue
    const t = typeof element
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return false
    if (elementType === undefined) elementType = t
    else if (t !== elementType) return false
  }
  return true
}

/** A copy of `attributes` without invalid entries (for events, which keep what they are given). */
function sanitized(attributes: Attributes | undefined): Attributes {
  const out: Attributes = {}
  for (const key in attributes) {
    const value = attributes[key]
    if (key.length > 0 && isAttributeValue(value)) out[key] = Array.isArray(value) ? value.slice() : value
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The span.

export class LeanSpan implements Span, FinishedSpan {
  name: string
  readonly kind: SpanKind
  readonly parentSpanContext: SpanContext | undefined
  readonly attributes: Attributes = {}
  readonly links: Link[]
  readonly events: TimedEvent[] = []
  readonly startTime: HrTime
  endTime: HrTime = NOT_ENDED
  status: SpanStatus = UNSET
  droppedAttributesCount = 0
  droppedEventsCount = 0
  readonly droppedLinksCount = 0
  readonly resource: FinishedSpan['resource']
  readonly instrumentationScope: FinishedSpan['instrumentationScope']
  private readonly context: SpanContext
  private readonly tracer: LeanTracer
  /** performance.now() at start: later times are startTime plus the monotonic time since. */
  private readonly start: number
  /** Attributes stored so far, counting overwrites: below the limit, no count is needed. */
  private stored = 0
  private ended_ = false

  constructor(
    tracer: LeanTracer,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
    parentSpan: LeanSpan | undefined,
    attributes: Attributes | undefined,
    links: Link[],
  ) {
    this.tracer = tracer
    this.name = name
    this.kind = kind
    this.context = context
    this.parentSpanContext = parent
    this.links = links
    this.resource = tracer.resource
    this.instrumentationScope = tracer.scope
    this.start = performance.now()
    this.startTime = parentSpan
      ? addNanos(parentSpan.startTime, (this.start - parentSpan.start) * 1e6)
      : hrTime(this.start + wallOffset(this.start))
    if (attributes) this.setAttributes(attributes)
  }

  spanContext(): SpanContext {
    return this.context
  }

  setAttribute(key: string, value?: AttributeValue): this {
    if (value == null || this.ended_ || key.length === 0 || !isAttributeValue(value)) return this
    const attributes = this.attributes
    if (
      this.stored >= SPAN_LIMIT &&
      !Object.hasOwn(attributes, key) &&
      Object.keys(attributes).length >= SPAN_LIMIT
    ) {
      this.droppedAttributesCount++
      return this
    }
    this.stored++
    // Arrays are copied, as the SDK does: a caller changing its array later changes no span.
    attributes[key] = Array.isArray(value) ? (value.slice() as AttributeValue) : value
    return this
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key])
    return this
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended_) return this
    let attributes: Attributes | undefined
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime
    } else {
      attributes = attributesOrTime
    }
    if (this.events.length >= SPAN_LIMIT) {
      this.events.shift()
      this.droppedEventsCount++
    }
    this.events.push({
      name,
      attributes: sanitized(attributes),
      time: this.timeOf(time),
      droppedAttributesCount: 0,
    })
    return this
  }

  addLink(link: Link): this {
    this.links.push(link)
    return this
  }

  addLinks(links: Link[]): this {
    this.links.push(...links)
    return this
  }

  setStatus(status: SpanStatus): this {
    if (this.ended_) return this
    this.status = typeof status.message === 'string' ? { ...status } : { code: status.code }
    return this
  }

  updateName(name: string): this {
    if (!this.ended_) this.name = name
    return this
  }

  end(endTime?: TimeInput): void {
    if (this.ended_) return
    this.ended_ = true
    const end = this.timeOf(endTime)
    const [s0, n0] = this.startTime
    this.endTime = end[0] < s0 || (end[0] === s0 && end[1] < n0) ? [s0, n0] : end
    this.tracer.ended(this)
  }

  isRecording(): boolean {
    return !this.ended_
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {}
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception
    } else if (exception) {
      if (exception.code) attributes['exception.type'] = String(exception.code)
      else if (exception.name) attributes['exception.type'] = exception.name
      if (exception.message) attributes['exception.message'] = exception.message
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack
    }
    if (attributes['exception.type'] || attributes['exception.message'])
      this.addEvent('exception', attributes, time)
  }

  get ended(): boolean {
    return this.ended_
  }

  get duration(): HrTime {
    if (!this.ended_) return [-1, -1]
    let seconds = this.endTime[0] - this.startTime[0]
    let nanos = this.endTime[1] - this.startTime[1]
    if (nanos < 0) {
      seconds--
      nanos += 1e9
    }
    return [seconds, nanos]
  }

  /** A time input as HrTime; a number up to performance.now() is a performance timestamp. */
  private timeOf(input: TimeInput | undefined): HrTime {
    if (input === undefined) return addNanos(this.startTime, (performance.now() - this.start) * 1e6)
    if (typeof input === 'number') {
      return input <= performance.now() ? addNanos(this.startTime, (input - this.start) * 1e6) : hrTime(input)
    }
    if (input instanceof Date) return hrTime(input.getTime())
    return input
  }
}

// ---------------------------------------------------------------------------------------------
// The tracer.

export interface LeanTracerOptions {
  resource: FinishedSpan['resource']
  scope: FinishedSpan['instrumentationScope']
  sink: SpanSink
  sampling?: Sampling
}

export class LeanTracer {
  readonly resource: FinishedSpan['resource']
  readonly scope: FinishedSpan['instrumentationScope']
  /** Spans started and not yet ended. */
  open = 0
  private readonly sink: SpanSink
  private readonly sample: (parent: SpanContext | undefined, traceId: string) => boolean

  constructor(options: LeanTracerOptions) {
    this.resource = options.resource
    this.scope = options.scope
    this.sink = options.sink
    this.sample = sampler(options.sampling ?? { sampler: 'parentbased_always_on' })
  }

  /** A span that is a child of `parent`, or a root span. Unsampled spans carry context only. */
  startSpan(
    name: string,
    kind: SpanKind,
    parent: Span | SpanContext | undefined,
    attributes?: Attributes,
    links: Link[] = [],
  ): Span {
    // A span's context is valid unless it is the API's invalid one (tracing off); a context from
    // elsewhere is checked in full.
    let parentContext: SpanContext | undefined
    if (parent !== undefined && 'spanContext' in parent) {
      parentContext = parent.spanContext()
      if (parentContext.traceId === INVALID_TRACE_ID || parentContext.spanId === INVALID_SPAN_ID)
        parentContext = undefined
    } else if (parent !== undefined && isValidContext(parent)) {
      parentContext = parent
    }
    const traceId = parentContext ? parentContext.traceId : randomId(16, INVALID_TRACE_ID)
    const spanId = randomId(8, INVALID_SPAN_ID)
    const traceState = parentContext?.traceState
    if (!this.sample(parentContext, traceId)) {
      return trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE, traceState })
    }
    const context: SpanContext = { traceId, spanId, traceFlags: TraceFlags.SAMPLED, traceState }
    this.open++
    const parentSpan = parent instanceof LeanSpan && parentContext ? parent : undefined
    return new LeanSpan(this, name, kind, context, parentContext, parentSpan, attributes, links)
  }

  /** Called by a span's end(). */
  ended(span: LeanSpan): void {
    this.open--
    this.sink.onEnd(span)
  }
}

function isValidContext(context: SpanContext): boolean {
  return (
    /^[\da-f]{32}$/.test(context.traceId) &&
    context.traceId !== INVALID_TRACE_ID &&
    /^[\da-f]{16}$/.test(context.spanId) &&
    context.spanId !== INVALID_SPAN_ID
  )
}

/** Whether a new span is sampled, given its parent (if any) and trace id. */
function sampler({
  sampler: name,
  ratio = 1,
}: Sampling): (parent: SpanContext | undefined, traceId: string) => boolean {
  const bound = Math.floor(Math.max(0, Math.min(1, ratio)) * 0xffffffff)
  const root = name.endsWith('always_on')
    ? () => true
    : name.endsWith('always_off')
      ? () => false
      : (traceId: string) => ratioKey(traceId) < bound
  if (!name.startsWith('parentbased_')) return (_parent, traceId) => root(traceId)
  return (parent, traceId) => (parent ? (parent.traceFlags & TraceFlags.SAMPLED) !== 0 : root(traceId))
}

/**
 * The number a trace id is compared with for ratio sampling: its four 32-bit words XORed, as
 * OpenTelemetry JS's TraceIdRatioBasedSampler computes it, so a lean service and a plugin-mode one
 * keep the same traces for the same ratio.
 */
function ratioKey(traceId: string): number {
  let key = 0
  for (let at = 0; at < 32; at += 8) key = (key ^ Number.parseInt(traceId.slice(at, at + 8), 16)) >>> 0
  return key
}

// ---------------------------------------------------------------------------------------------
// W3C trace context.

const TRACEPARENT = /^[ \t]*([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?[ \t]*$/

/**
 * The caller's span context from `traceparent` (and `tracestate`), or undefined when the header is
 * absent or invalid: version ff, all-zero ids, or anything after the flags of a version-00 header.
 */
export function extractContext(headers: Headers): SpanContext | undefined {
  const header = headers.get('traceparent')
  if (header === null) return undefined
  const match = TRACEPARENT.exec(header)
  if (!match) return undefined
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ]
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined
  const state = headers.get('tracestate')
  return {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
    traceState: state ? createTraceState(state) : undefined,
  }
}

/** Write `traceparent` (and `tracestate`) naming `span` as the parent into `headers`. */
export function injectContext(span: Span, headers: Headers): void {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext()
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return
  headers.set('traceparent', `00-${traceId}-${spanId}-0${traceFlags & TraceFlags.SAMPLED}`)
  const state = traceState?.serialize()
  if (state) headers.set('tracestate', state)
}
