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

export interface Scenario {
  name: string
  description: string
  /** What to look at in Grafana while it plays. */
  watch: string[]
  seed?: number
  /** The run time the scenario is written for (the default for --run-time). */
  durationMs?: number
  steps: ScenarioStep[]
}

/** A bad scenario file: bad usage, so the CLI exits 2 with every problem listed. */
export class ScenarioError extends UsageError {
  override name = 'ScenarioError'
}

const TOP_KEYS = ['name', 'description', 'watch', 'seed', 'duration', 'steps']
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
  if (problems.length > 0) fail(problems.length === 1 ? String(problems[0]) : `\n  ${problems.join('\n  ')}`)
  return {
    name,
    description,
    watch,
    steps,
    ...(seed === undefined ? {} : { seed }),
    ...(durationMs === undefined ? {} : { durationMs }),
  }
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
      // Salted, so the jitter is not the same stream as the traffic's first choices.
      const windows = planScenario(scenario, createRandom((run.seed ^ 0x5ce7a210) >>> 0))
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
