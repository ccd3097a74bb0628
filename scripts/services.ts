// What the scripts know about the services: names, folders, default ports, colours.

import { existsSync, readFileSync } from 'node:fs'
import { CONSOLE_PORT, DEFAULT_PORTS } from '../contracts/src/services.ts'
import { loadConfig } from '../lib/src/config.ts'

/** A process the dev runner starts: a folder of the repository with a `src/index.ts`. */
export interface ProcessInfo {
  name: 'catalog' | 'cart' | 'gateway' | 'console'
  port: number
  colour: string
}

export interface ServiceInfo extends ProcessInfo {
  name: 'catalog' | 'cart' | 'gateway'
}

/** Start order: the catalog first, the gateway last, so readiness comes up cleanly. */
export const SERVICES: readonly ServiceInfo[] = [
  { name: 'catalog', port: DEFAULT_PORTS.catalog, colour: '\x1b[36m' },
  { name: 'cart', port: DEFAULT_PORTS.cart, colour: '\x1b[35m' },
  { name: 'gateway', port: DEFAULT_PORTS.gateway, colour: '\x1b[33m' },
]

/** The console (traces, metrics, logs, load and faults in one page), started first by `bun run dev`. */
export const CONSOLE: ProcessInfo = { name: 'console', port: CONSOLE_PORT, colour: '\x1b[32m' }

/**
 * Environment every service process starts with (a caller's own value wins). JSC sizes its heap
 * from the machine's RAM; told the budget a service runs in (256 MiB; compose limits each to
 * 176 MiB), it collects sooner. Measured with full telemetry under wrk -c50 (bench/README.md): the
 * gateway's peak RSS fell from 117 to 92-93 MB and the catalog's from 94-95 to 85-88 MB, at the
 * same throughput. It must be set before Bun starts, so it is here (bun run dev, the bench) and in
 * the Dockerfile (a test keeps the two equal).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  BUN_JSC_forceRAMSize: String(256 * 1024 * 1024),
})

/** Where `bun run dev` keeps its pid file and per-service logs (tests point these elsewhere). */
export const RUN_DIR = Bun.env.SHOPSTACK_RUN_DIR ?? '.run'
export const PID_FILE = `${RUN_DIR}/pids.json`
export const LOG_DIR = Bun.env.SHOPSTACK_LOG_DIR ?? 'logs'
/** `bun run restart <service>` writes the names here, then signals the runner (SIGUSR2). */
export const RESTART_FILE = `${RUN_DIR}/restart`

/** The port the dev runner gives a process: `<NAME>_PORT` (CONSOLE_PORT too), or its default. */
export function servicePort(service: ProcessInfo, env = Bun.env): number {
  return Number(env[`${service.name.toUpperCase()}_PORT`] ?? service.port)
}

/** What `bun run dev` recorded: the runner first, then each service it runs. */
export function readPids(file: string): Array<{ name: string; pid: number }> | undefined {
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8')) as Array<{ name: string; pid: number }>
}

/** Everything `bun run dev` can run, in start order: the console first, so no early span is lost. */
export const PROCESSES: readonly ProcessInfo[] = [CONSOLE, ...SERVICES]

/** Where a process answers: a service as `serviceUrl` says, the console on loopback at its port. */
export function processUrl(info: ProcessInfo, env = Bun.env): string {
  const service = SERVICES.find((s) => s.name === info.name)
  return service ? serviceUrl(service, env) : `http://127.0.0.1:${servicePort(info, env)}`
}

/** The base URL of a service from the same environment variables the services read. */
export function serviceUrl(service: ServiceInfo, env = Bun.env): string {
  if (service.name === 'gateway') return env.GATEWAY_URL ?? `http://localhost:${service.port}`
  const variable = service.name === 'catalog' ? 'CATALOG_SERVICE_URL' : 'CART_SERVICE_URL'
  return (env[variable]?.split(',')[0] ?? `http://localhost:${service.port}`).replace(/\/+$/, '')
}

/** Whether a process is alive (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * How long a service may take to stop after SIGTERM before it gets SIGKILL: its drain grace and
 * drain time as the services read them (lib/src/config.ts), plus 2 s to flush and exit.
 */
export function stopTimeoutMs(env = Bun.env): number {
  try {
    const { drainGraceMs, drainTimeoutMs } = loadConfig('catalog', env)
    return drainGraceMs + drainTimeoutMs + 2000
  } catch {
    return 15_000 // a bad value stops the service at start anyway; this only bounds the wait
  }
}

/**
 * `bun run dev` runs one instance of each service: no peer takes over while one drains, so the
 * drain grace (for callers to move to another instance) would only delay stop and restart.
 */
export const DEV_ENV = { DRAIN_GRACE_MS: '0' } as const
