// The OpenAPI document and docs page every service serves, as the original FastAPI services did
// with /docs: the page at /docs, the document at /docs/json, built from the routes' `t` schemas by
// @elysiajs/openapi's own toOpenAPISchema. The page is Swagger UI, as FastAPI's /docs is, served
// from the pinned swagger-ui-dist package (no CDN), so it works offline and cannot change under us.
//
// Why not its `openapi()` plugin: that entry point bundles the TypeScript-types generator too, and
// importing it cost each service ~20 ms of start-up (measured: 47 ms for the package after 28 ms
// for Elysia, against 3 ms for the two parts used here). The plugin's defaults are kept: OpenAPI
// 3.1.2, and the docs routes themselves left out of the document. Even those parts are loaded on
// the first request for the document (and the page read on the first request for it): most runs
// never ask, and a service that does not idles 0.7-0.8 MB lighter (median of 15 starts each).
//
// What toOpenAPISchema cannot know is completed here, so the document tells the whole truth: the
// problem+json answers every route can give (400 for a target or body that cannot be read, 422
// for a value its schemas refuse, 408/413/415 for bodies, any 5xx — a fault can inject one) and
// those a route declares in `detail['x-problems']`; the headers every answer carries
// (traceresponse, x-request-id), Retry-After on 502/503, Idempotent-Replayed on the writes that
// take an Idempotency-Key; request bodies as the one content type accepted (JSON), with schemas
// that accept unknown fields as the server does unless the route says it refuses them
// (`detail['x-unknown-fields'] = 'refused'`, the admin API).

import { readFileSync } from 'node:fs'
import { Elysia } from 'elysia'
import { NotFoundError } from './errors.ts'

const OPENAPI_VERSION = '3.1.2'

/** RFC 9457 problem details, as errors.ts renders them. */
export const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'Every refused value (422)',
      items: {
        type: 'object',
        required: ['in', 'path', 'message'],
        properties: {
          in: { enum: ['query', 'path', 'body', 'header'] },
          path: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
} as const

const header = (description: string, schema: object = { type: 'string' }) => ({ description, schema })
/** On every answer (plugins/request-id.ts, plugins/server-span.ts). */
const COMMON_HEADERS = {
  traceresponse: header('00-<trace id>-<span id>-<flags>: the trace this request belongs to'),
  'x-request-id': header('The request id (the one sent, when valid, or a new one)'),
}
const RETRY_AFTER = header('Seconds to wait before retrying', { type: 'integer', minimum: 0 })

/** Statuses every operation can answer with a problem, and when. */
const EVERY_ROUTE: Record<string, string> = {
  '400': 'The request target or its Host header cannot be read',
  '5XX': 'The server failed, or an injected fault answered (the detail never holds internals)',
}
const WITH_INPUT: Record<string, string> = { '422': 'A value does not match its schema; `errors` lists each' }
const WITH_BODY: Record<string, string> = {
  '400': 'The body is not valid JSON, or nests deeper than 32 levels',
  '408': 'The body did not arrive within BODY_TIMEOUT_MS',
  '413': 'The body is larger than MAX_BODY_BYTES',
  '415': 'The body is not application/json',
}

/** Route detail: problem answers this route gives beyond those every route can (status → when). */
export function problems(statuses: Record<number, string>): { 'x-problems': Record<number, string> } {
  return { 'x-problems': statuses }
}

interface Operation {
  parameters?: Array<{ in: string; name: string }>
  requestBody?: { content?: Record<string, { schema?: unknown }>; required?: boolean }
  responses?: Record<string, { description?: string; headers?: object; content?: object }>
  'x-problems'?: Record<string, string>
  'x-unknown-fields'?: string
}

type Route = {
  method: string
  path: string
  hooks?: { body?: unknown; detail?: { parameters?: Array<{ in: string; name: string }> } }
}

/**
 * Every route of the app this plugin is mounted in (what toOpenAPISchema reads too); the
 * instance's own `routes` are only the docs routes. Elysia marks the method protected.
 */
export function globalRoutesOf(app: object): Route[] {
  return (app as { getGlobalRoutes(): Route[] }).getGlobalRoutes()
}

/** The same JSON schema, accepting properties it does not list (Elysia drops them, as FastAPI did). */
function acceptingUnknown(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(acceptingUnknown)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'additionalProperties' && value === false) continue
    out[key] = acceptingUnknown(value)
  }
  return out
}

