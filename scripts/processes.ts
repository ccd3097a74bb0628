// The one process harness: start a ShopStack process (a service or the console) with the runtime
// environment every Bun process of ours gets (RUNTIME_ENV), wait until it is ready, and stop it
// (SIGTERM, then SIGKILL after a grace, always awaiting the exit). The e2e tests (e2e/harness.ts),
// the bench (bench/processes.ts) and the scripts' tests start processes with it; the dev runner
// supervises its own (restarts, crash loops, prefixed output) and stops them with stopProcess.
// Every process is stopped by its own handle; nothing is killed by name.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { RUNTIME_ENV } from './services.ts'

export const ROOT = join(import.meta.dir, '..')

export type ServiceName = 'catalog' | 'cart' | 'gateway'

export type Env = Record<string, string | undefined>

/**
 * A port free right now, for a process that must be told its port before it starts (the dev
 * runner gives each service its own; the bench times spawn to /livez); a process that can listen
 * on port 0 should. Bound, read, released: the OS does not hand it out again at once.
 */
export function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = listener
  listener.stop(true)
  return port
}

export interface ProcessOptions {
  /** The folder it runs in; for a service, the service's folder. */
  cwd?: string
  /** The whole environment; unset inherits this process's. */
  env?: Env
  /**
   * The port the process was told to listen on (127.0.0.1): it is ready when GET /livez answers
   * 200. Without one, it must listen on port 0 and log a JSON line with `listening` in its `msg`
   * and the `port` (every ShopStack process does), and it is ready then.
   */
  port?: number
  /**
   * Write stdout to this file and stderr to `<logPath>.err` instead of collecting them (`lines`
   * and `stderr` stay empty): a busy process writing to a pipe nobody hurries to read is slowed.
   * Needs `port`.
   */
  logPath?: string
  /** How long it may take to be ready; it is killed and the start rejects after that. */
  timeoutMs?: number
  /** How long `stop` waits after its signal before SIGKILL. */
  stopGraceMs?: number
  /** Flags for `bun` before the entry file (a service only), e.g. `--cpu-prof` for the bench's profile. */
  bunFlags?: string[]
}

export interface RunningProcess {
  readonly name: string
  readonly url: string
  readonly port: number
  readonly pid: number
  readonly process: Subprocess
  /** Milliseconds from spawn to ready (the cold start, with `port`). */
  readonly readyMs: number
  /** Every stdout line so far, parsed when it is JSON (empty with `logPath`). */
  readonly lines: Array<Record<string, unknown>>
  /** stderr, as text, a line an entry (empty with `logPath`). */
  readonly stderr: string[]
  /** Resident set size in MB, from /proc/<pid>/status (NaN once it is gone). */
  rssMb(): number
  /** Send `signal` (unless it already exited), SIGKILL after the grace; resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** `bun src/index.ts` in the folder of `name` (or `cwd`), with RUNTIME_ENV under `env`. */
export function startService(name: string, options: ProcessOptions = {}): Promise<RunningProcess> {
  const { cwd = join(ROOT, name), env = Bun.env, bunFlags = [] } = options
  return startProcess(name, ['bun', ...bunFlags, 'src/index.ts'], {
    ...options,
    cwd,
    env: { ...RUNTIME_ENV, ...env },
  })
}

/** Spawn `command`, wait until it is ready (see ProcessOptions.port), and hand back its handle. */
export async function startProcess(
  name: string,
  command: string[],
  options: ProcessOptions = {},
): Promise<RunningProcess> {
  const { cwd, env, port: toldPort, logPath, timeoutMs = 10_000, stopGraceMs = 15_000 } = options
  if (logPath && toldPort === undefined) throw new Error(`${name}: a process logging to a file needs a port`)
  const start = performance.now()
  const proc = Bun.spawn(command, {
    ...(cwd === undefined ? {} : { cwd }),
    ...(env === undefined ? {} : { env }),
    stdin: 'ignore',
    stdout: logPath ? Bun.file(logPath) : 'pipe',
    stderr: logPath ? Bun.file(`${logPath}.err`) : 'pipe',
  })
  const lines: Array<Record<string, unknown>> = []
  const stderr: string[] = []
  let announced: (port: number) => void = () => {}
  const announcedPort = new Promise<number>((resolve) => {
    announced = resolve
  })
  let stderrDone: Promise<void> = Promise.resolve()
  if (proc.stdout instanceof ReadableStream && proc.stderr instanceof ReadableStream) {
    void readLines(proc.stdout, (line) => {
      let parsed: Record<string, unknown>
      try {
        parsed = JSON.parse(line) as Record<string, unknown>
      } catch {
        parsed = { raw: line }
      }
      lines.push(parsed)
      if (typeof parsed.port === 'number' && String(parsed.msg).includes('listening')) announced(parsed.port)
    })
    stderrDone = readLines(proc.stderr, (line) => stderr.push(line))
  }
  const errors = async () => {
    if (!logPath) return stderr.join('\n')
    try {
      return readFileSync(`${logPath}.err`, 'utf8').slice(-2000)
    } catch {
      return ''
    }
  }

  let port: number
  try {
    port =
      toldPort === undefined
        ? await untilListening(name, proc, announcedPort, stderrDone, errors, timeoutMs)
        : await untilLive(name, proc, toldPort, errors, start + timeoutMs)
  } catch (error) {
    await stopProcess(proc, 'SIGKILL')
    throw error
  }
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    process: proc,
    readyMs: performance.now() - start,
    lines,
    stderr,
    rssMb: () => rssMb(proc.pid),
    stop: (signal = 'SIGTERM') => stopProcess(proc, signal, stopGraceMs),
  }
}

