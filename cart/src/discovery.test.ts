// The cart finding its catalog pods by DNS (CATALOG_SERVICE_URL=dns+http://catalog-pods:8001):
// real catalog apps on free loopback ports, a stub resolver as the headless Service's DNS.

import { afterEach, expect, test } from 'bun:test'
import type { ResolvedAddress } from '@shopstack/lib/discovery'
import { createTestTelemetry } from '@shopstack/lib/testing'
import type { Server } from 'bun'
import { createCatalogApp, createProductStore } from '../../e2e/in-process.ts'
import { createApp } from './app.ts'
import { createCartStore } from './carts/store.ts'

const servers: Server<unknown>[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true)
})

/** A catalog pod on a free loopback port, counting the product lookups it served. */
function startCatalogPod() {
  const catalog = createCatalogApp({ store: createProductStore(), ...createTestTelemetry() })
  const pod = { served: 0, address: { address: '127.0.0.1', port: 0 } as ResolvedAddress }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname.startsWith('/catalog/')) pod.served++
      return catalog.handle(request)
    },
  })
  servers.push(server)
  pod.address = { address: '127.0.0.1', port: server.port as number }
  return pod
}

test('the cart spreads its catalog lookups over every pod the name resolves to, and stops resolving on stop', async () => {
  const pods = [startCatalogPod(), startCatalogPod()]
  let lookups = 0
  const app = createApp({
    store: createCartStore({ path: ':memory:' }),
    catalogUrls: ['http://catalog-pods:8001'],
    catalogDiscovery: { name: 'catalog-pods', port: 8001, protocol: 'http' },
    discoveryIntervalMs: 20,
    resolve: async () => {
      lookups++
      return pods.map((pod) => pod.address)
    },
    ...createTestTelemetry({ service: 'cart' }),
  }).listen({ hostname: '127.0.0.1', port: 0 })
  servers.push(app.server as Server<unknown>)
  // The second lookup starts once the first has been applied.
  while (lookups < 2) await Bun.sleep(5)
  for (let i = 0; i < 6; i++) {
    const response = await app.handle(
      new Request('http://localhost/cart/add', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cart_id: 'c', product_id: 10 + i, quantity: 1 }),
      }),
    )
    expect(response.status).toBe(200)
  }
  expect(pods.map((pod) => pod.served)).toEqual([3, 3])
  await app.stop(true)
  const after = lookups
  await Bun.sleep(100)
  expect(lookups).toBe(after)
})
