// `bun run bench`: a reproducible throughput, memory and start-up benchmark of the real services.
//
// It starts everything itself on free loopback ports (SIMULATION=off), a local OTLP sink, and an
// nginx in front of the catalog as a yardstick; drives each path with wrk; checks the targets of
// issue #8; prints a table; and writes bench/results/<timestamp>.json so two commits compare.
// Method and figures: bench/README.md.
//
//   bun run bench                      # 8 s per case, 2 s warm-up (about 3 minutes)
//   bun run bench --duration 15        # longer cases, less noise
//   bun run bench --modes off,full     # skip the plugin mode
//   bun run bench --smoke              # 1 s per case: proves the bench works, measures nothing

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
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
  rps: number
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
  /** Highest VmRSS seen during the case, per service, in MB. */
  rssLoadMb: Record<string, number>
}

export interface BenchResult {
  startedAt: string
  commit: string
  dirty: boolean
  machine: { cpus: number; model: string; loadavg: number[]; bun: string; wrk: string; nginx: string }
  settings: { durationS: number; warmupS: number; threads: number; connections: number; modes: Mode[] }
  cases: CaseResult[]
  /** Idle RSS per mode and service, MB, after start and a few probe requests. */
  rssIdleMb: Record<string, Record<string, number>>
  /** Spawn → /livez 200, ms, per mode and service (every sample, and the median). */
  coldStartMs: Record<string, Record<string, { median: number; samples: number[] }>>
  targets: Target[]
}

export interface Target {
  name: string
  value: number
  limit: string
  pass: boolean
  /** Informational rows (the plugin mode) are shown but are not the targets. */
  info?: boolean
}

// ---------------------------------------------------------------------------------------------
// Running

