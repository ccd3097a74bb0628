// The scraper against a real HTTP server serving the project's lib metrics (prom-client, OpenMetrics
// with exemplars) over a few scrapes on an injected clock; counter resets; targets going down and
// coming back; the bounds on memory; and scrapes that never overlap.

import { afterEach, describe, expect, test } from 'bun:test'
import { createMetrics } from '../../lib/src/telemetry/metrics.ts'
import { createUpstreamMetrics, type UpstreamMetrics } from '../../lib/src/upstream-metrics.ts'
import { createScraper, histogramQuantile, RowRing, type ScrapeFetch, type Scraper } from './scraper.ts'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CATALOG_ROUTE = '/catalog/:id'
const CART_ROUTE = '/cart/add'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function scraperFor(options: Parameters<typeof createScraper>[0]): Scraper {
  const scraper = createScraper(options)
  cleanups.push(() => scraper.stop())
  return scraper
}

/** A stand-in for one service process: its own registry, as a restart would give it. */
function serviceProcess() {
  const metrics = createMetrics({ service: 'gateway', runtime: false })
  cleanups.push(() => metrics.stop())
  const upstream: UpstreamMetrics = createUpstreamMetrics(metrics)
  return {
    metrics,
    upstream,
    /** What the request plugins record for one request. */
    request(method: string, endpoint: string, status: number, seconds: number, traceId?: string) {
      const labels = { method, endpoint, status: String(status) }
      metrics.httpRequests.inc(labels)
      const exemplarLabels = traceId ? ({ trace_id: traceId } as Record<string, string>) : undefined
      metrics.httpDuration.observe({ labels, value: seconds, exemplarLabels })
    },
  }
}

describe('histogramQuantile', () => {
  const les = [0.05, 0.1, Number.POSITIVE_INFINITY]
  test('interpolates linearly within the bucket the rank falls in, from 0 for the first', () => {
    expect(histogramQuantile(0.5, les, [5, 10, 10])).toBeCloseTo(0.05)
    expect(histogramQuantile(0.99, les, [5, 10, 10])).toBeCloseTo(0.099)
    expect(histogramQuantile(0.2, les, [10, 10, 10])).toBeCloseTo(0.01)
  })
  test('a rank in the +Inf bucket answers the highest finite bound; no count or no +Inf is NaN', () => {
    expect(histogramQuantile(0.5, les, [0, 0, 10])).toBe(0.1)
    expect(histogramQuantile(0.5, les, [0, 0, 0])).toBeNaN()
    expect(histogramQuantile(0.5, [0.05, 0.1], [1, 2])).toBeNaN()
  })
})

describe('RowRing', () => {
  test('keeps the newest rows, oldest first, and never allocates past its capacity', () => {
    const ring = new RowRing(2, 40)
    for (let i = 0; i < 100; i++) ring.push([i, i * 10])
    expect(ring.length).toBe(40)
    expect(ring.allocated).toBe(80)
    expect([...ring.row(0)]).toEqual([60, 600])
    expect([...ring.row(39)]).toEqual([99, 990])
  })
})

