// Refusals of bad input in words, in one shape everywhere: every 422 carries
// `errors: [{ in, path, message }]` — where the value was (query, path, body, header), the field
// (dotted for nested ones, `latency.min_ms`) and what it must be ("must be one of books, …", "must
// be a whole number from 1 to 100", "is required", "is not allowed") — and its `detail` is the
// first of them as a sentence. Schema internals (regular expressions, TypeBox's type names) never
// reach a client.
//
// Two sources feed it: Elysia's TypeBox validation errors (`fromValidationError`, used by
// plugins/problem-json.ts) and the checks TypeBox cannot express (faults, carts, idempotency
// keys), which build FieldErrors directly. Where a pattern cannot be put into words generically,
// the schema says it in words with Elysia's `error` option, and that sentence is used as it is.
// Nothing here imports Elysia, so the load generator can use it too.

import { HttpError } from './errors.ts'

/** Where a refused value was: RFC 9110 / OpenAPI `in`, with `body` for the JSON body. */
export type FieldLocation = 'query' | 'path' | 'body' | 'header'

export interface FieldError {
  in: FieldLocation
  /** The field, dotted for nested ones (`latency.min_ms`), `items[0]` for list items; '' for the whole value. */
  path: string
  /** What it must be, in words: "must be …", "is required", "is not allowed". */
  message: string
}

/** Errors listed in one refusal at most: a 10,000-field body does not make a 10,000-line answer. */
export const MAX_FIELD_ERRORS = 20

/** `category must be one of …`: the first error as a sentence, and how many more there are. */
export function detailOf(errors: readonly FieldError[]): string {
  const first = errors[0]
  if (!first) return 'The request is not valid'
  const subject = first.path || (first.in === 'body' ? 'The body' : `The ${first.in}`)
  const more = errors.length - 1
  return `${subject} ${first.message}${more ? ` (and ${more} more: see errors)` : ''}`
}

/** A 422 listing what was wrong, field by field. */
export class InvalidInputError extends HttpError {
  override name = 'InvalidInputError'
  constructor(
    readonly errors: readonly FieldError[],
    extensions: Record<string, unknown> = {},
  ) {
    super(422, detailOf(errors), { ...extensions, errors })
  }
}

/** The shape a TypeBox schema has at run time, as far as describing it goes. */
export interface SchemaLike {
  type?: string | string[]
  const?: unknown
  enum?: readonly unknown[]
  anyOf?: readonly SchemaLike[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  multipleOf?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  /** Elysia's custom error: here, always a sentence in words ("must be 1–64 letters, …"). */
  error?: unknown
}

/** One TypeBox ValueError (what Elysia's `ValidationError.all` lists). */
export interface TypeBoxError {
  type?: number
  path?: string
  value?: unknown
  schema?: SchemaLike
}

// TypeBox's ValueErrorType codes this module tells apart (@sinclair/typebox/errors; stable since 0.32).
const ADDITIONAL_PROPERTIES = 42
const REQUIRED_PROPERTY = 45

/** Elysia's name for where a value was, as a FieldLocation. */
const LOCATIONS: Record<string, FieldLocation> = {
  query: 'query',
  params: 'path',
  body: 'body',
  headers: 'header',
  header: 'header',
}

/**
 * Elysia's VALIDATION error (`{ type: 'query' | 'params' | 'body' | 'headers', all: ValueError[] }`)
 * as FieldErrors: one per field, the first TypeBox reports for it.
 */
export function fromValidationError(error: unknown): FieldError[] {
  const e = error as { type?: string; all?: unknown }
  let all: unknown
  try {
    all = e.all
  } catch {
    all = undefined
  }
  const location = LOCATIONS[e.type ?? ''] ?? 'body'
  return fromTypeBoxErrors(location, Array.isArray(all) ? (all as TypeBoxError[]) : [])
}

export function fromTypeBoxErrors(location: FieldLocation, errors: readonly TypeBoxError[]): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  for (const item of errors) {
    const path = dottedPath(item.path ?? '')
    if (seen.has(path)) continue
    seen.add(path)
    out.push({ in: location, path, message: messageOf(item) })
    if (out.length >= MAX_FIELD_ERRORS) break
  }
  if (out.length === 0) out.push({ in: location, path: '', message: 'is not valid' })
  return out
}

