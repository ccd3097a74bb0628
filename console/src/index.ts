// Console process entry: read the environment, open the store, start scraping, listen, and on
// SIGTERM/SIGINT stop the load run, the scraper and the server, then close the store.

import { ConfigError } from '@shopstack/lib/config'
import { createConsole } from './app.ts'
import { loadConsoleConfig } from './config.ts'
import { toJaegerTrace } from './jaeger.ts'
import { createScraper } from './scraper.ts'
import { createStore } from './store.ts'
import { pageRoutes } from './ui/routes.ts'

let config: ReturnType<typeof loadConsoleConfig>
try {
  config = loadConsoleConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`console: ${error.message}`)
  process.exit(1)
}

const store = createStore({ path: config.databasePath, maxSpans: config.maxSpans, maxLogs: config.maxLogs })
const scraper = createScraper({ targets: [...config.targets], intervalMs: config.scrapeIntervalMs })
const app = createConsole({
  store,
  metrics: scraper,
  jaegerTrace: (id, traces) => toJaegerTrace(id, traces.trace(id)),
  pages: pageRoutes,
})

let server: ReturnType<typeof Bun.serve>
try {
  server = Bun.serve({
    hostname: config.host,
    port: config.port,
    routes: app.routes,
    fetch: app.fetch,
    error: app.error,
    development: false,
  })
} catch (error) {
  const code = (error as { code?: string }).code
  if (code === 'EADDRINUSE') {
    console.error(
      `console: port ${config.port} is taken (is \`bun run loadtest\` or another console running?). ` +
        'Stop it, or set CONSOLE_PORT to another port.',
    )
    process.exit(1)
  }
  throw error
}
scraper.start()
console.log(
  JSON.stringify({
    level: 'info',
    time: Date.now(),
    service: 'console',
    msg: `console listening on http://${config.host}:${server.port}`,
    port: server.port,
    database: store.path,
    targets: config.targets.map((t) => `${t.service}=${t.url}`),
  }),
)

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  await scraper.stop()
  await server.stop()
  store.close()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
