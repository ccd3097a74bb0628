// `bun run status`: which services answer their readiness check, and how fast.

import { SERVICES, serviceUrl } from './services.ts'

const rows = await Promise.all(
  SERVICES.map(async (service) => {
    const url = serviceUrl(service)
    const started = performance.now()
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      const body = (await response.json()) as { checks?: Record<string, { status: string; error?: string }> }
      const failing = Object.entries(body.checks ?? {})
        .filter(([, check]) => check.status !== 'ok')
        .map(([name, check]) => `${name}: ${check.error ?? check.status}`)
      return {
        service: service.name,
        url,
        state: response.ok ? 'up' : 'not ready',
        ms: performance.now() - started,
        note: failing.join('; '),
      }
    } catch (error) {
      const note =
        error instanceof Error && error.name === 'TimeoutError' ? 'no answer within 2 s' : 'not running'
      return { service: service.name, url, state: 'down', ms: performance.now() - started, note }
    }
  }),
)

for (const row of rows) {
  const mark = row.state === 'up' ? '\x1b[32m●\x1b[0m' : '\x1b[31m●\x1b[0m'
  console.log(
    `${mark} ${row.service.padEnd(8)} ${row.state.padEnd(10)} ${row.url.padEnd(24)} ${row.ms.toFixed(0).padStart(5)} ms  ${row.note}`,
  )
}
process.exit(rows.every((row) => row.state === 'up') ? 0 : 1)
