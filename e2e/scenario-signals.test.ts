// Every shipped fault scenario, played against the real services, holds to the signals it
// declares: a real Prometheus scrapes them with the project's own rule files (their windows and
// `for:` scaled by the same factor as the scenario, never edited), the services export their
// spans over OTLP to a receiver, and the load generator's runner sends the traffic. Each signal is
// checked before the fault (nothing yet), while it is on (the alert fires or goes pending in time,
// the metric moves, the spans carry the fault) and after it (quiet again), and every service ends
// with the faults it had before the run. SCENARIO_TIME_SCALE (default 1/15) sets the pace.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAnnotationLog } from '../loadtest/src/annotations.ts'
import {
  type AlertSignal,
  type Comparison,
  createScenarioPlayer,
  loadScenario,
  type MetricSignal,
  type Scenario,
  type SpanSignal,
  scaleScenario,
  scenarioNeeds,
  scenarioWindows,
} from '../loadtest/src/fault-scenario.ts'
import { createFaultClient, type FaultSettings, SERVICES, type ServiceName } from '../loadtest/src/faults.ts'
import { createRunner } from '../loadtest/src/runner.ts'
import { ROOT, type Stack, startStack, waitFor } from './harness.ts'
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.ts'
import { hasPrometheus, type RunningPrometheus, scaledRuleFiles, startPrometheus } from './prometheus.ts'

const SCALE = Number(Bun.env.SCENARIO_TIME_SCALE ?? 1 / 15)
const SCENARIOS = join(ROOT, 'loadtest', 'scenarios')
const RULES = join(ROOT, 'observability', 'prometheus', 'rules')
/** Traffic before the scenario starts, so every rate has samples. */
const WARM_UP_MS = 4000
const POLL_MS = 400
/** A change reaches the service over HTTP a moment after its planned time. */
const GRACE_MS = 600

/** One shop, its Prometheus and its span receiver, shared by the scenarios written for its shape. */
interface World {
  stack: Stack
  prometheus: RunningPrometheus
  otlp: OtlpReceiver
  dir: string
}

/** The stack a scenario is written for: how many catalogs, and what each service starts with. */
interface Shape {
  catalogs: number
  env: NonNullable<Scenario['env']>
}

const shapeOf = (scenario: Scenario): Shape => ({
  catalogs: scenario.instances?.catalog ?? 1,
  env: scenario.env ?? {},
})

async function startWorld({ catalogs, env }: Shape): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'shopstack-signals-'))
  const otlp = startOtlpReceiver()
  // The database simulation on, as a learner runs it: it is the baseline the faults go on top of.
  const stack = await startStack({
    env: { SIMULATION: 'on', OTLP_ENDPOINT: otlp.url },
    envOf: env,
    catalogInstances: catalogs,
  })
  const rules = readdirSync(RULES).map((file) => join(RULES, file))
  const prometheus = await startPrometheus({
    targets: [stack.gateway, ...stack.catalogs, stack.cart].map((s) => ({ url: s.url })),
    ruleFiles: scaledRuleFiles(rules, SCALE, dir),
    intervalSeconds: 1,
  })
  await prometheus.waitForScrapes(1)
  return { stack, prometheus, otlp, dir }
}

async function stopWorld(world: World | undefined): Promise<void> {
  if (!world) return
  await Promise.all([world.stack.stop(), world.prometheus.stop()])
  world.otlp.stop()
  rmSync(world.dir, { recursive: true, force: true })
}

const describeIf = hasPrometheus ? describe : describe.skip
const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'))
/** Scenarios grouped by the stack they need, each group sharing one (in the order of the files). */
const shapes = new Map<string, { shape: Shape; scenarios: Scenario[] }>()
for (const file of files) {
  const scenario = await loadScenario(join(SCENARIOS, file))
  const shape = shapeOf(scenario)
  const key = JSON.stringify(shape)
  const group = shapes.get(key) ?? { shape, scenarios: [] }
  group.scenarios.push(scenario)
  shapes.set(key, group)
}

for (const { shape, scenarios } of shapes.values()) {
  describeIf(
    `every scenario shows the signals it declares (${scenarioNeeds({ instances: { catalog: shape.catalogs }, env: shape.env }) ?? 'the default stack'})`,
    () => {
      let world: World | undefined
      beforeAll(async () => {
        world = await startWorld(shape)
      }, 30_000)
      afterAll(() => stopWorld(world))

      for (const scenario of scenarios) {
        test(`${scenario.name}: every declared signal, before, during and after`, async () => {
          if (!world) throw new Error('not started')
          expect(await play(world, scenario)).toEqual([])
        }, 120_000)
      }
    },
  )
}

const compare = (value: number, { op, value: limit }: Comparison): boolean =>
  op === '>'
    ? value > limit
    : op === '<'
      ? value < limit
      : op === '>='
        ? value >= limit
        : op === '<='
          ? value <= limit
          : value === limit
const show = (c: Comparison) => `${c.op} ${c.value}`

