// The parser against what the services really write: a prom-client registry built by the project's
// lib (the metrics every service exposes), rendered in both formats, plus the corners prom-client
// does not produce (timestamps, malformed lines).

import { afterEach, describe, expect, test } from 'bun:test'
import { createMetrics, type Metrics } from '../../lib/src/telemetry/metrics.ts'
import { createUpstreamMetrics } from '../../lib/src/upstream-metrics.ts'
import { ExpositionError, formatOf, parseExposition, type Sample } from './openmetrics.ts'

const OPENMETRICS_ACCEPT = 'application/openmetrics-text; version=1.0.0'
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CATALOG = { method: 'GET', endpoint: '/catalog/:id', status: '200' }
/** A label value with every escape the formats define: a quote, a backslash, a newline. */
const AWKWARD = { method: 'GET', endpoint: 'we"ird\\path\nend', status: '500' }

const opened: Metrics[] = []
afterEach(() => {
  for (const metrics of opened.splice(0)) metrics.stop()
})

/** The gateway's metrics after a little traffic: two routes, one exemplar, one retry. */
function gatewayMetrics(): Metrics {
  const metrics = createMetrics({ service: 'gateway', runtime: false })
  opened.push(metrics)
  const upstream = createUpstreamMetrics(metrics)
  metrics.httpRequests.inc(CATALOG)
  metrics.httpDuration.observe({
    labels: CATALOG,
    value: 0.03,
    exemplarLabels: { trace_id: TRACE_ID } as Record<string, string>,
  })
  metrics.httpRequests.inc(AWKWARD, 2)
  metrics.httpDuration.observe({ labels: AWKWARD, value: 0.3 })
  metrics.httpDuration.observe({ labels: AWKWARD, value: 0.3 })
  upstream.retries.inc({ upstream: 'catalog', reason: 'timeout' })
  return metrics
}

async function render(metrics: Metrics, accept: string | null) {
  const response = await metrics.scrape(accept)
  const format = formatOf(response.headers.get('content-type'))
  const text = await response.text()
  return { text, format, samples: parseExposition(text, format) }
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample {
  const found = samples.find(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )
  if (!found) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`)
  return found
}

/** Samples as comparable strings, exemplars left out (only OpenMetrics has them). */
function identities(samples: Sample[]): string[] {
  return samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())} ${s.value}`).sort()
}

