// The gateway finding its catalog pods by DNS, as in Kubernetes (CATALOG_SERVICE_URL=dns+http://
// catalog-pods:8001): real pods on free loopback ports, a stub resolver playing the headless
// Service's answers, real refresh timers. Pods are added, removed, and one is killed and ejected
// while the others serve every request; stopping the app stops the lookups.

import { afterEach, expect, test } from 'bun:test'
import type { ResolvedAddress } from '@shopstack/lib/discovery'
import { createTestTelemetry, sampleValue } from '@shopstack/lib/testing'
import type { Server } from 'bun'
import { createApp } from './app.ts'

const servers: Server<unknown>[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true)
})

/** A catalog pod: answers a product naming itself, and counts what it served. */
function startPod(name: string) {
  const pod = { name, served: 0, port: 0, server: undefined as unknown as Server<unknown> }
  pod.server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname === '/healthz') return new Response('ok')
      pod.served++
      return Response.json({ id: 1, name, price: 1, category: 'toys', description: name })
    },
  })
  servers.push(pod.server)
  // Kept: a stopped server reports port 0.
  pod.port = pod.server.port as number
  return pod
}

type Pod = ReturnType<typeof startPod>
const address = (pod: Pod): ResolvedAddress => ({ address: '127.0.0.1', port: pod.port })
const host = (pod: Pod) => `127.0.0.1:${pod.port}`

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}

test('pods added, removed, and one killed and ejected while the others serve every request', async () => {
  const [a, b, c] = [startPod('a'), startPod('b'), startPod('c')]
  let answer: ResolvedAddress[] = [address(a)]
  let lookups = 0
  const telemetry = createTestTelemetry({ service: 'gateway' })
  const app = createApp({
    // Used until the first lookup answers; never reached here.
    catalogUrls: ['http://catalog-pods:8001'],
    catalogDiscovery: { name: 'catalog-pods', port: 8001, protocol: 'http' },
    cartUrl: 'http://127.0.0.1:9',
    discoveryIntervalMs: 20,
    resolve: async (name) => {
      expect(name).toBe('catalog-pods')
      lookups++
      return answer
    },
    ...telemetry,
  }).listen({ hostname: '127.0.0.1', port: 0 })
  const server = app.server as Server<unknown>
  servers.push(server)
  const state = async (pod: Pod) =>
    sampleValue(await telemetry.metrics.prometheus.metrics(), 'upstream_instance_state', {
      upstream: 'catalog',
      upstream_instance: host(pod),
    })
  /** `n` reads through the gateway; every one must succeed. */
  const reads = async (n: number) => {
    for (const pod of [a, b, c]) pod.served = 0
    for (let i = 0; i < n; i++) {
      const response = await fetch(`http://127.0.0.1:${server.port}/catalog/1`)
      expect(response.status).toBe(200)
      await response.arrayBuffer()
    }
    return [a.served, b.served, c.served]
  }

  await until('pod a', async () => (await state(a)) === 0)
  expect(await reads(6)).toEqual([6, 0, 0])

  answer = [address(a), address(b)]
  await until('pod b', async () => (await state(b)) === 0)
  expect(await reads(6)).toEqual([3, 3, 0])

  // b dies but DNS still names it (the endpoints controller has not caught up): its refused
  // connections are retried on another pod at once, and after five in a row it is ejected.
  answer = [address(a), address(b), address(c)]
  await until('pod c', async () => (await state(c)) === 0)
  b.server.stop(true)
  const served = await reads(30)
  expect(served[1]).toBe(0)
  expect((served[0] ?? 0) + (served[2] ?? 0)).toBe(30)
  expect(await state(b)).toBe(2)
  const ejections = sampleValue(await telemetry.metrics.prometheus.metrics(), 'upstream_ejections_total', {
    upstream_instance: host(b),
  })
  expect(ejections).toBe(1)

  // DNS drops b, then a: their series go, the rest keep serving everything.
  answer = [address(a), address(c)]
  await until('b removed', async () => (await state(b)) === undefined)
  expect(await reads(6)).toEqual([3, 0, 3])
  answer = [address(c)]
  await until('a removed', async () => (await state(a)) === undefined)
  expect(await reads(4)).toEqual([0, 0, 4])

  // Stopping the app stops discovery: no lookup after it.
  await app.stop(true)
  const after = lookups
  await Bun.sleep(100)
  expect(lookups).toBe(after)
})
