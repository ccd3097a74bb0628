// W3C trace context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate` read
// from a request and written on an upstream call.

import { createTraceState, type Span, type SpanContext, TraceFlags } from '@opentelemetry/api'

export const INVALID_TRACE_ID = '0'.repeat(32)
export const INVALID_SPAN_ID = '0'.repeat(16)

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

/** A span context from elsewhere, checked in full: lowercase hex ids, neither all zeros. */
export function isValidContext(context: SpanContext): boolean {
  return (
    /^[\da-f]{32}$/.test(context.traceId) &&
    context.traceId !== INVALID_TRACE_ID &&
    /^[\da-f]{16}$/.test(context.spanId) &&
    context.spanId !== INVALID_SPAN_ID
  )
}
