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
