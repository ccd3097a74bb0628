// Run statistics: one EndpointStats per (target service, method, route template), failures
// grouped by cause with an example trace id, and a once-a-second time series. The hot path is
// `success`/`failure`: a couple of increments and two O(1) histogram records, no allocation.

import { Histogram } from './histogram.ts'

export class EndpointStats {
  readonly histogram = new Histogram()
  requests = 0
  failures = 0
  /** Requests and failures since the last tick, for the current rate. */
  windowRequests = 0
  windowFailures = 0
  currentRps = 0
  currentFailuresPerSecond = 0

  constructor(
    /** Which service was called: "gateway", "catalog" or "cart". */
    readonly target: string,
    readonly method: string,
    /** The route template ("/catalog/:id"), never the raw path. */
    readonly route: string,
  ) {}

  /** "GET /catalog/:id", with the service named when it is not the gateway. */
  get name(): string {
    return this.target === 'gateway'
      ? `${this.method} ${this.route}`
      : `${this.method} ${this.route} (${this.target})`
  }
}

export interface FailureExample {
  url: string
  trace_id?: string
  /** Whether the service recorded the trace (the sampled flag of its `traceresponse`): health checks and /metrics make no span by default, so their ids find log lines only. */
  trace_recorded?: boolean
  request_id?: string
  /** Seconds since the run started. */
  at_s: number
}

export interface FailureGroup {
  endpoint: string
  method: string
  route: string
  target: string
  /** "503 Service Unavailable", or "network: ConnectionRefused". */
  cause: string
  status?: number
  count: number
  example: FailureExample
}

export interface LatencySummary {
  min_ms: number
  avg_ms: number
  p50_ms: number
  p90_ms: number
  p95_ms: number
  p99_ms: number
  max_ms: number
}

export interface EndpointSnapshot extends LatencySummary {
  name: string
  target: string
  method: string
  route: string
  requests: number
  failures: number
  rps: number
  current_rps: number
  failures_per_s: number
}

export interface TotalsSnapshot extends LatencySummary {
  requests: number
  failures: number
  error_rate: number
  rps: number
  current_rps: number
  failures_per_s: number
}

export interface SeriesPoint {
  /** Seconds since the run started. */
  t: number
  rps: number
  failures_per_s: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  users: number
  in_flight: number
}

export interface StatsSnapshot {
  elapsed_s: number
  totals: TotalsSnapshot
  endpoints: EndpointSnapshot[]
  failures: FailureGroup[]
}

export interface StatsOptions {
  /** Clock in milliseconds. */
  now?: () => number
}

export type Stats = ReturnType<typeof createStats>

