// The load runner: drives users and records what happens, in one of two models.
// - Closed (Locust's): `users` virtual users, each sending a request, waiting for the answer,
//   thinking, and again; spawned at `spawnRate` per second. Load drops when the system slows.
// - Open (`rate`): requests arrive at a constant rate whether or not earlier ones have returned,
//   as real visitors do. Latency is measured from each request's *intended* send time, so a stall
//   shows up in every request queued behind it (no coordinated omission, as in wrk2). A cap on
//   requests in flight bounds memory; requests over the cap wait, their latency clock running.
// Metrics pollers run as closed users in both models. Every run ends by itself: after `runTimeMs`
// or `maxRequests`, or when stopped; then in-flight requests get `stopTimeoutMs` to finish.

import { defaultUrl } from '@shopstack/contracts/services'
import { type AnnotationLog, createAnnotationLog, type FaultAnnotation } from './annotations.ts'
import type { ThinkTime } from './duration.ts'
import { createRandom } from './random.ts'
import {
  createEcommerceUserFactory,
  createMetricsUserFactory,
  createPopularity,
  type EcommerceWeights,
  type Hosts,
  type ScenarioContext,
  type Step,
  type UserBehaviour,
  type UserFactory,
} from './scenarios.ts'
import { createStats, type FailureExample, type SeriesPoint, type StatsSnapshot } from './stats.ts'

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>
/** Run `fn` after `ms`; returns a function that cancels it. */
export type SetTimer = (fn: () => void, ms: number) => () => void

/**
 * Something that plays alongside a run (a fault scenario): started with the run, stopped once
 * when it ends or is stopped; the run's end waits for `stop` (its faults turned off again).
 */
export interface Timeline {
  readonly name: string
  readonly description: string
  start(run: { seed: number; annotations: AnnotationLog }): void
  stop(): Promise<void>
}

export type RunState = 'ready' | 'spawning' | 'running' | 'stopping' | 'stopped'
export type EndReason = 'duration' | 'max-requests' | 'stopped'

export interface RunnerOptions {
  hosts?: Partial<Hosts>
  /** Closed model: e-commerce users to reach. */
  users?: number
  /** Closed model: users started per second. */
  spawnRate?: number
  /** Open model when above 0: requests per second. */
  rate?: number
  runTimeMs?: number
  /** Stop after this many requests (0: no limit). */
  maxRequests?: number
  thinkTime?: ThinkTime
  metricsUsers?: number
  metricsIntervalMs?: number
  weights?: EcommerceWeights
  seed?: number
  /** How long a stopping run waits for requests in flight before aborting them. */
  stopTimeoutMs?: number
  /** Open model: most requests in flight at once. */
  maxInFlight?: number
  /** Time-series resolution. */
  tickMs?: number
  createUser?: UserFactory
  createMetricsUser?: UserFactory
  /** A fault scenario to play during the run. */
  timeline?: Timeline
  fetch?: Fetch
  /** Monotonic clock in milliseconds. */
  now?: () => number
  /** Wall clock (epoch milliseconds), for the report's timestamps. */
  wallClock?: () => number
  setTimer?: SetTimer
  uuid?: () => string
  runId?: string
}

export interface RunStatus {
  state: RunState
  model: 'closed' | 'open'
  users: number
  target_users: number
  rate: number
  in_flight: number
  issued: number
  elapsed_s: number
  run_time_s: number
}

export interface RunResult {
  /** "running" for a report taken while the run goes on. */
  reason: EndReason | 'running'
  model: 'closed' | 'open'
  seed: number
  started_at: string
  ended_at: string
  snapshot: StatsSnapshot
  series: SeriesPoint[]
  /** When faults were on (from a scenario or the web UI's Faults panel). */
  annotations: FaultAnnotation[]
  scenario?: { name: string; description: string }
}

export type Runner = ReturnType<typeof createRunner>

const defaultSetTimer: SetTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms)
  return () => clearTimeout(timer)
}

interface ActiveUser {
  behaviour: UserBehaviour
  retired: boolean
}

