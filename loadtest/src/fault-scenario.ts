// Fault scenarios: a JSON file describing when which service gets which faults, played by the
// load generator alongside the load (`--scenario FILE`), so one command reproduces an incident to
// look at in Grafana. The file:
//
//   { "name": "slow-dependency", "description": "what this teaches", "seed": 42, "duration": "3m",
//     "watch": ["what to look at in Grafana", ...],
//     "steps": [ { "at": "30s", "service": "catalog", "faults": { "latency": { "min_ms": 500, "max_ms": 500 } },
//                  "for": "60s", "jitter": "5s", "repeat": { "every": "90s", "times": 3 }, "note": "..." } ] }
//
// A step turns its faults on at `at` (plus up to `jitter`, drawn from the run's seed) for `for`
// (until the end when absent), `repeat.times` times in all, `repeat.every` apart. The admin API
// replaces a service's whole set of faults, so the player composes: a service gets the faults it
// had before the run, overridden kind by kind by each step that is on (the later step wins). When
// the run ends or is stopped, every service the scenario touched gets its faults from before the
// run back, so what the scenario turned on is off again.

import type { AnnotationLog, FaultAnnotation } from './annotations.ts'
import { parseDuration, UsageError } from './duration.ts'
import { type FaultClient, type FaultSettings, faultProblems, SERVICES, type ServiceName } from './faults.ts'
import { createRandom } from './random.ts'
import type { SetTimer, Timeline } from './runner.ts'

export interface ScenarioStep {
  service: ServiceName
  faults: FaultSettings
  atMs: number
  /** How long the faults stay on; until the end of the run when absent. */
  forMs?: number
  /** The start moves later by up to this much, drawn from the run's seed. */
  jitterMs: number
  repeat?: { everyMs: number; times: number }
  note?: string
}

/** Where an alert must be while the fault is on: firing, pending but never firing, or quiet throughout. */
export type AlertState = 'firing' | 'pending' | 'quiet'

export interface AlertSignal {
  alert: string
  /** Labels the alert must carry (the rest may be anything). */
  labels: Record<string, string>
  becomes: AlertState
  /** How soon after the fault's first start it gets there (firing, pending). */
  withinMs: number
  /** How soon after the fault's last end it is inactive again; unchecked when absent. */
  clearsWithinMs?: number
  note?: string
}

/** `> 0.45`, `< 0.2`, `== 0`: a PromQL result's every sample compared to a number. */
export interface Comparison {
  op: '>' | '<' | '>=' | '<=' | '=='
  value: number
}

export interface MetricSignal {
  expr: string
  before?: Comparison
  /** Reached at some moment within `withinMs` of the fault's start. */
  during?: Comparison
  /** Held at every look from `withinMs` after the fault's start to its end. */
  throughout?: Comparison
  after?: Comparison
  withinMs: number
  /** The Grafana panel that shows it: "Dashboard > Row > Panel". */
  panel?: string
  note?: string
}

export interface SpanSignal {
  spans: { service: ServiceName; attribute?: string; event?: string }
  note?: string
}

export type Signal = AlertSignal | MetricSignal | SpanSignal

export interface Scenario {
  name: string
  description: string
  /** What to look at in Grafana while it plays. */
  watch: string[]
  seed?: number
  /** The run time the scenario is written for (the default for --run-time). */
  durationMs?: number
  /**
   * The open-model arrival rate it is written for, requests per second (the default for --rate):
   * what it shows needs that much traffic (a retry budget only bites with calls in flight).
   */
  rate?: number
  steps: ScenarioStep[]
  /** What the scenario must make visible (checked by e2e/scenario-signals.test.ts). */
  signals: Signal[]
  /**
   * How many instances of a service it is written for (`CATALOG_SERVICE_URL=a,b`); its faults go
   * to the first, the one --catalog-host names. One of each when absent.
   */
  instances?: Partial<Record<ServiceName, number>>
  /**
   * Environment variables a service must be started with for the scenario to show what it says
   * (`{"gateway": {"RETRY_BUDGET_RATIO": "off"}}`): the stack it needs. The generator cannot start
   * services, so it says so (scenarioNeeds); the signal test starts a matching stack.
   */
  env?: Partial<Record<ServiceName, Record<string, string>>>
}

