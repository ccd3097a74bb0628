// The web UI, as Locust's on port 8089: the generator serves one page and the load API
// (load-api.ts) under /api with Bun.serve. The page polls /api/status once a second (simpler than
// SSE, and a lost poll costs nothing); charts arrive as SVG drawn by the same code as the HTML
// report's. The console mounts the same API under /api/load; when it holds port 8089 already,
// this server moves to a free port instead of failing (unless the port was asked for).

import { CONSOLE_PORT } from '@shopstack/contracts/services'
import { problem, problemResponse } from '@shopstack/lib/errors'
import { hostsFor, sameSiteRoutes } from '@shopstack/lib/same-site'
import { createLoadApi, type LoadApiOptions } from './load-api.ts'
import { renderPage } from './page.ts'

export const DEFAULT_UI_PORT = CONSOLE_PORT

export interface UiServerOptions extends LoadApiOptions {
  /** 8089 by default; 0 picks a free port. */
  port?: number
  hostname?: string
  /** When `port` is taken, listen on a free port rather than fail (for the default port only). */
  fallbackPort?: boolean
  /** Start a run at once instead of waiting for the page. */
  autostart?: boolean
}

export type UiServer = ReturnType<typeof createUiServer>

/** The port asked for is taken by another program. */
export class PortTakenError extends Error {
  override name = 'PortTakenError'
  constructor(readonly port: number) {
    super(`port ${port} is taken by another program; choose another with --web-port`)
  }
}

/** What the CLI says when the default port was taken and the UI moved: most likely, by the console. */
export function movedNotice(taken: number, url: string): string {
  return `port ${taken} is taken (the ShopStack console serves this load page at http://localhost:${taken}/load when \`bun run dev\` runs); this UI is on ${url}`
}

export function createUiServer(options: UiServerOptions = {}) {
  const { port = DEFAULT_UI_PORT, hostname = '127.0.0.1', fallbackPort = false, autostart = false } = options
  const api = createLoadApi(options)

  const serve = (at: number) =>
    Bun.serve({
      port: at,
      hostname,
      // As the console's: no other site may start load or change faults through it (lib/same-site).
      routes: sameSiteRoutes(
        {
          '/': () => new Response(renderPage(), { headers: { 'content-type': 'text/html; charset=utf-8' } }),
          ...api.routes('/api'),
          ...api.faultRoutes('/api'),
        },
        hostsFor(hostname),
      ),
      fetch: (request) =>
        problemResponse(problem(404, `No route for ${request.method} ${new URL(request.url).pathname}`)),
    })

  let server: ReturnType<typeof serve>
  /** The port that was taken, when this server moved to another. */
  let portTaken: number | undefined
  try {
    server = serve(port)
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE' || port === 0) throw error
    if (!fallbackPort) throw new PortTakenError(port)
    portTaken = port
    server = serve(0)
  }

  if (autostart) api.start({})

  return {
    server,
    url: `http://${hostname}:${server.port}`,
    portTaken,
    get runner() {
      return api.runner
    },
    start: api.start,
    /** Stop any run (waiting for its report) and close the server. */
    async close(): Promise<void> {
      await api.close()
      await server.stop(true)
    },
  }
}