describe('parseExposition', () => {
  test("reads the OpenMetrics rendering of the shop's metrics, exemplar and escapes included", async () => {
    const before = Date.now()
    const { format, samples, text } = await render(gatewayMetrics(), OPENMETRICS_ACCEPT)
    expect(format).toBe('openmetrics')
    expect(text).toContain('# TYPE http_requests counter')

    const requests = find(samples, 'http_requests_total', { endpoint: '/catalog/:id' })
    expect(requests).toMatchObject({ family: 'http_requests', type: 'counter', value: 1 })
    expect(requests.labels).toEqual({ ...CATALOG, service: 'gateway' })

    const bucket = find(samples, 'http_request_duration_seconds_bucket', {
      endpoint: '/catalog/:id',
      le: '0.05',
    })
    expect(bucket).toMatchObject({ family: 'http_request_duration_seconds', type: 'histogram', value: 1 })
    expect(bucket.exemplar?.labels).toEqual({ trace_id: TRACE_ID })
    expect(bucket.exemplar?.value).toBe(0.03)
    // Exemplar timestamps are seconds on the wire; prom-client stamps them when observed.
    expect(bucket.exemplar?.timestamp_ms).toBeGreaterThanOrEqual(before - 1)
    expect(bucket.exemplar?.timestamp_ms).toBeLessThanOrEqual(Date.now() + 1)
    expect(
      find(samples, 'http_request_duration_seconds_bucket', { endpoint: '/catalog/:id', le: '0.1' }).exemplar,
    ).toBeUndefined()
    expect(find(samples, 'http_request_duration_seconds_bucket', { le: '+Inf', status: '500' }).value).toBe(2)

    expect(find(samples, 'http_requests_total', { status: '500' }).labels.endpoint).toBe(AWKWARD.endpoint)
    expect(find(samples, 'upstream_retries_total')).toMatchObject({
      family: 'upstream_retries',
      type: 'counter',
      labels: { upstream: 'catalog', reason: 'timeout', service: 'gateway' },
      value: 1,
    })
  })

  test('reads the Prometheus text rendering of the same metrics as the same samples', async () => {
    const metrics = gatewayMetrics()
    const openMetrics = await render(metrics, OPENMETRICS_ACCEPT)
    const prometheus = await render(metrics, 'text/plain')
    expect(prometheus.format).toBe('prometheus')
    expect(prometheus.text).toContain('# TYPE http_requests_total counter')
    expect(find(prometheus.samples, 'http_requests_total', CATALOG)).toMatchObject({
      family: 'http_requests_total',
      type: 'counter',
    })
    expect(identities(prometheus.samples)).toEqual(identities(openMetrics.samples))
    expect(prometheus.samples.some((sample) => sample.exemplar)).toBe(false)
  })

  test('reads +Inf, -Inf and NaN, in the spelling prom-client writes too', async () => {
    const metrics = createMetrics({ service: 'cart', runtime: false })
    opened.push(metrics)
    const gauge = metrics.gauge('probe_value', 'Odd values.', ['kind'])
    gauge.set({ kind: 'inf' }, Number.POSITIVE_INFINITY)
    gauge.set({ kind: 'minus' }, Number.NEGATIVE_INFINITY)
    gauge.set({ kind: 'nan' }, Number.NaN)
    const { samples } = await render(metrics, OPENMETRICS_ACCEPT)
    expect(find(samples, 'probe_value', { kind: 'inf' }).value).toBe(Number.POSITIVE_INFINITY)
    expect(find(samples, 'probe_value', { kind: 'minus' }).value).toBe(Number.NEGATIVE_INFINITY)
    expect(find(samples, 'probe_value', { kind: 'nan' }).value).toBeNaN()
    expect(parseExposition('a NaN\nb +Inf\nc -Inf\n').map((s) => s.value)).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
  })

  test('timestamps are seconds in OpenMetrics and milliseconds in the Prometheus format', () => {
    const [openMetrics] = parseExposition('# TYPE a gauge\na 1 1700000000.5\n# EOF\n')
    expect(openMetrics?.timestamp_ms).toBe(1_700_000_000_500)
    const [prometheus] = parseExposition('a{x="1",} 1 1700000000500\n')
    expect(prometheus).toMatchObject({ timestamp_ms: 1_700_000_000_500, labels: { x: '1' }, type: 'unknown' })
  })

  test('stops at # EOF and reads an exemplar without a timestamp', () => {
    const text = [
      '# TYPE d histogram',
      'd_bucket{le="+Inf"} 3 # {trace_id="abc",span_id="def"} 1.5',
      '# EOF',
      'not { a sample',
    ].join('\n')
    const samples = parseExposition(text, 'openmetrics')
    expect(samples).toHaveLength(1)
    expect(samples[0]?.exemplar).toEqual({ labels: { trace_id: 'abc', span_id: 'def' }, value: 1.5 })
  })

  test('a malformed line throws an ExpositionError naming the line', () => {
    const cases = [
      '# TYPE a counter\na_total{x="1} 2\n',
      '# TYPE a counter\na_total 1 2 3\n',
      '# TYPE a counter\na_total{x="1"} many\n',
      '# TYPE a counter\na_total{1x="1"} 1\n',
    ]
    for (const text of cases) {
      let thrown: unknown
      try {
        parseExposition(text)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(ExpositionError)
      expect((thrown as ExpositionError).line).toBe(2)
      expect((thrown as ExpositionError).message).toStartWith('line 2: ')
    }
  })
})
