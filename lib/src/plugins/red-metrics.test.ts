import { describe, expect, test } from 'bun:test'
import { requestPluginsUnderTest, sampleValue } from '../testing.ts'

describe('RED metrics', () => {
  test('count and time each request by method, route template and the status actually sent', async () => {
    const { telemetry, app } = requestPluginsUnderTest()
    app.get('/things/:id', () => new Response('gone', { status: 410 }))
    await app.handle(new Request('http://localhost/things/1'))
    await app.handle(new Request('http://localhost/things/2'))
    await app.handle(new Request('http://localhost/nowhere/3'))
    await Bun.sleep(5)
    const text = await (await telemetry.metrics.scrape(null)).text()
    const labels = { method: 'GET', endpoint: '/things/:id', status: '410' }
    expect(sampleValue(text, 'http_requests_total', labels)).toBe(2)
    expect(sampleValue(text, 'http_request_duration_seconds_count', labels)).toBe(2)
    expect(sampleValue(text, 'http_requests_total', { endpoint: 'unmatched', status: '404' })).toBe(1)
  })
})

describe('exemplars', () => {
  test('a rare slow request leaves its trace id in the slow bucket, even among fast ones', async () => {
    const { telemetry, clock, app } = requestPluginsUnderTest({ tracing: true })
    app.get('/work/:ms', ({ params }) => {
      clock.ms += Number(params.ms)
      return 'ok'
    })
    // Within one second of the fast request's exemplar, on the same series.
    await app.handle(new Request('http://localhost/work/2'))
    // afterResponse runs after the response is handed over: let it, before the clock moves on.
    await Bun.sleep(1)
    const slow = await app.handle(new Request('http://localhost/work/800'))
    const slowTrace = slow.headers.get('traceresponse')?.split('-')[1]
    await Bun.sleep(5)
    const text = await (await telemetry.metrics.scrape('application/openmetrics-text')).text()
    const line = text.split('\n').find((l) => l.startsWith('http_request_duration_seconds_bucket{le="1",'))
    expect(line).toContain(`trace_id="${slowTrace}"`)
  })

  test('a request its caller did not sample gives no exemplar: there is no trace to link to', async () => {
    const { telemetry, app } = requestPluginsUnderTest({ tracing: true })
    app.get('/', () => 'ok')
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const response = await app.handle(
      new Request('http://localhost/', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-00` } }),
    )
    expect(response.headers.get('traceresponse')).toMatch(new RegExp(`^00-${traceId}-[\\da-f]{16}-00$`))
    await Bun.sleep(5)
    const text = await (await telemetry.metrics.scrape('application/openmetrics-text')).text()
    expect(text).toContain('http_request_duration_seconds_count{')
    expect(text).not.toContain('trace_id=')
    expect(await telemetry.spans()).toHaveLength(0)
  })
})
