// The bad-input battery: thousands of generated malformed requests against every public route and
// method, through the gateway to the real services. With faults off every answer must be a 4xx
// problem+json — never a 5xx, never a hang — the processes stay up with bounded memory, and no
// stored cart changes because of a rejected request. A few refusals are then read word for word:
// every bad field answers 422 with `errors: [{ in, path, message }]` and the first as `detail`.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { mulberry32 } from '../lib/src/random.ts'
import { type Stack, startStack } from './harness.ts'

let stack: Stack

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

const BAD_IDS = [
  '0',
  '-1',
  '1.5',
  '1e3',
  'abc',
  '%00',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2f..%2f',
  '9'.repeat(30),
  'NaN',
  'Infinity',
  '0x1F',
  '%201',
  '1%20',
  '+1',
  '01',
  '%F0%9F%98%80',
  'null',
  'true',
  '[1]',
  '{}',
  '%27%20OR%201%3D1--',
]
const BAD_CART_IDS = [
  '',
  'a b',
  'a%20b',
  'x'.repeat(65),
  '%00abc',
  '..%2f..',
  '%F0%9F%9B%92',
  'cart%3Bdrop',
  '<script>',
  "o'brien",
  '%E2%80%AE',
  'a%2Fb',
  '%ZZ',
]
/** Values each body field must refuse (a valid but unknown product id is a 404, also a refusal). */
const BAD_VALUES: Record<'cart_id' | 'product_id' | 'quantity', unknown[]> = {
  cart_id: [null, true, 1, '', 'a b', 'x'.repeat(65), '\u0000', '../../etc/passwd', '𝕏', [], {}, { $ne: '' }],
  product_id: [
    null,
    true,
    '1',
    '0x1F',
    -1,
    0,
    1.5,
    2 ** 31,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    [],
    [1],
    {},
    '',
    5000,
  ],
  quantity: [
    null,
    false,
    '1',
    '2',
    -1,
    0,
    0.5,
    1.5,
    100,
    1000,
    2 ** 53,
    -(2 ** 53),
    [],
    {},
    'x'.repeat(10_000),
  ],
}
const QUERIES = [
  'page=0',
  'page=-1',
  'page=abc',
  'page=1.5',
  'page=1e9',
  'page_size=0',
  'page_size=101',
  'page_size=-5',
  'page_size=abc',
  'category=weapons',
  'category=',
  'category=%00',
  'category=BOOKS',
  `category=${'x'.repeat(3000)}`,
  'page=%00',
  'page_size=1e2',
  'page=999999999999',
]

interface Case {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string
}

function generateCases(count: number, random: () => number): Case[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const json = { 'content-type': 'application/json' }
  const valid = { cart_id: 'battery', product_id: 1, quantity: 1 }
  const generators: Array<() => Case> = [
    () => ({ method: 'GET', path: `/catalog/${pick(BAD_IDS)}` }),
    () => ({ method: 'GET', path: `/catalog?${pick(QUERIES)}` }),
    () => ({ method: 'GET', path: `/catalog?${pick(QUERIES)}&${pick(QUERIES)}` }),
    () => ({ method: 'GET', path: `/cart/${pick(BAD_CART_IDS)}` }),
    () => ({ method: 'DELETE', path: `/cart/${pick(BAD_CART_IDS)}` }),
    () => ({ method: 'DELETE', path: `/cart/battery/items/${pick(BAD_IDS)}` }),
    () => ({ method: 'DELETE', path: `/cart/${pick(BAD_CART_IDS)}/items/1` }),
    // A field with a wrong value, or missing.
    () => {
      const field = pick(['cart_id', 'product_id', 'quantity'] as const)
      const body: Record<string, unknown> = { ...valid, cart_id: 'battery-target' }
      if (random() < 0.2) delete body[field]
      else body[field] = pick(BAD_VALUES[field])
      return { method: 'POST', path: '/cart/add', headers: json, body: JSON.stringify(body) }
    },
    // Not an object at all.
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: json,
      body: JSON.stringify(pick([null, 1, 'cart', [valid], true, []])),
    }),
    // Broken JSON.
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: json,
      body: pick([
        '{',
        '{"cart_id":',
        '{cart_id: "a"}',
        "{'a':1}",
        '{"a":1}}',
        'undefined',
        '\u0000',
        '[',
        '{"a":"\\x"}',
      ]),
    }),
    // Deeply nested JSON.
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: json,
      body: `${'{"a":'.repeat(500 + Math.floor(random() * 3000))}1${'}'.repeat(1)}`,
    }),
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: json,
      body: JSON.stringify({ ...valid, cart_id: 'battery-target', quantity: { nested: [[[[[[1]]]]]] } }),
    }),
    // Wrong or missing content types.
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: {
        'content-type': pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'json',
        ]),
      },
      body: pick(['cart_id=a&product_id=1&quantity=1', JSON.stringify(valid), '<cart/>']),
    }),
    // Oversized bodies.
    () => ({
      method: 'POST',
      path: '/cart/add',
      headers: json,
      body: JSON.stringify({
        ...valid,
        cart_id: 'battery-target',
        pad: 'x'.repeat(17_000 + Math.floor(random() * 50_000)),
      }),
    }),
    // Methods and paths that do not exist.
    () => ({
      method: pick(['PUT', 'PATCH', 'POST']),
      path: pick(['/catalog', '/catalog/1', '/cart/battery', '/']),
    }),
    () => ({
      method: 'GET',
      path: pick([
        '/cart',
        '/admin',
        '/catalog/1/../../cart',
        '/%2e%2e/etc/passwd',
        '/catalog//1',
        '/.env',
        '/metrics/../admin',
      ]),
    }),
    // Header abuse on otherwise valid routes with bad ids.
    () => ({
      method: 'GET',
      path: `/catalog/${pick(BAD_IDS)}`,
      headers: {
        'x-request-id': pick(['x'.repeat(5000), 'bad id with spaces', '../../', '']),
        traceparent: pick([
          'garbage',
          '00-00000000000000000000000000000000-0000000000000000-01',
          '00-xyz',
          'ff-'.repeat(100),
        ]),
        accept: pick(['*/*', 'text/html', 'application/xml', 'x'.repeat(4000)]),
      },
    }),
  ]
  return Array.from({ length: count }, () => pick(generators)())
}

