// The resilient upstream client with an injected fetch: no sockets, no real waiting (sleep is
// recorded, randomness fixed), so every retry, ejection, timeout and shed is exact.

import { describe, expect, test } from 'bun:test'
import { UpstreamError } from './errors.ts'
import { createTestTelemetry, sampleValue } from './testing.ts'
import { createUpstream, ShedError, type UpstreamOptions } from './upstream.ts'
import { createUpstreamMetrics } from './upstream-metrics.ts'

type Handler = (instance: string, request: Request) => Response | Promise<Response>

const refused = () =>
  Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ConnectionRefused' }))

/** The connection broke after the request was sent: it may have reached the server. */
const reset = () =>
  Promise.reject(
    Object.assign(new Error('The socket connection was closed unexpectedly'), { code: 'ECONNRESET' }),
  )

/** Never answers; fails the way fetch does when its signal aborts. */
const hang = (request: Request) =>
  new Promise<Response>((_, reject) => {
    request.signal.addEventListener('abort', () => reject(request.signal.reason))
  })

function setup(handler: Handler, options: Partial<UpstreamOptions> = {}, tracing = false) {
  const telemetry = createTestTelemetry({ service: 'test', tracing })
  const seen: string[] = []
  const sleeps: number[] = []
  const upstream = createUpstream({
    name: 'cart',
    baseUrls: ['http://a', 'http://b'],
    tracing: telemetry.tracing,
    upstreamMetrics: createUpstreamMetrics(telemetry.metrics),
    fetch: async (request) => {
      const instance = new URL(request.url).origin
      seen.push(instance)
      return handler(instance, request)
    },
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms)
    },
    ...options,
  })
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    sampleValue(await telemetry.metrics.prometheus.metrics(), name, labels)
  const get = (path = '/cart/x') => upstream.request({ path, route: '/cart/:id' })
  return { upstream, seen, sleeps, metric, get, telemetry }
}

