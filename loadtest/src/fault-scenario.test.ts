// Fault scenarios: the file format's validation, and the timeline played under virtual time, so
// "on at 10 s, off at 30 s" is checked to the millisecond and the clean-up at the end and on stop
// is exact.

import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAnnotationLog } from './annotations.ts'
import { UsageError } from './duration.ts'
import {
  createScenarioPlayer,
  loadScenario,
  parseScenario,
  planScenario,
  type Scenario,
  ScenarioError,
  scalePromqlDurations,
  scaleScenario,
  scenarioLengthMs,
  scenarioNeeds,
} from './fault-scenario.ts'
import { FaultApiError, type FaultSettings, type FaultState, type ServiceName } from './faults.ts'
import { createRandom } from './random.ts'
import { createRunner } from './runner.ts'
import { createVirtualTime, type VirtualTime } from './testing.ts'

const SCENARIOS = join(import.meta.dir, '..', 'scenarios')

function errorOf(value: unknown): string {
  try {
    parseScenario(value, 'test.json')
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError)
    expect(error).toBeInstanceOf(UsageError)
    return (error as Error).message
  }
  throw new Error('expected the scenario to be refused')
}

describe('scenario files', () => {
  test('a valid file is read with its durations in milliseconds', () => {
    const scenario = parseScenario({
      name: 'demo',
      description: 'what this teaches',
      seed: 42,
      duration: '2m',
      watch: ['the p99'],
      steps: [
        {
          at: '30s',
          service: 'cart',
          faults: { error: { rate: 1, status: 503 } },
          for: '1m',
          jitter: '2s',
          repeat: { every: '90s', times: 2 },
          note: 'errors',
        },
        { at: 5, service: 'catalog', faults: { latency: { min_ms: 500, max_ms: 500 } } },
      ],
    })
    expect(scenario).toEqual({
      name: 'demo',
      description: 'what this teaches',
      seed: 42,
      durationMs: 120_000,
      watch: ['the p99'],
      steps: [
        {
          service: 'cart',
          faults: { error: { rate: 1, status: 503 } },
          atMs: 30_000,
          forMs: 60_000,
          jitterMs: 2000,
          repeat: { everyMs: 90_000, times: 2 },
          note: 'errors',
        },
        { service: 'catalog', faults: { latency: { min_ms: 500, max_ms: 500 } }, atMs: 5000, jitterMs: 0 },
      ],
      signals: [],
    })
  })

  test('signals are read: alerts, metrics with their phases, spans; a bad one is refused at its path', () => {
    const base = {
      name: 'x',
      description: 'y',
      steps: [{ at: '1s', service: 'cart', faults: { readiness: { fail: true } } }],
    }
    const scenario = parseScenario({
      ...base,
      signals: [
        { alert: 'A', labels: { service: 'cart' }, becomes: 'firing', within: '1m', clears_within: '6m' },
        { alert: 'B', becomes: 'quiet' },
        { expr: 'rate(x[5m])', before: '< 0.2', during: '>= 1e-3', within: '30s', panel: 'D > R > P' },
        { spans: { service: 'cart', event: 'shopstack.simulated_failure' }, note: 'why' },
      ],
    })
    expect(scenario.signals).toEqual([
      {
        alert: 'A',
        labels: { service: 'cart' },
        becomes: 'firing',
        withinMs: 60_000,
        clearsWithinMs: 360_000,
      },
      { alert: 'B', labels: {}, becomes: 'quiet', withinMs: 0 },
      {
        expr: 'rate(x[5m])',
        before: { op: '<', value: 0.2 },
        during: { op: '>=', value: 0.001 },
        withinMs: 30_000,
        panel: 'D > R > P',
      },
      { spans: { service: 'cart', event: 'shopstack.simulated_failure' }, note: 'why' },
    ])
    expect(
      errorOf({
        ...base,
        signals: [
          { alert: 'A', becomes: 'loud' },
          { expr: 'x', during: 'above 1', within: '1s' },
          { spans: { service: 'payments' } },
          { metric: 'x' },
        ],
      })
        .split('\n')
        .map((line) => line.trim()),
    ).toEqual([
      'test.json:',
      'signals[0].becomes must be one of firing, pending, quiet, got "loud"',
      'signals[0].within is required (e.g. "30s")',
      'signals[1].during must be a comparison like "> 0.45" or "== 0", got "above 1"',
      'signals[1] needs at least one of before, during, throughout, after',
      'signals[2].spans.service must be one of gateway, catalog, cart',
      'signals[3] must name an alert, an expr or spans',
    ])
  })

  test('a time scale shortens every time of the scenario, its signals and their PromQL windows included', () => {
    const scenario = parseScenario({
      name: 'x',
      description: 'y',
      duration: '2m30s',
      steps: [
        {
          at: '30s',
          service: 'catalog',
          faults: { latency: { min_ms: 500, max_ms: 500 } },
          for: '10s',
          jitter: '5s',
          repeat: { every: '30s', times: 2 },
        },
      ],
      signals: [
        { alert: 'A', becomes: 'pending', within: '1m', clears_within: '6m' },
        {
          expr: 'rate(x[5m]) / rate(x[1h30m] offset 1m) + max_over_time(y[5m:30s])',
          after: '< 1',
          within: '30s',
        },
      ],
    })
    const fast = scaleScenario(scenario, 0.1)
    expect(fast.durationMs).toBe(15_000)
    expect(fast.steps[0]).toMatchObject({
      atMs: 3000,
      forMs: 1000,
      jitterMs: 500,
      repeat: { everyMs: 3000, times: 2 },
    })
    expect(fast.signals).toEqual([
      { alert: 'A', labels: {}, becomes: 'pending', withinMs: 6000, clearsWithinMs: 36_000 },
      {
        expr: 'rate(x[30000ms]) / rate(x[540000ms] offset 6000ms) + max_over_time(y[30000ms:3000ms])',
        after: { op: '<', value: 1 },
        withinMs: 3000,
      },
    ])
    expect(scalePromqlDurations('rate(x[5m])', 1)).toBe('rate(x[300000ms])')
    expect(() => scaleScenario(scenario, 0)).toThrow('the time scale must be above 0')
  })

  test('a bad file is refused with every problem, each at its path', () => {
    const message = errorOf({
      name: '',
      descripton: 'typo',
      seed: -1,
      steps: [
        { at: 'soon', service: 'payments', faults: { error: { rate: 1 } } },
        { at: '10s', service: 'cart', faults: { error: { rate: 1.5 } }, for: '0s' },
        { at: '10s', service: 'cart', faults: { upstream_unreachable: { upstream: 'catalog' } } },
        { at: '10s', service: 'gateway', faults: {}, repeat: { every: '5s', times: 2 } },
        {
          at: '10s',
          service: 'catalog',
          faults: { latency: { min_ms: 1, max_ms: 2 } },
          for: '5s',
          repeat: { every: '5s', times: 0 },
        },
        'not a step',
      ],
    })
    expect(message.split('\n').map((line) => line.trim())).toEqual([
      'test.json:',
      'descripton is not a field (name, description, watch, seed, duration, rate, steps, signals, instances, env)',
      'name must be a non-empty string',
      'description must be a non-empty string',
      'seed must be a whole number, got -1',
      'steps[0].service must be one of gateway, catalog, cart, got "payments"',
      'steps[0].at must be a duration like "30s", "2m" or "500ms", got "soon"',
      'steps[1].faults.error.rate must be a number from 0 to 1',
      'steps[1].for must be above 0',
      'steps[2].faults.upstream_unreachable applies to gateway only, not cart',
      'steps[3].faults is empty: name at least one fault to turn on',
      'steps[3].repeat needs "for": a fault that never ends cannot repeat',
      'steps[4].repeat.times must be a whole number from 1, got 0',
      'steps[5] must be an object',
    ])
    expect(errorOf([])).toBe('test.json: must be a JSON object with name, description and steps')
    expect(errorOf({ name: 'x', description: 'y', steps: [] })).toBe(
      'test.json: steps must be a non-empty list',
    )
    expect(
      errorOf({
        name: 'x',
        description: 'y',
        steps: [
          {
            at: '0s',
            service: 'catalog',
            faults: { readiness: { fail: true } },
            for: '10s',
            jitter: '5s',
            repeat: { every: '15s', times: 2 },
          },
        ],
      }),
    ).toBe('test.json: steps[0].for plus jitter must be shorter than repeat.every, or the repeats overlap')
  })

  test('a file may say the stack it needs: instances, and variables a service starts with', () => {
    const step = { at: '1s', service: 'catalog', faults: { error: { rate: 1 } } }
    const scenario = parseScenario({
      name: 'x',
      description: 'y',
      steps: [step],
      instances: { catalog: 2 },
      env: { gateway: { RETRY_BUDGET_RATIO: 'off' } },
    })
    expect(scenario.env).toEqual({ gateway: { RETRY_BUDGET_RATIO: 'off' } })
    expect(scenarioNeeds(scenario)).toBe('2 catalog instances, gateway started with RETRY_BUDGET_RATIO=off')
    expect(scenarioNeeds(parseScenario({ name: 'x', description: 'y', steps: [step] }))).toBeUndefined()
    const refused =
      'test.json: env must map services (gateway, catalog, cart) to variables, like {"gateway": {"RETRY_BUDGET_RATIO": "off"}}'
    for (const env of [
      { payments: { A: 'b' } },
      { gateway: { A: 1 } },
      { gateway: { 'no-dash': 'x' } },
      ['A=b'],
    ]) {
      expect(errorOf({ name: 'x', description: 'y', steps: [step], env })).toBe(refused)
    }
  })

  test('a file that is not JSON, or not there, says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-scenario-'))
    try {
      const file = join(dir, 'broken.json')
      writeFileSync(file, '{"name": "x",')
      await expect(loadScenario(file)).rejects.toThrow(`scenario ${file} is not valid JSON`)
      await expect(loadScenario(join(dir, 'missing.json'))).rejects.toThrow('missing.json: no such file')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('every shipped scenario is valid, says what it teaches and what to watch, and fits its duration', async () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'))
    expect(files.sort()).toEqual([
      'failing-write-path.json',
      'flapping-instance.json',
      'memory-leak.json',
      'readiness-drain.json',
      'retry-storm-unbudgeted.json',
      'retry-storm.json',
      'slow-dependency.json',
    ])
    for (const file of files) {
      const scenario = await loadScenario(join(SCENARIOS, file))
      expect(scenario.name).toBe(file.replace('.json', ''))
      expect(scenario.description.length).toBeGreaterThan(80)
      expect(scenario.watch.length).toBeGreaterThanOrEqual(3)
      expect(scenario.seed).toBeNumber()
      expect(scenarioLengthMs(scenario)).toBeLessThan(scenario.durationMs ?? 0)
    }
  })
})

