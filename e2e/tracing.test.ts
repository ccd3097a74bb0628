// Observability end to end: the three real processes export to a test OTLP receiver; one request
// through the gateway must be one connected trace, and the services' log lines carry its id.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Stack, startStack, waitFor } from './harness.ts'
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.ts'

let receiver: ReturnType<typeof startOtlpReceiver>
let stack: Stack

beforeAll(async () => {
  receiver = startOtlpReceiver()
  stack = await startStack({ env: { OTLP_ENDPOINT: receiver.url, DEPLOYMENT_ENVIRONMENT: 'test' } })
})
afterAll(async () => {
  await stack?.stop()
  receiver?.stop()
})

const SERVER = 2
const CLIENT = 3

/** The spans of one trace, once at least `count` have arrived at `at`. */
function spansOf(at: OtlpReceiver, traceId: string, count: number): Promise<ReceivedSpan[]> {
  return waitFor(() => {
    const found = at.trace(traceId)
    return found.length >= count ? found : false
  })
}

function traceIdOf(response: Response): string {
  const header = response.headers.get('traceresponse')
  expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  return (header as string).split('-')[1] as string
}

/** The one span named `name` in `service`, and check it is a child of `parent`. */
function childOf(
  spans: ReceivedSpan[],
  parent: ReceivedSpan | undefined,
  service: string,
  name: string,
  kind: number,
) {
  const span = spans.find(
    (s) => s.service === service && s.name === name && s.parentSpanId === parent?.spanId,
  )
  expect(span, `${service} ${name} under ${parent?.service} ${parent?.name}`).toBeDefined()
  expect(span?.kind).toBe(kind)
  return span as ReceivedSpan
}

describe('one trace per request', () => {
  test('a catalog read: gateway SERVER -> CLIENT -> catalog SERVER -> store span', async () => {
    const response = await fetch(`${stack.gateway.url}/catalog/123`)
    expect(response.status).toBe(200)
    const traceId = traceIdOf(response)
    const spans = await spansOf(receiver, traceId, 4)
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]))
    const root = spans.find((s) => s.parentSpanId === undefined)
    expect(root).toMatchObject({ service: 'shopstack-gateway', name: 'GET /catalog/:id', kind: SERVER })
    expect(root?.attributes).toMatchObject({ 'http.route': '/catalog/:id', 'http.response.status_code': 200 })
    const client = childOf(spans, root, 'shopstack-gateway', 'GET /catalog/:id', CLIENT)
    expect(client.attributes['shopstack.upstream']).toBe('catalog')
    expect(client.attributes['peer.service']).toBe('shopstack-catalog')
    const catalog = childOf(spans, client, 'shopstack-catalog', 'GET /catalog/:id', SERVER)
    const query = childOf(spans, catalog, 'shopstack-catalog', 'SELECT products', CLIENT)
    expect(query.attributes['db.system.name']).toBe('sqlite')
  })

  test('a cart add: gateway -> cart -> catalog, with the store write, all in one trace', async () => {
    const response = await fetch(`${stack.gateway.url}/cart/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cart_id: 'traced', product_id: 42, quantity: 1 }),
    })
    expect(response.status).toBe(200)
    const traceId = traceIdOf(response)
    const spans = await spansOf(receiver, traceId, 7)
    const root = spans.find((s) => s.parentSpanId === undefined)
    expect(root).toMatchObject({ service: 'shopstack-gateway', name: 'POST /cart/add' })
    const toCart = childOf(spans, root, 'shopstack-gateway', 'POST /cart/add', CLIENT)
    const cart = childOf(spans, toCart, 'shopstack-cart', 'POST /cart/add', SERVER)
    const toCatalog = childOf(spans, cart, 'shopstack-cart', 'GET /catalog/:id', CLIENT)
    const catalog = childOf(spans, toCatalog, 'shopstack-catalog', 'GET /catalog/:id', SERVER)
    childOf(spans, catalog, 'shopstack-catalog', 'SELECT products', CLIENT)
    childOf(spans, cart, 'shopstack-cart', 'WRITE cart_lines', CLIENT)
    expect(spans).toHaveLength(7)

    // The same trace id is in every service's log line for this request.
    await waitFor(() =>
      [stack.gateway, stack.cart, stack.catalog].every((service) =>
        service.lines.some((line) => line.trace_id === traceId),
      ),
    )
    const cartLine = stack.cart.lines.find((line) => line.trace_id === traceId)
    expect(cartLine).toMatchObject({ route: '/cart/add', status: 200, span_id: cart.spanId })
  })

  test('every service names itself, its version and environment on the resource', () => {
    const names = new Set(receiver.resources.map((r) => r['service.name']))
    expect(names).toEqual(new Set(['shopstack-gateway', 'shopstack-catalog', 'shopstack-cart']))
    for (const resource of receiver.resources) {
      expect(resource['service.version']).toBe('0.1.0')
      expect(resource['deployment.environment']).toBe('test')
    }
  })

  test('an incoming traceparent is continued, not replaced', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const response = await fetch(`${stack.gateway.url}/catalog/7`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    })
    expect(traceIdOf(response)).toBe(traceId)
    const spans = await spansOf(receiver, traceId, 4)
    expect(spans.find((s) => s.service === 'shopstack-gateway' && s.kind === SERVER)?.parentSpanId).toBe(
      '00f067aa0ba902b7',
    )
  })
})

describe('failures', () => {
  test('a simulated cart failure is a 503 whose trace shows ERROR spans, the event, and an error log line', async () => {
    const own = startOtlpReceiver()
    const failing = await startStack({
      env: { OTLP_ENDPOINT: own.url, SIMULATION: 'on', SIM_LATENCY_MS: '0', SIM_FAILURE_RATE: '1' },
    })
    try {
      const response = await fetch(`${failing.gateway.url}/cart/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cart_id: 'doomed', product_id: 1, quantity: 1 }),
      })
      expect(response.status).toBe(503)
      const traceId = traceIdOf(response)
      const spans = await spansOf(own, traceId, 7)
      const ERROR = 2
      const cartServer = spans.find((s) => s.service === 'shopstack-cart' && s.kind === SERVER)
      expect(cartServer?.status).toBe(ERROR)
      expect(cartServer?.events).toContain('exception')
      const write = spans.find((s) => s.name === 'WRITE cart_lines')
      expect(write?.events).toContain('shopstack.simulated_failure')
      expect(spans.find((s) => s.service === 'shopstack-gateway' && s.kind === SERVER)?.status).toBe(ERROR)
      const line = await waitFor(() => failing.cart.lines.find((l) => l.trace_id === traceId))
      expect(line).toMatchObject({ level: 'error', status: 503 })
      expect((line.err as { type?: string })?.type).toBe('SimulatedFailureError')
    } finally {
      await failing.stop()
      own.stop()
    }
  })
})

describe('shutdown', () => {
  test('spans from the last moments before SIGTERM are flushed, none lost', async () => {
    const own = startOtlpReceiver()
    const mini = await startStack({ env: { OTLP_ENDPOINT: own.url } })
    try {
      const traceIds: string[] = []
      for (let i = 0; i < 20; i++) {
        traceIds.push(traceIdOf(await fetch(`${mini.gateway.url}/catalog/${i + 1}`)))
      }
      await mini.stop()
      for (const traceId of traceIds) expect(own.trace(traceId)).toHaveLength(4)
    } finally {
      own.stop()
    }
  })
})
