// Strict number schemas for the public API. Elysia's t.Integer and t.Numeric are lenient: a body's
// "2" becomes 2, and a path's "0x1F", " 1" or "1e3" become numbers. An id or a page number is
// plain decimal digits, and a JSON quantity is a JSON number, so these refuse anything else.

import { t } from 'elysia'
import { MAX_IDEMPOTENCY_KEY_LENGTH } from './limits.ts'

/** The OpenAPI description of the header every cart write accepts (the cart and the gateway). */
export const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header' as const,
  required: false,
  description:
    `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, scoped to the cart. The first outcome is kept for 24 h; a ` +
    'retry with the same key gets it back (with Idempotent-Replayed: true) and writes nothing; the ' +
    'same key with another request to the same cart is a 422.',
  schema: {
    type: 'string' as const,
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    pattern: '^[\\x21-\\x7e]+$',
  },
}

/** A whole JSON number (not a numeric string) within bounds. */
export function StrictInteger(options: { minimum: number; maximum: number; description?: string }) {
  return t.Number({ multipleOf: 1, ...options })
}

/**
 * A whole number from 1 to `maximum` written in plain decimal digits (a path or query value),
 * decoded to a number. The range is in the pattern itself, so every refusal is a 422 from schema
 * validation, and the OpenAPI document states it.
 */
export function DecimalParam(options: { maximum: number; description?: string }) {
  const { maximum, description = 'A positive whole number' } = options
  return t
    .Transform(
      t.String({
        pattern: rangePattern(maximum),
        description: `${description} (1 to ${maximum})`,
        // What a refusal says instead of the pattern, in lib/src/validation.ts's words for a
        // number range (describeNumber; contracts import nothing of ours, so it is written here).
        error: `must be a whole number from 1 to ${maximum}`,
      }),
    )
    .Decode((value) => Number(value))
    .Encode((value) => String(value))
}

/** A regular expression matching exactly the decimal numbers 1..max, without leading zeros. */
export function rangePattern(max: number): string {
  const digits = String(max)
  const alternatives: string[] = []
  // Every number with fewer digits than max.
  if (digits.length > 1) alternatives.push(`[1-9][0-9]{0,${digits.length - 2}}`)
  // Numbers with as many digits: equal to max up to position i, smaller at i, anything after.
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i])
    const lowest = i === 0 ? 1 : 0
    if (digit > lowest) {
      const rest = digits.length - i - 1
      alternatives.push(`${digits.slice(0, i)}[${lowest}-${digit - 1}]${rest ? `[0-9]{${rest}}` : ''}`)
    }
  }
  alternatives.push(digits)
  return `^(?:${alternatives.join('|')})$`
}
