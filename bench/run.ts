// `bun run bench`: a reproducible throughput, memory and start-up benchmark of the real services.
//
// It starts everything itself on free loopback ports (SIMULATION=off), a local OTLP sink, and an
// nginx in front of the catalog as a yardstick, and the FastAPI original where Debian's packages are
// installed; drives each path with wrk, in interleaved rounds; checks issue 19's targets as ratios of
// same-round figures (a target whose case did not run says so, never PASS); prints a table; and writes
// bench/results/<timestamp>.json so two commits compare. Method and figures: bench/README.md.
//
//   bun run bench                      # every mode, 3 rounds of 5 s per case, 1 s warm-up (~18 minutes)
//   bun run bench --rounds 5           # more rounds, less noise
//   bun run bench --modes off,full     # skip the plugin and console modes
//   bun run bench --modes off,full,console  # the console's targets (console vs sink, its RSS, dev start)
//   bun run bench --modes dev,fastapi  # the dev runner and the FastAPI original, each against `direct`
//   bun run bench --smoke              # 1 s per case: proves the bench works, measures nothing

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, ROOT, type ServiceName } from '../scripts/processes.ts'
import {
  type ConsoleProcess,
  type ConsoleStatus,
  type DevStart,
  measureDevStart,
  startConsole,
} from './console.ts'
import { startDevRunnerStack, startDirectStack } from './dev-runner.ts'
import { fastapiMissing, fastapiVersions, startFastapiStack } from './fastapi.ts'
import { type FloorResult, measureFloors, startFixture } from './floor.ts'
import { cpuSeconds, type Running, startNginx, startService, startServiceStack } from './processes.ts'
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
 * - console: as full, but the spans go straight to a real console (console/, default retention, a
 *   SQLite file), as in `bun run dev`, to compare with full's null sink; the console's
 *   /api/status totals count the spans it accepted.
 * - dev: the stack as `bun run start` runs it (scripts/dev.ts, no console: bench/dev-runner.ts),
 *   beside `direct`, the same services and environment spawned by the bench; gateway GET only
 *   (issue 19). `--modes dev` starts both.
 * - fastapi: the FastAPI original (bench/fastapi/, Debian's packages, one uvicorn worker per
 *   service), gateway GET only, beside `direct` (started for it when `dev` is not selected).
 */
export type Mode = 'off' | 'full' | 'plugin' | 'console' | 'dev' | 'direct' | 'fastapi'
const ALL_MODES: Mode[] = ['off', 'full', 'plugin', 'console', 'dev', 'fastapi']
/** The modes that export spans, so their cases count them. */
const TRACED_MODES: Mode[] = ['full', 'plugin', 'console']

/** Issue 19's targets, each a ratio or a bound within one run. */
export const TARGETS = {
  /** Gateway GET ÷ nginx → catalog, same rounds: full telemetry, and telemetry off. */
  fullVsNginx: 0.5,
  offVsNginx: 0.65,
  /** Full ÷ off, gateway → cart add. */
  cartAddFullVsOff: 0.8,
  /** Each service's peak RSS under load ÷ the last floor's (bench/floor.ts) under load. */
  rssVsFloor: 1.3,
  /** Each service's idle RSS at most the last floor's idle + this, MB. */
  idleOverFloorMb: 8,
  /** The stack through the dev runner ÷ spawned directly, gateway GET. */
  devVsDirect: 0.9,
  /** Spawn → /livez 200, median, ms. */
  coldStartMs: 100,
  /** Our direct gateway GET ÷ the FastAPI original's gateway GET, same rounds. */
  directVsFastapi: 50,
}
/** The modes whose services the memory and cold-start targets hold (plugin is shown, as info). */
const TARGET_MODES = ['off', 'full'] as const

export function modeEnv(mode: Mode, otlpEndpoint: string): Record<string, string> {
  if (mode === 'off') return { LOG_LEVEL: 'silent', TRACING_MODE: 'lean' }
  return {
    LOG_LEVEL: 'info',
    OTLP_ENDPOINT: otlpEndpoint,
    TRACING_MODE: mode === 'plugin' ? 'plugin' : 'lean',
  }
}

/** The console's targets (issue of the console), measured side by side with the null sink. */
export const CONSOLE_TARGETS = {
  /** console ÷ full (null sink) throughput on each gateway path. */
  throughputRatio: 0.9,
  /**
   * The console's peak RSS under the bench's load with default retention (200,000 spans), MB.
   * Proposed from the first run (bench/README.md): 72 MB at its peak while it held 200,000 spans
   * and evicted; 128 is half the 256 MiB JSC budget it runs with (RUNTIME_ENV) and ~1.8× that peak,
   * room for noise but not for a store or a parse buffer that grows with what it has received.
   */
  rssMb: 128,
  /** `bun run dev`: spawn → "ShopStack ready", and → every /livez 200, median, ms. */
  devReadyMs: 2000,
}

type PathId = 'catalog' | 'gateway-get' | 'gateway-cart-add'
/**
 * What a gateway on this stack can reach at most: the floor's proxies (bench/floor/), which call
 * `fetch` and return the answer with nothing else, in front of the same catalog as nginx, in the
 * same rounds. Shown beside the nginx targets, not targets themselves.
 */
const CEILINGS = [
  {
    path: 'bun-proxy-catalog',
    file: 'bun-proxy.ts',
    label: 'Bun.serve + fetch → catalog GET /catalog/42',
    env: {},
  },
  {
    path: 'elysia-proxy-catalog',
    file: 'elysia-proxy.ts',
    label: 'Elysia route + fetch → catalog GET /catalog/42',
    env: { FLOOR_LIBS: '1' },
  },
] as const
type CeilingPath = (typeof CEILINGS)[number]['path']
/** `route` is the template the entry service logs for the path (one line per request). */
const PATHS: Array<{ id: PathId; label: string; entry: ServiceName; route: string }> = [
  { id: 'catalog', label: 'catalog direct GET /catalog/42', entry: 'catalog', route: '/catalog/:id' },
  { id: 'gateway-get', label: 'gateway → catalog GET /catalog/42', entry: 'gateway', route: '/catalog/:id' },
  { id: 'gateway-cart-add', label: 'gateway → cart add (→ catalog)', entry: 'gateway', route: '/cart/add' },
]

