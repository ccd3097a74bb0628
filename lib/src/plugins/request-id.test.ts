import { describe, expect, test } from 'bun:test'
import { requestPluginsUnderTest } from '../testing.ts'
import { requestIdFor } from './request-id.ts'

describe('request id', () => {
  test("a caller's sane id is kept; a missing, long or odd one is replaced by a UUID", () => {
    expect(requestIdFor('abc-123.x:y_z')).toBe('abc-123.x:y_z')
    const uuid = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/
    for (const incoming of [null, '', 'x'.repeat(129), 'has space', 'new\nline', '<script>'])
      expect(requestIdFor(incoming), String(incoming)).toMatch(uuid)
  })

  test('is answered in x-request-id and written in the log line', async () => {
    const { telemetry, app } = requestPluginsUnderTest()
    app.get('/', () => 'ok')
    const kept = await app.handle(new Request('http://localhost/', { headers: { 'x-request-id': 'r-1' } }))
    expect(kept.headers.get('x-request-id')).toBe('r-1')
    const made = (await app.handle(new Request('http://localhost/'))).headers.get('x-request-id')
    await Bun.sleep(5)
    expect(telemetry.lines.map((l) => l.request_id)).toEqual(['r-1', made])
  })
})
