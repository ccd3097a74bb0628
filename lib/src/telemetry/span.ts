// Spans of our own on the OpenTelemetry API, for the lean tracer (tracing.ts): a Span class that
// keeps what OTLP carries and hands itself to a processor when it ends, and the tracer that makes
// them. Why not sdk-trace-base's spans: their per-call copies and contexts (figures in
// bench/README.md, "Our own spans"). What a user could see stays the SDK's: its sampling, limits,
// `exception` event and ReadableSpan fields (span.test.ts runs the same calls on both).
//
// Timestamps: a root span starts at the monotonic clock plus an offset to the wall clock; a child
// at its parent's start plus the monotonic time between them, so it never starts before its parent.

import {
  type Attributes,
  type AttributeValue,
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
import { type Sampling, sampler } from './sampling.ts'
import { INVALID_SPAN_ID, INVALID_TRACE_ID, isValidContext } from './trace-context.ts'

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

/** Attributes, events and links kept per span (the SDK's defaults); the rest are counted as dropped. */
export const SPAN_LIMIT = 128

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET })
const NOT_ENDED: HrTime = Object.freeze([0, 0]) as unknown as HrTime

// ---------------------------------------------------------------------------------------------
// Ids and time, owned by each tracer.

/** Span and trace ids: hex of crypto-random bytes, drawn from a pool refilled 4 KiB at a time. */
class IdPool {
  readonly #pool = Buffer.allocUnsafe(4096)
  #at = this.#pool.length

  next(bytes: 8 | 16, invalid: string): string {
    const pool = this.#pool
    for (;;) {
      if (this.#at + bytes > pool.length) {
        crypto.getRandomValues(pool)
        this.#at = 0
      }
      const id = pool.toString('hex', this.#at, this.#at + bytes)
      this.#at += bytes
      if (id !== invalid) return id
    }
  }
}

const REREAD_MS = 10_000
const MOVE_MS = 2

/**
 * Milliseconds since the epoch as monotonic time plus an offset to the wall clock, re-read every
 * 10 s and moved only past 2 ms, so Date.now()'s millisecond steps never show in durations.
 */
class WallClock {
  #offsetMs: number
  #readAt: number

  constructor(
    readonly now: () => number,
    private readonly wallNow: () => number,
  ) {
    this.#readAt = now()
    this.#offsetMs = wallNow() - this.#readAt
  }

  epochMs(monotonic: number): number {
    if (monotonic - this.#readAt >= REREAD_MS) {
      this.#readAt = monotonic
      const offset = this.wallNow() - monotonic
      if (Math.abs(offset - this.#offsetMs) > MOVE_MS) this.#offsetMs = offset
    }
    return monotonic + this.#offsetMs
  }
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
  /** The tracer's monotonic clock at start: later times are startTime plus the monotonic time since. */
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
    this.start = tracer.clock.now()
    this.startTime = parentSpan
      ? addNanos(parentSpan.startTime, (this.start - parentSpan.start) * 1e6)
      : hrTime(tracer.clock.epochMs(this.start))
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

  /** A time input as HrTime; a number up to the monotonic clock's now is a monotonic timestamp. */
  private timeOf(input: TimeInput | undefined): HrTime {
    const now = this.tracer.clock.now()
    if (input === undefined) return addNanos(this.startTime, (now - this.start) * 1e6)
    if (typeof input === 'number') {
      return input <= now ? addNanos(this.startTime, (input - this.start) * 1e6) : hrTime(input)
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
  /** Monotonic clock in milliseconds (performance.now by default). */
  now?: () => number
  /** Wall clock in milliseconds since the epoch (Date.now by default). */
  wallNow?: () => number
}

export class LeanTracer {
  readonly resource: FinishedSpan['resource']
  readonly scope: FinishedSpan['instrumentationScope']
  /** Spans started and not yet ended. */
  open = 0
  readonly clock: WallClock
  private readonly ids = new IdPool()
  private readonly sink: SpanSink
  private readonly sample: (parent: SpanContext | undefined, traceId: string) => boolean

  constructor(options: LeanTracerOptions) {
    const { now = () => performance.now(), wallNow = Date.now } = options
    this.clock = new WallClock(now, wallNow)
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
    const traceId = parentContext ? parentContext.traceId : this.ids.next(16, INVALID_TRACE_ID)
    const spanId = this.ids.next(8, INVALID_SPAN_ID)
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
