// Client-side resilience for calls to upstream services, after Envoy's defaults
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier,
// .../circuit_breaking and the retry policy docs):
// - a retry budget: retries in flight may be at most 20% of requests in flight (with a floor of 3),
//   so when an upstream is down, retries cannot multiply the load on what is left of it;
// - jittered exponential backoff between tries (full jitter: a uniform draw up to 25 ms · 2^n,
//   capped at 250 ms), so retries from many clients do not arrive in step;
// - passive health (outlier detection) per instance: after 5 consecutive failures an instance is
//   ejected for 3 s × the number of times it has been ejected (capped), then lets one probe
//   request through (half-open); success brings it back, failure ejects it again. At most half of
//   an upstream's instances are ejected at once, and a single instance never is;
// - round-robin over the instances that are not ejected, skipping ones a request already tried.
// Clocks and randomness are parameters, so every test is exact.

/** Breaker-style state of one instance; the numbers are what the state gauge reports. */
export const INSTANCE_STATE = { healthy: 0, probing: 1, ejected: 2 } as const
export type InstanceState = keyof typeof INSTANCE_STATE

export interface RetryBudgetOptions {
  /** Retries in flight as a share of requests in flight (Envoy: 20%). */
  ratio?: number
  /** Retries always allowed in flight, however few requests there are (Envoy: 3). */
  minRetries?: number
}

export type RetryBudget = ReturnType<typeof createRetryBudget>

export function createRetryBudget(options: RetryBudgetOptions = {}) {
  const { ratio = 0.2, minRetries = 3 } = options
  let requests = 0
  let retries = 0
  return {
    requestStarted(): void {
      requests++
    },
    requestFinished(): void {
      requests = Math.max(0, requests - 1)
    },
    /** Take a retry slot if the budget allows one now; release it with retryFinished(). */
    tryRetry(): boolean {
      if (retries >= Math.max(minRetries, Math.floor(requests * ratio))) return false
      retries++
      return true
    },
    retryFinished(): void {
      retries = Math.max(0, retries - 1)
    },
    get inFlight() {
      return { requests, retries }
    },
  }
}

export interface BackoffOptions {
  baseMs?: number
  maxMs?: number
}

/** Full-jitter exponential backoff before retry number `retry` (0 for the first retry). */
export function backoffMs(retry: number, random: () => number, options: BackoffOptions = {}): number {
  const { baseMs = 25, maxMs = 250 } = options
  return Math.round(random() * Math.min(maxMs, baseMs * 2 ** retry))
}

export interface OutlierOptions {
  /** Consecutive failures that eject an instance (Envoy: 5). */
  consecutiveFailures?: number
  /** Ejection time, multiplied by how often the instance has been ejected. */
  baseEjectionMs?: number
  maxEjectionMs?: number
  /** Most instances (in percent) that may be ejected at once; a lone instance is never ejected. */
  maxEjectionPercent?: number
}

export interface InstancePoolOptions extends OutlierOptions {
  now?: () => number
  /** Told about every state change (metrics, logs). */
  onStateChange?: (instance: Instance, state: InstanceState) => void
}

export interface Instance {
  readonly url: string
  /** host:port, as a metric label (the scrape target of that instance names itself the same). */
  readonly host: string
  readonly index: number
  state: InstanceState
  consecutiveFailures: number
  ejections: number
  ejectedUntil: number
  probeInFlight: boolean
}

/** Which instance to use, and what became of it. */
export interface Pick {
  instance: Instance
  /** The instance's state when it was picked ('probing' for a half-open probe). */
  state: InstanceState
  /** True when every instance was ejected (or tried) and an unhealthy one is used anyway (panic). */
  panic: boolean
}

export type InstancePool = ReturnType<typeof createInstancePool>

