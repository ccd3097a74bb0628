// Forwarding one client request to an upstream service and its answer back.
// Hop-by-hop headers (RFC 9110 §7.6.1: Connection, the fields it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-*) apply to one connection only and are dropped both ways.
// Status, body and content type pass through unchanged.
//
// Each direction's headers are copied once, in one pass that skips what must not pass, and the
// gateway's own response headers (request id, trace response, security headers: what the handler's
// `set.headers` holds) are added to that same copy — so Elysia, given a Response and nothing left
// in `set.headers`, returns it as it is instead of copying it again to merge them.

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
      const out = endToEnd(response.headers, RESPONSE_OWNED)
      for (const name in responseHeaders) {
        if (!out.has(name)) out.set(name, String(responseHeaders[name]))
      }
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers: out,
      })
    },
  }
}
