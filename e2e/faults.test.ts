// Fault control across the real processes: faults set on each service's admin API change what
// users of the gateway see, show in the metrics, and stop when turned off. With ADMIN_TOKEN set,
// the admin API refuses anonymous changes.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sampleValue } from '../lib/src/testing.ts'
import { type Stack, startStack } from './harness.ts'

const TOKEN = 'e2e-admin-token'
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
let stack: Stack

beforeAll(async () => {
  stack = await startStack({ env: { ADMIN_TOKEN: TOKEN } })
})
afterAll(async () => {
  await stack?.stop()
})

const setFaults = (url: string, faults: unknown) =>
  fetch(`${url}/admin/faults`, { method: 'PUT', headers: auth, body: JSON.stringify(faults) })

describe('faults on the running services', () => {
  test('without the token the admin API is a 401 and nothing changes', async () => {
    const response = await fetch(`${stack.cart.url}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { rate: 1 } }),
    })
    expect(response.status).toBe(401)
    expect((await fetch(`${stack.gateway.url}/cart/anyone`)).status).toBe(200)
  })

  test('a cart write failure rate of 1 fails every add through the gateway with a 503, until cleared', async () => {
    expect(
      (
        await setFaults(stack.cart.url, {
          database: { latency_min_ms: 0, latency_max_ms: 0, failure_rate: 1 },
        })
      ).status,
    ).toBe(200)
    const add = () =>
      fetch(`${stack.gateway.url}/cart/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cart_id: 'faulty', product_id: 3, quantity: 1 }),
      })
    for (let i = 0; i < 5; i++) expect((await add()).status).toBe(503)
    expect(
      ((await (await fetch(`${stack.gateway.url}/cart/faulty`)).json()) as { item_count: number }).item_count,
    ).toBe(0)
    const metrics = await (await fetch(`${stack.cart.url}/metrics`)).text()
    expect(sampleValue(metrics, 'shopstack_fault_active', { kind: 'database_failure' })).toBe(1)

    expect((await fetch(`${stack.cart.url}/admin/faults`, { method: 'DELETE', headers: auth })).status).toBe(
      200,
    )
    expect((await add()).status).toBe(200)
  })

  test('an unreachable upstream on the gateway gives 502s for that upstream only', async () => {
    expect(
      (await setFaults(stack.gateway.url, { upstream_unreachable: { upstream: 'catalog' } })).status,
    ).toBe(200)
    const down = await fetch(`${stack.gateway.url}/catalog/1`)
    expect(down.status).toBe(502)
    expect(await down.json()).toMatchObject({ upstream: 'catalog' })
    expect((await fetch(`${stack.gateway.url}/cart/x`)).status).toBe(200)
    await fetch(`${stack.gateway.url}/admin/faults`, { method: 'DELETE', headers: auth })
    expect((await fetch(`${stack.gateway.url}/catalog/1`)).status).toBe(200)
  })

  test('catalog latency on one route slows that route through the gateway, not the others', async () => {
    await setFaults(stack.catalog.url, { latency: { min_ms: 300, max_ms: 300, route: '/catalog/:id' } })
    try {
      const slowStart = performance.now()
      expect((await fetch(`${stack.gateway.url}/catalog/2`)).status).toBe(200)
      expect(performance.now() - slowStart).toBeGreaterThanOrEqual(290)
      const metrics = await (await fetch(`${stack.catalog.url}/metrics`)).text()
      expect(sampleValue(metrics, 'simulated_faults_total', { kind: 'latency' })).toBeGreaterThanOrEqual(1)
    } finally {
      await fetch(`${stack.catalog.url}/admin/faults`, { method: 'DELETE', headers: auth })
    }
  })

  test('a failing readiness fault on the catalog makes the gateway not ready', async () => {
    await setFaults(stack.catalog.url, { readiness: { fail: true } })
    try {
      expect((await fetch(`${stack.catalog.url}/healthz`)).status).toBe(503)
      expect((await fetch(`${stack.catalog.url}/livez`)).status).toBe(200)
      expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(503)
    } finally {
      await fetch(`${stack.catalog.url}/admin/faults`, { method: 'DELETE', headers: auth })
    }
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200)
  })
})