export interface CaseResult {
  path: PathId | 'nginx-catalog' | CeilingPath
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
  /** Spans counted where they arrive: at the null sink, or the console's totals.received_spans. */
  spansReceived?: number
  /** Growth of otel_spans_dropped_total summed over the services during the case. */
  spansDropped?: number
  /** Lines the entry service logged during the case. */
  logLines?: number
  /**
   * Console mode: requests of the case's route the entry service logged during the case, which
   * includes those in flight when wrk stopped (wrk leaves them out of its count); × spans per
   * request, an exact expectation as long as no log line is lost.
   */
  requestsLogged?: number
  /** Where a shortfall is: spans received from each service (null sink only: the console's totals
   * are not per service) and lines each service logged (its requests, plus a line for each
   * /metrics read, the bench's and, in console mode, the console's scrapes) during the case. */
  spansByService?: Record<string, number>
  logLinesByService?: Record<string, number>
  /** Highest VmRSS seen during the case, per service, in MB. */
  rssLoadMb: Record<string, number>
  /**
   * CPU used during the case, in % of one core, per process; `bench` is this process, which hosts
   * the null sink (busy in full and plugin cases, idle in console cases).
   */
  cpuPct?: Record<string, number>
  /** Where spansDropped came from: `<service> {reason="…"}` → spans, when any was dropped. */
  spansDroppedBy?: Record<string, number>
  /**
   * Console mode, the console's books: growth of the spans /api/status says it holds
   * (consoleStored) against growth of totals.received_spans − totals.evicted_spans (consoleChecked);
   * the two must be equal in every round, eviction or not. consoleEvicted is the spans retention
   * evicted during the case.
   */
  consoleStored?: number
  consoleChecked?: number
  consoleEvicted?: number
}

export interface ConsoleResult {
  /** RSS after start and the probes, MB. */
  idleMb: number
  /** Highest RSS over the console cases, MB. */
  peakMb: number
  /** /api/status once the rounds are over. */
  statusAtEnd: ConsoleStatus
  /** Spans the console accepted over the whole run (totals.received_spans), probes and warm-ups included. */
  acceptedTotal: number
}

export interface DevStartResult {
  samples: DevStart[]
  readyLineMsMedian: number
  allLiveMsMedian: number
  /** Processes left after SIGINT, over every sample. */
  leftover: number
}

export interface BenchResult {
  startedAt: string
  commit: string
  dirty: boolean
  machine: {
    cpus: number
    model: string
    loadavg: number[]
    bun: string
    wrk: string
    nginx: string
    /** The FastAPI original's versions (`fastapi 0.92.0, uvicorn 0.17.6, …`), or '' without it. */
    fastapi: string
  }
  /**
   * Yardsticks that could not run, and why ("nginx is not installed"); their targets say so.
   * Absent from results written before issue 19's targets.
   */
  unavailable?: Partial<Record<'nginx' | 'fastapi', string>>
  settings: Pick<BenchOptions, 'durationS' | 'warmupS' | 'rounds' | 'threads' | 'connections' | 'modes'>
  cases: CaseResult[]
  /** Idle RSS per mode and service, MB, after start and a few probe requests. */
  rssIdleMb: Record<string, Record<string, number>>
  /** Spawn → /livez 200, ms, per mode and service (every sample, and the median). */
  coldStartMs: Record<string, Record<string, { median: number; samples: number[] }>>
  /** The memory floor (bench/floor.ts) measured in the same run, with the same wrk settings. */
  floor: FloorResult[]
  /** Console mode: the console process itself. */
  console?: ConsoleResult
  /** Console mode: `bun run dev` from spawn to ready, then stopped with SIGINT. */
  devStart?: DevStartResult
  targets: Target[]
}

export interface Target {
  name: string
  /** The figure; null when the target was not measured. */
  value: number | null
  limit: string
  pass: boolean
  /** Informational rows (the plugin mode) are shown but are not the issue's targets. */
  info?: boolean
  /** Why the target has no figure (its mode not selected, nginx or python not installed); never a pass. */
  notMeasured?: string
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
  /** Console mode: how many times `bun run dev` is started and timed. */
  devStartRuns?: number
  /** Where the JSON goes; a directory gets <timestamp>.json. */
  out: string
  log?: (line: string) => void
}

/** Where a stack's spans are counted: the null sink, or the console's own totals. */
interface SpanCounter {
  /** Spans accepted so far. */
  spans(): Promise<number>
  /** Per service (its resource's service.name), when the counter knows. */
  spansByService(): Record<string, number> | undefined
  /** Wait until no span has been accepted for `quietMs`. */
  settle(quietMs: number): Promise<unknown>
}

function sinkCounter(sink: Sink): SpanCounter {
  return {
    spans: async () => sink.spans(),
    spansByService: () => sink.spansByService(),
    settle: (quietMs) => sink.settle(quietMs),
  }
}

/** The console's totals.received_spans: what it accepted, whatever retention evicted since. */
function consoleCounter(consoleProcess: ConsoleProcess): SpanCounter {
  return {
    spans: async () => (await consoleProcess.status()).totals.received_spans,
    spansByService: () => undefined,
    settle: (quietMs) => consoleProcess.settle(quietMs),
  }
}

interface Stack {
  services: Record<ServiceName, Running>
  logs: Record<ServiceName, string>
  /** Where its spans are counted. */
  collector: SpanCounter
  /** Console mode: the console the services export to. */
  console?: ConsoleProcess
  /** Dev mode: the runner, whose CPU and RSS its cases include. */
  runner?: Running
  stop(): Promise<void>
}

