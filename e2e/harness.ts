// Test harness: start the real service processes on free ports (PORT=0; the port is read from
// the service's "listening" log line), collect their log lines, and stop them. Used by every test
// that needs real processes; nothing here is mocked.

import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

export const ROOT = join(import.meta.dir, '..')

export type ServiceName = 'catalog' | 'cart' | 'gateway'

export interface RunningService {
  readonly name: ServiceName | 'console'
  readonly url: string
  readonly port: number
  readonly process: Subprocess<'ignore', 'pipe', 'pipe'>
  /** Every stdout line so far, parsed when it is JSON. */
  readonly lines: Array<Record<string, unknown>>
  /** stderr, as text. */
  readonly stderr: string[]
  /** Send a signal and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export interface StartOptions {
  env?: Record<string, string | undefined>
  /** How long to wait for the listening line. */
  timeoutMs?: number
}

export async function startService(
  name: ServiceName | 'console',
  options: StartOptions = {},
): Promise<RunningService> {
  const { env = {}, timeoutMs = 10_000 } = options
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    cwd: join(ROOT, name),
    env: {
      ...Bun.env,
      SIMULATION: 'off',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      // No drain grace unless a test is about it (chaos.test.ts): stopping stays quick.
      DRAIN_GRACE_MS: '0',
      // The console's own variables (the services ignore them): a free port, nothing on disk.
      CONSOLE_PORT: '0',
      CONSOLE_DATABASE_PATH: ':memory:',
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const lines: Array<Record<string, unknown>> = []
  const stderr: string[] = []
  let resolvePort: (port: number) => void = () => {}
  const portPromise = new Promise<number>((resolve) => {
    resolvePort = resolve
  })

  void readLines(proc.stdout, (line) => {
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(line) as Record<string, unknown>
    } catch {
      parsed = { raw: line }
    }
    lines.push(parsed)
    if (typeof parsed.port === 'number' && String(parsed.msg).includes('listening')) resolvePort(parsed.port)
  })
  const stderrDone = readLines(proc.stderr, (line) => stderr.push(line))

  let timer: ReturnType<typeof setTimeout> | undefined
  let listening = false
  const port = await Promise.race([
    portPromise,
    proc.exited.then(async (code) => {
      if (listening) return 0
      // Read stderr to its end first: the reason the process gave is the point of the error.
      await stderrDone
      throw new Error(`${name} exited with ${code} before listening: ${stderr.join('\n')}`)
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new Error(`${name} did not listen within ${timeoutMs} ms: ${stderr.join('\n')}`))
      }, timeoutMs)
    }),
  ]).finally(() => {
    // Only the start-up is timed: a service that listens runs until the test stops it.
    listening = true
    clearTimeout(timer)
  })

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    process: proc,
    lines,
    stderr,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => 'timeout' as const)])
      if (code === 'timeout') {
        proc.kill('SIGKILL')
        return proc.exited
      }
      return code
    },
  }
}

/** The console, scraping the given services (`name=url,…`, CONSOLE_TARGETS) and storing in memory. */
export function startConsole(targets: Record<string, string>, options: StartOptions = {}) {
  const CONSOLE_TARGETS = Object.entries(targets)
    .map(([name, url]) => `${name}=${url}`)
    .join(',')
  return startService('console', { ...options, env: { CONSOLE_TARGETS, ...options.env } })
}

export interface Stack {
  /** The first catalog instance (the one the admin API calls reach). */
  catalog: RunningService
  /** Every catalog instance; the gateway and the cart spread calls over them all. */
  catalogs: RunningService[]
  cart: RunningService
  gateway: RunningService
  dataDir: string
  stop(): Promise<void>
}

export interface StackOptions extends StartOptions {
  /** How many catalog instances (each its own database); 1 by default. */
  catalogInstances?: number
  /** Variables for one service only, over `env` (a scenario's `env`: the gateway without a retry budget). */
  envOf?: Partial<Record<ServiceName, Record<string, string>>>
}

/** Catalog, cart and gateway wired together, each with its own database in a fresh temp folder. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shopstack-e2e-'))
  const { catalogInstances = 1, envOf = {}, ...startOptions } = options
  const env = options.env ?? {}
  const started: RunningService[] = []
  try {
    const catalogs: RunningService[] = []
    for (let i = 0; i < catalogInstances; i++) {
      const catalog = await startService('catalog', {
        ...startOptions,
        env: {
          DATABASE_PATH: join(dataDir, i === 0 ? 'catalog.sqlite' : `catalog-${i + 1}.sqlite`),
          ...env,
          ...envOf.catalog,
        },
      })
      started.push(catalog)
      catalogs.push(catalog)
    }
    const [catalog] = catalogs
    if (!catalog) throw new Error('a stack needs one catalog at least')
    const catalogUrls = catalogs.map((c) => c.url).join(',')
    const cart = await startService('cart', {
      ...startOptions,
      env: {
        DATABASE_PATH: join(dataDir, 'cart.sqlite'),
        CATALOG_SERVICE_URL: catalogUrls,
        ...env,
        ...envOf.cart,
      },
    })
    started.push(cart)
    const gateway = await startService('gateway', {
      ...startOptions,
      env: { CATALOG_SERVICE_URL: catalogUrls, CART_SERVICE_URL: cart.url, ...env, ...envOf.gateway },
    })
    started.push(gateway)
    return {
      catalog,
      catalogs,
      cart,
      gateway,
      dataDir,
      async stop() {
        await Promise.all(started.map((service) => service.stop()))
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await Promise.all(started.map((service) => service.stop('SIGKILL')))
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
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

/**
 * A port free right now, for a process that must be told its port before it starts (the dev
 * runner gives each service its own); a process that can listen on port 0 should.
 */
export function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = listener
  listener.stop(true)
  return port
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
export function devRunnerEnv(dir: string, base: Record<string, string | undefined> = Bun.env) {
  const ports: DevPorts = { gateway: freePort(), catalog: freePort(), cart: freePort(), console: freePort() }
  const env: Record<string, string | undefined> = {
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

export interface RawAnswer {
  /** The status code of the answer's status line; 0 when none came. */
  status: number
  /** Everything the server sent, as text. */
  answer: string
  ms: number
}

/**
 * One raw HTTP/1.1 exchange on a fresh connection, for what fetch cannot send (a malformed Host,
 * an absolute-form target, chunked or trickling bodies): writes `parts`, `gapMs` apart, and
 * resolves once a whole answer came (by its Content-Length), the server closed, or `timeoutMs`
 * passed. The connection is always destroyed.
 */
export function rawHttp(
  port: number,
  parts: readonly string[],
  options: { gapMs?: number; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const { gapMs = 0, timeoutMs = 4000 } = options
  return new Promise((resolve) => {
    const start = performance.now()
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let settled = false
    const done = () => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve({ status: Number(answer.slice(9, 12)) || 0, answer, ms: performance.now() - start })
    }
    socket.setTimeout(timeoutMs, done)
    socket.on('data', (chunk) => {
      answer += chunk
      const end = answer.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: *(\d+)/i.exec(answer.slice(0, end))
      if (end !== -1 && length && Buffer.byteLength(answer.slice(end + 4)) >= Number(length[1])) done()
    })
    socket.on('close', done)
    socket.on('error', done)
    void (async () => {
      for (const part of parts) {
        if (socket.destroyed) return
        socket.write(part)
        if (gapMs) await Bun.sleep(gapMs)
      }
    })()
  })
}
