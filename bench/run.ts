// `bun run bench`: a reproducible throughput, memory and start-up benchmark of the real services.
//
// It starts everything itself on free loopback ports (SIMULATION=off), a local OTLP sink, and an
// nginx in front of the catalog as a yardstick; drives each path with wrk, in interleaved rounds;
// checks the targets of issue #8 as ratios of same-round figures; prints a table; and writes
// bench/results/<timestamp>.json so two commits compare. Method and figures: bench/README.md.
//
//   bun run bench                      # 3 rounds of 5 s per case, 1 s warm-up (about 5 minutes)
//   bun run bench --rounds 5           # more rounds, less noise
//   bun run bench --modes off,full     # skip the plugin mode
//   bun run bench --smoke              # 1 s per case: proves the bench works, measures nothing

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type FloorResult, measureFloors } from './floor.ts'
import { ROOT, type Running, type ServiceName, startNginx, startService } from './processes.ts'
import { type Sink, startSink } from './sink.ts'
import { runWrk, type WrkResult, writeCartAddScript, wrkBinary } from './wrk.ts'

// ---------------------------------------------------------------------------------------------
// What is measured

/**
 * Telemetry modes. Metrics are part of the service and always on.
 * - off: no OTLP endpoint (no tracer at all), LOG_LEVEL=silent.
 * - full: the default lean tracer exporting 100% of spans to the sink, and one JSON log line per
 *   request written to a file.
 * - plugin: as full, with TRACING_MODE=plugin (@elysiajs/opentelemetry makes the server spans).
 */
export type Mode = 'off' | 'full' | 'plugin'
const ALL_MODES: Mode[] = ['off', 'full', 'plugin']

function modeEnv(mode: Mode, sink: Sink): Record<string, string> {
  if (mode === 'off') return { LOG_LEVEL: 'silent', TRACING_MODE: 'lean' }
  return { LOG_LEVEL: 'info', OTLP_ENDPOINT: sink.url, TRACING_MODE: mode === 'plugin' ? 'plugin' : 'lean' }
}

type PathId = 'catalog' | 'gateway-get' | 'gateway-cart-add'
const PATHS: Array<{ id: PathId; label: string; entry: ServiceName }> = [
  { id: 'catalog', label: 'catalog direct GET /catalog/42', entry: 'catalog' },
  { id: 'gateway-get', label: 'gateway → catalog GET /catalog/42', entry: 'gateway' },
  { id: 'gateway-cart-add', label: 'gateway → cart add (→ catalog)', entry: 'gateway' },
]

export interface CaseResult {
  path: PathId | 'nginx-catalog'
  label: string
  mode: Mode
  /** Median over the rounds (the round whose rps is the median gives requests, latencies, errors). */
  rps: number
  /** Requests per second in each round, in round order: ratios pair figures of the same round. */
  roundsRps: number[]
  requests: number
  seconds: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  socketErrors: number
  /** Traced modes: spans one request makes (measured with probe requests before the load). */
  spansPerRequest?: number
  spansExpected?: number
  spansReceived?: number
  /** Growth of otel_spans_dropped_total summed over the services during the case. */
  spansDropped?: number
  /** Lines the entry service logged during the case. */
  logLines?: number
  /** Where a shortfall is: spans received from each service and lines each service logged (its
   * requests, plus a line for each of the bench's /metrics reads) during the case. */
  spansByService?: Record<string, number>
  logLinesByService?: Record<string, number>
  /** Highest VmRSS seen during the case, per service, in MB. */
  rssLoadMb: Record<string, number>
}

export interface BenchResult {
  startedAt: string
  commit: string
  dirty: boolean
  machine: { cpus: number; model: string; loadavg: number[]; bun: string; wrk: string; nginx: string }
  settings: Pick<BenchOptions, 'durationS' | 'warmupS' | 'rounds' | 'threads' | 'connections' | 'modes'>
  cases: CaseResult[]
  /** Idle RSS per mode and service, MB, after start and a few probe requests. */
  rssIdleMb: Record<string, Record<string, number>>
  /** Spawn → /livez 200, ms, per mode and service (every sample, and the median). */
  coldStartMs: Record<string, Record<string, { median: number; samples: number[] }>>
  /** The memory floor (bench/floor.ts) measured in the same run, with the same wrk settings. */
  floor: FloorResult[]
  targets: Target[]
}

