// Faults you can steer while the service runs. Each service holds its current fault settings,
// initialised from the environment (the original ShopStack's simulated database behaviour), and
// read and changed at run time through /admin/faults (admin.ts).
//
// Kinds, each optionally limited to one route template:
// - database: the simulated store latency and write failure rate (the original's simulation);
// - latency: added to each matching request;
// - error: answer a chosen 5xx status at a rate;
// - hang: hold a matching request without answering (bounded), as a stuck dependency would;
// - cpu_burn: spin the CPU for a while on each matching request;
// - memory_leak: retain memory at a steady pace up to a bound, released when turned off;
// - readiness: fail the readiness check;
// - upstream_unreachable (gateway): treat an upstream as down.
//
// Every change is logged and exported as `shopstack_fault_active{kind}` (its strength, 0 when
// off); every injection is counted in `simulated_faults_total{kind}` and marked on the span.
//
// The settings the service started with are its baseline (the database simulation, unless
// SIMULATION=off): not a fault, but the behaviour it is configured to have. The state says which
// kinds differ from it (`beyond_baseline`), and `reset` goes back to it; `clear` turns even the
// baseline off.

import { beyondBaseline, type FaultSettings, type FaultState } from '@shopstack/contracts/faults'
import { Elysia } from 'elysia'
import type { SimulationConfig } from './config.ts'
import { HttpError } from './errors.ts'
import { telemetryOf } from './plugins/request-context.ts'
import { createSimulation, type Simulation } from './simulation.ts'
import type { Logger } from './telemetry/logger.ts'
import type { Metrics } from './telemetry/metrics.ts'
import { type FieldError, InvalidInputError } from './validation.ts'

type FaultKind = Exclude<keyof FaultSettings, 'database'> | 'database_latency' | 'database_failure'

export interface FaultsOptions {
  service: string
  /** The database simulation at start (from SIM_LATENCY_MS / SIM_FAILURE_RATE). */
  database?: SimulationConfig
  metrics: Metrics
  logger: Logger
  /** Upstream names this service calls; `upstream_unreachable` must name one. */
  upstreams?: readonly string[]
  random?: () => number
  sleep?: (ms: number) => Promise<unknown>
  now?: () => number
  /** How often the memory leak grows, in milliseconds. */
  leakTickMs?: number
}

export type Faults = ReturnType<typeof createFaults>

