// End to end: the three real processes on free ports, driven through the gateway as a user would.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Stack, startService, startStack } from './harness.ts'

let stack: Stack
const json = { 'content-type': 'application/json' }

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe('the public API through the gateway', () => {
  test('GET /catalog/123 returns product 123', async () => {
    const response = await fetch(`${stack.gateway.url}/catalog/123`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('application/json')
    const product = (await response.json()) as { id: number; price_cents: number }
    expect(product.id).toBe(123)
    expect(product.price_cents).toBeGreaterThan(0)
  })

  test('a cart can be filled, read, trimmed and cleared', async () => {
    const add = (product_id: number, quantity: number) =>
      fetch(`${stack.gateway.url}/cart/add`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ cart_id: 'e2e-cart', product_id, quantity }),
      })
    expect((await add(123, 2)).status).toBe(200)
    const added = (await (await add(7, 1)).json()) as { item_count: number; lines: unknown[] }
    expect(added.item_count).toBe(3)
    expect(added.lines).toHaveLength(2)

    const product = (await (await fetch(`${stack.gateway.url}/catalog/123`)).json()) as {
      price_cents: number
    }
    const cart = (await (await fetch(`${stack.gateway.url}/cart/e2e-cart`)).json()) as {
      lines: Array<{ product_id: number; quantity: number; line_total_cents: number }>
    }
    expect(cart.lines.find((line) => line.product_id === 123)).toMatchObject({
      quantity: 2,
      line_total_cents: 2 * product.price_cents,
    })

    const trimmed = await fetch(`${stack.gateway.url}/cart/e2e-cart/items/7`, { method: 'DELETE' })
    expect(((await trimmed.json()) as { item_count: number }).item_count).toBe(2)

    const cleared = await fetch(`${stack.gateway.url}/cart/e2e-cart`, { method: 'DELETE' })
    expect(cleared.status).toBe(200)
    expect(((await cleared.json()) as { item_count: number }).item_count).toBe(0)
  })

  test('adding an unknown product is a 404 problem that names it, and nothing is stored', async () => {
    const response = await fetch(`${stack.gateway.url}/cart/add`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ cart_id: 'ghost', product_id: 999_999, quantity: 1 }),
    })
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(((await response.json()) as { detail: string }).detail).toContain('999999')
    const cart = (await (await fetch(`${stack.gateway.url}/cart/ghost`)).json()) as { item_count: number }
    expect(cart.item_count).toBe(0)
  })

  test('every service answers /livez, /healthz and /metrics', async () => {
    for (const service of [stack.gateway, stack.catalog, stack.cart]) {
      expect((await fetch(`${service.url}/livez`)).status).toBe(200)
      const ready = await fetch(`${service.url}/healthz`)
      expect(ready.status).toBe(200)
      expect(((await ready.json()) as { status: string }).status).toBe('ok')
      const metrics = await (await fetch(`${service.url}/metrics`)).text()
      expect(metrics).toContain('http_requests_total')
    }
  })

  test('the request id is forwarded across services and returned', async () => {
    const response = await fetch(`${stack.gateway.url}/catalog/5`, {
      headers: { 'x-request-id': 'trace-me-42' },
    })
    expect(response.headers.get('x-request-id')).toBe('trace-me-42')
    await Bun.sleep(300)
    const catalogLine = stack.catalog.lines.find((line) => line.request_id === 'trace-me-42')
    expect(catalogLine).toMatchObject({ route: '/catalog/:id', status: 200 })
  })

  test('with tracing off, one trace id ties the log lines of every service a cart add touched', async () => {
    const response = await fetch(`${stack.gateway.url}/cart/add`, {
      method: 'POST',
      headers: { ...json, 'x-request-id': 'untraced-add' },
      body: JSON.stringify({ cart_id: 'untraced', product_id: 9, quantity: 1 }),
    })
    expect(response.status).toBe(200)
    const header = response.headers.get('traceresponse') ?? ''
    expect(header).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/)
    const traceId = header.split('-')[1]
    await Bun.sleep(300)
    const spanIds = [stack.gateway, stack.cart, stack.catalog].map((service) => {
      const line = service.lines.find((l) => l.request_id === 'untraced-add' && l.msg === 'request')
      expect(line?.trace_id, service.name).toBe(traceId)
      return line?.span_id
    })
    // The gateway's line names the span its response named; each service has a span id of its own.
    expect(spanIds[0]).toBe(header.split('-')[2])
    expect(new Set(spanIds).size).toBe(3)
    for (const id of spanIds) expect(id).toMatch(/^[\da-f]{16}$/)
  })

  test('service-internal routes are not reachable through the gateway', async () => {
    const response = await fetch(`${stack.gateway.url}/cart/some-cart/internal`, { method: 'PUT' })
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    // Each service's fault control answers for that service alone: the gateway's /admin/faults
    // is the gateway's own (its upstream faults), never proxied to a catalog or cart.
    const own = (await (await fetch(`${stack.gateway.url}/admin/faults`)).json()) as { service: string }
    expect(own.service).toBe('gateway')
    const catalog = (await (await fetch(`${stack.catalog.url}/admin/faults`)).json()) as { service: string }
    expect(catalog.service).toBe('catalog')
  })
})

describe('a stopped upstream', () => {
  test('gives a fast 502 problem naming the upstream, and readiness fails', async () => {
    const catalog = await startService('catalog')
    const gateway = await startService('gateway', {
      env: {
        CATALOG_SERVICE_URL: catalog.url,
        CART_SERVICE_URL: 'http://127.0.0.1:9',
        UPSTREAM_TIMEOUT_MS: '1000',
      },
    })
    try {
      expect((await fetch(`${gateway.url}/catalog/1`)).status).toBe(200)
      expect(await catalog.stop('SIGKILL')).not.toBe(0)
      const started = performance.now()
      const response = await fetch(`${gateway.url}/catalog/1`)
      const elapsed = performance.now() - started
      expect(response.status).toBe(502)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
      const body = (await response.json()) as { upstream: string; detail: string }
      expect(body.upstream).toBe('catalog')
      // Refused connections fail at once; a hang would run into the 1 s timeout (and be a 504).
      expect(elapsed).toBeLessThan(1000)
      const ready = await fetch(`${gateway.url}/healthz`)
      expect(ready.status).toBe(503)
      const checks = ((await ready.json()) as { checks: Record<string, { status: string }> }).checks
      expect(checks.catalog?.status).toBe('fail')
    } finally {
      await gateway.stop()
      await catalog.stop()
    }
  })
})

describe('process lifecycle', () => {
  test('an invalid setting stops the process at start with one line naming the variable', async () => {
    await expect(startService('catalog', { env: { PORT: 'eighty' } })).rejects.toThrow(
      /PORT must be a whole number/,
    )
  })

  test('SIGTERM finishes the request in flight, then exits 0', async () => {
    const catalog = await startService('catalog', { env: { SIMULATION: 'on', SIM_LATENCY_MS: '400' } })
    const inFlight = fetch(`${catalog.url}/catalog/1`)
    await Bun.sleep(100)
    const exit = catalog.stop('SIGTERM')
    const response = await inFlight
    expect(response.status).toBe(200)
    expect(await exit).toBe(0)
  })
})
