// Safe defaults for a shop running on a laptop: another web page the user opens cannot read or
// change the gateway's faults (the admin API is never shared cross-origin, whatever CORS_ORIGINS
// says), and the admin token's scheme is matched as RFC 9110 says, case-insensitively.

import { describe, expect, test } from 'bun:test'
import { createTestTelemetry } from '@shopstack/lib/testing'
import { createApp } from './app.ts'

const EVIL = 'https://evil.example'

function gateway(options: { adminToken?: string; corsOrigins?: string[] } = {}) {
  const app = createApp({
    catalogUrl: 'http://127.0.0.1:9',
    cartUrl: 'http://127.0.0.1:9',
    ...createTestTelemetry(),
    ...options,
  })
  return (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init))
}

describe('the admin API and other origins', () => {
  for (const corsOrigins of [undefined, ['*'], [EVIL]]) {
    test(`no CORS grant on /admin for another origin (CORS_ORIGINS ${corsOrigins ?? 'unset'})`, async () => {
      const call = gateway({ corsOrigins })
      const read = await call('/admin/faults', { headers: { origin: EVIL } })
      expect(read.headers.get('access-control-allow-origin')).toBeNull()
      const preflight = await call('/admin/faults', {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'DELETE' },
      })
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
      expect(preflight.headers.get('access-control-allow-methods')).toBeNull()
      // The public API keeps its CORS grant.
      const info = await call('/', { headers: { origin: EVIL } })
      expect(info.headers.get('access-control-allow-origin')).not.toBeNull()
    })
  }

  test('an encoded path does not route to the admin API around the check', async () => {
    const call = gateway()
    for (const path of ['/%61dmin/faults', '/admin%2Ffaults', '//admin/faults', '/./admin/faults']) {
      const response = await call(path, { headers: { origin: EVIL } })
      if (response.status === 200) expect(response.headers.get('access-control-allow-origin')).toBeNull()
    }
  })
})

describe('the admin token', () => {
  const call = gateway({ adminToken: 'sekrit-token' })
  const faults = (authorization?: string) =>
    call('/admin/faults', authorization === undefined ? {} : { headers: { authorization } })

  test('the Bearer scheme is case-insensitive (RFC 9110 §11.1)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await faults(`${scheme} sekrit-token`)).status).toBe(200)
    }
  })

  test('anything else is a 401 with WWW-Authenticate', async () => {
    for (const authorization of [
      undefined,
      'Bearer nope-nope!',
      'Basic sekrit-token',
      'sekrit-token',
      'Bearer  ',
      'Bearer sekrit-token x',
    ]) {
      const response = await faults(authorization)
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toContain('Bearer')
      expect(response.headers.get('content-type')).toBe('application/problem+json')
    }
  })
})
