// The web UI in real headless Chromium: start a run from the page against the real services,
// watch the table and charts move, change the users, stop, and download the results.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'
import { type Stack, startStack } from '../../../e2e/harness.ts'
import type { Report } from '../report.ts'
import { createUiServer, type UiServer } from './server.ts'

// The page functions below run in the browser; the project compiles without the DOM library, so
// this file declares the little of `document` it uses.
declare const document: {
  querySelector(
    selector: string,
  ): { textContent: string | null; getAttribute(name: string): string | null } | null
}

const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)

let stack: Stack | undefined
let ui: UiServer | undefined
let browser: Browser | undefined

beforeAll(async () => {
  if (!hasChromium) return
  stack = await startStack()
  ui = createUiServer({
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
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  })
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