export function createInstancePool(urls: readonly string[], options: InstancePoolOptions = {}) {
  const {
    consecutiveFailures = 5,
    baseEjectionMs = 3000,
    maxEjectionMs = 30_000,
    maxEjectionPercent = 50,
    now = () => performance.now(),
    onStateChange = () => {},
  } = options
  if (urls.length === 0) throw new Error('an upstream needs at least one instance')
  const instances: Instance[] = urls.map((url, index) => ({
    url,
    host: new URL(url).host,
    index,
    state: 'healthy',
    consecutiveFailures: 0,
    ejections: 0,
    ejectedUntil: 0,
    probeInFlight: false,
  }))
  let maxEjected = Math.floor((instances.length * maxEjectionPercent) / 100)
  let cursor = 0

  const setState = (instance: Instance, state: InstanceState) => {
    if (instance.state === state) return
    instance.state = state
    onStateChange(instance, state)
  }

  /** Usable now: healthy, or ejected with its time served and no probe out yet (half-open). */
  const available = (instance: Instance, at: number) =>
    instance.state === 'healthy' || (!instance.probeInFlight && at >= instance.ejectedUntil)

  return {
    instances: instances as readonly Instance[],
    /** The next instance round-robin, skipping ejected ones and those in `tried`. */
    pick(tried: ReadonlySet<Instance> = new Set()): Pick {
      const at = now()
      const n = instances.length
      for (let step = 0; step < n; step++) {
        const instance = instances[(cursor + step) % n] as Instance
        if (tried.has(instance) || !available(instance, at)) continue
        cursor = (instance.index + 1) % n
        if (instance.state === 'healthy') return { instance, state: 'healthy', panic: false }
        instance.probeInFlight = true
        setState(instance, 'probing')
        return { instance, state: 'probing', panic: false }
      }
      // Nothing usable: as Envoy's panic mode, spread over every instance rather than fail
      // outright (preferring ones not yet tried), so a recovered upstream is found again.
      const fresh = instances.filter((instance) => !tried.has(instance))
      const pool = fresh.length > 0 ? fresh : instances
      const instance = pool[cursor % pool.length] as Instance
      cursor = (instance.index + 1) % n
      return { instance, state: instance.state, panic: instance.state !== 'healthy' }
    },
    /** Record how a request to `instance` went; true when this failure ejected it. */
    report(instance: Instance, ok: boolean): boolean {
      instance.probeInFlight = false
      if (ok) {
        instance.consecutiveFailures = 0
        setState(instance, 'healthy')
        return false
      }
      instance.consecutiveFailures++
      const wasProbe = instance.state === 'probing'
      if (!wasProbe && (instance.state === 'ejected' || instance.consecutiveFailures < consecutiveFailures)) {
        return false
      }
      const ejected = instances.filter((i) => i !== instance && i.state !== 'healthy').length
      if (!wasProbe && ejected >= maxEjected) return false
      instance.ejections++
      instance.ejectedUntil = now() + Math.min(maxEjectionMs, baseEjectionMs * instance.ejections)
      setState(instance, 'ejected')
      return true
    },
    /**
     * Replace the set of instance URLs (service discovery: a headless Service's DNS names every
     * pod). An instance that stays keeps its state (an ejected pod stays ejected), a new one starts
     * healthy, a removed one is never picked again. The array is changed in place, so readers of
     * `instances` see the new set.
     */
    replaceUrls(urls: readonly string[]): void {
      if (urls.length === 0) throw new Error('an upstream needs at least one instance')
      const kept = new Map(instances.map((instance) => [instance.url, instance]))
      const next = [...new Set(urls)].map(
        (url): Instance =>
          kept.get(url) ?? {
            url,
            host: new URL(url).host,
            index: 0,
            state: 'healthy',
            consecutiveFailures: 0,
            ejections: 0,
            ejectedUntil: 0,
            probeInFlight: false,
          },
      )
      // `index` is readonly to callers; here it is renumbered to the instance's new place.
      for (const [index, instance] of next.entries()) Object.assign(instance, { index })
      instances.splice(0, instances.length, ...next)
      maxEjected = Math.floor((instances.length * maxEjectionPercent) / 100)
      cursor %= instances.length
    },
  }
}
