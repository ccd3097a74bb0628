import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FaultSettings as LibFaultSettings } from '@shopstack/contracts/faults'
import {
  createFaultClient,
  FAULT_KINDS,
  FaultApiError,
  type FieldSpec,
  faultProblems,
  summarizeFaults,
} from './faults.ts'

interface JsonSchema {
  type?: string
  required?: string[]
  properties?: Record<string, JsonSchema>
  minimum?: number
  maximum?: number
  multipleOf?: number
  pattern?: string
  error?: string
}

describe('the fault kinds the load generator knows', () => {
  test("match the services' FaultSettings schema: kinds, fields, bounds and what is optional", () => {
    const lib = LibFaultSettings as unknown as JsonSchema
    expect(Object.keys(FAULT_KINDS).sort()).toEqual(Object.keys(lib.properties ?? {}).sort())
    for (const [kind, spec] of Object.entries(FAULT_KINDS)) {
      const schema = lib.properties?.[kind] ?? {}
      expect({ kind, fields: Object.keys(spec.fields).sort() }).toEqual({
        kind,
        fields: Object.keys(schema.properties ?? {}).sort(),
      })
      for (const [name, field] of Object.entries(spec.fields) as Array<[string, FieldSpec]>) {
        const theirs = schema.properties?.[name] ?? {}
        const optional = !(schema.required ?? []).includes(name)
        const ours: JsonSchema & { optional: boolean } = { type: field.type, optional }
        if (field.type === 'number') {
          Object.assign(ours, { minimum: field.minimum, maximum: field.maximum })
          if (field.integer) ours.multipleOf = 1
        }
        if (field.type === 'string') Object.assign(ours, { pattern: field.pattern, error: field.rule })
        expect({ at: `${kind}.${name}`, ...ours }).toEqual({
          at: `${kind}.${name}`,
          type: theirs.type,
          optional: 'optional' in field ? field.optional === true : false,
          ...(theirs.minimum === undefined ? {} : { minimum: theirs.minimum, maximum: theirs.maximum }),
          ...(theirs.multipleOf === undefined ? {} : { multipleOf: theirs.multipleOf }),
          ...(theirs.pattern === undefined ? {} : { pattern: theirs.pattern, error: theirs.error }),
        })
      }
    }
  })

  test('a valid set has no problems', () => {
    expect(
      faultProblems(
        {
          latency: { min_ms: 100, max_ms: 200, route: '/catalog/:id' },
          error: { rate: 0.5, status: 503 },
          readiness: { fail: true },
        },
        'catalog',
      ),
    ).toEqual([])
    expect(faultProblems({ upstream_unreachable: { upstream: 'cart' } }, 'gateway')).toEqual([])
  })

  test("problems are the services' field errors: each at its path, the rule in words", () => {
    const problems = faultProblems(
      {
        lantency: { min_ms: 1, max_ms: 2 },
        error: { rate: 2, status: 404, colour: 'red' },
        latency: { min_ms: 300, max_ms: 100, route: 'catalog' },
        hang: { ms: 10.5 },
        upstream_unreachable: { upstream: 'cart' },
        readiness: { fail: 'yes' },
      },
      'cart',
      'steps[0].faults',
    )
    const at = (path: string, message: string) => ({
      in: 'body' as const,
      path: `steps[0].faults.${path}`,
      message,
    })
    expect(problems).toEqual([
      at(
        'lantency',
        'is not allowed: the faults are database, latency, error, hang, cpu_burn, memory_leak, readiness, upstream_unreachable',
      ),
      at('error.colour', 'is not allowed: the settings of error are rate, status, route'),
      at('error.rate', 'must be a number from 0 to 1'),
      at('error.status', 'must be a whole number from 500 to 599'),
      at(
        'latency.route',
        'must be a route template: / and up to 128 letters, digits, _ : / . or -, e.g. /catalog/:id',
      ),
      at('hang.rate', 'is required'),
      at('hang.ms', 'must be a whole number from 0 to 120000'),
      at('upstream_unreachable', 'applies to gateway only, not cart'),
      at('readiness.fail', 'must be true or false, not a string'),
      at('latency.min_ms', 'must not exceed latency.max_ms'),
    ])
    expect(faultProblems([], 'cart')).toEqual([
      { in: 'body', path: '', message: 'must be an object of fault settings' },
    ])
    expect(faultProblems({ upstream_unreachable: { upstream: 'payments' } }, 'gateway')).toEqual([
      { in: 'body', path: 'upstream_unreachable.upstream', message: 'must be one of catalog, cart' },
    ])
    expect(faultProblems({ latency: { min_ms: '5', max_ms: 10 } }, 'gateway', '', 'query')).toEqual([
      {
        in: 'query',
        path: 'latency.min_ms',
        message: 'must be a whole number from 0 to 60000, not a string',
      },
    ])
    // No schema internals reach a person: no regular expression in any message.
    for (const problem of problems) expect(problem.message).not.toMatch(/[\^$]|\{\d/)
  })

  test('a set of faults reads as one line', () => {
    expect(summarizeFaults({})).toBe('no faults')
    expect(
      summarizeFaults({
        latency: { min_ms: 500, max_ms: 500, route: '/catalog/:id' },
        error: { rate: 0.1, status: 503 },
        database: { latency_min_ms: 30, latency_max_ms: 90, failure_rate: 0.5 },
      }),
    ).toBe('database 30–90 ms, 50% failures, latency 500–500 ms on /catalog/:id, error 10% 503')
    expect(summarizeFaults({ upstream_unreachable: { upstream: 'cart' }, readiness: { fail: true } })).toBe(
      'readiness failing, cart unreachable',
    )
  })
})

describe('the admin API client', () => {
  let server: ReturnType<typeof Bun.serve>
  const seen: Array<{ method: string; auth: string | null; body: string }> = []

  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        const body = await request.text()
        seen.push({ method: request.method, auth: request.headers.get('authorization'), body })
        if (body.includes('"min_ms":9')) {
          return Response.json(
            {
              title: 'Unprocessable Content',
              status: 422,
              detail: 'latency.min_ms must not exceed latency.max_ms',
            },
            { status: 422, headers: { 'content-type': 'application/problem+json' } },
          )
        }
        return Response.json({ service: 'cart', faults: body ? JSON.parse(body) : {}, leaked_bytes: 0 })
      },
    })
  })
  afterAll(() => server.stop(true))

  const hosts = (url: string) => ({ gateway: url, catalog: url, cart: url })

  test('sends the bearer token and the settings, and returns the state', async () => {
    const client = createFaultClient({ hosts: hosts(server.url.origin), token: 's3cret' })
    const state = await client.set('cart', { error: { rate: 1 } })
    expect(state.faults).toEqual({ error: { rate: 1 } })
    expect(seen.at(-1)).toEqual({ method: 'PUT', auth: 'Bearer s3cret', body: '{"error":{"rate":1}}' })
    await client.clear('cart')
    expect(seen.at(-1)?.method).toBe('DELETE')
  })

  test('a read carries an unsampled traceparent (no span for a poll), a change none', async () => {
    const traceparents: (string | null)[] = []
    const echo = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch(request) {
        traceparents.push(request.headers.get('traceparent'))
        return Response.json({ service: 'cart', faults: {}, leaked_bytes: 0 })
      },
    })
    try {
      const client = createFaultClient({ hosts: hosts(echo.url.origin) })
      await client.get('cart')
      await client.set('cart', { error: { rate: 1 } })
      expect(traceparents[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
      expect(traceparents[1]).toBeNull()
    } finally {
      await echo.stop(true)
    }
  })

  test("a refusal carries the service's problem+json", async () => {
    const client = createFaultClient({ hosts: hosts(server.url.origin) })
    const error = await client.set('cart', { latency: { min_ms: 9, max_ms: 1 } }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FaultApiError)
    expect(error).toMatchObject({ service: 'cart', status: 422, problem: { title: 'Unprocessable Content' } })
    expect((error as Error).message).toBe('cart: 422 latency.min_ms must not exceed latency.max_ms')
    expect(seen.at(-1)?.auth).toBeNull()
  })

  test('a service that does not answer is a 502 naming it', async () => {
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') })
    const url = closed.url.origin
    await closed.stop(true)
    const error = await createFaultClient({ hosts: hosts(url) })
      .get('gateway')
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ service: 'gateway', status: 502 })
    expect((error as Error).message).toContain(`gateway's admin API at ${url}/admin/faults did not answer`)
  })
})