describe('an upstream with several instances', () => {
  test('spreads calls round-robin', async () => {
    const { get, seen } = setup(() => new Response('ok'))
    for (let i = 0; i < 4; i++) await get()
    expect(seen).toEqual(['http://a', 'http://b', 'http://a', 'http://b'])
  })

  test('retries a read on the other instance when its connection breaks, after a backoff', async () => {
    const { get, seen, sleeps, metric } = setup((instance) =>
      instance === 'http://a' ? reset() : new Response('ok'),
    )
    const response = await get()
    expect(response.status).toBe(200)
    expect(seen).toEqual(['http://a', 'http://b'])
    expect(sleeps).toEqual([25])
    expect(await metric('upstream_retries_total', { reason: 'connect_failure' })).toBe(1)
    expect(await metric('upstream_requests_total', { status: 'unreachable' })).toBe(1)
  })

  test('retries a 503, and passes the last 503 on when the retries are used up', async () => {
    const { get, seen, metric } = setup(() => new Response('busy', { status: 503 }), {
      baseUrls: ['http://a', 'http://b', 'http://c'],
    })
    const response = await get()
    expect(response.status).toBe(503)
    expect(seen).toHaveLength(3)
    expect(new Set(seen).size).toBe(3)
    expect(await metric('upstream_retries_total', { reason: 'status_503' })).toBe(2)
  })

  test('does not retry a write unless it is marked idempotent (it carries an Idempotency-Key)', async () => {
    const { upstream, seen } = setup(() => new Response('busy', { status: 503 }))
    const post = (idempotent?: boolean) =>
      upstream.request({ method: 'POST', path: '/cart/add', route: '/cart/add', body: '{}', idempotent })
    expect((await post()).status).toBe(503)
    expect(seen).toHaveLength(1)
    expect((await post(true)).status).toBe(503)
    expect(seen).toHaveLength(4)
  })

  test('does not retry other errors (a 500 or a 404 is the answer)', async () => {
    const { get, seen } = setup(() => new Response('no', { status: 500 }))
    expect((await get()).status).toBe(500)
    expect(seen).toHaveLength(1)
  })

  test('a connection failure on the last try is a 502 naming the upstream', async () => {
    const { get } = setup(refused)
    const error = await get().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    expect(error).toMatchObject({ status: 502, upstream: 'cart' })
  })

  test('a 503 whose retry the budget refuses is passed on whole', async () => {
    const { get, seen, metric } = setup(() => new Response('busy, try later', { status: 503 }), {
      retry: { minRetries: 0, ratio: 0 },
    })
    const response = await get()
    expect([response.status, await response.text()]).toEqual([503, 'busy, try later'])
    expect(seen).toHaveLength(1)
    expect(await metric('upstream_retry_budget_exhausted_total', { upstream: 'cart' })).toBe(1)
  })

  test('with no budget left, a retry waits for a slot only when another instance is untried', async () => {
    // One instance failing while a peer is healthy (a replica killed under load): worth a wait.
    const peer = setup((instance) => new Response('busy', { status: instance === 'http://a' ? 503 : 200 }), {
      retry: { minRetries: 0, ratio: 0 },
    })
    await peer.get()
    expect(peer.sleeps).toHaveLength(2) // the backoff, then the wait for a slot
    // The upstream as a whole failing (a retry storm): refused at once, not queued.
    const storm = setup(() => new Response('busy', { status: 503 }), {
      baseUrls: ['http://a'],
      retry: { minRetries: 0, ratio: 0 },
    })
    expect((await storm.get()).status).toBe(503)
    expect(storm.sleeps).toHaveLength(1) // the backoff only
    expect(await storm.metric('upstream_retry_budget_exhausted_total', { upstream: 'cart' })).toBe(1)
  })

  test('the retry budget stops retries when it is used up, and says so', async () => {
    const { get, seen, metric } = setup(reset, { retry: { minRetries: 0, ratio: 0 } })
    await expect(get()).rejects.toMatchObject({ status: 502 })
    expect(seen).toHaveLength(1)
    expect(await metric('upstream_retry_budget_exhausted_total', { upstream: 'cart' })).toBe(1)
    expect(await metric('upstream_retries_total')).toBeUndefined()
  })

  test('an instance that keeps failing is ejected (metric and state gauge) and gets no traffic', async () => {
    let clock = 0
    const { get, seen, metric, upstream } = setup(
      (instance) => (instance === 'http://a' ? refused() : new Response('ok')),
      { now: () => clock, outlier: { consecutiveFailures: 3, baseEjectionMs: 1000 } },
    )
    for (let i = 0; i < 6; i++) expect((await get()).status).toBe(200)
    expect(await metric('upstream_ejections_total', { upstream_instance: 'a' })).toBe(1)
    expect(await metric('upstream_instance_state', { upstream_instance: 'a' })).toBe(2)
    expect(await metric('upstream_instance_state', { upstream_instance: 'b' })).toBe(0)
    expect(upstream.instances()[0]).toMatchObject({ state: 'ejected', ejections: 1 })
    seen.length = 0
    for (let i = 0; i < 4; i++) await get()
    expect(seen).toEqual(['http://b', 'http://b', 'http://b', 'http://b'])
    // After the ejection time one probe goes to it; here it fails again and is ejected again.
    clock += 1000
    seen.length = 0
    await get()
    await get()
    expect(seen.filter((s) => s === 'http://a')).toHaveLength(1)
    expect(upstream.instances()[0]).toMatchObject({ state: 'ejected', ejections: 2 })
  })

  test('a try that runs past the per-try timeout is retried on the other instance', async () => {
    const { get, seen, metric } = setup(
      (instance, request) => (instance === 'http://a' ? hang(request) : new Response('ok')),
      { timeoutMs: 5000, perTryTimeoutMs: 20 },
    )
    expect((await get()).status).toBe(200)
    expect(seen).toEqual(['http://a', 'http://b'])
    expect(await metric('upstream_retries_total', { reason: 'timeout' })).toBe(1)
  })

  test('the overall timeout bounds the call, retries included: a 504 naming it', async () => {
    const { get } = setup((_, request) => hang(request), {
      timeoutMs: 60,
      perTryTimeoutMs: 20,
      retry: { maxRetries: 10 },
    })
    await expect(get()).rejects.toMatchObject({
      status: 504,
      upstream: 'cart',
      detail: 'The cart service did not answer within 60 ms',
    })
  })

  test('beyond the concurrency limit, calls are shed at once with a 503 and Retry-After', async () => {
    let release: (response: Response) => void = () => {}
    const { upstream, metric } = setup(() => new Promise<Response>((resolve) => (release = resolve)), {
      maxConcurrent: 1,
      retryAfterSeconds: 2,
    })
    const first = upstream.request({ path: '/cart/x', route: '/cart/:id' })
    const shed = await upstream.request({ path: '/cart/y', route: '/cart/:id' }).catch((e: unknown) => e)
    expect(shed).toBeInstanceOf(ShedError)
    expect(shed).toMatchObject({ status: 503, retryAfterSeconds: 2, upstream: 'cart' })
    expect(await metric('upstream_shed_total', { upstream: 'cart' })).toBe(1)
    expect(await metric('upstream_in_flight_requests', { upstream: 'cart' })).toBe(1)
    release(new Response('ok'))
    expect((await first).status).toBe(200)
    expect(await metric('upstream_in_flight_requests', { upstream: 'cart' })).toBe(0)
  })

  test('each try is a CLIENT span with its instance, state and resend count', async () => {
    const { upstream, telemetry } = setup(
      (instance) => (instance === 'http://a' ? reset() : new Response('ok')),
      {},
      true,
    )
    const parent = telemetry.tracing.startSpan('GET /cart/:id', 1, undefined)
    await upstream.request({ path: '/cart/x', route: '/cart/:id', parent })
    parent.end()
    const spans = (await telemetry.spans()).filter((s) => s.kind === 2)
    expect(spans.map((s) => s.attributes['shopstack.upstream.instance'])).toEqual(['http://a', 'http://b'])
    expect(spans[0]?.attributes['shopstack.upstream.retry_reason']).toBe('connect_failure')
    expect(spans[0]?.attributes['shopstack.upstream.instance_state']).toBe('healthy')
    expect(spans[1]?.attributes['http.request.resend_count']).toBe(1)
    expect(spans[0]?.attributes['http.request.resend_count']).toBeUndefined()
  })

  test('readiness passes when any instance is ready, and names them all when none is', async () => {
    const { upstream } = setup((instance) =>
      instance === 'http://a' ? new Response('no', { status: 503 }) : new Response('ok'),
    )
    await upstream.ready()
    const down = setup(refused).upstream
    await expect(down.ready()).rejects.toThrow(/no cart instance is ready: .*unreachable.*unreachable/)
  })

  test('one base URL still works as before', async () => {
    const { get, seen } = setup(() => new Response('ok'), { baseUrls: undefined, baseUrl: 'http://only' })
    await get()
    await get()
    expect(seen).toEqual(['http://only', 'http://only'])
  })
})

