import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { requestContext, stateOf, telemetryOf, UNMATCHED_ROUTE } from './request-context.ts'

describe('request context', () => {
  test('settles the status actually sent, the route template and the duration once', async () => {
    let clock = 100
    const seen: Array<[number, string, number]> = []
    const app = new Elysia()
      .use(requestContext({ service: 'x', now: () => clock }))
      .onAfterResponse({ as: 'global' }, ({ request }) => {
        const state = stateOf(request)
        if (state) seen.push([state.status, state.route, state.end - state.start])
      })
      // A returned Response leaves set.status at 200: the status is read from the Response.
      .get('/things/:id', () => {
        clock += 7
        return new Response('gone', { status: 410 })
      })
    await app.handle(new Request('http://localhost/things/1'))
    await app.handle(new Request('http://localhost/elsewhere'))
    await Bun.sleep(5)
    expect(seen).toEqual([
      [410, '/things/:id', 7],
      [404, UNMATCHED_ROUTE, 0],
    ])
  })

  test('a request no plugin has seen has an empty id and no span', () => {
    expect(telemetryOf(new Request('http://localhost/'))).toEqual({ requestId: '', span: undefined })
  })
})
