// Faults steered at run time through /admin/faults, on the real catalog app: each kind happens at
// the set rate or strength, is counted, and stops when turned off.

import { describe, expect, test } from 'bun:test'
import { createFaults } from '@shopstack/lib/faults'
import { createTestTelemetry, refusalOf, SCHEMA_LEAK, sampleValue } from '@shopstack/lib/testing'
import { createApp } from './app.ts'
import { createProductStore } from './products/store.ts'

function setup(options: { token?: string; random?: () => number } = {}) {
  const telemetry = createTestTelemetry({ service: 'catalog', tracing: true })
  const slept: number[] = []
  let clock = 0
  const faults = createFaults({
    service: 'catalog',
    database: { latencyMs: [20, 60], failureRate: 0 },
    ...telemetry,
    random: options.random ?? (() => 0.5),
    sleep: async (ms) => {
      slept.push(ms)
      clock += ms
    },
    // The CPU-burn loop reads this clock; each read moves it on, so the loop ends.
    now: () => (clock += 1),
    leakTickMs: 5,
  })
  const app = createApp({ store: createProductStore(), ...telemetry, faults, adminToken: options.token })
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {}
  const call = (method: string, path: string, body?: unknown) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  return { app, call, slept, faults, telemetry }
}

describe('fault control', () => {
  test('GET shows the faults initialised from the environment', async () => {
    const { call } = setup()
    const state = (await (await call('GET', '/admin/faults')).json()) as Record<string, unknown>
    expect(state).toMatchObject({
      service: 'catalog',
      faults: { database: { latency_min_ms: 20, latency_max_ms: 60, failure_rate: 0 } },
    })
  })

  test('the configured simulation is the baseline, not a fault; reset goes back to it, DELETE turns even it off', async () => {
    const { call } = setup()
    const database = { latency_min_ms: 20, latency_max_ms: 60, failure_rate: 0 }
    expect(await (await call('GET', '/admin/faults')).json()).toMatchObject({
      faults: { database },
      baseline: { database },
      beyond_baseline: [],
    })
    await call('PUT', '/admin/faults', { database, latency: { min_ms: 1, max_ms: 2 } })
    expect(await (await call('GET', '/admin/faults')).json()).toMatchObject({ beyond_baseline: ['latency'] })
    expect(await (await call('DELETE', '/admin/faults')).json()).toMatchObject({
      faults: {},
      baseline: { database },
      beyond_baseline: ['database'],
    })
    const reset = await call('POST', '/admin/faults/reset')
    expect(reset.status).toBe(200)
    expect(await reset.json()).toMatchObject({ faults: { database }, beyond_baseline: [] })
  })

  test('an error fault answers its status at its rate, only on its route, and stops when cleared', async () => {
    let n = 0
    const { call } = setup({ random: () => (n++ % 4) / 4 }) // 0, .25, .5, .75, ...
    const put = await call('PUT', '/admin/faults', {
      error: { rate: 0.5, status: 503, route: '/catalog/:id' },
    })
    expect(put.status).toBe(200)
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await call('GET', '/catalog/1')).status)
    expect(statuses.filter((s) => s === 503)).toHaveLength(4)
    expect((await call('GET', '/catalog')).status).toBe(200)
    const failed = await call('GET', '/catalog/1')
    if (failed.status === 503) expect(await failed.json()).toMatchObject({ simulated: true })

    expect((await call('DELETE', '/admin/faults')).status).toBe(200)
    for (let i = 0; i < 8; i++) expect((await call('GET', '/catalog/1')).status).toBe(200)
    const metrics = await (await call('GET', '/metrics')).text()
    expect(sampleValue(metrics, 'simulated_faults_total', { kind: 'error' })).toBeGreaterThanOrEqual(4)
    expect(sampleValue(metrics, 'shopstack_fault_active', { kind: 'error' })).toBe(0)
  })

  test('added latency, database latency and CPU burn each take effect and show on the span', async () => {
    const { call, slept, telemetry } = setup()
    await call('PUT', '/admin/faults', {
      database: { latency_min_ms: 100, latency_max_ms: 100, failure_rate: 0 },
      latency: { min_ms: 500, max_ms: 500 },
      cpu_burn: { ms: 10 },
    })
    const metrics = await (await call('GET', '/metrics')).text()
    expect(sampleValue(metrics, 'shopstack_fault_active', { kind: 'latency' })).toBe(500)
    slept.length = 0
    expect((await call('GET', '/catalog/3')).status).toBe(200)
    expect(slept).toEqual([500, 100])
    await Bun.sleep(5)
    const span = (await telemetry.spans()).find((s) => s.name === 'GET /catalog/:id')
    expect(span?.attributes['shopstack.fault.latency_ms']).toBe(500)
    expect(span?.attributes['shopstack.fault.cpu_burn_ms']).toBe(10)
  })

  test('a hang holds the request, then answers 504', async () => {
    const { call, slept } = setup({ random: () => 0 })
    await call('PUT', '/admin/faults', { hang: { rate: 1, ms: 2500 } })
    const response = await call('GET', '/catalog/1')
    expect(response.status).toBe(504)
    expect(slept).toContain(2500)
  })

  test('the readiness fault fails /healthz but not /livez', async () => {
    const { call } = setup()
    await call('PUT', '/admin/faults', { readiness: { fail: true } })
    expect((await call('GET', '/healthz')).status).toBe(503)
    expect((await call('GET', '/livez')).status).toBe(200)
    await call('DELETE', '/admin/faults')
    expect((await call('GET', '/healthz')).status).toBe(200)
  })

  test('the memory leak grows to its bound and is released when turned off', async () => {
    const { call, faults } = setup()
    try {
      await call('PUT', '/admin/faults', { memory_leak: { mb_per_minute: 512, max_mb: 1 } })
      await Bun.sleep(200)
      const state = (await (await call('GET', '/admin/faults')).json()) as { leaked_bytes: number }
      expect(state.leaked_bytes).toBe(1_048_576)
      await call('PUT', '/admin/faults', {})
      expect(
        ((await (await call('GET', '/admin/faults')).json()) as { leaked_bytes: number }).leaked_bytes,
      ).toBe(0)
    } finally {
      faults.stop()
    }
  })

  test.each([
    [{ error: { rate: 2 } }, 422],
    [{ error: { rate: 0.1, status: 200 } }, 422],
    [{ latency: { min_ms: 50, max_ms: 10 } }, 422],
    [{ latency: { min_ms: -1, max_ms: 10 } }, 422],
    [{ memory_leak: { mb_per_minute: 10, max_mb: 100_000 } }, 422],
    [{ upstream_unreachable: { upstream: 'cart' } }, 422],
    [{ teleport: true }, 422],
    [{ hang: { rate: 0.5, route: 'no-slash' } }, 422],
  ])('bad fault values %j are a %d problem and change nothing', async (body, status) => {
    const { call } = setup()
    const before = await (await call('GET', '/admin/faults')).text()
    const response = await call('PUT', '/admin/faults', body)
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await (await call('GET', '/admin/faults')).text()).toBe(before)
  })

  test.each([
    [{ error: { rate: 2 } }, 'error.rate', 'must be a number from 0 to 1'],
    [{ error: { rate: 0.1, status: 200 } }, 'error.status', 'must be a whole number from 500 to 599'],
    [{ latency: { min_ms: 50, max_ms: 10 } }, 'latency.min_ms', 'must not exceed latency.max_ms'],
    [
      { latency: { min_ms: 'x', max_ms: 10 } },
      'latency.min_ms',
      'must be a whole number from 0 to 60000, not a string',
    ],
    [{ latency: { max_ms: 10 } }, 'latency.min_ms', 'is required'],
    [
      { database: { latency_min_ms: 9, latency_max_ms: 1, failure_rate: 0 } },
      'database.latency_min_ms',
      'must not exceed database.latency_max_ms',
    ],
    [{ readiness: { fail: 'yes' } }, 'readiness.fail', 'must be true or false, not a string'],
    [
      { upstream_unreachable: { upstream: 'cart' } },
      'upstream_unreachable',
      'is not allowed: catalog calls no upstream',
    ],
    [
      { upstream_unreachable: { upstream: 'Cart!' } },
      'upstream_unreachable.upstream',
      'must be an upstream name: a lowercase letter, then up to 31 lowercase letters, digits or -',
    ],
    [
      { hang: { rate: 0.5, route: 'no-slash' } },
      'hang.route',
      'must be a route template: / and up to 128 letters, digits, _ : / . or -, e.g. /catalog/:id',
    ],
    [
      { teleport: true },
      'teleport',
      'is not allowed (allowed here: database, latency, error, hang, cpu_burn, memory_leak, readiness, upstream_unreachable)',
    ],
    [
      { latency: { min_ms: 1, max_ms: 2, rout: '/x' } },
      'latency.rout',
      'is not allowed (allowed here: min_ms, max_ms, route)',
    ],
  ])('a refused fault setting %j names the field %s and says in words: %s', async (body, field, message) => {
    const { call } = setup()
    const refusal = await refusalOf(await call('PUT', '/admin/faults', body))
    expect(refusal.status).toBe(422)
    expect(refusal.errors).toEqual([{ in: 'body', path: field, message }])
    expect(refusal.detail).toBe(`${field} ${message}`)
    expect(refusal.text).not.toMatch(SCHEMA_LEAK)
  })

  test('with ADMIN_TOKEN set, the admin API refuses requests without it', async () => {
    const { app } = setup({ token: 'sekrit-token' })
    const anonymous = await app.handle(new Request('http://localhost/admin/faults'))
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer')
    const wrong = await app.handle(
      new Request('http://localhost/admin/faults', {
        method: 'DELETE',
        headers: { authorization: 'Bearer nope-nope' },
      }),
    )
    expect(wrong.status).toBe(401)
    const right = await app.handle(
      new Request('http://localhost/admin/faults', { headers: { authorization: 'Bearer sekrit-token' } }),
    )
    expect(right.status).toBe(200)
  })

  test('without ADMIN_TOKEN, the admin API answers this machine only: no other host name, no other site', async () => {
    const { app } = setup()
    const local = await app.handle(new Request('http://127.0.0.1:8001/admin/faults'))
    expect(local.status).toBe(200)
    // A name rebound to this machine (DNS rebinding) is not one it answers to.
    const rebound = await app.handle(
      new Request('http://127.0.0.1:8001/admin/faults', { headers: { host: 'attacker.example:8001' } }),
    )
    expect(rebound.status).toBe(403)
    expect(((await rebound.json()) as { detail: string }).detail).toContain('ADMIN_TOKEN')
    // A page of another site may not change the faults, even on a loopback name.
    const crossSite = await app.handle(
      new Request('http://localhost:8001/admin/faults', {
        method: 'DELETE',
        headers: { origin: 'https://attacker.example' },
      }),
    )
    expect(crossSite.status).toBe(403)
    // With a token the caller may be anywhere.
    const { app: guarded } = setup({ token: 'sekrit-token' })
    const remote = await guarded.handle(
      new Request('http://shop.example/admin/faults', { headers: { authorization: 'Bearer sekrit-token' } }),
    )
    expect(remote.status).toBe(200)
  })

  test('every change is logged', async () => {
    const { call, telemetry } = setup()
    await call('PUT', '/admin/faults', { error: { rate: 0.2 } })
    expect(telemetry.lines.find((l) => l.msg === 'faults changed')).toMatchObject({
      level: 'warn',
      faults: { error: { rate: 0.2 } },
    })
  })
})
