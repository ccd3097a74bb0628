// What the benchmark starts, through the one process harness (scripts/processes.ts): the services as
// the bench runs them (each on a free loopback port chosen first, so spawn → /livez is the cold
// start; stdout to a file so the terminal is never the bottleneck), a loopback-only nginx, and the
// CPU time read from /proc.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  freePort,
  type RunningProcess,
  type ServiceName,
  startProcess,
  startService as startServiceProcess,
} from '../scripts/processes.ts'

/** What the bench reads of a process it started: its pid, url, cold start (readyMs) and RSS. */
export type Running = RunningProcess

/** User + system CPU seconds a process has used, from /proc/<pid>/stat (NaN once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}

/** USER_HZ: Linux reports /proc times in 1/100 s on every architecture Bun runs on. */
const CLOCK_TICKS = 100

/** How long the bench gives a process to exit after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5000

export interface ServiceStart {
  name: ServiceName
  env: Record<string, string | undefined>
  /** Where the service's stdout and stderr go. */
  logPath: string
  timeoutMs?: number
  /** A port chosen beforehand (so the console can be told where to scrape); else a free one. */
  port?: number
  /** Flags for `bun` before the entry file (`--cpu-prof` in bench/profile.ts). */
  bunFlags?: string[]
}

/** A service with simulation off on a port of its own, output to a file; readyMs is the cold start. */
export function startService(options: ServiceStart): Promise<Running> {
  const { name, env, logPath, timeoutMs = 15_000, port = freePort(), bunFlags } = options
  const inherited = { ...Bun.env }
  // The caller decides about tracing: nothing inherited may turn it on.
  delete inherited.OTLP_ENDPOINT
  delete inherited.OTEL_EXPORTER_OTLP_ENDPOINT
  return startServiceProcess(name, {
    env: { ...inherited, SIMULATION: 'off', HOST: '127.0.0.1', PORT: String(port), ...env },
    port,
    logPath,
    timeoutMs,
    stopGraceMs: STOP_GRACE_MS,
    ...(bunFlags ? { bunFlags } : {}),
  })
}

/** The three services started in order (catalog, cart, gateway), each told where the others are. */
export interface ServiceStack {
  services: Record<ServiceName, Running>
  /** Each service's stdout file. */
  logs: Record<ServiceName, string>
  stop(): Promise<void>
}

export interface ServiceStackOptions {
  /** Ports chosen beforehand (the console must be told them); else free ones. */
  ports?: Partial<Record<ServiceName, number>>
  /** Each service's DATABASE_PATH; a SQLite file in `dir` unless given. */
  databasePath?: (name: 'catalog' | 'cart') => string
}

/** catalog, cart and gateway with `env`, logs and databases in `dir`; all stopped if one fails. */
export async function startServiceStack(
  dir: string,
  env: Record<string, string | undefined>,
  options: ServiceStackOptions = {},
): Promise<ServiceStack> {
  const { ports = {}, databasePath = (name) => join(dir, `${name}.sqlite`) } = options
  mkdirSync(dir, { recursive: true })
  const logs = {
    catalog: join(dir, 'catalog.log'),
    cart: join(dir, 'cart.log'),
    gateway: join(dir, 'gateway.log'),
  }
  const started: Running[] = []
  try {
    const catalog = await startService({
      name: 'catalog',
      env: { ...env, DATABASE_PATH: databasePath('catalog') },
      logPath: logs.catalog,
      port: ports.catalog,
    })
    started.push(catalog)
    const cart = await startService({
      name: 'cart',
      env: { ...env, DATABASE_PATH: databasePath('cart'), CATALOG_SERVICE_URL: catalog.url },
      logPath: logs.cart,
      port: ports.cart,
    })
    started.push(cart)
    const gateway = await startService({
      name: 'gateway',
      env: { ...env, CATALOG_SERVICE_URL: catalog.url, CART_SERVICE_URL: cart.url },
      logPath: logs.gateway,
      port: ports.gateway,
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

/**
 * nginx in front of `upstream`, loopback only, as a foreground child: config, pid, logs and
 * temp paths all live in `dir`. One worker, keep-alive connections to the upstream.
 */
export async function startNginx(dir: string, upstream: string): Promise<Running | undefined> {
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => Bun.file(path).size > 0)
  if (!binary) return undefined
  mkdirSync(dir, { recursive: true })
  const port = freePort()
  const upstreamHost = new URL(upstream).host
  const config = `
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream catalog {
    server ${upstreamHost};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://catalog;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`
  const configPath = join(dir, 'nginx.conf')
  writeFileSync(configPath, config)
  return startProcess('nginx', [binary, '-e', `${dir}/nginx-error.log`, '-p', dir, '-c', configPath], {
    port,
    logPath: join(dir, 'nginx.out'),
    timeoutMs: 10_000,
    stopGraceMs: STOP_GRACE_MS,
  })
}
