// The runner under virtual time: an injected clock, timers and fetch, so a ten-second run takes
// milliseconds and every figure is exact, whatever the machine's load.

import { describe, expect, test } from 'bun:test'
import { createRunner, type Fetch, type RunnerOptions } from './runner.ts'
import type { UserFactory } from './scenarios.ts'
import { createVirtualTime, type VirtualTime } from './testing.ts'

/** A server whose answer takes `latency(sentAt)` virtual milliseconds. */
function slowServer(time: VirtualTime, latency: (sentAt: number) => number, status = 200) {
  const sentAt: number[] = []
  const fetch: Fetch = () =>
    new Promise((resolve) => {
      const at = time.now()
      sentAt.push(at)
      time.setTimer(() => resolve(new Response('ok', { status })), latency(at))
    })
  return { fetch, sentAt }
}

/** One endpoint, one request per step: the runner's behaviour without the shop's mix. */
const pingUser: UserFactory = (context) => {
  const endpoint = context.stats.endpoint('gateway', 'GET', '/ping')
  const step = { endpoint, url: 'http://test/ping', init: undefined }
  return { next: () => step, thinkMs: () => 100 }
}

function runner(time: VirtualTime, fetch: Fetch, options: RunnerOptions) {
  return createRunner({
    now: time.now,
    setTimer: time.setTimer,
    wallClock: () => 0,
    fetch,
    createUser: pingUser,
    metricsUsers: 0,
    seed: 1,
    ...options,
  })
}

describe('the open model', () => {
  test('keeps its arrival rate when responses are slow', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 500)
    const run = runner(time, server.fetch, { rate: 100, runTimeMs: 10_000 })
    run.start()
    await time.advanceTo(20_000)
    const result = await run.done
    // 100/s for 10 s, although each answer takes half a second (50 in flight at once).
    expect(result.snapshot.totals.requests).toBeGreaterThanOrEqual(995)
    expect(result.snapshot.totals.requests).toBeLessThanOrEqual(1001)
    const perSecond = new Map<number, number>()
    for (const at of server.sentAt)
      perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1)
    for (let second = 0; second < 10; second++)
      expect(Math.abs((perSecond.get(second) ?? 0) - 100)).toBeLessThanOrEqual(1)
    expect(result.snapshot.totals.p50_ms).toBeCloseTo(500, 0)
    expect(result.snapshot.totals.failures).toBe(0)
  })

  test('a stall shows in the latency of every request sent during it (no coordinated omission)', async () => {
    const time = createVirtualTime()
    // The server stops answering from 2 s to 3 s; whatever arrives then is answered at 3 s.
    const server = slowServer(time, (at) => (at >= 2000 && at < 3000 ? 3000 - at : 5))
    const run = runner(time, server.fetch, { rate: 100, runTimeMs: 10_000 })
    run.start()
    await time.advanceTo(20_000)
    const { totals } = (await run.done).snapshot
    expect(totals.requests).toBeGreaterThanOrEqual(995)
    // 100 of 1,000 requests waited between 0 and 1 s: the top 10% spread to 1 s.
    expect(totals.p90_ms).toBeLessThan(20)
    expect(totals.p95_ms).toBeGreaterThan(400)
    expect(totals.p99_ms).toBeGreaterThan(850)
    expect(totals.max_ms).toBeCloseTo(1000, -1)
  })

  test('requests held back by the in-flight cap count their wait in their latency', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 100)
    // 5 in flight × 10 answers/s each = 50/s can be served; 100/s are asked for.
    const run = runner(time, server.fetch, { rate: 100, runTimeMs: 10_000, maxInFlight: 5 })
    run.start()
    await time.advanceTo(30_000)
    const { totals } = (await run.done).snapshot
    expect(totals.requests).toBeLessThanOrEqual(510)
    // By the end, requests had been due for about 5 s when they went out.
    expect(totals.max_ms).toBeGreaterThan(4000)
    expect(totals.p50_ms).toBeGreaterThan(1000)
  })

  test('the rate can change while running', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 10)
    const run = runner(time, server.fetch, { rate: 10, runTimeMs: 4000 })
    run.start()
    await time.advanceTo(2000)
    run.setRate(50)
    await time.advanceTo(10_000)
    const { totals } = (await run.done).snapshot
    expect(totals.requests).toBeGreaterThanOrEqual(118)
    expect(totals.requests).toBeLessThanOrEqual(123)
  })
})

