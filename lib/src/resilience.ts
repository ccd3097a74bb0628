// Client-side resilience for calls to upstream services, after Envoy's defaults
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier,
// .../circuit_breaking and the retry policy docs):
// - a retry budget: retries in flight may be at most 20% of requests in flight (with a floor of 3;
//   the share is configurable, and 'off' removes the budget to show what it prevents),
//   so when an upstream is down, retries cannot multiply the load on what is left of it. A retry
//   that finds no room waits for a slot, at most one try's time (the burst of an instance dying
//   under load is over in milliseconds), and gives up when its wait ends;
// - jittered exponential backoff between tries (full jitter: a uniform draw up to 25 ms · 2^n,
//   capped at 250 ms), so retries from many clients do not arrive in step;
// - passive health (outlier detection) per instance: after 5 consecutive failures an instance is
//   ejected for 3 s × the number of times it has been ejected (capped), then lets one probe
//   request through (half-open); success brings it back, failure ejects it again. At most half of
//   an upstream's instances are ejected at once, and a single instance never is;
// - round-robin over the instances that are not ejected, skipping ones a request already tried;
// - readiness per instance (Envoy's active health checking): an instance whose readiness check
//   fails, or that said it is going away (`Connection: close` while it drains), is not chosen
//   until a check passes again. With active checks on, an ejected instance is brought back by a
//   passing check once its time is served, never by a client's request (no half-open probe);
// - the retry decision as one pure function (decideRetry): a try that never reached the server
//   (connection refused) or a failed half-open probe is retried on another instance outside the
//   budget, at most once per other instance; everything else retryable comes out of the budget.
// Clocks and randomness are parameters, so every test is exact.

/** Breaker-style state of one instance; the numbers are what the state gauge reports. */
export const INSTANCE_STATE = { healthy: 0, probing: 1, ejected: 2 } as const
export type InstanceState = keyof typeof INSTANCE_STATE

export interface RetryBudgetOptions {
  /**
   * Retries in flight as a share (0 to 1) of requests in flight (Envoy: 20%); 'off' allows every
   * retry (no budget: to show the retry storm the budget holds back).
   */
  ratio?: number | 'off'
  /** Retries always allowed in flight, however few requests there are (Envoy: 3). */
  minRetries?: number
}

export type RetryBudget = ReturnType<typeof createRetryBudget>