/** Every sample of `expr` meets `c`, and there is one at least. */
async function holds(
  prometheus: RunningPrometheus,
  expr: string,
  c: Comparison,
): Promise<{ ok: boolean; values: number[] }> {
  const values = (await prometheus.vector(expr)).map((s) => Number(s.value[1]))
  return { ok: values.length > 0 && values.every((v) => compare(v, c)), values }
}

const matches = (labels: Record<string, string>, wanted: Record<string, string>) =>
  Object.entries(wanted).every(([k, v]) => labels[k] === v)

/** The state of the alert a signal names: the worst over the alerts that match its labels. */
async function alertState(
  prometheus: RunningPrometheus,
  signal: AlertSignal,
): Promise<'inactive' | 'pending' | 'firing'> {
  const found = (await prometheus.alerts()).filter(
    (a) => a.labels.alertname === signal.alert && matches(a.labels, signal.labels),
  )
  if (found.some((a) => a.state === 'firing')) return 'firing'
  return found.length ? 'pending' : 'inactive'
}

function spanCarries(otlp: OtlpReceiver, signal: SpanSignal, from: number, to: number): number {
  const { service, attribute, event } = signal.spans
  return otlp.spans.filter(
    (s) =>
      s.service === `shopstack-${service}` &&
      s.startMs >= from &&
      s.startMs < to &&
      (attribute ? attribute in s.attributes : true) &&
      (event ? s.events.includes(event) : true),
  ).length
}

