import { describe, expect, test } from 'bun:test'
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api'
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base'
import { encodeSpans } from './otlp-json.ts'
import type { Sampling } from './sampling.ts'
import { type FinishedSpan, LeanTracer, SPAN_LIMIT } from './span.ts'
import { extractContext, injectContext } from './trace-context.ts'

const RESOURCE = { attributes: { 'service.name': 'shopstack-test', 'service.version': '1.0.0' } }
const SCOPE = { name: 'shopstack', version: '1.0.0' }

function leanTracer(sampling?: Sampling) {
  const ended: FinishedSpan[] = []
  const tracer = new LeanTracer({
    resource: RESOURCE,
    scope: SCOPE,
    sink: { onEnd: (s) => ended.push(s) },
    sampling,
  })
  return { tracer, ended }
}

/** The same calls on a span of any tracer: what a request's SERVER span goes through, and more. */
function exercise(span: Span): void {
  span.setAttributes({ 'http.request.method': 'GET', 'url.path': '/catalog/42', tags: ['a', 'b'] })
  span.setAttribute('http.response.status_code', 503)
  span.setAttribute('http.response.status_code', 500) // an overwrite
  span.setAttribute('invalid', { nested: true } as never) // not an attribute value: ignored
  span.setAttribute('mixed', [1, 'two'] as never) // a mixed array: ignored
  span.setAttribute('', 'empty key') // ignored
  span.addEvent('shopstack.fault.latency', { 'shopstack.fault.delay_ms': 12 })
  span.recordException(Object.assign(new Error('boom'), { code: 'ECONNRESET' }))
  span.recordException('plain message')
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said 503' })
  span.updateName('GET /catalog/:id')
  span.end()
  // After end() nothing changes.
  span.setAttribute('late', true)
  span.addEvent('late')
  span.setStatus({ code: SpanStatusCode.OK })
  span.updateName('late')
  span.end()
}

/** A span's fields without what differs between runs (ids, times, stack traces). */
function comparable(span: FinishedSpan) {
  return {
    name: span.name,
    kind: span.kind,
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((e) => ({
      name: e.name,
      attributes: { ...e.attributes, 'exception.stacktrace': undefined },
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    links: span.links,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    parent: span.parentSpanContext?.spanId,
    sampled: span.spanContext().traceFlags,
  }
}

function sdkTracer() {
  const memory = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE.attributes),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  })
  return { tracer: provider.getTracer(SCOPE.name, SCOPE.version), memory }
}

