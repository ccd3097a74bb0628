// Forwarding one client request to an upstream service and its answer back.
// Hop-by-hop headers (RFC 9110 §7.6.1: Connection, the fields it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-*) apply to one connection only and are dropped both ways.
// Status, body and content type pass through unchanged.
//
// The request's headers are copied once, in one pass that skips what must not pass. The upstream's
// Response is returned itself: what must not pass is deleted from its headers and the gateway's own
// (request id, trace response, security headers: what the handler's `set.headers` holds) are added
// to them, so no second Headers and Response are built per request and Elysia, given a Response and
// nothing left in `set.headers`, returns it as it is (bench/README.md, "Where the gateway's time
// goes"). Bun does not guard a fetched Response's headers as the Fetch standard's "immutable" does;
// if it ever did, every proxied request would fail with a TypeError, which app.test.ts's
// hop-by-hop test would show at once.

import type { Span } from '@shopstack/lib/telemetry'
import type { Upstream } from '@shopstack/lib/upstream'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])
// Recomputed by fetch for the new message, or owned by this gateway.
const REQUEST_OWNED = new Set([
  'host',
  'content-length',
  'traceparent',
  'tracestate',
  'x-request-id',
  'accept-encoding',
  // The public API takes no credentials; a client's are never passed on to a backend (whose
  // admin API a forwarded Authorization could open).
  'authorization',
  'cookie',
])
// Bun's fetch has already decoded the body, so the upstream's encoding and length no longer hold;
// the request id and trace response are the gateway's own.
const RESPONSE_OWNED = new Set([
  'content-encoding',
  'content-length',
  'x-request-id',
  'traceresponse',
  'date',
  'server',
])

/** The end-to-end headers of a message, minus those `owned` by this hop. */
function endToEnd(headers: Headers, owned: ReadonlySet<string>): Headers {
  const connection = headers.get('connection')
  const named = connection
    ? new Set(connection.split(',').map((token) => token.trim().toLowerCase()))
    : undefined
  const out = new Headers()
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name) || owned.has(name) || named?.has(name)) continue
    out.append(name, value)
  }
  return out
}

/** `response` with its end-to-end headers only, plus `ours` where it has none of that name. */
function passOn(response: Response, ours: Readonly<Record<string, string | number>> = {}): Response {
  const headers = response.headers
  const connection = headers.get('connection')
  if (connection) for (const name of connection.split(',')) headers.delete(name.trim())
  for (const name of HOP_BY_HOP) headers.delete(name)
  for (const name of RESPONSE_OWNED) headers.delete(name)
  for (const name in ours) {
    if (!headers.has(name)) headers.set(name, String(ours[name]))
  }
  return response
}

export interface ForwardOptions {
  /** Path and query on the upstream. */
  path: string
  /** Route template ("/catalog/:id"). */
  route: string
  /** The body to send (already validated); the client's stream is consumed by then. */
  body?: string
  requestId: string
  parent?: Span
  /** May the upstream call be retried (GET, or a write with an Idempotency-Key)? */
  idempotent?: boolean
  /**
   * The gateway's own response headers, added where the upstream's answer has none of that name
   * (Elysia's rule for a returned Response). The caller empties its `set.headers` afterwards.
   */
  responseHeaders?: Readonly<Record<string, string | number>>
}

export type Proxy = ReturnType<typeof createProxy>

export function createProxy(upstream: Upstream) {
  return {
    upstream,
    async forward(request: Request, options: ForwardOptions): Promise<Response> {
      const { path, route, body, requestId, parent, idempotent, responseHeaders } = options
      const headers = endToEnd(request.headers, REQUEST_OWNED)
      headers.set('x-request-id', requestId)
      const response = await upstream.request({
        method: request.method,
        path,
        route,
        headers,
        body,
        parent,
        idempotent,
      })
      return passOn(response, responseHeaders)
    },
  }
}
