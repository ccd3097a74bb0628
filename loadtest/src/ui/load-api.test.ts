// The load API mounted as another server would mount it (the console: /api/load and /api/faults),
// on a real socket, with the run under virtual time: the status carries the series as plain
// numbers and each failure's trace id, and bad requests are refused as problem+json naming the field.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createFaultClient, type FaultSettings } from '../faults.ts'
import { createRunner, type Fetch, type Runner } from '../runner.ts'
import type { UserFactory } from '../scenarios.ts'
import { createVirtualTime } from '../testing.ts'
import { createLoadApi, type LoadApi, type LoadStatus } from './load-api.ts'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const time = createVirtualTime()

/** Every other request fails with a 503 that names its trace, as the services' answers do. */
let sent = 0
const shop: Fetch = async () => {
  sent++
  const failed = sent % 2 === 0
  return new Response(failed ? '{}' : 'ok', {
    status: failed ? 503 : 200,
    statusText: failed ? 'Service Unavailable' : 'OK',
    headers: { traceresponse: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
  })
}

const pingUser: UserFactory = (context) => {
  const endpoint = context.stats.endpoint('gateway', 'GET', '/ping')
  const step = { endpoint, url: 'http://test/ping', init: undefined }
  return { next: () => step, thinkMs: () => 100 }
}

/** A fake admin API behind the real client: every service answers with the faults it was last given. */
const faultSets: Record<string, FaultSettings> = {}
const faultClient = createFaultClient({
  hosts: { gateway: 'http://gateway.test', catalog: 'http://catalog.test', cart: 'http://cart.test' },
  fetch: async (url, init) => {
    const service = new URL(url).hostname.replace('.test', '')
    if (init?.method === 'PUT') faultSets[service] = JSON.parse(String(init.body))
    if (init?.method === 'DELETE') faultSets[service] = {}
    return Response.json({ service, faults: faultSets[service] ?? {}, leaked_bytes: 0 })
  },
})

let api: LoadApi
let server: ReturnType<typeof Bun.serve>

beforeAll(() => {
  api = createLoadApi({
    base: { users: 2, spawnRate: 1000, runTimeMs: 10_000, metricsUsers: 0 },
    faults: faultClient,
    createRunner: (options): Runner =>
      createRunner({
        ...options,
        now: time.now,
        setTimer: time.setTimer,
        wallClock: () => 0,
        fetch: shop,
        createUser: pingUser,
        seed: 1,
      }),
    logError: () => {},
  })
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    routes: { ...api.routes('/api/load'), ...api.faultRoutes('/api') },
    fetch: () => new Response('not here', { status: 404 }),
  })
})
afterAll(async () => {
  await time.advanceTo(60_000)
  await api.close()
  await server.stop(true)
})

const call = (path: string, init?: RequestInit) => fetch(`${server.url.origin}${path}`, init)
const post = (path: string, body: string) =>
  call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

interface Problem {
  title: string
  status: number
  type?: string
  detail: string
  errors?: Array<{ in: string; path: string; message: string }>
}

async function problemOf(response: Response): Promise<Problem> {
  expect(response.headers.get('content-type')).toBe('application/problem+json')
  return (await response.json()) as Problem
}