export interface Target {
  name: string
  value: number
  limit: string
  pass: boolean
  /** Informational rows (the plugin mode) are shown but are not the issue's targets. */
  info?: boolean
}

// ---------------------------------------------------------------------------------------------
// Running

export interface BenchOptions {
  durationS: number
  warmupS: number
  /** Every case runs this many times, the cases interleaved round by round. */
  rounds: number
  threads: number
  connections: number
  modes: Mode[]
  coldStartRuns: number
  /** Where the JSON goes; a directory gets <timestamp>.json. */
  out: string
  log?: (line: string) => void
}

interface Stack {
  services: Record<ServiceName, Running>
  logs: Record<ServiceName, string>
  stop(): Promise<void>
}

async function startStack(dir: string, env: Record<string, string>): Promise<Stack> {
  mkdirSync(dir, { recursive: true })
  const started: Running[] = []
  const logs = {
    catalog: join(dir, 'catalog.log'),
    cart: join(dir, 'cart.log'),
    gateway: join(dir, 'gateway.log'),
  }
  try {
    const catalog = await startService({
      name: 'catalog',
      env: { ...env, DATABASE_PATH: join(dir, 'catalog.sqlite') },
      logPath: logs.catalog,
    })
    started.push(catalog)
    const cart = await startService({
      name: 'cart',
      env: { ...env, DATABASE_PATH: join(dir, 'cart.sqlite'), CATALOG_SERVICE_URL: catalog.url },
      logPath: logs.cart,
    })
    started.push(cart)
    const gateway = await startService({
      name: 'gateway',
      env: { ...env, CATALOG_SERVICE_URL: catalog.url, CART_SERVICE_URL: cart.url },
      logPath: logs.gateway,
    })
    started.push(gateway)
    return {
      services: { catalog, cart, gateway },
      logs,
      stop: async () => void (await Promise.all(started.map((s) => s.stop()))),
    }
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()))
    throw error
  }
}

const ADD_BODY = JSON.stringify({ cart_id: 'bench-probe', product_id: 7, quantity: 1 })

