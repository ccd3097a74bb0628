// Limits on what a request may send, checked before a handler runs: a request target that cannot
// be parsed (400), a body over the size limit (413, whatever its framing), a body that is not JSON
// (415), one that arrives too slowly (408) or nests too deep (400). Every body here is JSON.

import { DEFAULT_MAX_BODY_BYTES } from '@shopstack/contracts/limits'
import { Elysia } from 'elysia'
import { HttpError } from '../errors.ts'

export interface BodyLimitsOptions {
  service: string
  maxBodyBytes?: number
  /** Longest time a request body may take to arrive, from the handler's first read (408 past it). */
  bodyTimeoutMs?: number
  /** Deepest nesting of arrays and objects a JSON body may have. */
  maxJsonDepth?: number
}

const BODY_TEXT = Symbol('shopstack.body-text')
type TaggedRequest = Request & { [BODY_TEXT]?: string }

/** The JSON text of a request's body as it arrived (before Elysia drops unknown properties). */
export function bodyTextOf(request: Request): string | undefined {
  return (request as TaggedRequest)[BODY_TEXT]
}

const DECODER = new TextDecoder()
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i
/** scheme://authority/ — what Bun gives for a request whose target and Host it could parse. */
const ABSOLUTE_URL = /^https?:\/\/[^/?#]*\//

export function bodyLimits(options: BodyLimitsOptions) {
  const {
    service,
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    bodyTimeoutMs = 10_000,
    maxJsonDepth = 32,
  } = options
  return new Elysia({ name: '@shopstack/body-limits', seed: service })
    .onRequest(function refuseUnreadable({ request }) {
      // With an empty or malformed Host, Bun hands over the bare request target ("/catalog?/x")
      // as the URL; every path reading here and in Elysia assumes an absolute URL, so such a
      // request is refused rather than routed on one reading and forwarded on another.
      if (!ABSOLUTE_URL.test(request.url)) {
        throw new HttpError(400, 'The request target or its Host header cannot be parsed')
      }
      // Refuse what no route here accepts before the body is read. (An onParse hook would see
      // only routes with bodies, but Elysia wraps anything it throws into a 400 ParseError.)
      if (!BODY_METHODS.has(request.method)) return
      const length = Number(request.headers.get('content-length') ?? 0)
      if (length > maxBodyBytes) {
        throw new HttpError(413, `Request body is ${length} bytes; the limit is ${maxBodyBytes}`)
      }
      const type = request.headers.get('content-type') ?? ''
      const declared = request.headers.get('content-length')
      const hasBody = declared === null ? request.body !== null : length > 0
      if (hasBody && !JSON_TYPE.test(type)) {
        throw new HttpError(415, `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`)
      }
    })
    .onParse({ as: 'global' }, async function boundedJson({ request }) {
      // Read the body ourselves, so the limit holds whatever the framing (Content-Length, checked
      // above, or chunked, which declares none), with a deadline and a bound on nesting. What this
      // throws, Elysia wraps in a ParseError; the problem+json handler unwraps it.
      // DELETE and the like: no route here reads their body, so it is left unread.
      if (!BODY_METHODS.has(request.method) || request.body === null) return
      const text = await readBody(request, maxBodyBytes, bodyTimeoutMs)
      ;(request as TaggedRequest)[BODY_TEXT] = text
      if (text === '') return
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        throw new HttpError(400, 'The request body is not valid JSON')
      }
      if (tooDeep(value, maxJsonDepth)) {
        throw new HttpError(400, `The request body nests deeper than ${maxJsonDepth} levels`)
      }
      return value
    })
}

/**
 * A request body as text: at most `limit` bytes (413 past it), arrived within `timeoutMs` of the
 * first read (408 past it; the connection is closed, as the client is still sending).
 */
export async function readBody(request: Request, limit: number, timeoutMs: number): Promise<string> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(408, `The request body did not arrive within ${timeoutMs} ms`, undefined, {
            headers: { connection: 'close' },
          }),
        ),
      timeoutMs,
    )
  })
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline])
      if (done) break
      size += value.byteLength
      if (size > limit) {
        throw new HttpError(413, `Request body is over ${limit} bytes, the limit`, undefined, {
          headers: { connection: 'close' },
        })
      }
      chunks.push(value)
    }
  } catch (error) {
    reader.cancel().catch(() => {})
    throw error
  } finally {
    clearTimeout(timer)
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
  return DECODER.decode(bytes)
}

/** Does `value` nest arrays and objects deeper than `max`? Stops looking at max + 1. */
function tooDeep(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  for (const key in value) {
    if (tooDeep((value as Record<string, unknown>)[key], max - 1)) return true
  }
  return false
}
