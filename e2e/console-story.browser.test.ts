// The console's whole story, as a learner lives it: `bun run dev` (the real runner, free ports),
// load from the console, a catalog latency fault, the overview's p99 rising, an exemplar opening a
// slow trace whose catalog span carries the fault, that trace's log lines; then a cart error fault:
// the server side shows the cart's errors and the gateway's retries while the load generator, on
// the client side, counts fewer failures. Chromium looks at every page; screenshots are kept in
// test-artifacts/.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launchChromium } from './browser.ts'
import { devRunnerEnv, ROOT, waitFor } from './harness.ts'

const ARTIFACTS = join(ROOT, 'test-artifacts')

const dir = mkdtempSync(join(tmpdir(), 'shopstack-story-'))
const { env: devEnv, ports } = devRunnerEnv(dir)
const consoleUrl = `http://127.0.0.1:${ports.console}`
// Scraped every second, so a fault shows within seconds rather than the default five.
const env = { ...devEnv, CONSOLE_SCRAPE_INTERVAL_MS: '1000', SIMULATION: 'off' }

let dev: ReturnType<typeof Bun.spawn> | undefined
let browser: Browser | undefined
let output = ''

interface RedPoint {
  t_ms: number
  rate: number
  error_ratio: number | null
  p99_ms: number | null
}
interface Red {
  series: { service: string; route: string | null; points: RedPoint[] }[]
  retries: { service: string; upstream: string; points: { t_ms: number; rate: number }[] }[]
  exemplars: { service: string; route: string; value_ms: number; trace_id: string }[]
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${consoleUrl}${path}`, init)
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

const json = (body: unknown, method = 'PUT'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

/** The newest point of a service's whole-service series. */
async function latest(service: string): Promise<RedPoint | undefined> {
  const red = await api<Red>(`/api/metrics/red?window_s=60`)
  const points = red.series.find((s) => s.service === service && s.route === null)?.points ?? []
  return points.filter((p) => p.rate > 0).at(-1)
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `story-${name}.png`), fullPage: true })
}

beforeAll(async () => {
  dev = Bun.spawn(['bun', 'scripts/dev.ts', '--no-watch'], { cwd: ROOT, env, stdout: 'pipe', stderr: 'pipe' })
  const stdout = dev.stdout as ReadableStream<Uint8Array>
  void (async () => {
    for await (const chunk of stdout) output += new TextDecoder().decode(chunk)
  })()
  await waitFor(() => output.includes('ShopStack ready in'), 20_000, 50)
  if (hasChromium) browser = await launchChromium()
}, 40_000)

afterAll(async () => {
  await browser?.close()
  if (dev && dev.exitCode === null) {
    await fetch(`${consoleUrl}/api/load/stop`, { method: 'POST' }).catch(() => undefined)
    dev.kill('SIGINT')
    await Promise.race([dev.exited, Bun.sleep(15_000)])
    if (dev.exitCode === null) dev.kill('SIGKILL')
  }
  rmSync(dir, { recursive: true, force: true })
}, 30_000)

describe.skipIf(!hasChromium)('the console, as a learner uses it', () => {
  test('a catalog latency fault: p99 rises, an exemplar opens the slow trace, its logs are there', async () => {
    await api('/api/load/start', json({ users: 20, spawn_rate: 20, run_time: '3m' }, 'POST'))
    await api('/api/faults/catalog', json({ latency: { min_ms: 300, max_ms: 400, route: '/catalog/:id' } }))

    // The server's view: the catalog's p99 passes the fault's floor within a few scrapes.
    await waitFor(async () => ((await latest('shopstack-catalog'))?.p99_ms ?? 0) > 300, 30_000, 500)

    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`${consoleUrl}/?window=5m`)
    // The map drawn from the spans, and the latency chart with its exemplar points.
    await page.locator('[data-edge="shopstack-gateway->shopstack-catalog"]').waitFor()
    await screenshot(page, '1-overview-latency')
    // The catalog's routes; an exemplar of /catalog/:id from after the fault is a slowed request.
    await page.getByLabel('Breakdown').selectOption('shopstack-catalog')
    const exemplars = page.locator('a.exemplar[aria-label*="shopstack-catalog /catalog/:id"]')
    const slowOne = async () => {
      const labels = await exemplars.evaluateAll((links) =>
        links.map((a) => a.getAttribute('aria-label') ?? ''),
      )
      return labels.findIndex((label) => Number(/, ([\d.]+) ms$/.exec(label)?.[1] ?? 0) >= 300) + 1
    }
    const index = (await waitFor(slowOne, 15_000, 250)) - 1
    const exemplar = exemplars.nth(index)
    await screenshot(page, '1b-catalog-routes')
    await exemplar.click()
    await page.waitForURL('**/traces/*')

    // The slow trace: the catalog's span carries the fault, and the request's log lines are below.
    const faulty = page.locator('.wf-row[data-service="shopstack-catalog"]', {
      has: page.locator('.badge.fault'),
    })
    await faulty.first().waitFor()
    expect(await faulty.first().textContent()).toContain('fault: latency')
    await faulty.first().getByRole('button').click()
    await faulty.first().locator('tr.fault', { hasText: 'shopstack.fault.latency_ms' }).first().waitFor()
    const logs = page.getByRole('region', { name: 'Log lines of this trace' })
    // One line per service the request went through (gateway and catalog), joined by trace id.
    await waitFor(async () => (await logs.locator('tbody tr').count()) >= 2, 10_000, 200)
    expect(await logs.textContent()).toContain('shopstack-catalog')
    await screenshot(page, '2-slow-trace')
    await page.close()
    await api('/api/faults/catalog', { method: 'DELETE' })
  }, 90_000)

  test("a cart error fault: the server shows the cart's errors and the gateway's retries, the client fewer failures", async () => {
    await api('/api/faults/cart', json({ error: { rate: 0.3, status: 503 } }))
    const before = await cartServerErrors()
    const failuresBefore = (await api<LoadStatus>('/api/load/status')).totals?.failures ?? 0

    // The server's view: the cart's error ratio and the gateway's retries to it, within a few scrapes.
    await waitFor(async () => ((await latest('shopstack-cart'))?.error_ratio ?? 0) > 0.1, 30_000, 500)
    await waitFor(
      async () => {
        const red = await api<Red>('/api/metrics/red?window_s=60')
        const toCart = red.retries.find((r) => r.service === 'shopstack-gateway' && r.upstream === 'cart')
        return (toCart?.points.at(-1)?.rate ?? 0) > 0
      },
      30_000,
      500,
    )
    // Enough of the cart's answers for the comparison to mean something.
    await waitFor(async () => (await cartServerErrors()) - before >= 20, 30_000, 500)

    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`${consoleUrl}/?window=5m`)
    const retries = page.getByRole('region', { name: 'Retries to upstreams' })
    await retries.locator('.u-legend').getByText('cart').first().waitFor()
    await screenshot(page, '3-overview-cart-errors')

    // The client's view, on the Load page: fewer failures than the cart answered errors.
    await page.goto(`${consoleUrl}/load`)
    await page.locator('[data-state="running"]').waitFor()
    const aggregated = page.locator('table.stats tr.total td')
    await aggregated.first().waitFor()
    const clientFailures =
      Number(((await aggregated.nth(2).textContent()) ?? '').replace(/\D/g, '')) - failuresBefore
    const serverErrors = (await cartServerErrors()) - before
    expect(serverErrors).toBeGreaterThanOrEqual(20)
    expect(clientFailures).toBeLessThan(serverErrors)
    // And the page says why: behind the gateway, the cart's own 5xx and the retries sent to it.
    const cartRow = page.locator('table.upstreams tr[data-upstream="cart"] td')
    const cell = async (n: number) => Number(((await cartRow.nth(n).textContent()) ?? '').replace(/\D/g, ''))
    await waitFor(async () => (await cell(4)) > 0, 15_000, 200)
    expect(await cell(2)).toBeGreaterThan(0)
    await page.locator('.hidden-failures').waitFor()
    await screenshot(page, '4-load-fewer-failures')
    await page.setViewportSize({ width: 760, height: 1000 })
    await screenshot(page, '4b-load-narrow')
    await page.setViewportSize({ width: 1400, height: 1000 })

    // The cart's failed answers are traces too: the search finds them, a row opens the waterfall,
    // where the gateway's retry is a second CLIENT span beside the one that failed.
    await page.goto(`${consoleUrl}/traces?service=shopstack-cart&status=error`)
    const row = page.locator('table.traces tbody tr a[href^="/traces/"]').first()
    await row.waitFor()
    await row.click()
    // The cart exports its spans in its own batches: on a busy machine they may land after the
    // gateway's, so the waterfall is reloaded, as a learner would, until the cart's row is there.
    const cartError = page.locator('.wf-row.is-error[data-service="shopstack-cart"]')
    await waitFor(
      async () => {
        if ((await cartError.count()) > 0) return true
        await page.reload()
        await page.locator('.wf-row').first().waitFor()
        return (await cartError.count()) > 0
      },
      30_000,
      1000,
    )
    await screenshot(page, '5-cart-error-trace')
    await page.close()
    await api('/api/load/stop', { method: 'POST' })
    await api('/api/faults/cart', { method: 'DELETE' })
  }, 90_000)
})

interface LoadStatus {
  totals?: { failures: number }
}

/** The cart's own count of the 5xx it answered (its /metrics), all routes. */
async function cartServerErrors(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ports.cart}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('http_requests_total{') && /status="5\d\d"/.test(line)) {
      total += Number(line.split(' ').at(-1))
    }
  }
  return total
}
