// Readiness while draining: /healthz fails at once, and every answer asks the caller to close its
// connection, so a kept-alive connection never outlives the grace period.

import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createHealth } from './health.ts'

function setup() {
  let draining = false
  const app = new Elysia()
    .use(createHealth({ service: 'test', isDraining: () => draining }))
    .get('/thing', () => ({ ok: true }))
    .get('/raw', () => new Response('raw'))
  const get = (path: string) => app.handle(new Request(`http://localhost${path}`))
  return { get, drain: () => (draining = true) }
}

describe('health while draining', () => {
  test('before SIGTERM, readiness passes and connections are kept alive', async () => {
    const { get } = setup()
    const ready = await get('/healthz')
    expect(ready.status).toBe(200)
    expect(ready.headers.get('connection')).toBeNull()
    expect((await get('/thing')).headers.get('connection')).toBeNull()
  })

  test('once draining, readiness fails naming the shutdown, and every answer says Connection: close', async () => {
    const { get, drain } = setup()
    drain()
    const ready = await get('/healthz')
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { checks: Record<string, unknown> }).checks.shutdown).toMatchObject({
      status: 'fail',
      error: 'draining',
    })
    for (const path of ['/healthz', '/livez', '/thing', '/raw']) {
      const response = await get(path)
      expect({ path, connection: response.headers.get('connection') }).toEqual({ path, connection: 'close' })
    }
    const thing = await get('/thing')
    expect(thing.status).toBe(200)
  })
})