describe('LeanSpan', () => {
  test('records what the SDK span records for the same calls', () => {
    const { tracer, ended } = leanTracer()
    exercise(tracer.startSpan('GET', SpanKind.SERVER, undefined))
    const sdk = sdkTracer()
    exercise(sdk.tracer.startSpan('GET', { kind: SpanKind.SERVER }))
    const [ours] = ended
    const [theirs] = sdk.memory.getFinishedSpans()
    expect(ended).toHaveLength(1)
    expect(comparable(ours as FinishedSpan)).toEqual(comparable(theirs as ReadableSpan))
    // Not trivially equal: the calls left their marks.
    expect(ours?.attributes['http.response.status_code']).toBe(500)
    expect(ours?.events.map((e) => e.name)).toEqual(['shopstack.fault.latency', 'exception', 'exception'])
    expect(ours?.events[1]?.attributes?.['exception.type']).toBe('ECONNRESET')
    expect(ours?.name).toBe('GET /catalog/:id')
  })

  test('its OTLP document is what OpenTelemetry serializes for it', () => {
    const { tracer, ended } = leanTracer()
    const server = tracer.startSpan('GET /cart/:id', SpanKind.SERVER, undefined, {
      'http.route': '/cart/:id',
    })
    const client = tracer.startSpan('GET /catalog/:id', SpanKind.CLIENT, server)
    exercise(client)
    server.end()
    const spans = ended as unknown as ReadableSpan[]
    expect(JSON.parse(encodeSpans(ended))).toEqual(
      JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))),
    )
  })

  test('a child shares its parent trace, names it as parent, and starts and ends within it', async () => {
    const { tracer, ended } = leanTracer()
    const parent = tracer.startSpan('parent', SpanKind.SERVER, undefined)
    await Bun.sleep(2)
    const child = tracer.startSpan('child', SpanKind.CLIENT, parent)
    await Bun.sleep(2)
    child.end()
    parent.end()
    const [c, p] = ended as [FinishedSpan, FinishedSpan]
    expect(c.spanContext().traceId).toBe(p.spanContext().traceId)
    expect(c.parentSpanContext?.spanId).toBe(p.spanContext().spanId)
    expect(p.parentSpanContext).toBeUndefined()
    const nanos = ([s, n]: readonly [number, number]) => BigInt(s) * 1_000_000_000n + BigInt(n)
    expect(nanos(c.startTime)).toBeGreaterThan(nanos(p.startTime) + 1_000_000n)
    expect(nanos(c.endTime)).toBeLessThanOrEqual(nanos(p.endTime))
    expect(nanos(c.endTime) - nanos(c.startTime)).toBeGreaterThanOrEqual(1_500_000n)
    // Wall-clock time, to the millisecond's neighbourhood.
    expect(Math.abs(Number(nanos(p.endTime) / 1_000_000n) - Date.now())).toBeLessThan(50)
  })

  test('an array attribute is copied: changing the array later changes no span', () => {
    const { tracer, ended } = leanTracer()
    const tags = ['a', 'b']
    const span = tracer.startSpan('s', SpanKind.INTERNAL, undefined, { tags })
    tags.push('c')
    span.end()
    expect(ended[0]?.attributes.tags).toEqual(['a', 'b'])
  })

  test('keeps 128 attributes and 128 events, counting the rest as dropped', () => {
    const { tracer, ended } = leanTracer()
    const span = tracer.startSpan('busy', SpanKind.INTERNAL, undefined)
    for (let i = 0; i < 200; i++) span.setAttribute(`key.${i}`, i)
    for (let i = 0; i < 50; i++) span.setAttribute('key.0', i) // overwrites are not new attributes
    for (let i = 0; i < 130; i++) span.addEvent(`event ${i}`)
    span.end()
    const [done] = ended as [FinishedSpan]
    expect(Object.keys(done.attributes)).toHaveLength(SPAN_LIMIT)
    expect(done.attributes['key.0']).toBe(49)
    expect(done.droppedAttributesCount).toBe(200 - SPAN_LIMIT)
    expect(done.events).toHaveLength(SPAN_LIMIT)
    expect(done.events[0]?.name).toBe('event 2') // the oldest go first
    expect(done.droppedEventsCount).toBe(2)
  })

  test('times come from clocks owned by the tracer: wall clock at a root start, monotonic after', () => {
    let monotonic = 500
    let wall = 1_700_000_000_000
    const ended: FinishedSpan[] = []
    const tracer = new LeanTracer({
      resource: RESOURCE,
      scope: SCOPE,
      sink: { onEnd: (s) => ended.push(s) },
      now: () => monotonic,
      wallNow: () => wall,
    })
    const root = tracer.startSpan('root', SpanKind.SERVER, undefined)
    monotonic += 1.5
    wall += 40 // a wall-clock step within 10 s moves nothing: durations stay monotonic
    const child = tracer.startSpan('child', SpanKind.CLIENT, root)
    monotonic += 2
    child.end()
    root.end()
    const [rootSpan, childSpan] = [ended[1], ended[0]] as [FinishedSpan, FinishedSpan]
    expect(rootSpan.startTime).toEqual([1_700_000_000, 0])
    expect(childSpan.startTime).toEqual([1_700_000_000, 1_500_000])
    expect(childSpan.endTime).toEqual([1_700_000_000, 3_500_000])
    expect(rootSpan.endTime).toEqual([1_700_000_000, 3_500_000])
  })

  test('ids are random lowercase hex, never all zeros, never repeated', () => {
    const { tracer } = leanTracer()
    const traces = new Set<string>()
    const spans = new Set<string>()
    for (let i = 0; i < 5000; i++) {
      const { traceId, spanId } = tracer.startSpan('s', SpanKind.INTERNAL, undefined).spanContext()
      expect(traceId).toMatch(/^[\da-f]{32}$/)
      expect(spanId).toMatch(/^[\da-f]{16}$/)
      traces.add(traceId)
      spans.add(spanId)
    }
    expect(traces.size).toBe(5000)
    expect(spans.size).toBe(5000)
  })
})

