// DNS discovery feeding the real instance pool, against real servers on loopback: a stub resolver
// plays the headless Service's DNS answers, a manual scheduler plays its refresh interval.

import { afterEach, describe, expect, test } from 'bun:test'
import {
  createDiscovery,
  instanceUrl,
  type ResolvedAddress,
  type Schedule,
  systemResolver,
} from './discovery.ts'
import { createInstancePool, type Instance, type InstancePool } from './resilience.ts'

/** A scheduler the test steps by hand; it knows whether a timer is still pending. */
function manualSchedule() {
  let pending: (() => void) | undefined
  const schedule: Schedule = (run) => {
    pending = run
    return () => {
      pending = undefined
    }
  }
  return {
    schedule,
    get pending() {
      return pending !== undefined
    },
    /** Fire the pending timer and let the lookup it starts finish. */
    async tick() {
      const run = pending
      pending = undefined
      run?.()
      await Bun.sleep(0)
    },
  }
}

/** A resolver whose answer the test sets; `fail` makes the next lookups throw. */
function stubResolver(initial: readonly ResolvedAddress[] = []) {
  const state = { answer: initial, fail: false, lookups: 0 }
  return {
    state,
    resolve: async (_name: string) => {
      state.lookups++
      if (state.fail) throw new Error('ENOTFOUND')
      return state.answer
    },
  }
}

const servers: ReturnType<typeof Bun.serve>[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true)
})

/** A pod: answers with its name, on a free loopback port. */
function startPod(name: string) {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(name) })
  servers.push(server)
  return { name, server, address: { address: '127.0.0.1', port: server.port as number } }
}

/** One call as the upstream client makes it: pick, send, report, and try another on failure. */
async function call(pool: InstancePool): Promise<string> {
  const tried = new Set<Instance>()
  for (let attempt = 0; attempt < 3; attempt++) {
    const { instance } = pool.pick(tried)
    tried.add(instance)
    try {
      const response = await fetch(instance.url, { signal: AbortSignal.timeout(1000) })
      pool.report(instance, response.ok)
      if (response.ok) return await response.text()
    } catch {
      pool.report(instance, false)
    }
  }
  throw new Error('no instance answered')
}

async function callMany(pool: InstancePool, n: number): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) seen.add(await call(pool))
  return seen
}