/** The port a process on port 0 names in its "listening" line. */
async function untilListening(
  name: string,
  proc: Subprocess,
  announcedPort: Promise<number>,
  stderrDone: Promise<void>,
  errors: () => Promise<string>,
  timeoutMs: number,
): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined
  let settled = false
  return Promise.race([
    announcedPort,
    proc.exited.then(async (code) => {
      if (settled) return 0
      // Read stderr to its end first: the reason the process gave is the point of the error.
      await stderrDone
      throw new Error(`${name} exited with ${code} before listening: ${await errors()}`)
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        async () => reject(new Error(`${name} did not listen within ${timeoutMs} ms: ${await errors()}`)),
        timeoutMs,
      )
    }),
  ]).finally(() => {
    // Only the start-up is timed: a process that listens runs until its caller stops it.
    settled = true
    clearTimeout(timer)
  })
}

/** Poll /livez on the port the process was told until it answers 200 (every 2 ms: cold starts are timed). */
async function untilLive(
  name: string,
  proc: Subprocess,
  port: number,
  errors: () => Promise<string>,
  deadline: number,
): Promise<number> {
  const url = `http://127.0.0.1:${port}/livez`
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}: ${await errors()}`)
    try {
      const response = await fetch(url)
      await response.body?.cancel()
      if (response.status === 200) return port
    } catch {
      // Not listening yet.
    }
    await Bun.sleep(2)
  }
  throw new Error(`${name}: ${url} was not ready in time: ${await errors()}`)
}

/**
 * Send `signal` unless the process already exited, SIGKILL it if it has not exited `graceMs`
 * later, and wait for the exit; resolves to the exit code.
 */
export async function stopProcess(
  proc: Subprocess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 15_000,
): Promise<number | null> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
  const code = await Promise.race([proc.exited, Bun.sleep(graceMs).then(() => 'timeout' as const)])
  if (code !== 'timeout') return code
  proc.kill('SIGKILL')
  return proc.exited
}

/** Resident set size in MB, from /proc/<pid>/status (VmRSS); NaN once the process is gone. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN)
    return kb / 1024
  } catch {
    return Number.NaN
  }
}

/** Poll until `check` returns a truthy value or the time is up. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value as Exclude<T, undefined | null | false | 0 | ''>
    } catch (error) {
      last = error
    }
    await Bun.sleep(intervalMs)
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`)
}

export interface DevPorts {
  gateway: number
  catalog: number
  cart: number
  console: number
}

/**
 * The environment `bun run dev` (scripts/dev.ts) runs with beside anything else: each process on a
 * free port, the services told where the others are, run and log folders under `dir`, every
 * database in memory. `base` is the environment it starts from.
 */
export function devRunnerEnv(dir: string, base: Env = Bun.env) {
  const ports: DevPorts = { gateway: freePort(), catalog: freePort(), cart: freePort(), console: freePort() }
  const env: Env = {
    ...base,
    GATEWAY_PORT: String(ports.gateway),
    CATALOG_PORT: String(ports.catalog),
    CART_PORT: String(ports.cart),
    CONSOLE_PORT: String(ports.console),
    CATALOG_SERVICE_URL: `http://127.0.0.1:${ports.catalog}`,
    CART_SERVICE_URL: `http://127.0.0.1:${ports.cart}`,
    GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
    HOST: '127.0.0.1',
    DATABASE_PATH: ':memory:',
    CONSOLE_DATABASE_PATH: ':memory:',
    SHOPSTACK_RUN_DIR: join(dir, 'run'),
    SHOPSTACK_LOG_DIR: join(dir, 'logs'),
  }
  return { env, ports }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.trim()) onLine(line)
      newline = buffered.indexOf('\n')
    }
  }
  if (buffered.trim()) onLine(buffered)
}