export function createRetryBudget(options: RetryBudgetOptions = {}) {
  const { ratio = 0.2, minRetries = 3 } = options
  // A number outside 0..1 (NaN, Infinity) would make `allowed` NaN, and every retry pass by accident.
  if (ratio !== 'off' && !(ratio >= 0 && ratio <= 1)) {
    throw new RangeError(`a retry budget ratio is a number from 0 to 1 or 'off', got ${ratio}`)
  }
  let requests = 0
  let retries = 0
  const allowed = () =>
    ratio === 'off' ? Number.MAX_SAFE_INTEGER : Math.max(minRetries, Math.floor(requests * ratio))
  /** Retries waiting for a slot, first come first served. */
  const waiting: Array<() => void> = []
  return {
    requestStarted(): void {
      requests++
    },
    requestFinished(): void {
      requests = Math.max(0, requests - 1)
    },
    /** Take a retry slot if the budget allows one now; release it with retryFinished(). */
    tryRetry(): boolean {
      if (waiting.length > 0 || retries >= allowed()) return false
      retries++
      return true
    },
    /**
     * Take a retry slot now, or wait for one until `giveUp` settles; true when one was taken
     * (release it with retryFinished()).
     */
    async acquire(giveUp: Promise<unknown>): Promise<boolean> {
      if (this.tryRetry()) return true
      let grant = () => {}
      const granted = new Promise<boolean>((resolve) => {
        grant = () => resolve(true)
      })
      waiting.push(grant)
      const taken = await Promise.race([granted, giveUp.then(() => false)])
      if (taken) return true
      const at = waiting.indexOf(grant)
      // Not waiting any more: a slot was handed over just as the wait ended; it is ours.
      if (at === -1) return true
      waiting.splice(at, 1)
      return false
    },
    retryFinished(): void {
      retries = Math.max(0, retries - 1)
      // A freed slot goes to the retry that has waited longest, if the budget still has room.
      if (waiting.length > 0 && retries < allowed()) {
        retries++
        waiting.shift()?.()
      }
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
  /**
   * Readiness is checked actively (checked() is called on an interval): an ejected instance then
   * comes back through a passing check, so no client request is spent probing it.
   */
  activeChecks?: boolean
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
  /**
   * True when every instance was ejected, unready (or tried) and an unhealthy or unready one is used
   * anyway (panic).
   */
  panic: boolean
}

export type InstancePool = ReturnType<typeof createInstancePool>

export function createInstancePool(urls: readonly string[], options: InstancePoolOptions = {}) {
  const {
    consecutiveFailures = 5,
    baseEjectionMs = 3000,
    maxEjectionMs = 30_000,
    maxEjectionPercent = 50,
    activeChecks = false,
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

  /**
   * When each instance may be chosen again: absent when ready, Infinity until a readiness check
   * passes. Kept here rather than on the instance, so an instance made anywhere starts ready.
   */
  const unreadyUntil = new WeakMap<Instance, number>()
  const readyAt = (instance: Instance) => unreadyUntil.get(instance) ?? 0

  /**
   * Usable now: ready, and healthy or (without active checks) ejected with its time served and no
   * probe out yet (half-open).
   */
  const available = (instance: Instance, at: number) =>
    at >= readyAt(instance) &&
    (instance.state === 'healthy' ||
      (!activeChecks && !instance.probeInFlight && at >= instance.ejectedUntil))

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
      const panic = instance.state !== 'healthy' || at < readyAt(instance)
      return { instance, state: instance.state, panic }
    },
    /** Ready and not ejected: what a readiness check reports, and the ready gauge. */
    isReady(instance: Instance): boolean {
      return instance.state === 'healthy' && now() >= readyAt(instance)
    },
    /**
     * The instance said it is going away (it drains): not chosen for a while — until a readiness
     * check passes, or one ejection time when no checks run.
     */
    goingAway(instance: Instance): void {
      unreadyUntil.set(instance, Math.max(readyAt(instance), now() + baseEjectionMs))
    },
    /** Record an active readiness check: a pass readies the instance (and ends a served ejection). */
    checked(instance: Instance, ok: boolean): void {
      if (!ok) {
        unreadyUntil.set(instance, Number.POSITIVE_INFINITY)
        return
      }
      unreadyUntil.delete(instance)
      if (instance.state !== 'healthy' && now() >= instance.ejectedUntil) {
        instance.consecutiveFailures = 0
        instance.probeInFlight = false
        setState(instance, 'healthy')
      }
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

/** Why a try may be retried: what became of it. */
export type RetryReason = 'connect_failure' | 'timeout' | 'status_502' | 'status_503'

/** What one try came to, as far as retrying it is concerned. */
export interface TryOutcome {
  /** Why it could be retried; undefined for an answer (2xx-4xx, 500, 504...) that is the answer. */
  reason: RetryReason | undefined
  /** The connection was refused: not one byte of the request reached the server. */
  unsent: boolean
  /** The instance was tried as a half-open probe (ejected, its time served). */
  probe: boolean
}

export interface RetryState {
  /** May the request be sent twice (GET, HEAD, a write with an Idempotency-Key)? */
  idempotent: boolean
  /** Budgeted retries already sent for this call. */
  retries: number
  maxRetries: number
  /** Instances this call has not tried yet. */
  untried: number
  /** Clock, the call's deadline, and the backoff a budgeted retry would wait (ms). */
  now: number
  deadline: number
  backoffMs: number
  /** Least time worth sending a try with (ms). */
  minTryMs: number
}

/** Free retries never spend the budget and need no backoff: another instance is tried at once. */
export type FreeRetryReason = 'connect_refused' | 'probe_failure'

export type RetryDecision =
  | { action: 'retry'; budgeted: false; reason: FreeRetryReason; delayMs: 0 }
  | { action: 'retry'; budgeted: true; reason: RetryReason; delayMs: number }
  | { action: 'stop'; why: 'answered' | 'not_idempotent' | 'max_retries' | 'out_of_time' }

/**
 * What to do after a try, as a pure function of what became of it and where the call stands.
 * - A refused connection is safe to send elsewhere whatever the method (nothing was sent); so is a
 *   failed half-open probe of an idempotent request (the probe is the client's way of finding the
 *   instance back, and should not cost it its request). Both go to an instance not yet tried, at
 *   once, outside the budget — bounded by the number of other instances.
 * - Anything else retryable is retried only for idempotent requests, up to maxRetries, after a
 *   backoff, if the deadline leaves time for it; the caller then asks the budget for a slot.
 */
export function decideRetry(outcome: TryOutcome, state: RetryState): RetryDecision {
  const { reason, unsent, probe } = outcome
  if (reason === undefined) return { action: 'stop', why: 'answered' }
  const outOfTime = (delayMs: number) => state.now + delayMs + state.minTryMs >= state.deadline
  if (state.untried > 0 && (unsent || (probe && state.idempotent))) {
    if (outOfTime(0)) return { action: 'stop', why: 'out_of_time' }
    return {
      action: 'retry',
      budgeted: false,
      reason: unsent ? 'connect_refused' : 'probe_failure',
      delayMs: 0,
    }
  }
  if (!state.idempotent) return { action: 'stop', why: 'not_idempotent' }
  if (state.retries >= state.maxRetries) return { action: 'stop', why: 'max_retries' }
  if (outOfTime(state.backoffMs)) return { action: 'stop', why: 'out_of_time' }
  return { action: 'retry', budgeted: true, reason, delayMs: state.backoffMs }
}