/** Every title in the provisioned Grafana dashboards: dashboards, rows and panels. */
function dashboardTitles(): string[] {
  const dir = join(import.meta.dir, '..', '..', 'observability', 'grafana', 'dashboards')
  type Panel = { title?: string; panels?: Panel[] }
  const titles: string[] = []
  const walk = (panels: Panel[] = []) => {
    for (const panel of panels) {
      if (panel.title) titles.push(panel.title)
      walk(panel.panels)
    }
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { title: string; panels?: Panel[] }
    // "ShopStack overview" is also named "overview"-less in prose: "ShopStack overview > …" and
    // "Service drill-down" for "ShopStack service drill-down".
    titles.push(dashboard.title, dashboard.title.replace(/^ShopStack /, ''))
    walk(dashboard.panels)
  }
  return titles.map((t) => t.toLowerCase())
}

/** What a watch hint points at outside Grafana: the console, Tempo's Explore, the run's report. */
const NOT_GRAFANA = /^(console|explore|the load generator)/i

describe("the scenarios' watch hints", () => {
  test('every Grafana place a hint names (dashboard > row > panel) is on a provisioned dashboard', async () => {
    const titles = new Set(dashboardTitles())
    // "Service drill-down ($service = catalog, then gateway)": the parenthesis is a note, unless
    // the title has it ("Upstreams (from the gateway)").
    const known = (place: string) =>
      titles.has(place.toLowerCase()) || titles.has(place.replace(/\s*\([^)]*\)$/, '').toLowerCase())
    const missing: string[] = []
    for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'))) {
      const scenario = await loadScenario(join(SCENARIOS, file))
      const grafana = scenario.watch.filter((hint) => !NOT_GRAFANA.test(hint))
      expect(`${file}: ${grafana.length} Grafana hints`).not.toBe(`${file}: 0 Grafana hints`)
      for (const hint of grafana) {
        // The place is what comes before a ': ' — the first such prefix that names only known
        // titles, since a title may hold ': ' itself ("Resilience: retries, ejections, shedding").
        const prefixes = [...hint.matchAll(/: /g)].map((m) => hint.slice(0, m.index))
        const unknown = (path: string) => path.split(' > ').filter((place) => !known(place))
        // None does: report the reading with the fewest unknown places, the most known ones first.
        const score = (prefix: string) => unknown(prefix).length * 100 - prefix.split(' > ').length
        const path = [...prefixes].sort((a, b) => score(a) - score(b))[0] ?? hint
        for (const place of unknown(path)) missing.push(`${file}: "${place}" in "${path}"`)
      }
      // The console needs no Docker; every scenario says what to see there too.
      expect(scenario.watch.some((hint) => /^console/i.test(hint))).toBe(true)
    }
    expect(missing).toEqual([])
  })
})

