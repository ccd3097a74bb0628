// The /docs page as a user opens it in a browser, with no internet: the viewer comes from the
// service itself (the pinned swagger-ui-dist package), so the page lists the API's operations. Every
// request the page makes is checked to stay on the service's own origin.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { hasChromium, launchChromium } from './browser.ts'
import { ROOT, type RunningService, startService } from './harness.ts'

let catalog: RunningService | undefined
let browser: Browser | undefined

beforeAll(async () => {
  if (!hasChromium) return
  catalog = await startService('catalog', { env: { DATABASE_PATH: ':memory:' } })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await catalog?.stop()
})

test.skipIf(!hasChromium)(
  'the docs page shows the operations, with nothing fetched from elsewhere',
  async () => {
    if (!browser || !catalog) throw new Error('not started')
    const page = await browser.newPage()
    const origin = new URL(catalog.url).origin
    const foreign: string[] = []
    page.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) foreign.push(request.url())
    })
    await page.goto(`${catalog.url}/docs`)
    await page.getByText('/catalog/{id}').first().waitFor({ timeout: 15_000 })
    expect(await page.getByText('ShopStack catalog').first().isVisible()).toBe(true)
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true })
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'docs.png') })
    expect(foreign).toEqual([])
  },
  30_000,
)