/** Fill in what toOpenAPISchema leaves out (see the header comment); `routes` are the app's. */
export function completeOperations(
  paths: Record<string, Record<string, Operation>>,
  routes: readonly Route[],
): void {
  for (const route of routes) {
    const operation = paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()]
    if (!operation) continue
    const declared = operation['x-problems'] ?? {}
    const refusesUnknown = operation['x-unknown-fields'] === 'refused'
    delete operation['x-problems']
    delete operation['x-unknown-fields']
    // toOpenAPISchema replaces the parameters a route declares (the Idempotency-Key header) with
    // its path and query ones; both belong in the document.
    for (const declaredParameter of route.hooks?.detail?.parameters ?? []) {
      operation.parameters ??= []
      const parameters = operation.parameters
      if (!parameters.some((p) => p.name === declaredParameter.name && p.in === declaredParameter.in)) {
        parameters.push(declaredParameter)
      }
    }
    const body = route.hooks?.body
    if (body) {
      // A TypeBox schema is JSON Schema; the copy drops its symbols. JSON is the one type taken.
      const schema = JSON.parse(JSON.stringify(body)) as unknown
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: refusesUnknown ? schema : acceptingUnknown(schema) } },
      }
    }
    operation.responses ??= {}
    const responses = operation.responses
    const replayable = operation.parameters?.some((p) => p.in === 'header' && p.name === 'Idempotency-Key')
    for (const [status, response] of Object.entries(responses)) {
      const extra =
        replayable && status.startsWith('2')
          ? {
              'idempotent-replayed': header(
                '"true" when this answer is a replay of the first one for this Idempotency-Key',
                { const: 'true' },
              ),
            }
          : {}
      response.headers = { ...COMMON_HEADERS, ...extra, ...response.headers }
    }
    const statuses: Record<string, string> = {
      ...EVERY_ROUTE,
      ...(operation.parameters?.length || body ? WITH_INPUT : {}),
      ...(body ? WITH_BODY : {}),
      ...declared,
    }
    for (const [status, description] of Object.entries(statuses)) {
      if (responses[status]) continue
      const retry =
        status === '502' || status === '503' || status === '5XX' ? { 'retry-after': RETRY_AFTER } : {}
      responses[status] = {
        description,
        headers: { ...COMMON_HEADERS, ...retry },
        content: { 'application/problem+json': { schema: PROBLEM_SCHEMA } },
      }
    }
  }
}
let page: string | undefined
/** The docs page, read when first asked. */
function docsPage(): string {
  page ??= readFileSync(new URL('./docs-page.html', import.meta.url), 'utf8')
  return page
}
/** The viewer's two files, from the installed package (read when asked, then cached by the browser). */
const VIEWER = {
  'swagger-ui.css': { file: 'swagger-ui-dist/swagger-ui.css', type: 'text/css' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-dist/swagger-ui-bundle.js', type: 'text/javascript' },
} as const

export function createDocs(options: { service: string; version: string; description: string }) {
  const { service, version, description } = options
  const info = { title: `ShopStack ${service}`, version, description }
  const exclude = { paths: ['/docs', '/docs/json', '/docs/:file'] }
  // Rebuilt only when routes were added since (they all are before the first request).
  let cached: { routes: number; document: object } | undefined

  const docs = new Elysia({ name: '@shopstack/docs', seed: service })
  return docs
    .get(
      '/docs',
      () => new Response(docsPage(), { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      {
        detail: { hide: true },
      },
    )
    .get(
      '/docs/:file',
      ({ params }) => {
        // Own names only: `toString` or `__proto__` must be a 404, not Object's members.
        const file = Object.hasOwn(VIEWER, params.file)
          ? VIEWER[params.file as keyof typeof VIEWER]
          : undefined
        if (!file) throw new NotFoundError(`No docs file ${params.file}`)
        return new Response(Bun.file(Bun.resolveSync(file.file, import.meta.dir)), {
          headers: { 'content-type': file.type, 'cache-control': 'public, max-age=86400' },
        })
      },
      { detail: { hide: true } },
    )
    .get(
      '/docs/json',
      async function openApiDocument() {
        const routes = globalRoutesOf(docs).length
        if (cached?.routes !== routes) {
          const { toOpenAPISchema } = await import('@elysiajs/openapi/openapi')
          const { paths, components } = toOpenAPISchema(docs, exclude, undefined, undefined, OPENAPI_VERSION)
          completeOperations(paths as Record<string, Record<string, Operation>>, globalRoutesOf(docs))
          cached = { routes, document: { openapi: OPENAPI_VERSION, info, paths, components } }
        }
        return cached.document
      },
      { detail: { hide: true } },
    )
}
