// The observability contract, proved with a real Prometheus: it scrapes the three real services
// (OpenMetrics, exemplar storage on) after traffic through the gateway, and the PromQL an
// operator would write — request rate, error ratio, p99 per endpoint — answers for every service;
// exemplars lead to trace ids; and however many ids and paths clients invent, the series count
// stays put.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Stack, startStack } from './harness.ts'
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.ts'
import { hasPrometheus, type RunningPrometheus, sendTraffic, startPrometheus } from './prometheus.ts'

const SERVICES = ['gateway', 'catalog', 'cart'] as const
let sink: OtlpReceiver
let stack: Stack
let prometheus: RunningPrometheus

describe.skipIf(!hasPrometheus)('a real Prometheus scraping the real services', () => {
  beforeAll(async () => {
    sink = startOtlpReceiver()
    stack = await startStack({ env: { OTLP_ENDPOINT: sink.url } })
    prometheus = await startPrometheus({
      targets: SERVICES.map((service) => ({ url: stack[service].url, labels: { service } })),
    })
    await prometheus.waitForScrapes(1)
    // Two rounds with a scrape between them: the first creates every series, the second makes
    // them grow, so rate() has two different samples to work with.
    await sendTraffic(stack.gateway.url, 1)
    // Two scrapes: the first may have begun before the traffic ended.
    await prometheus.waitForScrapes(2)
    await sendTraffic(stack.gateway.url, 2)
    await prometheus.waitForScrapes(2)
  }, 60_000)

  afterAll(async () => {
    await prometheus?.stop()
    await stack?.stop()
    sink?.stop()
  })

  const byService = (samples: Array<{ metric: Record<string, string> }>) =>
    new Set(samples.map((sample) => sample.metric.service))

  test('up is 1 for all three services', async () => {
    const up = await prometheus.vector('up{job="shopstack"}')
    expect(Object.fromEntries(up.map((s) => [s.metric.service, s.value[1]]))).toEqual({
      gateway: '1',
      catalog: '1',
      cart: '1',
    })
  })

  test('the scraped service label is the service’s own, not renamed to exported_service', async () => {
    expect(await prometheus.vector('count(http_requests_total{exported_service!=""})')).toEqual([])
    expect(byService(await prometheus.vector('http_requests_total'))).toEqual(new Set(SERVICES))
  })

  test('request rate per endpoint answers for every service, by route template', async () => {
    const rate = await prometheus.vector('sum by (service, endpoint) (rate(http_requests_total[1m]))')
    expect(byService(rate)).toEqual(new Set(SERVICES))
    const gateway = rate.filter((s) => s.metric.service === 'gateway')
    const endpoints = new Set(gateway.map((s) => s.metric.endpoint))
    for (const endpoint of ['/', '/catalog', '/catalog/:id', '/cart/add', '/cart/:id', 'unmatched']) {
      expect(endpoints).toContain(endpoint)
    }
    expect(gateway.find((s) => s.metric.endpoint === '/catalog/:id')?.value[1]).not.toBe('0')
    // Never a raw path.
    for (const sample of rate) expect(sample.metric.endpoint).not.toMatch(/\d|no\/such/)
  })

  test('error ratio per service answers, with client errors counted where they happened', async () => {
    const errorRatio = (statuses: string) =>
      prometheus.vector(
        `sum by (service) (rate(http_requests_total{status=~"${statuses}"}[1m]))` +
          ' / sum by (service) (rate(http_requests_total[1m]))',
      )
    const clientErrors = await errorRatio('4..')
    expect(byService(clientErrors)).toEqual(new Set(SERVICES))
    for (const sample of clientErrors) expect(Number(sample.value[1])).toBeGreaterThan(0)
    // 5xx: none with the simulation off, and written as 1 - success ratio it still answers 0.
    const serverErrors = await prometheus.vector(
      '1 - sum by (service) (rate(http_requests_total{status!~"5.."}[1m]))' +
        ' / sum by (service) (rate(http_requests_total[1m]))',
    )
    expect(byService(serverErrors)).toEqual(new Set(SERVICES))
    for (const sample of serverErrors) expect(sample.value[1]).toBe('0')
  })

  test('p99 latency per endpoint answers for every service', async () => {
    const p99 = await prometheus.vector(
      'histogram_quantile(0.99, sum by (service, endpoint, le) (rate(http_request_duration_seconds_bucket[1m])))',
    )
    const finite = p99.filter((s) => Number.isFinite(Number(s.value[1])))
    expect(byService(finite)).toEqual(new Set(SERVICES))
    for (const sample of finite) expect(Number(sample.value[1])).toBeLessThan(10)
  })

  test('upstream latency from the gateway and the cart answers per upstream', async () => {
    const upstream = await prometheus.vector(
      'histogram_quantile(0.99, sum by (service, upstream, le) (rate(upstream_request_duration_seconds_bucket[1m])))',
    )
    const pairs = new Set(upstream.map((s) => `${s.metric.service}->${s.metric.upstream}`))
    expect(pairs).toEqual(new Set(['gateway->catalog', 'gateway->cart', 'cart->catalog']))
  })

  test('exemplars carry the trace id of a request, and the traces went out over OTLP', async () => {
    const series = await prometheus.exemplars('http_request_duration_seconds_bucket')
    const services = new Set(series.map((s) => s.seriesLabels.service))
    expect(services).toEqual(new Set(SERVICES))
    const traceIds = series.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id))
    expect(traceIds.length).toBeGreaterThan(0)
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/)
    // An exemplar's trace id is the one the gateway logged for that request.
    const gatewayIds = series
      .filter((s) => s.seriesLabels.service === 'gateway')
      .flatMap((s) => s.exemplars.map((e) => e.labels.trace_id))
    const logged = new Set(stack.gateway.lines.map((line) => line.trace_id))
    expect(gatewayIds.some((id) => logged.has(id))).toBe(true)
    expect(sink.spans.length).toBeGreaterThan(0)
  })

  test('thousands of distinct ids and unknown paths add no series', async () => {
    const seriesCount = async () => {
      const counts = await prometheus.vector('count by (service) ({job="shopstack"})')
      return Object.fromEntries(counts.map((s) => [s.metric.service, Number(s.value[1])]))
    }
    const metricsLines = async () =>
      (await (await fetch(`${stack.gateway.url}/metrics`)).text()).split('\n').length
    const before = await seriesCount()
    const linesBefore = await metricsLines()

    const paths: string[] = []
    for (let i = 0; i < 1500; i++) paths.push(`/catalog/${100_000 + i * 7}`)
    for (let i = 0; i < 1500; i++) paths.push(`/unknown-${i}/${crypto.randomUUID()}`)
    for (let start = 0; start < paths.length; start += 100) {
      await Promise.all(
        paths
          .slice(start, start + 100)
          .map(async (path) => (await fetch(stack.gateway.url + path)).arrayBuffer()),
      )
    }
    await prometheus.waitForScrapes(2)

    expect(await metricsLines()).toBe(linesBefore)
    expect(await seriesCount()).toEqual(before)
    const unmatched = await prometheus.vector('http_requests_total{service="gateway", endpoint="unmatched"}')
    expect(unmatched).toHaveLength(1)
    expect(Number(unmatched[0]?.value[1])).toBeGreaterThanOrEqual(1500)
  }, 60_000)
})