/** Play the scenario at SCALE under load and list every signal it failed to show. */
async function play(world: World, original: Scenario): Promise<string[]> {
  const { stack, prometheus, otlp } = world
  const scenario = scaleScenario(original, SCALE)
  const seed = scenario.seed ?? 1
  const windows = scenarioWindows(scenario, seed)
  const firstStart = Math.min(...windows.map((w) => w.startMs))
  const durationMs = scenario.durationMs ?? Math.max(...windows.map((w) => w.endMs ?? w.startMs))
  const lastEnd = Math.max(...windows.map((w) => w.endMs ?? durationMs))
  const alerts = scenario.signals.filter((s): s is AlertSignal => 'alert' in s)
  const metrics = scenario.signals.filter((s): s is MetricSignal => 'expr' in s)
  const spans = scenario.signals.filter((s): s is SpanSignal => 'spans' in s)
  const settleMs = Math.max(
    0,
    ...metrics.filter((m) => m.after).map((m) => m.withinMs),
    ...alerts.map((a) => a.clearsWithinMs ?? 0),
  )
  const problems: string[] = []
  const client = createFaultClient({
    hosts: { gateway: stack.gateway.url, catalog: stack.catalog.url, cart: stack.cart.url },
  })
  // The alerts this scenario names clear first (a previous scenario's, whose windows are scaled
  // too), so "before" is a quiet shop; one that does not is reported by the before check.
  await waitFor(
    async () =>
      (await Promise.all(alerts.map((a) => alertState(prometheus, a)))).every((s) => s === 'inactive'),
    45_000,
    500,
  ).catch(() => undefined)
  const before = new Map<ServiceName, FaultSettings>()
  for (const service of SERVICES) before.set(service, (await client.get(service)).faults)

  const load = createRunner({
    hosts: { gateway: stack.gateway.url, catalog: stack.catalog.url, cart: stack.cart.url },
    users: 6,
    // A scenario written for an arrival rate gets it (the open model); the rest, six closed users.
    ...(scenario.rate === undefined ? {} : { rate: scenario.rate }),
    spawnRate: 100,
    thinkTime: { minMs: 20, maxMs: 80 },
    metricsUsers: 1,
    metricsIntervalMs: 250,
    runTimeMs: WARM_UP_MS + lastEnd + settleMs + 5000,
    seed,
  })
  load.start()
  await Bun.sleep(WARM_UP_MS)

  // Nothing shows yet.
  for (const signal of metrics) {
    if (!signal.before) continue
    const { ok, values } = await holds(prometheus, signal.expr, signal.before)
    if (!ok) problems.push(`before: ${signal.expr} should be ${show(signal.before)}, is [${values}]`)
  }
  for (const signal of alerts) {
    const state = await alertState(prometheus, signal)
    if (state !== 'inactive') problems.push(`before: ${signal.alert} is ${state} already`)
  }

  const startedWall = Date.now()
  const started = performance.now()
  const player = createScenarioPlayer({ scenario, client })
  player.start({ seed, annotations: createAnnotationLog(() => (performance.now() - started) / 1000) })
  const elapsed = () => performance.now() - started

  const seenDuring = new Map<MetricSignal, number[]>()
  const metDuring = new Set<MetricSignal>()
  const brokeThroughout = new Map<MetricSignal, number[]>()
  const metAfter = new Set<MetricSignal>()
  const reached = new Map<AlertSignal, number>()
  const cleared = new Set<AlertSignal>()
  const states = new Map<AlertSignal, Set<string>>()
  let stopped: Promise<void> | undefined
  while (elapsed() < lastEnd + settleMs + POLL_MS) {
    const now = elapsed()
    if (now >= durationMs) stopped ??= player.stop()
    for (const signal of metrics) {
      if (signal.during && now >= firstStart && now <= firstStart + signal.withinMs + GRACE_MS) {
        const { ok, values } = await holds(prometheus, signal.expr, signal.during)
        if (ok) metDuring.add(signal)
        seenDuring.set(signal, values)
      }
      const steady = now >= firstStart + signal.withinMs && now < lastEnd
      if (signal.throughout && steady && !brokeThroughout.has(signal)) {
        const { ok, values } = await holds(prometheus, signal.expr, signal.throughout)
        if (!ok) brokeThroughout.set(signal, values)
      }
      if (signal.after && now >= lastEnd + GRACE_MS && !metAfter.has(signal)) {
        if ((await holds(prometheus, signal.expr, signal.after)).ok) metAfter.add(signal)
      }
    }
    for (const signal of alerts) {
      const state = await alertState(prometheus, signal)
      const seen = states.get(signal) ?? new Set()
      seen.add(state)
      states.set(signal, seen)
      const wanted = signal.becomes === 'firing' ? state === 'firing' : state !== 'inactive'
      if (signal.becomes !== 'quiet' && wanted && !reached.has(signal)) reached.set(signal, now - firstStart)
      if (signal.clearsWithinMs !== undefined && now >= lastEnd && state === 'inactive') cleared.add(signal)
    }
    await Bun.sleep(POLL_MS)
  }
  await (stopped ?? player.stop())
  await load.stop()

  for (const signal of metrics) {
    if (signal.during && !metDuring.has(signal)) {
      problems.push(
        `during: ${signal.expr} should be ${show(signal.during)} within ${signal.withinMs} ms, was [${seenDuring.get(signal)}]`,
      )
    }
    const broken = brokeThroughout.get(signal)
    if (signal.throughout && broken) {
      problems.push(
        `throughout: ${signal.expr} should stay ${show(signal.throughout)} from ${signal.withinMs} ms into the fault to its end, was [${broken}]`,
      )
    }
    if (signal.after && !metAfter.has(signal)) {
      const { values } = await holds(prometheus, signal.expr, signal.after)
      problems.push(
        `after: ${signal.expr} should be ${show(signal.after)} within ${signal.withinMs} ms, is [${values}]`,
      )
    }
  }
  for (const signal of alerts) {
    const seen = [...(states.get(signal) ?? [])].join(', ')
    const at = reached.get(signal)
    if (signal.becomes === 'quiet' && seen !== 'inactive')
      problems.push(`${signal.alert} should stay quiet, was ${seen}`)
    if (signal.becomes !== 'quiet' && (at === undefined || at > signal.withinMs + GRACE_MS)) {
      problems.push(
        `${signal.alert} should be ${signal.becomes} within ${signal.withinMs} ms, was ${seen}${at === undefined ? '' : ` (after ${Math.round(at)} ms)`}`,
      )
    }
    if (signal.becomes === 'pending' && states.get(signal)?.has('firing')) {
      problems.push(`${signal.alert} should only go pending, but it fired`)
    }
    if (signal.clearsWithinMs !== undefined && !cleared.has(signal)) {
      problems.push(`${signal.alert} should clear within ${signal.clearsWithinMs} ms of the fault's end`)
    }
  }
  // Spans are exported in batches: wait for the last ones. A baseline may make the same marks
  // (the database simulation fails 1% of cart writes), so the test compares rates: the fault's
  // window has at least three times the rate of the time before it and of the time after it.
  await Bun.sleep(1000)
  const endedWall = Date.now() - 1000
  for (const signal of spans) {
    const what = `${signal.spans.service} spans with ${signal.spans.attribute ?? signal.spans.event}`
    const rate = (from: number, to: number) => spanCarries(otlp, signal, from, to) / Math.max(1, to - from)
    const loadStart = startedWall - WARM_UP_MS
    const early = rate(loadStart, startedWall + firstStart)
    const during = rate(startedWall + firstStart, startedWall + lastEnd + GRACE_MS)
    const late = rate(startedWall + lastEnd + GRACE_MS, endedWall)
    const perSecond = (r: number) => `${(r * 1000).toFixed(2)}/s`
    if (during === 0) problems.push(`during: no ${what}`)
    else if (during < 3 * early)
      problems.push(`before: ${what} at ${perSecond(early)}, during ${perSecond(during)}`)
    if (during > 0 && during < 3 * late)
      problems.push(`after: ${what} at ${perSecond(late)}, during ${perSecond(during)}`)
  }
  // The run leaves every service as it found it, the database simulation included.
  for (const service of SERVICES) {
    const faults = (await client.get(service)).faults
    if (JSON.stringify(faults) !== JSON.stringify(before.get(service))) {
      problems.push(
        `after: ${service} ends with ${JSON.stringify(faults)}, began with ${JSON.stringify(before.get(service))}`,
      )
    }
  }
  return problems
}