/** Each dashboard's title and its panels with the row they sit under (the row before them). */
function dashboardPanels(): Map<string, Array<{ row?: string; title: string }>> {
  const dir = join(import.meta.dir, '..', '..', 'observability', 'grafana', 'dashboards')
  type Panel = { type?: string; title?: string; panels?: Panel[] }
  const byDashboard = new Map<string, Array<{ row?: string; title: string }>>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { title: string; panels?: Panel[] }
    const panels: Array<{ row?: string; title: string }> = []
    let row: string | undefined
    for (const panel of dashboard.panels ?? []) {
      if (panel.type === 'row') {
        row = panel.title
        // A collapsed row holds its panels itself.
        for (const child of panel.panels ?? []) if (child.title) panels.push({ row, title: child.title })
      } else if (panel.title) panels.push({ ...(row ? { row } : {}), title: panel.title })
    }
    byDashboard.set(dashboard.title, panels)
  }
  return byDashboard
}

/** Every alert name in the project's rule files. */
function ruleAlerts(): Set<string> {
  const dir = join(import.meta.dir, '..', '..', 'observability', 'prometheus', 'rules')
  const names = new Set<string>()
  for (const file of readdirSync(dir)) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/^\s*- alert:\s*(\S+)/gm)) {
      if (match[1]) names.add(match[1])
    }
  }
  return names
}

