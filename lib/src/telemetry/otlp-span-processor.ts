// Span export over OTLP/HTTP JSON on Bun's fetch: a span processor that encodes each span as it
// ends (otlp-json.ts) and sends batches to <endpoint>/v1/traces. It replaced the SDK's
// BatchSpanProcessor + OTLPTraceExporter for the services (why: bench/README.md, "What changed, and
// what each change was worth"); it sends the same document (otlp-span-processor.test.ts compares).
//
// Batching and limits follow the BatchSpanProcessor's (maxQueueSize, maxExportBatchSize,
// scheduledDelayMillis), with at most `maxConcurrentExports` requests in flight. Delivery follows
// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp): 429, 502, 503, 504 and network
// errors are retried with backoff (honouring Retry-After) within the export's timeout; spans of a
// failed batch, like those dropped from a full queue, are counted and warned about.

import { TraceFlags } from '@opentelemetry/api'
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { SpanQueue } from './otlp-json.ts'
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
