// The web UI's proxy to each service's /admin/faults, against a fake admin API on a real socket:
// the token is added here and never reaches the page, the services' refusals come back as they
// were sent, and a change made during a run is marked on that run.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { FaultAnnotation } from '../annotations.ts'
import type { FaultSettings } from '../faults.ts'
import { createRunner } from '../runner.ts'
import { createUiServer, type UiServer } from './server.ts'

const TOKEN = 'proxy-test-token'

/** Three fake services on one port, told apart by a path prefix (/gateway, /catalog, /cart). */
function fakeAdmin() {
  const faults: Record<string, FaultSettings> = {
    gateway: {},
    catalog: {},
    cart: { readiness: { fail: true } },
  }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const [, service = '', ...rest] = new URL(request.url).pathname.split('/')
      if (rest.join('/') !== 'admin/faults' || !(service in faults)) return new Response('', { status: 404 })
      const problem = (status: number, title: string, detail: string) =>
        Response.json(
          { title, status, detail },
          { status, headers: { 'content-type': 'application/problem+json' } },
        )
      if (request.headers.get('authorization') !== `Bearer ${TOKEN}`) {
        return problem(401, 'Unauthorized', 'The admin API needs Authorization: Bearer <ADMIN_TOKEN>')
      }
      if (request.method === 'PUT') {
        const body = (await request.json()) as FaultSettings
        if (body.latency && body.latency.min_ms > body.latency.max_ms) {
          return problem(422, 'Unprocessable Content', 'latency.min_ms must not exceed latency.max_ms')
        }
        faults[service] = body
      }
      if (request.method === 'DELETE') faults[service] = {}
      return Response.json({ service, faults: faults[service], leaked_bytes: 0 })
    },
  })
  const base = server.url.origin
  return {
    server,
    faults,
    hosts: { gateway: `${base}/gateway`, catalog: `${base}/catalog`, cart: `${base}/cart` },
  }
}

let admin: ReturnType<typeof fakeAdmin>
let ui: UiServer

beforeAll(() => {
  admin = fakeAdmin()
  ui = createUiServer({
    port: 0,
    base: { hosts: admin.hosts, metricsUsers: 0, users: 1, thinkTime: { minMs: 50, maxMs: 50 } },
    adminToken: TOKEN,
    // The run's own traffic is beside the point here.
    createRunner: (options) => createRunner({ ...options, fetch: async () => new Response('ok') }),
  })
})
afterAll(async () => {
  await ui?.close()
  await admin?.server.stop(true)
})

const api = (path: string, init?: RequestInit) => fetch(`${ui.url}${path}`, init)
const put = (service: string, body: string) =>
  api(`/api/faults/${service}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body })

describe('the Faults panel proxy', () => {
  test('another web page cannot change faults through it (a cross-origin change is a 403)', async () => {
    const forged = await api('/api/faults/cart', {
      method: 'DELETE',
      headers: { origin: 'http://evil.example' },
    })
    expect(forged.status).toBe(403)
    const state = (await (await api('/api/faults/cart')).json()) as { faults: FaultSettings }
    expect(state.faults).toEqual({ readiness: { fail: true } })
  })

  test("lists every service's faults, with a one-line summary", async () => {
    const response = await api('/api/faults')
    expect(response.status).toBe(200)
    const { services } = (await response.json()) as { services: Array<Record<string, unknown>> }
    expect(services.map((s) => [s.service, s.url, s.summary])).toEqual([
      ['gateway', admin.hosts.gateway, 'no faults'],
      ['catalog', admin.hosts.catalog, 'no faults'],
      ['cart', admin.hosts.cart, 'readiness failing'],
    ])
  })

  test("sets a service's faults with the token, which the page never sees", async () => {
    const response = await put('catalog', JSON.stringify({ error: { rate: 0.5, status: 503 } }))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ service: 'catalog', faults: { error: { rate: 0.5 } } })
    expect(admin.faults.catalog).toEqual({ error: { rate: 0.5, status: 503 } })
    const page = await (await api('/')).text()
    expect(page).toContain('id="faults"')
    expect(page).not.toContain(TOKEN)
  })

  test("passes a service's refusal through as problem+json, and refuses bad requests itself", async () => {
    const refused = await put('cart', JSON.stringify({ latency: { min_ms: 500, max_ms: 100 } }))
    expect(refused.status).toBe(422)
    expect(refused.headers.get('content-type')).toContain('application/problem+json')
    expect(await refused.json()).toMatchObject({
      status: 422,
      detail: 'latency.min_ms must not exceed latency.max_ms',
      service: 'cart',
    })
    // An empty body would turn everything off: that is DELETE's job, so PUT refuses it.
    const empty = await put('cart', '')
    expect(empty.status).toBe(422)
    expect(await empty.json()).toMatchObject({ detail: 'The body is required' })
    expect((await put('cart', 'nope')).status).toBe(400)
    const unknown = await put('payments', '{}')
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { detail: string }).detail).toContain('no service "payments"')
  })

  test('turns one service, or every service, off', async () => {
    expect((await api('/api/faults/catalog', { method: 'DELETE' })).status).toBe(200)
    expect(admin.faults.catalog).toEqual({})
    admin.faults.gateway = { upstream_unreachable: { upstream: 'cart' } }
    const response = await api('/api/faults', { method: 'DELETE' })
    expect(response.status).toBe(200)
    expect(admin.faults).toEqual({ gateway: {}, catalog: {}, cart: {} })
  })

  test('a change during a run is marked on its charts until the next change to that service', async () => {
    await api('/api/start', { method: 'POST', body: JSON.stringify({ users: 1, run_time: '1m' }) })
    await put('cart', JSON.stringify({ error: { rate: 1 } }))
    await Bun.sleep(20)
    await api('/api/faults/cart', { method: 'DELETE' })
    await put('gateway', JSON.stringify({ readiness: { fail: true } }))
    const status = (await (await api('/api/status')).json()) as {
      annotations: FaultAnnotation[]
      annotations_html: string
      charts: { rps: string }
    }
    expect(
      status.annotations.map((a) => [a.id, a.service, a.source, a.label, a.end_s === undefined]),
    ).toEqual([
      [1, 'cart', 'panel', 'error 100% 500', false],
      [2, 'gateway', 'panel', 'readiness failing', true],
    ])
    expect(status.annotations_html).toContain('readiness failing')
    await api('/api/stop', { method: 'POST' })
    await api('/api/faults', { method: 'DELETE' })
  })
})
