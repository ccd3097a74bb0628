// Forwarding one client request to an upstream service and its answer back.
// Hop-by-hop headers (RFC 9110 §7.6.1: Connection, the fields it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-*) apply to one connection only and are dropped both ways.
// Status, body and content type pass through unchanged.

import type { Span } from '@shopstack/lib/tracing'
import type { Upstream } from '@shopstack/lib/upstream'

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]
// Recomputed by fetch for the new message, or owned by this gateway.
const REQUEST_OWNED = [
  'host',
  'content-length',
  'traceparent',
  'tracestate',
  'x-request-id',
  'accept-encoding',
]
// Bun's fetch has already decoded the body, so the upstream's encoding and length no longer hold;
// the request id and trace response are the gateway's own.
const RESPONSE_OWNED = [
  'content-encoding',
  'content-length',
  'x-request-id',
  'traceresponse',
  'date',
  'server',
]

function stripHopByHop(headers: Headers, owned: readonly string[]): Headers {
  const out = new Headers(headers)
  for (const token of headers.get('connection')?.split(',') ?? []) out.delete(token.trim())
  for (const name of HOP_BY_HOP) out.delete(name)
  for (const name of owned) out.delete(name)
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
}

export type Proxy = ReturnType<typeof createProxy>

export function createProxy(upstream: Upstream) {
  return {
    upstream,
    async forward(request: Request, options: ForwardOptions): Promise<Response> {
      const { path, route, body, requestId, parent, idempotent } = options
      const headers = stripHopByHop(request.headers, REQUEST_OWNED)
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
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers: stripHopByHop(response.headers, RESPONSE_OWNED),
      })
    },
  }
}
