// The stack as `bun run start` runs it, for the bench's dev-runner case (issue 19): the services are
// children of `bun scripts/dev.ts --no-watch --no-console`, which prefixes every line for the
// terminal and appends it to logs/<service>.log. Its baseline is the same services with the same
// environment spawned directly, stdout to a file (bench/processes.ts). Both keep the services'
// default telemetry (no OTLP endpoint, a JSON line per request at info); the console is left out
// on purpose: what it costs is the console mode's target, and this case is the runner's log path.
// The runner's stdout is a pipe this process drains, as a terminal would be; a real TTY costs a
// little more (the runner then also re-formats each JSON line for people).

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { devRunnerEnv, type Env, ROOT, rssMb, type ServiceName } from '../scripts/processes.ts'
import { DEV_ENV } from '../scripts/services.ts'
import { type Running, STOP_GRACE_MS, startServiceStack } from './processes.ts'

/** What both stacks share: simulation off, in-memory databases, nothing sending spans anywhere. */
export function devCaseBase(base: Env = Bun.env): Env {
  const env: Env = { ...base, SIMULATION: 'off' }
  delete env.OTLP_ENDPOINT
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT
  delete env.LOG_LEVEL
  return env
}

export interface DevStack {
  services: Record<ServiceName, Running>
  /** The runner itself (its CPU and RSS are part of what the case costs). */
  runner?: Running
  logs: Record<ServiceName, string>
  stop(): Promise<void>
}

const NAMES: ServiceName[] = ['catalog', 'cart', 'gateway']

/** The three services spawned directly, with the environment the runner would give them. */
export function startDirectStack(dir: string): Promise<DevStack> {
  return startServiceStack(dir, { ...devCaseBase(), ...DEV_ENV }, { databasePath: () => ':memory:' })
}

/** `bun scripts/dev.ts --no-watch --no-console` with free ports, its run and log dirs in `dir`. */
export async function startDevRunnerStack(dir: string, timeoutMs = 30_000): Promise<DevStack> {
  const { env, ports } = devRunnerEnv(dir, devCaseBase())
  const runDir = env.SHOPSTACK_RUN_DIR ?? join(dir, 'run')
  const logDir = env.SHOPSTACK_LOG_DIR ?? join(dir, 'logs')
  const start = performance.now()
  const runner = Bun.spawn(['bun', 'scripts/dev.ts', '--no-watch', '--no-console'], {
    cwd: ROOT,
    env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: Bun.file(join(dir, 'runner.err')),
  })
  // Drained as a terminal would: every byte read, nothing kept.
  const draining = (async () => {
    for await (const _ of runner.stdout);
  })()
  const stopRunner = async (): Promise<void> => {
    if (runner.exitCode === null) runner.kill('SIGINT')
    const exited = await Promise.race([
      runner.exited.then(() => true),
      Bun.sleep(STOP_GRACE_MS + 15_000).then(() => false),
    ])
    if (!exited) runner.kill('SIGKILL')
    await runner.exited
    await draining
  }
  try {
    const live = async (port: number) =>
      fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(500) }).then(
        async (response) => {
          await response.body?.cancel()
          return response.status === 200
        },
        () => false,
      )
    const deadline = start + timeoutMs
    while (!(await Promise.all(NAMES.map((n) => live(ports[n])))).every(Boolean)) {
      if (runner.exitCode !== null) throw new Error(`the dev runner exited with ${runner.exitCode}`)
      if (performance.now() > deadline)
        throw new Error(`the dev runner's services were not live in ${timeoutMs} ms`)
      await Bun.sleep(20)
    }
    const readyMs = performance.now() - start
    const pids = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as Array<{
      name: string
      pid: number
    }>
    const handle = (name: string, pid: number, port: number): Running => ({
      name,
      url: `http://127.0.0.1:${port}`,
      port,
      pid,
      process: runner,
      readyMs,
      lines: [],
      stderr: [],
      rssMb: () => rssMb(pid),
      // The runner stops its children: stopping one alone would be a restart in its eyes.
      stop: async () => null,
    })
    const pidOf = (name: string) => pids.find((p) => p.name === name)?.pid ?? Number.NaN
    const services = Object.fromEntries(
      NAMES.map((name) => [name, handle(name, pidOf(name), ports[name])]),
    ) as Record<ServiceName, Running>
    return {
      services,
      runner: handle('runner', runner.pid, ports.gateway),
      logs: {
        catalog: join(logDir, 'catalog.log'),
        cart: join(logDir, 'cart.log'),
        gateway: join(logDir, 'gateway.log'),
      },
      stop: async () => {
        await stopRunner()
        // Any child the runner left behind is ours: stop it by its pid.
        for (const { pid } of pids) {
          if (pid !== runner.pid && isAlive(pid)) process.kill(pid, 'SIGKILL')
        }
      },
    }
  } catch (error) {
    await stopRunner()
    throw error
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
