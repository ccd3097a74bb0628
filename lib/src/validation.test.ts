import { describe, expect, test } from 'bun:test'
import { AddToCart, CartLineParams, CartParams } from '@shopstack/contracts/carts'
import { FaultSettings } from '@shopstack/contracts/faults'
import { ProductListQuery, ProductParams } from '@shopstack/contracts/products'
import { describeSchema, detailOf, dottedPath, messageOf, type SchemaLike } from './validation.ts'

describe('validation errors in words', () => {
  test('schemas are described as a person would say them', () => {
    expect(describeSchema({ type: 'number', minimum: 1, maximum: 100, multipleOf: 1 })).toBe(
      'a whole number from 1 to 100',
    )
    expect(describeSchema({ type: 'integer', minimum: 0 })).toBe('a whole number of at least 0')
    expect(describeSchema({ type: 'number', maximum: 1 })).toBe('a number of at most 1')
    expect(describeSchema({ anyOf: [{ const: 'a' }, { const: 'b' }] })).toBe('one of a, b')
    expect(describeSchema({ type: 'string', minLength: 3, maxLength: 3 })).toBe(
      'text of exactly 3 characters',
    )
    expect(describeSchema({ type: 'string', minLength: 1, maxLength: 64 })).toBe('text of 1 to 64 characters')
    expect(describeSchema({ type: 'string', pattern: '^[a-z]+$' })).toBe('text in the documented format')
    expect(describeSchema({ type: 'boolean' })).toBe('true or false')
  })

  test('a message names a missing field, an unknown one and a wrong type', () => {
    expect(messageOf({ type: 45, path: '/quantity', value: undefined })).toBe('is required')
    expect(messageOf({ type: 42, path: '/extra', value: 1 })).toBe('is not allowed')
    expect(messageOf({ type: 41, value: 'two', schema: { type: 'number' } })).toBe(
      'must be a number, not a string',
    )
    expect(
      messageOf({ type: 53, value: 'a b', schema: { type: 'string', pattern: '^x$', error: 'must be x' } }),
    ).toBe('must be x')
  })

  test('paths are dotted, and the detail is the first error as a sentence', () => {
    expect(dottedPath('/latency/min_ms')).toBe('latency.min_ms')
    expect(dottedPath('/steps/0/faults')).toBe('steps[0].faults')
    expect(dottedPath('/a~1b')).toBe('a/b')
    expect(dottedPath('')).toBe('')
    expect(detailOf([{ in: 'body', path: '', message: 'must be an object' }])).toBe(
      'The body must be an object',
    )
    expect(
      detailOf([
        { in: 'query', path: 'page', message: 'is required' },
        { in: 'query', path: 'page_size', message: 'is required' },
      ]),
    ).toBe('page is required (and 1 more: see errors)')
  })

  test('every pattern in the public and fault schemas says in words what it accepts', () => {
    const missing: string[] = []
    const walk = (schema: SchemaLike & { properties?: Record<string, SchemaLike> }, at: string) => {
      if (schema.pattern && typeof schema.error !== 'string') missing.push(at)
      for (const [key, child] of Object.entries(schema.properties ?? {}))
        walk(child, at ? `${at}.${key}` : key)
      for (const child of schema.anyOf ?? []) walk(child, at)
    }
    const schemas = { AddToCart, CartParams, CartLineParams, ProductParams, ProductListQuery, FaultSettings }
    for (const [name, schema] of Object.entries(schemas)) walk(schema as SchemaLike, name)
    expect(missing).toEqual([])
  })
})
