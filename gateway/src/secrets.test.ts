// No configuration value with credentials leaves the gateway: not in GET /, not in a failing
// readiness check, not in a log line, not in a metric. Upstream URLs may carry userinfo
// (`http://user:password@host`); what is shown of them is the URL without it.

import { expect, test } from 'bun:test'
import { createTestTelemetry } from '@shopstack/lib/testing'
import { freePort } from '../../e2e/harness.ts'
import { createApp } from './app.ts'

const SECRET = 's3cr3t-pw'

test('upstream credentials appear in no response, log line or metric', async () => {
  const dead = freePort()
  // An instance that answers, but not ready: its readiness failure names the instance.
  const failing = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response('no', { status: 503 }),
  })
  const telemetry = createTestTelemetry({ service: 'gateway' })
  const app = createApp({
    catalogUrl: `http://shop:${SECRET}@127.0.0.1:${dead}`,
    cartUrls: [`http://127.0.0.1:${dead}`, `http://u:${SECRET}@127.0.0.1:${failing.port}`],
    upstreamTimeoutMs: 500,
    ...telemetry,
  })
  const call = (path: string) => app.handle(new Request(`http://localhost${path}`))
  const texts: string[] = []
  const info = await call('/')
  const shown = await info.text()
  texts.push(shown)
  expect(JSON.parse(shown).upstreams.catalog).toBe(`http://***@127.0.0.1:${dead}`)
  for (const path of ['/healthz', '/readyz', '/catalog/1', '/cart/abc', '/metrics']) {
    const response = await call(path)
    texts.push(`${path} ${response.status} ${await response.text()}`)
  }
  texts.push(JSON.stringify(telemetry.lines))
  expect(texts.join('\n')).toContain('/healthz 503')
  expect(texts.join('\n')).toContain(`http://***@127.0.0.1:${failing.port} answered 503`)
  for (const text of texts) expect(text).not.toContain(SECRET)
  failing.stop(true)
})