/** A bad scenario file: bad usage, so the CLI exits 2 with every problem listed. */
export class ScenarioError extends UsageError {
  override name = 'ScenarioError'
}

const TOP_KEYS = [
  'name',
  'description',
  'watch',
  'seed',
  'duration',
  'rate',
  'steps',
  'signals',
  'instances',
  'env',
]
const ENV_NAME = /^[A-Z][A-Z0-9_]*$/
const ALERT_KEYS = ['alert', 'labels', 'becomes', 'within', 'clears_within', 'note']
const METRIC_KEYS = ['expr', 'before', 'during', 'throughout', 'after', 'within', 'panel', 'note']
const SPAN_KEYS = ['spans', 'note']
const ALERT_STATES: readonly AlertState[] = ['firing', 'pending', 'quiet']
const COMPARISON = /^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/
const STEP_KEYS = ['at', 'service', 'faults', 'for', 'jitter', 'repeat', 'note']

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A scenario from parsed JSON; throws a ScenarioError listing every problem, each with its path. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const problems: string[] = []
  const fail = (message: string) => {
    throw new ScenarioError(`${source}: ${message}`)
  }
  if (!isObject(value)) return fail('must be a JSON object with name, description and steps')

  const unknown = (object: Record<string, unknown>, allowed: string[], at: string) => {
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key)) problems.push(`${at}${key} is not a field (${allowed.join(', ')})`)
    }
  }
  const text = (v: unknown, at: string, required: boolean): string | undefined => {
    if (v === undefined && !required) return undefined
    if (typeof v === 'string' && v.trim() !== '') return v
    problems.push(`${at} must be a non-empty string`)
    return undefined
  }
  const duration = (v: unknown, at: string, { required = false, positive = false } = {}) => {
    if (v === undefined) {
      if (required) problems.push(`${at} is required (e.g. "30s")`)
      return undefined
    }
    let ms: number | undefined
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) ms = Math.round(v * 1000)
    else if (typeof v === 'string') {
      try {
        ms = parseDuration(v)
      } catch {
        ms = undefined
      }
    }
    if (ms === undefined)
      problems.push(`${at} must be a duration like "30s", "2m" or "500ms", got ${JSON.stringify(v)}`)
    else if (positive && ms <= 0) problems.push(`${at} must be above 0`)
    return ms
  }

  unknown(value, TOP_KEYS, '')
  const name = text(value.name, 'name', true) ?? ''
  const description = text(value.description, 'description', true) ?? ''
  let watch: string[] = []
  if (value.watch !== undefined) {
    if (Array.isArray(value.watch) && value.watch.every((w) => typeof w === 'string')) watch = value.watch
    else problems.push('watch must be a list of strings')
  }
  let seed: number | undefined
  if (value.seed !== undefined) {
    if (typeof value.seed === 'number' && Number.isInteger(value.seed) && value.seed >= 0)
      seed = value.seed >>> 0
    else problems.push(`seed must be a whole number, got ${JSON.stringify(value.seed)}`)
  }
  const durationMs = duration(value.duration, 'duration', { positive: true })
  const rate = value.rate
  if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && rate <= 10_000)) {
    problems.push(`rate must be a number of requests per second from 0 to 10000, got ${JSON.stringify(rate)}`)
  }

  const steps: ScenarioStep[] = []
  if (!Array.isArray(value.steps) || value.steps.length === 0) {
    problems.push('steps must be a non-empty list')
  } else {
    value.steps.forEach((raw: unknown, index) => {
      const at = `steps[${index}]`
      if (!isObject(raw)) {
        problems.push(`${at} must be an object`)
        return
      }
      unknown(raw, STEP_KEYS, `${at}.`)
      const service = raw.service as ServiceName
      if (!SERVICES.includes(service)) {
        problems.push(
          `${at}.service must be one of ${SERVICES.join(', ')}, got ${JSON.stringify(raw.service)}`,
        )
      }
      const faultIssues = faultProblems(
        raw.faults,
        SERVICES.includes(service) ? service : undefined,
        `${at}.faults`,
      )
      problems.push(...faultIssues.map((issue) => `${issue.path} ${issue.message}`))
      if (isObject(raw.faults) && Object.keys(raw.faults).length === 0) {
        problems.push(`${at}.faults is empty: name at least one fault to turn on`)
      }
      const atMs = duration(raw.at, `${at}.at`, { required: true })
      const forMs = duration(raw.for, `${at}.for`, { positive: true })
      const jitterMs = duration(raw.jitter, `${at}.jitter`) ?? 0
      let repeat: ScenarioStep['repeat']
      if (raw.repeat !== undefined) {
        if (!isObject(raw.repeat)) problems.push(`${at}.repeat must be {"every": "30s", "times": 3}`)
        else {
          unknown(raw.repeat, ['every', 'times'], `${at}.repeat.`)
          const everyMs = duration(raw.repeat.every, `${at}.repeat.every`, { required: true, positive: true })
          const times = raw.repeat.times
          if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
            problems.push(`${at}.repeat.times must be a whole number from 1, got ${JSON.stringify(times)}`)
          } else if (everyMs !== undefined) {
            repeat = { everyMs, times }
            if (forMs === undefined)
              problems.push(`${at}.repeat needs "for": a fault that never ends cannot repeat`)
            else if (forMs + jitterMs >= everyMs) {
              problems.push(`${at}.for plus jitter must be shorter than repeat.every, or the repeats overlap`)
            }
          }
        }
      }
      const note = text(raw.note, `${at}.note`, false)
      if (atMs === undefined || faultIssues.length > 0) return
      steps.push({
        service,
        faults: raw.faults as FaultSettings,
        atMs,
        jitterMs,
        ...(forMs === undefined ? {} : { forMs }),
        ...(repeat ? { repeat } : {}),
        ...(note ? { note } : {}),
      })
    })
  }
  /** An object from service names to values that each pass `valid`. */
  const perService = (given: unknown, valid: (v: unknown) => boolean) =>
    isObject(given) &&
    Object.entries(given).every(([service, v]) => SERVICES.includes(service as ServiceName) && valid(v))
  let instances: Scenario['instances']
  if (value.instances !== undefined) {
    if (perService(value.instances, (n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 4))
      instances = value.instances as Scenario['instances']
    else problems.push(`instances must map services (${SERVICES.join(', ')}) to a whole number from 1 to 4`)
  }
  let env: Scenario['env']
  if (value.env !== undefined) {
    const variables = (vars: unknown) =>
      isObject(vars) &&
      Object.entries(vars).every(([name, v]) => ENV_NAME.test(name) && typeof v === 'string')
    if (perService(value.env, variables)) env = value.env as Scenario['env']
    else
      problems.push(
        `env must map services (${SERVICES.join(', ')}) to variables, like {"gateway": {"RETRY_BUDGET_RATIO": "off"}}`,
      )
  }
  const signals: Signal[] = []
  if (value.signals !== undefined && !Array.isArray(value.signals)) problems.push('signals must be a list')
  const comparison = (v: unknown, at: string): Comparison | undefined => {
    if (v === undefined) return undefined
    const match = typeof v === 'string' ? COMPARISON.exec(v) : null
    if (!match) {
      problems.push(`${at} must be a comparison like "> 0.45" or "== 0", got ${JSON.stringify(v)}`)
      return undefined
    }
    return { op: match[1] as Comparison['op'], value: Number(match[2]) }
  }
  ;(Array.isArray(value.signals) ? value.signals : []).forEach((raw: unknown, index) => {
    const at = `signals[${index}]`
    if (!isObject(raw)) {
      problems.push(`${at} must be an object`)
      return
    }
    const note = text(raw.note, `${at}.note`, false)
    const notePart = note ? { note } : {}
    if ('alert' in raw) {
      unknown(raw, ALERT_KEYS, `${at}.`)
      const alert = text(raw.alert, `${at}.alert`, true)
      const becomes = raw.becomes as AlertState
      if (!ALERT_STATES.includes(becomes)) {
        problems.push(
          `${at}.becomes must be one of ${ALERT_STATES.join(', ')}, got ${JSON.stringify(becomes)}`,
        )
      }
      const labels = raw.labels ?? {}
      if (!isObject(labels) || !Object.values(labels).every((l) => typeof l === 'string')) {
        problems.push(`${at}.labels must be an object of label values`)
      }
      const withinMs =
        duration(raw.within, `${at}.within`, { required: becomes !== 'quiet', positive: true }) ?? 0
      const clearsWithinMs = duration(raw.clears_within, `${at}.clears_within`, { positive: true })
      if (alert) {
        signals.push({
          alert,
          labels: labels as Record<string, string>,
          becomes,
          withinMs,
          ...(clearsWithinMs === undefined ? {} : { clearsWithinMs }),
          ...notePart,
        })
      }
    } else if ('expr' in raw) {
      unknown(raw, METRIC_KEYS, `${at}.`)
      const expr = text(raw.expr, `${at}.expr`, true)
      const phases = {
        before: comparison(raw.before, `${at}.before`),
        during: comparison(raw.during, `${at}.during`),
        throughout: comparison(raw.throughout, `${at}.throughout`),
        after: comparison(raw.after, `${at}.after`),
      }
      if (!Object.values(phases).some(Boolean)) {
        problems.push(`${at} needs at least one of before, during, throughout, after`)
      }
      const withinMs = duration(raw.within, `${at}.within`, { required: true, positive: true }) ?? 0
      const panel = text(raw.panel, `${at}.panel`, false)
      if (expr) {
        signals.push({
          expr,
          ...Object.fromEntries(Object.entries(phases).filter(([, c]) => c)),
          withinMs,
          ...(panel ? { panel } : {}),
          ...notePart,
        })
      }
    } else if ('spans' in raw) {
      unknown(raw, SPAN_KEYS, `${at}.`)
      const spans = raw.spans
      if (!isObject(spans) || !SERVICES.includes(spans.service as ServiceName)) {
        problems.push(`${at}.spans.service must be one of ${SERVICES.join(', ')}`)
      } else if (typeof spans.attribute !== 'string' && typeof spans.event !== 'string') {
        problems.push(`${at}.spans needs an attribute or an event name`)
      } else {
        unknown(spans, ['service', 'attribute', 'event'], `${at}.spans.`)
        signals.push({
          spans: {
            service: spans.service as ServiceName,
            ...(typeof spans.attribute === 'string' ? { attribute: spans.attribute } : {}),
            ...(typeof spans.event === 'string' ? { event: spans.event } : {}),
          },
          ...notePart,
        })
      }
    } else {
      problems.push(`${at} must name an alert, an expr or spans`)
    }
  })
  if (problems.length > 0) fail(problems.length === 1 ? String(problems[0]) : `\n  ${problems.join('\n  ')}`)
  return {
    name,
    description,
    watch,
    steps,
    signals,
    ...(instances ? { instances } : {}),
    ...(env ? { env } : {}),
    ...(seed === undefined ? {} : { seed }),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(typeof rate === 'number' ? { rate } : {}),
  }
}

