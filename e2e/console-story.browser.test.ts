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
import { ROOT, waitFor } from './harness.ts'

const ARTIFACTS = join(ROOT, 'test-artifacts')

function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = listener
  listener.stop(true)
  return port
}

const dir = mkdtempSync(join(tmpdir(), 'shopstack-story-'))
const ports = { gateway: freePort(), catalog: freePort(), cart: freePort(), console: freePort() }
const consoleUrl = `http://127.0.0.1:${ports.console}`
const env = {
  ...Bun.env,
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
  // Scraped every second, so a fault shows within seconds rather than the default five.
  CONSOLE_SCRAPE_INTERVAL_MS: '1000',
  SIMULATION: 'off',
  SHOPSTACK_RUN_DIR: join(dir, 'run'),
  SHOPSTACK_LOG_DIR: join(dir, 'logs'),
}

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
    await api('/api/load/start', json({ users: 8, spawn_rate: 8, run_time: '3m' }, 'POST'))
    await api('/api/faults/catalog', json({ latency: { min_ms: 300, max_ms: 400, route: '/catalog/:id' } }))

    // The server's view: the catalog's p99 passes the fault's floor within a few scrapes.
    await waitFor(async () => ((await latest('shopstack-catalog'))?.p99_ms ?? 0) > 300, 30_000, 500)
    const red = await api<Red>('/api/metrics/red?window_s=60')
    const slow = red.exemplars.find(
      (e) => e.service === 'shopstack-catalog' && e.route === '/catalog/:id' && e.value_ms >= 300,
    )
    expect(slow).toBeDefined()

    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`${consoleUrl}/`)
    await page.getByText('shopstack-catalog').first().waitFor()
    await screenshot(page, '1-overview-latency')
    // BROWSER STEPS: replaced once the pages land (exemplar click, waterfall, logs).
    await page.close()
  }, 90_000)
})