export function createFaults(options: FaultsOptions) {
  const {
    service,
    database = { latencyMs: [0, 0], failureRate: 0 },
    metrics,
    logger,
    upstreams = [],
    random = Math.random,
    sleep = Bun.sleep,
    now = () => performance.now(),
    leakTickMs = 1000,
  } = options

  const baseline: FaultSettings = fromSimulation(database)
  let settings: FaultSettings = structuredClone(baseline)
  const active = metrics.gauge(
    'shopstack_fault_active',
    'Active faults by kind, as their strength (0 = off).',
    ['kind'],
  )
  const leaked: Uint8Array[] = []
  let leakedBytes = 0
  let leakTimer: ReturnType<typeof setInterval> | undefined
  const leakedGauge = metrics.gauge(
    'shopstack_fault_leaked_bytes',
    'Memory held by the memory-leak fault.',
    [],
  )
  leakedGauge.set(0)

  const simulation: Simulation = createSimulation({
    random,
    sleep,
    faults: metrics.simulatedFaults,
    current: () => ({
      latencyMs: [settings.database?.latency_min_ms ?? 0, settings.database?.latency_max_ms ?? 0],
      failureRate: settings.database?.failure_rate ?? 0,
    }),
  })

  function publish() {
    const strengths: Record<FaultKind, number> = {
      database_latency: settings.database?.latency_max_ms ?? 0,
      database_failure: settings.database?.failure_rate ?? 0,
      latency: settings.latency?.max_ms ?? 0,
      error: settings.error?.rate ?? 0,
      hang: settings.hang?.rate ?? 0,
      cpu_burn: settings.cpu_burn?.ms ?? 0,
      memory_leak: settings.memory_leak?.mb_per_minute ?? 0,
      readiness: settings.readiness?.fail ? 1 : 0,
      upstream_unreachable: settings.upstream_unreachable ? 1 : 0,
    }
    for (const [kind, strength] of Object.entries(strengths)) active.set({ kind }, strength)
  }

  function restartLeak() {
    clearInterval(leakTimer)
    leakTimer = undefined
    const leak = settings.memory_leak
    if (!leak || leak.mb_per_minute === 0) {
      // Turning the leak off releases what it held.
      leaked.length = 0
      leakedBytes = 0
      leakedGauge.set(0)
      return
    }
    const bytesPerTick = Math.round((leak.mb_per_minute * 1_048_576 * leakTickMs) / 60_000)
    const limit = leak.max_mb * 1_048_576
    leakTimer = setInterval(() => {
      const grow = Math.min(bytesPerTick, limit - leakedBytes)
      if (grow <= 0) return
      // Filled, so the pages are really resident, not just reserved.
      leaked.push(new Uint8Array(grow).fill(1))
      leakedBytes += grow
      leakedGauge.set(leakedBytes)
    }, leakTickMs)
    leakTimer.unref()
  }

  function set(next: FaultSettings, reason = 'admin') {
    // What the schema cannot say: bounds that depend on each other, and this service's upstreams.
    const problems: FieldError[] = []
    const refuse = (path: string, message: string) => problems.push({ in: 'body', path, message })
    if (next.database && next.database.latency_min_ms > next.database.latency_max_ms) {
      refuse('database.latency_min_ms', 'must not exceed database.latency_max_ms')
    }
    if (next.latency && next.latency.min_ms > next.latency.max_ms) {
      refuse('latency.min_ms', 'must not exceed latency.max_ms')
    }
    if (next.upstream_unreachable && !upstreams.includes(next.upstream_unreachable.upstream)) {
      if (upstreams.length) refuse('upstream_unreachable.upstream', `must be one of ${upstreams.join(', ')}`)
      else refuse('upstream_unreachable', `is not allowed: ${service} calls no upstream`)
    }
    if (problems.length) throw new InvalidInputError(problems)
    const previous = settings
    settings = structuredClone(next)
    publish()
    if (JSON.stringify(previous.memory_leak) !== JSON.stringify(settings.memory_leak)) restartLeak()
    logger.warn({ faults: settings, previous, reason }, 'faults changed')
  }

  const matches = (route: string, fault: { route?: string } | undefined): boolean =>
    fault !== undefined && (fault.route === undefined || fault.route === route)

  /** Applied before each matched handler; requests refused by validation never get here. */
  async function inject(request: Request, route: string): Promise<void> {
    const span = telemetryOf(request).span
    const { latency, error, hang, cpu_burn: burn } = settings
    if (matches(route, latency) && latency) {
      const ms = Math.round(latency.min_ms + random() * (latency.max_ms - latency.min_ms))
      metrics.simulatedFaults.inc({ kind: 'latency' })
      span?.setAttribute('shopstack.fault.latency_ms', ms)
      await sleep(ms)
    }
    if (matches(route, burn) && burn && burn.ms > 0) {
      metrics.simulatedFaults.inc({ kind: 'cpu_burn' })
      span?.setAttribute('shopstack.fault.cpu_burn_ms', burn.ms)
      const until = now() + burn.ms
      while (now() < until) {
        // Busy on purpose: this fault is about CPU, not time.
      }
    }
    if (matches(route, hang) && hang && random() < hang.rate) {
      const ms = hang.ms ?? 30_000
      metrics.simulatedFaults.inc({ kind: 'hang' })
      span?.addEvent('shopstack.fault.hang', { 'shopstack.fault.hang_ms': ms })
      await sleep(ms)
      throw new HttpError(504, `Simulated hang: no answer for ${ms} ms`, { simulated: true })
    }
    if (matches(route, error) && error && random() < error.rate) {
      const status = error.status ?? 500
      metrics.simulatedFaults.inc({ kind: 'error' })
      span?.addEvent('shopstack.fault.error', { 'http.response.status_code': status })
      throw new HttpError(status, `Simulated ${status} error`, { simulated: true })
    }
  }

  publish()

  return {
    service,
    simulation,
    get: (): FaultState => ({
      service,
      faults: structuredClone(settings),
      baseline: structuredClone(baseline),
      beyond_baseline: beyondBaseline(settings, baseline),
      leaked_bytes: leakedBytes,
    }),
    set,
    /** Everything off, the database simulation included. */
    clear: () => set({}, 'cleared'),
    /** Back to the baseline: every fault off, the configured database simulation on. */
    reset: () => set(baseline, 'reset to baseline'),
    /** Readiness check: fails while the readiness fault is on. */
    readiness: () => {
      if (settings.readiness?.fail) throw new Error('readiness fault injected')
    },
    /** True while `upstream_unreachable` names this upstream (the gateway refuses to call it). */
    isUnreachable: (upstream: string): boolean => settings.upstream_unreachable?.upstream === upstream,
    /** The Elysia plugin that injects request faults; mount it in the app. */
    plugin: () =>
      new Elysia({ name: '@shopstack/faults', seed: service }).onBeforeHandle(
        { as: 'global' },
        async function injectFaults({ request, route }) {
          // Fast path: nothing to do for most requests in most runs.
          if (!settings.latency && !settings.error && !settings.hang && !settings.cpu_burn) return
          if (route.startsWith('/admin/')) return
          await inject(request, route)
        },
      ),
    stop: () => {
      clearInterval(leakTimer)
      leaked.length = 0
      leakedBytes = 0
    },
  }
}

function fromSimulation(database: SimulationConfig): FaultSettings {
  const [min, max] = database.latencyMs
  if (max === 0 && database.failureRate === 0) return {}
  return { database: { latency_min_ms: min, latency_max_ms: max, failure_rate: database.failureRate } }
}
