// End to end: the real CLI (`bun loadtest/src/main.ts --headless`) against the three real
// services started by the e2e harness, with the counts checked against the services' own
// Prometheus counters.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Stack, startStack, waitFor } from '../../e2e/harness.ts'
import type { Report } from './report.ts'

const MAIN = join(import.meta.dir, 'main.ts')
let stack: Stack
let dir: string

beforeAll(async () => {
  stack = await startStack()
  dir = mkdtempSync(join(tmpdir(), 'shopstack-loadtest-'))
})
afterAll(async () => {
  await stack?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function loadtest(args: string[]) {
  return Bun.spawn(
    [
      'bun',
      MAIN,
      '--headless',
      '--host',
      stack.gateway.url,
      '--catalog-host',
      stack.catalog.url,
      '--cart-host',
      stack.cart.url,
      ...args,
    ],
    { stdout: 'pipe', stderr: 'pipe' },
  )
}

/** `http_requests_total` of a service, summed over status: "GET /catalog/:id" → count. */
async function requestCounts(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const counts = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_requests_total{')) continue
    const method = /method="([^"]+)"/.exec(line)?.[1]
    const endpoint = /endpoint="([^"]+)"/.exec(line)?.[1]
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    const key = `${method} ${endpoint}`
    counts.set(key, (counts.get(key) ?? 0) + value)
  }
  return counts
}

describe('a headless run against the real services', () => {
  test("has no failures, and its per-endpoint counts match the services' http_requests_total", async () => {
    const json = join(dir, 'run.json')
    const html = join(dir, 'run.html')
    const proc = loadtest([
      ...['--users', '8', '--spawn-rate', '100', '--run-time', '3s', '--think-time', '0-20ms'],
      ...['--metrics-wait', '100ms', '--seed', '11', '--json', json, '--html', html],
      ...['--max-error-rate', '0'],
    ])
    const [code, stdout, stderr] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ])
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toContain('GET /catalog/:id')
    expect(stdout).toContain('Total')
    expect(stdout).toContain('PASS error_rate')

    const report = (await Bun.file(json).json()) as Report
    expect(report.reason).toBe('duration')
    expect(report.totals.failures).toBe(0)
    expect(report.totals.requests).toBeGreaterThan(50)
    expect(report.thresholds.passed).toBe(true)
    expect(report.series.length).toBeGreaterThanOrEqual(2)
    expect(await Bun.file(html).text()).toContain('<svg')

    const routes = new Set(report.endpoints.map((e) => `${e.method} ${e.route}`))
    for (const route of ['GET /catalog', 'GET /catalog/:id', 'POST /cart/add', 'GET /metrics']) {
      expect(routes).toContain(route)
    }

    const ours = (target: string) =>
      new Map(
        report.endpoints
          .filter((e) => e.target === target)
          .map((e) => [`${e.method} ${e.route}`, e.requests]),
      )
    // Everything the gateway served came from this run, and every request of the run arrived.
    expect(await requestCounts(stack.gateway.url)).toEqual(ours('gateway'))
    // The catalog and cart also serve the gateway; their /livez and /metrics are only ours.
    for (const service of [stack.catalog, stack.cart]) {
      const theirs = await requestCounts(service.url)
      for (const [key, count] of ours(service.name)) {
        if (key.endsWith('/healthz')) continue
        expect({ key, count: theirs.get(key) ?? 0 }).toEqual({ key, count })
      }
    }
  })

  test('Ctrl-C stops the run cleanly and still prints the summary', async () => {
    const proc = loadtest(['--users', '4', '--run-time', '1m', '--think-time', '10ms-50ms'])
    let stderr = ''
    void (async () => {
      for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk)
    })()
    // Let requests flow for a moment, then interrupt.
    await Bun.sleep(1500)
    proc.kill('SIGINT')
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()])
    await waitFor(() => stderr.includes('stopping'), 2000)
    expect(code).toBe(0)
    expect(stdout).toContain('ended by stopped')
    expect(stdout).toMatch(/Total\s+\d+\s+0\s/)
  })

  test('a breached threshold exits 1, bad usage exits 2', async () => {
    const breached = loadtest([
      '--users',
      '2',
      '--run-time',
      '1s',
      '--think-time',
      '10ms',
      '--max-p99-ms',
      '0.001',
    ])
    const [code, stdout] = await Promise.all([breached.exited, new Response(breached.stdout).text()])
    expect(code).toBe(1)
    expect(stdout).toContain('FAIL p99_ms')

    const usage = loadtest(['--run-time', 'forever'])
    const [usageCode, usageErr] = await Promise.all([usage.exited, new Response(usage.stderr).text()])
    expect(usageCode).toBe(2)
    expect(usageErr).toContain('"forever" is not a duration')
  })
})
