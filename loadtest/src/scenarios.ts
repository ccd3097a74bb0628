// The traffic: what the original's Locust file did, as small state machines the runner drives.
// - The e-commerce user browses (list pages, product views skewed to popular products) or works
//   on its own cart (add, read, remove a line, clear), 70/30 by default. It remembers what its cart
//   holds, so it only removes lines it added and never breaks the cart's limits: every request it
//   sends is valid, and a failure means the system failed.
// - The metrics user polls /metrics, /healthz and /livez on each service in turn.
// A user hands out one Step (one request) at a time; the runner sends it and reports back.

import { CATEGORIES, MAX_LINES, MAX_PAGE_SIZE, MAX_QUANTITY } from '@shopstack/contracts/limits'
import { SERVICE_NAMES } from '@shopstack/contracts/services'
import type { ThinkTime } from './duration.ts'
import { createRandom, pickWeighted, type Random, randomInt } from './random.ts'
import type { EndpointStats, Stats } from './stats.ts'

/** The catalog's seeded products: ids 1..PRODUCT_COUNT. */
export const PRODUCT_COUNT = 1000

/** One request to send. `done` learns whether it succeeded, so the user can update its state. */
export interface Step {
  readonly endpoint: EndpointStats
  readonly url: string
  readonly init: RequestInit | undefined
  readonly done?: (ok: boolean) => void
}

export interface UserBehaviour {
  next(): Step
  /** How long to wait after a step, in milliseconds. */
  thinkMs(): number
}

export interface Hosts {
  gateway: string
  catalog: string
  cart: string
}

/** What every user of a run shares. */
export interface ScenarioContext {
  stats: Stats
  random: Random
  hosts: Hosts
  /** A fresh Idempotency-Key per logical write. */
  uuid: () => string
  /** Distinguishes this run's carts from earlier runs' on the same server. */
  runId: string
  thinkTime: ThinkTime
  popularity: Popularity
}

export type UserFactory = (context: ScenarioContext, index: number) => UserBehaviour

export interface Popularity {
  /** A product id in 1..count, popular products far more often (Zipf, s = 1). */
  pick(random: Random): number
}

/**
 * Product popularity follows Zipf's law, as shop traffic does: the k-th most popular product is
 * viewed about 1/k as often as the first. Which ids are popular is a fixed shuffle, the same in
 * every run, so dashboards of different runs show the same hot products.
 */
export function createPopularity(count = PRODUCT_COUNT, exponent = 1): Popularity {
  const cdf = new Float64Array(count)
  let total = 0
  for (let rank = 0; rank < count; rank++) {
    total += 1 / (rank + 1) ** exponent
    cdf[rank] = total
  }
  const ids = Array.from({ length: count }, (_, i) => i + 1)
  const shuffle = createRandom(0x5eed)
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1))
    const swap = ids[i] as number
    ids[i] = ids[j] as number
    ids[j] = swap
  }
  return {
    pick(random) {
      const target = random() * total
      let low = 0
      let high = count - 1
      while (low < high) {
        const mid = (low + high) >>> 1
        if ((cdf[mid] as number) < target) low = mid + 1
        else high = mid
      }
      return ids[low] as number
    },
  }
}

export function thinkBetween(random: Random, { minMs, maxMs }: ThinkTime): number {
  return maxMs <= minMs ? minMs : minMs + random() * (maxMs - minMs)
}

export interface EcommerceWeights {
  browse: number
  cart: number
}

type CartAction = 'add' | 'view' | 'remove' | 'clear'
const CART_ACTIONS: ReadonlyArray<readonly [CartAction, number]> = [
  ['add', 45],
  ['view', 30],
  ['remove', 15],
  ['clear', 10],
]
const PAGE_SIZES: ReadonlyArray<readonly [number, number]> = [
  [20, 6],
  [10, 2],
  [50, 2],
]

