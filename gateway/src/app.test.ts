// Gateway tests against real upstream sockets: stub upstreams on Bun.serve({ port: 0 }) where the
// point is what crosses the wire, and the real catalog and cart apps where it is the behaviour.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestTelemetry, refusalOf, SCHEMA_LEAK, sampleValue } from '@shopstack/lib/testing'
import type { Server } from 'bun'
import { createCartApp, createCartStore, createCatalogApp, createProductStore } from '../../e2e/in-process.ts'
import { createApp } from './app.ts'

type Recorded = { method: string; url: string; headers: Headers; body: string }

/** An upstream that records what it receives and answers what the test says. */
function stubUpstream(answer: (request: Request) => Response | Promise<Response>) {
  const received: Recorded[] = []
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      received.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: await request.text(),
      })
      return answer(request)
    },
  })
  return { server, url: `http://127.0.0.1:${server.port}`, received }
}

function gateway(
  catalogUrl: string,
  cartUrl: string,
  options: { upstreamTimeoutMs?: number; tracing?: boolean } = {},
) {
  const telemetry = createTestTelemetry({ service: 'gateway', tracing: options.tracing })
  const app = createApp({ catalogUrl, cartUrl, ...telemetry, upstreamTimeoutMs: options.upstreamTimeoutMs })
  const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init))
  return { app, call, telemetry }
}

describe('gateway proxying to real services', () => {
  let catalog: Server<unknown>
  let cart: Server<unknown>
  let call: ReturnType<typeof gateway>['call']

  beforeAll(() => {
    const catalogApp = createCatalogApp({ store: createProductStore(), ...createTestTelemetry() }).listen({
      port: 0,
      hostname: '127.0.0.1',
    })
    catalog = catalogApp.server as Server<unknown>
    const catalogUrl = `http://127.0.0.1:${catalog.port}`
    const cartApp = createCartApp({ store: createCartStore(), catalogUrl, ...createTestTelemetry() }).listen({
      port: 0,
      hostname: '127.0.0.1',
    })
    cart = cartApp.server as Server<unknown>
    call = gateway(catalogUrl, `http://127.0.0.1:${cart.port}`).call
  })
  afterAll(() => {
    catalog.stop(true)
    cart.stop(true)
  })

  test('GET / names the service, its version and upstreams', async () => {
    const info = (await (await call('/')).json()) as { name: string; upstreams: Record<string, string> }
    expect(info.name).toBe('shopstack-gateway')
    expect(Object.keys(info.upstreams)).toEqual(['catalog', 'cart'])
  })

  test('catalog reads pass through with status, body and content type', async () => {
    const ok = await call('/catalog/123')
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toContain('application/json')
    expect(((await ok.json()) as { id: number }).id).toBe(123)
    const missing = await call('/catalog/4000')
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toBe('application/problem+json')
    const page = (await (await call('/catalog?page=3&page_size=7&category=toys')).json()) as {
      items: unknown[]
      page: number
    }
    expect(page.items).toHaveLength(7)
    expect(page.page).toBe(3)
  })

  test('cart writes go through to the cart (and from it to the catalog)', async () => {
    const added = await call('/cart/add', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cart_id: 'gw', product_id: 10, quantity: 3 }),
    })
    expect(added.status).toBe(200)
    expect(((await (await call('/cart/gw')).json()) as { item_count: number }).item_count).toBe(3)
    expect((await call('/cart/gw/items/10', { method: 'DELETE' })).status).toBe(200)
    expect((await call('/cart/gw', { method: 'DELETE' })).status).toBe(200)
  })
})

