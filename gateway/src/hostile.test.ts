// The gateway against hostile request targets, on real sockets: the real catalog and cart apps
// listen behind a recorder that keeps every path they receive, and raw HTTP/1.1 requests (which
// fetch cannot send: empty or malformed Host, absolute-form and asterisk-form targets, encoded dots
// and slashes, double slashes) go to the gateway as it listens in production (Elysia on Bun.serve).
// Whatever the gateway answers, no backend may receive a path outside the public API.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestTelemetry } from '@shopstack/lib/testing'
import type { Server } from 'bun'
import { rawHttp } from '../../e2e/harness.ts'
import { createCartApp, createCartStore, createCatalogApp, createProductStore } from '../../e2e/in-process.ts'
import { createApp, upstreamPath } from './app.ts'

/** The backend paths the public API may reach (path and query as the backend received them). */
const PUBLIC = [
  /^\/catalog(\?(page|page_size|category)=[\w]+(&(page|page_size|category)=[\w]+)*)?$/,
  /^\/catalog\/[1-9]\d*$/,
  /^\/cart\/add$/,
  /^\/cart\/[\w-]{1,64}$/,
  /^\/cart\/[\w-]{1,64}\/items\/[1-9]\d*$/,
]

const raw = (port: number, text: string) => rawHttp(port, [text], { timeoutMs: 2000 })

const TARGETS = [
  '/catalog?/admin/faults',
  '/catalog?/metrics',
  '/catalog?/docs/json',
  '/catalog/1?/admin/faults',
  '/cart/abc?/admin/faults',
  '/catalog/..%2fadmin%2ffaults',
  '/catalog/%2e%2e/admin/faults',
  '/catalog/%2E%2E%2Fadmin%2Ffaults',
  '/catalog/1/../../admin/faults',
  '/catalog/./../admin/faults',
  '/cart/abc/..%2F..%2Fadmin%2Ffaults',
  '/cart/%2e%2e%2fadmin%2ffaults',
  '/cart/abc%2fitems%2f1',
  '/cart/abc/items/1%2f..%2f..%2fadmin',
  '/catalog\\..\\admin\\faults',
  '/catalog/1%00/admin',
  '//catalog/1',
  '/catalog//1',
  '//admin/faults',
  '///admin/faults',
  '//127.0.0.1/admin/faults',
  'http://127.0.0.1:1/admin/faults',
  'http://evil.example/catalog/1',
  'http://x/catalog?/admin/faults',
  'http://@evil/admin/faults',
  '*',
  'admin/faults',
  '/catalog/1#/admin/faults',
  '/catalog?page=1&x=/admin/faults',
  '/catalog?page=../../admin',
  '/metrics',
  '/docs/json',
  '/admin/faults',
]
const HOSTS = [
  undefined,
  '',
  'a',
  'ab',
  'a b',
  'a/b',
  'a?b',
  'a#b',
  '[::1',
  '127.0.0.1:1',
  'user:pw@h',
  'x'.repeat(300),
]
const METHODS = ['GET', 'DELETE', 'POST']

describe('hostile request targets', () => {
  const received: string[] = []
  let credentials = 0
  const servers: Server<unknown>[] = []
  let gatewayPort = 0
  let stopGateway = () => {}
  let handle: (request: Request) => Promise<Response> = async () => new Response()

  /** A real app behind a recorder of what it receives. */
  function recorded(app: { handle(request: Request): Promise<Response> }): string {
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch(request) {
        const url = request.url
        received.push(url.slice(url.indexOf('/', 7)))
        if (request.headers.has('authorization')) credentials++
        return app.handle(request)
      },
    })
    servers.push(server as Server<unknown>)
    return `http://127.0.0.1:${server.port}`
  }

  beforeAll(() => {
    const catalogUrl = recorded(createCatalogApp({ store: createProductStore(), ...createTestTelemetry() }))
    const cartUrl = recorded(
      createCartApp({ store: createCartStore(), catalogUrl, ...createTestTelemetry() }),
    )
    const gateway = createApp({ catalogUrl, cartUrl, ...createTestTelemetry({ service: 'gateway' }) }).listen(
      {
        port: 0,
        hostname: '127.0.0.1',
      },
    )
    gatewayPort = gateway.server?.port ?? 0
    handle = (request) => gateway.handle(request)
    stopGateway = () => void gateway.stop(true)
  })
  afterAll(() => {
    stopGateway()
    for (const server of servers) server.stop(true)
  })

  test('no backend path outside the public API is reached, no credential is passed on, nothing answers 5xx', async () => {
    const statuses = new Map<number, number>()
    let tried = 0
    for (const method of METHODS) {
      for (const target of TARGETS) {
        for (const host of HOSTS) {
          const hostLine = host === undefined ? '' : `Host: ${host}\r\n`
          const body = method === 'POST' ? '{"cart_id":"h","product_id":1,"quantity":1}' : ''
          const headers = body ? `content-type: application/json\r\ncontent-length: ${body.length}\r\n` : ''
          const { status, answer } = await raw(
            gatewayPort,
            `${method} ${target} HTTP/1.1\r\n${hostLine}authorization: Bearer secret\r\n${headers}connection: close\r\n\r\n${body}`,
          )
          tried++
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          // A backend's admin state (its faults) never comes back through the gateway.
          if (target.includes('admin') && status === 200) expect(answer).not.toContain('"database"')
          expect(status).toBeLessThan(500)
        }
      }
    }
    const outside = received.filter((path) => !PUBLIC.some((allowed) => allowed.test(path)))
    expect(outside).toEqual([])
    expect(credentials).toBe(0)
    expect(tried).toBe(METHODS.length * TARGETS.length * HOSTS.length)
    // Some of them do reach the backends (a well-formed target with a sane Host), so the recorder works.
    expect(received.length).toBeGreaterThan(0)
  }, 60_000)

  test('a target Bun cannot pair with a Host is refused with a 400 problem', async () => {
    const { status, answer } = await raw(
      gatewayPort,
      'GET /catalog?/admin/faults HTTP/1.1\r\nHost:\r\nconnection: close\r\n\r\n',
    )
    expect(status).toBe(400)
    expect(answer).toContain('application/problem+json')
  })

  test('a one-letter Host does not move where Elysia routes: /catalog?/admin/faults is the catalog list', async () => {
    const response = await handle(new Request('http://a/catalog?/admin/faults'))
    expect(response.status).toBe(200)
    expect(Object.keys((await response.json()) as object)).toContain('items')
  })
})

describe('upstreamPath', () => {
  test('rebuilds the path from the route and its validated values, encoding each', () => {
    expect(upstreamPath('/cart/:id/items/:product_id', { id: 'a_b-1', product_id: 7 })).toBe(
      '/cart/a_b-1/items/7',
    )
    expect(upstreamPath('/cart/:id', { id: '../admin' })).toBe('/cart/..%2Fadmin')
    expect(
      upstreamPath('/catalog', {}, { page: 2, x: '/admin', category: 'toys' }, [
        'page',
        'page_size',
        'category',
      ]),
    ).toBe('/catalog?page=2&category=toys')
  })
})
