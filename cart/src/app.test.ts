import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSimulation } from '@shopstack/lib/simulation'
import { createTestTelemetry, refusalOf, SCHEMA_LEAK, sampleValue } from '@shopstack/lib/testing'
import { createCatalogApp, createProductStore } from '../../e2e/in-process.ts'
import { createApp } from './app.ts'
import { createCartStore } from './carts/store.ts'

const CATALOG_URL = 'http://catalog.test'

/** The real catalog app, in process, behind the cart's injected fetch. */
function catalogFetch() {
  const catalog = createCatalogApp({
    store: createProductStore(),
    ...createTestTelemetry({ service: 'catalog' }),
  })
  let calls = 0
  const fetch = (request: Request) => {
    calls++
    return catalog.handle(new Request(request.url.replace(CATALOG_URL, 'http://localhost'), request))
  }
  return { fetch, calls: () => calls }
}

function setup(
  options: { failureRate?: number; random?: () => number; path?: string; tracing?: boolean } = {},
) {
  const telemetry = createTestTelemetry({ service: 'cart', tracing: options.tracing })
  const store = createCartStore({ path: options.path })
  const simulation = createSimulation({
    failureRate: options.failureRate ?? 0,
    random: options.random ?? (() => 0.5),
  })
  const catalog = catalogFetch()
  const app = createApp({ store, catalogUrl: CATALOG_URL, ...telemetry, simulation, fetch: catalog.fetch })
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    )
  const cart = async (id: string) =>
    (await (await call('GET', `/cart/${id}`)).json()) as {
      item_count: number
      total_cents: number
      lines: Array<{
        product_id: number
        quantity: number
        unit_price_cents: number
        line_total_cents: number
      }>
    }
  return { app, call, cart, store, telemetry, catalog }
}