/** What one TypeBox error means for a client, in words. */
export function messageOf(error: TypeBoxError): string {
  if (error.type === ADDITIONAL_PROPERTIES) return 'is not allowed'
  if (error.type === REQUIRED_PROPERTY || error.value === undefined) return 'is required'
  const schema = error.schema ?? {}
  if (typeof schema.error === 'string') return schema.error
  const expected = describeSchema(schema)
  if (!expected) return 'is not valid'
  const given = kindOf(error.value)
  const wanted = kindOfSchema(schema)
  return wanted && given !== wanted ? `must be ${expected}, not ${given}` : `must be ${expected}`
}

/** "a whole number from 1 to 100", "one of books, clothing", "true or false"; '' when unknown. */
export function describeSchema(schema: SchemaLike): string {
  if (typeof schema.error === 'string') return schema.error.replace(/^must be /, '')
  if ('const' in schema) return String(schema.const)
  if (schema.enum) return `one of ${schema.enum.map(String).join(', ')}`
  if (schema.anyOf) {
    if (schema.anyOf.every((s) => 'const' in s))
      return `one of ${schema.anyOf.map((s) => String(s.const)).join(', ')}`
    const parts = schema.anyOf.map(describeSchema).filter(Boolean)
    return parts.join(' or ')
  }
  switch (schema.type) {
    case 'integer':
    case 'number':
      return describeNumber({
        minimum: schema.minimum ?? schema.exclusiveMinimum,
        maximum: schema.maximum ?? schema.exclusiveMaximum,
        integer: schema.type === 'integer' || schema.multipleOf === 1,
      })
    case 'string':
      // A pattern without words of its own cannot be described here; every schema of ours has them.
      if (schema.pattern) return 'text in the documented format'
      return describeString(schema.minLength, schema.maxLength)
    case 'boolean':
      return 'true or false'
    case 'object':
      return 'an object'
    case 'array':
      return 'a list'
    case 'null':
      return 'null'
    default:
      return ''
  }
}

/** "a whole number from 0 to 60000", "a number of at least 0". */
export function describeNumber(rule: { minimum?: number; maximum?: number; integer?: boolean }): string {
  const noun = rule.integer ? 'a whole number' : 'a number'
  const { minimum, maximum } = rule
  if (minimum !== undefined && maximum !== undefined) return `${noun} from ${minimum} to ${maximum}`
  if (minimum !== undefined) return `${noun} of at least ${minimum}`
  if (maximum !== undefined) return `${noun} of at most ${maximum}`
  return noun
}

function describeString(minLength?: number, maxLength?: number): string {
  if (minLength !== undefined && minLength === maxLength) return `text of exactly ${minLength} characters`
  if (minLength !== undefined && maxLength !== undefined)
    return `text of ${minLength} to ${maxLength} characters`
  if (minLength !== undefined) return `text of at least ${minLength} characters`
  if (maxLength !== undefined) return `text of at most ${maxLength} characters`
  return 'text'
}

/** The JSON kind of a value, in words: "a string", "a number", "null". */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  switch (typeof value) {
    case 'string':
      return 'a string'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'object':
      return 'an object'
    default:
      return typeof value
  }
}

/** The JSON kind a schema asks for, in kindOf's words; undefined for unions and the unknown. */
function kindOfSchema(schema: SchemaLike): string | undefined {
  if (schema.anyOf || 'const' in schema || schema.enum) return undefined
  switch (schema.type) {
    case 'integer':
    case 'number':
      return 'a number'
    case 'string':
      return 'a string'
    case 'boolean':
      return 'true or false'
    case 'object':
      return 'an object'
    case 'array':
      return 'a list'
    default:
      return undefined
  }
}

/** JSON pointer (`/latency/min_ms`, `/items/0`) to a dotted path (`latency.min_ms`, `items[0]`). */
export function dottedPath(pointer: string): string {
  if (!pointer || pointer === '/') return ''
  let out = ''
  for (const raw of pointer.replace(/^\//, '').split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    out += /^\d+$/.test(key) ? `[${key}]` : out ? `.${key}` : key
  }
  return out
}
