// The metrics of the upstream client (upstream.ts): RED per try, and what resilience did —
// retries by reason, budget refusals, ejections, instance readiness and state, shed calls.

import type { Metrics } from './telemetry/metrics.ts'

export type UpstreamMetrics = ReturnType<typeof createUpstreamMetrics>

/** Upstream RED and resilience metrics, created once per app and shared by all its upstreams. */
export function createUpstreamMetrics(metrics: Metrics) {
  // Calls in flight are read when scraped, not written on every call (two label lookups a call).
  const inFlightOf = new Map<string, () => number>()
  const readyOf = new Map<string, () => Array<{ host: string; ready: boolean }>>()
  return {
    /** Report `upstream`'s calls in flight through upstream_in_flight_requests. */
    trackInFlight(upstream: string, count: () => number) {
      inFlightOf.set(upstream, count)
    },
    /** Report `upstream`'s instances' readiness through upstream_instance_ready. */
    trackReady(upstream: string, list: () => Array<{ host: string; ready: boolean }>) {
      readyOf.set(upstream, list)
    },
    requests: metrics.counter(
      'upstream_requests_total',
      'Requests sent to upstream services (each try), by upstream, method, route and status (or error kind).',
      ['upstream', 'method', 'endpoint', 'status'],
    ),
    duration: metrics.histogram(
      'upstream_request_duration_seconds',
      'Duration of requests to upstream services (each try) in seconds.',
      ['upstream', 'method', 'endpoint', 'status'],
    ),
    retries: metrics.counter(
      'upstream_retries_total',
      'Retries sent to upstream services, by reason: outside the retry budget connect_refused (nothing was sent) and probe_failure; within it connect_failure, timeout, status_502, status_503.',
      ['upstream', 'reason'],
    ),
    retryBudgetExhausted: metrics.counter(
      'upstream_retry_budget_exhausted_total',
      'Retries not sent because the retry budget (20% of requests in flight) was used up.',
      ['upstream'],
    ),
    ejections: metrics.counter(
      'upstream_ejections_total',
      'Upstream instances ejected by outlier detection (consecutive failures).',
      ['upstream', 'upstream_instance'],
    ),
    instanceReady: metrics.gauge(
      'upstream_instance_ready',
      'Upstream instance chosen for new calls: 1 ready, 0 not (readiness check failing, draining, or ejected).',
      ['upstream', 'upstream_instance'],
      function () {
        // Instances that left (discovery) must not keep reporting their last value.
        this.reset()
        for (const [upstream, list] of readyOf) {
          for (const { host, ready } of list()) this.set({ upstream, upstream_instance: host }, ready ? 1 : 0)
        }
      },
    ),
    instanceState: metrics.gauge(
      'upstream_instance_state',
      'Upstream instance state, as a breaker: 0 healthy (closed), 1 probing (half-open), 2 ejected (open).',
      ['upstream', 'upstream_instance'],
    ),
    shed: metrics.counter(
      'upstream_shed_total',
      'Calls refused with 503 because the upstream had as many calls in flight as allowed.',
      ['upstream'],
    ),
    inFlight: metrics.gauge(
      'upstream_in_flight_requests',
      'Calls in flight per upstream.',
      ['upstream'],
      function () {
        for (const [upstream, count] of inFlightOf) this.set({ upstream }, count())
      },
    ),
  }
}
