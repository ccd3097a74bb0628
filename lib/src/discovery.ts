// Service discovery by DNS, for replicas behind a Kubernetes headless Service.
// A ClusterIP Service is one virtual address: behind it, the upstream client's round-robin, retries
// and outlier ejection would see a single instance and could never eject the one bad pod. A
// headless Service (`clusterIP: None`) instead answers its DNS name with the address of every ready
// pod (https://kubernetes.io/docs/concepts/services-networking/service/#headless-services), so
// resolving it again every few seconds gives the current set of pods, and `onChange` hands that set
// to the instance pool (createInstancePool's replaceUrls): pods come and go without a restart, and
// each is ejected on its own.
// What resolving cannot know is kept as it was: a failed lookup or an empty answer (a DNS blip, a
// rollout where every pod is briefly unready) leaves the last known set, since an upstream client
// needs at least one instance and a stale address fails over by retries and ejection anyway.
// The resolver and the timer are parameters, so a test drives every step; close() leaves no timer.

import { lookup } from 'node:dns/promises'

/** One address a name resolves to; `port` overrides the discovery's port (SRV-like records, tests). */
export interface ResolvedAddress {
  address: string
  port?: number
}

export type Resolver = (name: string) => Promise<readonly ResolvedAddress[]>

/** Runs `run` once after `ms`; the returned function cancels it. */
export type Schedule = (run: () => void, ms: number) => () => void

export interface DiscoveryOptions {
  /** The DNS name that lists every instance, e.g. the headless Service `catalog-pods`. */
  name: string
  /** The port every instance listens on. */
  port: number
  protocol?: 'http' | 'https'
  /** How often the name is resolved again, in milliseconds. */
  intervalMs?: number
  resolve?: Resolver
  schedule?: Schedule
  /** Told the new set of instance URLs (sorted) whenever it changes, the first resolution included. */
  onChange: (urls: readonly string[]) => void
  /** Told when a lookup fails or finds nothing; the last known set stays in use. */
  onError?: (error: unknown) => void
}

/**
 * Every address of `name` through the system resolver (getaddrinfo: the pod's search domains
 * apply, so `catalog-pods` finds `catalog-pods.<namespace>.svc.cluster.local`).
 */
export const systemResolver: Resolver = async (name) =>
  (await lookup(name, { all: true })).map(({ address }) => ({ address }))

const defaultSchedule: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms)
  return () => clearTimeout(timer)
}

/** http://10.0.0.7:8001, with an IPv6 address in brackets (RFC 3986 §3.2.2). */
export function instanceUrl(protocol: string, address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address
  return `${protocol}://${host}:${port}`
}

export type Discovery = ReturnType<typeof createDiscovery>

export function createDiscovery(options: DiscoveryOptions) {
  const {
    name,
    port,
    protocol = 'http',
    intervalMs = 5000,
    resolve = systemResolver,
    schedule = defaultSchedule,
    onChange,
    onError = () => {},
  } = options
  let urls: readonly string[] = []
  let cancel: (() => void) | undefined
  let closed = false

  /** Resolve once; the current set afterwards (unchanged when the lookup failed or found nothing). */
  async function refresh(): Promise<readonly string[]> {
    let found: string[]
    try {
      const addresses = await resolve(name)
      found = [...new Set(addresses.map((a) => instanceUrl(protocol, a.address, a.port ?? port)))].sort()
    } catch (error) {
      onError(error)
      return urls
    }
    if (closed) return urls
    if (found.length === 0) {
      onError(new Error(`${name} resolved to no address; keeping the last known instances`))
      return urls
    }
    if (found.join() !== urls.join()) {
      urls = found
      onChange(urls)
    }
    return urls
  }

  // One lookup at a time: the next is scheduled when the previous has finished, so a slow resolver
  // never piles lookups up.
  function next(): void {
    if (closed) return
    cancel = schedule(() => {
      cancel = undefined
      void refresh().finally(next)
    }, intervalMs)
  }

  return {
    /** The instance URLs last found (empty before the first successful lookup). */
    get urls() {
      return urls
    },
    refresh,
    /** Resolve now, then every `intervalMs` until close(); resolves with the first set found. */
    async start(): Promise<readonly string[]> {
      const first = await refresh()
      next()
      return first
    },
    /** Stop resolving; a lookup in flight changes nothing any more. */
    close(): void {
      closed = true
      cancel?.()
      cancel = undefined
    },
  }
}
