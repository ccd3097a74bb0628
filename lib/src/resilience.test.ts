import { describe, expect, test } from 'bun:test'
import { backoffMs, createInstancePool, createRetryBudget, type InstanceState } from './resilience.ts'

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
