import { describe, expect, test } from 'bun:test'
import { isProbeUrl } from '../health.ts'
import { createServiceBase } from '../service-base.ts'
import { createTestTelemetry, requestPluginsUnderTest, sampleValue } from '../testing.ts'

describe('trace context with tracing off', () => {
  function untraced() {
    const { telemetry, app } = requestPluginsUnderTest()
    app.get('/', () => 'ok')
    return { telemetry, call: (init?: RequestInit) => app.handle(new Request('http://localhost/', init)) }
  }

  test("a caller's traceparent is continued: traceresponse and the log line name its trace, flag 00", async () => {
    const { telemetry, call } = untraced()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const response = await call({ headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
    const header = response.headers.get('traceresponse') ?? ''
    expect(header).toMatch(new RegExp(`^00-${traceId}-[\\da-f]{16}-00$`))
    await Bun.sleep(5)
    expect(telemetry.lines.find((l) => l.msg === 'request')).toMatchObject({
      trace_id: traceId,
      span_id: header.split('-')[2],
    })
    const text = await (await telemetry.metrics.scrape('application/openmetrics-text')).text()
    expect(text).not.toContain('trace_id=')
  })

  test('without a traceparent, each request starts a trace of its own', async () => {
    const { telemetry, call } = untraced()
    const first = (await call()).headers.get('traceresponse') ?? ''
    const second = (await call()).headers.get('traceresponse') ?? ''
    expect(first).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/)
    expect(second.split('-')[1]).not.toBe(first.split('-')[1])
    await Bun.sleep(5)
    expect(telemetry.lines.map((l) => l.trace_id)).toEqual([first.split('-')[1], second.split('-')[1]])
  })
})

describe('probes', () => {
  function traced(traceProbes: boolean) {
    const telemetry = createTestTelemetry({ service: 'x', tracing: true, traceProbes })
    const app = createServiceBase({ service: 'x', version: '1', description: 'd', ...telemetry }).get(
      '/things',
      () => 'ok',
    )
    const get = (path: string) => app.handle(new Request(`http://localhost${path}`))
    return { telemetry, get }
  }

  test('isProbeUrl knows the four probe paths, with or without a query, and nothing else', () => {
    for (const url of ['http://h/livez', 'http://h:1/healthz?x=1', 'http://h/readyz#a', 'http://h/metrics'])
      expect(isProbeUrl(url), url).toBe(true)
    for (const url of ['http://h/', 'http://h/livezz', 'http://h/metrics/x', 'http://h/catalog/healthz'])
      expect(isProbeUrl(url), url).toBe(false)
  })

  test('by default a probe makes no span, is still counted, answers its ids, and logs at debug only', async () => {
    const { telemetry, get } = traced(false)
    for (const path of ['/livez', '/healthz', '/readyz', '/metrics']) {
      const response = await get(path)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('traceresponse'), path).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/)
      expect(response.headers.get('x-request-id'), path).toBeTruthy()
    }
    const work = await get('/things')
    expect(work.headers.get('traceresponse')).toMatch(/-01$/)
    await Bun.sleep(10)
    const spans = await telemetry.spans()
    expect(spans.map((s) => s.name)).toEqual(['GET /things'])
    const probeLines = telemetry.lines.filter((l) => l.route !== '/things' && l.msg === 'request')
    expect(probeLines.map((l) => [l.route, l.level])).toEqual([
      ['/livez', 'debug'],
      ['/healthz', 'debug'],
      ['/readyz', 'debug'],
      ['/metrics', 'debug'],
    ])
    const text = await (await telemetry.metrics.scrape(null)).text()
    expect(sampleValue(text, 'http_requests_total', { endpoint: '/livez', status: '200' })).toBe(1)
  })

  test('with TRACE_PROBES=true a probe is traced and logged like any request', async () => {
    const { telemetry, get } = traced(true)
    const response = await get('/livez')
    expect(response.headers.get('traceresponse')).toMatch(/-01$/)
    await Bun.sleep(10)
    expect((await telemetry.spans()).map((s) => s.name)).toEqual(['GET /livez'])
    expect(telemetry.lines.find((l) => l.route === '/livez')?.level).toBe('info')
  })
})