export function createStats(options: StatsOptions = {}) {
  const { now = () => performance.now() } = options
  const endpoints = new Map<string, EndpointStats>()
  const failures = new Map<string, FailureGroup>()
  const series: SeriesPoint[] = []
  // Latencies of the current second, across endpoints: the percentiles of the time series.
  const window = new Histogram()
  let startedAt = now()
  let lastTick = startedAt
  let endedAt: number | undefined
  let windowRequests = 0
  let windowFailures = 0
  let currentRps = 0
  let currentFailuresPerSecond = 0

  const elapsedMs = () => (endedAt ?? now()) - startedAt

  return {
    series,

    /** The stats of an endpoint, created on first use; scenarios resolve these once, up front. */
    endpoint(target: string, method: string, route: string): EndpointStats {
      const key = `${target} ${method} ${route}`
      let stats = endpoints.get(key)
      if (!stats) {
        stats = new EndpointStats(target, method, route)
        endpoints.set(key, stats)
      }
      return stats
    },

    /** Restart the clock: the run's elapsed time and rates count from here. */
    begin(): void {
      startedAt = now()
      lastTick = startedAt
      endedAt = undefined
    },

    end(): void {
      endedAt ??= now()
    },

    success(endpoint: EndpointStats, ms: number): void {
      endpoint.requests++
      endpoint.windowRequests++
      endpoint.histogram.record(ms)
      windowRequests++
      window.record(ms)
    },

    failure(
      endpoint: EndpointStats,
      ms: number,
      cause: string,
      example: FailureExample,
      status?: number,
    ): void {
      endpoint.requests++
      endpoint.failures++
      endpoint.windowRequests++
      endpoint.windowFailures++
      endpoint.histogram.record(ms)
      windowRequests++
      windowFailures++
      window.record(ms)
      const key = `${endpoint.target} ${endpoint.method} ${endpoint.route}\u0000${cause}`
      const group = failures.get(key)
      if (group) {
        group.count++
        // The example is what a person follows to the trace: the first one that names a trace.
        if (!group.example.trace_id && example.trace_id) group.example = example
      } else
        failures.set(key, {
          endpoint: endpoint.name,
          method: endpoint.method,
          route: endpoint.route,
          target: endpoint.target,
          cause,
          ...(status === undefined ? {} : { status }),
          count: 1,
          example,
        })
    },

    /** Seconds since the run began, for failure examples. */
    elapsedSeconds(): number {
      return elapsedMs() / 1000
    },

    /** Close the current window (about a second) and append a point to the series. */
    tick(users: number, inFlight: number): SeriesPoint {
      const at = endedAt ?? now()
      const seconds = Math.max(at - lastTick, 1) / 1000
      lastTick = at
      currentRps = windowRequests / seconds
      currentFailuresPerSecond = windowFailures / seconds
      for (const stats of endpoints.values()) {
        stats.currentRps = stats.windowRequests / seconds
        stats.currentFailuresPerSecond = stats.windowFailures / seconds
        stats.windowRequests = 0
        stats.windowFailures = 0
      }
      const point: SeriesPoint = {
        t: round((at - startedAt) / 1000, 3),
        rps: round(currentRps, 2),
        failures_per_s: round(currentFailuresPerSecond, 2),
        p50_ms: round(window.percentile(0.5), 2),
        p95_ms: round(window.percentile(0.95), 2),
        p99_ms: round(window.percentile(0.99), 2),
        users,
        in_flight: inFlight,
      }
      series.push(point)
      window.reset()
      windowRequests = 0
      windowFailures = 0
      return point
    },

    snapshot(): StatsSnapshot {
      const seconds = Math.max(elapsedMs(), 1) / 1000
      const all = new Histogram()
      let requests = 0
      let failed = 0
      const rows: EndpointSnapshot[] = []
      for (const stats of endpoints.values()) {
        if (stats.requests === 0) continue
        all.add(stats.histogram)
        requests += stats.requests
        failed += stats.failures
        rows.push({
          name: stats.name,
          target: stats.target,
          method: stats.method,
          route: stats.route,
          requests: stats.requests,
          failures: stats.failures,
          rps: round(stats.requests / seconds, 2),
          current_rps: round(stats.currentRps, 2),
          failures_per_s: round(stats.currentFailuresPerSecond, 2),
          ...latency(stats.histogram),
        })
      }
      rows.sort((a, b) => a.name.localeCompare(b.name))
      return {
        elapsed_s: round(seconds, 3),
        totals: {
          requests,
          failures: failed,
          error_rate: requests === 0 ? 0 : round(failed / requests, 6),
          rps: round(requests / seconds, 2),
          current_rps: round(currentRps, 2),
          failures_per_s: round(currentFailuresPerSecond, 2),
          ...latency(all),
        },
        endpoints: rows,
        failures: [...failures.values()].sort((a, b) => b.count - a.count),
      }
    },
  }
}

export function latency(histogram: Histogram): LatencySummary {
  return {
    min_ms: round(histogram.count === 0 ? 0 : histogram.minMs, 3),
    avg_ms: round(histogram.meanMs, 3),
    p50_ms: round(histogram.percentile(0.5), 3),
    p90_ms: round(histogram.percentile(0.9), 3),
    p95_ms: round(histogram.percentile(0.95), 3),
    p99_ms: round(histogram.percentile(0.99), 3),
    max_ms: round(histogram.maxMs, 3),
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