export interface BenchOptions {
  durationS: number
  warmupS: number
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

/** Sum of otel_spans_dropped_total over the services (0 when tracing is off). */
async function droppedSpans(stack: Stack): Promise<number> {
  let total = 0
  for (const service of Object.values(stack.services)) {
    const text = await (await fetch(`${service.url}/metrics`)).text()
    for (const line of text.split('\n')) {
      if (line.startsWith('otel_spans_dropped_total')) total += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return total
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
  const { durationS, warmupS, threads, connections, modes, coldStartRuns, log = console.log } = options
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
    settings: { durationS, warmupS, threads, connections, modes },
    cases: [],
    rssIdleMb: {},
    coldStartMs: {},
    targets: [],
  }
  const script = writeCartAddScript(temp)

  async function measure(
    label: string,
    url: string,
    processes: Running[],
    isPost: boolean,
  ): Promise<{ wrk: WrkResult; rss: Record<string, number> }> {
    const wrkScript = isPost ? script : undefined
    const rss: Record<string, number> = {}
    const sample = () => {
      for (const p of processes) rss[p.name] = Math.max(rss[p.name] ?? 0, p.rssMb())
    }
    log(`  ${label}: ${durationS} s …`)
    const wrk = await runWrk({ url, durationS, threads, connections, script: wrkScript, onTick: sample })
    for (const key of Object.keys(rss)) rss[key] = round(rss[key] as number)
    return { wrk, rss }
  }

  try {
    for (const mode of modes) {
      log(`\n[${mode}] starting catalog, cart, gateway`)
      const dir = join(temp, mode)
      const stack = await startStack(dir, modeEnv(mode, sink))
      running.push(stack)
      const all = Object.values(stack.services)
      result.coldStartMs[mode] = {}
      try {
        const traced = mode !== 'off'
        // Probe every path once (and warm the connections), then read idle memory.
        for (const path of PATHS) await send(requestFor(path.id, stack))
        await Bun.sleep(200)
        result.rssIdleMb[mode] = Object.fromEntries(all.map((s) => [s.name, round(s.rssMb())]))

        if (mode === 'off') {
          const nginx = await startNginx(join(temp, 'nginx'), stack.services.catalog.url).catch((error) => {
            log(`  nginx could not start, skipped: ${error}`)
            return undefined
          })
          if (nginx) {
            running.push(nginx)
            const nginxUrl = `${nginx.url}/catalog/42`
            if (warmupS > 0) await runWrk({ url: nginxUrl, durationS: warmupS, threads, connections })
            const { wrk, rss } = await measure('nginx → catalog', nginxUrl, [stack.services.catalog], false)
            result.cases.push({
              path: 'nginx-catalog',
              label: 'nginx → catalog GET /catalog/42',
              mode,
              ...wrk,
              rssLoadMb: rss,
            })
            await nginx.stop()
          } else {
            log('  nginx is not installed: the nginx yardstick is skipped')
          }
        }

        for (const path of PATHS) {
          const processes = path.entry === 'catalog' ? [stack.services.catalog] : all
          let spansPerRequest: number | undefined
          if (traced) {
            // Spans one request makes, counted at the sink (the sink sees only what was exported).
            await sink.settle()
            const before = sink.spans()
            const probes = 10
            for (let i = 0; i < probes; i++) await send(requestFor(path.id, stack))
            await sink.settle()
            spansPerRequest = round((sink.spans() - before) / probes, 2)
          }
          const url = requestFor(path.id, stack).url
          const isPost = path.id === 'gateway-cart-add'
          // Warm up first, then settle so the case counts only its own spans.
          if (warmupS > 0)
            await runWrk({
              url,
              durationS: warmupS,
              threads,
              connections,
              script: isPost ? script : undefined,
            })
          if (traced) await sink.settle()
          const spansBefore = sink.spans()
          const droppedBefore = traced ? await droppedSpans(stack) : 0
          const linesBefore = countLines(stack.logs[path.entry])
          const { wrk, rss } = await measure(path.label, url, processes, isPost)
          const entry: CaseResult = { path: path.id, label: path.label, mode, ...wrk, rssLoadMb: rss }
          if (traced && spansPerRequest !== undefined) {
            entry.spansPerRequest = spansPerRequest
            entry.spansExpected = Math.round(wrk.requests * spansPerRequest)
            entry.spansReceived = (await sink.settle()) - spansBefore
            entry.spansDropped = (await droppedSpans(stack)) - droppedBefore
            await Bun.sleep(300)
            entry.logLines = countLines(stack.logs[path.entry]) - linesBefore
          }
          result.cases.push(entry)
        }
      } finally {
        await stack.stop()
        running.splice(running.indexOf(stack), 1)
      }

      // Cold start: spawn → /livez 200, with the databases already seeded by the run above.
      log(`  cold starts (${coldStartRuns} per service)`)
      for (const name of ['catalog', 'cart', 'gateway'] as const) {
        const samples: number[] = []
        for (let i = 0; i < coldStartRuns; i++) {
          const service = await startService({
            name,
            env: {
              ...modeEnv(mode, sink),
              DATABASE_PATH: join(dir, `${name}.sqlite`),
              // Liveness checks no dependency, so the upstreams need not exist.
              CATALOG_SERVICE_URL: 'http://127.0.0.1:9',
              CART_SERVICE_URL: 'http://127.0.0.1:9',
            },
            logPath: join(dir, `${name}-cold.log`),
          })
          samples.push(round(service.readyMs))
          await service.stop()
        }
        result.coldStartMs[mode][name] = { median: round(median(samples)), samples }
      }
    }
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
        const value = round(on.rps / off.rps, 2)
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
      const value = round(gateway.rps / nginx.rps, 2)
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
    const rss: Record<string, number> = {}
    for (const c of result.cases.filter((x) => x.mode === mode)) {
      for (const [name, mb] of Object.entries(c.rssLoadMb)) rss[name] = Math.max(rss[name] ?? 0, mb)
    }
    for (const [name, mb] of Object.entries(rss)) {
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
    `wrk -t${settings.threads} -c${settings.connections} -d${settings.durationS}s (warm-up ${settings.warmupS}s), ${machine.cpus} CPUs, load average at start ${machine.loadavg.join(' ')}`,
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
      duration: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
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
