import { describe, expect, test } from 'bun:test'
import { HttpError } from '../errors.ts'
import { requestPluginsUnderTest } from '../testing.ts'

describe('request log', () => {
  test('one line per request: method, route template, status, duration and the ids', async () => {
    const { telemetry, clock, app } = requestPluginsUnderTest({ tracing: true })
    app.get('/things/:id', () => {
      clock.ms += 12.3456
      return 'ok'
    })
    const response = await app.handle(new Request('http://localhost/things/7?x=1'))
    await Bun.sleep(5)
    const [, traceId, spanId] = (response.headers.get('traceresponse') ?? '').split('-')
    expect(telemetry.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request',
        method: 'GET',
        route: '/things/:id',
        status: 200,
        duration_ms: 12.346,
        request_id: response.headers.get('x-request-id'),
        trace_id: traceId,
        span_id: spanId,
      }),
    ])
  })

  test('a 5xx is logged at error with what failed; its answer shows none of it', async () => {
    const { telemetry, app } = requestPluginsUnderTest()
    app
      .get('/boom', () => {
        throw new Error('database password is hunter2')
      })
      .get('/busy', () => {
        throw new HttpError(503, 'Try again')
      })
    const boom = await app.handle(new Request('http://localhost/boom'))
    expect(boom.status).toBe(500)
    expect(await boom.text()).not.toContain('hunter2')
    expect((await app.handle(new Request('http://localhost/busy'))).status).toBe(503)
    await Bun.sleep(5)
    expect(
      telemetry.lines.map((l) => [l.level, l.msg, l.status, (l.err as { message?: string })?.message]),
    ).toEqual([
      ['error', 'request failed', 500, 'database password is hunter2'],
      ['error', 'request failed', 503, 'Try again'],
    ])
  })
})