/**
 * What the scenario needs of the stack beyond one default instance of each service, as a line to
 * show before it plays ("gateway started with RETRY_BUDGET_RATIO=off"); undefined when nothing.
 */
export function scenarioNeeds(scenario: Pick<Scenario, 'instances' | 'env'>): string | undefined {
  const needs = [
    ...Object.entries(scenario.instances ?? {})
      .filter(([, n]) => n > 1)
      .map(([service, n]) => `${n} ${service} instances`),
    ...Object.entries(scenario.env ?? {}).map(
      ([service, vars]) =>
        `${service} started with ${Object.entries(vars)
          .map(([name, v]) => `${name}=${v}`)
          .join(' ')}`,
    ),
  ]
  return needs.length > 0 ? needs.join(', ') : undefined
}

/** Read and validate a scenario file. */
export async function loadScenario(path: string): Promise<Scenario> {
  const file = Bun.file(path)
  if (!(await file.exists())) throw new ScenarioError(`scenario ${path}: no such file`)
  let value: unknown
  try {
    value = JSON.parse(await file.text())
  } catch (error) {
    throw new ScenarioError(
      `scenario ${path} is not valid JSON: ${error instanceof Error ? error.message : error}`,
    )
  }
  return parseScenario(value, `scenario ${path}`)
}

