import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createEdge } from './edge.ts'

function app(origins?: string[]) {
  return new Elysia()
    .use(createEdge({ origins }))
    .get('/catalog', () => ({ items: [] }))
    .get('/docs', () => new Response('<html></html>', { headers: { 'content-type': 'text/html' } }))
}

describe('createEdge', () => {
  test('every response carries the security headers; API responses a no-content CSP', async () => {
    const response = await app().handle(new Request('http://localhost/catalog'))
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
    const docs = await app().handle(new Request('http://localhost/docs'))
    expect(docs.headers.get('content-security-policy')).toBeNull()
    expect(docs.headers.get('x-content-type-options')).toBe('nosniff')
  })

  test('a preflight from an allowed origin is answered 204 with the API methods and headers', async () => {
    const response = await app(['https://shop.example']).handle(
      new Request('http://localhost/cart/add', {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      }),
    )
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS')
    expect(response.headers.get('access-control-allow-headers')).toContain('idempotency-key')
    expect(response.headers.get('vary')).toBe('Origin')
  })

  test('an origin not on the list gets no CORS headers', async () => {
    const response = await app(['https://shop.example']).handle(
      new Request('http://localhost/catalog', { headers: { origin: 'https://evil.example' } }),
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('with the default any-origin policy, scripts can read the trace and request ids', async () => {
    const response = await app().handle(
      new Request('http://localhost/catalog', { headers: { origin: 'http://localhost:5173' } }),
    )
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-expose-headers')).toContain('traceresponse')
  })
})