describe("the scenarios' signals", () => {
  test('every panel a signal names is that panel, under that row, on that provisioned dashboard, and every alert is a rule', async () => {
    const dashboards = dashboardPanels()
    const alerts = ruleAlerts()
    const missing: string[] = []
    for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'))) {
      const scenario = await loadScenario(join(SCENARIOS, file))
      expect(`${file}: ${scenario.signals.length} signals`).not.toBe(`${file}: 0 signals`)
      for (const signal of scenario.signals) {
        if ('alert' in signal && !alerts.has(signal.alert)) missing.push(`${file}: alert ${signal.alert}`)
        if (!('panel' in signal) || !signal.panel) continue
        const [dashboard = '', ...rest] = signal.panel.split(' > ')
        const title = rest.at(-1)
        const row = rest.length === 2 ? rest[0] : undefined
        const panels = dashboards.get(dashboard)
        const found = panels?.some((p) => p.title === title && (row === undefined || p.row === row))
        if (rest.length < 1 || rest.length > 2 || !found) missing.push(`${file}: panel "${signal.panel}"`)
      }
      // Something must move while the fault is on, and something must be checked to stay quiet.
      expect(
        scenario.signals.some(
          (s) => ('expr' in s && s.during) || ('alert' in s && s.becomes !== 'quiet') || 'spans' in s,
        ),
      ).toBe(true)
      expect(scenario.signals.some((s) => 'alert' in s && s.becomes === 'quiet')).toBe(true)
    }
    expect(missing).toEqual([])
  })

  test('a panel or alert that does not exist is caught', () => {
    const dashboards = dashboardPanels()
    expect(
      dashboards.get('ShopStack overview')?.some((p) => p.row === 'Runtime' && p.title === 'Resident memory'),
    ).toBe(true)
    expect(
      dashboards.get('ShopStack overview')?.some((p) => p.row === 'Runtime' && p.title === 'Latency p99'),
    ).toBe(false)
    expect(ruleAlerts().has('ShopStackHighLatency')).toBe(true)
    expect(ruleAlerts().has('ShopStackHighLatencyy')).toBe(false)
  })
})

