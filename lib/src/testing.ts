// Test doubles that are real objects: a logger writing to an array, metrics with a fresh registry,
// and a tracer exporting to memory. Every test builds its own, so nothing leaks between tests.

import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { Elysia } from 'elysia'
import { requestPlugins } from './plugins/index.ts'
import { createLogger } from './telemetry/logger.ts'
import { createMetrics } from './telemetry/metrics.ts'
import { createTracing } from './telemetry/tracing.ts'

export interface TestTelemetryOptions {
  service?: string
  /** Record spans in memory (tracing on). */
  tracing?: boolean
  /** Give probes spans too (TRACE_PROBES=true). */
  traceProbes?: boolean
}

export function createTestTelemetry(options: TestTelemetryOptions = {}) {
  const { service = 'test', tracing: traced = false, traceProbes = false } = options
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({
    service,
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  })
  const exporter = new InMemorySpanExporter()
  const tracing = createTracing({
    service,
    exporter: traced ? exporter : undefined,
    scheduledDelayMillis: 1,
    traceProbes,
  })
  return {
    logger,
    metrics: createMetrics({ service, runtime: false }),
    tracing,
    /** Log lines written so far, parsed. */
    lines,
    /** Finished spans, after flushing the batch processor. */
    async spans(): Promise<ReadableSpan[]> {
      await tracing.forceFlush()
      return exporter.getFinishedSpans()
    },
  }
}

/**
 * An app with only the request plugins, its test telemetry, and a clock the test moves
 * (`clock.ms += n` inside a handler makes that request take n ms).
 */
export function requestPluginsUnderTest(options: TestTelemetryOptions = {}) {
  const telemetry = createTestTelemetry({ service: 'x', ...options })
  const clock = { ms: 0 }
  const app = new Elysia().use(requestPlugins({ service: 'x', ...telemetry, now: () => clock.ms }))
  return { telemetry, clock, app }
}

/** A metric sample's value from Prometheus text, or undefined when the series is absent. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return undefined
}

/** Text a refusal must never show a client: regular expressions and TypeBox's own phrasing. */
export const SCHEMA_LEAK = /\^|\$'|\(\?:|\[[^\]\s]*-[^\]\s]*\]|\{\d+,\d*\}|'string'|Expected |should be/

/** A 422 problem's body as a client reads it: its detail and its list of field errors. */
export async function refusalOf(response: Response): Promise<{
  status: number
  contentType: string | null
  text: string
  detail: string
  errors: Array<{ in: string; path: string; message: string }>
}> {
  const text = await response.text()
  const body = JSON.parse(text) as {
    detail?: string
    errors?: Array<{ in: string; path: string; message: string }>
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text,
    detail: body.detail ?? '',
    errors: body.errors ?? [],
  }
}
