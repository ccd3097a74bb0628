// Head sampling as OTEL_TRACES_SAMPLER names it (OpenTelemetry's environment variable
// specification), computed as OpenTelemetry JS computes it so lean and plugin mode keep the same traces.

import { type SpanContext, TraceFlags } from '@opentelemetry/api'

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

/** Whether a new span is sampled, given its parent (if any) and trace id. */
export function sampler({
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