function requestFor(path: PathId, stack: Stack): Request {
  const { catalog, gateway } = stack.services
  if (path === 'catalog') return new Request(`${catalog.url}/catalog/42`)
  if (path === 'gateway-get') return new Request(`${gateway.url}/catalog/42`)
  return new Request(`${gateway.url}/cart/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: ADD_BODY,
  })
}

async function send(request: Request): Promise<void> {
  const response = await fetch(request)
  await response.arrayBuffer()
  if (!response.ok) throw new Error(`${request.method} ${request.url} answered ${response.status}`)
}

/**
 * The bench reads /metrics with a `traceparent` whose sampled flag is off, so its own requests make
 * no span in any mode (the services follow an unsampled caller, as the plugin's SDK does): the sink
 * counts only spans of the measured requests.
 */
function unsampled(): Record<string, string> {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex')
  return { traceparent: `00-${hex(16)}-${hex(8)}-00` }
}

/** Sum of a metric's samples over the stack's services (0 when a service does not have it). */
async function sumMetric(stack: Stack, name: string): Promise<number> {
  let total = 0
  for (const service of Object.values(stack.services)) {
    const text = await (await fetch(`${service.url}/metrics`, { headers: unsampled() })).text()
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1))
      }
    }
  }
  return total
}

/** Spans not exported: dropped from a full queue or lost with a failed export (otel_spans_dropped_total). */
const droppedSpans = (stack: Stack) => sumMetric(stack, 'otel_spans_dropped_total')
/** Spans ended but not yet accepted by the sink (otel_spans_pending). */
const pendingSpans = (stack: Stack) => sumMetric(stack, 'otel_spans_pending')

function countLines(path: string): number {
  try {
    const bytes = readFileSync(path)
    let lines = 0
    for (const byte of bytes) if (byte === 10) lines++
    return lines
  } catch {
    return 0
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * One case's rounds as one result: rps is the median round's (with that round's latencies and
 * errors); spans and log lines are summed; RSS is the highest seen in any round.
 */
export function combineRounds(rounds: CaseResult[]): CaseResult {
  const first = rounds[0]
  if (!first) throw new Error('a case without rounds')
  const byRps = [...rounds].sort((a, b) => a.rps - b.rps)
  const mid = byRps[(byRps.length - 1) >> 1] as CaseResult
  const rssLoadMb: Record<string, number> = {}
  for (const c of rounds) {
    for (const [name, mb] of Object.entries(c.rssLoadMb)) rssLoadMb[name] = Math.max(rssLoadMb[name] ?? 0, mb)
  }
  const combined: CaseResult = {
    ...mid,
    rps: round(median(rounds.map((c) => c.rps))),
    roundsRps: rounds.map((c) => c.rps),
    requests: rounds.reduce((n, c) => n + c.requests, 0),
    non2xx: rounds.reduce((n, c) => n + c.non2xx, 0),
    socketErrors: rounds.reduce((n, c) => n + c.socketErrors, 0),
    rssLoadMb,
  }
  for (const key of ['spansExpected', 'spansReceived', 'spansDropped', 'logLines'] as const) {
    if (rounds.some((c) => c[key] !== undefined))
      combined[key] = rounds.reduce((n, c) => n + (c[key] ?? 0), 0)
  }
  for (const key of ['spansByService', 'logLinesByService'] as const) {
    if (rounds.some((c) => c[key] !== undefined)) combined[key] = sumRecords(rounds.map((c) => c[key] ?? {}))
  }
  return combined
}

function sumRecords(records: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const record of records) for (const [key, n] of Object.entries(record)) out[key] = (out[key] ?? 0) + n
  return out
}

/** Growth of each count from `before` to `after`. */
function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, n]) => [key, n - (before[key] ?? 0)]))
}

/** Each service's highest RSS under load in a mode, over its cases. */
function peakRss(result: BenchResult, mode: Mode): Record<string, number> {
  const rss: Record<string, number> = {}
  for (const c of result.cases.filter((x) => x.mode === mode)) {
    for (const [name, mb] of Object.entries(c.rssLoadMb)) rss[name] = Math.max(rss[name] ?? 0, mb)
  }
  return rss
}

/** `on` ÷ `base`: the median of the per-round ratios (same-round pairs), or of the medians. */
export function pairedRatio(on: CaseResult, base: CaseResult): number {
  const n = Math.min(on.roundsRps.length, base.roundsRps.length)
  if (n === 0) return on.rps / base.rps
  const ratios = Array.from(
    { length: n },
    (_, i) => (on.roundsRps[i] as number) / (base.roundsRps[i] as number),
  )
  return median(ratios)
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

function sh(command: string[]): string {
  try {
    const out = Bun.spawnSync(command, { stdout: 'pipe', stderr: 'pipe' })
    return `${out.stdout.toString()}${out.stderr.toString()}`.trim()
  } catch {
    return ''
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const {
    durationS,
    warmupS,
    rounds,
    threads,
    connections,
    modes,
    coldStartRuns,
    log = console.log,
  } = options
  if (!wrkBinary()) throw new Error('wrk is not installed (apt-get install wrk); it drives the load')
  const temp = mkdtempSync(join(tmpdir(), 'shopstack-bench-'))
  const sink = startSink()
  const running: Array<{ stop(): Promise<void> }> = []
  const onSignal = () => {
    void Promise.all(running.map((r) => r.stop())).finally(() => {
      sink.stop()
      rmSync(temp, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const result: BenchResult = {
    startedAt: new Date().toISOString(),
    commit: sh(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    dirty: sh(['git', '-C', ROOT, 'status', '--porcelain']).length > 0,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      loadavg: loadavg().map((n) => round(n, 2)),
      bun: Bun.version,
      wrk: sh(['wrk', '--version']).split('\n')[0]?.split(' Copyright')[0] ?? '',
      nginx: sh(['nginx', '-v']),
    },
    settings: { durationS, warmupS, rounds, threads, connections, modes },
    cases: [],
    rssIdleMb: {},
    coldStartMs: {},
    floor: [],
    targets: [],
  }
  const cartAddScript = writeCartAddScript(temp)

  /**
   * Wait until every span the stack has ended is at the sink: the services report none pending
   * (otel_spans_pending), then the sink stays quiet for longer than the services' batch delay
   * (500 ms), so a span that ended just after the last poll has arrived too.
   */
  async function settle(stack: Stack): Promise<void> {
    const deadline = performance.now() + 30_000
    while (performance.now() < deadline && (await pendingSpans(stack)) > 0) await Bun.sleep(700)
    await sink.settle(800)
  }

  /** Spans the sink holds (only measured requests make spans; read right after settle()). */
  const requestSpans = () => sink.spans()

  async function measure(
    label: string,
    url: string,
    processes: Running[],
    isPost: boolean,
  ): Promise<{ wrk: WrkResult; rss: Record<string, number> }> {
    const wrkScript = isPost ? cartAddScript : undefined
    const rss: Record<string, number> = {}
    const sample = () => {
      for (const p of processes) rss[p.name] = Math.max(rss[p.name] ?? 0, p.rssMb())
    }
    log(`  ${label}: ${durationS} s …`)
    const wrk = await runWrk({ url, durationS, threads, connections, script: wrkScript, onTick: sample })
    for (const key of Object.keys(rss)) rss[key] = round(rss[key] as number)
    return { wrk, rss }
  }

  /** One case: what wrk drives, and where its spans and log lines are counted. */
  interface Case {
    path: CaseResult['path']
    label: string
    mode: Mode
    url: string
    isPost: boolean
    processes: Running[]
    stack: Stack
    spansPerRequest?: number
    logPath?: string
  }
  const stacks = new Map<Mode, Stack>()

  try {
    // Every mode's stack runs for the whole measurement, so the rounds below can interleave the
    // cases: a burst of load from elsewhere then hits a case and its baseline alike.
    for (const mode of modes) {
      log(`[${mode}] starting catalog, cart, gateway`)
      const stack = await startStack(join(temp, mode), modeEnv(mode, sink))
      running.push(stack)
      stacks.set(mode, stack)
      // Probe every path once (and warm the connections), then read idle memory.
      for (const path of PATHS) await send(requestFor(path.id, stack))
      await Bun.sleep(200)
      result.rssIdleMb[mode] = Object.fromEntries(
        Object.values(stack.services).map((s) => [s.name, round(s.rssMb())]),
      )
    }

    const cases: Case[] = []
    const offStack = stacks.get('off')
    if (offStack) {
      const nginx = await startNginx(join(temp, 'nginx'), offStack.services.catalog.url).catch((error) => {
        log(`  nginx could not start, skipped: ${error}`)
        return undefined
      })
      if (nginx) {
        running.push(nginx)
        const label = 'nginx → catalog GET /catalog/42'
        const url = `${nginx.url}/catalog/42`
        const processes = [offStack.services.catalog]
        cases.push({
          path: 'nginx-catalog',
          label,
          mode: 'off',
          url,
          isPost: false,
          processes,
          stack: offStack,
        })
      } else {
        log('  nginx is not installed: the nginx yardstick is skipped')
      }
    }
    for (const [mode, stack] of stacks) {
      for (const path of PATHS) {
        const all = Object.values(stack.services)
        const entry: Case = {
          path: path.id,
          label: path.label,
          mode,
          url: requestFor(path.id, stack).url,
          isPost: path.id === 'gateway-cart-add',
          processes: path.entry === 'catalog' ? [stack.services.catalog] : all,
          stack,
          logPath: stack.logs[path.entry],
        }
        if (mode !== 'off') {
          // Spans one request makes, counted at the sink (the sink sees only what was exported).
          await settle(stack)
          const before = requestSpans()
          const probes = 10
          for (let i = 0; i < probes; i++) await send(requestFor(path.id, stack))
          await settle(stack)
          entry.spansPerRequest = round((requestSpans() - before) / probes, 2)
        }
        cases.push(entry)
      }
    }

    const measured = new Map<Case, CaseResult[]>(cases.map((c) => [c, []]))
    for (let r = 1; r <= rounds; r++) {
      log(`\nround ${r} of ${rounds}`)
      for (const c of cases) {
        const traced = c.spansPerRequest !== undefined
        const script = c.isPost ? cartAddScript : undefined
        // Warm up first, then settle so the case counts only its own spans.
        if (warmupS > 0) await runWrk({ url: c.url, durationS: warmupS, threads, connections, script })
        if (traced) await settle(c.stack)
        const spansBefore = requestSpans()
        const droppedBefore = traced ? await droppedSpans(c.stack) : 0
        const linesBefore = c.logPath ? countLines(c.logPath) : 0
        const serviceLines = () =>
          Object.fromEntries(Object.entries(c.stack.logs).map(([name, path]) => [name, countLines(path)]))
        const serviceSpansBefore = sink.spansByService()
        const serviceLinesBefore = serviceLines()
        const { wrk, rss } = await measure(`${c.label} [${c.mode}]`, c.url, c.processes, c.isPost)
        const entry: CaseResult = {
          path: c.path,
          label: c.label,
          mode: c.mode,
          ...wrk,
          roundsRps: [wrk.rps],
          rssLoadMb: rss,
        }
        if (traced && c.spansPerRequest !== undefined) {
          entry.spansPerRequest = c.spansPerRequest
          entry.spansExpected = Math.round(wrk.requests * c.spansPerRequest)
          await settle(c.stack)
          entry.spansReceived = requestSpans() - spansBefore
          entry.spansDropped = (await droppedSpans(c.stack)) - droppedBefore
          await Bun.sleep(300)
          entry.logLines = c.logPath ? countLines(c.logPath) - linesBefore : 0
          entry.spansByService = delta(sink.spansByService(), serviceSpansBefore)
          entry.logLinesByService = delta(serviceLines(), serviceLinesBefore)
        }
        measured.get(c)?.push(entry)
      }
    }
    for (const c of cases) result.cases.push(combineRounds(measured.get(c) ?? []))

    for (const stack of stacks.values()) await stack.stop()
    stacks.clear()

    for (const mode of modes) {
      // Cold start: spawn → /livez 200, with the databases already seeded by the run above.
      log(`[${mode}] cold starts (${coldStartRuns} per service)`)
      result.coldStartMs[mode] = {}
      for (const name of ['catalog', 'cart', 'gateway'] as const) {
        const samples: number[] = []
        for (let i = 0; i < coldStartRuns; i++) {
          const service = await startService({
            name,
            env: {
              ...modeEnv(mode, sink),
              DATABASE_PATH: join(temp, mode, `${name}.sqlite`),
              // Liveness checks no dependency, so the upstreams need not exist.
              CATALOG_SERVICE_URL: 'http://127.0.0.1:9',
              CART_SERVICE_URL: 'http://127.0.0.1:9',
            },
            logPath: join(temp, mode, `${name}-cold.log`),
          })
          samples.push(round(service.readyMs))
          await service.stop()
        }
        result.coldStartMs[mode][name] = { median: round(median(samples)), samples }
      }
    }

    log('memory floor: bare Bun and Elysia proxies under the same load')
    result.floor = await measureFloors({ durationS, threads, connections })
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    sink.stop()
    rmSync(temp, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  result.targets = evaluate(result)
  return result
}

// ---------------------------------------------------------------------------------------------
// Targets (issue #8), as ratios within one run

function find(result: BenchResult, path: CaseResult['path'], mode: Mode): CaseResult | undefined {
  return result.cases.find((c) => c.path === path && c.mode === mode)
}

export function evaluate(result: BenchResult): Target[] {
  const targets: Target[] = []
  const nginx = find(result, 'nginx-catalog', 'off')
  for (const mode of ['full', 'plugin'] as const) {
    if (!result.settings.modes.includes(mode)) continue
    const info = mode === 'plugin'
    for (const path of ['gateway-get', 'gateway-cart-add'] as const) {
      const off = find(result, path, 'off')
      const on = find(result, path, mode)
      if (off && on) {
        const value = round(pairedRatio(on, off), 2)
        targets.push({
          name: `${mode} / off throughput, ${on.label}`,
          value,
          limit: '≥ 0.50',
          pass: value >= 0.5,
          info,
        })
      }
    }
    const gateway = find(result, 'gateway-get', mode)
    if (nginx && gateway) {
      const value = round(pairedRatio(gateway, nginx), 2)
      targets.push({
        name: `${mode} gateway GET / nginx → catalog`,
        value,
        limit: '≥ 0.35',
        pass: value >= 0.35,
        info,
      })
    }
    const traced = result.cases.filter((c) => c.mode === mode && c.spansExpected !== undefined)
    if (traced.length) {
      const lost = traced.reduce(
        (sum, c) => sum + Math.max(0, (c.spansExpected ?? 0) - (c.spansReceived ?? 0)),
        0,
      )
      const dropped = traced.reduce((sum, c) => sum + (c.spansDropped ?? 0), 0)
      targets.push({
        name: `${mode}: spans lost (expected − received, and otel_spans_dropped_total)`,
        value: lost + dropped,
        limit: '= 0',
        pass: lost === 0 && dropped === 0,
        info,
      })
    }
    for (const [name, mb] of Object.entries(peakRss(result, mode))) {
      targets.push({
        name: `${mode}: ${name} RSS under load (MB)`,
        value: mb,
        limit: '≤ 60',
        pass: mb <= 60,
        info,
      })
    }
    for (const [name, start] of Object.entries(result.coldStartMs[mode] ?? {})) {
      targets.push({
        name: `${mode}: ${name} cold start to ready (ms, median)`,
        value: start.median,
        limit: '≤ 200',
        pass: start.median <= 200,
        info,
      })
    }
  }
  return targets
}

// ---------------------------------------------------------------------------------------------
// Output

function pad(text: string | number, width: number, right = false): string {
  const s = String(text)
  return right ? s.padStart(width) : s.padEnd(width)
}

export function formatTable(result: BenchResult): string {
  const lines: string[] = []
  const { settings, machine } = result
  lines.push(
    `ShopStack bench ${result.startedAt}  commit ${result.commit}${result.dirty ? ' (dirty)' : ''}  bun ${machine.bun}`,
  )
  lines.push(
    `wrk -t${settings.threads} -c${settings.connections} -d${settings.durationS}s (warm-up ${settings.warmupS}s) × ${settings.rounds} interleaved rounds, ${machine.cpus} CPUs, load average at start ${machine.loadavg.join(' ')}`,
  )
  lines.push('')
  const header = `${pad('path', 36)} ${pad('mode', 6)} ${pad('req/s', 8, true)} ${pad('p50 ms', 7, true)} ${pad('p99 ms', 7, true)} ${pad('errors', 6, true)} ${pad('spans/req', 9, true)} ${pad('received/expected', 17, true)} ${pad('dropped', 7, true)}  RSS under load MB`
  lines.push(header)
  lines.push('-'.repeat(header.length + 10))
  for (const c of result.cases) {
    const spans = c.spansExpected === undefined ? '' : `${c.spansReceived}/${c.spansExpected}`
    const rss = Object.entries(c.rssLoadMb)
      .map(([name, mb]) => `${name} ${mb}`)
      .join(', ')
    lines.push(
      `${pad(c.label, 36)} ${pad(c.mode, 6)} ${pad(Math.round(c.rps), 8, true)} ${pad(round(c.p50Ms, 2), 7, true)} ${pad(round(c.p99Ms, 2), 7, true)} ${pad(c.non2xx + c.socketErrors, 6, true)} ${pad(c.spansPerRequest ?? '', 9, true)} ${pad(spans, 17, true)} ${pad(c.spansDropped ?? '', 7, true)}  ${rss}`,
    )
    if ((c.spansReceived ?? 0) < (c.spansExpected ?? 0) && c.spansByService && c.logLinesByService) {
      // A shortfall: per service, what arrived against what it logged, to show where spans went.
      const by = Object.entries(c.logLinesByService)
        .map(([name, n]) => `${name} ${c.spansByService?.[`shopstack-${name}`] ?? 0} spans / ${n} log lines`)
        .join(', ')
      lines.push(`${pad('', 36)} short: ${by}`)
    }
  }
  lines.push('')
  lines.push('idle RSS MB / cold start ms (median of runs):')
  for (const mode of settings.modes) {
    const idle = result.rssIdleMb[mode] ?? {}
    const cold = result.coldStartMs[mode] ?? {}
    const parts = ['catalog', 'cart', 'gateway'].map(
      (n) => `${n} ${idle[n] ?? '-'} MB / ${cold[n]?.median ?? '-'} ms`,
    )
    lines.push(`  ${pad(mode, 6)} ${parts.join('   ')}`)
  }
  const floor = result.floor.at(-1)
  if (floor) {
    lines.push('')
    lines.push('memory floor, same load (bun run bench:floor): idle / under load MB')
    for (const f of result.floor) lines.push(`  ${pad(f.name, 78)} ${f.idleMb} / ${f.loadMb}`)
    for (const mode of settings.modes) {
      const peak = peakRss(result, mode)
      const parts = Object.entries(peak).map(([name, mb]) => `${name} ${round(mb / floor.loadMb, 2)}`)
      if (parts.length)
        lines.push(`  ${pad(mode, 6)} services under load ÷ the last floor: ${parts.join(', ')}`)
    }
  }
  lines.push('')
  lines.push('targets:')
  for (const t of result.targets) {
    const verdict = t.info ? (t.pass ? 'pass (info)' : 'fail (info)') : t.pass ? 'PASS' : 'FAIL'
    lines.push(`  ${pad(verdict, 11)} ${pad(t.name, 72)} ${pad(t.value, 8, true)} ${t.limit}`)
  }
  return lines.join('\n')
}

export function writeResult(result: BenchResult, out: string): string {
  const path = out.endsWith('.json') ? out : join(out, `${result.startedAt.replace(/[:.]/g, '-')}.json`)
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`)
  return path
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      modes: { type: 'string', default: ALL_MODES.join(',') },
      'cold-starts': { type: 'string', default: '5' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      smoke: { type: 'boolean', default: false },
    },
  })
  const modes = (values.modes as string).split(',').map((m) => m.trim()) as Mode[]
  for (const mode of modes) {
    if (!ALL_MODES.includes(mode))
      throw new Error(`--modes: unknown mode "${mode}" (${ALL_MODES.join(', ')})`)
  }
  const smoke = values.smoke === true
  const result = await runBench({
    durationS: smoke ? 1 : Number(values.duration),
    warmupS: smoke ? 0 : Number(values.warmup),
    rounds: smoke ? 1 : Number(values.rounds),
    threads: Number(values.threads),
    connections: smoke ? 10 : Number(values.connections),
    modes,
    coldStartRuns: smoke ? 1 : Number(values['cold-starts']),
    out: values.out as string,
  })
  console.log(`\n${formatTable(result)}`)
  console.log(`\nresults: ${writeResult(result, values.out as string)}`)
  const failed = result.targets.filter((t) => !t.info && !t.pass)
  process.exitCode = smoke ? 0 : failed.length ? 1 : 0
}