/** One interval during which a step's faults are on. */
export interface FaultWindow {
  step: number
  service: ServiceName
  faults: FaultSettings
  startMs: number
  endMs?: number
  note?: string
}

/** Every window of the scenario, in start order; jitter comes from `random` (the run's seed). */
export function planScenario(scenario: Scenario, random: () => number): FaultWindow[] {
  const windows: FaultWindow[] = []
  scenario.steps.forEach((step, index) => {
    const times = step.repeat?.times ?? 1
    for (let i = 0; i < times; i++) {
      const startMs = step.atMs + i * (step.repeat?.everyMs ?? 0) + Math.round(random() * step.jitterMs)
      windows.push({
        step: index,
        service: step.service,
        faults: step.faults,
        startMs,
        ...(step.forMs === undefined ? {} : { endMs: startMs + step.forMs }),
        ...(step.note ? { note: step.note } : {}),
      })
    }
  })
  // Stable: steps starting together keep their order in the file, so the later one wins.
  return windows.sort((a, b) => a.startMs - b.startMs)
}

/** The windows a run with `seed` plays (the player's own draw), e.g. for a test to know when to look. */
export function scenarioWindows(scenario: Scenario, seed: number): FaultWindow[] {
  return planScenario(scenario, jitterRandom(seed))
}

