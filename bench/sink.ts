// A local OTLP/HTTP sink for the benchmark: answers 200 to POST /v1/traces and counts the spans it
// receives. It counts instead of parsing: the OTLP/JSON encoding writes `"spanId":"` once per span
// (a parent is `"parentSpanId"`, which does not match), so a substring count is exact and keeps the
// sink's CPU cost low on a machine whose two cores are also running the services and wrk.
// Spans are also counted per service: each ShopStack process has one resource, so an export request
// carries one `service.name`, read from the first resource of the body.

const SPAN_MARKER = '"spanId":"'

export interface Sink {
  readonly url: string
  /** Spans received so far. */
  spans(): number
  /** Spans received so far from each service (by its resource's service.name). */
  spansByService(): Record<string, number>
  /** Export requests received so far. */
  batches(): number
  /** Wait until no span has arrived for `quietMs` (the services' batch delay is 500 ms). */
  settle(quietMs?: number, timeoutMs?: number): Promise<number>
  stop(): void
}

export function countSpans(body: string): number {
  let count = 0
  let at = body.indexOf(SPAN_MARKER)
  while (at !== -1) {
    count++
    at = body.indexOf(SPAN_MARKER, at + SPAN_MARKER.length)
  }
  return count
}

const SERVICE_MARKER = '{"key":"service.name","value":{"stringValue":"'

/** The service.name of the first resource in an OTLP/JSON body ('?' when there is none). */
export function serviceOf(body: string): string {
  const at = body.indexOf(SERVICE_MARKER)
  if (at === -1) return '?'
  const start = at + SERVICE_MARKER.length
  return body.slice(start, body.indexOf('"', start))
}

export function startSink(): Sink {
  const byService: Record<string, number> = {}
  let spans = 0
  let batches = 0
  let lastArrival = performance.now()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      if (request.method !== 'POST' || !request.url.endsWith('/v1/traces')) {
        return new Response('not found', { status: 404 })
      }
      const body = await request.text()
      const count = countSpans(body)
      spans += count
      const service = serviceOf(body)
      byService[service] = (byService[service] ?? 0) + count
      batches++
      lastArrival = performance.now()
      return new Response('{}', { headers: { 'content-type': 'application/json' } })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans: () => spans,
    spansByService: () => ({ ...byService }),
    batches: () => batches,
    async settle(quietMs = 1200, timeoutMs = 30_000) {
      // Quiet since the later of the last arrival and this call: spans still waiting in a
      // service's batch queue have not arrived yet when the call starts.
      const called = performance.now()
      const deadline = called + timeoutMs
      while (performance.now() < deadline && performance.now() - Math.max(lastArrival, called) < quietMs) {
        await Bun.sleep(100)
      }
      return spans
    },
    stop: () => void server.stop(true),
  }
}

/**
 * A counting relay in front of a real OTLP receiver (the console): it forwards each export request
 * unchanged and counts the spans the receiver *accepted* — a 2xx answer, less any
 * `partialSuccess.rejectedSpans` (https://opentelemetry.io/docs/specs/otlp/#partial-success-1).
 *
 * Why a relay: the console's `/api/status` counts the spans it *holds*, and retention evicts the
 * oldest past CONSOLE_MAX_SPANS (200,000), which a 5 s case of the gateway read alone can exceed; the
 * console exposes no counter of spans accepted. The relay is that counter. It costs one loopback
 * forward per batch (up to 1024 spans), which is counted against the console in the throughput ratio.
 */
export interface Relay extends Sink {
  /** Where the relay forwards to (set once the receiver is up). */
  target: string | undefined
  /** Spans in requests the receiver answered with a non-2xx status, or could not be reached for. */
  refused(): number
  /** Spans the receiver answered 2xx for but listed in partialSuccess.rejectedSpans. */
  rejected(): number
}

export function startRelay(): Relay {
  const byService: Record<string, number> = {}
  let accepted = 0
  let refused = 0
  let rejected = 0
  let batches = 0
  let lastArrival = performance.now()
  const relay = {
    target: undefined as string | undefined,
  }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      if (request.method !== 'POST' || !request.url.endsWith('/v1/traces')) {
        return new Response('not found', { status: 404 })
      }
      const body = await request.text()
      const count = countSpans(body)
      batches++
      let response: Response
      try {
        if (!relay.target) throw new Error('no receiver yet')
        response = await fetch(`${relay.target}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': request.headers.get('content-type') ?? 'application/json' },
          body,
        })
      } catch {
        refused += count
        return new Response('receiver unreachable', { status: 502 })
      }
      const answer = await response.text()
      if (response.ok) {
        let gone = 0
        if (answer.includes('partialSuccess')) {
          const n = Number(
            (JSON.parse(answer) as { partialSuccess?: { rejectedSpans?: unknown } }).partialSuccess
              ?.rejectedSpans,
          )
          gone = Number.isFinite(n) ? n : 0
        }
        rejected += gone
        accepted += count - gone
        const service = serviceOf(body)
        byService[service] = (byService[service] ?? 0) + count - gone
      } else {
        refused += count
      }
      lastArrival = performance.now()
      return new Response(answer, {
        status: response.status,
        headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
      })
    },
  })
  return Object.assign(relay, {
    url: `http://127.0.0.1:${server.port}`,
    spans: () => accepted,
    spansByService: () => ({ ...byService }),
    batches: () => batches,
    refused: () => refused,
    rejected: () => rejected,
    async settle(quietMs = 1200, timeoutMs = 30_000) {
      const called = performance.now()
      const deadline = called + timeoutMs
      while (performance.now() < deadline && performance.now() - Math.max(lastArrival, called) < quietMs) {
        await Bun.sleep(100)
      }
      return accepted
    },
    stop: () => void server.stop(true),
  })
}
