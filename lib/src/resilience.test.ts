import { describe, expect, test } from 'bun:test'
import {
  backoffMs,
  createInstancePool,
  createRetryBudget,
  decideRetry,
  type InstanceState,
  type RetryState,
  type TryOutcome,
} from './resilience.ts'

describe('the retry budget', () => {
  test('allows a floor of retries however few requests are in flight', () => {
    const budget = createRetryBudget({ ratio: 0.2, minRetries: 3 })
    budget.requestStarted()
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([
      true,
      true,
      true,
      false,
    ])
    budget.retryFinished()
    expect(budget.tryRetry()).toBe(true)
  })

  test('beyond the floor, retries in flight stay within 20% of requests in flight', () => {
    const budget = createRetryBudget()
    for (let i = 0; i < 100; i++) budget.requestStarted()
    let granted = 0
    while (budget.tryRetry()) granted++
    expect(granted).toBe(20)
    for (let i = 0; i < 50; i++) budget.requestFinished()
    for (let i = 0; i < 20; i++) budget.retryFinished()
    granted = 0
    while (budget.tryRetry()) granted++
    expect(granted).toBe(10)
    expect(budget.inFlight).toEqual({ requests: 50, retries: 10 })
  })
})

describe('no retry budget', () => {
  test("'off' grants every retry, even with no request counted, and counts them as finite numbers", () => {
    const budget = createRetryBudget({ ratio: 'off' })
    let granted = 0
    while (granted < 10_000 && budget.tryRetry()) granted++
    expect(granted).toBe(10_000)
    expect(budget.inFlight).toEqual({ requests: 0, retries: 10_000 })
    for (let i = 0; i < 10_000; i++) budget.retryFinished()
    expect(budget.inFlight).toEqual({ requests: 0, retries: 0 })
  })

  test.each([Number.NaN, Number.POSITIVE_INFINITY, -0.1, 1.5])('a ratio of %p is refused', (ratio) => {
    expect(() => createRetryBudget({ ratio })).toThrow(RangeError)
  })
})

describe('a retry waiting for the budget', () => {
  test('gets the first freed slot (the burst of a dying instance is absorbed)', async () => {
    const budget = createRetryBudget({ ratio: 0, minRetries: 1 })
    budget.requestStarted()
    expect(budget.tryRetry()).toBe(true)
    const waiting = budget.acquire(new Promise(() => {}))
    // A newcomer does not jump the queue.
    expect(budget.tryRetry()).toBe(false)
    budget.retryFinished()
    expect(await waiting).toBe(true)
    expect(budget.inFlight.retries).toBe(1)
  })

  test('gives up when its wait ends, and leaves the queue', async () => {
    const budget = createRetryBudget({ ratio: 0, minRetries: 1 })
    expect(budget.tryRetry()).toBe(true)
    expect(await budget.acquire(Promise.resolve())).toBe(false)
    budget.retryFinished()
    expect(budget.inFlight.retries).toBe(0)
    expect(budget.tryRetry()).toBe(true)
  })
})

describe('backoff', () => {
  test('is a uniform draw up to 25 ms · 2^n, capped at 250 ms', () => {
    expect(backoffMs(0, () => 1)).toBe(25)
    expect(backoffMs(2, () => 1)).toBe(100)
    expect(backoffMs(10, () => 1)).toBe(250)
    expect(backoffMs(3, () => 0.5)).toBe(100)
    expect(backoffMs(3, () => 0)).toBe(0)
  })
})

describe('the instance pool', () => {
  const urls = ['http://a', 'http://b', 'http://c', 'http://d']

  function pool(options: Parameters<typeof createInstancePool>[1] = {}, list = urls) {
    let clock = 0
    const changes: Array<[string, InstanceState]> = []
    const p = createInstancePool(list, {
      now: () => clock,
      onStateChange: (instance, state) => changes.push([instance.url, state]),
      ...options,
    })
    return {
      pool: p,
      changes,
      advance: (ms: number) => {
        clock += ms
      },
      picks: (n: number) => Array.from({ length: n }, () => p.pick().instance.url),
    }
  }

  test('spreads requests round-robin', () => {
    expect(pool().picks(6)).toEqual(['http://a', 'http://b', 'http://c', 'http://d', 'http://a', 'http://b'])
  })

  test('a retry skips the instances the request already tried', () => {
    const { pool: p } = pool()
    const first = p.pick()
    const tried = new Set([first.instance])
    const second = p.pick(tried)
    expect(second.instance).not.toBe(first.instance)
  })

  test('ejects after consecutive failures, probes once after the ejection time, then restores', () => {
    const { pool: p, changes, advance, picks } = pool({ consecutiveFailures: 3, baseEjectionMs: 1000 })
    const a = p.instances[0] as (typeof p.instances)[number]
    expect(p.report(a, false)).toBe(false)
    p.report(a, true) // a success resets the count
    expect([p.report(a, false), p.report(a, false), p.report(a, false)]).toEqual([false, false, true])
    expect(a.state).toBe('ejected')
    expect(picks(6)).not.toContain('http://a')

    advance(1000)
    // Half-open: exactly one request goes to it while its probe is out.
    const probe = p.pick()
    expect(probe).toMatchObject({ state: 'probing' })
    expect(probe.instance.url).toBe('http://a')
    expect(picks(6)).not.toContain('http://a')
    p.report(a, true)
    expect(a.state).toBe('healthy')
    expect(picks(4)).toContain('http://a')
    expect(changes).toEqual([
      ['http://a', 'ejected'],
      ['http://a', 'probing'],
      ['http://a', 'healthy'],
    ])
  })

  test('a failed probe ejects again, for longer each time (capped)', () => {
    const {
      pool: p,
      advance,
      picks,
    } = pool({ consecutiveFailures: 1, baseEjectionMs: 1000, maxEjectionMs: 2500 })
    const a = p.instances[0] as (typeof p.instances)[number]
    p.report(a, false)
    advance(1000)
    expect(p.pick().state).toBe('probing')
    expect(p.report(a, false)).toBe(true)
    advance(1999)
    expect(picks(4)).not.toContain('http://a')
    advance(1)
    expect(picks(4)).toContain('http://a')
    expect(a.state).toBe('probing')
    p.report(a, false)
    expect(a.ejections).toBe(3)
    advance(2499)
    expect(picks(4)).not.toContain('http://a')
    advance(1)
    expect(picks(4)).toContain('http://a')
  })

  test('never ejects more than half the instances, nor a lone one', () => {
    const { pool: p } = pool({ consecutiveFailures: 1 })
    const ejected = p.instances.map((instance) => p.report(instance, false))
    expect(ejected).toEqual([true, true, false, false])
    const lone = pool({ consecutiveFailures: 1 }, ['http://only'])
    expect(lone.pool.report(lone.pool.instances[0] as (typeof p.instances)[number], false)).toBe(false)
    expect(lone.pool.pick()).toMatchObject({ state: 'healthy', panic: false })
  })

  test('when nothing is usable, it picks anyway (panic) rather than fail', () => {
    const { pool: p } = pool({ consecutiveFailures: 1, maxEjectionPercent: 100 }, ['http://a', 'http://b'])
    for (const instance of p.instances) p.report(instance, false)
    const pick = p.pick()
    expect(pick.panic).toBe(true)
    expect(pick.state).toBe('ejected')
    p.report(pick.instance, true)
    expect(pick.instance.state).toBe('healthy')
  })
})