async function startStack(
  dir: string,
  env: Record<string, string>,
  collector: SpanCounter,
  ports: Partial<Record<ServiceName, number>> = {},
): Promise<Stack> {
  return { ...(await startServiceStack(dir, env, { ports })), collector }
}

const FASTAPI_LABEL = 'gateway → catalog GET (FastAPI)'

/**
 * The stacks a run starts, in order: `direct` once, before `dev` and `fastapi`, the two modes
 * measured against it; `fastapi` only when the original can run here.
 */
export function stackModes(modes: readonly Mode[], available: { fastapi: boolean }): Mode[] {
  const out: Mode[] = []
  for (const mode of modes) {
    if (mode === 'fastapi' && !available.fastapi) continue
    if ((mode === 'dev' || mode === 'fastapi') && !out.includes('direct')) out.push('direct')
    if (!out.includes(mode)) out.push(mode)
  }
  return out
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

/**
 * A metric's samples in one service's Prometheus text, keyed `<service> <labels>`
 * (`cart {reason="queue_full"}`): every label set, so no reason is left out.
 */
export function parseSamples(service: string, text: string, name: string): Record<string, number> {
  const samples: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      const labels = line.slice(name.length, line.lastIndexOf(' ')).trim()
      samples[`${service} ${labels}`] = Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return samples
}

/** A metric's samples over the stack's services, keyed `<service> <labels>`. */
async function metricSamples(stack: Stack, name: string): Promise<Record<string, number>> {
  const samples: Record<string, number> = {}
  for (const service of Object.values(stack.services)) {
    const text = await (await fetch(`${service.url}/metrics`, { headers: unsampled() })).text()
    Object.assign(samples, parseSamples(service.name, text, name))
  }
  return samples
}

/**
 * Spans dropped between two readings of otel_spans_dropped_total: the series that grew (per service
 * and reason) and their sum.
 */
export function droppedBetween(
  before: Record<string, number>,
  after: Record<string, number>,
): { total: number; by: Record<string, number> } {
  const by = Object.fromEntries(Object.entries(delta(after, before)).filter(([, n]) => n !== 0))
  return { total: Object.values(by).reduce((sum, n) => sum + n, 0), by }
}

/** Sum of a metric's samples over the stack's services (0 when a service does not have it). */
async function sumMetric(stack: Stack, name: string): Promise<number> {
  return Object.values(await metricSamples(stack, name)).reduce((sum, n) => sum + n, 0)
}

/**
 * Spans not exported, per service and reason: dropped from a full queue (queue_full) or lost with a
 * failed export (export_failed), from otel_spans_dropped_total.
 */
const droppedSpansBy = (stack: Stack) => metricSamples(stack, 'otel_spans_dropped_total')
/** Spans ended but not yet accepted by the endpoint, sink or console (otel_spans_pending). */
const pendingSpans = (stack: Stack) => sumMetric(stack, 'otel_spans_pending')

/** Occurrences of `needle` in a file from byte `from` on (0 when the file is missing). */
function countIn(path: string, needle: string, from: number): number {
  try {
    const text = readFileSync(path).subarray(from).toString()
    let count = 0
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++
    return count
  } catch {
    return 0
  }
}

function fileSize(path: string): number {
  try {
    return Bun.file(path).size
  } catch {
    return 0
  }
}

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
  for (const key of [
    'spansExpected',
    'spansReceived',
    'spansDropped',
    'logLines',
    'requestsLogged',
    'consoleStored',
    'consoleChecked',
    'consoleEvicted',
  ] as const) {
    if (rounds.some((c) => c[key] !== undefined))
      combined[key] = rounds.reduce((n, c) => n + (c[key] ?? 0), 0)
  }
  for (const key of ['spansByService', 'logLinesByService', 'spansDroppedBy'] as const) {
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
    devStartRuns = 3,
    log = console.log,
  } = options
  if (!wrkBinary()) throw new Error('wrk is not installed (apt-get install wrk); it drives the load')
  const temp = mkdtempSync(join(tmpdir(), 'shopstack-bench-'))
  const sink = startSink()
  const running: Array<{ stop(): Promise<unknown> }> = []
  const onSignal = () => {
    void Promise.all(running.map((r) => r.stop())).finally(() => {
      sink.stop()
      rmSync(temp, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const unavailable: NonNullable<BenchResult['unavailable']> = {}
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
      fastapi: '',
    },
    unavailable,
    settings: { durationS, warmupS, rounds, threads, connections, modes },
    cases: [],
    rssIdleMb: {},
    coldStartMs: {},
    floor: [],
    targets: [],
  }
  const cartAddScript = writeCartAddScript(temp)

  /**
   * Wait until every span the stack has ended is at the sink or the console: the services report
   * none pending (otel_spans_pending: a span stays pending until the endpoint answered its export,
   * and the console counts a span received before it answers), then the count stays still for longer
   * than the services' batch delay (500 ms), so a span that ended just after the last poll has
   * arrived too.
   */
  async function settle(stack: Stack): Promise<void> {
    const deadline = performance.now() + 30_000
    while (performance.now() < deadline && (await pendingSpans(stack)) > 0) await Bun.sleep(700)
    await stack.collector.settle(800)
  }

  async function measure(
    label: string,
    url: string,
    processes: Running[],
    isPost: boolean,
  ): Promise<{ wrk: WrkResult; rss: Record<string, number>; cpu: Record<string, number> }> {
    const wrkScript = isPost ? cartAddScript : undefined
    const rss: Record<string, number> = {}
    const sample = () => {
      for (const p of processes) rss[p.name] = Math.max(rss[p.name] ?? 0, p.rssMb())
    }
    log(`  ${label}: ${durationS} s …`)
    const cpuBefore = processes.map((p) => cpuSeconds(p.pid))
    const benchBefore = process.cpuUsage()
    const started = performance.now()
    const wrk = await runWrk({ url, durationS, threads, connections, script: wrkScript, onTick: sample })
    const wallS = (performance.now() - started) / 1000
    const bench = process.cpuUsage(benchBefore)
    const cpu: Record<string, number> = {
      bench: round(((bench.user + bench.system) / 1e6 / wallS) * 100),
    }
    processes.forEach((p, i) => {
      cpu[p.name] = round(((cpuSeconds(p.pid) - (cpuBefore[i] as number)) / wallS) * 100)
    })
    for (const key of Object.keys(rss)) rss[key] = round(rss[key] as number)
    return { wrk, rss, cpu }
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
    /** The route template the entry service logs for this path. */
    route?: string
  }
  const stacks = new Map<Mode, Stack>()

  try {
    const fastapiWhy = modes.includes('fastapi') ? fastapiMissing() : undefined
    if (fastapiWhy) {
      unavailable.fastapi = fastapiWhy
      log(`[fastapi] not installed: skipped (${fastapiWhy})`)
    } else if (modes.includes('fastapi')) {
      result.machine.fastapi = fastapiVersions()
    }
    // Every mode's stack runs for the whole measurement, so the rounds below can interleave the
    // cases: a burst of load from elsewhere then hits a case and its baseline alike.
    for (const mode of stackModes(modes, { fastapi: fastapiWhy === undefined })) {
      const how =
        mode === 'console'
          ? ', the console'
          : mode === 'dev'
            ? ' through the dev runner'
            : mode === 'fastapi'
              ? ' of the FastAPI original (uvicorn, one worker each)'
              : ''
      log(`[${mode}] starting catalog, cart, gateway${how}`)
      const dir = join(temp, mode)
      let stack: Stack
      if (mode === 'dev' || mode === 'direct') {
        mkdirSync(dir, { recursive: true })
        const started = mode === 'dev' ? await startDevRunnerStack(dir) : await startDirectStack(dir)
        stack = { ...started, collector: sinkCounter(sink) }
        running.push(stack)
      } else if (mode === 'fastapi') {
        // Not traced: the sink is only there because every stack has a counter.
        stack = { ...(await startFastapiStack(dir)), collector: sinkCounter(sink) }
        running.push(stack)
      } else if (mode === 'console') {
        // As `bun run dev` does: the services' ports are chosen first, the console starts told
        // where to scrape them, then the services start exporting straight to it.
        const ports = { catalog: freePort(), cart: freePort(), gateway: freePort() }
        const targets = Object.entries(ports)
          .map(([name, port]) => `shopstack-${name}=http://127.0.0.1:${port}`)
          .join(',')
        const consoleProcess = await startConsole({ dir: join(dir, 'console'), targets })
        running.push(consoleProcess)
        stack = await startStack(
          dir,
          modeEnv(mode, consoleProcess.url),
          consoleCounter(consoleProcess),
          ports,
        )
        running.push(stack)
        stack.console = consoleProcess
      } else {
        stack = await startStack(dir, modeEnv(mode, sink.url), sinkCounter(sink))
        running.push(stack)
      }
      stacks.set(mode, stack)
      // Probe every path once (and warm the connections), then read idle memory.
      for (const path of PATHS) await send(requestFor(path.id, stack))
      await Bun.sleep(200)
      const processes: Running[] = [
        ...Object.values(stack.services),
        ...(stack.console ? [stack.console] : []),
        ...(stack.runner ? [stack.runner] : []),
      ]
      result.rssIdleMb[mode] = Object.fromEntries(processes.map((s) => [s.name, round(s.rssMb())]))
    }

    const cases: Case[] = []
    const offStack = stacks.get('off')
    if (offStack) {
      const nginx = await startNginx(join(temp, 'nginx'), offStack.services.catalog.url).catch((error) => {
        log(`  nginx could not start, skipped: ${error}`)
        unavailable.nginx = `nginx could not start: ${String(error).split('\n')[0]}`
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
        unavailable.nginx ??= 'nginx is not installed'
      }
      for (const ceiling of CEILINGS) {
        const proxy = await startFixture(ceiling.file, {
          UPSTREAM_URL: offStack.services.catalog.url,
          ...ceiling.env,
        })
        running.push(proxy)
        cases.push({
          path: ceiling.path,
          label: ceiling.label,
          mode: 'off',
          url: `${proxy.url}/catalog/42`,
          isPost: false,
          processes: [offStack.services.catalog, proxy],
          stack: offStack,
        })
      }
    }
    for (const [mode, stack] of stacks) {
      // The console's cases are the gateway's paths: its target is about what the services pay. The
      // dev runner's case and the FastAPI original's are the gateway GET (issue 19's figures).
      const paths =
        mode === 'console'
          ? PATHS.filter((p) => p.entry === 'gateway')
          : mode === 'dev' || mode === 'direct' || mode === 'fastapi'
            ? PATHS.filter((p) => p.id === 'gateway-get')
            : PATHS
      for (const path of paths) {
        const all = [
          ...Object.values(stack.services),
          ...(stack.console ? [stack.console] : []),
          ...(stack.runner ? [stack.runner] : []),
        ]
        const entry: Case = {
          path: path.id,
          label: mode === 'fastapi' ? FASTAPI_LABEL : path.label,
          mode,
          url: requestFor(path.id, stack).url,
          isPost: path.id === 'gateway-cart-add',
          processes: path.entry === 'catalog' ? [stack.services.catalog] : all,
          stack,
          logPath: stack.logs[path.entry],
          route: path.route,
        }
        if (TRACED_MODES.includes(mode)) {
          // Spans one request makes, counted where they arrive (only what was exported and accepted).
          await settle(stack)
          const before = await stack.collector.spans()
          const probes = 10
          for (let i = 0; i < probes; i++) await send(requestFor(path.id, stack))
          await settle(stack)
          entry.spansPerRequest = round(((await stack.collector.spans()) - before) / probes, 2)
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
        const { collector } = c.stack
        const spansBefore = await collector.spans()
        const statusBefore = await c.stack.console?.status()
        const droppedBefore = traced ? await droppedSpansBy(c.stack) : {}
        const linesBefore = c.logPath ? countLines(c.logPath) : 0
        const bytesBefore = c.logPath ? fileSize(c.logPath) : 0
        const serviceLines = () =>
          Object.fromEntries(Object.entries(c.stack.logs).map(([name, path]) => [name, countLines(path)]))
        const serviceSpansBefore = collector.spansByService()
        const serviceLinesBefore = serviceLines()
        const { wrk, rss, cpu } = await measure(`${c.label} [${c.mode}]`, c.url, c.processes, c.isPost)
        const entry: CaseResult = {
          path: c.path,
          label: c.label,
          mode: c.mode,
          ...wrk,
          roundsRps: [wrk.rps],
          rssLoadMb: rss,
          cpuPct: cpu,
        }
        if (traced && c.spansPerRequest !== undefined) {
          entry.spansPerRequest = c.spansPerRequest
          entry.spansExpected = Math.round(wrk.requests * c.spansPerRequest)
          await settle(c.stack)
          entry.spansReceived = (await collector.spans()) - spansBefore
          const dropped = droppedBetween(droppedBefore, await droppedSpansBy(c.stack))
          entry.spansDropped = dropped.total
          if (dropped.total > 0) entry.spansDroppedBy = dropped.by
          if (c.stack.console && statusBefore) {
            const after = await c.stack.console.status()
            const grew = (key: keyof ConsoleStatus['totals']) => after.totals[key] - statusBefore.totals[key]
            entry.consoleStored = after.spans - statusBefore.spans
            entry.consoleChecked = grew('received_spans') - grew('evicted_spans')
            entry.consoleEvicted = grew('evicted_spans')
          }
          await Bun.sleep(300)
          entry.logLines = c.logPath ? countLines(c.logPath) - linesBefore : 0
          if (c.stack.console && c.logPath && c.route)
            entry.requestsLogged = countIn(c.logPath, `"route":"${c.route}"`, bytesBefore)
          const spansByService = collector.spansByService()
          if (spansByService && serviceSpansBefore)
            entry.spansByService = delta(spansByService, serviceSpansBefore)
          entry.logLinesByService = delta(serviceLines(), serviceLinesBefore)
        }
        measured.get(c)?.push(entry)
      }
    }
    for (const c of cases) result.cases.push(combineRounds(measured.get(c) ?? []))

    const consoleStack = stacks.get('console')
    if (consoleStack?.console) {
      const statusAtEnd = await consoleStack.console.status()
      result.console = {
        idleMb: result.rssIdleMb.console?.console ?? Number.NaN,
        peakMb: Math.max(
          ...result.cases.filter((c) => c.mode === 'console').map((c) => c.rssLoadMb.console ?? 0),
        ),
        statusAtEnd,
        acceptedTotal: statusAtEnd.totals.received_spans,
      }
      await consoleStack.console.stop()
    }
    for (const stack of stacks.values()) await stack.stop()
    stacks.clear()

    // The console mode's services are full mode's: their cold start is measured there.
    for (const mode of modes.filter((m) => m === 'off' || m === 'full' || m === 'plugin')) {
      // Cold start: spawn → /livez 200, with the databases already seeded by the run above.
      log(`[${mode}] cold starts (${coldStartRuns} per service)`)
      result.coldStartMs[mode] = {}
      for (const name of ['catalog', 'cart', 'gateway'] as const) {
        const samples: number[] = []
        for (let i = 0; i < coldStartRuns; i++) {
          const service = await startService({
            name,
            env: {
              ...modeEnv(mode, sink.url),
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

    if (modes.includes('console')) {
      log(`bun run dev: spawn → ready, ${devStartRuns} times`)
      const samples: DevStart[] = []
      for (let i = 0; i < devStartRuns; i++) samples.push(await measureDevStart(join(temp, `dev-${i}`)))
      result.devStart = {
        samples: samples.map((s) => ({
          ...s,
          readyLineMs: round(s.readyLineMs),
          allLiveMs: round(s.allLiveMs),
        })),
        readyLineMsMedian: round(median(samples.map((s) => s.readyLineMs))),
        allLiveMsMedian: round(median(samples.map((s) => s.allLiveMs))),
        leftover: samples.reduce((n, s) => n + s.leftover.length, 0),
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
// Targets (issue 19), as ratios within one run

function find(result: BenchResult, path: CaseResult['path'], mode: Mode): CaseResult | undefined {
  return result.cases.find((c) => c.path === path && c.mode === mode)
}

const ratioLimit = (limit: number) => `≥ ${limit.toFixed(2)}`

/** A target with no figure, and why: shown as such, never a pass. */
function notMeasured(name: string, limit: string, why: string, info = false): Target {
  return { name, value: null, limit, pass: false, notMeasured: why, ...(info ? { info } : {}) }
}

/** Why a mode's cases are missing: not selected, or a yardstick that could not run. */
function missingWhy(result: BenchResult, mode: Mode): string {
  const { modes } = result.settings
  const unavailable = result.unavailable?.fastapi
  if (mode === 'fastapi' && unavailable) return `FastAPI not installed: ${unavailable}`
  if (mode === 'direct')
    return modes.includes('dev') ? 'no direct case ran' : 'mode dev or fastapi not selected'
  return modes.includes(mode) ? `no ${mode} case ran` : `mode ${mode} not selected`
}

/** `on` ÷ `base` (median of same-round ratios) against a lower bound, or why it has no figure. */
function ratioTarget(
  result: BenchResult,
  name: string,
  on: { path: CaseResult['path']; mode: Mode },
  base: { path: CaseResult['path']; mode: Mode },
  limit: number,
  info = false,
): Target {
  const onCase = find(result, on.path, on.mode)
  const baseCase = find(result, base.path, base.mode)
  if (!onCase || !baseCase) {
    const whyOf = (side: { path: CaseResult['path']; mode: Mode }) =>
      side.path === 'nginx-catalog'
        ? (result.unavailable?.nginx ?? missingWhy(result, 'off'))
        : missingWhy(result, side.mode)
    // `direct` runs for `dev` and `fastapi`: when it is missing too, the mode measured against it says why.
    const missing = [...(onCase ? [] : [on]), ...(baseCase ? [] : [base])].filter(
      (side, _, all) => side.mode !== 'direct' || all.length === 1,
    )
    const why = [...new Set(missing.map(whyOf))].join('; ')
    return notMeasured(name, ratioLimit(limit), why, info)
  }
  const value = round(pairedRatio(onCase, baseCase), 2)
  return { name, value, limit: ratioLimit(limit), pass: value >= limit, ...(info ? { info } : {}) }
}

export function evaluate(result: BenchResult): Target[] {
  const targets: Target[] = []
  const { modes } = result.settings
  const gatewayGet = (mode: Mode) => ({ path: 'gateway-get' as const, mode })
  const nginx = { path: 'nginx-catalog' as const, mode: 'off' as const }
  const cartAdd = (mode: Mode) => ({ path: 'gateway-cart-add' as const, mode })

  targets.push(
    ratioTarget(result, 'full gateway GET / nginx → catalog', gatewayGet('full'), nginx, TARGETS.fullVsNginx),
    ratioTarget(result, 'off gateway GET / nginx → catalog', gatewayGet('off'), nginx, TARGETS.offVsNginx),
    // The most a gateway on Bun (and on Elysia) reaches against the same yardstick, same rounds.
    ...CEILINGS.map((ceiling) =>
      ratioTarget(
        result,
        `ceiling: ${ceiling.label.replace(' GET /catalog/42', '')} / nginx → catalog`,
        { path: ceiling.path, mode: 'off' },
        nginx,
        TARGETS.offVsNginx,
        true,
      ),
    ),
    ratioTarget(
      result,
      'full / off, gateway → cart add',
      cartAdd('full'),
      cartAdd('off'),
      TARGETS.cartAddFullVsOff,
    ),
  )
  if (modes.includes('plugin')) {
    for (const path of ['gateway-get', 'gateway-cart-add'] as const) {
      targets.push(
        ratioTarget(
          result,
          `plugin / off, ${path}`,
          { path, mode: 'plugin' },
          { path, mode: 'off' },
          0.5,
          true,
        ),
      )
    }
  }

  // Spans lost is a correctness check of every traced mode, kept from the first issue.
  for (const mode of ['full', 'plugin'] as const) {
    const traced = result.cases.filter((c) => c.mode === mode && c.spansExpected !== undefined)
    if (!traced.length) continue
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
      ...(mode === 'plugin' ? { info: true } : {}),
    })
  }

  targets.push(...evaluateMemory(result))
  targets.push(...evaluateColdStart(result))
  targets.push(...evaluateConsole(result))
  targets.push(
    ratioTarget(
      result,
      'bun run start (dev runner) / services spawned directly, gateway GET',
      gatewayGet('dev'),
      gatewayGet('direct'),
      TARGETS.devVsDirect,
    ),
    ratioTarget(
      result,
      'ours (direct) / the FastAPI original, gateway GET',
      gatewayGet('direct'),
      gatewayGet('fastapi'),
      TARGETS.directVsFastapi,
    ),
  )
  return targets
}

/**
 * Each service's peak RSS under load as a multiple of the last floor's (Elysia with the telemetry
 * libraries, bench/floor.ts, same run and load), and its idle RSS against the floor's idle + 8 MB.
 */
function evaluateMemory(result: BenchResult): Target[] {
  const targets: Target[] = []
  const floor = result.floor.at(-1)
  const loadLimit = `≤ ${TARGETS.rssVsFloor.toFixed(2)}× floor`
  const idleLimit = (f?: FloorResult) =>
    f
      ? `≤ ${round(f.idleMb + TARGETS.idleOverFloorMb)} (floor ${f.idleMb} + ${TARGETS.idleOverFloorMb})`
      : `≤ floor + ${TARGETS.idleOverFloorMb}`
  const modes = [...TARGET_MODES, ...(result.settings.modes.includes('plugin') ? (['plugin'] as const) : [])]
  for (const mode of modes) {
    const info = mode === 'plugin'
    const peak = peakRss(result, mode)
    const idle = result.rssIdleMb[mode] ?? {}
    for (const name of ['catalog', 'cart', 'gateway'] as const) {
      const loadName = `${mode}: ${name} peak RSS under load ÷ the last floor's`
      const idleName = `${mode}: ${name} idle RSS (MB)`
      if (!result.settings.modes.includes(mode)) {
        targets.push(notMeasured(loadName, loadLimit, `mode ${mode} not selected`, info))
        targets.push(notMeasured(idleName, idleLimit(floor), `mode ${mode} not selected`, info))
        continue
      }
      if (!floor || floor.errors > 0) {
        const why = floor ? 'the floor failed requests' : 'no floor measured'
        targets.push(
          notMeasured(loadName, loadLimit, why, info),
          notMeasured(idleName, idleLimit(floor), why, info),
        )
        continue
      }
      const mb = peak[name]
      if (mb === undefined)
        targets.push(notMeasured(loadName, loadLimit, `no ${mode} case loaded the ${name}`, info))
      else {
        const value = round(mb / floor.loadMb, 2)
        targets.push({
          name: loadName,
          value,
          limit: `${loadLimit} (${mb} / ${floor.loadMb} MB)`,
          pass: value <= TARGETS.rssVsFloor,
          ...(info ? { info } : {}),
        })
      }
      const idleMb = idle[name]
      if (idleMb === undefined)
        targets.push(notMeasured(idleName, idleLimit(floor), `no idle reading in ${mode}`, info))
      else
        targets.push({
          name: idleName,
          value: idleMb,
          limit: idleLimit(floor),
          pass: idleMb <= floor.idleMb + TARGETS.idleOverFloorMb,
          ...(info ? { info } : {}),
        })
    }
  }
  return targets
}

/** Spawn → /livez 200, median, per service, in the modes whose cold starts the bench times. */
function evaluateColdStart(result: BenchResult): Target[] {
  const targets: Target[] = []
  const limit = `≤ ${TARGETS.coldStartMs}`
  const modes = [...TARGET_MODES, ...(result.settings.modes.includes('plugin') ? (['plugin'] as const) : [])]
  for (const mode of modes) {
    const info = mode === 'plugin'
    for (const name of ['catalog', 'cart', 'gateway'] as const) {
      const label = `${mode}: ${name} cold start to ready (ms, median)`
      const start = result.coldStartMs[mode]?.[name]
      if (!start) {
        const why = result.settings.modes.includes(mode) ? 'not timed' : `mode ${mode} not selected`
        targets.push(notMeasured(label, limit, why, info))
        continue
      }
      targets.push({
        name: label,
        value: start.median,
        limit,
        pass: start.median <= TARGETS.coldStartMs,
        ...(info ? { info } : {}),
      })
    }
  }
  // What the stack itself takes to start, timed the same way: beside the targets, not one.
  const floor = result.floor.at(-1)
  if (floor?.startMs !== undefined) {
    targets.push({
      name: 'floor: one Elysia route with the telemetry libraries, cold start (ms, median)',
      value: floor.startMs,
      limit,
      pass: floor.startMs <= TARGETS.coldStartMs,
      info: true,
    })
  }
  return targets
}

/** The console's targets: console ÷ null sink, no span lost on the way in, its RSS, dev start. */
function evaluateConsole(result: BenchResult): Target[] {
  const targets: Target[] = []
  if (!result.settings.modes.includes('console')) return targets
  for (const path of ['gateway-get', 'gateway-cart-add'] as const) {
    const full = find(result, path, 'full')
    const viaConsole = find(result, path, 'console')
    if (full && viaConsole) {
      const value = round(pairedRatio(viaConsole, full), 2)
      targets.push({
        name: `console / full (null sink) throughput, ${viaConsole.label}`,
        value,
        limit: `≥ ${CONSOLE_TARGETS.throughputRatio.toFixed(2)}`,
        pass: value >= CONSOLE_TARGETS.throughputRatio,
      })
    }
  }
  const traced = result.cases.filter((c) => c.mode === 'console' && c.spansExpected !== undefined)
  if (traced.length) {
    // Lost: fewer accepted (totals.received_spans) than the requests made, counted by wrk (which
    // leaves out requests in flight when it stops) or by the entry service's log lines for the route
    // (which include them); or, should both counts hide it, the spans the services dropped
    // (otel_spans_dropped_total, every reason); and any round where the console's stored spans did
    // not grow by received − evicted. A span the console rejected (partialSuccess) is counted by no
    // one, so it shows only as a shortfall of accepted against expected.
    const lost = traced.reduce((sum, c) => {
      const accepted = c.spansReceived ?? 0
      const logged = Math.round((c.requestsLogged ?? 0) * (c.spansPerRequest ?? 0))
      return (
        sum +
        Math.max(0, (c.spansExpected ?? 0) - accepted, logged - accepted, c.spansDropped ?? 0) +
        Math.abs((c.consoleChecked ?? 0) - (c.consoleStored ?? 0))
      )
    }, 0)
    targets.push({
      name: 'console: spans lost (max(expected, logged − accepted; dropped), stored ≠ received − evicted)',
      value: lost,
      limit: '= 0',
      pass: lost === 0,
    })
  }
  if (result.console) {
    targets.push({
      name: 'console: its RSS under load, default retention (MB)',
      value: result.console.peakMb,
      limit: `≤ ${CONSOLE_TARGETS.rssMb}`,
      pass: result.console.peakMb <= CONSOLE_TARGETS.rssMb,
    })
  }
  const dev = result.devStart
  if (dev) {
    const limit = `≤ ${CONSOLE_TARGETS.devReadyMs}`
    targets.push(
      {
        name: `bun run dev: spawn → "ShopStack ready" line (ms, median of ${dev.samples.length})`,
        value: dev.readyLineMsMedian,
        limit,
        pass: dev.readyLineMsMedian <= CONSOLE_TARGETS.devReadyMs,
      },
      {
        name: `bun run dev: spawn → every /livez 200 (ms, median of ${dev.samples.length})`,
        value: dev.allLiveMsMedian,
        limit,
        pass: dev.allLiveMsMedian <= CONSOLE_TARGETS.devReadyMs,
      },
      {
        name: 'bun run dev: processes left after SIGINT',
        value: dev.leftover,
        limit: '= 0',
        pass: dev.leftover === 0 && dev.samples.every((s) => s.exitCode === 0),
      },
    )
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
  const header = `${pad('path', 36)} ${pad('mode', 7)} ${pad('req/s', 8, true)} ${pad('p50 ms', 7, true)} ${pad('p99 ms', 7, true)} ${pad('errors', 6, true)} ${pad('spans/req', 9, true)} ${pad('received/expected', 17, true)} ${pad('dropped', 7, true)}  RSS under load MB`
  lines.push(header)
  lines.push('-'.repeat(header.length + 10))
  for (const c of result.cases) {
    const spans = c.spansExpected === undefined ? '' : `${c.spansReceived}/${c.spansExpected}`
    const rss = Object.entries(c.rssLoadMb)
      .map(([name, mb]) => `${name} ${mb}`)
      .join(', ')
    lines.push(
      `${pad(c.label, 36)} ${pad(c.mode, 7)} ${pad(Math.round(c.rps), 8, true)} ${pad(round(c.p50Ms, 2), 7, true)} ${pad(round(c.p99Ms, 2), 7, true)} ${pad(c.non2xx + c.socketErrors, 6, true)} ${pad(c.spansPerRequest ?? '', 9, true)} ${pad(spans, 17, true)} ${pad(c.spansDropped ?? '', 7, true)}  ${rss}`,
    )
    if (
      ((c.spansReceived ?? 0) < (c.spansExpected ?? 0) || (c.spansDropped ?? 0) > 0) &&
      c.logLinesByService
    ) {
      // A shortfall: per service, what arrived (when counted per service) against what it logged,
      // to show where spans went.
      const by = Object.entries(c.logLinesByService)
        .map(([name, n]) =>
          c.spansByService
            ? `${name} ${c.spansByService[`shopstack-${name}`] ?? 0} spans / ${n} log lines`
            : `${name} ${n} log lines`,
        )
        .join(', ')
      lines.push(`${pad('', 36)} short: ${by}`)
      if (c.spansDroppedBy) {
        const dropped = Object.entries(c.spansDroppedBy)
          .map(([key, n]) => `${key} ${n}`)
          .join(', ')
        lines.push(`${pad('', 36)} dropped: ${dropped}`)
      }
    }
    const showCpu =
      c.mode === 'console' ||
      c.mode === 'dev' ||
      c.mode === 'direct' ||
      c.mode === 'fastapi' ||
      (c.mode === 'full' && c.path.startsWith('gateway'))
    if (c.cpuPct && showCpu) {
      // Where the cores went, to set the console's cost apart from the sink's (the bench hosts the
      // sink, idle in console cases).
      const cpu = Object.entries(c.cpuPct)
        .map(([name, pct]) => `${name === 'bench' ? (c.mode === 'full' ? 'sink' : 'bench') : name} ${pct}`)
        .join(', ')
      lines.push(`${pad('', 36)} CPU % of a core: ${cpu}`)
    }
  }
  lines.push('')
  lines.push('idle RSS MB / cold start ms (median of runs):')
  for (const mode of Object.keys(result.rssIdleMb) as Mode[]) {
    const idle = result.rssIdleMb[mode] ?? {}
    const cold = result.coldStartMs[mode] ?? {}
    // The FastAPI original's processes are named fastapi-<service>.
    const parts = ['catalog', 'cart', 'gateway'].map(
      (n) => `${n} ${idle[n] ?? idle[`fastapi-${n}`] ?? '-'} MB / ${cold[n]?.median ?? '-'} ms`,
    )
    if (idle.console !== undefined) parts.push(`console ${idle.console} MB`)
    lines.push(`  ${pad(mode, 7)} ${parts.join('   ')}`)
  }
  if (result.console) {
    const { statusAtEnd: s, acceptedTotal, peakMb } = result.console
    lines.push('')
    lines.push(
      `console: accepted ${acceptedTotal} spans in the run; holds ${s.spans} of max ${s.retention.max_spans} ` +
        `(${s.totals.evicted_spans > 0 ? `retention evicted ${s.totals.evicted_spans}` : 'nothing evicted'}), ` +
        `${round(s.bytes / 1024 / 1024)} MB of SQLite; peak RSS ${peakMb} MB`,
    )
  }
  if (result.devStart) {
    const samples = result.devStart.samples.map((s) => `${s.readyLineMs}/${s.allLiveMs}`).join(', ')
    lines.push(`bun run dev, spawn → ready line / every /livez 200, ms: ${samples}`)
  }
  const floor = result.floor.at(-1)
  if (floor) {
    lines.push('')
    lines.push('memory floor, same load (bun run bench:floor): idle / under load MB, cold start ms (median)')
    for (const f of result.floor)
      lines.push(`  ${pad(f.name, 78)} ${f.idleMb} / ${f.loadMb}, ${f.startMs} ms`)
    for (const mode of settings.modes.filter((m) => m !== 'fastapi')) {
      const peak = peakRss(result, mode)
      const parts = Object.entries(peak)
        .filter(([name]) => name === 'catalog' || name === 'cart' || name === 'gateway')
        .map(([name, mb]) => `${name} ${round(mb / floor.loadMb, 2)}`)
      if (parts.length)
        lines.push(`  ${pad(mode, 6)} services under load ÷ the last floor: ${parts.join(', ')}`)
    }
  }
  lines.push('')
  lines.push('targets:')
  for (const t of result.targets) {
    const verdict = t.notMeasured
      ? '----'
      : t.info
        ? t.pass
          ? 'pass (info)'
          : 'fail (info)'
        : t.pass
          ? 'PASS'
          : 'FAIL'
    const figure = t.notMeasured
      ? `not measured: ${t.notMeasured} (target ${t.limit})`
      : `${pad(t.value ?? '', 8, true)} ${t.limit}`
    lines.push(`  ${pad(verdict, 11)} ${pad(t.name, 72)} ${figure}`)
  }
  const issue = result.targets.filter((t) => !t.info)
  const count = (test: (t: Target) => boolean) => issue.filter(test).length
  lines.push(
    `  ${count((t) => t.pass)} PASS, ${count((t) => !t.pass && !t.notMeasured)} FAIL, ${count((t) => t.notMeasured !== undefined)} not measured`,
  )
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
      'dev-starts': { type: 'string', default: '3' },
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
    devStartRuns: smoke ? 1 : Number(values['dev-starts']),
    out: values.out as string,
  })
  console.log(`\n${formatTable(result)}`)
  console.log(`\nresults: ${writeResult(result, values.out as string)}`)
  const failed = result.targets.filter((t) => !t.info && !t.pass && !t.notMeasured)
  process.exitCode = smoke ? 0 : failed.length ? 1 : 0
}
