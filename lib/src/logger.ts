// JSON logs, one object per line, written by the service process itself.
// pino's worker-thread transports are fragile on Bun, so we write to stdout through a buffered
// sonic-boom destination and flush it on exit; prettifying happens outside the process
// (scripts/dev.ts), so what a service writes never depends on where it runs.

import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  service: string
  version?: string
  level?: string
  /** Where lines go; defaults to a buffered stdout that `flushLogger` drains. */
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions): Logger {
  const { service, version, level = 'info' } = options
  const destination = options.destination ?? bufferedStdout()
  return pino(
    {
      level,
      base: { service, ...(version ? { version } : {}) },
      // Epoch milliseconds: the cheapest timestamp, and what Loki and jq read as well as ISO.
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (label) => ({ level: label }) },
      // Never log credentials, even if a header object slips into a log call.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'],
        remove: true,
      },
    },
    destination,
  )
}

/**
 * stdout through a 4 KiB buffer: one write per few dozen lines under load. A timer drains it
 * every 200 ms so a quiet service's lines still show up promptly in `bun run dev`.
 */
function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 })
  setInterval(() => {
    try {
      stream.flush()
    } catch {
      // Flushing while a write is in progress can throw; the next tick catches up.
    }
  }, 200).unref()
  return stream
}

/** Write out what is buffered; call before the process exits. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush()
    // sonic-boom exposes flushSync on its stream; a test destination may not have it.
    const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym]
    stream?.flushSync?.()
  } catch {
    // Nothing useful to do if stdout is gone.
  }
}
