// The web UI in real headless Chromium: start a run from the page against the real services,
// watch the table and charts move, change the users, stop, and download the results; and the
// Faults panel: set faults on the services (with ADMIN_TOKEN on, held by the UI server), see a
// refusal, see them marked on the run, and turn them all off.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { hasChromium, launchChromium } from '../../../e2e/browser.ts'
import { ROOT, type Stack, startStack } from '../../../e2e/harness.ts'
import type { FaultState } from '../faults.ts'
import type { Report } from '../report.ts'
import { createUiServer, type UiServer } from './server.ts'

const ARTIFACTS = join(ROOT, 'test-artifacts')

// The page functions below run in the browser; the project compiles without the DOM library, so
// this file declares the little of `document` it uses.
declare const document: {
  querySelector(
    selector: string,
  ): { textContent: string | null; getAttribute(name: string): string | null } | null
}

const TOKEN = 'ui-browser-admin-token'

let stack: Stack | undefined
let ui: UiServer | undefined
let browser: Browser | undefined

beforeAll(async () => {
  if (!hasChromium) return
  // The database simulation on (its latency only, so the runs stay free of failures): each
  // service's baseline, which the Faults panel must not call a fault.
  stack = await startStack({ env: { ADMIN_TOKEN: TOKEN, SIMULATION: 'on', SIM_FAILURE_RATE: '0' } })
  ui = createUiServer({
    adminToken: TOKEN,
    port: 0,
    base: {
      hosts: { gateway: stack.gateway.url, catalog: stack.catalog.url, cart: stack.cart.url },
      spawnRate: 100,
      thinkTime: { minMs: 0, maxMs: 20 },
      metricsIntervalMs: 200,
      seed: 5,
    },
    thresholds: { maxErrorRate: 0 },
  })
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await ui?.close()
  await stack?.stop()
})

test.skipIf(!hasChromium)(
  'a run started from the page updates the table and charts, stops, and downloads its results',
  async () => {
    if (!browser || !ui) throw new Error('setup failed')
    const page = await browser.newPage()
    await page.goto(ui.url)
    await page.waitForFunction(() => document.querySelector('#host')?.textContent?.startsWith('http'))
    expect(await page.textContent('#state')).toBe('ready')

    await page.fill('#users', '4')
    await page.fill('#run-time', '2m')
    await page.click('#start')
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'running')

    const totalRequests = () =>
      page.evaluate(() => Number(document.querySelector('#stats tr.total td:nth-child(2)')?.textContent ?? 0))
    await page.waitForFunction(
      () => Number(document.querySelector('#stats tr.total td:nth-child(2)')?.textContent ?? 0) > 20,
    )
    const before = await totalRequests()
    // The table keeps moving: a later poll shows more requests.
    await page.waitForFunction(
      (seen) => Number(document.querySelector('#stats tr.total td:nth-child(2)')?.textContent ?? 0) > seen,
      before,
    )
    const rows = await page.$$eval('#stats tbody tr td:first-child', (cells) =>
      cells.map((c) => c.textContent),
    )
    expect(rows).toContain('GET /catalog/:id')
    // Charts are drawn once the series has two points, and grow with it.
    const points = () =>
      page.evaluate(
        () => document.querySelector('#chart-rps polyline')?.getAttribute('points')?.split(' ').length ?? 0,
      )
    await page.waitForFunction(
      () =>
        (document.querySelector('#chart-rps polyline')?.getAttribute('points')?.split(' ').length ?? 0) >= 2,
    )
    const drawn = await points()
    await page.waitForFunction(
      (seen) =>
        (document.querySelector('#chart-rps polyline')?.getAttribute('points')?.split(' ').length ?? 0) >
        seen,
      drawn,
    )
    expect(await page.$$eval('#chart-latency polyline', (lines) => lines.length)).toBe(3)
    expect(await page.$$eval('#chart-users polyline', (lines) => lines.length)).toBe(2)

    // Change the users while running: the metrics user plus 7 e-commerce users.
    await page.fill('#users', '7')
    await page.click('#apply')
    await page.waitForFunction(() => document.querySelector('#load')?.textContent === '8 users')

    await page.click('#stop')
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'stopped')
    expect(await page.isDisabled('#start')).toBe(false)

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')])
    expect(download.suggestedFilename()).toMatch(/^shopstack-loadtest-.*\.json$/)
    const report = JSON.parse(await Bun.file(await download.path()).text()) as Report
    expect(report.reason).toBe('stopped')
    expect(report.totals.requests).toBeGreaterThan(before)
    expect(report.totals.failures).toBe(0)
    expect(report.endpoints.reduce((sum, e) => sum + e.requests, 0)).toBe(report.totals.requests)
    expect(report.thresholds.passed).toBe(true)
    expect(report.options).toMatchObject({ users: 4 })

    const [htmlDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-html')])
    const html = await Bun.file(await htmlDownload.path()).text()
    expect(html).toContain('<svg')
    expect(html).toContain('GET /catalog/:id')
    await page.close()
  },
  60_000,
)