export function createRunner(options: RunnerOptions = {}) {
  const {
    hosts: hostOptions = {},
    spawnRate = 10,
    runTimeMs = 60_000,
    maxRequests = 0,
    thinkTime = { minMs: 1000, maxMs: 3000 },
    metricsUsers = 1,
    metricsIntervalMs = 1000,
    weights = { browse: 70, cart: 30 },
    seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 1,
    stopTimeoutMs = 5000,
    maxInFlight = 10_000,
    tickMs = 1000,
    createUser = createEcommerceUserFactory(weights),
    createMetricsUser = createMetricsUserFactory(metricsIntervalMs),
    fetch: fetchFn = fetch,
    now = () => performance.now(),
    wallClock = () => Date.now(),
    setTimer = defaultSetTimer,
    uuid = () => crypto.randomUUID(),
    runId = `${Date.now().toString(36)}${seed.toString(36)}`,
    timeline,
  } = options
  const hosts: Hosts = {
    gateway: hostOptions.gateway ?? defaultUrl('gateway'),
    catalog: hostOptions.catalog ?? defaultUrl('catalog'),
    cart: hostOptions.cart ?? defaultUrl('cart'),
  }
  const model = (options.rate ?? 0) > 0 ? ('open' as const) : ('closed' as const)
  let rate = options.rate ?? 0
  let targetUsers = options.users ?? 10

  const stats = createStats({ now })
  const annotations = createAnnotationLog(() => stats.elapsedSeconds())
  let timelineStopped: Promise<void> = Promise.resolve()
  const context: ScenarioContext = {
    stats,
    random: createRandom(seed),
    hosts,
    uuid,
    runId,
    thinkTime,
    popularity: createPopularity(),
  }

  let state: RunState = 'ready'
  let running = false
  let abandoned = false
  let issued = 0
  let inFlight = 0
  let startedAt = 0
  let startedWall = 0
  let spawning = false
  let rateChanged = false
  let userIndex = 0
  const users: ActiveUser[] = []
  const pollers: ActiveUser[] = []
  const idle: UserBehaviour[] = []
  const pauses = new Set<() => void>()
  let resolveDone: (result: RunResult) => void = () => {}
  const done = new Promise<RunResult>((resolve) => {
    resolveDone = resolve
  })

  /** A wait that ends early when the run stops. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (!running) return resolve()
      const wake = () => {
        pauses.delete(wake)
        cancel()
        resolve()
      }
      const cancel = setTimer(wake, ms)
      pauses.add(wake)
    })
  }

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      setTimer(resolve, ms)
    })

  /** Send one step; latency counts from `intended` (its planned send time). The hot path. */
  async function send(step: Step, intended: number): Promise<boolean> {
    inFlight++
    const endpoint = step.endpoint
    try {
      const response = await fetchFn(step.url, step.init)
      // Answers that arrive after a stop gave up on them belong to no run.
      if (abandoned) {
        await response.body?.cancel()
        return false
      }
      if (response.status < 400) {
        // Read the body: the connection goes back to the pool only once it is consumed.
        await response.text()
        stats.success(endpoint, now() - intended)
        return true
      }
      const body = await response.text()
      stats.failure(
        endpoint,
        now() - intended,
        httpCause(response, body),
        exampleOf(step.url, response.headers),
        response.status,
      )
      return false
    } catch (error) {
      if (!abandoned) {
        stats.failure(endpoint, now() - intended, networkCause(error), {
          url: step.url,
          at_s: round3(stats.elapsedSeconds()),
        })
      }
      return false
    } finally {
      inFlight--
    }
  }

  function exampleOf(url: string, headers: Headers): FailureExample {
    const example: FailureExample = { url, at_s: round3(stats.elapsedSeconds()) }
    // W3C Trace Context `traceresponse`: version-traceid-spanid-flags.
    const [, traceId, , flags] = headers.get('traceresponse')?.split('-') ?? []
    if (traceId) example.trace_id = traceId
    if (traceId && flags) example.trace_recorded = (Number.parseInt(flags, 16) & 1) === 1
    const requestId = headers.get('x-request-id')
    if (requestId) example.request_id = requestId
    return example
  }

  const limitReached = () => maxRequests > 0 && issued >= maxRequests

  async function userLoop(user: ActiveUser): Promise<void> {
    const behaviour = user.behaviour
    while (running && !user.retired) {
      if (limitReached()) return finish('max-requests')
      const step = behaviour.next()
      issued++
      const ok = await send(step, now())
      step.done?.(ok)
      const think = behaviour.thinkMs()
      if (think > 0 && running) await pause(think)
    }
  }

  function startUser(list: ActiveUser[], factory: UserFactory): void {
    const user: ActiveUser = { behaviour: factory(context, userIndex++), retired: false }
    list.push(user)
    void userLoop(user)
  }

  async function spawnLoop(): Promise<void> {
    if (spawning) return
    spawning = true
    state = 'spawning'
    while (running && users.length < targetUsers) {
      startUser(users, createUser)
      if (users.length < targetUsers) await pause(1000 / spawnRate)
    }
    spawning = false
    if (running) state = 'running'
  }

  async function arrivalLoop(): Promise<void> {
    let anchor = now()
    let sent = 0
    let current = rate
    // Wake often enough to send on time at low rates without spinning at high ones.
    while (running) {
      if (rateChanged) {
        rateChanged = false
        anchor = now()
        sent = 0
        current = rate
      }
      const due = Math.floor(((now() - anchor) * current) / 1000) + 1
      while (sent < due && inFlight < maxInFlight) {
        if (limitReached()) return finish('max-requests')
        arrive(anchor + (sent * 1000) / current)
        sent++
      }
      await pause(Math.min(10, Math.max(1, 1000 / current)))
    }
  }

  function arrive(intended: number): void {
    const behaviour = idle.pop() ?? createUser(context, userIndex++)
    const step = behaviour.next()
    issued++
    void send(step, intended).then((ok) => {
      step.done?.(ok)
      // Back to the pool only now: one virtual user never has two requests in flight.
      idle.push(behaviour)
    })
  }

  async function tickLoop(): Promise<void> {
    let next = startedAt + tickMs
    while (running) {
      await pause(Math.max(0, next - now()))
      if (!running) return
      next += tickMs
      stats.tick(activeUsers(), inFlight)
    }
  }

  function activeUsers(): number {
    const ecommerce = model === 'open' ? userIndex - pollers.length : users.length
    return ecommerce + pollers.length
  }

  function finish(reason: EndReason): void {
    if (!running) return
    running = false
    state = 'stopping'
    for (const wake of [...pauses]) wake()
    // Faults go off at once, while requests in flight drain; the run ends when both are done.
    if (timeline) timelineStopped = timeline.stop().catch(() => {})
    void drain(reason)
  }

  async function drain(reason: EndReason): Promise<void> {
    const deadline = now() + stopTimeoutMs
    while (inFlight > 0 && now() < deadline) await wait(10)
    // Past the stop timeout, requests still out are abandoned rather than aborted: an
    // AbortSignal on every request would halve the generator's throughput.
    if (inFlight > 0) abandoned = true
    await timelineStopped
    stats.end()
    stats.tick(activeUsers(), inFlight)
    state = 'stopped'
    resolveDone(resultOf(reason))
  }

  function resultOf(reason: RunResult['reason']): RunResult {
    return {
      reason,
      model,
      seed,
      started_at: new Date(startedWall).toISOString(),
      ended_at: new Date(wallClock()).toISOString(),
      snapshot: stats.snapshot(),
      series: [...stats.series],
      annotations: annotations.list(),
      // A timeline without a name (the web UI's restore at the end) is no scenario.
      ...(timeline?.name ? { scenario: { name: timeline.name, description: timeline.description } } : {}),
    }
  }

  return {
    stats,
    done,
    /** Fault changes made during the run; the web UI's Faults panel adds its own. */
    annotations,
    get state() {
      return state
    },

    start(): void {
      if (state !== 'ready') throw new Error(`a run can start once; this one is ${state}`)
      running = true
      state = 'running'
      startedAt = now()
      startedWall = wallClock()
      stats.begin()
      timeline?.start({ seed, annotations })
      void pause(runTimeMs).then(() => finish('duration'))
      void tickLoop()
      for (let i = 0; i < metricsUsers; i++) startUser(pollers, createMetricsUser)
      if (model === 'open') void arrivalLoop()
      else void spawnLoop()
    },

    /** Stop now; resolves once in-flight requests have finished (or been aborted). */
    stop(): Promise<RunResult> {
      if (state === 'ready') {
        running = true
        startedAt = now()
        startedWall = wallClock()
        stats.begin()
      }
      finish('stopped')
      return done
    },

    /** Closed model: change the number of e-commerce users while running. */
    setUsers(count: number): void {
      if (model !== 'closed') throw new Error('users apply to the closed model; change the rate instead')
      targetUsers = Math.max(0, Math.floor(count))
      while (users.length > targetUsers) {
        const user = users.pop()
        if (user) user.retired = true
      }
      if (running && users.length < targetUsers) void spawnLoop()
    },

    /** Open model: change the arrival rate while running. */
    setRate(perSecond: number): void {
      if (model !== 'open') throw new Error('a rate applies to the open model; change the users instead')
      if (!(perSecond > 0)) throw new Error('the rate must be above 0')
      rate = perSecond
      rateChanged = true
    },

    /** The results so far, for a report downloaded while the run goes on. */
    partialResult(): RunResult {
      return resultOf('running')
    },

    status(): RunStatus {
      const elapsed = state === 'ready' ? 0 : stats.elapsedSeconds()
      return {
        state,
        model,
        users: activeUsers(),
        target_users: model === 'closed' ? targetUsers : 0,
        rate,
        in_flight: inFlight,
        issued,
        elapsed_s: round3(elapsed),
        run_time_s: runTimeMs / 1000,
      }
    },
  }
}

/** "404 Not Found" from the problem+json title when there is one: stable across requests. */
function httpCause(response: Response, body: string): string {
  let title: unknown
  if (response.headers.get('content-type')?.includes('json')) {
    try {
      title = (JSON.parse(body) as { title?: unknown }).title
    } catch {
      // Not JSON after all: fall back to the status text.
    }
  }
  const text = typeof title === 'string' && title ? title : response.statusText || 'error'
  return `${response.status} ${text}`
}

function networkCause(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const message = error.message.length > 120 ? `${error.message.slice(0, 117)}...` : error.message
    return `network: ${typeof code === 'string' ? code : error.name}: ${message}`
  }
  return `network: ${String(error)}`
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000
}