describe('the closed model', () => {
  test('users wait for the answer and think before the next request', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 10)
    const run = runner(time, server.fetch, { users: 3, spawnRate: 1000, runTimeMs: 1100 })
    run.start()
    await time.advanceTo(5000)
    const result = await run.done
    // Each user: 10 ms answer + 100 ms think = one request per 110 ms, 10 in 1.1 s.
    expect(result.snapshot.totals.requests).toBe(30)
    expect(result.reason).toBe('duration')
    expect(result.series.at(-1)?.users).toBe(3)
  })

  test('users are spawned at the spawn rate and can be changed while running', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 10)
    const run = runner(time, server.fetch, { users: 4, spawnRate: 2, runTimeMs: 10_000 })
    run.start()
    await time.advanceTo(1)
    expect(run.status().users).toBe(1)
    await time.advanceTo(1600)
    expect(run.status().users).toBe(4)
    run.setUsers(1)
    expect(run.status().users).toBe(1)
    run.setUsers(6)
    await time.advanceTo(4000)
    expect(run.status().users).toBe(6)
    await run.stop()
  })

  test('--max-requests ends the run after exactly that many requests', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 10)
    const run = runner(time, server.fetch, { users: 4, spawnRate: 1000, maxRequests: 25, runTimeMs: 60_000 })
    run.start()
    await time.advanceTo(60_000)
    const result = await run.done
    expect(result.reason).toBe('max-requests')
    expect(result.snapshot.totals.requests).toBe(25)
  })

  test('a stop waits for requests in flight, and abandons them (uncounted) past the stop timeout', async () => {
    const time = createVirtualTime()
    const server = slowServer(time, () => 60_000)
    const run = runner(time, server.fetch, { users: 2, spawnRate: 1000, stopTimeoutMs: 500 })
    run.start()
    await time.advanceTo(100)
    const stopped = run.stop()
    await time.advanceTo(400)
    expect(run.state).toBe('stopping')
    await time.advanceTo(2000)
    const result = await stopped
    expect(result.reason).toBe('stopped')
    expect(result.snapshot.totals.requests).toBe(0)
    expect(run.state).toBe('stopped')
  })
})

describe('failures', () => {
  test('are grouped by cause with the trace id and request id of an example', async () => {
    const time = createVirtualTime()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const fetch: Fetch = async () =>
      new Response(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }), {
        status: 503,
        headers: {
          'content-type': 'application/problem+json',
          traceresponse: `00-${traceId}-00f067aa0ba902b7-01`,
          'x-request-id': 'req-1',
        },
      })
    const run = runner(time, fetch, { users: 1, spawnRate: 1000, maxRequests: 5 })
    run.start()
    await time.advanceTo(5000)
    const { snapshot } = await run.done
    expect(snapshot.totals.failures).toBe(5)
    expect(snapshot.failures).toEqual([
      expect.objectContaining({
        endpoint: 'GET /ping',
        cause: '503 Service Unavailable',
        status: 503,
        count: 5,
        example: expect.objectContaining({ trace_id: traceId, trace_recorded: true, request_id: 'req-1' }),
      }),
    ])
  })

  test('a failure whose trace was not recorded (flag 00) says so, so a page links its logs instead', async () => {
    const time = createVirtualTime()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const fetch: Fetch = async () =>
      new Response('', { status: 503, headers: { traceresponse: `00-${traceId}-00f067aa0ba902b7-00` } })
    const run = runner(time, fetch, { users: 1, spawnRate: 1000, maxRequests: 2 })
    run.start()
    await time.advanceTo(5000)
    const { snapshot } = await run.done
    expect(snapshot.failures[0]?.example).toMatchObject({ trace_id: traceId, trace_recorded: false })
  })

  test('network errors are failures named by their code', async () => {
    const time = createVirtualTime()
    const fetch: Fetch = async () => {
      throw Object.assign(new Error('Unable to connect'), { code: 'ConnectionRefused' })
    }
    const run = runner(time, fetch, { users: 1, spawnRate: 1000, maxRequests: 3 })
    run.start()
    await time.advanceTo(5000)
    const { snapshot } = await run.done
    expect(snapshot.failures[0]).toMatchObject({
      cause: 'network: ConnectionRefused: Unable to connect',
      count: 3,
    })
  })
})
