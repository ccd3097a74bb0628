// A local OTLP/HTTP sink for the benchmark: answers 200 to POST /v1/traces and counts the spans it
// receives. It counts instead of parsing: the OTLP/JSON encoding writes `"spanId":"` once per span
// (a parent is `"parentSpanId"`, which does not match), so a substring count is exact and keeps the
// sink's CPU cost low on a machine whose two cores are also running the services and wrk.

const SPAN_MARKER = '"spanId":"'

export interface Sink {
  readonly url: string
  /** Spans received so far. */
  spans(): number
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

export function startSink(): Sink {
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
      spans += countSpans(await request.text())
      batches++
      lastArrival = performance.now()
      return new Response('{}', { headers: { 'content-type': 'application/json' } })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans: () => spans,
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
