// A cart is private. Idempotency keys belong to the cart they were used on: another client that happens to pick (or
// learns) the same key on another cart writes its own change, never gets the first client's
// cart back, and no answer echoes a key. SQLite store here; the Redis store gets the same scoped
// key from the routes.

import { expect, test } from 'bun:test'
import { createSimulation } from '@shopstack/lib/simulation'
import { createTestTelemetry } from '@shopstack/lib/testing'
import { createCatalogApp, createProductStore } from '../../e2e/in-process.ts'
import { createApp } from './app.ts'
import { createCartStore } from './carts/store.ts'

const KEY = 'shared-key-0f9c2e'

function cartApp() {
  const catalog = createCatalogApp({
    store: createProductStore(),
    ...createTestTelemetry({ service: 'catalog' }),
  })
  const app = createApp({
    store: createCartStore(),
    catalogUrl: 'http://catalog.test',
    ...createTestTelemetry({ service: 'cart' }),
    simulation: createSimulation({ failureRate: 0 }),
    fetch: (request) =>
      catalog.handle(new Request(request.url.replace('http://catalog.test', 'http://localhost'), request)),
  })
  return (method: string, path: string, body?: unknown, key: string | null = KEY) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(key === null ? {} : { 'idempotency-key': key }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
}

test('the same key on another cart is another write, never a replay or a conflict', async () => {
  const call = cartApp()
  const alice = await call('POST', '/cart/add', { cart_id: 'alice', product_id: 1, quantity: 2 })
  expect(alice.status).toBe(200)
  const bob = await call('POST', '/cart/add', { cart_id: 'bob', product_id: 2, quantity: 5 })
  expect(bob.status).toBe(200)
  expect(bob.headers.get('idempotent-replayed')).toBeNull()
  const bobCart = (await bob.json()) as { id?: string; cart_id?: string; item_count: number }
  expect(bobCart.item_count).toBe(5)
  // The same key on other writes of other carts: their own outcomes too.
  expect((await call('DELETE', '/cart/carol')).headers.get('idempotent-replayed')).toBeNull()
  expect((await call('DELETE', '/cart/dave/items/1')).status).toBe(404)
  // Alice's retry is still a replay of her own first answer.
  const retry = await call('POST', '/cart/add', { cart_id: 'alice', product_id: 1, quantity: 2 })
  expect(retry.headers.get('idempotent-replayed')).toBe('true')
  expect(((await retry.json()) as { item_count: number }).item_count).toBe(2)
})

test('a conflict on one cart names no key', async () => {
  const call = cartApp()
  await call('POST', '/cart/add', { cart_id: 'alice', product_id: 1, quantity: 2 })
  const conflict = await call('POST', '/cart/add', { cart_id: 'alice', product_id: 3, quantity: 1 })
  expect(conflict.status).toBe(422)
  const text = await conflict.text()
  expect(text).not.toContain(KEY)
  expect(text).toContain('Idempotency-Key')
})

test('a cart is never cached, and the services answer with the security headers directly too', async () => {
  const call = cartApp()
  for (const response of [
    await call('POST', '/cart/add', { cart_id: 'erin', product_id: 1, quantity: 1 }),
    await call('GET', '/cart/erin'),
    await call('DELETE', '/cart/erin', undefined, null),
  ]) {
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
  }
  const catalog = createCatalogApp({
    store: createProductStore(),
    ...createTestTelemetry({ service: 'catalog' }),
  })
  const product = await catalog.handle(
    new Request('http://localhost/catalog/1', { headers: { origin: 'https://evil.example' } }),
  )
  expect(product.headers.get('x-frame-options')).toBe('DENY')
  expect(product.headers.get('access-control-allow-origin')).toBeNull()
})
