// Prometheus metrics: RED metrics for every service, runtime metrics that are right on Bun, and a
// scrape handler that speaks both the Prometheus text format and OpenMetrics (with exemplars).
//
// prom-client only writes exemplars from an OpenMetrics registry, and refuses exemplar-enabled
// metrics in a Prometheus-format one at construction. So every metric is built in the OpenMetrics
// registry and then also registered, unchanged, in a Prometheus-format one: one set of counters,
// two renderings, chosen per scrape by the Accept header.
//
// prom-client's collectDefaultMetrics is not used: on Bun its GC, handle, heap-space and
// process_heap_bytes collectors are empty or wrong. The collectors below measure what Bun reports.
//
// The four classes used are loaded from their own modules, not the package index, which also loads
// the Pushgateway (with http, https and zlib), the default metrics and the cluster aggregator: about
// 20 ms of every service's start and 2.5 MB of its idle memory (bench/README.md, "What loading
// costs"). Their types are the index's (prom-client-parts.d.ts); prom-client is pinned by bun.lock,
// and metrics.test.ts renders every kind of metric, so a moved module fails there.

import { readdirSync } from 'node:fs'
import type { Metric, OpenMetricsContentType } from 'prom-client'
import Counter from 'prom-client/lib/counter'
import Gauge from 'prom-client/lib/gauge'
import Histogram from 'prom-client/lib/histogram'
import Registry from 'prom-client/lib/registry'

/** 1 ms to 10 s: covers a cache hit through a timed-out upstream. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const OPENMETRICS_TYPE = Registry.OPENMETRICS_CONTENT_TYPE

export interface MetricsOptions {
  service: string
  /** Collect runtime (process) metrics; tests that count series can turn them off. */
  runtime?: boolean
  /** Event-loop lag sampling interval in milliseconds. */
  lagSampleMs?: number
}

export type Metrics = ReturnType<typeof createMetrics>

export function createMetrics(options: MetricsOptions) {
  const { service, runtime = true, lagSampleMs = 500 } = options
  // prom-client's typings omit the constructor argument; setContentType does the same.
  const openMetrics = new Registry<OpenMetricsContentType>()
  openMetrics.setContentType(OPENMETRICS_TYPE)
  const prometheus = new Registry()
  openMetrics.setDefaultLabels({ service })
  prometheus.setDefaultLabels({ service })

  const register = <T extends Metric>(metric: T): T => {
    prometheus.registerMetric(metric)
    return metric
  }
  const registers = [openMetrics]

  const httpRequests = register(
    new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests handled, by method, route template and status code.',
      labelNames: ['method', 'endpoint', 'status'] as const,
      registers,
    }),
  )
  const httpDuration = register(
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route template and status code.',
      labelNames: ['method', 'endpoint', 'status'] as const,
      buckets: DURATION_BUCKETS,
      enableExemplars: true,
      registers,
    }),
  )
  const simulatedFaults = register(
    new Counter({
      name: 'simulated_faults_total',
      help: 'Simulated faults injected, by kind (latency, failure).',
      labelNames: ['kind'] as const,
      registers,
    }),
  )

  const stopRuntime = runtime ? registerRuntimeMetrics(register, registers, lagSampleMs) : () => {}

  // prom-client's OpenMetrics rendering renames every counter in place (`http_requests_total`
  // becomes `http_requests`, as the OpenMetrics TYPE line wants), and the metric objects are shared
  // with the Prometheus-format registry: after one OpenMetrics scrape, plain-text scrapes lost the
  // `_total` suffix. Renderings therefore run one at a time, and a plain-text one first gives the
  // counters their names back.
  let scrapes: Promise<void> = Promise.resolve()
  const render = (registry: Registry<OpenMetricsContentType> | Registry): Promise<string> => {
    if (registry === prometheus) {
      for (const metric of prometheus.getMetricsAsArray() as unknown as Array<{
        type?: string
        name: string
      }>) {
        if (metric.type === 'counter' && !metric.name.endsWith('_total')) metric.name = `${metric.name}_total`
      }
    }
    return registry.metrics()
  }

  return {
    openMetrics,
    prometheus,
    httpRequests,
    httpDuration,
    simulatedFaults,
    /** Build a Counter registered in both renderings. */
    counter<L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      collect?: (this: Counter<L>) => void,
    ) {
      return register(new Counter<L>({ name, help, labelNames, registers, collect }))
    },
    /** Build a Histogram (seconds, DURATION_BUCKETS) registered in both renderings. */
    histogram<L extends string>(name: string, help: string, labelNames: readonly L[]) {
      return register(new Histogram<L>({ name, help, labelNames, buckets: DURATION_BUCKETS, registers }))
    },
    /** Build a Gauge registered in both renderings. */
    gauge<L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      collect?: (this: Gauge<L>) => void,
    ) {
      return register(new Gauge<L>({ name, help, labelNames, registers, collect }))
    },
    /** Render for a scrape, honouring `Accept: application/openmetrics-text`. */
    async scrape(accept: string | null): Promise<Response> {
      const registry = accept?.includes('application/openmetrics-text') ? openMetrics : prometheus
      // One rendering at a time (see render above).
      const rendering = scrapes.then(() => render(registry))
      scrapes = rendering.then(
        () => {},
        () => {},
      )
      return new Response(await rendering, { headers: { 'content-type': registry.contentType } })
    },
    stop: stopRuntime,
  }
}

function registerRuntimeMetrics(
  register: <T extends Metric>(metric: T) => T,
  registers: Registry<OpenMetricsContentType>[],
  lagSampleMs: number,
): () => void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime())
  register(
    new Gauge({
      name: 'process_start_time_seconds',
      help: 'Start time of the process since the Unix epoch in seconds.',
      registers,
      collect() {
        this.set(startSeconds)
      },
    }),
  )
  register(
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'Total user and system CPU time spent in seconds.',
      registers,
      collect() {
        const { user, system } = process.cpuUsage()
        this.reset()
        this.inc((user + system) / 1e6)
      },
    }),
  )
  register(
    new Gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss())
      },
    }),
  )
  register(
    new Gauge({
      name: 'nodejs_heap_size_total_bytes',
      help: 'JavaScript heap size in bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage().heapTotal)
      },
    }),
  )
  register(
    new Gauge({
      name: 'nodejs_heap_size_used_bytes',
      help: 'JavaScript heap used in bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage().heapUsed)
      },
    }),
  )
  register(
    new Gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      registers,
      collect() {
        try {
          this.set(readdirSync('/proc/self/fd').length)
        } catch {
          // Not Linux: leave the gauge unset rather than report a wrong number.
        }
      },
    }),
  )

  // Event-loop lag, measured as the delay of a timer beyond its due time. The gauge shows the
  // worst lag seen since the previous scrape, so short stalls between scrapes are not missed.
  let worstLagMs = 0
  let due = performance.now() + lagSampleMs
  const timer = setInterval(() => {
    const now = performance.now()
    worstLagMs = Math.max(worstLagMs, now - due)
    due = now + lagSampleMs
  }, lagSampleMs)
  timer.unref()
  register(
    new Gauge({
      name: 'nodejs_eventloop_lag_seconds',
      help: 'Worst event-loop lag seen since the previous scrape, in seconds.',
      registers,
      collect() {
        this.set(Math.max(0, worstLagMs) / 1000)
        worstLagMs = 0
      },
    }),
  )
  return () => clearInterval(timer)
}
