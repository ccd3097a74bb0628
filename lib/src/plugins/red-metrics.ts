// RED metrics for every request: http_requests_total and http_request_duration_seconds by method,
// route template and status, with a recorded trace's id as the histogram bucket's exemplar.
//
// Per request it allocates nothing new for a known series: label sets are built once per
// method+route+status and reused, and an exemplar is refreshed at most once a second per series
// and bucket (Prometheus keeps one per bucket, so one per request bought nothing).

import { Elysia } from 'elysia'
import { DURATION_BUCKETS, type Metrics } from '../telemetry/metrics.ts'
import { stateOf } from './request-context.ts'

/** Label sets kept per method+route+status; past this many, new ones are built per request. */
const MAX_CACHED_SERIES = 1000
/** How often a series' exemplar is refreshed, in milliseconds. */
const EXEMPLAR_INTERVAL_MS = 1000

interface Series {
  readonly labels: { readonly method: string; readonly endpoint: string; readonly status: string }
  /** When each histogram bucket's exemplar was last written: per bucket, so a rare slow request
   * still leaves its trace id in the slow bucket (the one a p99 panel links from). */
  readonly exemplarAt: Float64Array
}

/** Index of the histogram bucket (DURATION_BUCKETS, then +Inf) a duration falls into. */
function bucketOf(seconds: number): number {
  let i = 0
  while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++
  return i
}

export function redMetrics(options: { service: string; metrics: Metrics }) {
  const { service, metrics } = options
  const series = new Map<string, Series>()

  function seriesOf(method: string, endpoint: string, status: number): Series {
    const key = `${method} ${status} ${endpoint}`
    let found = series.get(key)
    if (!found) {
      found = {
        labels: Object.freeze({ method, endpoint, status: String(status) }),
        exemplarAt: new Float64Array(DURATION_BUCKETS.length + 1).fill(-Infinity),
      }
      if (series.size < MAX_CACHED_SERIES) series.set(key, found)
    }
    return found
  }

  return new Elysia({ name: '@shopstack/red-metrics', seed: service }).onAfterResponse(
    { as: 'global' },
    function countRequest({ request }) {
      const state = stateOf(request)
      if (!state) return
      const seconds = (state.end - state.start) / 1000
      const entry = seriesOf(request.method, state.route, state.status)
      const labels = entry.labels
      metrics.httpRequests.inc(labels)
      const context = state.span?.spanContext()
      const bucket = bucketOf(seconds)
      // An exemplar links to a trace, so only a recorded (sampled) one gives it.
      if (
        context !== undefined &&
        (context.traceFlags & 1) === 1 &&
        state.end - (entry.exemplarAt[bucket] as number) >= EXEMPLAR_INTERVAL_MS
      ) {
        entry.exemplarAt[bucket] = state.end
        // prom-client types exemplar labels as the metric's own label names; they are free-form.
        const exemplarLabels = { trace_id: context.traceId } as Record<string, string>
        metrics.httpDuration.observe({ labels, value: seconds, exemplarLabels })
      } else {
        metrics.httpDuration.observe({ labels, value: seconds })
      }
    },
  )
}
