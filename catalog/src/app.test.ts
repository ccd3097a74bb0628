import { describe, expect, test } from 'bun:test'
import { createFaults } from '@shopstack/lib/faults'
import { createTestTelemetry, refusalOf, SCHEMA_LEAK, sampleValue } from '@shopstack/lib/testing'
import { createApp } from './app.ts'
import { createProductStore } from './products/store.ts'

function setup(options: { tracing?: boolean; latencyMs?: [number, number] } = {}) {
  const telemetry = createTestTelemetry({ service: 'catalog', tracing: options.tracing })
  const slept: number[] = []
  const faults = createFaults({
    service: 'catalog',
    database: { latencyMs: options.latencyMs ?? [0, 0], failureRate: 0 },
    ...telemetry,
    random: () => 0.5,
    sleep: async (ms) => void slept.push(ms),
  })
  const app = createApp({ store: createProductStore(), ...telemetry, faults })
  const get = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init))
  return { app, get, telemetry, slept }
}

describe('catalog', () => {
  test('GET /catalog/123 returns product 123 with a price in cents', async () => {
    const { get } = setup()
    const response = await get('/catalog/123')
    expect(response.status).toBe(200)
    const product = (await response.json()) as Record<string, unknown>
    expect(product).toMatchObject({ id: 123, currency: 'USD' })
    expect(Number.isInteger(product.price_cents)).toBe(true)
    expect(product.sku).toBe('ELE-00123')
  })

  test('the seed is the same on every start: 1,000 products with ids 1..1000', async () => {
    const { get } = setup()
    const first = (await (await get('/catalog?page=1&page_size=1')).json()) as { total: number }
    expect(first.total).toBe(1000)
    expect((await get('/catalog/1000')).status).toBe(200)
    expect((await get('/catalog/1001')).status).toBe(404)
    const again = setup()
    expect(await (await again.get('/catalog/42')).json()).toEqual(await (await get('/catalog/42')).json())
  })

  test('an unknown product is a problem+json 404 that names it', async () => {
    const { get } = setup()
    const response = await get('/catalog/5000')
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await response.json()).toMatchObject({ status: 404, title: 'Not Found', product_id: 5000 })
  })

  test('lists are paginated and filtered by category', async () => {
    const { get } = setup()
    const page = (await (await get('/catalog?page=2&page_size=5')).json()) as {
      items: Array<{ id: number }>
      total: number
      page: number
    }
    expect(page.items.map((p) => p.id)).toEqual([6, 7, 8, 9, 10])
    expect(page).toMatchObject({ page: 2, total: 1000 })
    const books = (await (await get('/catalog?category=books&page_size=100')).json()) as {
      items: Array<{ category: string }>
      total: number
    }
    expect(books.total).toBe(100)
    expect(books.items.every((p) => p.category === 'books')).toBe(true)
  })

  test.each([
    ['/catalog/abc', 422],
    ['/catalog/0', 422],
    ['/catalog/-4', 422],
    ['/catalog/1.5', 422],
    ['/catalog/99999999999', 422],
    ['/catalog?page_size=101', 422],
    ['/catalog?page_size=0', 422],
    ['/catalog?page=-1', 422],
    ['/catalog?category=weapons', 422],
    ['/catalog/1/reviews', 404],
    ['/nope', 404],
  ])('bad input %s is a %d problem, never a stack trace', async (path, status) => {
    const { get } = setup()
    const response = await get(path)
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    const text = await response.text()
    expect(text).not.toContain('    at ')
    expect(JSON.parse(text).status).toBe(status)
  })

  test.each([
    [
      '/catalog?category=cars',
      'query',
      'category',
      'must be one of books, clothing, electronics, garden, grocery, home, kitchen, sports, toys, beauty',
    ],
    [
      '/catalog?category=BOOKS',
      'query',
      'category',
      'must be one of books, clothing, electronics, garden, grocery, home, kitchen, sports, toys, beauty',
    ],
    ['/catalog?page_size=101', 'query', 'page_size', 'must be a whole number from 1 to 100'],
    ['/catalog?page_size=1e2', 'query', 'page_size', 'must be a whole number from 1 to 100'],
    ['/catalog?page=0', 'query', 'page', 'must be a whole number from 1 to 100000'],
    ['/catalog/abc', 'path', 'id', 'must be a whole number from 1 to 2147483647'],
    ['/catalog/99999999999', 'path', 'id', 'must be a whole number from 1 to 2147483647'],
  ])('%s is refused in words: %s field %s %s', async (url, where, field, message) => {
    const { get } = setup()
    const refusal = await refusalOf(await get(url))
    expect(refusal.status).toBe(422)
    expect(refusal.contentType).toBe('application/problem+json')
    expect(refusal.errors).toEqual([{ in: where, path: field, message }])
    expect(refusal.detail).toBe(`${field} ${message}`)
    expect(refusal.text).not.toMatch(SCHEMA_LEAK)
  })

  test('every bad field of a request is listed, and the detail says how many more there are', async () => {
    const { get } = setup()
    const refusal = await refusalOf(await get('/catalog?page=x&page_size=0&category=cars'))
    expect(refusal.errors.map((e) => e.path)).toEqual(['page', 'page_size', 'category'])
    expect(refusal.detail).toBe('page must be a whole number from 1 to 100000 (and 2 more: see errors)')
  })

  test('reads wait the simulated database latency', async () => {
    const { get, slept } = setup({ latencyMs: [20, 60] })
    await get('/catalog/1')
    expect(slept).toEqual([40])
  })

  test('metrics label requests by route template, not by raw path', async () => {
    const { get } = setup()
    for (let id = 1; id <= 50; id++) await get(`/catalog/${id}`)
    await get('/catalog/abc')
    for (let i = 0; i < 20; i++) await get(`/random/${i}`)
    await Bun.sleep(10)
    const text = await (await get('/metrics')).text()
    expect(sampleValue(text, 'http_requests_total', { endpoint: '/catalog/:id', status: '200' })).toBe(50)
    expect(sampleValue(text, 'http_requests_total', { endpoint: '/catalog/:id', status: '422' })).toBe(1)
    expect(sampleValue(text, 'http_requests_total', { endpoint: 'unmatched', status: '404' })).toBe(20)
    expect(text).not.toContain('/catalog/7"')
  })

  test('health: /livez and /healthz answer, /healthz fails when the database is gone', async () => {
    const telemetry = createTestTelemetry()
    const store = createProductStore()
    const app = createApp({ store, ...telemetry })
    expect((await app.handle(new Request('http://localhost/livez'))).status).toBe(200)
    expect((await app.handle(new Request('http://localhost/readyz'))).status).toBe(200)
    store.close()
    const ready = await app.handle(new Request('http://localhost/healthz'))
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'fail', checks: { database: { status: 'fail' } } })
    expect((await app.handle(new Request('http://localhost/livez'))).status).toBe(200)
  })

  test('an OpenAPI document describes the routes', async () => {
    const { get } = setup()
    const doc = (await (await get('/docs/json')).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/catalog', '/catalog/{id}', '/healthz']))
    expect((await get('/docs')).status).toBe(200)
  })

  test("the docs viewer's files are served, and any other name is a 404 problem, Object's own too", async () => {
    const { get } = setup()
    const css = await get('/docs/swagger-ui.css')
    expect(css.status).toBe(200)
    expect(css.headers.get('content-type')).toStartWith('text/css')
    for (const name of ['nope.js', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const response = await get(`/docs/${name}`)
      expect(response.status).toBe(404)
      expect(response.headers.get('content-type')).toStartWith('application/problem+json')
    }
  })

  test('with tracing on, a read is a SERVER span with a child span for the store query', async () => {
    const { get, telemetry } = setup({ tracing: true, latencyMs: [20, 20] })
    const response = await get('/catalog/9', {
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    })
    expect(response.headers.get('traceresponse')).toStartWith('00-0af7651916cd43dd8448eb211c80319c-')
    await Bun.sleep(10)
    const spans = await telemetry.spans()
    const server = spans.find((s) => s.name === 'GET /catalog/:id')
    const query = spans.find((s) => s.name === 'SELECT products')
    expect(server?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c')
    expect(server?.parentSpanContext?.spanId).toBe('b7ad6b7169203331')
    expect(query?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
    expect(query?.attributes['shopstack.simulated.latency_ms']).toBe(20)
    expect(server?.attributes['http.response.status_code']).toBe(200)
    const line = telemetry.lines.find((l) => l.route === '/catalog/:id')
    expect(line).toMatchObject({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: server?.spanContext().spanId,
    })
  })
})
