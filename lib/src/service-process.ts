// The process around a service app, shared by the three entry points (index.ts): read the config,
// listen, and shut down gracefully on SIGTERM/SIGINT in two steps, as a load balancer's connection
// draining expects:
// 1. grace (DRAIN_GRACE_MS): readiness fails at once and every answer says `Connection: close`,
//    but the listener stays open and serves, so callers that have not yet noticed (their next
//    readiness check, or that header) lose nothing while they stop choosing this instance;
// 2. drain: the listener stops, in-flight requests finish (bounded by DRAIN_TIMEOUT_MS), the
//    store closes, spans and logs are flushed, and the process exits 0.
// A second signal during the grace ends it at once (a second Ctrl-C means "now").

import type { ServiceName } from '@shopstack/contracts/services'
import { type Config, ConfigError, loadConfig } from './config.ts'
import type { Telemetry } from './telemetry/index.ts'
import { closeLogger, flushLogger } from './telemetry/logger.ts'

/** loadConfig, but an invalid value ends the process with one line naming the variable. */
export function loadConfigOrExit(service: ServiceName, env = Bun.env): Config {
  try {
    return loadConfig(service, env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${service}: invalid configuration: ${error.message}\n`)
    process.exit(2)
  }
}

export interface Lifecycle {
  /** True once shutdown has begun; wire it into the readiness check. */
  readonly isDraining: () => boolean
}

export function createLifecycle(): Lifecycle & { drain(): void } {
  let draining = false
  return {
    isDraining: () => draining,
    drain: () => {
      draining = true
    },
  }
}

export interface ServeOptions {
  config: Config
  telemetry: Telemetry
  lifecycle: ReturnType<typeof createLifecycle>
  /** Release what the service holds (database handles). */
  close?: () => void | Promise<void>
}

/** What serve() needs of an Elysia app (its generic parameters differ per app). */
interface Listenable {
  listen(options: { hostname: string; port: number; maxRequestBodySize: number }): unknown
  readonly server: { readonly port?: number; stop(closeActiveConnections?: boolean): Promise<void> } | null
}

export function serve(app: Listenable, options: ServeOptions): void {
  const { config, telemetry, lifecycle, close } = options
  const { logger, tracing, metrics } = telemetry
  // The body-limits plugin answers an oversized Content-Length with a 413 problem+json; Bun's own
  // limit (a bare 413) is only the backstop for bodies sent without one (chunked), so it sits
  // well above the plugin's.
  const maxRequestBodySize = Math.max(1_048_576, config.maxBodyBytes * 4)
  let stopping = false
  let endGrace = () => {}
  const shutdown = async (signal: string) => {
    if (stopping) {
      endGrace()
      return
    }
    stopping = true
    lifecycle.drain()
    const { drainGraceMs } = config
    logger.info({ signal, drainGraceMs }, 'shutting down: unready, serving through the grace period')
    flushLogger(logger)
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, drainGraceMs)
      endGrace = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    logger.info({ signal }, 'shutting down: stopped accepting, draining in-flight requests')
    const server = app.server
    const drained = server?.stop(false) ?? Promise.resolve()
    const timedOut = await Promise.race([
      Promise.resolve(drained).then(() => false),
      Bun.sleep(config.drainTimeoutMs).then(() => true),
    ])
    if (timedOut) {
      logger.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out; closing open connections')
      await server?.stop(true)
    }
    try {
      await close?.()
      await tracing.shutdown()
    } catch (err) {
      logger.error({ err }, 'error during shutdown')
    }
    metrics.stop()
    logger.info('stopped')
    closeLogger(logger)
    process.exit(0)
  }
  // Before the listening line: whoever started the process may signal it the moment it reads that
  // line, and a SIGTERM that came before the handler would kill it with no drain (seen in tests).
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('exit', () => flushLogger(logger))

  app.listen({ hostname: config.host, port: config.port, maxRequestBodySize })
  const port = app.server?.port
  logger.info(
    { port, host: config.host, tracing: tracing.enabled, simulation: config.simulation },
    `${config.service} listening on http://${config.host}:${port}`,
  )
  flushLogger(logger)
}
