import { expect, test } from 'bun:test'
import { createServiceBase } from '../service-base.ts'
import { createTestTelemetry } from '../testing.ts'

test('a known path with another method is a 405 problem with Allow; an unknown path stays a 404', async () => {
  const app = createServiceBase({
    service: 'test',
    version: '0',
    description: 'test',
    ...createTestTelemetry(),
  })
    .get('/things/:id', () => 'one')
    .delete('/things/:id', () => 'gone')
  const call = (method: string, path: string) =>
    app.handle(new Request(`http://localhost${path}`, { method }))
  const wrong = await call('PUT', '/things/7')
  expect(wrong.status).toBe(405)
  expect(wrong.headers.get('allow')).toBe('DELETE, GET')
  expect(wrong.headers.get('content-type')).toBe('application/problem+json')
  expect(((await wrong.json()) as { status: number }).status).toBe(405)
  expect((await call('POST', '/metrics')).headers.get('allow')).toBe('GET')
  expect((await call('GET', '/things/7/more')).status).toBe(404)
  expect((await call('GET', '/things/7')).status).toBe(200)
})
