import { describe, expect, test } from 'bun:test'
import { createMetrics } from './metrics.ts'

describe('createMetrics', () => {
  test('serves Prometheus text by default and OpenMetrics with exemplars when asked', async () => {
    const metrics = createMetrics({ service: 'svc', runtime: false })
    const labels = { method: 'GET', endpoint: '/catalog/:id', status: '200' }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe({ labels, value: 0.02, exemplarLabels: { trace_id: 'abc123' } as never })

    const plain = await metrics.scrape(null)
    expect(plain.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
    const text = await plain.text()
    expect(text).toContain(
      'http_requests_total{method="GET",endpoint="/catalog/:id",status="200",service="svc"} 1',
    )
    expect(text).not.toContain('trace_id')

    const open = await metrics.scrape('application/openmetrics-text; version=1.0.0')
    expect(open.headers.get('content-type')).toStartWith('application/openmetrics-text')
    const openText = await open.text()
    expect(openText).toContain('# {trace_id="abc123"} 0.02')
    expect(openText.trimEnd()).toEndWith('# EOF')
  })

  test('an OpenMetrics scrape does not rename the counters of the next plain-text scrape', async () => {
    const metrics = createMetrics({ service: 'svc', runtime: false })
    metrics.httpRequests.inc({ method: 'GET', endpoint: '/', status: '200' })
    const plainFirst = await (await metrics.scrape(null)).text()
    const [open, plain] = await Promise.all([
      metrics.scrape('application/openmetrics-text').then((r) => r.text()),
      metrics.scrape('text/plain').then((r) => r.text()),
    ])
    expect(open).toContain('# TYPE http_requests counter')
    expect(open).toContain('http_requests_total{')
    expect(plain).toBe(plainFirst)
    expect(plain).toContain('# TYPE http_requests_total counter')
  })

  test('runtime metrics are the ones that are right on Bun', async () => {
    const metrics = createMetrics({ service: 'svc' })
    try {
      const text = await (await metrics.scrape(null)).text()
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'process_open_fds',
        'nodejs_eventloop_lag_seconds',
      ]) {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{`))
        expect(line, name).toBeDefined()
        expect(Number(line?.split(' ').pop())).toBeGreaterThanOrEqual(0)
      }
      expect(text).not.toContain('nodejs_gc_duration_seconds')
      expect(text).not.toContain('nodejs_active_handles')
    } finally {
      metrics.stop()
    }
  })
})