export function createEcommerceUserFactory(
  weights: EcommerceWeights = { browse: 70, cart: 30 },
): UserFactory {
  const browseShare = weights.browse / (weights.browse + weights.cart)
  return (context, index) => {
    const { stats, random, hosts, uuid, popularity, thinkTime } = context
    const gateway = hosts.gateway
    const list = stats.endpoint('gateway', 'GET', '/catalog')
    const view = stats.endpoint('gateway', 'GET', '/catalog/:id')
    const add = stats.endpoint('gateway', 'POST', '/cart/add')
    const read = stats.endpoint('gateway', 'GET', '/cart/:id')
    const removeLine = stats.endpoint('gateway', 'DELETE', '/cart/:id/items/:product_id')
    const clear = stats.endpoint('gateway', 'DELETE', '/cart/:id')
    const cartId = `lt-${context.runId}-${index}`
    const cartUrl = `${gateway}/cart/${cartId}`
    // GETs go without an init object: Bun's fetch is measurably faster without one (and with an
    // AbortSignal it is about half as fast), so requests are never individually abortable.
    const get = undefined
    /** What this user's cart holds: product id → quantity. */
    const lines = new Map<number, number>()

    const write = (method: string, body?: string): RequestInit => ({
      method,
      body,
      // One key per logical write: a retry of the same write would reuse it (RFC draft
      // "The Idempotency-Key HTTP Header Field").
      headers:
        body === undefined
          ? { 'idempotency-key': uuid() }
          : { 'content-type': 'application/json', 'idempotency-key': uuid() },
    })

    function browse(): Step {
      if (random() < 0.4) {
        const pageSize = pickWeighted(random, PAGE_SIZES)
        const category = random() < 0.4 ? CATEGORIES[randomInt(random, 0, CATEGORIES.length - 1)] : undefined
        const pages = Math.ceil((category ? PRODUCT_COUNT / CATEGORIES.length : PRODUCT_COUNT) / pageSize)
        // Most visitors stay on the first pages: page n is half as likely as page n - 1.
        let page = 1
        while (page < pages && random() < 0.5) page++
        const query = `page=${page}&page_size=${Math.min(pageSize, MAX_PAGE_SIZE)}`
        return {
          endpoint: list,
          url: `${gateway}/catalog?${query}${category ? `&category=${category}` : ''}`,
          init: get,
        }
      }
      return { endpoint: view, url: `${gateway}/catalog/${popularity.pick(random)}`, init: get }
    }

    function addStep(): Step {
      const productId = popularity.pick(random)
      const quantity = randomInt(random, 1, 3)
      const held = lines.get(productId) ?? 0
      if (held + quantity > MAX_QUANTITY || (held === 0 && lines.size >= MAX_LINES)) return clearStep()
      const body = JSON.stringify({ cart_id: cartId, product_id: productId, quantity })
      return {
        endpoint: add,
        url: `${gateway}/cart/add`,
        init: write('POST', body),
        done: (ok) => {
          if (ok) lines.set(productId, (lines.get(productId) ?? 0) + quantity)
        },
      }
    }

    function clearStep(): Step {
      return {
        endpoint: clear,
        url: cartUrl,
        init: write('DELETE'),
        done: (ok) => {
          if (ok) lines.clear()
        },
      }
    }

    function cart(): Step {
      if (lines.size === 0) return addStep()
      switch (pickWeighted(random, CART_ACTIONS)) {
        case 'add':
          return addStep()
        case 'view':
          return { endpoint: read, url: cartUrl, init: get }
        case 'remove': {
          const held = [...lines.keys()]
          const productId = held[randomInt(random, 0, held.length - 1)] as number
          return {
            endpoint: removeLine,
            url: `${cartUrl}/items/${productId}`,
            init: write('DELETE'),
            done: (ok) => {
              if (ok) lines.delete(productId)
            },
          }
        }
        case 'clear':
          return clearStep()
      }
    }

    return {
      next: () => (random() < browseShare ? browse() : cart()),
      thinkMs: () => thinkBetween(random, thinkTime),
    }
  }
}

const MONITORING_ROUTES = ['/metrics', '/healthz', '/livez'] as const

/** Polls every monitoring endpoint of every service in turn, waiting `intervalMs` between polls. */
export function createMetricsUserFactory(intervalMs = 1000): UserFactory {
  return (context, index) => {
    const { stats, hosts } = context
    const init = undefined
    const steps: Step[] = []
    for (const target of SERVICE_NAMES) {
      for (const route of MONITORING_ROUTES) {
        steps.push({ endpoint: stats.endpoint(target, 'GET', route), url: `${hosts[target]}${route}`, init })
      }
    }
    // Several pollers start at different places in the cycle instead of all hitting the same one.
    let at = (index * 4) % steps.length
    return {
      next() {
        const step = steps[at] as Step
        at = (at + 1) % steps.length
        return step
      },
      thinkMs: () => intervalMs,
    }
  }
}
