// Starting and stopping what the benchmark measures: the three services and the console (each on a
// free loopback port, stdout to a file so the terminal is never the bottleneck), and a loopback-only
// nginx.
// Every process started here is stopped by its own handle; nothing is killed by name.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { RUNTIME_ENV } from '../scripts/services.ts'

export const ROOT = join(import.meta.dir, '..')

export type ServiceName = 'catalog' | 'cart' | 'gateway'

/** A free TCP port on 127.0.0.1 (bound, read, released: the OS does not hand it out again at once). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = listener
  listener.stop(true)
  return port
}

export interface Running {
  readonly name: string
  readonly pid: number
  readonly url: string
  /** Milliseconds from spawn to the first 200 from the ready probe. */
  readonly readyMs: number
  /** Resident set size in MB, from /proc/<pid>/status (VmRSS). */
  rssMb(): number
  stop(): Promise<void>
}

export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN)
    return kb / 1024
  } catch {
    return Number.NaN
  }
}

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

export async function stopProcess(proc: Subprocess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill('SIGTERM')
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)])
  if (!exited) {
    proc.kill('SIGKILL')
    await proc.exited
  }
}

/** Poll `url` until it answers 200; the time from `start` in milliseconds. */
export async function waitReady(
  url: string,
  proc: Subprocess,
  start: number,
  timeoutMs: number,
  log: string,
) {
  const deadline = start + timeoutMs
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) {
      throw new Error(`${url}: process exited with ${proc.exitCode}: ${tail(log)}`)
    }
    try {
      const response = await fetch(url)
      await response.body?.cancel()
      if (response.status === 200) return performance.now() - start
    } catch {
      // Not listening yet.
    }
    await Bun.sleep(2)
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms: ${tail(log)}`)
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-2000)
  } catch {
    return ''
  }
}

export interface ServiceStart {
  name: ServiceName
  env: Record<string, string | undefined>
  /** Where the service's stdout and stderr go. */
  logPath: string
  timeoutMs?: number
  /** A port chosen beforehand (so the console can be told where to scrape); else a free one. */
  port?: number
}

/** Spawn a service with `bun src/index.ts` and wait for /livez; readyMs is the cold start. */
export async function startService(options: ServiceStart): Promise<Running> {
  const { name, env, logPath, timeoutMs, port = freePort() } = options
  const inherited = { ...Bun.env }
  // The caller decides about tracing: nothing inherited may turn it on.
  delete inherited.OTLP_ENDPOINT
  delete inherited.OTEL_EXPORTER_OTLP_ENDPOINT
  return startBunProcess({
    name,
    cwd: join(ROOT, name),
    env: { ...RUNTIME_ENV, ...inherited, SIMULATION: 'off', HOST: '127.0.0.1', PORT: String(port), ...env },
    port,
    logPath,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  })
}

export interface BunProcessStart {
  name: string
  /** A folder with a `src/index.ts`. */
  cwd: string
  /** The whole environment (nothing is added). */
  env: Record<string, string | undefined>
  /** The port the process was told to listen on (127.0.0.1). */
  port: number
  logPath: string
  timeoutMs?: number
}

/** Spawn `bun src/index.ts` in `cwd` and wait for /livez on `port`; readyMs is the cold start. */
export async function startBunProcess(options: BunProcessStart): Promise<Running> {
  const { name, cwd, env, port, logPath, timeoutMs = 15_000 } = options
  const start = performance.now()
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    cwd,
    env,
    stdin: 'ignore',
    stdout: Bun.file(logPath),
    stderr: Bun.file(`${logPath}.err`),
  })
  const url = `http://127.0.0.1:${port}`
  let readyMs: number
  try {
    readyMs = await waitReady(`${url}/livez`, proc, start, timeoutMs, `${logPath}.err`)
  } catch (error) {
    await stopProcess(proc, 0)
    throw error
  }
  return {
    name,
    pid: proc.pid,
    url,
    readyMs,
    rssMb: () => rssMb(proc.pid),
    stop: () => stopProcess(proc),
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
  const start = performance.now()
  const proc = Bun.spawn([binary, '-e', `${dir}/nginx-error.log`, '-p', dir, '-c', configPath], {
    stdin: 'ignore',
    stdout: Bun.file(join(dir, 'nginx.out')),
    stderr: Bun.file(join(dir, 'nginx.err')),
  })
  const url = `http://127.0.0.1:${port}`
  let readyMs: number
  try {
    readyMs = await waitReady(`${url}/livez`, proc, start, 10_000, join(dir, 'nginx.err'))
  } catch (error) {
    await stopProcess(proc, 0)
    throw error
  }
  return {
    name: 'nginx',
    pid: proc.pid,
    url,
    readyMs,
    rssMb: () => rssMb(proc.pid),
    stop: () => stopProcess(proc),
  }
}
