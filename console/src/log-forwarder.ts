// Sends the lines a process wrote to an OTLP/HTTP logs endpoint (the console's /v1/logs), as the
// dev runner reads them from each service's stdout: the services keep writing plain JSON lines to
// stdout (pino's worker transports are fragile on Bun), and the console still gets every line.
// Lines wait in a bounded buffer and go in batches; while the endpoint is down (the console is
// still starting, or was stopped) they are kept and sent later, the oldest dropped past the bound.

export interface LogForwarderOptions {
  /** The OTLP/HTTP base URL, e.g. http://127.0.0.1:8089 (`/v1/logs` is added). */
  endpoint: string
  fetch?: typeof fetch
  /** How often buffered lines are sent. */
  intervalMs?: number
  /** Lines kept while the endpoint cannot take them; older ones are dropped past this. */
  maxBuffered?: number
  /** Lines sent in one request at most. */
  maxBatch?: number
}

interface Pending {
  service: string
  line: string
  observedNs: string
}

export type LogForwarder = ReturnType<typeof createLogForwarder>

export function createLogForwarder(options: LogForwarderOptions) {
  const { endpoint, fetch: send = fetch, intervalMs = 250, maxBuffered = 20_000, maxBatch = 2_000 } = options
  const url = `${endpoint.replace(/\/+$/, '')}/v1/logs`
  let buffer: Pending[] = []
  let dropped = 0
  /** Lines taken off the front of the buffer (it was full) since the batch in flight was taken. */
  let trimmedDuringSend = 0
  let sending: Promise<void> | undefined
  const timer = setInterval(() => void flush(), intervalMs)

  /** One ExportLogsServiceRequest with a resource per service, as the OTLP JSON mapping says. */
  function document(batch: Pending[]) {
    const byService = new Map<string, Pending[]>()
    for (const item of batch) {
      const list = byService.get(item.service)
      if (list) list.push(item)
      else byService.set(item.service, [item])
    }
    return {
      resourceLogs: [...byService].map(([service, items]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [
          {
            scope: { name: 'shopstack.dev-runner' },
            logRecords: items.map((item) => ({
              observedTimeUnixNano: item.observedNs,
              body: { stringValue: item.line },
            })),
          },
        ],
      })),
    }
  }

  async function sendBatches(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, maxBatch)
      trimmedDuringSend = 0
      try {
        const response = await send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(document(batch)),
          signal: AbortSignal.timeout(5_000),
        })
        await response.arrayBuffer()
        // A 4xx will not get better by sending the same lines again; a 5xx or 429 may.
        if (response.status >= 500 || response.status === 429) return
      } catch {
        return
      }
      // Lines the full buffer shed while this batch was in flight were the batch's own (the
      // oldest): they were sent after all, so they are neither removed twice nor counted lost.
      const shedFromBatch = Math.min(trimmedDuringSend, batch.length)
      dropped -= shedFromBatch
      buffer = buffer.slice(batch.length - shedFromBatch)
    }
  }

  function flush(): Promise<void> {
    sending ??= sendBatches().finally(() => {
      sending = undefined
    })
    return sending
  }

  return {
    push(service: string, line: string): void {
      if (line.trim() === '') return
      // Milliseconds as nanoseconds, by text: no BigInt made per line.
      buffer.push({ service, line, observedNs: `${Date.now()}000000` })
      if (buffer.length > maxBuffered) {
        // A tenth more than the excess at once, so a full buffer is not copied on every line.
        const excess = Math.min(buffer.length, buffer.length - maxBuffered + Math.ceil(maxBuffered / 10))
        buffer = buffer.slice(excess)
        dropped += excess
        trimmedDuringSend += excess
      }
    },
    flush,
    /** Lines dropped because the buffer was full while the endpoint could not take them. */
    get dropped() {
      return dropped
    },
    get buffered() {
      return buffer.length
    },
    /** Sends what is buffered (one try) and stops the timer. */
    async close(): Promise<void> {
      clearInterval(timer)
      await flush()
    },
  }
}
