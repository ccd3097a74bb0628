// The OpenAPI documents tell the whole truth: a property-based test (fast-check) drives every
// operation of every service from its own document — values its schemas accept, and hostile ones
// they do not — and checks every answer against that document: the status is documented (exactly,
// or by a range such as 5XX), the content type is one documented for that status, and the body
// validates against the documented schema (ajv). A known path with a method it does not take must
// be a 405 problem whose Allow lists the document's methods for it.
// The three apps run in process, wired to each other through their injected fetch (no sockets);
// simulation and faults are off, except what a generated request turns on through the admin API
// (its PUT gets only bodies that must be refused, so no hang or error fault is switched on).

import { afterAll, describe, expect, test } from 'bun:test'
import Ajv from 'ajv'
import fc from 'fast-check'
import { createApp as createCartApp } from '../cart/src/app.ts'
import { createCartStore } from '../cart/src/carts/store.ts'
import { createApp as createCatalogApp } from '../catalog/src/app.ts'
import { createProductStore } from '../catalog/src/products/store.ts'
import { createApp as createGatewayApp } from '../gateway/src/app.ts'
import { createSimulation } from '../lib/src/simulation.ts'
import { createTestTelemetry } from '../lib/src/testing.ts'

type Schema = Record<string, unknown>
interface MediaType {
  schema?: Schema
}
interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: Schema }>
  requestBody?: { content: Record<string, MediaType> }
  responses: Record<string, { content?: Record<string, MediaType> }>
}
type Document = { paths: Record<string, Record<string, Operation>> }

const RUNS_PER_OPERATION = 40
const SEED = 16

/** A fast-check arbitrary of values the JSON schema accepts (the subset ShopStack's schemas use). */
function valid(schema: Schema): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map(valid))
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  switch (schema.type) {
    case 'string':
      return typeof schema.pattern === 'string'
        ? fc.stringMatching(new RegExp(schema.pattern))
        : fc.string({ minLength: Number(schema.minLength ?? 0), maxLength: Number(schema.maxLength ?? 20) })
    case 'integer':
    case 'number':
      return fc.integer({ min: Number(schema.minimum ?? -1000), max: Number(schema.maximum ?? 1000) })
    case 'boolean':
      return fc.boolean()
    case 'array':
      return fc.array(valid((schema.items as Schema) ?? {}), { maxLength: 3 })
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>
      const model = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, valid(value)]))
      return fc.record(model, { requiredKeys: (schema.required as string[] | undefined) ?? [] })
    }
    default:
      return fc.jsonValue()
  }
}

/** Text a client might send instead: odd numbers, traversal, encodings, control characters. */
const hostileText = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1e3',
    '0x1F',
    ' 1',
    '01',
    '..',
    '%2e%2e',
    '%2F',
    'a/b',
    '',
    '\u0000',
    'é',
    '9'.repeat(30),
  ),
  fc.string({ maxLength: 80, unit: 'binary' }),
)

/** A value for a parameter or body: mostly valid, often hostile. */
const either = (schema: Schema) =>
  fc.oneof({ weight: 3, arbitrary: valid(schema) }, { weight: 2, arbitrary: hostileText })

interface Generated {
  path: Record<string, string>
  query: Record<string, string>
  headers: Record<string, string>
  body?: { text: string; type: string }
}