// Salted, so the jitter is not the same stream as the traffic's first choices.
const jitterRandom = (seed: number) => createRandom((seed ^ 0x5ce7a210) >>> 0)

/**
 * The same scenario with every time multiplied by `scale` (0.1: ten times faster): its steps'
 * start, length, jitter and repeats, its duration, and its signals' deadlines. Fault strengths
 * stay as they are (a leak of 100 MB a minute still leaks 100 MB a minute), so a scaled run of a
 * leak holds less memory. Prometheus's windows must be scaled alike (e2e/prometheus.ts).
 */
export function scaleScenario(scenario: Scenario, scale: number): Scenario {
  if (!(scale > 0)) throw new ScenarioError(`the time scale must be above 0, got ${scale}`)
  const by = (ms: number) => Math.round(ms * scale)
  return {
    ...scenario,
    ...(scenario.durationMs === undefined ? {} : { durationMs: by(scenario.durationMs) }),
    steps: scenario.steps.map((step) => ({
      ...step,
      atMs: by(step.atMs),
      jitterMs: by(step.jitterMs),
      ...(step.forMs === undefined ? {} : { forMs: by(step.forMs) }),
      ...(step.repeat ? { repeat: { ...step.repeat, everyMs: by(step.repeat.everyMs) } } : {}),
    })),
    signals: scenario.signals.map((signal) => {
      if ('spans' in signal) return signal
      const scaled = { ...signal, withinMs: by(signal.withinMs) }
      if ('alert' in scaled && scaled.clearsWithinMs !== undefined)
        scaled.clearsWithinMs = by(scaled.clearsWithinMs)
      if ('expr' in scaled) scaled.expr = scalePromqlDurations(scaled.expr, scale)
      return scaled
    }),
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `[5m]` → `[30s]` at 0.1, `offset 1h` alike: PromQL's durations multiplied by `scale`, in ms. */
export function scalePromqlDurations(expr: string, scale: number): string {
  const scaleOne = (text: string) => {
    if (text === '') return ''
    let ms = 0
    for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g))
      ms += Number(n) * (UNIT_MS[unit ?? ''] ?? 1)
    return `${Math.max(1, Math.round(ms * scale))}ms`
  }
  return expr
    .replace(
      /\[([0-9smhd]+)(:[0-9smhd]*)?\]/g,
      (_, range: string, step = '') => `[${scaleOne(range)}${step ? `:${scaleOne(step.slice(1))}` : ''}]`,
    )
    .replace(/offset\s+([0-9smhd]+)/g, (_, d: string) => `offset ${scaleOne(d)}`)
}

/** The end of the scenario's last scheduled change, for a warning when the run is shorter. */
export function scenarioLengthMs(scenario: Scenario): number {
  return Math.max(0, ...planScenario(scenario, () => 1).map((w) => w.endMs ?? w.startMs))
}