describe('the scenario plan', () => {
  const flapping: Scenario = parseScenario({
    name: 'flap',
    description: 'flaps',
    steps: [
      {
        at: '10s',
        service: 'catalog',
        faults: { readiness: { fail: true } },
        for: '5s',
        jitter: '3s',
        repeat: { every: '20s', times: 3 },
      },
      { at: '12s', service: 'gateway', faults: { upstream_unreachable: { upstream: 'cart' } } },
    ],
  })

  test('repeats a step, jitters its starts from the seed, and orders the windows by start', () => {
    const plan = planScenario(flapping, createRandom(7))
    expect(plan.map((w) => w.service)).toEqual(['catalog', 'gateway', 'catalog', 'catalog'])
    const catalog = plan.filter((w) => w.service === 'catalog')
    catalog.forEach((w, i) => {
      expect(w.startMs).toBeGreaterThanOrEqual(10_000 + i * 20_000)
      expect(w.startMs).toBeLessThanOrEqual(13_000 + i * 20_000)
      expect(w.endMs).toBe(w.startMs + 5000)
    })
    expect(plan[1]).toMatchObject({ startMs: 12_000, service: 'gateway' })
    expect(plan[1]?.endMs).toBeUndefined()
  })

  test('the same seed gives the same plan; another seed another', () => {
    const starts = (seed: number) => planScenario(flapping, createRandom(seed)).map((w) => w.startMs)
    expect(starts(7)).toEqual(starts(7))
    expect(starts(7)).not.toEqual(starts(8))
  })
})

/** A fake admin API: each service's faults, and every PUT with its virtual time. */
function fakeServices(time: VirtualTime, initial: Partial<Record<ServiceName, FaultSettings>> = {}) {
  const faults: Record<ServiceName, FaultSettings> = { gateway: {}, catalog: {}, cart: {}, ...initial }
  const puts: Array<{ at: number; service: ServiceName; faults: FaultSettings }> = []
  const refuse = new Set<string>()
  const state = (service: ServiceName): FaultState => ({
    service,
    faults: structuredClone(faults[service]),
    baseline: {},
    beyond_baseline: Object.keys(faults[service]),
    leaked_bytes: 0,
  })
  return {
    faults,
    puts,
    refuse,
    client: {
      get: async (service: ServiceName) => state(service),
      set: async (service: ServiceName, next: FaultSettings) => {
        if (Object.keys(next).some((kind) => refuse.has(kind))) {
          throw new FaultApiError(service, 422, { title: 'Unprocessable Content', detail: 'refused' })
        }
        puts.push({ at: time.now(), service, faults: structuredClone(next) })
        faults[service] = structuredClone(next)
        return state(service)
      },
    },
  }
}

const timeline: Scenario = parseScenario({
  name: 'timeline',
  description: 'two overlapping steps on the cart, one on the catalog',
  steps: [
    { at: '10s', service: 'cart', faults: { error: { rate: 1, status: 503 } }, for: '20s', note: 'errors' },
    { at: '20s', service: 'cart', faults: { latency: { min_ms: 100, max_ms: 100 } }, for: '5s' },
    { at: '40s', service: 'catalog', faults: { readiness: { fail: true } } },
  ],
})

function play(time: VirtualTime, services: ReturnType<typeof fakeServices>, scenario = timeline) {
  const lines: string[] = []
  const player = createScenarioPlayer({
    scenario,
    client: services.client,
    now: time.now,
    setTimer: time.setTimer,
    log: (line) => lines.push(line),
  })
  const annotations = createAnnotationLog(() => time.now() / 1000)
  player.start({ seed: 1, annotations })
  return { player, annotations, lines }
}