async function faultsOf(url: string): Promise<FaultState['faults']> {
  const response = await fetch(`${url}/admin/faults`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return ((await response.json()) as FaultState).faults
}

test.skipIf(!hasChromium)(
  "the Faults panel shows each service's faults, changes them during a run, shows refusals, and turns all off",
  async () => {
    if (!browser || !ui || !stack) throw new Error('setup failed')
    const services = stack
    const page = await browser.newPage()
    await page.goto(ui.url)
    const atBaseline = async (...ids: string[]) => {
      for (const id of ids) {
        await page.waitForFunction(
          (id) => document.querySelector(`#faults-${id} .current`)?.textContent === 'At its baseline',
          id,
        )
      }
    }
    await atBaseline('gateway', 'catalog', 'cart')
    expect(await page.textContent('#faults-cart .baseline')).toBe('Baseline: database 30–90 ms, 0% failures')
    expect(await page.$$eval('.fault-card.faulty', (cards) => cards.length)).toBe(0)
    const cartBaseline = { database: { latency_min_ms: 30, latency_max_ms: 90, failure_rate: 0 } }
    const catalogBaseline = { database: { latency_min_ms: 20, latency_max_ms: 60, failure_rate: 0 } }

    // The gateway has no database and the catalog and cart no upstream to lose.
    expect(
      await page.$$eval('#faults-gateway fieldset', (sets) => sets.map((s) => s.getAttribute('data-kind'))),
    ).toEqual(['latency', 'error', 'hang', 'cpu_burn', 'memory_leak', 'readiness', 'upstream_unreachable'])
    expect(
      await page.$$eval('#faults-cart fieldset[data-kind="upstream_unreachable"]', (s) => s.length),
    ).toBe(0)

    await page.fill('#users', '2')
    await page.fill('#run-time', '2m')
    await page.click('#start')
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'running')

    // Errors on the cart's adds, from the panel.
    const error = '#faults-cart fieldset[data-kind="error"]'
    await page.check(`${error} [data-on]`)
    await page.fill(`${error} [data-field="rate"]`, '1')
    await page.fill(`${error} [data-field="status"]`, '503')
    await page.fill(`${error} [data-field="route"]`, '/cart/add')
    await page.click('#faults-cart .apply')
    await page.waitForFunction(
      () =>
        document.querySelector('#faults-cart .current')?.textContent ===
        'Faults: error 100% 503 on /cart/add',
    )
    // On top of the baseline, which the form kept.
    expect(await faultsOf(services.cart.url)).toEqual({
      ...cartBaseline,
      error: { rate: 1, status: 503, route: '/cart/add' },
    })

    // The gateway loses the catalog.
    await page.check('#faults-gateway fieldset[data-kind="upstream_unreachable"] [data-on]')
    await page.selectOption('#faults-gateway [data-field="upstream"]', 'catalog')
    await page.click('#faults-gateway .apply')
    await page.waitForFunction(
      () => document.querySelector('#faults-gateway .current')?.textContent === 'Faults: catalog unreachable',
    )
    expect(await faultsOf(services.gateway.url)).toEqual({ upstream_unreachable: { upstream: 'catalog' } })

    // A setting the catalog refuses: its problem+json is shown, and nothing changes.
    const latency = '#faults-catalog fieldset[data-kind="latency"]'
    await page.check(`${latency} [data-on]`)
    await page.fill(`${latency} [data-field="min_ms"]`, '500')
    await page.fill(`${latency} [data-field="max_ms"]`, '100')
    await page.click('#faults-catalog .apply')
    await page.waitForFunction(() =>
      document.querySelector('#faults-catalog .fault-error')?.textContent?.startsWith('422'),
    )
    expect(await page.textContent('#faults-catalog .fault-error')).toContain('latency.min_ms must not exceed')
    expect(await faultsOf(services.catalog.url)).toEqual(catalogBaseline)

    // The run marks both changes on its charts and lists them.
    await page.waitForFunction(() =>
      (document.querySelector('#annotations')?.textContent ?? '').includes('catalog unreachable'),
    )
    expect(await page.textContent('#annotations')).toContain('error 100% 503 on /cart/add')
    await page.waitForFunction(() => document.querySelector('#chart-rps .mark') !== null)
    await page.waitForFunction(
      () => Number(document.querySelector('#failures tbody tr td')?.textContent ?? 0) > 0,
    )
    // Behind the gateway: the cart's own 503s, and the gateway's retries of the keyed adds.
    const cell = (column: number) => `#upstreams tr[data-upstream="cart"] td:nth-child(${column})`
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.textContent ?? 0) > 0, cell(5))
    expect(Number(await page.textContent(cell(3)))).toBeGreaterThan(0)

    // Reset to baseline: the faults go, the database simulation stays.
    await page.click('#faults-reset')
    await atBaseline('gateway', 'catalog', 'cart')
    expect(await faultsOf(services.cart.url)).toEqual(cartBaseline)
    expect(await faultsOf(services.gateway.url)).toEqual({})

    // All off takes the baseline too, which is a change worth seeing.
    await page.click('#faults-all-off')
    await page.waitForFunction(
      () => document.querySelector('#faults-cart .current')?.textContent === 'Faults: database off',
    )
    expect(await faultsOf(services.cart.url)).toEqual({})
    expect(await page.content()).not.toContain(TOKEN)
    await page.screenshot({ path: join(ARTIFACTS, 'loadtest-faults-wide.png'), fullPage: true })

    // The run ends with every service as it began: the baselines are back.
    await page.click('#stop')
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'stopped')
    expect(await faultsOf(services.cart.url)).toEqual(cartBaseline)
    expect(await faultsOf(services.catalog.url)).toEqual(catalogBaseline)
    await page.click('#faults-refresh')
    await atBaseline('gateway', 'catalog', 'cart')
    const report = (await (await fetch(`${ui.url}/api/report.json`)).json()) as Report
    // Only real changes are marked: the reset ended the faults without a mark of its own.
    expect(
      report.annotations.map((a) => [a.service, a.source, a.label, a.end_s !== undefined]).sort(),
    ).toEqual([
      ['cart', 'panel', 'database off', true],
      ['cart', 'panel', 'error 100% 503 on /cart/add', true],
      ['catalog', 'panel', 'database off', true],
      ['gateway', 'panel', 'catalog unreachable', true],
    ])
    await page.setViewportSize({ width: 480, height: 900 })
    await page.screenshot({ path: join(ARTIFACTS, 'loadtest-faults-narrow.png'), fullPage: true })
    await page.close()
  },
  60_000,
)
