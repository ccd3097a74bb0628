// Test harness: the real service processes on free ports (PORT=0; each names its port in its
// "listening" log line), their log lines collected, started and stopped by the one process harness
// (scripts/processes.ts); a stack of the three wired together; raw HTTP for what fetch cannot send.
// Used by every test that needs real processes; nothing here is mocked.

import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Env,
  type RunningProcess,
  type ServiceName,
  startService as startServiceProcess,
} from '../scripts/processes.ts'

export {
  type DevPorts,
  devRunnerEnv,
  freePort,
  ROOT,
  type ServiceName,
  waitFor,
} from '../scripts/processes.ts'

export interface RunningService extends RunningProcess {
  readonly name: ServiceName | 'console'
}

export interface StartOptions {
  env?: Env
  /** How long to wait for the listening line. */
  timeoutMs?: number
}

/** A service (or the console) as the tests run it: simulation off, port 0, logs collected. */
export async function startService(
  name: ServiceName | 'console',
  options: StartOptions = {},
): Promise<RunningService> {
  const { env = {}, timeoutMs = 10_000 } = options
  const running = await startServiceProcess(name, {
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
    timeoutMs,
  })
  return { ...running, name }
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
