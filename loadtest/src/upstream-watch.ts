// What the load generator cannot see from the outside: the gateway retries a failed read (and an
// add that carries an Idempotency-Key) on another try, so a request the client sees succeed may
// have failed upstream first. This reads the services' own /metrics during a run and reports, per
// upstream, the requests it served and how many it answered with a 5xx, and the retries its callers
// (the gateway, and the cart for the catalog) sent it and the retry budget refused — so a fault the
// retries hide is never invisible on the load page.

import type { ServiceName } from './faults.ts'

export interface UpstreamCounts {
  /** Requests the service answered (its probes and /metrics left out). */
  requests: number
  /** Of those, answered with a 5xx. */
  errors: number
  /** Retries its callers sent it. */
  retries: number
  /** Retries its callers wanted but the retry budget refused. */
  retries_refused: number
}

export interface UpstreamSummary extends UpstreamCounts {
  service: Exclude<ServiceName, 'gateway'>
  /** errors / requests; 0 without requests. */
  error_ratio: number
}

const UPSTREAMS = ['catalog', 'cart'] as const
const NOT_TRAFFIC = new Set(['/metrics', '/healthz', '/livez', '/readyz'])

/** Sum of a counter's samples in Prometheus text whose labels pass `keep`. */
export function sumCounter(
  text: string,
  name: string,
  keep: (labels: Record<string, string>) => boolean = () => true,
): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!match || match[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (key) labels[key] = value ?? ''
    }
    const value = Number(match[3])
    if (Number.isFinite(value) && keep(labels)) sum += value
  }
  return sum
}

export interface UpstreamWatchOptions {
  hosts: Readonly<Record<ServiceName, string>>
  fetch?: (url: string, init?: RequestInit) => Promise<Response>
  timeoutMs?: number
}

export type UpstreamWatch = ReturnType<typeof createUpstreamWatch>

export function createUpstreamWatch(options: UpstreamWatchOptions) {
  const { hosts, fetch: fetchFn = fetch, timeoutMs = 2000 } = options
  let start: Map<string, UpstreamCounts> | undefined
  let last: UpstreamSummary[] = []

  async function metricsOf(service: ServiceName): Promise<string> {
    try {
      const response = await fetchFn(`${hosts[service]}/metrics`, {
        // Not the learner's traffic: an unsampled traceparent makes no span.
        headers: { traceparent: '00-00000000000000000000000000000001-0000000000000001-00' },
        signal: AbortSignal.timeout(timeoutMs),
      })
      return response.ok ? await response.text() : ''
    } catch {
      return ''
    }
  }

  /** The counters now, since each process started. */
  async function read(): Promise<Map<string, UpstreamCounts>> {
    const [gateway, catalog, cart] = await Promise.all(
      (['gateway', 'catalog', 'cart'] as const).map(metricsOf),
    )
    const texts: Record<string, string> = { gateway: gateway ?? '', catalog: catalog ?? '', cart: cart ?? '' }
    const counts = new Map<string, UpstreamCounts>()
    for (const upstream of UPSTREAMS) {
      const own = texts[upstream] ?? ''
      const served = (labels: Record<string, string>) => !NOT_TRAFFIC.has(labels.endpoint ?? '')
      const toIt = (labels: Record<string, string>) => labels.upstream === upstream
      const callers = [texts.gateway ?? '', upstream === 'catalog' ? (texts.cart ?? '') : '']
      counts.set(upstream, {
        requests: sumCounter(own, 'http_requests_total', served),
        errors: sumCounter(own, 'http_requests_total', (l) => served(l) && /^5/.test(l.status ?? '')),
        retries: callers.reduce((sum, text) => sum + sumCounter(text, 'upstream_retries_total', toIt), 0),
        retries_refused: callers.reduce(
          (sum, text) => sum + sumCounter(text, 'upstream_retry_budget_exhausted_total', toIt),
          0,
        ),
      })
    }
    return counts
  }

  return {
    /** Counting starts now (the run's start). */
    async begin(): Promise<void> {
      last = []
      start = await read()
    },
    /** What each upstream did since `begin`. */
    async summary(): Promise<UpstreamSummary[]> {
      if (!start) return []
      const now = await read()
      last = UPSTREAMS.map((service) => {
        const a = start?.get(service)
        const b = now.get(service)
        // A counter that went down is a restarted process: count from zero again.
        const delta = (key: keyof UpstreamCounts) =>
          Math.max(0, (b?.[key] ?? 0) - ((a?.[key] ?? 0) > (b?.[key] ?? 0) ? 0 : (a?.[key] ?? 0)))
        const requests = delta('requests')
        const errors = delta('errors')
        return {
          service,
          requests,
          errors,
          error_ratio: requests > 0 ? errors / requests : 0,
          retries: delta('retries'),
          retries_refused: delta('retries_refused'),
        }
      })
      return last
    },
    /** The last summary, without reading again. */
    last: () => last,
  }
}