describe('retries that are always safe', () => {
  test('a refused connection goes to another instance at once, for a write without a key too, outside the budget', async () => {
    const { upstream, seen, sleeps, metric } = setup(
      (instance) => (instance === 'http://a' ? refused() : new Response('ok')),
      { retry: { minRetries: 0, ratio: 0 } },
    )
    const post = () => upstream.request({ method: 'POST', path: '/cart/add', route: '/cart/add', body: '{}' })
    expect((await post()).status).toBe(200)
    expect(seen).toEqual(['http://a', 'http://b'])
    expect(sleeps).toEqual([])
    expect(await metric('upstream_retries_total', { reason: 'connect_refused' })).toBe(1)
    expect(await metric('upstream_retries_total', { reason: 'connect_failure' })).toBeUndefined()
    expect(await metric('upstream_retry_budget_exhausted_total', { upstream: 'cart' })).toBeUndefined()
  })

  test('they are bounded: once per other instance, then a 502 that says Retry-After', async () => {
    const { upstream, seen, metric } = setup(refused, {
      baseUrls: ['http://a', 'http://b', 'http://c'],
      retryAfterSeconds: 1,
    })
    const error = await upstream
      .request({ method: 'POST', path: '/cart/add', route: '/cart/add', body: '{}' })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 502, upstream: 'cart', headers: { 'retry-after': '1' } })
    expect(new Set(seen).size).toBe(3)
    expect(seen).toHaveLength(3)
    expect(await metric('upstream_retries_total', { reason: 'connect_refused' })).toBe(2)
  })

  test('a broken connection of a write without a key is not retried (it may have been written)', async () => {
    const { upstream, seen } = setup(reset)
    await expect(
      upstream.request({ method: 'POST', path: '/cart/add', route: '/cart/add', body: '{}' }),
    ).rejects.toMatchObject({ status: 502 })
    expect(seen).toHaveLength(1)
  })

  test('a failed half-open probe costs the client nothing: the read goes to another instance, budget or not', async () => {
    let clock = 0
    const { get, seen, metric } = setup(
      (instance) => (instance === 'http://a' ? new Response('down', { status: 503 }) : new Response('ok')),
      {
        now: () => clock,
        outlier: { consecutiveFailures: 1, baseEjectionMs: 1000 },
        retry: { minRetries: 0, ratio: 0 },
      },
    )
    // Ejected on its first failure; that read had no budget for a retry, so it got the 503.
    expect((await get()).status).toBe(503)
    clock += 1000
    seen.length = 0
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200)
    expect(seen.filter((instance) => instance === 'http://a')).toHaveLength(1)
    expect(await metric('upstream_retries_total', { reason: 'probe_failure' })).toBe(1)
  })
})