describe('createScraper', () => {
  test('scrapes a real server: rate, error ratio, quantiles, an exemplar, an outage and a restart', async () => {
    let service = serviceProcess()
    const accepts: (string | null)[] = []
    const serve = (port = 0) =>
      Bun.serve({
        port,
        hostname: '127.0.0.1',
        fetch(request) {
          accepts.push(request.headers.get('accept'))
          if (new URL(request.url).pathname !== '/metrics') return new Response('no', { status: 404 })
          return service.metrics.scrape(request.headers.get('accept'))
        },
      })
    let server = serve()
    cleanups.push(() => server.stop(true))
    const url = `http://127.0.0.1:${server.port}`
    // On a 10 s boundary, so 10 s steps below hold known scrapes.
    const start = Math.floor(Date.now() / 10_000) * 10_000
    let clock = start
    const scraper = scraperFor({ targets: [{ service: 'gateway', url }], now: () => clock })

    // The first scrape only sets the baseline.
    await scraper.scrapeOnce()
    expect(scraper.status()).toEqual([{ service: 'gateway', url, up: true, last_scrape_ms: start }])
    expect(scraper.red().series).toEqual([])

    for (let i = 0; i < 90; i++) service.request('GET', CATALOG_ROUTE, 200, 0.03)
    for (let i = 0; i < 10; i++)
      service.request('GET', CATALOG_ROUTE, 200, 0.3, i === 0 ? TRACE_ID : undefined)
    for (let i = 0; i < 10; i++) service.request('POST', CART_ROUTE, 500, 0.08)
    service.upstream.retries.inc({ upstream: 'catalog', reason: 'timeout' }, 4)
    service.upstream.retries.inc({ upstream: 'catalog', reason: 'status_503' }, 1)
    clock += 5000
    await scraper.scrapeOnce()

    const all = scraper.red()
    expect(all.step_s).toBe(5)
    expect(all.series).toHaveLength(1)
    const [whole] = all.series[0]?.points ?? []
    expect(all.series[0]?.route).toBeNull()
    expect(whole?.t_ms).toBe(start + 5000)
    expect(whole?.rate).toBeCloseTo(110 / 5)
    expect(whole?.error_ratio).toBeCloseTo(10 / 110)
    expect(all.retries).toEqual([
      { service: 'gateway', upstream: 'catalog', points: [{ t_ms: start + 5000, rate: 1 }] },
    ])

    const catalog = scraper.red({ service: 'gateway', route: CATALOG_ROUTE })
    expect(catalog.series.map((s) => s.route)).toEqual([CATALOG_ROUTE])
    const [point] = catalog.series[0]?.points ?? []
    expect(point?.rate).toBeCloseTo(20)
    expect(point?.error_ratio).toBe(0)
    // 90 in (0.025, 0.05], 10 in (0.25, 0.5]: rank 50 and rank 99, interpolated within the bucket.
    expect(point?.p50_ms).toBeCloseTo((0.025 + 0.025 * (50 / 90)) * 1000)
    expect(point?.p99_ms).toBeCloseTo((0.25 + 0.25 * (9 / 10)) * 1000)
    expect(catalog.exemplars).toHaveLength(1)
    expect(catalog.exemplars[0]).toMatchObject({
      service: 'gateway',
      route: CATALOG_ROUTE,
      value_ms: 300,
      trace_id: TRACE_ID,
    })
    // With a service and no route, one series per route.
    expect(scraper.red({ service: 'gateway' }).series.map((s) => s.route)).toEqual([
      CART_ROUTE,
      CATALOG_ROUTE,
    ])

    // A quiet interval: zero rate, and no ratio or latency to speak of.
    clock += 5000
    await scraper.scrapeOnce()
    expect(scraper.red().series[0]?.points[1]).toEqual({
      t_ms: start + 10_000,
      rate: 0,
      error_ratio: null,
      p50_ms: null,
      p99_ms: null,
    })
    // The same exemplar is served again at every scrape; it is kept once.
    expect(scraper.red().exemplars).toHaveLength(1)

    // The process goes away: the target is down, says why, and its series get no point.
    server.stop(true)
    clock += 5000
    await scraper.scrapeOnce()
    const [down] = scraper.status()
    expect(down?.up).toBe(false)
    expect(down?.last_scrape_ms).toBe(start + 15_000)
    expect(down?.error).toContain('Unable to connect')
    expect(scraper.red().series[0]?.points).toHaveLength(2)

    // It comes back restarted: its counters start again from zero, below what was seen.
    service = serviceProcess()
    for (let i = 0; i < 30; i++) service.request('GET', CATALOG_ROUTE, 200, 0.01)
    server = serve(Number(new URL(url).port))
    clock += 5000
    await scraper.scrapeOnce()
    expect(scraper.status()).toEqual([{ service: 'gateway', url, up: true, last_scrape_ms: start + 20_000 }])
    const after = scraper.red({ route: CATALOG_ROUTE }).series[0]?.points ?? []
    expect(after).toHaveLength(3)
    // 30 requests since the last good scrape, 10 s before: the reset is an increase, not a drop.
    expect(after[2]).toMatchObject({ t_ms: start + 20_000, rate: 3, error_ratio: 0 })
    expect(after[2]?.p99_ms).toBeCloseTo((0.005 + 0.005 * ((0.99 * 30) / 30)) * 1000)
    expect(scraper.red().retries[0]?.points.map((p) => p.rate)).toEqual([1, 0, 0])

    // 10 s steps sum the scrapes they hold: (110 + 0) / 10 s, then 30 / 10 s.
    const stepped = scraper.red({ step_s: 10 })
    expect(stepped.step_s).toBe(10)
    expect(stepped.series[0]?.points.map((p) => [p.t_ms, p.rate])).toEqual([
      [start + 10_000, 11],
      [start + 20_000, 3],
    ])
    // A window that ends before the restart shows only the restart's point.
    expect(scraper.red({ window_s: 6 }).series[0]?.points.map((p) => p.t_ms)).toEqual([start + 20_000])
    expect(accepts.every((accept) => accept?.startsWith('application/openmetrics-text; version=1.0.0'))).toBe(
      true,
    )
  })

  test('a changed process start time marks every counter reset, even one that counted past its old value', async () => {
    const pages = [
      { start: 1000, count: 100 },
      { start: 2000, count: 150 },
    ]
    let page = 0
    const fetch: ScrapeFetch = async () => {
      const { start, count } = pages[page++] as { start: number; count: number }
      const text = [
        '# TYPE process_start_time_seconds gauge',
        `process_start_time_seconds ${start}`,
        '# TYPE http_requests_total counter',
        `http_requests_total{method="GET",endpoint="/",status="200"} ${count}`,
        '',
      ].join('\n')
      return new Response(text, { headers: { 'content-type': 'text/plain; version=0.0.4' } })
    }
    let clock = 1_000_000
    const scraper = scraperFor({
      targets: [{ service: 'cart', url: 'http://cart' }],
      fetch,
      now: () => clock,
    })
    await scraper.scrapeOnce()
    clock += 5000
    await scraper.scrapeOnce()
    expect(scraper.red().series[0]?.points).toEqual([
      { t_ms: 1_005_000, rate: 30, error_ratio: 0, p50_ms: null, p99_ms: null },
    ])
  })

  test('a slow, failing or oversized answer marks the target down with the reason', async () => {
    const answers: Record<string, ScrapeFetch> = {
      'http://slow': (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason))
        }),
      'http://broken': async () => new Response('oops', { status: 500, statusText: 'Internal Server Error' }),
      'http://huge': async () => new Response('a 1\n'.repeat(1000)),
      'http://garbled': async () => new Response('a{b="1} 1\n'),
    }
    const fetch: ScrapeFetch = (url, init) => (answers[url.replace('/metrics', '')] as ScrapeFetch)(url, init)
    const scraper = scraperFor({
      targets: Object.keys(answers).map((url) => ({ service: url.slice(7), url })),
      fetch,
      timeoutMs: 50,
      maxBodyBytes: 1000,
    })
    await scraper.scrapeOnce()
    expect(scraper.status().map(({ service, up, error }) => ({ service, up, error }))).toEqual([
      { service: 'slow', up: false, error: 'timed out after 50 ms' },
      { service: 'broken', up: false, error: 'HTTP 500 Internal Server Error' },
      { service: 'huge', up: false, error: 'the metrics answer is larger than 1000 bytes' },
      { service: 'garbled', up: false, error: 'line 1: the value of label b is not closed' },
    ])
  })

  test('memory stays bounded: series are capped, rows per series and exemplars too', async () => {
    const routes = 300
    const scrapes = new Map<string, number>()
    const fetch: ScrapeFetch = async (url) => {
      const scrapeNumber = (scrapes.get(url) ?? 0) + 1
      scrapes.set(url, scrapeNumber)
      const lines = ['# TYPE http_requests counter', '# TYPE http_request_duration_seconds histogram']
      for (let r = 0; r < routes; r++) {
        const labels = `method="GET",endpoint="/r/${r}",status="200"`
        const n = scrapeNumber * (r + 1)
        lines.push(`http_requests_total{${labels}} ${n}`)
        lines.push(`http_request_duration_seconds_bucket{${labels},le="0.1"} ${n}`)
        const traceId = `${scrapeNumber}-${r}`
        lines.push(
          `http_request_duration_seconds_bucket{${labels},le="+Inf"} ${n} # {trace_id="${traceId}"} 0.05`,
        )
      }
      lines.push('# TYPE upstream_retries counter')
      for (let u = 0; u < 20; u++)
        lines.push(`upstream_retries_total{upstream="u${u}",reason="timeout"} ${scrapeNumber}`)
      lines.push('# EOF', '')
      return new Response(lines.join('\n'), {
        headers: { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' },
      })
    }
    let clock = 0
    const maxSeries = 50
    const retention = 12
    const scraper = scraperFor({
      targets: [
        { service: 'a', url: 'http://a' },
        { service: 'b', url: 'http://b' },
      ],
      fetch,
      now: () => clock,
      maxSeries,
      retention,
      maxExemplars: 100,
    })
    for (let i = 0; i < 40; i++) {
      clock += 5000
      await scraper.scrapeOnce()
    }
    const memory = scraper.memory()
    expect(memory.series).toBe(maxSeries)
    expect(memory.refused_series).toBe(2 * (routes + 20) - maxSeries)
    expect(memory.rows).toBe(maxSeries * retention)
    // A RED row here is t, dt, requests, 5xx and two buckets: six numbers.
    expect(memory.numbers).toBeLessThanOrEqual(maxSeries * retention * 6)
    expect(memory.exemplars).toBe(200)
    const answer = scraper.red({ service: 'a', window_s: 3600 })
    expect(Math.max(...answer.series.map((s) => s.points.length))).toBe(retention)
    expect(answer.exemplars.length).toBeLessThanOrEqual(200)
    // Rates still add up on the series that were kept: route /r/0 grows by one a scrape.
    expect(answer.series.find((s) => s.route === '/r/0')?.points.at(-1)?.rate).toBeCloseTo(1 / 5)
  })

  test('start scrapes every interval and never overlaps a scrape still under way; stop ends it', async () => {
    let calls = 0
    let release = () => {}
    const fetch: ScrapeFetch = () => {
      calls++
      return new Promise((resolve) => {
        release = () => resolve(new Response('a_total 1\n'))
      })
    }
    const scraper = scraperFor({ targets: [{ service: 'slow', url: 'http://slow' }], fetch, intervalMs: 10 })
    scraper.start()
    await Bun.sleep(80)
    expect(calls).toBe(1)
    release()
    await Bun.sleep(40)
    expect(calls).toBeGreaterThan(1)
    release()
    await scraper.stop()
    const stoppedAt = calls
    await Bun.sleep(40)
    expect(calls).toBe(stoppedAt)
    expect(scraper.status()[0]?.up).toBe(true)
  })
})