describe('sampling', () => {
  const header = (flags: string) =>
    new Headers({ traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}` })

  test('by default every root trace is recorded, and a caller that did not sample is followed', () => {
    const { tracer, ended } = leanTracer()
    tracer.startSpan('root', SpanKind.SERVER, undefined).end()
    const unsampled = tracer.startSpan('child of 00', SpanKind.SERVER, extractContext(header('00')))
    unsampled.setAttribute('ignored', true)
    unsampled.end()
    expect(ended.map((s) => s.name)).toEqual(['root'])
    expect(tracer.open).toBe(0)
    // The unsampled span still carries the trace on, with the flag off.
    const out = new Headers()
    injectContext(unsampled, out)
    expect(out.get('traceparent')).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[\da-f]{16}-00$/)
    expect(unsampled.spanContext().spanId).not.toBe('00f067aa0ba902b7')
  })

  test('traceidratio keeps about that share of traces, the same choice for the same trace id', () => {
    const { tracer, ended } = leanTracer({ sampler: 'parentbased_traceidratio', ratio: 0.25 })
    const roots = Array.from({ length: 4000 }, () => tracer.startSpan('root', SpanKind.SERVER, undefined))
    for (const span of roots) span.end()
    expect(ended.length).toBeGreaterThan(4000 * 0.2)
    expect(ended.length).toBeLessThan(4000 * 0.3)
    // A service sampling by ratio without a parent-based rule decides the same for each trace.
    const other = leanTracer({ sampler: 'traceidratio', ratio: 0.25 })
    for (const span of roots) {
      const ctx = span.spanContext()
      other.tracer.startSpan('same trace', SpanKind.SERVER, { ...ctx, traceFlags: TraceFlags.NONE }).end()
    }
    expect(other.ended.map((s) => s.spanContext().traceId)).toEqual(ended.map((s) => s.spanContext().traceId))
  })

  test('traceidratio keeps the traces OpenTelemetry JS keeps (lean and plugin-mode services agree)', () => {
    const { tracer, ended } = leanTracer({ sampler: 'traceidratio', ratio: 0.3 })
    const theirs = new TraceIdRatioBasedSampler(0.3)
    let kept = 0
    for (let i = 0; i < 2000; i++) {
      const span = tracer.startSpan('root', SpanKind.SERVER, undefined)
      const { traceId } = span.spanContext()
      span.end()
      const sdk = theirs.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
      const ours = ended.at(-1)?.spanContext().traceId === traceId
      expect(ours).toBe(sdk)
      if (ours) kept++
    }
    expect(kept).toBeGreaterThan(2000 * 0.25)
    expect(kept).toBeLessThan(2000 * 0.35)
  })

  test('always_off records nothing; always_on records even under an unsampled caller', () => {
    const off = leanTracer({ sampler: 'always_off' })
    off.tracer.startSpan('root', SpanKind.SERVER, undefined).end()
    expect(off.ended).toHaveLength(0)
    const on = leanTracer({ sampler: 'always_on' })
    on.tracer.startSpan('child of 00', SpanKind.SERVER, extractContext(header('00'))).end()
    expect(on.ended).toHaveLength(1)
  })
})

describe('W3C trace context', () => {
  const ID = '4bf92f3577b34da6a3ce929d0e0e4736'
  const PARENT = '00f067aa0ba902b7'
  const read = (traceparent: string, tracestate?: string) =>
    extractContext(new Headers({ traceparent, ...(tracestate ? { tracestate } : {}) }))

  test('reads a valid traceparent and tracestate', () => {
    const context = read(`00-${ID}-${PARENT}-01`, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
    expect(context).toMatchObject({ traceId: ID, spanId: PARENT, traceFlags: 1, isRemote: true })
    expect(context?.traceState?.get('rojo')).toBe('00f067aa0ba902b7')
    const { tracer } = leanTracer()
    const child = tracer.startSpan('child', SpanKind.SERVER, context)
    const out = new Headers()
    injectContext(child, out)
    expect(out.get('traceparent')).toBe(`00-${ID}-${child.spanContext().spanId}-01`)
    expect(out.get('tracestate')).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
  })

  test('an empty tracestate is not passed on', () => {
    const { tracer } = leanTracer()
    const child = tracer.startSpan('child', SpanKind.SERVER, read(`00-${ID}-${PARENT}-01`, ' '))
    const out = new Headers()
    injectContext(child, out)
    expect(out.get('traceparent')).not.toBeNull()
    expect(out.has('tracestate')).toBe(false)
  })

  test('a later version is read up to the flags; what the spec calls invalid is ignored', () => {
    expect(read(`01-${ID}-${PARENT}-01-future-fields`)?.traceId).toBe(ID)
    for (const invalid of [
      `ff-${ID}-${PARENT}-01`, // version ff is forbidden
      `00-${ID}-${PARENT}-01-extra`, // version 00 has nothing after the flags
      `00-${'0'.repeat(32)}-${PARENT}-01`, // all-zero trace id
      `00-${ID}-${'0'.repeat(16)}-01`, // all-zero parent id
      `00-${ID.toUpperCase()}-${PARENT}-01`, // upper-case hex
      `00-${ID}-${PARENT}`, // no flags
      'garbage',
    ]) {
      expect(read(invalid)).toBeUndefined()
    }
    expect(extractContext(new Headers())).toBeUndefined()
  })
})