describe('gateway as an HTTP intermediary', () => {
  test('drops hop-by-hop headers both ways and forwards the rest (RFC 9110 §7.6.1)', async () => {
    const upstream = stubUpstream(
      () =>
        new Response('{"id":1}', {
          headers: {
            'content-type': 'application/json',
            connection: 'x-upstream-secret',
            'x-upstream-secret': '1',
            'keep-alive': 'timeout=5',
            'x-custom': 'kept',
          },
        }),
    )
    try {
      const { call } = gateway(upstream.url, upstream.url)
      const response = await call('/catalog/1', {
        headers: { connection: 'x-hop', 'x-hop': 'drop me', te: 'trailers', 'x-end-to-end': 'keep me' },
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('x-custom')).toBe('kept')
      expect(response.headers.get('x-upstream-secret')).toBeNull()
      expect(response.headers.get('keep-alive')).toBeNull()
      const sent = upstream.received[0]?.headers
      expect(sent?.get('x-end-to-end')).toBe('keep me')
      expect(sent?.get('x-hop')).toBeNull()
      expect(sent?.get('te')).toBeNull()
    } finally {
      upstream.server.stop(true)
    }
  })

  test('creates an x-request-id, forwards it and returns it; keeps a valid one from the client', async () => {
    const upstream = stubUpstream(() => Response.json({ id: 1 }))
    try {
      const { call } = gateway(upstream.url, upstream.url)
      const created = await call('/catalog/1')
      const id = created.headers.get('x-request-id')
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect(upstream.received[0]?.headers.get('x-request-id')).toBe(id as string)
      const kept = await call('/catalog/1', { headers: { 'x-request-id': 'client-id-1' } })
      expect(kept.headers.get('x-request-id')).toBe('client-id-1')
      expect(upstream.received[1]?.headers.get('x-request-id')).toBe('client-id-1')
    } finally {
      upstream.server.stop(true)
    }
  })

  test('an upstream 404 is counted as 404, not as the 200 Elysia would report', async () => {
    const upstream = stubUpstream(() => Response.json({ status: 404 }, { status: 404 }))
    try {
      const { call } = gateway(upstream.url, upstream.url)
      expect((await call('/catalog/77')).status).toBe(404)
      await Bun.sleep(5)
      const text = await (await call('/metrics')).text()
      expect(sampleValue(text, 'http_requests_total', { endpoint: '/catalog/:id', status: '404' })).toBe(1)
      expect(
        sampleValue(text, 'http_requests_total', { endpoint: '/catalog/:id', status: '200' }),
      ).toBeUndefined()
      expect(sampleValue(text, 'upstream_requests_total', { upstream: 'catalog', status: '404' })).toBe(1)
    } finally {
      upstream.server.stop(true)
    }
  })

  test('an upstream that hangs gives a 504 problem naming it, after the timeout', async () => {
    const upstream = stubUpstream(() => Bun.sleep(5000).then(() => new Response('late')))
    try {
      const { call } = gateway(upstream.url, upstream.url, { upstreamTimeoutMs: 200 })
      const response = await call('/cart/abc')
      expect(response.status).toBe(504)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
      expect(await response.json()).toMatchObject({ status: 504, upstream: 'cart' })
    } finally {
      upstream.server.stop(true)
    }
  })

  test('an upstream that refuses connections gives a 502 problem naming it, with Retry-After', async () => {
    const upstream = stubUpstream(() => new Response('never'))
    const url = upstream.url
    upstream.server.stop(true)
    const { call } = gateway(url, url)
    const response = await call('/catalog/1')
    expect(response.status).toBe(502)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toMatchObject({ status: 502, upstream: 'catalog' })
  })

  test("edge refusals and the gateway's own fault refusals name the field in words", async () => {
    const upstream = stubUpstream(() => Response.json({}))
    try {
      const { call } = gateway(upstream.url, upstream.url)
      const json = { 'content-type': 'application/json' }
      const categories =
        'must be one of books, clothing, electronics, garden, grocery, home, kitchen, sports, toys, beauty'
      const cases: Array<[string, RequestInit | undefined, { in: string; path: string; message: string }]> = [
        ['/catalog?category=cars', undefined, { in: 'query', path: 'category', message: categories }],
        [
          '/catalog?page_size=101',
          undefined,
          { in: 'query', path: 'page_size', message: 'must be a whole number from 1 to 100' },
        ],
        [
          '/catalog/abc',
          undefined,
          { in: 'path', path: 'id', message: 'must be a whole number from 1 to 2147483647' },
        ],
        [
          '/cart/bad%20id',
          undefined,
          { in: 'path', path: 'id', message: 'must be 1–64 letters, digits, - or _' },
        ],
        [
          '/cart/add',
          {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ cart_id: 'a', product_id: 1, quantity: 100 }),
          },
          { in: 'body', path: 'quantity', message: 'must be a whole number from 1 to 99' },
        ],
        [
          '/admin/faults',
          {
            method: 'PUT',
            headers: json,
            body: JSON.stringify({ upstream_unreachable: { upstream: 'payments' } }),
          },
          { in: 'body', path: 'upstream_unreachable.upstream', message: 'must be one of catalog, cart' },
        ],
        [
          '/admin/faults',
          { method: 'PUT', headers: json, body: JSON.stringify({ latency: { min_ms: 9, max_ms: 1 } }) },
          { in: 'body', path: 'latency.min_ms', message: 'must not exceed latency.max_ms' },
        ],
        [
          '/admin/faults',
          { method: 'PUT', headers: json, body: JSON.stringify({ lantency: {} }) },
          {
            in: 'body',
            path: 'lantency',
            message:
              'is not allowed (allowed here: database, latency, error, hang, cpu_burn, memory_leak, readiness, upstream_unreachable)',
          },
        ],
      ]
      for (const [path, init, error] of cases) {
        const refusal = await refusalOf(await call(path, init))
        expect({ path, status: refusal.status, errors: refusal.errors }).toEqual({
          path,
          status: 422,
          errors: [error],
        })
        expect(refusal.detail).toBe(`${error.path} ${error.message}`)
        expect(refusal.text).not.toMatch(SCHEMA_LEAK)
      }
      expect(upstream.received).toHaveLength(0)
    } finally {
      upstream.server.stop(true)
    }
  })

  test('bad input is refused at the edge, before any upstream call', async () => {
    const upstream = stubUpstream(() => Response.json({}))
    try {
      const { call } = gateway(upstream.url, upstream.url)
      const cases: Array<[string, RequestInit | undefined, number]> = [
        ['/catalog/abc', undefined, 422],
        ['/catalog?page_size=1000', undefined, 422],
        ['/cart/bad%20id', undefined, 422],
        ['/cart/add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }, 400],
        ['/cart/add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 422],
        ['/cart/add', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }, 415],
        ['/admin', undefined, 404],
      ]
      for (const [path, init, status] of cases) {
        const response = await call(path, init)
        expect(response.status, path).toBe(status)
        expect(response.headers.get('content-type')).toBe('application/problem+json')
      }
      expect(upstream.received).toHaveLength(0)
    } finally {
      upstream.server.stop(true)
    }
  })

  test('with tracing on, the upstream gets a traceparent naming the gateway CLIENT span', async () => {
    const upstream = stubUpstream(() => Response.json({ id: 1 }))
    try {
      const { call, telemetry } = gateway(upstream.url, upstream.url, { tracing: true })
      const response = await call('/catalog/1')
      const traceId = response.headers.get('traceresponse')?.split('-')[1]
      await Bun.sleep(10)
      const spans = await telemetry.spans()
      const client = spans.find((s) => s.kind === 2)
      const server = spans.find((s) => s.kind === 1)
      expect(client?.spanContext().traceId).toBe(traceId as string)
      expect(client?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
      expect(upstream.received[0]?.headers.get('traceparent')).toBe(
        `00-${traceId}-${client?.spanContext().spanId}-01`,
      )
    } finally {
      upstream.server.stop(true)
    }
  })

  test('with tracing off, the upstream still gets the trace context, marked not sampled', async () => {
    const upstream = stubUpstream(() => Response.json({ id: 1 }))
    try {
      const { call, telemetry } = gateway(upstream.url, upstream.url)
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
      const response = await call('/catalog/1', {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      })
      // Nothing is recorded, so the flag says 00 even though the caller sampled.
      const answered = response.headers.get('traceresponse')
      expect(answered).toMatch(new RegExp(`^00-${traceId}-[\\da-f]{16}-00$`))
      const spanId = answered?.split('-')[2]
      expect(spanId).not.toBe('00f067aa0ba902b7')
      expect(upstream.received[0]?.headers.get('traceparent')).toBe(`00-${traceId}-${spanId}-00`)
      await Bun.sleep(10)
      expect(telemetry.lines.find((l) => l.msg === 'request')).toMatchObject({
        trace_id: traceId,
        span_id: spanId,
      })
      expect(await telemetry.spans()).toHaveLength(0)
    } finally {
      upstream.server.stop(true)
    }
  })
})

describe('gateway over several instances of an upstream', () => {
  const json = { 'content-type': 'application/json' }
  const addBody = JSON.stringify({ cart_id: 'rr', product_id: 1, quantity: 1 })

  function multi(cartUrls: string[], options: Partial<Parameters<typeof createApp>[0]> = {}) {
    const telemetry = createTestTelemetry({ service: 'gateway' })
    const app = createApp({
      catalogUrls: cartUrls,
      cartUrls,
      ...telemetry,
      random: () => 0,
      ...options,
    })
    return (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init))
  }

  test('spreads reads round-robin and retries a refused one on another instance', async () => {
    const a = stubUpstream(() => Response.json({ from: 'a' }))
    const b = stubUpstream(() => Response.json({ from: 'b' }))
    const gone = stubUpstream(() => new Response())
    gone.server.stop(true)
    try {
      const call = multi([a.url, b.url, gone.url])
      const answers: string[] = []
      for (let i = 0; i < 6; i++) {
        const response = await call('/cart/x')
        expect(response.status).toBe(200)
        answers.push(((await response.json()) as { from: string }).from)
      }
      expect(answers.filter((x) => x === 'a').length).toBeGreaterThanOrEqual(2)
      expect(answers.filter((x) => x === 'b').length).toBeGreaterThanOrEqual(2)
      const metrics = await (await call('/metrics')).text()
      expect(
        sampleValue(metrics, 'upstream_retries_total', { upstream: 'cart', reason: 'connect_refused' }),
      ).toBe(2)
      expect(
        sampleValue(metrics, 'upstream_instance_state', { upstream_instance: new URL(gone.url).host }),
      ).toBe(0)
    } finally {
      a.server.stop(true)
      b.server.stop(true)
    }
  })

  test('a write with an Idempotency-Key is forwarded with it and retried on a 503; one without is not', async () => {
    let calls = 0
    const flaky = stubUpstream(() => {
      calls++
      return calls % 2 === 1
        ? Response.json({ status: 503 }, { status: 503 })
        : Response.json({ cart_id: 'rr', item_count: 1 })
    })
    try {
      const call = multi([flaky.url])
      const keyed = await call('/cart/add', {
        method: 'POST',
        headers: { ...json, 'idempotency-key': 'abc-1' },
        body: addBody,
      })
      expect(keyed.status).toBe(200)
      expect(flaky.received).toHaveLength(2)
      expect(flaky.received.map((r) => r.headers.get('idempotency-key'))).toEqual(['abc-1', 'abc-1'])
      expect(flaky.received[1]?.body).toBe(flaky.received[0]?.body as string)

      const plain = await call('/cart/add', { method: 'POST', headers: json, body: addBody })
      expect(plain.status).toBe(503)
      expect(flaky.received).toHaveLength(3)
    } finally {
      flaky.server.stop(true)
    }
  })

  test('beyond the concurrency limit a request is shed with a 503 problem and Retry-After', async () => {
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = stubUpstream(async () => {
      await held
      return Response.json({ id: 1 })
    })
    try {
      const call = multi([slow.url], { maxConcurrent: 1 })
      const first = call('/catalog/1')
      await waitUntil(() => slow.received.length === 1)
      const shed = await call('/catalog/2')
      expect(shed.status).toBe(503)
      expect(shed.headers.get('retry-after')).toBe('1')
      expect(shed.headers.get('content-type')).toBe('application/problem+json')
      expect(await shed.json()).toMatchObject({ status: 503, upstream: 'catalog' })
      release()
      expect((await first).status).toBe(200)
      await Bun.sleep(5)
      const metrics = await (await call('/metrics')).text()
      expect(sampleValue(metrics, 'upstream_shed_total', { upstream: 'catalog' })).toBe(1)
      expect(sampleValue(metrics, 'http_requests_total', { endpoint: '/catalog/:id', status: '503' })).toBe(1)
    } finally {
      release()
      slow.server.stop(true)
    }
  })

  test('GET / lists every instance of each upstream', async () => {
    const call = multi(['http://127.0.0.1:1', 'http://127.0.0.1:2'])
    const info = (await (await call('/')).json()) as { upstreams: Record<string, string> }
    expect(info.upstreams.cart).toBe('http://127.0.0.1:1,http://127.0.0.1:2')
  })
})

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met')
    await Bun.sleep(5)
  }
}

describe('the gateway edge', () => {
  test('proxied answers and errors carry the security headers; preflights are answered', async () => {
    const upstream = stubUpstream(() => Response.json({ id: 1 }))
    try {
      const telemetry = createTestTelemetry({ service: 'gateway' })
      const app = createApp({
        catalogUrl: upstream.url,
        cartUrl: upstream.url,
        ...telemetry,
        corsOrigins: ['https://shop.example'],
      })
      for (const path of ['/catalog/1', '/catalog/abc', '/nowhere']) {
        const response = await app.handle(new Request(`http://localhost${path}`))
        expect(response.headers.get('x-content-type-options'), path).toBe('nosniff')
        expect(response.headers.get('content-security-policy'), path).toContain("default-src 'none'")
      }
      const preflight = await app.handle(
        new Request('http://localhost/cart/add', {
          method: 'OPTIONS',
          headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
        }),
      )
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example')
      expect(upstream.received).toHaveLength(1)
    } finally {
      upstream.server.stop(true)
    }
  })
})