export interface ScenarioPlayerOptions {
  scenario: Scenario
  client: Pick<FaultClient, 'get' | 'set'>
  now?: () => number
  setTimer?: SetTimer
  /** Where the player says what it does ("+30.0s cart: database ... on"). */
  log?: (line: string) => void
}

const defaultSetTimer: SetTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms)
  return () => clearTimeout(timer)
}

/** Plays a scenario during one run: the runner calls start when the run starts and stop at its end. */
export function createScenarioPlayer(options: ScenarioPlayerOptions): Timeline {
  const {
    scenario,
    client,
    now = () => performance.now(),
    setTimer = defaultSetTimer,
    log = () => {},
  } = options
  const services = [...new Set(scenario.steps.map((s) => s.service))]
  const baseline = new Map<ServiceName, FaultSettings>()
  const active: Array<{ window: FaultWindow; annotation: FaultAnnotation }> = []
  const touched = new Set<ServiceName>()
  const queues = new Map<ServiceName, Promise<void>>()
  const cancels: Array<() => void> = []
  let ready: Promise<void> = Promise.resolve()
  let annotations: AnnotationLog | undefined
  let startedAt = 0
  let stopped = false
  let stopping: Promise<void> | undefined

  const stamp = () => `+${((now() - startedAt) / 1000).toFixed(1)}s`
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

  /** Changes to one service go out one at a time, in order. */
  function enqueue(service: ServiceName, work: () => Promise<void>): Promise<void> {
    const next = (queues.get(service) ?? ready).then(work)
    queues.set(service, next)
    return next
  }

  function compose(service: ServiceName): FaultSettings {
    const faults: FaultSettings = { ...baseline.get(service) }
    for (const { window } of active) if (window.service === service) Object.assign(faults, window.faults)
    return faults
  }

  function apply(service: ServiceName, cause?: FaultAnnotation): void {
    touched.add(service)
    void enqueue(service, async () => {
      if (stopped) return
      try {
        await client.set(service, compose(service))
      } catch (error) {
        log(`${stamp()} ${service}: the change was refused: ${message(error)}`)
        if (cause && annotations) annotations.fail(cause, message(error))
      }
    })
  }

  function open(window: FaultWindow): void {
    if (stopped || !annotations) return
    const annotation = annotations.begin({
      service: window.service,
      source: 'scenario',
      faults: window.faults,
      ...(window.note ? { note: window.note } : {}),
    })
    active.push({ window, annotation })
    log(`${stamp()} ${window.service}: ${annotation.label} on${window.note ? ` (${window.note})` : ''}`)
    apply(window.service, annotation)
  }

  function close(window: FaultWindow): void {
    if (stopped) return
    const index = active.findIndex((a) => a.window === window)
    const entry = active[index]
    if (!entry) return
    active.splice(index, 1)
    annotations?.end(entry.annotation)
    log(`${stamp()} ${window.service}: ${entry.annotation.label} off`)
    apply(window.service)
  }

  return {
    name: scenario.name,
    description: scenario.description,

    start(run) {
      annotations = run.annotations
      startedAt = now()
      const windows = scenarioWindows(scenario, run.seed)
      ready = Promise.all(
        services.map(async (service) => {
          try {
            baseline.set(service, (await client.get(service)).faults)
          } catch (error) {
            baseline.set(service, {})
            log(
              `${service}: could not read its faults before the run (${message(error)}); it will end with none`,
            )
          }
        }),
      ).then(() => {})
      for (const window of windows) {
        cancels.push(setTimer(() => open(window), window.startMs))
        if (window.endMs !== undefined) cancels.push(setTimer(() => close(window), window.endMs))
      }
    },

    stop() {
      stopping ??= (async () => {
        stopped = true
        for (const cancel of cancels) cancel()
        for (const { annotation } of active) annotations?.end(annotation)
        active.length = 0
        await Promise.all(
          [...touched].map((service) =>
            enqueue(service, async () => {
              try {
                await client.set(service, baseline.get(service) ?? {})
              } catch (error) {
                log(`${service}: could not turn the scenario's faults off: ${message(error)}`)
              }
            }),
          ),
        )
        if (touched.size > 0) log(`scenario faults off on ${[...touched].join(', ')}`)
      })()
      return stopping
    },
  }
}