describe('cart', () => {
  test('add, read, remove a line and clear', async () => {
    const { call, cart } = setup()
    const added = await call('POST', '/cart/add', { cart_id: 'abc', product_id: 123, quantity: 2 })
    expect(added.status).toBe(200)
    await call('POST', '/cart/add', { cart_id: 'abc', product_id: 5, quantity: 1 })
    await call('POST', '/cart/add', { cart_id: 'abc', product_id: 123, quantity: 3 })
    const full = await cart('abc')
    expect(full.item_count).toBe(6)
    const line = full.lines.find((l) => l.product_id === 123)
    expect(line?.quantity).toBe(5)
    expect(line?.line_total_cents).toBe(5 * (line?.unit_price_cents ?? 0))
    expect(full.total_cents).toBe(full.lines.reduce((sum, l) => sum + l.line_total_cents, 0))

    expect((await call('DELETE', '/cart/abc/items/5')).status).toBe(200)
    expect((await cart('abc')).item_count).toBe(5)
    expect((await call('DELETE', '/cart/abc/items/5')).status).toBe(404)
    expect((await call('DELETE', '/cart/abc')).status).toBe(200)
    expect((await cart('abc')).item_count).toBe(0)
  })

  test('an unknown cart is an empty cart', async () => {
    const { cart } = setup()
    expect(await cart('never-seen')).toMatchObject({ item_count: 0, total_cents: 0, lines: [] })
  })

  test('the unit price comes from the catalog', async () => {
    const { call, cart, catalog } = setup()
    await call('POST', '/cart/add', { cart_id: 'p', product_id: 77, quantity: 1 })
    expect(catalog.calls()).toBe(1)
    const product = (await (await catalog.fetch(new Request(`${CATALOG_URL}/catalog/77`))).json()) as {
      price_cents: number
    }
    expect((await cart('p')).lines[0]?.unit_price_cents).toBe(product.price_cents)
  })

  test('an unknown product is a 404 that says so, and nothing is stored', async () => {
    const { call, cart } = setup()
    const response = await call('POST', '/cart/add', { cart_id: 'x', product_id: 4242, quantity: 1 })
    expect(response.status).toBe(404)
    expect(((await response.json()) as { detail: string }).detail).toBe('Product 4242 does not exist')
    expect((await cart('x')).item_count).toBe(0)
  })

  test('quantities are bounded per product', async () => {
    const { call, cart } = setup()
    expect((await call('POST', '/cart/add', { cart_id: 'q', product_id: 1, quantity: 60 })).status).toBe(200)
    const over = await call('POST', '/cart/add', { cart_id: 'q', product_id: 1, quantity: 40 })
    expect(over.status).toBe(422)
    expect(((await over.json()) as { detail: string }).detail).toContain('at most 99')
    expect((await cart('q')).item_count).toBe(60)
  })

  test('a simulated failure is a clear 503 and writes nothing', async () => {
    const { call, cart, telemetry } = setup({ failureRate: 0.01, random: () => 0.001 })
    const response = await call('POST', '/cart/add', { cart_id: 'f', product_id: 1, quantity: 1 })
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ status: 503, simulated: true })
    expect(response.headers.get('retry-after')).toBe('1')
    expect((await cart('f')).item_count).toBe(0)
    const metrics = await (await call('GET', '/metrics')).text()
    expect(sampleValue(metrics, 'cart_operations_total', { operation: 'add', outcome: 'failed' })).toBe(1)
    await Bun.sleep(5)
    expect(telemetry.lines.find((l) => l.status === 503)).toMatchObject({
      level: 'error',
      route: '/cart/add',
    })
  })

  test('a catalog that cannot be reached is a 502 naming it, and nothing is stored', async () => {
    const telemetry = createTestTelemetry({ service: 'cart' })
    const store = createCartStore()
    const app = createApp({
      store,
      catalogUrl: CATALOG_URL,
      ...telemetry,
      fetch: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    })
    const response = await app.handle(
      new Request('http://localhost/cart/add', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cart_id: 'd', product_id: 1, quantity: 1 }),
      }),
    )
    expect(response.status).toBe(502)
    expect(response.headers.get('retry-after')).toBe('1')
    const body = (await response.json()) as { upstream: string; detail: string }
    expect(body.upstream).toBe('catalog')
    expect(body.detail).not.toContain('ECONNREFUSED')
    expect((await store.get('d')).item_count).toBe(0)
  })

  test("a catalog that answers 5xx is a 502 or 503 with Retry-After (the catalog's own when it gave one)", async () => {
    const add = async (answer: () => Response) => {
      const app = createApp({
        store: createCartStore(),
        catalogUrl: CATALOG_URL,
        ...createTestTelemetry({ service: 'cart' }),
        fetch: async () => answer(),
      })
      const response = await app.handle(
        new Request('http://localhost/cart/add', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ cart_id: 'e', product_id: 1, quantity: 1 }),
        }),
      )
      return [response.status, response.headers.get('retry-after')]
    }
    expect(await add(() => new Response('busy', { status: 503, headers: { 'retry-after': '4' } }))).toEqual([
      503,
      '4',
    ])
    expect(await add(() => new Response('broken', { status: 500 }))).toEqual([502, '1'])
  })

  const valid = { cart_id: 'abc', product_id: 1, quantity: 1 }
  test.each([
    ['a missing field', { cart_id: 'abc', product_id: 1 }, 422],
    ['a word for a quantity', { ...valid, quantity: 'two' }, 422],
    ['a null quantity', { ...valid, quantity: null }, 422],
    ['a zero quantity', { ...valid, quantity: 0 }, 422],
    ['a negative quantity', { ...valid, quantity: -3 }, 422],
    ['a fractional quantity', { ...valid, quantity: 1.5 }, 422],
    ['a huge quantity', { ...valid, quantity: 1e12 }, 422],
    ['a product id of zero', { ...valid, product_id: 0 }, 422],
    ['a cart id with a slash', { ...valid, cart_id: '../etc' }, 422],
    ['an empty cart id', { ...valid, cart_id: '' }, 422],
    ['an overlong cart id', { ...valid, cart_id: 'x'.repeat(65) }, 422],
    ['an array body', [valid], 422],
    ['invalid JSON', '{"cart_id": "abc",', 400],
  ])('%s is refused with a %d problem', async (_, body, status) => {
    const { call, cart } = setup()
    const response = await call('POST', '/cart/add', body)
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect((await cart('abc')).item_count).toBe(0)
  })

  test.each([
    ['a missing field', { cart_id: 'abc', product_id: 1 }, 'quantity', 'is required'],
    [
      'a word for a quantity',
      { ...valid, quantity: 'two' },
      'quantity',
      'must be a whole number from 1 to 99, not a string',
    ],
    [
      'a null quantity',
      { ...valid, quantity: null },
      'quantity',
      'must be a whole number from 1 to 99, not null',
    ],
    ['a fractional quantity', { ...valid, quantity: 1.5 }, 'quantity', 'must be a whole number from 1 to 99'],
    ['a huge quantity', { ...valid, quantity: 1e12 }, 'quantity', 'must be a whole number from 1 to 99'],
    [
      'a product id in quotes',
      { ...valid, product_id: '1' },
      'product_id',
      'must be a whole number from 1 to 2147483647, not a string',
    ],
    [
      'a cart id with a slash',
      { ...valid, cart_id: '../etc' },
      'cart_id',
      'must be 1–64 letters, digits, - or _',
    ],
    [
      'an overlong cart id',
      { ...valid, cart_id: 'x'.repeat(65) },
      'cart_id',
      'must be 1–64 letters, digits, - or _',
    ],
    ['a null body', null, '', 'must be an object, not null'],
  ])('%s is refused in words, naming the field', async (_, body, field, message) => {
    const { call } = setup()
    const refusal = await refusalOf(await call('POST', '/cart/add', body))
    expect(refusal.status).toBe(422)
    expect(refusal.errors).toEqual([{ in: 'body', path: field, message }])
    expect(refusal.detail).toBe(`${field || 'The body'} ${message}`)
    expect(refusal.text).not.toMatch(SCHEMA_LEAK)
  })

  test('unknown fields are ignored, as the original FastAPI service did, and never stored', async () => {
    const { call, cart } = setup()
    const response = await call('POST', '/cart/add', { ...valid, cart_id: 'extra', price_cents: 1 })
    expect(response.status).toBe(200)
    const line = (await cart('extra')).lines[0]
    expect(line?.unit_price_cents).not.toBe(1)
  })

  test('a body that is not JSON is a 415, an oversized one a 413', async () => {
    const { call } = setup()
    const form = await call('POST', '/cart/add', undefined, {
      'content-type': 'text/plain',
      'content-length': '5',
    })
    expect(form.status).toBe(415)
    // In process there is no socket to set Content-Length; a real client sends it.
    const body = JSON.stringify({ ...valid, pad: 'x'.repeat(20_000) })
    const big = await call('POST', '/cart/add', body, { 'content-length': String(body.length) })
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ status: 413, title: 'Content Too Large' })
  })

  test.each([
    ['GET', '/cart/a%20b'],
    ['GET', `/cart/${'y'.repeat(65)}`],
    ['DELETE', '/cart/abc/items/zero'],
    ['DELETE', '/cart/abc/items/-1'],
  ])('%s %s is a 422 problem', async (method, path) => {
    const { call } = setup()
    const response = await call(method, path)
    expect(response.status).toBe(422)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
  })

  test('a bad cart id or line in the path is named, in words', async () => {
    const { call } = setup()
    const refusal = await refusalOf(await call('DELETE', '/cart/a%20b/items/zero'))
    expect(refusal.errors).toEqual([
      { in: 'path', path: 'id', message: 'must be 1–64 letters, digits, - or _' },
      { in: 'path', path: 'product_id', message: 'must be a whole number from 1 to 2147483647' },
    ])
    expect(refusal.detail).toBe('id must be 1–64 letters, digits, - or _ (and 1 more: see errors)')
    expect(refusal.text).not.toMatch(SCHEMA_LEAK)
  })

  test('more than 99 of a product is refused as the quantity field', async () => {
    const { call } = setup()
    await call('POST', '/cart/add', { cart_id: 'q', product_id: 1, quantity: 60 })
    const refusal = await refusalOf(
      await call('POST', '/cart/add', { cart_id: 'q', product_id: 1, quantity: 40 }),
    )
    expect(refusal.errors).toEqual([
      {
        in: 'body',
        path: 'quantity',
        message: 'would make 100 of product 1 in cart q; at most 99 per product',
      },
    ])
  })

  test('carts survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cart-store-'))
    try {
      const path = join(dir, 'cart.sqlite')
      const first = setup({ path })
      await first.call('POST', '/cart/add', { cart_id: 'keep', product_id: 3, quantity: 4 })
      first.store.close()
      const second = setup({ path })
      expect((await second.cart('keep')).item_count).toBe(4)
      second.store.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('concurrent adds to one cart lose no quantity', async () => {
    const { call, cart } = setup()
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call('POST', '/cart/add', { cart_id: 'busy', product_id: 1 + (i % 4), quantity: 2 }),
      ),
    )
    const result = await cart('busy')
    expect(result.item_count).toBe(80)
    expect(result.lines.map((l) => l.quantity)).toEqual([20, 20, 20, 20])
  })

  test('with tracing on, an add is one trace: SERVER -> CLIENT to the catalog, and a store span', async () => {
    const { call, telemetry } = setup({ tracing: true })
    const response = await call('POST', '/cart/add', { cart_id: 't', product_id: 2, quantity: 1 })
    expect(response.status).toBe(200)
    await Bun.sleep(10)
    const spans = await telemetry.spans()
    const server = spans.find((s) => s.name === 'POST /cart/add')
    const client = spans.find((s) => s.name === 'GET /catalog/:id')
    const write = spans.find((s) => s.name === 'WRITE cart_lines')
    expect(server).toBeDefined()
    for (const child of [client, write]) {
      expect(child?.spanContext().traceId).toBe(server?.spanContext().traceId)
      expect(child?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
    }
    expect(client?.attributes['shopstack.upstream']).toBe('catalog')
  })

  describe('idempotency keys', () => {
    const add = { cart_id: 'idem', product_id: 12, quantity: 2 }
    const keyed = (key: string) => ({ 'idempotency-key': key })

    test('a replay answers the first status and body, marked, without writing or asking the catalog', async () => {
      const { call, cart, catalog } = setup()
      const first = await call('POST', '/cart/add', add, keyed('order-1'))
      expect(first.status).toBe(200)
      expect(first.headers.get('idempotent-replayed')).toBeNull()
      const firstBody = await first.text()
      const again = await call('POST', '/cart/add', add, keyed('order-1'))
      expect(again.status).toBe(200)
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(again.headers.get('content-type')).toBe('application/json')
      expect(await again.text()).toBe(firstBody)
      expect((await cart('idem')).item_count).toBe(2)
      expect(catalog.calls()).toBe(1)
      const metrics = await (await call('GET', '/metrics')).text()
      expect(sampleValue(metrics, 'cart_operations_total', { operation: 'add', outcome: 'replayed' })).toBe(1)
    })

    test('the same key with a different body or path is a 422, and nothing is written', async () => {
      const { call, cart } = setup()
      await call('POST', '/cart/add', add, keyed('k'))
      const other = await call('POST', '/cart/add', { ...add, quantity: 3 }, keyed('k'))
      expect(other.status).toBe(422)
      expect(other.headers.get('content-type')).toBe('application/problem+json')
      expect(((await other.json()) as { detail: string }).detail).toContain('different request')
      expect((await call('DELETE', '/cart/idem', undefined, keyed('k'))).status).toBe(422)
      expect((await cart('idem')).item_count).toBe(2)
    })

    test('a key refusal names the header: a malformed key, and a key reused for another request', async () => {
      const { call } = setup()
      const malformed = await refusalOf(await call('POST', '/cart/add', add, keyed('has space')))
      expect(malformed.errors).toEqual([
        {
          in: 'header',
          path: 'Idempotency-Key',
          message: 'must be 1–255 visible ASCII characters (no spaces)',
        },
      ])
      await call('POST', '/cart/add', add, keyed('k2'))
      const reused = await refusalOf(await call('POST', '/cart/add', { ...add, quantity: 3 }, keyed('k2')))
      expect(reused.errors).toEqual([
        { in: 'header', path: 'Idempotency-Key', message: 'was already used with a different request' },
      ])
      expect(reused.detail).toBe('Idempotency-Key was already used with a different request')
    })

    test.each([
      ['too long', 'x'.repeat(256)],
      ['with a space', 'a b'],
      ['not ASCII', 'clé'],
    ])('a key %s is a 422 and nothing is written', async (_, key) => {
      const { call, cart } = setup()
      const response = await call('POST', '/cart/add', add, { 'idempotency-key': key })
      expect(response.status).toBe(422)
      expect((await cart('idem')).item_count).toBe(0)
    })

    test('a request that fails validation keeps nothing: the key can then be used', async () => {
      const { call, cart } = setup()
      expect((await call('POST', '/cart/add', { ...add, quantity: 0 }, keyed('v'))).status).toBe(422)
      const ok = await call('POST', '/cart/add', add, keyed('v'))
      expect(ok.status).toBe(200)
      expect(ok.headers.get('idempotent-replayed')).toBeNull()
      expect((await cart('idem')).item_count).toBe(2)
    })

    test('a simulated 503 keeps nothing, so the retry with the same key succeeds once', async () => {
      const draws = [0.001]
      const { call, cart } = setup({ failureRate: 0.01, random: () => draws.shift() ?? 0.5 })
      expect((await call('POST', '/cart/add', add, keyed('retry-me'))).status).toBe(503)
      const retried = await call('POST', '/cart/add', add, keyed('retry-me'))
      expect(retried.status).toBe(200)
      expect(retried.headers.get('idempotent-replayed')).toBeNull()
      expect(
        (await call('POST', '/cart/add', add, keyed('retry-me'))).headers.get('idempotent-replayed'),
      ).toBe('true')
      expect((await cart('idem')).item_count).toBe(2)
    })

    test('removing a line and clearing a cart replay too', async () => {
      const { call, cart } = setup()
      await call('POST', '/cart/add', add)
      await call('POST', '/cart/add', { ...add, product_id: 13 })
      const removed = await call('DELETE', '/cart/idem/items/12', undefined, keyed('rm'))
      expect(removed.status).toBe(200)
      const replay = await call('DELETE', '/cart/idem/items/12', undefined, keyed('rm'))
      expect(replay.status).toBe(200)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect((await cart('idem')).item_count).toBe(2)
      expect((await call('DELETE', '/cart/idem', undefined, keyed('clear'))).status).toBe(200)
      await call('POST', '/cart/add', add)
      const cleared = await call('DELETE', '/cart/idem', undefined, keyed('clear'))
      expect(cleared.headers.get('idempotent-replayed')).toBe('true')
      expect((await cart('idem')).item_count).toBe(2)
    })
  })
})
