// The gateway's edge: explicit CORS and standard security headers on every response.
// CORS (https://fetch.spec.whatwg.org/#http-cors-protocol): only the listed origins get
// Access-Control-Allow-Origin; a preflight (OPTIONS with Access-Control-Request-Method) is
// answered 204 here with the methods and headers the public API accepts, for any path.

import { Elysia } from 'elysia'

export interface EdgeOptions {
  /** Allowed origins; ['*'] allows any origin (the demo default). */
  origins?: readonly string[]
  methods?: readonly string[]
  /** Request headers a browser may send cross-origin. */
  allowHeaders?: readonly string[]
  /** Response headers a browser script may read. */
  exposeHeaders?: readonly string[]
  /** Paths that serve HTML (the docs page) and so get no `default-src 'none'` policy. */
  htmlPrefixes?: readonly string[]
  /**
   * Paths never shared with another origin, whatever `origins` says: the admin API. Without
   * CORS headers a browser neither lets another site's script read them nor sends it a write
   * (PUT and DELETE need a preflight, which gets no grant), so a web page cannot steer the faults
   * of a shop running on the visitor's laptop.
   */
  privatePrefixes?: readonly string[]
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
}
// An API answers JSON: nothing in it should ever load or run anything.
const API_CSP = "default-src 'none'; frame-ancestors 'none'"

export function createEdge(options: EdgeOptions = {}) {
  const {
    origins = ['*'],
    methods = ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders = ['content-type', 'idempotency-key', 'x-request-id', 'traceparent', 'tracestate'],
    exposeHeaders = ['x-request-id', 'traceresponse', 'idempotent-replayed', 'retry-after'],
    htmlPrefixes = ['/docs'],
    privatePrefixes = ['/admin'],
  } = options
  const anyOrigin = origins.includes('*')
  const allowed = new Set(origins)

  return new Elysia({ name: '@shopstack/edge' }).onRequest(function edgeHeaders({ request, set }) {
    Object.assign(set.headers, SECURITY_HEADERS)
    const path = request.url.slice(request.url.indexOf('/', 8))
    if (!htmlPrefixes.some((prefix) => path.startsWith(prefix))) {
      set.headers['content-security-policy'] = API_CSP
    }
    const origin = request.headers.get('origin')
    if (!origin || !(anyOrigin || allowed.has(origin))) return
    if (privatePrefixes.some((prefix) => path.startsWith(prefix))) return
    set.headers['access-control-allow-origin'] = anyOrigin ? '*' : origin
    if (!anyOrigin) set.headers.vary = 'Origin'
    set.headers['access-control-expose-headers'] = exposeHeaders.join(', ')
    if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
      set.headers['access-control-allow-methods'] = methods.join(', ')
      set.headers['access-control-allow-headers'] = allowHeaders.join(', ')
      set.headers['access-control-max-age'] = '600'
      set.status = 204
      return new Response(null, { status: 204 })
    }
  })
}