describe('DNS discovery of a headless Service', () => {
  test('pods added, one ejected while the others serve, and one removed, without a restart', async () => {
    const [a, b, c] = [startPod('a'), startPod('b'), startPod('c')]
    // One pod at first: a lone instance may never be ejected, so the pool must learn from the new
    // set that ejecting one of three is allowed.
    const dns = stubResolver([a.address])
    const timer = manualSchedule()
    const clock = { now: 0 }
    let pool: InstancePool | undefined
    const discovery = createDiscovery({
      name: 'catalog-pods',
      port: 8001,
      intervalMs: 5000,
      resolve: dns.resolve,
      schedule: timer.schedule,
      onChange: (urls) => {
        if (pool) pool.replaceUrls(urls)
        else pool = createInstancePool(urls, { now: () => clock.now })
      },
    })
    await discovery.start()
    if (!pool) throw new Error('the first lookup made no pool')
    expect(await callMany(pool, 2)).toEqual(new Set(['a']))

    // Two more pods become ready: the next lookup lists them, and they get their share at once.
    dns.state.answer = [a.address, b.address, c.address]
    await timer.tick()
    expect(pool.instances.map((i) => i.url)).toHaveLength(3)
    expect(await callMany(pool, 6)).toEqual(new Set(['a', 'b', 'c']))

    // Pod b dies but DNS still lists it (not yet unready): every call still succeeds on the others,
    // b is ejected after 5 consecutive failures.
    b.server.stop(true)
    const stateOf = (pod: { address: ResolvedAddress }) =>
      pool?.instances.find((i) => i.url === instanceUrl('http', '127.0.0.1', pod.address.port as number))
        ?.state
    expect(await callMany(pool, 15)).toEqual(new Set(['a', 'c']))
    expect(stateOf(b)).toBe('ejected')
    await timer.tick()
    expect(await callMany(pool, 6)).toEqual(new Set(['a', 'c']))

    // Pod a is removed (scaled down): never picked again; c serves alone, and b, still listed,
    // keeps its ejection across the change of set.
    dns.state.answer = [b.address, c.address]
    await timer.tick()
    expect(pool.instances.map((i) => i.url).sort()).toEqual(
      [b, c].map((pod) => instanceUrl('http', '127.0.0.1', pod.address.port)).sort(),
    )
    expect(stateOf(a)).toBeUndefined()
    expect(stateOf(b)).toBe('ejected')
    expect(await callMany(pool, 6)).toEqual(new Set(['c']))

    // A failed lookup or an empty answer leaves the set as it was.
    dns.state.fail = true
    await timer.tick()
    dns.state.fail = false
    dns.state.answer = []
    await timer.tick()
    expect(pool.instances).toHaveLength(2)
    expect(await callMany(pool, 2)).toEqual(new Set(['c']))

    discovery.close()
    expect(timer.pending).toBe(false)
  })

  test('tells only changes, as sorted, deduplicated URLs on the service port', async () => {
    const dns = stubResolver([
      { address: '10.0.0.9' },
      { address: '10.0.0.7' },
      { address: '10.0.0.9' },
      { address: 'fd00::5' },
    ])
    const changes: (readonly string[])[] = []
    const errors: unknown[] = []
    const timer = manualSchedule()
    const discovery = createDiscovery({
      name: 'cart-pods',
      port: 8002,
      resolve: dns.resolve,
      schedule: timer.schedule,
      onChange: (urls) => changes.push(urls),
      onError: (error) => errors.push(error),
    })
    expect(await discovery.start()).toEqual([
      'http://10.0.0.7:8002',
      'http://10.0.0.9:8002',
      'http://[fd00::5]:8002',
    ])
    dns.state.answer = [{ address: 'fd00::5' }, { address: '10.0.0.9' }, { address: '10.0.0.7' }]
    await timer.tick()
    expect(changes).toHaveLength(1)
    dns.state.fail = true
    await timer.tick()
    expect(errors).toHaveLength(1)
    expect(discovery.urls).toHaveLength(3)
    discovery.close()
  })

  test('the real timer re-resolves on its interval and stops on close', async () => {
    const dns = stubResolver([{ address: '127.0.0.1' }])
    const discovery = createDiscovery({
      name: 'x',
      port: 1,
      intervalMs: 5,
      resolve: dns.resolve,
      onChange() {},
    })
    await discovery.start()
    const deadline = Date.now() + 2000
    while (dns.state.lookups < 3 && Date.now() < deadline) await Bun.sleep(5)
    expect(dns.state.lookups).toBeGreaterThanOrEqual(3)
    discovery.close()
    const after = dns.state.lookups
    await Bun.sleep(30)
    expect(dns.state.lookups).toBe(after)
  })

  test('a lookup in flight when closed changes nothing', async () => {
    let release: (answer: ResolvedAddress[]) => void = () => {}
    const changes: (readonly string[])[] = []
    const discovery = createDiscovery({
      name: 'x',
      port: 1,
      resolve: () => new Promise((resolve) => (release = resolve)),
      onChange: (urls) => changes.push(urls),
    })
    const first = discovery.refresh()
    discovery.close()
    release([{ address: '127.0.0.1' }])
    expect(await first).toEqual([])
    expect(changes).toEqual([])
  })

  test('the system resolver finds localhost from the hosts file', async () => {
    const addresses = await systemResolver('localhost')
    expect(addresses.length).toBeGreaterThan(0)
    expect(addresses.every(({ address }) => address === '127.0.0.1' || address === '::1')).toBe(true)
  })
})
