// End to end: the real CLI plays a fault scenario against the three real services (started by
// the e2e harness with ADMIN_TOKEN set). The faults must really be on on the services while the
// scenario says so, show in the run's failures and annotations, and be off afterwards, whether
// the run ends by itself or by Ctrl-C.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Stack, startStack, waitFor } from '../../e2e/harness.ts'
import { sampleValue } from '../../lib/src/testing.ts'
import type { FaultState } from './faults.ts'
import type { Report } from './report.ts'

const MAIN = join(import.meta.dir, 'main.ts')
const TOKEN = 'loadtest-scenario-token'
let stack: Stack
let dir: string

beforeAll(async () => {
  stack = await startStack({ env: { ADMIN_TOKEN: TOKEN } })
  dir = mkdtempSync(join(tmpdir(), 'shopstack-scenario-e2e-'))
})
afterAll(async () => {
  await stack?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function scenarioFile(name: string, scenario: unknown): string {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(scenario))
  return file
}

function loadtest(args: string[], env: Record<string, string> = {}) {
  return Bun.spawn(
    [
      'bun',
      MAIN,
      '--headless',
      ...['--host', stack.gateway.url, '--catalog-host', stack.catalog.url, '--cart-host', stack.cart.url],
      ...args,
    ],
    { stdout: 'pipe', stderr: 'pipe', env: { ...Bun.env, ADMIN_TOKEN: '', ...env } },
  )
}

async function faultsOf(url: string): Promise<FaultState['faults']> {
  const response = await fetch(`${url}/admin/faults`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return ((await response.json()) as FaultState).faults
}

describe('a scenario played against the real services', () => {
  test('turns the faults on at their time, shows them in the results, and off at the end', async () => {
    const file = scenarioFile('errors', {
      name: 'e2e-errors',
      description: 'the catalog fails every product view for a moment',
      seed: 99,
      steps: [
        {
          at: '1s',
          service: 'catalog',
          faults: { error: { rate: 1, status: 503, route: '/catalog/:id' } },
          for: '1500ms',
          note: 'product views fail',
        },
      ],
    })
    const json = join(dir, 'errors.json.out')
    const html = join(dir, 'errors.html')
    const proc = loadtest([
      ...['--scenario', file, '--admin-token', TOKEN, '--users', '6', '--spawn-rate', '100'],
      ...[
        '--run-time',
        '4s',
        '--think-time',
        '0-20ms',
        '--metrics-users',
        '0',
        '--json',
        json,
        '--html',
        html,
      ],
    ])
    const stderr = new Response(proc.stderr).text()
    const stdout = new Response(proc.stdout).text()
    // While the run goes, the catalog really has the fault, then really has it no more.
    const during = await waitFor(async () => (await faultsOf(stack.catalog.url)).error, 5000)
    expect(during).toEqual({ rate: 1, status: 503, route: '/catalog/:id' })
    await waitFor(async () => (await faultsOf(stack.catalog.url)).error === undefined, 5000)
    const code = await proc.exited
    expect({ code, stderr: code === 0 ? '' : await stderr }).toEqual({ code: 0, stderr: '' })

    expect(await faultsOf(stack.catalog.url)).toEqual({})
    const report = (await Bun.file(json).json()) as Report
    expect(report.seed).toBe(99)
    expect(report.scenario).toEqual({
      name: 'e2e-errors',
      description: 'the catalog fails every product view for a moment',
    })
    expect(report.annotations).toHaveLength(1)
    const [mark] = report.annotations
    expect(mark).toMatchObject({ service: 'catalog', source: 'scenario', note: 'product views fail' })
    expect(mark?.start_s).toBeGreaterThanOrEqual(0.9)
    expect(mark?.start_s).toBeLessThan(1.5)
    expect((mark?.end_s ?? 0) - (mark?.start_s ?? 0)).toBeCloseTo(1.5, 0)

    // The failures are the fault's: 503s on product views, and on cart adds (the cart looks the
    // product up in the catalog), all inside the interval.
    const failures = report.failures
    expect(failures.length).toBeGreaterThan(0)
    for (const failure of failures) {
      expect(['GET /catalog/:id', 'POST /cart/add']).toContain(failure.endpoint)
      expect(failure.status).toBe(503)
      expect(failure.example.at_s).toBeGreaterThanOrEqual(mark?.start_s ?? 0)
      expect(failure.example.at_s).toBeLessThanOrEqual((mark?.end_s ?? 0) + 0.5)
    }
    expect(report.totals.failures).toBeGreaterThan(0)
    expect(report.totals.failures).toBeLessThan(report.totals.requests)
    const metrics = await (await fetch(`${stack.catalog.url}/metrics`)).text()
    // At least one injection per failure; more, as the gateway retries a read that got a 503.
    expect(sampleValue(metrics, 'simulated_faults_total', { kind: 'error' })).toBeGreaterThanOrEqual(
      report.totals.failures,
    )
    expect(sampleValue(metrics, 'shopstack_fault_active', { kind: 'error' })).toBe(0)

    expect(await stdout).toContain('Faults (scenario e2e-errors):')
    const log = await stderr
    expect(log).toContain('scenario e2e-errors: the catalog fails every product view for a moment')
    expect(log).toMatch(
      /scenario: \+1\.\ds catalog: error 100% 503 on \/catalog\/:id on \(product views fail\)/,
    )
    expect(log).toContain('scenario: scenario faults off on catalog')
    const page = await Bun.file(html).text()
    expect(page).toContain('class="mark"')
    expect(page).toContain('error 100% 503 on /catalog/:id')
  }, 30_000)

  test("Ctrl-C turns the scenario's faults off; the token comes from ADMIN_TOKEN", async () => {
    const file = scenarioFile('unreachable', {
      name: 'e2e-unreachable',
      description: 'the gateway loses the cart until the end',
      steps: [{ at: '0s', service: 'gateway', faults: { upstream_unreachable: { upstream: 'cart' } } }],
    })
    const proc = loadtest(['--scenario', file, '--users', '2', '--run-time', '1m', '--think-time', '20ms'], {
      ADMIN_TOKEN: TOKEN,
    })
    await waitFor(async () => (await faultsOf(stack.gateway.url)).upstream_unreachable, 5000)
    expect((await fetch(`${stack.gateway.url}/cart/someone`)).status).toBe(502)
    proc.kill('SIGINT')
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()])
    expect(code).toBe(0)
    expect(stdout).toContain('ended by stopped')
    expect(await faultsOf(stack.gateway.url)).toEqual({})
    expect((await fetch(`${stack.gateway.url}/cart/someone`)).status).toBe(200)
  }, 30_000)

  test('a wrong token, or a bad scenario file, stops the run before it starts (exit 2)', async () => {
    const file = scenarioFile('latency', {
      name: 'e2e-latency',
      description: 'slow catalog',
      steps: [{ at: '0s', service: 'catalog', faults: { latency: { min_ms: 100, max_ms: 100 } } }],
    })
    const wrong = loadtest(['--scenario', file, '--admin-token', 'wrong', '--run-time', '5s'])
    const [code, stderr] = await Promise.all([wrong.exited, new Response(wrong.stderr).text()])
    expect(code).toBe(2)
    expect(stderr).toContain('scenario e2e-latency cannot change faults')
    expect(stderr).toContain('catalog: 401')

    const bad = scenarioFile('bad', { name: 'bad', description: 'x', steps: [{ at: '1s', service: 'cart' }] })
    const refused = loadtest(['--scenario', bad, '--admin-token', TOKEN])
    const [badCode, badErr] = await Promise.all([refused.exited, new Response(refused.stderr).text()])
    expect(badCode).toBe(2)
    expect(badErr).toContain('steps[0].faults must be an object of fault settings')
    expect(await faultsOf(stack.catalog.url)).toEqual({})
  }, 30_000)
})