async function rssKb(pid: number): Promise<number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

describe('the bad-input battery', () => {
  test('2,400 malformed requests: each a 4xx problem+json, nothing stored, processes up, memory bounded', async () => {
    const gateway = stack.gateway.url
    // A cart whose state must not change.
    const seed = await fetch(`${gateway}/cart/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cart_id: 'battery-target', product_id: 5, quantity: 3 }),
    })
    expect(seed.status).toBe(200)
    const before = await (await fetch(`${gateway}/cart/battery-target`)).text()
    const rssBefore = await Promise.all(
      [stack.gateway, stack.catalog, stack.cart].map((s) => rssKb(s.process.pid)),
    )

    const cases = generateCases(2400, mulberry32(20261126))
    const failures: string[] = []
    const statuses = new Map<number, number>()
    const concurrency = 16
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < cases.length) {
          const item = cases[next++] as Case
          let status = 0
          try {
            const response = await fetch(`${gateway}${item.path}`, {
              method: item.method,
              headers: item.headers,
              body: item.body,
              signal: AbortSignal.timeout(5000),
            })
            status = response.status
            const type = response.headers.get('content-type') ?? ''
            const text = await response.text()
            if (status < 400 || status >= 500)
              failures.push(`${item.method} ${item.path.slice(0, 80)} -> ${status}`)
            else if (!type.startsWith('application/problem+json') && status !== 431)
              failures.push(`${item.method} ${item.path.slice(0, 80)} -> ${status} ${type}`)
            else if (/\bat \S+\.ts:\d+|node_modules|SQLITE|\/work\//.test(text))
              failures.push(`${item.method} ${item.path.slice(0, 80)} leaks internals: ${text.slice(0, 120)}`)
          } catch (error) {
            failures.push(`${item.method} ${item.path.slice(0, 80)} -> ${String(error).slice(0, 100)}`)
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
        }
      }),
    )
    expect(failures.slice(0, 20)).toEqual([])
    // The battery exercised the whole range of refusals.
    for (const status of [400, 404, 413, 415, 422]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0)

    const after = await (await fetch(`${gateway}/cart/battery-target`)).text()
    expect(after).toBe(before)
    expect(
      ((await (await fetch(`${gateway}/cart/battery`)).json()) as { item_count: number }).item_count,
    ).toBe(0)

    for (const service of [stack.gateway, stack.catalog, stack.cart]) {
      expect(service.process.exitCode).toBeNull()
      expect((await fetch(`${service.url}/livez`)).status).toBe(200)
    }
    const rssAfter = await Promise.all(
      [stack.gateway, stack.catalog, stack.cart].map((s) => rssKb(s.process.pid)),
    )
    rssAfter.forEach((kb, i) => {
      expect(kb - (rssBefore[i] ?? 0)).toBeLessThan(100 * 1024)
    })
  }, 120_000)
})

/** A refusal through the gateway: its status, content type and problem+json body. */
async function refusal(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  }
}

/** The 422 every service answers for a bad field: the fields in `errors`, the first as `detail`. */
function invalid(detail: string, errors: Array<{ in: string; path: string; message: string }>) {
  return {
    status: 422,
    type: 'application/problem+json',
    body: { type: 'about:blank', title: 'Unprocessable Content', status: 422, detail, errors },
  }
}

describe('bad input is refused in one shape: 422 problem+json naming each field in words', () => {
  test('an unknown category names the allowed ones', async () => {
    const allowed =
      'must be one of books, clothing, electronics, garden, grocery, home, kitchen, sports, toys, beauty'
    expect(await refusal('GET', '/catalog?category=cars')).toEqual(
      invalid(`category ${allowed}`, [{ in: 'query', path: 'category', message: allowed }]),
    )
  })

  test('a page size out of range says the range', async () => {
    const range = 'must be a whole number from 1 to 100'
    expect(await refusal('GET', '/catalog?page_size=101')).toEqual(
      invalid(`page_size ${range}`, [{ in: 'query', path: 'page_size', message: range }]),
    )
  })

  test('a product id that is not a number is refused at its path', async () => {
    const range = 'must be a whole number from 1 to 2147483647'
    expect(await refusal('GET', '/catalog/abc')).toEqual(
      invalid(`id ${range}`, [{ in: 'path', path: 'id', message: range }]),
    )
  })

  test('a bad cart line lists every bad field; a missing one is required', async () => {
    expect(await refusal('POST', '/cart/add', { cart_id: 'a b', product_id: 'x', quantity: 0 })).toEqual(
      invalid('cart_id must be 1–64 letters, digits, - or _ (and 2 more: see errors)', [
        { in: 'body', path: 'cart_id', message: 'must be 1–64 letters, digits, - or _' },
        {
          in: 'body',
          path: 'product_id',
          message: 'must be a whole number from 1 to 2147483647, not a string',
        },
        { in: 'body', path: 'quantity', message: 'must be a whole number from 1 to 99' },
      ]),
    )
    expect(await refusal('POST', '/cart/add', { cart_id: 'e2e', product_id: 1 })).toEqual(
      invalid('quantity is required', [{ in: 'body', path: 'quantity', message: 'is required' }]),
    )
  })
})