describe('the retry decision', () => {
  const state: RetryState = {
    idempotent: true,
    retries: 0,
    maxRetries: 2,
    untried: 1,
    now: 0,
    deadline: 1000,
    backoffMs: 25,
    minTryMs: 50,
  }
  const outcome = (o: Partial<TryOutcome>): TryOutcome => ({
    reason: 'connect_failure',
    unsent: false,
    probe: false,
    ...o,
  })
  const cases: Array<[string, Partial<TryOutcome>, Partial<RetryState>, ReturnType<typeof decideRetry>]> = [
    ['an answer is the answer', { reason: undefined }, {}, { action: 'stop', why: 'answered' }],
    [
      'refused: another instance at once, outside the budget',
      { unsent: true },
      { idempotent: false },
      { action: 'retry', budgeted: false, reason: 'connect_refused', delayMs: 0 },
    ],
    [
      'refused, every instance tried: a read falls back to the budget',
      { unsent: true },
      { untried: 0 },
      { action: 'retry', budgeted: true, reason: 'connect_failure', delayMs: 25 },
    ],
    [
      'refused, every instance tried: a write stops',
      { unsent: true },
      { untried: 0, idempotent: false },
      { action: 'stop', why: 'not_idempotent' },
    ],
    [
      'refused past the budgeted retries still tries the others',
      { unsent: true },
      { retries: 2 },
      { action: 'retry', budgeted: false, reason: 'connect_refused', delayMs: 0 },
    ],
    [
      'a failed probe of a read: outside the budget',
      { reason: 'status_503', probe: true },
      {},
      { action: 'retry', budgeted: false, reason: 'probe_failure', delayMs: 0 },
    ],
    [
      'a failed probe of a write is not retried',
      { reason: 'status_503', probe: true },
      { idempotent: false },
      { action: 'stop', why: 'not_idempotent' },
    ],
    [
      'a broken connection of a read: budgeted, after the backoff',
      {},
      {},
      { action: 'retry', budgeted: true, reason: 'connect_failure', delayMs: 25 },
    ],
    [
      'a broken connection of a write stops',
      {},
      { idempotent: false },
      { action: 'stop', why: 'not_idempotent' },
    ],
    [
      'no more than maxRetries budgeted retries',
      { reason: 'timeout' },
      { retries: 2 },
      { action: 'stop', why: 'max_retries' },
    ],
    [
      'no retry the deadline leaves no time for',
      { reason: 'status_502' },
      { now: 930 },
      { action: 'stop', why: 'out_of_time' },
    ],
    ['not even a safe one', { unsent: true }, { now: 960 }, { action: 'stop', why: 'out_of_time' }],
  ]
  for (const [name, o, st, expected] of cases) {
    test(name, () => {
      expect(decideRetry(outcome(o), { ...state, ...st })).toEqual(expected)
    })
  }
})

describe('instance readiness', () => {
  test('an instance going away is skipped, and back after one ejection time without checks', () => {
    let clock = 0
    const p = createInstancePool(['http://a', 'http://b'], { now: () => clock, baseEjectionMs: 1000 })
    p.goingAway(p.instances[0] as (typeof p.instances)[number])
    expect([p.pick().instance.url, p.pick().instance.url]).toEqual(['http://b', 'http://b'])
    clock += 1000
    expect([p.pick().instance.url, p.pick().instance.url].sort()).toEqual(['http://a', 'http://b'])
  })

  test('when no instance is ready, all are used rather than none (panic)', () => {
    const p = createInstancePool(['http://a', 'http://b'], { activeChecks: true })
    for (const instance of p.instances) p.checked(instance, false)
    const picked = p.pick()
    expect(picked.panic).toBe(true)
    expect(['http://a', 'http://b']).toContain(picked.instance.url)
  })
})