function requests(operation: Operation, refusedBodiesOnly: boolean): fc.Arbitrary<Generated> {
  const params = operation.parameters ?? []
  const pick = (where: string) =>
    fc.record(
      Object.fromEntries(
        params.filter((p) => p.in === where).map((p) => [p.name, either(p.schema).map(String)]),
      ),
      {
        requiredKeys: params
          .filter((p) => p.in === where && (p.required || where === 'path'))
          .map((p) => p.name),
      },
    ) as fc.Arbitrary<Record<string, string>>
  const schema = operation.requestBody?.content['application/json']?.schema
  const body: fc.Arbitrary<Generated['body']> = schema
    ? fc.oneof(
        ...(refusedBodiesOnly
          ? []
          : [
              valid(schema).map((value) => ({ text: JSON.stringify(value), type: 'application/json' })),
              // Unknown fields, which the server ignores (and so must the schema).
              valid(schema).map((value) => ({
                text: JSON.stringify({ ...(value as object), note: 'extra' }),
                type: 'application/json',
              })),
            ]),
        fc.jsonValue().map((value) => ({ text: JSON.stringify(value), type: 'application/json' })),
        fc.constant({ text: '{"teleport": true}', type: 'application/json' }),
        fc.constant({ text: `${'['.repeat(40)}${']'.repeat(40)}`, type: 'application/json' }),
        fc.constant({ text: 'x'.repeat(20_000), type: 'application/json' }),
        hostileText.map((text) => ({ text, type: 'application/json' })),
        fc
          .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data')
          .map((type) => ({
            text: 'a=1',
            type,
          })),
      )
    : fc.constant(undefined)
  return fc.record({ path: pick('path'), query: pick('query'), headers: pick('header'), body })
}

/** Where a response's status sits in the document: its exact code, or its range (5XX). */
function documented(operation: Operation, status: number) {
  return operation.responses[String(status)] ?? operation.responses[`${String(status)[0]}XX`]
}

function services() {
  const catalog = createCatalogApp({
    store: createProductStore(),
    ...createTestTelemetry({ service: 'catalog' }),
  })
  const viaCatalog = (request: Request) =>
    catalog.handle(new Request(request.url.replace(/^http:\/\/catalog\.test/, 'http://localhost'), request))
  const cart = createCartApp({
    store: createCartStore(),
    catalogUrl: 'http://catalog.test',
    ...createTestTelemetry({ service: 'cart' }),
    simulation: createSimulation(),
    fetch: viaCatalog,
  })
  const gateway = createGatewayApp({
    catalogUrl: 'http://catalog.test',
    cartUrl: 'http://cart.test',
    ...createTestTelemetry({ service: 'gateway' }),
    fetch: (request) =>
      request.url.startsWith('http://cart.test')
        ? cart.handle(new Request(request.url.replace('http://cart.test', 'http://localhost'), request))
        : viaCatalog(request),
  })
  return { catalog, cart, gateway } as Record<string, { handle(request: Request): Promise<Response> }>
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false })
const figures = { requests: 0, statuses: new Map<number, number>() }

afterAll(() => {
  const statuses = Object.fromEntries([...figures.statuses].sort(([a], [b]) => a - b))
  console.log(`openapi property test: ${figures.requests} requests, statuses ${JSON.stringify(statuses)}`)
})

