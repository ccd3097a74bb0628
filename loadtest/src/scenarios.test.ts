import { describe, expect, test } from 'bun:test'
import { CATEGORIES, MAX_LINES, MAX_PAGE_SIZE, MAX_QUANTITY } from '@shopstack/contracts/limits'
import { createRandom } from './random.ts'
import {
  createEcommerceUserFactory,
  createMetricsUserFactory,
  createPopularity,
  PRODUCT_COUNT,
  type ScenarioContext,
  type Step,
} from './scenarios.ts'
import { createStats } from './stats.ts'

function context(seed = 1): ScenarioContext {
  let keys = 0
  return {
    stats: createStats(),
    random: createRandom(seed),
    hosts: { gateway: 'http://gw', catalog: 'http://catalog', cart: 'http://cart' },
    uuid: () => `key-${++keys}`,
    runId: 'test',
    thinkTime: { minMs: 1000, maxMs: 3000 },
    popularity: createPopularity(),
  }
}

const isCart = (step: Step) => step.endpoint.route.startsWith('/cart')
const header = (step: Step, name: string) =>
  (step.init?.headers as Record<string, string> | undefined)?.[name]

describe('the e-commerce user', () => {
  test('browses 70% and works on its cart 30% of the time (± 2%, seeded)', () => {
    for (const seed of [1, 2, 3]) {
      const user = createEcommerceUserFactory()(context(seed), 0)
      let cart = 0
      const decisions = 20_000
      for (let i = 0; i < decisions; i++) {
        const step = user.next()
        if (isCart(step)) cart++
        step.done?.(true)
      }
      expect(Math.abs(cart / decisions - 0.3)).toBeLessThanOrEqual(0.02)
    }
  })

  test('the mix follows configured weights', () => {
    const user = createEcommerceUserFactory({ browse: 1, cart: 1 })(context(9), 0)
    let cart = 0
    for (let i = 0; i < 20_000; i++) {
      const step = user.next()
      if (isCart(step)) cart++
      step.done?.(true)
    }
    expect(Math.abs(cart / 20_000 - 0.5)).toBeLessThanOrEqual(0.02)
  })

  test('the same seed gives the same traffic', () => {
    const urls = (seed: number) => {
      const user = createEcommerceUserFactory()(context(seed), 0)
      return Array.from({ length: 200 }, () => {
        const step = user.next()
        step.done?.(true)
        return `${step.init?.method ?? 'GET'} ${step.url}`
      })
    }
    expect(urls(5)).toEqual(urls(5))
    expect(urls(5)).not.toEqual(urls(6))
  })

  test('requests use route templates for stats and valid, realistic URLs', () => {
    const user = createEcommerceUserFactory()(context(4), 3)
    const routes = new Set<string>()
    for (let i = 0; i < 5000; i++) {
      const step = user.next()
      routes.add(`${step.endpoint.method} ${step.endpoint.route}`)
      const url = new URL(step.url)
      if (step.endpoint.route === '/catalog') {
        const page = Number(url.searchParams.get('page'))
        const size = Number(url.searchParams.get('page_size'))
        expect(page).toBeGreaterThanOrEqual(1)
        expect(size).toBeLessThanOrEqual(MAX_PAGE_SIZE)
        const category = url.searchParams.get('category')
        if (category) expect(CATEGORIES).toContain(category as (typeof CATEGORIES)[number])
      }
      if (step.endpoint.route === '/catalog/:id') {
        const id = Number(url.pathname.split('/').pop())
        expect(id).toBeGreaterThanOrEqual(1)
        expect(id).toBeLessThanOrEqual(PRODUCT_COUNT)
      }
      if (isCart(step)) expect(url.pathname).toMatch(/^\/cart\/(add|lt-test-3(\/items\/\d+)?)$/)
      step.done?.(true)
    }
    expect([...routes].sort()).toEqual([
      'DELETE /cart/:id',
      'DELETE /cart/:id/items/:product_id',
      'GET /cart/:id',
      'GET /catalog',
      'GET /catalog/:id',
      'POST /cart/add',
    ])
  })

  test('cart writes carry a fresh Idempotency-Key and stay within the cart limits', () => {
    const user = createEcommerceUserFactory({ browse: 0, cart: 1 })(context(8), 0)
    const held = new Map<number, number>()
    const keys = new Set<string>()
    for (let i = 0; i < 20_000; i++) {
      const step = user.next()
      const method = step.init?.method ?? 'GET'
      if (method !== 'GET') {
        const key = header(step, 'idempotency-key')
        expect(key).toBeDefined()
        expect(keys.has(key as string)).toBe(false)
        keys.add(key as string)
      }
      if (step.endpoint.route === '/cart/add') {
        const body = JSON.parse(step.init?.body as string) as { product_id: number; quantity: number }
        expect(header(step, 'content-type')).toBe('application/json')
        held.set(body.product_id, (held.get(body.product_id) ?? 0) + body.quantity)
        expect(held.get(body.product_id)).toBeLessThanOrEqual(MAX_QUANTITY)
        expect(held.size).toBeLessThanOrEqual(MAX_LINES)
      } else if (step.endpoint.route === '/cart/:id/items/:product_id') {
        const productId = Number(step.url.split('/').pop())
        // Only lines the user added are removed: a remove never 404s.
        expect(held.has(productId)).toBe(true)
        held.delete(productId)
      } else if (method === 'DELETE') {
        held.clear()
      }
      step.done?.(true)
    }
  })

  test('a failed write leaves what the user believes its cart holds unchanged', () => {
    const user = createEcommerceUserFactory({ browse: 0, cart: 1 })(context(2), 0)
    // The cart is empty, so the first cart step is an add; it fails; the next one is an add again.
    const first = user.next()
    first.done?.(false)
    expect(first.endpoint.route).toBe('/cart/add')
    expect(user.next().endpoint.route).toBe('/cart/add')
  })

  test('product views are skewed to popular products', () => {
    const popularity = createPopularity()
    const random = createRandom(3)
    const counts = new Map<number, number>()
    for (let i = 0; i < 100_000; i++) {
      const id = popularity.pick(random)
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    const sorted = [...counts.values()].sort((a, b) => b - a)
    const top10 = sorted.slice(0, 10).reduce((a, b) => a + b, 0)
    // Zipf over 1,000 products: the ten most popular take about 39% of the views.
    expect(top10 / 100_000).toBeGreaterThan(0.35)
    expect(counts.size).toBeGreaterThan(900)
    expect(Math.min(...counts.keys())).toBeGreaterThanOrEqual(1)
    expect(Math.max(...counts.keys())).toBeLessThanOrEqual(PRODUCT_COUNT)
  })
})

describe('the metrics user', () => {
  test('polls /metrics, /healthz and /livez on every service', () => {
    const user = createMetricsUserFactory(2000)(context(), 0)
    const seen = Array.from({ length: 9 }, () => user.next().url).sort()
    expect(seen).toEqual(
      ['http://cart', 'http://catalog', 'http://gw']
        .flatMap((host) => ['/healthz', '/livez', '/metrics'].map((path) => `${host}${path}`))
        .sort(),
    )
    expect(user.thinkMs()).toBe(2000)
  })
})
