// Idempotency keys for cart writes, Stripe-style (and as the IETF httpapi draft
// "The Idempotency-Key HTTP Header Field" describes): a client sends `Idempotency-Key` with a
// write; the store keeps the first applied outcome (status and body) with the cart state, written
// atomically with the change, for 24 hours. A replay gets the same status and body back, marked
// `Idempotent-Replayed: true`, and writes nothing; the same key with a different request is a 422.
// Nothing is kept for a request that wrote nothing (schema or rule rejections, simulated
// failures), so retrying those re-evaluates them. No Elysia here.

import { MAX_IDEMPOTENCY_KEY_LENGTH } from '@shopstack/contracts/limits'
import { InvalidInputError } from '@shopstack/lib/validation'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
export const REPLAYED_HEADER = 'idempotent-replayed'

/** How long an outcome is kept: 24 hours, as Stripe does. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

/** 1 to 255 visible ASCII characters (no spaces or control characters). */
const KEY_FORMAT = new RegExp(`^[\\x21-\\x7e]{1,${MAX_IDEMPOTENCY_KEY_LENGTH}}$`)

/** What a write must know to be idempotent. */
export interface IdempotentWrite {
  key: string
  /** A digest of the request (method, path, body): the same key must come with the same request. */
  fingerprint: string
}

/** The outcome kept for a key. `body` is the exact JSON text the first answer carried. */
export interface StoredResponse {
  fingerprint: string
  status: number
  body: string
}

/** The key from a request, validated; undefined when the request carries none. */
export function idempotencyKeyOf(headers: Headers): string | undefined {
  const key = headers.get(IDEMPOTENCY_HEADER)
  if (key === null) return undefined
  if (!KEY_FORMAT.test(key)) {
    throw new InvalidInputError([
      {
        in: 'header',
        path: 'Idempotency-Key',
        message: `must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (no spaces)`,
      },
    ])
  }
  return key
}

/** sha-256 of the method, path and canonical body: what "the same request" means. */
export function fingerprintOf(method: string, path: string, body: unknown = null): string {
  return new Bun.CryptoHasher('sha256').update(`${method} ${path}\n${JSON.stringify(body)}`).digest('hex')
}

export class IdempotencyConflictError extends InvalidInputError {
  override name = 'IdempotencyConflictError'
  constructor(readonly key: string) {
    super([{ in: 'header', path: 'Idempotency-Key', message: 'was already used with a different request' }])
  }
}

/** The stored outcome for `write`, or a conflict when the key came with another request. */
export function replayOf(write: IdempotentWrite, stored: StoredResponse): StoredResponse {
  if (stored.fingerprint !== write.fingerprint) throw new IdempotencyConflictError(write.key)
  return stored
}
