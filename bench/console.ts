// The console in the benchmark: starting it as `bun run dev` does (its own process, default
// retention, a SQLite file in the bench's temp dir), reading its /api/status (whose totals count
// the spans it accepted, so the services export to it directly), and timing
// `bun run dev` itself from spawn to "ShopStack ready" and to every /livez 200, then stopping it
// with SIGINT and checking that no process it started is left. Only the console's HTTP API is read.

import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { devRunnerEnv, freePort, ROOT, startService } from '../scripts/processes.ts'
import { isAlive } from '../scripts/services.ts'
import { type Running, STOP_GRACE_MS } from './processes.ts'

/** What the bench reads of the console's GET /api/status (console/README.md). */
export interface ConsoleStatus {
  spans: number
  traces: number
  logs: number
  bytes: number
  /** Since the console started, never decreasing; stored = received − evicted. */
  totals: { received_spans: number; evicted_spans: number; received_logs: number; evicted_logs: number }
  retention: { max_spans: number; max_logs: number }
}

export interface ConsoleProcess extends Running {
  status(): Promise<ConsoleStatus>
  /**
   * Wait until the console has accepted no span for `quietMs` (from the later of its last growth and
   * this call), polling totals.received_spans; returns that count.
   */
  settle(quietMs?: number, timeoutMs?: number): Promise<number>
}

/** Nothing inherited may change what is measured: retention, port, database, endpoints. */
function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...Bun.env }
  for (const name of [
    'OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'CONSOLE_PORT',
    'CONSOLE_HOST',
    'CONSOLE_DATABASE_PATH',
    'CONSOLE_MAX_SPANS',
    'CONSOLE_MAX_LOGS',
    'CONSOLE_TARGETS',
    'CONSOLE_SCRAPE_INTERVAL_MS',
  ]) {
    delete env[name]
  }
  return env
}

export interface ConsoleStart {
  /** Its SQLite file and log go here. */
  dir: string
  /** CONSOLE_TARGETS: the services it scrapes, `name=url,...`. */
  targets: string
}

/** The console with default retention and a SQLite file, as `bun run dev` runs it (RUNTIME_ENV too). */
export async function startConsole(options: ConsoleStart): Promise<ConsoleProcess> {
  const { dir, targets } = options
  mkdirSync(dir, { recursive: true })
  const port = freePort()
  const running = await startService('console', {
    env: {
      ...cleanEnv(),
      CONSOLE_HOST: '127.0.0.1',
      CONSOLE_PORT: String(port),
      CONSOLE_DATABASE_PATH: join(dir, 'console.sqlite'),
      CONSOLE_TARGETS: targets,
    },
    port,
    logPath: join(dir, 'console.log'),
    timeoutMs: 15_000,
    stopGraceMs: STOP_GRACE_MS,
  })
  async function status(): Promise<ConsoleStatus> {
    const response = await fetch(`${running.url}/api/status`)
    if (!response.ok) throw new Error(`console /api/status answered ${response.status}`)
    return (await response.json()) as ConsoleStatus
  }
  return {
    ...running,
    rssMb: running.rssMb,
    stop: running.stop,
    status,
    async settle(quietMs = 1200, timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs
      let last = (await status()).totals.received_spans
      let changed = performance.now()
      while (performance.now() < deadline && performance.now() - changed < quietMs) {
        await Bun.sleep(100)
        const now = (await status()).totals.received_spans
        if (now !== last) {
          last = now
          changed = performance.now()
        }
      }
      return last
    },
  }
}

/** One `bun run dev` start, in milliseconds from spawn. */
export interface DevStart {
  /** Spawn → the runner's "ShopStack ready in X s" line on stdout. */
  readyLineMs: number
  /** Spawn → every process (console, catalog, cart, gateway) answered /livez 200 to the bench. */
  allLiveMs: number
  /** The X the runner printed. */
  reportedS: number
  /** The runner's exit code after SIGINT. */
  exitCode: number | null
  /** Pids from the runner's pids.json still alive after it exited (killed by the bench then). */
  leftover: Array<{ name: string; pid: number }>
}

/**
 * Spawn `bun scripts/dev.ts --no-watch` on free ports with its run and log dirs in `dir` and
 * in-memory databases (the environment of scripts/scripts.test.ts), time it, stop it with SIGINT.
 */
export async function measureDevStart(dir: string, timeoutMs = 30_000): Promise<DevStart> {
  mkdirSync(dir, { recursive: true })
  const { env, ports } = devRunnerEnv(dir, cleanEnv())
  const urls = [ports.console, ports.catalog, ports.cart, ports.gateway].map(
    (port) => `http://127.0.0.1:${port}/livez`,
  )
  const runDir = env.SHOPSTACK_RUN_DIR ?? join(dir, 'run')
  const start = performance.now()
  const dev = Bun.spawn(['bun', 'scripts/dev.ts', '--no-watch'], {
    cwd: ROOT,
    env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: Bun.file(join(dir, 'dev.err')),
  })
  let readyLineMs = Number.NaN
  let reportedS = Number.NaN
  // Read stdout to the end (the runner echoes every service line; a full pipe would block it).
  const reading = (async () => {
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of dev.stdout) {
      if (!Number.isNaN(readyLineMs)) continue
      text += decoder.decode(chunk, { stream: true })
      const match = /ShopStack ready in ([\d.]+) s/.exec(text)
      if (match) {
        readyLineMs = performance.now() - start
        reportedS = Number(match[1])
      }
    }
  })()
  let allLiveMs = Number.NaN
  const pending = new Set(urls)
  const deadline = start + timeoutMs
  while (
    performance.now() < deadline &&
    dev.exitCode === null &&
    (pending.size > 0 || Number.isNaN(readyLineMs))
  ) {
    await Promise.all(
      [...pending].map(async (url) => {
        const ok = await fetch(url, { signal: AbortSignal.timeout(500) }).then(
          async (response) => {
            await response.body?.cancel()
            return response.status === 200
          },
          () => false,
        )
        if (ok) pending.delete(url)
      }),
    )
    if (pending.size === 0 && Number.isNaN(allLiveMs)) allLiveMs = performance.now() - start
    await Bun.sleep(5)
  }
  let pids: Array<{ name: string; pid: number }> = []
  try {
    pids = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as typeof pids
  } catch {
    // Not written (the runner failed early): only the runner itself is known.
    pids = [{ name: 'dev runner', pid: dev.pid }]
  }
  dev.kill('SIGINT')
  // The runner gives each child 12 s before SIGKILL; allow that and a little more.
  const exited = await Promise.race([dev.exited.then(() => true), Bun.sleep(20_000).then(() => false)])
  if (!exited) dev.kill('SIGKILL')
  await dev.exited
  await reading
  const gone = performance.now() + 5000
  while (performance.now() < gone && pids.some(({ pid }) => isAlive(pid))) await Bun.sleep(50)
  const leftover = pids.filter(({ pid }) => isAlive(pid))
  // These are processes this run started (the runner's own pid file lists them): stop them by pid.
  for (const { pid } of leftover) process.kill(pid, 'SIGKILL')
  if (Number.isNaN(readyLineMs) || Number.isNaN(allLiveMs)) {
    throw new Error(
      `bun run dev was not ready within ${timeoutMs} ms (${[...pending].join(', ') || 'no ready line'})`,
    )
  }
  return { readyLineMs, allLiveMs, reportedS, exitCode: dev.exitCode, leftover }
}