describe('instances that go away', () => {
  test('an instance that answers Connection: close (it drains) gets no new calls; its answer is used', async () => {
    let clock = 0
    const { get, seen, metric } = setup(
      (instance) =>
        instance === 'http://a'
          ? new Response('last', { headers: { connection: 'close' } })
          : new Response('ok'),
      { now: () => clock, outlier: { baseEjectionMs: 3000 } },
    )
    expect(await (await get()).text()).toBe('last')
    for (let i = 0; i < 4; i++) await get()
    expect(seen).toEqual(['http://a', 'http://b', 'http://b', 'http://b', 'http://b'])
    expect(await metric('upstream_instance_ready', { upstream_instance: 'a' })).toBe(0)
    expect(await metric('upstream_instance_ready', { upstream_instance: 'b' })).toBe(1)
    // Without readiness checks it is tried again after one ejection time.
    clock += 3000
    seen.length = 0
    await get()
    await get()
    expect(seen).toContain('http://a')
  })

  test('active checks: a failing readiness check takes an instance out, a passing one brings it back', async () => {
    let tick = () => {}
    let stopped = false
    const ready = new Map([
      ['http://a', true],
      ['http://b', true],
    ])
    const { get, seen, upstream } = setup(
      (instance, request) =>
        new URL(request.url).pathname === '/healthz'
          ? new Response(null, { status: ready.get(instance) ? 200 : 503 })
          : new Response('ok'),
      {
        healthCheck: { intervalMs: 1000 },
        startTimer: (fn) => {
          tick = fn
          return () => {
            stopped = true
          }
        },
      },
    )
    const checkRound = async () => {
      tick()
      // The checks run on their own; let their promises settle.
      for (let i = 0; i < 10; i++) await Bun.sleep(0)
    }
    ready.set('http://a', false)
    await checkRound()
    seen.length = 0
    for (let i = 0; i < 4; i++) await get()
    expect(seen).toEqual(['http://b', 'http://b', 'http://b', 'http://b'])
    ready.set('http://a', true)
    await checkRound()
    seen.length = 0
    for (let i = 0; i < 4; i++) await get()
    expect(seen).toContain('http://a')
    upstream.close()
    expect(stopped).toBe(true)
  })

  test('active checks: an ejected instance comes back through a check, not a client request', async () => {
    let clock = 0
    let tick = () => {}
    let aFails = true
    const { get, seen, upstream } = setup(
      (instance, request) => {
        if (new URL(request.url).pathname === '/healthz') return new Response(null, { status: 200 })
        return instance === 'http://a' && aFails ? new Response('no', { status: 503 }) : new Response('ok')
      },
      {
        now: () => clock,
        outlier: { consecutiveFailures: 1, baseEjectionMs: 1000 },
        healthCheck: { intervalMs: 1000 },
        startTimer: (fn) => {
          tick = fn
          return () => {}
        },
      },
    )
    await get()
    expect(upstream.instances()[0]?.state).toBe('ejected')
    clock += 1000
    seen.length = 0
    for (let i = 0; i < 3; i++) await get()
    expect(seen).toEqual(['http://b', 'http://b', 'http://b'])
    aFails = false
    tick()
    for (let i = 0; i < 10; i++) await Bun.sleep(0)
    expect(upstream.instances()[0]?.state).toBe('healthy')
  })
})

describe('timeouts of a call that cannot be retried', () => {
  test('a write without a key gets the whole timeout for its one try', async () => {
    const { upstream, seen } = setup((_, request) => hang(request), { timeoutMs: 60, perTryTimeoutMs: 10 })
    await expect(
      upstream.request({ method: 'POST', path: '/cart/add', route: '/cart/add', body: '{}' }),
    ).rejects.toMatchObject({ status: 504, detail: 'The cart service did not answer within 60 ms' })
    expect(seen).toHaveLength(1)
  })
})

