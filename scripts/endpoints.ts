// `bun run endpoints`: call every public endpoint through the gateway (and the operational ones on
// every service) and print a pass/fail table. Exits non-zero when any check fails.

import { defaultUrl } from '../contracts/src/services.ts'
import { SERVICES, serviceUrl } from './services.ts'

const gatewayService = SERVICES.find((s) => s.name === 'gateway')
const gateway = gatewayService ? serviceUrl(gatewayService) : defaultUrl('gateway')
const cartId = `endpoints-${Date.now().toString(36)}`
const json = { 'content-type': 'application/json' }

interface Check {
  name: string
  url: string
  init?: RequestInit
  expect: number
  /** Optional check of the parsed body; returns a problem description or undefined. */
  body?: (body: unknown) => string | undefined
}

const checks: Check[] = [
  { name: 'service info', url: `${gateway}/`, expect: 200 },
  {
    name: 'list products',
    url: `${gateway}/catalog?page=1&page_size=5`,
    expect: 200,
    body: (b) => ((b as { items?: unknown[] }).items?.length === 5 ? undefined : 'expected 5 items'),
  },
  { name: 'list by category', url: `${gateway}/catalog?category=books&page_size=3`, expect: 200 },
  {
    name: 'one product',
    url: `${gateway}/catalog/123`,
    expect: 200,
    body: (b) => ((b as { id?: number }).id === 123 ? undefined : 'expected product 123'),
  },
  { name: 'unknown product', url: `${gateway}/catalog/999999`, expect: 404 },
  {
    name: 'add to cart',
    url: `${gateway}/cart/add`,
    init: {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ cart_id: cartId, product_id: 123, quantity: 2 }),
    },
    expect: 200,
  },
  {
    name: 'add another',
    url: `${gateway}/cart/add`,
    init: {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ cart_id: cartId, product_id: 7, quantity: 1 }),
    },
    expect: 200,
  },
  {
    name: 'read cart',
    url: `${gateway}/cart/${cartId}`,
    expect: 200,
    body: (b) => ((b as { item_count?: number }).item_count === 3 ? undefined : 'expected 3 items'),
  },
  {
    name: 'remove a line',
    url: `${gateway}/cart/${cartId}/items/7`,
    init: { method: 'DELETE' },
    expect: 200,
  },
  { name: 'clear cart', url: `${gateway}/cart/${cartId}`, init: { method: 'DELETE' }, expect: 200 },
  {
    name: 'bad input is a 422',
    url: `${gateway}/cart/add`,
    init: {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ cart_id: cartId, product_id: 1, quantity: 0 }),
    },
    expect: 422,
  },
  ...SERVICES.flatMap((service) =>
    ['livez', 'healthz', 'metrics'].map((path) => ({
      name: `${service.name} /${path}`,
      url: `${serviceUrl(service)}/${path}`,
      expect: 200,
    })),
  ),
]

let failures = 0
console.log(`${'check'.padEnd(22)} ${'status'.padEnd(8)} ${'ms'.padStart(6)}  url`)
for (const check of checks) {
  const started = performance.now()
  let status = 'error'
  let problem: string | undefined
  try {
    let response = await fetch(check.url, { ...check.init, signal: AbortSignal.timeout(5000) })
    let text = await response.text()
    // Cart writes fail 1% of the time by design (the simulation); such a failure wrote nothing,
    // so trying again is safe, and the check is about the endpoint, not the dice.
    for (let retry = 0; retry < 3 && response.status === 503 && text.includes('"simulated":true'); retry++) {
      response = await fetch(check.url, { ...check.init, signal: AbortSignal.timeout(5000) })
      text = await response.text()
    }
    status = String(response.status)
    if (response.status !== check.expect) problem = `expected ${check.expect}`
    else if (check.body) problem = check.body(JSON.parse(text))
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error)
  }
  const ok = problem === undefined
  if (!ok) failures++
  const mark = ok ? '\x1b[32mPASS\x1b[0m' : '\x1b[31mFAIL\x1b[0m'
  const ms = (performance.now() - started).toFixed(0).padStart(6)
  console.log(
    `${mark} ${check.name.padEnd(17)} ${status.padEnd(8)} ${ms}  ${check.url}${ok ? '' : `  (${problem})`}`,
  )
}
console.log(`\n${checks.length - failures} passed, ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
