// The console's pages as a person sees them in Chromium, served by Bun's HTML import with the JSON
// API answered from fixtures.ts (the contract of console/README.md): the service map and charts, an
// exemplar that opens its trace, the waterfall across three services with a fault badge and the
// trace's logs, the logs page's filter and live tail, a load run started and stopped, the faults
// cards with an API error in words. Then the same journeys against the real console (createConsole
// with its store, receiver, scraper and load API; console-under-test.ts), so the pages and the server
// are held to one contract. Screenshots go to test-artifacts/console-*.png.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import { hasChromium, launchChromium } from '../../../e2e/browser.ts'
import { startRealConsole } from './console-under-test.ts'
import { createFixtureServer, TRACE_ID } from './fixtures.ts'

const ROOT = join(import.meta.dir, '../../..')
const ARTIFACTS = join(ROOT, 'test-artifacts')

let browser: Browser | undefined
let fixtures: ReturnType<typeof createFixtureServer> | undefined

beforeAll(async () => {
  if (!hasChromium) return
  mkdirSync(ARTIFACTS, { recursive: true })
  fixtures = createFixtureServer()
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await fixtures?.stop()
})

/** A page that fails the test on any uncaught script error. */
async function open(path: string, base = fixtures?.url): Promise<{ page: Page; errors: string[] }> {
  if (!browser || !base) throw new Error('not started')
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  page.setDefaultTimeout(10_000)
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${base}${path}`)
  return { page, errors }
}

/** Wait (5 s at most) until the locator matches `n` elements, as a person waits for a list to settle. */
async function countReaches(locator: Locator, n: number): Promise<void> {
  for (let i = 0; i < 50 && (await locator.count()) !== n; i++) await Bun.sleep(100)
  expect(await locator.count()).toBe(n)
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true })

describe.skipIf(!hasChromium)('the console in a browser', () => {
  test('the overview shows the service map edges with their numbers, and RED charts', async () => {
    const { page, errors } = await open('/')
    const edge = page.locator('[data-edge="shopstack-gateway->shopstack-cart"] text')
    await edge.waitFor()
    expect(await edge.textContent()).toBe('0.50 req/s · 3.3% errors · p99 643 ms')
    expect(await page.locator('[data-edge="shopstack-cart->shopstack-catalog"]').count()).toBe(1)
    expect(await page.locator('[data-edge="shopstack-gateway->shopstack-catalog"]').count()).toBe(1)
    await page.locator('.panel .uplot').nth(3).waitFor()
    expect(
      await page.getByRole('region', { name: 'Request rate' }).locator('.u-legend').textContent(),
    ).toContain('shopstack-gateway')
    expect(await page.getByText('shopstack-gateway → cart').count()).toBeGreaterThan(0)
    expect(await page.locator('#status').textContent()).toContain('cart down')
    // Hovering a chart shows the values under the cursor, with their unit, in the legend.
    const ratePanel = page.getByRole('region', { name: 'Request rate' })
    const box = await ratePanel.locator('.u-over').boundingBox()
    if (!box) throw new Error('the rate chart has no plot area')
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    expect(await ratePanel.locator('.u-legend').textContent()).toMatch(/shopstack-gateway\s*[\d.]+ req\/s/)
    await shot(page, 'overview')
    // The per-route view keeps its choice in the address.
    await page.getByLabel('Breakdown').selectOption('shopstack-catalog')
    await page.getByText('RED for shopstack-catalog, per route').waitFor()
    await page.locator('.u-legend').getByText('/catalog/:id').first().waitFor()
    expect(new URL(page.url()).searchParams.get('service')).toBe('shopstack-catalog')
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('an exemplar on the latency chart opens its trace, by click or by keyboard', async () => {
    const { page, errors } = await open('/?window=15m')
    expect(await page.getByLabel('Time window').inputValue()).toBe('15m')
    const exemplar = page.locator(`a.exemplar[href="/traces/${TRACE_ID}"]`)
    await exemplar.waitFor()
    expect(await exemplar.getAttribute('aria-label')).toContain('643 ms')
    // Keyboard: the point takes the focus, keeps it across the 5 s refresh, and Enter follows it.
    await exemplar.focus()
    await page.waitForTimeout(5500)
    expect(await page.locator('a.exemplar:focus').getAttribute('href')).toBe(`/traces/${TRACE_ID}`)
    await page.keyboard.press('Enter')
    await page.waitForURL(`**/traces/${TRACE_ID}`)
    await page.goBack()
    await exemplar.click()
    await page.waitForURL(`**/traces/${TRACE_ID}`)
    await page.locator('.wf-row[data-service="shopstack-catalog"]').first().waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the waterfall shows spans of three services, the fault badge, span details and the trace logs', async () => {
    const { page, errors } = await open(`/traces/${TRACE_ID}`)
    await page.locator('.wf-row[data-service]').first().waitFor()
    const services = await page
      .locator('.wf-row[data-service]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service')))
    expect(new Set(services)).toEqual(new Set(['shopstack-gateway', 'shopstack-cart', 'shopstack-catalog']))
    expect(services).toHaveLength(6)
    const faulty = page.locator('.wf-row', { has: page.locator('.badge.fault') })
    expect(await faulty.count()).toBe(1)
    expect(await faulty.getByText('fault: latency').isVisible()).toBe(true)
    expect(await page.locator('.wf-row.is-error').count()).toBe(3)
    // A span opens its attributes, with the fault's highlighted, and its events.
    await faulty.getByRole('button').click()
    const faultAttribute = faulty.locator('tr.fault', { hasText: 'shopstack.fault.latency_ms' }).first()
    await faultAttribute.waitFor()
    expect(await faultAttribute.textContent()).toContain('500')
    await page
      .locator('.wf-row[data-service="shopstack-cart"]', { hasText: '/cart/add' })
      .getByRole('button')
      .click()
    await page.getByText('Exception: SimulatedFailure').waitFor()
    // The trace's log lines, inline.
    const logs = page.getByRole('region', { name: 'Log lines of this trace' })
    await logs.locator('summary', { hasText: 'simulated database failure (cart write)' }).waitFor()
    expect(await logs.locator('tbody tr').count()).toBe(4)
    await shot(page, 'trace')
    await logs.locator('tbody tr').first().locator('td.time a').click()
    await page.waitForURL(`**/logs?trace_id=${TRACE_ID}`)
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the logs page filters by trace id, tails new lines, pauses, and links to the trace', async () => {
    const { page, errors } = await open(`/logs?trace_id=${TRACE_ID}`)
    const rows = page.locator('table.logs tbody tr')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(4)
    expect(await page.getByLabel('Trace id', { exact: true }).inputValue()).toBe(TRACE_ID)
    expect(await page.locator('table.logs').getByText('catalog listening').count()).toBe(0)
    fixtures?.addLog('cart', 'info', 'a line that arrived later', TRACE_ID)
    await page.locator('summary', { hasText: 'a line that arrived later' }).waitFor({ timeout: 5000 })
    expect(await rows.first().textContent()).toContain('a line that arrived later')
    await page.getByRole('button', { name: 'Pause' }).click()
    fixtures?.addLog('cart', 'info', 'a line while paused', TRACE_ID)
    await page.waitForTimeout(2500)
    expect(await page.locator('summary', { hasText: 'a line while paused' }).count()).toBe(0)
    await page.getByRole('button', { name: 'Resume' }).click()
    await page.locator('summary', { hasText: 'a line while paused' }).waitFor({ timeout: 5000 })
    // The minimum level filter, in the address too.
    await page.getByLabel('Minimum level').selectOption('error')
    await countReaches(rows, 1)
    expect(new URL(page.url()).searchParams.get('level')).toBe('error')
    await shot(page, 'logs')
    await rows.first().getByRole('link').click()
    await page.waitForURL(`**/traces/${TRACE_ID}`)
    await page.locator('.wf-row[data-service]').first().waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('a tail that falls behind (more lines than a read takes) skips to the newest and says so', async () => {
    const shop = fixtures as NonNullable<typeof fixtures>
    const { page, errors } = await open('/logs')
    const rows = page.locator('table.logs tbody tr')
    await rows.first().waitFor()
    for (let i = 0; i < 1100; i++) shop.addLog('gateway', 'info', `burst line ${i}`)
    await page.getByText('it skipped to the newest').waitFor({ timeout: 8000 })
    await page.locator('summary', { hasText: 'burst line 1099' }).waitFor({ timeout: 5000 })
    expect(await rows.first().textContent()).toContain('burst line 1099')
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('trace search lists traces with the filters in the address, and a row opens the trace', async () => {
    const { page, errors } = await open('/traces?status=error')
    const rows = page.locator('table.traces tbody tr')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('shopstack-gateway: POST /cart/add')
    expect(await page.getByLabel('Status').inputValue()).toBe('error')
    await page.getByLabel('Status').fill('')
    await page.getByRole('button', { name: 'Find traces' }).click()
    await countReaches(rows, 2)
    expect(await rows.first().getAttribute('data-trace-id')).not.toBe(TRACE_ID) // newest first
    await shot(page, 'traces')
    await page.locator(`tr[data-trace-id="${TRACE_ID}"]`).getByRole('link').click()
    await page.waitForURL(`**/traces/${TRACE_ID}`)
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the load page starts a run, shows the stats, charts and failures, and stops it', async () => {
    const { page, errors } = await open('/load')
    await page.locator('[data-state="ready"]').waitFor()
    await page.getByRole('spinbutton', { name: 'Number of users' }).fill('25')
    await page.getByRole('button', { name: 'Start' }).click()
    await page.locator('[data-state="running"]').waitFor()
    const stats = page.locator('table.stats')
    await stats.getByText('POST /cart/add').waitFor()
    expect(await stats.getByText('Aggregated').isVisible()).toBe(true)
    expect(await page.getByText('25 users').count()).toBe(1)
    await page.locator('table.failures').getByRole('link').waitFor()
    expect(await page.locator('table.failures a').getAttribute('href')).toBe(`/traces/${TRACE_ID}`)
    await page.locator('.panel .uplot').nth(2).waitFor()
    await shot(page, 'load')
    await page.getByRole('button', { name: 'Stop' }).click()
    await page.locator('[data-state="stopped"]').waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the faults page shows a card per service, refuses bad settings, saves good ones, and says why the API failed', async () => {
    const { page, errors } = await open('/faults')
    const card = (service: string) => page.locator(`section.card[data-service="${service}"]`)
    await card('cart').waitFor()
    expect(await page.locator('section.card').count()).toBe(3)
    expect(await card('catalog').getByText('Faults: latency 500–500 ms on /catalog/:id').isVisible()).toBe(
      true,
    )
    expect(await card('cart').getByRole('alert').textContent()).toContain(
      "Bad Gateway (502): cart's admin API at http://localhost:8002/admin/faults did not answer",
    )
    // Checked in the page before anything is sent.
    await page.locator('#catalog-latency-min_ms').fill('900')
    await card('catalog').getByRole('button', { name: 'Apply to catalog' }).click()
    expect(await card('catalog').getByRole('alert').last().textContent()).toContain(
      'latency.min_ms must not exceed latency.max_ms',
    )
    // Saved by the API.
    await card('gateway').getByLabel('Errors on gateway').check()
    await page.locator('#gateway-error-rate').fill('0.1')
    await page.locator('#gateway-error-status').fill('503')
    await card('gateway').getByRole('button', { name: 'Apply to gateway' }).click()
    await card('gateway').getByText('Saved: error 10% 503.').waitFor()
    // Refused by the API: the problem+json in words.
    await card('cart').getByRole('button', { name: 'Clear' }).click()
    await card('cart').getByText('Could not clear the faults on cart.').waitFor()
    await shot(page, 'faults')
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the navigation reaches every page, and a pasted trace id opens it or says it is unknown', async () => {
    const { page, errors } = await open('/faults')
    const nav = page.getByRole('navigation', { name: 'Pages' })
    for (const [name, heading] of [
      ['Overview', 'Overview'],
      ['Traces', 'Traces'],
      ['Logs', 'Logs'],
      ['Load', 'Load'],
    ]) {
      await nav.getByRole('link', { name }).click()
      await page.getByRole('heading', { level: 1, name: heading }).waitFor()
      expect(await nav.getByRole('link', { name }).getAttribute('aria-current')).toBe('page')
    }
    await page.getByLabel('Go to trace id').fill(TRACE_ID)
    await page.getByLabel('Go to trace id').press('Enter')
    await page.waitForURL(`**/traces/${TRACE_ID}`)
    await page.locator('.wf-row[data-service]').first().waitFor()
    const unknown = 'ffffffffffffffffffffffffffffffff'
    await page.getByLabel('Go to trace id').fill(unknown)
    await page.getByLabel('Go to trace id').press('Enter')
    await page
      .getByRole('alert')
      .filter({ hasText: `no trace ${unknown}` })
      .waitFor()
    expect(await page.getByRole('alert').first().textContent()).toContain('Not Found (404)')
    // Back goes back, as in any site.
    await page.goBack()
    await page.locator('.wf-row[data-service]').first().waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('a failing API is shown in words on the page', async () => {
    const broken = createFixtureServer({ broken: '/api/service-map' })
    try {
      const { page, errors } = await open('/', broken.url)
      const alert = page.getByRole('alert').filter({ hasText: 'Could not load the overview' })
      await alert.waitFor()
      expect(await alert.textContent()).toContain(
        'Internal Server Error (500): /api/service-map is broken on purpose',
      )
      expect(errors).toEqual([])
      await page.close()
    } finally {
      await broken.stop()
    }
  }, 30_000)
})

describe.skipIf(!hasChromium)('the real console (createConsole) in a browser', () => {
  let real: Awaited<ReturnType<typeof startRealConsole>> | undefined
  beforeAll(async () => {
    real = await startRealConsole()
  })
  afterAll(async () => {
    await real?.stop()
  })

  test('overview map and charts from stored spans and scraped metrics; exemplar → waterfall → logs → trace', async () => {
    if (!real) throw new Error('not started')
    const { traceId } = real
    const { page, errors } = await open('/', real.url)
    await page.locator('[data-edge="shopstack-gateway->shopstack-cart"]').waitFor()
    expect(
      await page.locator('[data-edge="shopstack-cart->shopstack-catalog"] text').textContent(),
    ).toContain('req/s')
    await page.locator('.panel .uplot').nth(3).waitFor()
    expect(
      await page.getByRole('region', { name: 'Request rate' }).locator('.u-legend').textContent(),
    ).toContain('shopstack-catalog')
    expect(await page.locator('#status').textContent()).toContain('shopstack-gateway up')
    await shot(page, 'real-overview')
    // Per route, from the scraper's endpoint label.
    await page.getByLabel('Breakdown').selectOption('shopstack-gateway')
    const legend = page.getByRole('region', { name: 'Request rate' }).locator('.u-legend')
    await legend.getByText('/cart/add').waitFor()
    expect(await legend.textContent()).toContain('/catalog/:id')
    await page.getByLabel('Breakdown').selectOption('')
    await page.locator(`a.exemplar[href="/traces/${traceId}"]`).click()
    await page.waitForURL(`**/traces/${traceId}`)
    const rows = page.locator('.wf-row[data-service]')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(5)
    const faulty = page.locator('.wf-row[data-service="shopstack-catalog"]', {
      has: page.locator('.badge.fault'),
    })
    expect(await faulty.getByText('fault: latency').isVisible()).toBe(true)
    await page
      .locator('.wf-row[data-service="shopstack-cart"]', { hasText: '/cart/add' })
      .getByRole('button')
      .click()
    await page.getByText('Exception: SimulatedFailure').waitFor()
    const logs = page.getByRole('region', { name: 'Log lines of this trace' })
    await logs.locator('summary', { hasText: 'simulated database failure (cart write)' }).waitFor()
    expect(await logs.locator('tbody tr').count()).toBe(4)
    await shot(page, 'real-trace')
    await logs.locator('tbody tr').first().locator('td.time a').click()
    await page.waitForURL(`**/logs?trace_id=${traceId}`)
    await countReaches(page.locator('table.logs tbody tr'), 4)
    await page.locator('table.logs tbody tr').first().getByRole('link').click()
    await page.waitForURL(`**/traces/${traceId}`)
    await rows.first().waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('trace search finds the failed cart write by service and status, and by route', async () => {
    if (!real) throw new Error('not started')
    const { page, errors } = await open('/traces?service=shopstack-cart&status=error', real.url)
    const rows = page.locator('table.traces tbody tr')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(1)
    expect(await rows.first().getAttribute('data-trace-id')).toBe(real.traceId)
    expect(await rows.first().textContent()).toContain('3 errors')
    // The route of any service in the trace: catalog's, for a trace found from the cart.
    await page.getByLabel('Service').selectOption('')
    await page.getByLabel('Route').fill('/catalog/:id')
    await page.getByLabel('Status').fill('')
    await page.getByRole('button', { name: 'Find traces' }).click()
    await countReaches(rows, 1)
    expect(new URL(page.url()).searchParams.get('route')).toBe('/catalog/:id')
    await page.getByLabel('Status').fill('200')
    await page.getByRole('button', { name: 'Find traces' }).click()
    await page.getByText('No traces match').waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the load page runs the real load API and links a failure to its trace', async () => {
    if (!real) throw new Error('not started')
    const { page, errors } = await open('/load', real.url)
    await page.locator('[data-state="ready"]').waitFor()
    await page.getByRole('button', { name: 'Start' }).click()
    await page.locator('[data-state="running"]').waitFor()
    await page.locator('table.stats').getByText('GET /catalog/:id').waitFor()
    await page.locator(`table.failures a[href="/traces/${real.traceId}"]`).waitFor()
    await page.waitForTimeout(2500) // a few points of the series
    await shot(page, 'real-load')
    await page.getByRole('button', { name: 'Stop' }).click()
    await page.locator('[data-state="stopped"]').waitFor()
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)

  test('the faults page reads the real proxy: cards, a saved change, and the unreachable cart in words', async () => {
    if (!real) throw new Error('not started')
    const { page, errors } = await open('/faults', real.url)
    const card = (service: string) => page.locator(`section.card[data-service="${service}"]`)
    await card('cart').getByRole('alert').first().waitFor()
    expect(await card('cart').getByRole('alert').first().textContent()).toContain('did not answer')
    expect(await card('gateway').getByText('At its baseline: no faults').isVisible()).toBe(true)
    expect(await card('catalog').getAttribute('class')).toContain('faulty')
    expect(await card('catalog').getByText('Faults: latency 500–500 ms on /catalog/:id').isVisible()).toBe(
      true,
    )
    await card('gateway').getByLabel('Errors on gateway').check()
    await page.locator('#gateway-error-rate').fill('0.25')
    await card('gateway').getByRole('button', { name: 'Apply to gateway' }).click()
    await card('gateway').getByText('Saved: error 25% 500.').waitFor()
    await shot(page, 'real-faults')
    expect(errors).toEqual([])
    await page.close()
  }, 30_000)
})
