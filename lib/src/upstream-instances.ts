// The instances of one upstream, for the client in upstream.ts: the pool (round-robin, ejection,
// readiness), what spans and metrics say of each instance (its URL without userinfo, its address),
// the active readiness checks on an interval, and the set of instances changing under discovery —
// a remaining instance keeps its state, a new one is checked from the next interval on, and a
// removed one's metric series go with it.

import { redactUrl } from './config.ts'
import { createDiscovery, type DiscoveryOptions } from './discovery.ts'
import { errorMessage } from './errors.ts'
import { createInstancePool, INSTANCE_STATE, type Instance, type OutlierOptions } from './resilience.ts'
import type { Logger } from './telemetry/logger.ts'
import type { UpstreamMetrics } from './upstream-metrics.ts'

export interface HealthCheckOptions {
  /** Time between two checks of an instance, in milliseconds. */
  intervalMs: number
  /** Readiness path; '/healthz' by default. */
  path?: string
  /** Timeout of one check; the interval (at most 2 s) by default. */
  timeoutMs?: number
}

/** Starts `tick` every `ms` milliseconds; returns what stops it. */
export type StartTimer = (tick: () => void, ms: number) => () => void

const startInterval: StartTimer = (tick, ms) => {
  const timer = setInterval(tick, ms)
  // The checks never keep a process alive by themselves (its listener does).
  timer.unref()
  return () => clearInterval(timer)
}

export interface UpstreamInstancesOptions {
  name: string
  baseUrls: readonly string[]
  outlier?: OutlierOptions
  healthCheck?: HealthCheckOptions
  discovery?: Omit<DiscoveryOptions, 'onChange' | 'onError'>
  upstreamMetrics?: UpstreamMetrics
  logger?: Pick<Logger, 'info' | 'warn'>
  fetch: (input: Request) => Promise<Response>
  now: () => number
  startTimer?: StartTimer
}

export function createUpstreamInstances(options: UpstreamInstancesOptions) {
  const {
    name,
    baseUrls,
    outlier = {},
    healthCheck,
    upstreamMetrics,
    logger,
    fetch: doFetch,
    now,
    startTimer = startInterval,
  } = options
  const pool = createInstancePool(baseUrls, {
    ...outlier,
    activeChecks: healthCheck !== undefined,
    now,
    onStateChange(instance, state) {
      // A call to an instance discovery has removed may still end; its series is gone for good.
      if (!shown.has(instance)) return
      upstreamMetrics?.instanceState.set(
        { upstream: name, upstream_instance: instance.host },
        INSTANCE_STATE[state],
      )
    },
  })
  /** What spans say of each instance: its URL without userinfo, its address and port. */
  const shown = new Map<
    Instance,
    { url: string; peer: { 'server.address': string; 'server.port': number } }
  >()
  function added(instance: Instance) {
    const url = new URL(instance.url)
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
    shown.set(instance, {
      url: redactUrl(instance.url),
      peer: { 'server.address': url.hostname, 'server.port': port },
    })
    // instance.host is host:port, never userinfo (URL.host), so it is fit as a label.
    const labels = { upstream: name, upstream_instance: instance.host }
    upstreamMetrics?.instanceState.set(labels, INSTANCE_STATE[instance.state])
    // The ejection counter exists from the start at 0, so the first ejection is an increase that
    // rate() and increase() can see (a series born at 1 has nothing to increase from).
    upstreamMetrics?.ejections.inc(labels, 0)
  }
  function removed(instance: Instance) {
    shown.delete(instance)
    // A pod's address is not reused for the same pod: its series would only pile up.
    const labels = { upstream: name, upstream_instance: instance.host }
    upstreamMetrics?.instanceState.remove(labels)
    upstreamMetrics?.ejections.remove(labels)
  }
  for (const instance of pool.instances) added(instance)
  const urlOf = (instance: Instance) => shown.get(instance)?.url ?? redactUrl(instance.url)

  /**
   * Use these instances from now on (service discovery). One that stays keeps its state and
   * metrics; a new one starts healthy and is checked from the next interval; a removed one is never
   * chosen or checked again (a check or call in flight to it finishes and changes nothing).
   */
  function setInstances(urls: readonly string[]): void {
    const before = new Set(pool.instances)
    pool.replaceUrls(urls)
    for (const instance of pool.instances) {
      if (!before.delete(instance)) added(instance)
    }
    for (const instance of before) removed(instance)
    logger?.info(
      { upstream: name, instances: pool.instances.map(urlOf) },
      `${name} instances changed: ${pool.instances.length}`,
    )
  }
  upstreamMetrics?.trackReady(name, () =>
    pool.instances.map((instance) => ({ host: instance.host, ready: pool.isReady(instance) })),
  )

  /** One readiness check of each instance not still being checked; outside the call metrics. */
  const checking = new Set<Instance>()
  function checkAll(check: HealthCheckOptions) {
    const { path = '/healthz', intervalMs } = check
    const timeout = check.timeoutMs ?? Math.min(intervalMs, 2000)
    for (const instance of pool.instances) {
      if (checking.has(instance)) continue
      checking.add(instance)
      doFetch(new Request(instance.url + path, { signal: AbortSignal.timeout(timeout) }))
        .then(async (response) => {
          await response.body?.cancel()
          return response.ok && response.headers.get('connection') !== 'close'
        })
        .catch(() => false)
        .then((ok) => {
          checking.delete(instance)
          pool.checked(instance, ok)
        })
    }
  }
  const stopChecks = healthCheck ? startTimer(() => checkAll(healthCheck), healthCheck.intervalMs) : () => {}
  const discovery = options.discovery
    ? createDiscovery({
        ...options.discovery,
        onChange: setInstances,
        onError(error) {
          logger?.warn(
            { upstream: name, err: error },
            redactUrl(`${name} discovery kept the last known instances: ${errorMessage(error)}`),
          )
        },
      })
    : undefined
  // Errors are told to onError, never thrown: the first lookup runs in the background.
  void discovery?.start()

  return {
    pool,
    setInstances,
    discovery,
    /** The instance's URL as it may be shown: without userinfo. */
    urlOf,
    /** The span attributes naming the instance's address and port. */
    peerOf: (instance: Instance) => shown.get(instance)?.peer,
    /** False once discovery has removed the instance (a call to it may still end). */
    isShown: (instance: Instance) => shown.has(instance),
    /** Stop the readiness checks and discovery. */
    close(): void {
      stopChecks()
      discovery?.close()
    },
  }
}
