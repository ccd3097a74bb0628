// The developer scripts as a new user runs them: `bun run dev` starts everything with prefixed
// output and per-service log files, `status` and `endpoints` pass against it, and Ctrl-C (SIGINT)
// leaves no process behind. Ports are free ones, not 8000-8002.

import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devRunnerEnv, type Env, freePort, ROOT, startProcess, waitFor } from './processes.ts'
import { DEV_ENV, isAlive, stopTimeoutMs } from './services.ts'

const dir = mkdtempSync(join(tmpdir(), 'shopstack-dev-'))
const { env, ports } = devRunnerEnv(dir)
const { gateway: gatewayPort, console: consolePort } = ports

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `bun run dev` without watch mode, on `runEnv`; what it writes is collected as it comes. */
function startDev(runEnv: Env) {
  const dev = Bun.spawn(['bun', 'scripts/dev.ts', '--no-watch'], {
    cwd: ROOT,
    env: runEnv,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const written = { stdout: '', stderr: '' }
  for (const stream of ['stdout', 'stderr'] as const) {
    void (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of dev[stream]) written[stream] += decoder.decode(chunk, { stream: true })
    })()
  }
  return { dev, written }
}

describe('developer scripts', () => {
  test('dev starts all three, status and endpoints pass, SIGINT stops everything', async () => {
    const { dev, written } = startDev(env)
    try {
      const status = await waitFor(
        async () => {
          const run = Bun.spawnSync(['bun', 'scripts/status.ts'], { cwd: ROOT, env })
          return run.exitCode === 0 ? run.stdout.toString() : false
        },
        15_000,
        200,
      )
      expect(status).toContain('gateway')

      const endpoints = Bun.spawnSync(['bun', 'scripts/endpoints.ts'], { cwd: ROOT, env })
      expect(endpoints.stdout.toString()).toMatch(/\d+ passed, 0 failed/)
      expect(endpoints.exitCode).toBe(0)

      await waitFor(() => written.stdout.includes('gateway') && written.stdout.includes('/catalog/:id'))
      for (const name of ['catalog', 'cart', 'gateway']) {
        expect(written.stdout).toContain(`${name.padEnd(7)}`)
        const log = readFileSync(join(dir, 'logs', `${name}.log`), 'utf8')
        expect(JSON.parse(log.split('\n')[0] as string).service).toBe(name)
      }

      // The console got every service's spans (one trace through all three) and log lines.
      const consoleUrl = `http://127.0.0.1:${consolePort}`
      expect(written.stdout).toMatch(
        /ShopStack ready in \d+\.\d s — open the console: http:\/\/localhost:\d+/,
      )
      const traces = await waitFor(async () => {
        const answer = (await (await fetch(`${consoleUrl}/api/traces?route=/cart/add`)).json()) as {
          traces: { services: string[] }[]
        }
        return answer.traces.find((t) => t.services.length === 3)
      })
      expect(traces.services).toEqual(['shopstack-cart', 'shopstack-catalog', 'shopstack-gateway'])
      for (const name of ['catalog', 'cart', 'gateway']) {
        const { logs } = (await (await fetch(`${consoleUrl}/api/logs?service=shopstack-${name}`)).json()) as {
          logs: { trace_id?: string }[]
        }
        expect(logs.some((line) => line.trace_id)).toBe(true)
      }

      const pids = JSON.parse(readFileSync(join(dir, 'run', 'pids.json'), 'utf8')) as Array<{ pid: number }>
      expect(pids).toHaveLength(5)
      dev.kill('SIGINT')
      expect(await dev.exited).toBe(0)
      await waitFor(() => pids.every(({ pid }) => !isAlive(pid)), 5000)
      expect(existsSync(join(dir, 'run', 'pids.json'))).toBe(false)
    } finally {
      if (dev.exitCode === null) dev.kill('SIGKILL')
    }
  }, 60_000)

  test('one service stopped leaves the others running, and restart brings it back', async () => {
    const runEnv = {
      ...env,
      SHOPSTACK_RUN_DIR: join(dir, 'run-restart'),
      SHOPSTACK_LOG_DIR: join(dir, 'logs-restart'),
    }
    const { dev, written } = startDev(runEnv)
    try {
      const status = () => Bun.spawnSync(['bun', 'scripts/status.ts'], { cwd: ROOT, env: runEnv })
      await waitFor(() => status().exitCode === 0, 15_000, 200)
      const stop = Bun.spawnSync(['bun', 'scripts/stop.ts', 'catalog'], { cwd: ROOT, env: runEnv })
      expect(stop.stdout.toString()).toMatch(/catalog \(pid \d+\) stopped/)
      await waitFor(() => written.stderr.includes('bun run restart catalog'), 5000)
      expect(written.stderr).toContain('console, cart and gateway keep running')
      // The gateway is still there and answers for the missing catalog with a 502.
      const read = await fetch(`http://127.0.0.1:${gatewayPort}/catalog/1`)
      expect(read.status).toBe(502)
      expect(dev.exitCode).toBeNull()

      const restart = Bun.spawnSync(['bun', 'scripts/restart.ts', 'catalog'], { cwd: ROOT, env: runEnv })
      expect(restart.stdout.toString()).toContain('catalog is up again')
      expect(restart.exitCode).toBe(0)
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${gatewayPort}/catalog/1`)).status === 200,
        10_000,
      )
      // `bun run stop` with no name: the runner stops its children, and each is reported stopped.
      const stopAll = Bun.spawnSync(['bun', 'scripts/stop.ts'], { cwd: ROOT, env: runEnv }).stdout.toString()
      expect(stopAll).not.toContain('was not running')
      for (const name of ['dev runner', 'console', 'catalog', 'cart', 'gateway']) {
        expect(stopAll).toMatch(new RegExp(`${name} \\(pid \\d+\\) stopped`))
      }
      expect(await dev.exited).toBe(0)
    } finally {
      if (dev.exitCode === null) dev.kill('SIGKILL')
    }
  }, 60_000)

  test("stop waits out a service's drain grace and drain before it kills", () => {
    expect(stopTimeoutMs({})).toBeGreaterThan(3000 + 10_000)
    expect(stopTimeoutMs({ DRAIN_GRACE_MS: '5000', DRAIN_TIMEOUT_MS: '60000' })).toBeGreaterThan(65_000)
    // bun run dev's single instances have no peer to hand over to: no grace.
    expect(stopTimeoutMs({ ...DEV_ENV })).toBeLessThan(stopTimeoutMs({}))
  })

  for (const name of ['catalog', 'cart', 'gateway']) {
    test(`bun run dev:${name} starts the ${name} alone`, async () => {
      const port = freePort()
      // Ready when its /livez answers 200; stopped with SIGTERM, awaiting the exit.
      const child = await startProcess(`dev:${name}`, ['bun', 'run', `dev:${name}`], {
        cwd: ROOT,
        env: { ...env, PORT: String(port) },
        port,
        timeoutMs: 15_000,
      })
      try {
        const body = (await (await fetch(`${child.url}/livez`)).json()) as { service: string }
        expect(body).toMatchObject({ service: name })
      } finally {
        await child.stop()
      }
    }, 30_000)
  }

  test('status reports services that are down and exits non-zero', () => {
    const run = Bun.spawnSync(['bun', 'scripts/status.ts'], {
      cwd: ROOT,
      env: {
        ...env,
        GATEWAY_URL: 'http://127.0.0.1:9',
        CATALOG_SERVICE_URL: 'http://127.0.0.1:9',
        CART_SERVICE_URL: 'http://127.0.0.1:9',
      },
    })
    expect(run.exitCode).toBe(1)
    expect(run.stdout.toString()).toContain('not running')
  })
})