describe.each(['catalog', 'cart', 'gateway'])('the %s OpenAPI document', (name) => {
  const app = services()[name] as { handle(request: Request): Promise<Response> }

  test('every answer to requests generated from it is documented: status, content type and body', async () => {
    const document = (await (await app.handle(new Request('http://localhost/docs/json'))).json()) as Document
    const problems: string[] = []
    for (const [template, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const refusedBodiesOnly = template.startsWith('/admin')
        await fc.assert(
          fc.asyncProperty(requests(operation, refusedBodiesOnly), async (generated) => {
            const path = template.replace(/\{(\w+)\}/g, (_, key: string) =>
              encodeURIComponent(generated.path[key] ?? ''),
            )
            const query = new URLSearchParams(generated.query).toString()
            const headers: Record<string, string> = {}
            for (const [key, value] of Object.entries(generated.headers)) {
              // fetch refuses some bytes in a header; a client could not send those.
              if (/^[\t\x20-\x7e]*$/.test(value)) headers[key] = value
            }
            if (generated.body) headers['content-type'] = generated.body.type
            const response = await app.handle(
              new Request(`http://localhost${path}${query ? `?${query}` : ''}`, {
                method: method.toUpperCase(),
                headers,
                body: generated.body?.text,
              }),
            )
            figures.requests++
            figures.statuses.set(response.status, (figures.statuses.get(response.status) ?? 0) + 1)
            const where = `${method.toUpperCase()} ${path}${query ? `?${query}` : ''} -> ${response.status}`
            const entry = documented(operation, response.status)
            if (!entry) {
              problems.push(`${where}: status not documented`)
              return
            }
            const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? ''
            const media = entry.content?.[type]
            if (!media) {
              problems.push(
                `${where}: content type "${type}" not documented (${Object.keys(entry.content ?? {})})`,
              )
              return
            }
            const text = await response.text()
            if (media.schema && type.endsWith('json')) {
              const check = ajv.compile(media.schema)
              if (!check(JSON.parse(text))) {
                problems.push(`${where}: body ${text.slice(0, 200)} fails ${ajv.errorsText(check.errors)}`)
              }
            }
            // What the server took, the document's request schema must take too.
            const requestSchema = operation.requestBody?.content['application/json']?.schema
            if (response.ok && requestSchema && generated.body) {
              const accepts = ajv.compile(requestSchema)
              if (!accepts(JSON.parse(generated.body.text))) {
                problems.push(
                  `${where}: accepted ${generated.body.text.slice(0, 100)}, which its schema refuses`,
                )
              }
            }
            // A 500 is documented (5XX), but only a fault may cause one: here it would be a bug.
            if (response.status === 500) problems.push(`${where}: 500 ${text.slice(0, 200)}`)
          }),
          { numRuns: RUNS_PER_OPERATION, seed: SEED },
        )
      }
      // A method the path does not take: 405, and Allow names exactly the methods the document
      // gives the paths this one matches (/cart/add is also a /cart/{id}).
      const sample = template.replace(/\{id\}/g, 'abc').replace(/\{product_id\}/g, '1')
      const methods = [
        ...new Set(
          Object.entries(document.paths)
            .filter(([other]) => new RegExp(`^${other.replace(/\{\w+\}/g, '[^/]+')}$`).test(sample))
            .flatMap(([, ops]) => Object.keys(ops).map((m) => m.toUpperCase())),
        ),
      ]
      const other = ['PUT', 'PATCH', 'POST', 'DELETE', 'GET'].find((m) => !methods.includes(m)) as string
      const wrong = await app.handle(new Request(`http://localhost${sample}`, { method: other }))
      figures.requests++
      if (wrong.status !== 405) problems.push(`${other} ${sample} -> ${wrong.status}, not 405`)
      const allow = (wrong.headers.get('allow') ?? '').split(', ').filter((m) => m !== 'HEAD')
      if (allow.sort().join() !== methods.sort().join())
        problems.push(`${other} ${sample}: Allow ${allow} != ${methods}`)
      if (wrong.headers.get('content-type') !== 'application/problem+json')
        problems.push(`${other} ${sample}: not a problem`)
    }
    expect(problems).toEqual([])
  }, 120_000)

  test('accepts only JSON bodies, and documents the Idempotency-Key header on every cart write', async () => {
    const document = (await (await app.handle(new Request('http://localhost/docs/json'))).json()) as Document
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations)) {
        if (operation.requestBody)
          expect(Object.keys(operation.requestBody.content)).toEqual(['application/json'])
      }
    }
    for (const [template, method] of [
      ['/cart/add', 'post'],
      ['/cart/{id}', 'delete'],
      ['/cart/{id}/items/{product_id}', 'delete'],
    ] as const) {
      const operation = document.paths[template]?.[method]
      if (!operation) continue
      expect(operation.parameters?.map((p) => p.name)).toContain('Idempotency-Key')
      const ok = operation.responses['200'] as { headers?: Record<string, unknown> }
      expect(Object.keys(ok.headers ?? {})).toEqual(
        expect.arrayContaining(['idempotent-replayed', 'traceresponse']),
      )
      expect(Object.keys((operation.responses['503'] as { headers?: object }).headers ?? {})).toContain(
        'retry-after',
      )
    }
  })
})
