import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createMetrics } from '../telemetry/metrics.ts'
import { metricsRoute } from './metrics-route.ts'

describe('GET /metrics', () => {
  test('Prometheus text by default, OpenMetrics when the scraper asks for it', async () => {
    const metrics = createMetrics({ service: 'x', runtime: false })
    metrics.httpRequests.inc({ method: 'GET', endpoint: '/', status: '200' })
    const app = new Elysia().use(metricsRoute({ service: 'x', metrics }))
    const text = await app.handle(new Request('http://localhost/metrics'))
    expect(text.headers.get('content-type')).toStartWith('text/plain')
    expect(await text.text()).toContain(
      'http_requests_total{method="GET",endpoint="/",status="200",service="x"} 1',
    )
    const open = await app.handle(
      new Request('http://localhost/metrics', { headers: { accept: 'application/openmetrics-text' } }),
    )
    expect(open.headers.get('content-type')).toStartWith('application/openmetrics-text')
    expect(await open.text()).toEndWith('# EOF\n')
  })
})