describe('the load API mounted under /api/load, faults under /api/faults', () => {
  test('runs a load: start, status with the series as numbers and the failures with their trace id, stop, reports', async () => {
    expect((await call('/api/status')).status).toBe(404)
    const idle = (await (await call('/api/load/status')).json()) as LoadStatus
    expect(idle.status.state).toBe('ready')
    expect(idle.series).toEqual({
      t: [],
      users: [],
      in_flight: [],
      rps: [],
      failures_per_s: [],
      p50_ms: [],
      p95_ms: [],
      p99_ms: [],
    })

    expect((await post('/api/load/start', '{"users": 2, "run_time": "5s"}')).status).toBe(200)
    expect(await problemOf(await post('/api/load/start', '{}'))).toMatchObject({
      title: 'Conflict',
      status: 409,
      detail: 'a run is already going; stop it first',
    })
    await time.advanceTo(3500)
    const running = (await (await call('/api/load/status')).json()) as LoadStatus
    const points = api.runner?.partialResult().series ?? []
    expect(points.length).toBe(3)
    expect(running.series.t).toEqual(points.map((p) => p.t))
    expect(running.series.users).toEqual([2, 2, 2])
    expect(running.series.rps).toEqual(points.map((p) => p.rps))
    expect(running.series.failures_per_s).toEqual(points.map((p) => p.failures_per_s))
    expect(running.series.p95_ms).toEqual(points.map((p) => p.p95_ms))
    expect(running.series.rps.every((n) => typeof n === 'number' && n > 0)).toBe(true)
    expect(running.series.failures_per_s.every((n) => n > 0)).toBe(true)
    expect(running.charts.rps).toStartWith('<svg')
    expect(running.failures).toEqual([
      expect.objectContaining({
        cause: '503 Service Unavailable',
        example: expect.objectContaining({ trace_id: TRACE_ID }),
      }),
    ])

    expect((await post('/api/load/config', '{"users": 3}')).status).toBe(200)
    expect(api.runner?.status().target_users).toBe(3)

    const stopping = post('/api/load/stop', '')
    await time.advanceTo(10_000)
    const stopped = (await (await stopping).json()) as LoadStatus
    expect(stopped.status.state).toBe('stopped')
    const json = await call('/api/load/report.json')
    expect(json.headers.get('content-disposition')).toContain('attachment; filename="shopstack-loadtest-')
    expect(((await json.json()) as { series: unknown[] }).series.length).toBeGreaterThan(0)
    expect(await (await call('/api/load/report.html')).text()).toContain('<svg')
  })

  test('proxies the faults panel', async () => {
    const put = await call('/api/faults/cart', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ readiness: { fail: true } }),
    })
    expect(await put.json()).toMatchObject({ service: 'cart', faults: { readiness: { fail: true } } })
    const all = (await (await call('/api/faults')).json()) as { services: Array<{ summary: string }> }
    expect(all.services.map((s) => s.summary)).toEqual(['no faults', 'no faults', 'readiness failing'])
    const unknown = await problemOf(await call('/api/faults/payments'))
    expect(unknown).toMatchObject({
      status: 404,
      detail: 'There is no service "payments": it must be one of gateway, catalog, cart',
    })
  })
})

test('is exported for other servers as @shopstack/loadtest/load-api', async () => {
  const exported = await import('@shopstack/loadtest/load-api')
  expect(exported.createLoadApi).toBe(createLoadApi)
})

describe('bad requests are refused as problem+json, naming the field in words', () => {
  test('bad fields: 422 with every field in errors, the first as the detail', async () => {
    const response = await post(
      '/api/load/start',
      '{"users": -1, "spawn_rate": 0, "run_time": "forever", "colour": "red"}',
    )
    expect(response.status).toBe(422)
    expect(await problemOf(response)).toEqual({
      type: 'about:blank',
      title: 'Unprocessable Content',
      status: 422,
      detail: 'users must be a whole number of at least 0 (and 3 more: see errors)',
      errors: [
        { in: 'body', path: 'users', message: 'must be a whole number of at least 0' },
        { in: 'body', path: 'spawn_rate', message: 'must be a number above 0' },
        {
          in: 'body',
          path: 'run_time',
          message: 'must be a duration such as "30s", "2m" or "500ms", or a number of seconds, above 0',
        },
        {
          in: 'body',
          path: 'colour',
          message: 'is not allowed (the fields are users, spawn_rate, rate, run_time)',
        },
      ],
    })
    const config = await post('/api/load/config', '{"rate": "fast"}')
    expect(await problemOf(config)).toMatchObject({
      status: 422,
      detail: 'rate must be a number above 0',
      errors: [{ in: 'body', path: 'rate', message: 'must be a number above 0' }],
    })
    const notObject = await problemOf(await post('/api/load/start', '[1]'))
    expect(notObject).toMatchObject({ status: 422, detail: 'The body must be a JSON object' })
    const empty = await problemOf(await call('/api/faults/cart', { method: 'PUT' }))
    expect(empty).toMatchObject({ status: 422, detail: 'The body is required' })
  })

  test('broken JSON is a 400, a request that does not fit the run a 409', async () => {
    expect(await problemOf(await post('/api/load/start', '{"users":'))).toMatchObject({
      title: 'Bad Request',
      status: 400,
      detail: 'The body is not valid JSON',
    })
    expect(await problemOf(await post('/api/load/config', '{"users": 1}'))).toMatchObject({
      title: 'Conflict',
      status: 409,
      detail: 'no run is going',
    })
  })
})
