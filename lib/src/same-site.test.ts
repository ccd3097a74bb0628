import { describe, expect, test } from 'bun:test'
import { hostsFor, sameSiteOnly } from './same-site.ts'

const ok = sameSiteOnly(() => new Response('ok'))
const request = (method: string, headers: Record<string, string>) =>
  new Request('http://127.0.0.1:8089/api/start', { method, headers })

describe('sameSiteOnly', () => {
  test('answers loopback hosts, and a change from its own pages or from no page (curl)', async () => {
    for (const host of ['127.0.0.1:8089', 'localhost:8089', '[::1]:8089', 'localhost']) {
      expect((await ok(request('GET', { host }))).status).toBe(200)
    }
    const own = request('POST', { host: '127.0.0.1:8089', origin: 'http://127.0.0.1:8089' })
    expect((await ok(own)).status).toBe(200)
    expect((await ok(request('POST', { host: '127.0.0.1:8089' }))).status).toBe(200)
  })

  test('refuses a change from another origin (CSRF), naming it', async () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:9999', 'null']) {
      const response = await ok(request('POST', { host: '127.0.0.1:8089', origin }))
      expect(response.status).toBe(403)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
      expect(((await response.json()) as { detail: string }).detail).toContain(origin)
    }
    // Reading from another origin is the browser's CORS business: no CORS header is sent.
    expect((await ok(request('GET', { host: '127.0.0.1:8089', origin: 'http://evil.example' }))).status).toBe(
      200,
    )
  })

  test('refuses a host it does not listen as (DNS rebinding), unless told to answer it', async () => {
    const rebound = await ok(request('GET', { host: 'evil.example:8089' }))
    expect(rebound.status).toBe(403)
    expect(((await rebound.json()) as { detail: string }).detail).toContain('"evil.example"')
    const named = sameSiteOnly(() => new Response('ok'), hostsFor('shop.lan'))
    expect((await named(request('GET', { host: 'shop.lan:8089' }))).status).toBe(200)
    const everywhere = sameSiteOnly(() => new Response('ok'), hostsFor('0.0.0.0'))
    expect((await everywhere(request('GET', { host: 'anything.example' }))).status).toBe(200)
  })
})