describe('instances that change while the client runs (service discovery)', () => {
  test('setInstances: a staying instance keeps its state, a new one is used and checked, a removed one neither', async () => {
    let tick = () => {}
    const checked: string[] = []
    const { get, seen, upstream, metric } = setup(
      (instance, request) => {
        if (new URL(request.url).pathname === '/healthz') {
          checked.push(instance)
          return new Response(null, { status: 200 })
        }
        return instance === 'http://a' ? new Response('no', { status: 503 }) : new Response('ok')
      },
      {
        now: () => 0,
        outlier: { consecutiveFailures: 1, baseEjectionMs: 60_000 },
        healthCheck: { intervalMs: 1000 },
        startTimer: (fn) => {
          tick = fn
          return () => {}
        },
      },
    )
    await get()
    expect(await metric('upstream_ejections_total', { upstream_instance: 'a' })).toBe(1)
    upstream.setInstances(['http://a', 'http://c'])
    expect(upstream.instances().map((i) => [i.url, i.state])).toEqual([
      ['http://a', 'ejected'],
      ['http://c', 'healthy'],
    ])
    seen.length = 0
    for (let i = 0; i < 3; i++) await get()
    expect(seen).toEqual(['http://c', 'http://c', 'http://c'])
    tick()
    for (let i = 0; i < 10; i++) await Bun.sleep(0)
    expect(checked.sort()).toEqual(['http://a', 'http://c'])
    // The removed instance's series are gone; the new one's exist from the start.
    expect(await metric('upstream_instance_state', { upstream_instance: 'b' })).toBeUndefined()
    expect(await metric('upstream_instance_ready', { upstream_instance: 'b' })).toBeUndefined()
    expect(await metric('upstream_ejections_total', { upstream_instance: 'b' })).toBeUndefined()
    expect(await metric('upstream_instance_state', { upstream_instance: 'c' })).toBe(0)
    expect(await metric('upstream_instance_ready', { upstream_instance: 'c' })).toBe(1)
    expect(await metric('upstream_ejections_total', { upstream_instance: 'c' })).toBe(0)
    expect(await metric('upstream_instance_state', { upstream_instance: 'a' })).toBe(2)
  })

  test('discovery: the name is resolved at once and on its interval, and close() stops it', async () => {
    const answers = [['10.0.0.1'], ['10.0.0.1', '10.0.0.2']]
    let scheduled: (() => void) | undefined
    let cancelled = false
    const telemetry = createTestTelemetry()
    const upstream = createUpstream({
      name: 'catalog',
      baseUrls: ['http://catalog-pods:8001'],
      tracing: telemetry.tracing,
      logger: telemetry.logger,
      fetch: async () => new Response('ok'),
      discovery: {
        name: 'catalog-pods',
        port: 8001,
        intervalMs: 5000,
        resolve: async () => (answers.shift() ?? []).map((address) => ({ address })),
        schedule: (run) => {
          scheduled = run
          return () => {
            cancelled = true
          }
        },
      },
    })
    for (let i = 0; i < 5; i++) await Bun.sleep(0)
    expect(upstream.instances().map((i) => i.url)).toEqual(['http://10.0.0.1:8001'])
    scheduled?.()
    for (let i = 0; i < 5; i++) await Bun.sleep(0)
    expect(upstream.instances().map((i) => i.url)).toEqual(['http://10.0.0.1:8001', 'http://10.0.0.2:8001'])
    // An empty answer keeps the last set, and says so.
    scheduled?.()
    for (let i = 0; i < 5; i++) await Bun.sleep(0)
    expect(upstream.instances()).toHaveLength(2)
    expect(telemetry.lines.some((l) => String(l.msg).includes('kept the last known instances'))).toBe(true)
    upstream.close()
    expect(cancelled).toBe(true)
  })
})

describe('instance URLs with credentials', () => {
  test('no userinfo reaches a span, a metric label, an error message, a log line or instances()', async () => {
    const telemetry = createTestTelemetry({ service: 'test', tracing: true })
    const upstream = createUpstream({
      name: 'cart',
      baseUrls: ['http://user:s3cret@a:8002', 'http://user:s3cret@b:8002'],
      tracing: telemetry.tracing,
      upstreamMetrics: createUpstreamMetrics(telemetry.metrics),
      logger: telemetry.logger,
      outlier: { consecutiveFailures: 1 },
      fetch: async () => new Response('no', { status: 503 }),
      random: () => 0,
      sleep: async () => {},
    })
    const parent = telemetry.tracing.startSpan('GET /cart/:id', 1, undefined)
    await upstream.request({ path: '/cart/x', route: '/cart/:id', parent })
    parent.end()
    upstream.setInstances(['http://user:s3cret@c:8002'])
    const failure = await upstream.ready().catch((error: Error) => error.message)
    const spans = (await telemetry.spans()).filter((s) => s.kind === 2)
    expect(spans.length).toBeGreaterThan(0)
    expect(spans[0]?.attributes['url.full']).toBe('http://***@a:8002/cart/x')
    expect(spans[0]?.attributes['shopstack.upstream.instance']).toBe('http://***@a:8002')
    const shown = JSON.stringify({
      spans: spans.map((s) => [s.attributes, s.events]),
      metrics: await telemetry.metrics.prometheus.metrics(),
      logs: telemetry.lines,
      instances: upstream.instances(),
      failure,
    })
    expect(shown).toContain('***@')
    expect(shown).not.toContain('s3cret')
  })
})