describe('the scenario player, under virtual time', () => {
  const database = { latency_min_ms: 30, latency_max_ms: 90, failure_rate: 0.01 }

  test("switches faults at the right times, on top of the service's own, and restores them at the end", async () => {
    const time = createVirtualTime()
    const services = fakeServices(time, { cart: { database } })
    const { player, annotations } = play(time, services)

    await time.advanceTo(60_000)
    expect(services.puts).toEqual([
      { at: 10_000, service: 'cart', faults: { database, error: { rate: 1, status: 503 } } },
      {
        at: 20_000,
        service: 'cart',
        faults: { database, error: { rate: 1, status: 503 }, latency: { min_ms: 100, max_ms: 100 } },
      },
      { at: 25_000, service: 'cart', faults: { database, error: { rate: 1, status: 503 } } },
      { at: 30_000, service: 'cart', faults: { database } },
      { at: 40_000, service: 'catalog', faults: { readiness: { fail: true } } },
    ])
    expect(annotations.list()).toEqual([
      expect.objectContaining({
        id: 1,
        service: 'cart',
        source: 'scenario',
        start_s: 10,
        end_s: 30,
        note: 'errors',
      }),
      expect.objectContaining({
        id: 2,
        service: 'cart',
        label: 'latency 100–100 ms',
        start_s: 20,
        end_s: 25,
      }),
      expect.objectContaining({ id: 3, service: 'catalog', label: 'readiness failing', start_s: 40 }),
    ])
    expect(annotations.list()[2]?.end_s).toBeUndefined()

    await player.stop()
    // The end: every service the scenario touched has its faults from before the run back.
    expect(services.faults).toEqual({ gateway: {}, catalog: {}, cart: { database } })
    expect(services.puts.slice(5).map((p) => [p.at, p.service])).toEqual(
      expect.arrayContaining([
        [60_000, 'cart'],
        [60_000, 'catalog'],
      ]),
    )
    expect(annotations.list()[2]?.end_s).toBe(60)
  })

  test('a stop in the middle turns the faults off at once and cancels the rest of the timeline', async () => {
    const time = createVirtualTime()
    const services = fakeServices(time)
    const { player, annotations, lines } = play(time, services)
    await time.advanceTo(22_000)
    expect(Object.keys(services.faults.cart)).toEqual(['error', 'latency'])

    await player.stop()
    expect(services.faults).toEqual({ gateway: {}, catalog: {}, cart: {} })
    expect(annotations.open()).toEqual([])
    expect(annotations.list().map((a) => [a.start_s, a.end_s])).toEqual([
      [10, 22],
      [20, 22],
    ])
    const puts = services.puts.length
    await time.advanceTo(100_000)
    expect(services.puts.length).toBe(puts)
    expect(lines).toContain('+10.0s cart: error 100% 503 on (errors)')
    expect(lines.at(-1)).toBe('scenario faults off on cart')
    // Stopping twice does it once.
    await player.stop()
    expect(services.puts.length).toBe(puts)
  })

  test('a change the service refuses is marked on its annotation, and the timeline goes on', async () => {
    const time = createVirtualTime()
    const services = fakeServices(time)
    services.refuse.add('latency')
    const { player, annotations, lines } = play(time, services)
    await time.advanceTo(45_000)
    const [errors, latency, readiness] = annotations.list()
    expect(latency).toMatchObject({ start_s: 20, end_s: 20, error: 'cart: 422 refused' })
    expect(errors).toMatchObject({ start_s: 10, end_s: 30 })
    expect(readiness?.error).toBeUndefined()
    expect(lines).toContain('+20.0s cart: the change was refused: cart: 422 refused')
    await player.stop()
  })

  test('a run with a scenario ends only once the faults are off, by duration or by stop', async () => {
    for (const ending of ['duration', 'stopped'] as const) {
      const time = createVirtualTime()
      const services = fakeServices(time)
      const player = createScenarioPlayer({
        scenario: timeline,
        client: services.client,
        now: time.now,
        setTimer: time.setTimer,
      })
      const run = createRunner({
        now: time.now,
        setTimer: time.setTimer,
        wallClock: () => 0,
        fetch: async () => new Response('ok'),
        createUser: (context) => {
          const endpoint = context.stats.endpoint('gateway', 'GET', '/ping')
          const step = { endpoint, url: 'http://test/ping', init: undefined }
          return { next: () => step, thinkMs: () => 1000 }
        },
        users: 1,
        metricsUsers: 0,
        seed: 1,
        runTimeMs: 35_000,
        timeline: player,
      })
      run.start()
      if (ending === 'stopped') {
        await time.advanceTo(15_000)
        void run.stop()
      }
      await time.advanceTo(50_000)
      const result = await run.done
      expect(result.reason).toBe(ending)
      expect(result.scenario).toEqual({ name: 'timeline', description: timeline.description })
      expect(services.faults).toEqual({ gateway: {}, catalog: {}, cart: {} })
      expect(result.annotations.every((a) => a.end_s !== undefined)).toBe(true)
      expect(result.annotations[0]).toMatchObject({ service: 'cart', start_s: 10 })
      expect(result.annotations.length).toBe(ending === 'stopped' ? 1 : 2)
    }
  })
})
