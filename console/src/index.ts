// Console process entry: read the environment, open the store, start scraping, listen, and on
// SIGTERM/SIGINT stop the load run, the scraper and the server, then close the store.

import { otelServiceName, SERVICE_NAMES, type ServiceName } from '@shopstack/contracts/services'
import { ConfigError } from '@shopstack/lib/config'
import { hostsFor } from '@shopstack/lib/same-site'
import { createLoadApi } from '@shopstack/loadtest/load-api'
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
/** Where the load goes and whose faults the panel steers: the services among the scrape targets. */
const hostOf = (service: ServiceName) =>
  config.targets.find((t) => t.service === otelServiceName(service))?.url
const hosts = Object.fromEntries(
  SERVICE_NAMES.flatMap((service) => {
    const url = hostOf(service)
    return url ? [[service, url]] : []
  }),
)
const load = createLoadApi({
  base: { hosts },
  ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  logError: (error) =>
    console.error(
      JSON.stringify({ level: 'error', service: 'console', msg: 'load API failed', err: String(error) }),
    ),
})
const app = createConsole({
  store,
  metrics: scraper,
  jaegerTrace: (id, traces) => toJaegerTrace(id, traces.trace(id)),
  pages: pageRoutes,
  // Loopback names always; the listening address too, or any host when it listens everywhere.
  allowedHosts: hostsFor(config.host),
  apiRoutes: { ...load.routes('/api/load'), ...load.faultRoutes('/api') },
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
  // Whatever fails on the way, the store is closed (what waits is written) and the process ends.
  try {
    await load.close()
    await scraper.stop()
    await server.stop()
  } finally {
    store.close()
    process.exit(0)
  }
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
