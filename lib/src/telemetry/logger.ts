// JSON logs, one object per line, written by the service process itself.
// pino's worker-thread transports are fragile on Bun, so we write to stdout through a small
// buffer of our own and flush it on exit; prettifying happens outside the process
// (scripts/dev.ts), so what a service writes never depends on where it runs.

import { writeSync } from 'node:fs'
import pino, { type DestinationStream, type Logger } from 'pino'
import { ByteWriter } from './bytes.ts'

export type { Logger }

export interface LoggerOptions {
  service: string
  version?: string
  level?: string
  /** Where lines go; defaults to a buffered stdout that `flushLogger` drains. */
  destination?: DestinationStream
}

/** What createRequestLog needs to write a logger's lines itself: its bindings and destination. */
const requestLines = new WeakMap<Logger, { bindings: string; destination: DestinationStream }>()

export function createLogger(options: LoggerOptions): Logger {
  const { service, version, level = 'info' } = options
  const destination = options.destination ?? bufferedStdout()
  const logger = pino(
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
  // `"service":"…","version":"…"`, as pino writes its base bindings.
  const bindings = JSON.stringify({ service, ...(version ? { version } : {}) }).slice(1, -1)
  requestLines.set(logger, { bindings, destination })
  return logger
}

/** The fields of the one line logged per request. */
export interface RequestLine {
  method: string
  route: string
  status: number
  duration_ms: number
  request_id: string
  trace_id?: string
  span_id?: string
  err?: unknown
}

/**
 * Log one request: `request` at info (at debug when `quiet`: a probe), or `request failed` at
 * error for a 5xx, probe or not. A successful request's line is written by hand: the text pino
 * writes for those fields (logger.test.ts compares the two) without pino's per-call work
 * (bench/README.md, "One pino line per request"). Failures, and loggers not made by createLogger,
 * go through pino.
 */
export function createRequestLog(logger: Logger): (line: RequestLine, quiet?: boolean) => void {
  const own = requestLines.get(logger)
  return (line, quiet = false) => {
    if (line.status >= 500) return void logger.error(line, 'request failed')
    // A probe's line (TRACE_PROBES off) is at debug: one per probe every few seconds is noise.
    if (quiet) return void logger.debug(line, 'request')
    if (!own || line.err !== undefined) return void logger.info(line, 'request')
    // pino's levels: info is 30; `silent` is Infinity. Read each time: the level can change.
    if (logger.levelVal > 30) return
    own.destination.write(
      `{"level":"info","time":${Date.now()},${own.bindings},"method":${str(line.method)},"route":${str(line.route)},"status":${line.status},"duration_ms":${line.duration_ms},"request_id":${str(line.request_id)}${line.trace_id === undefined ? '' : `,"trace_id":${str(line.trace_id)}`}${line.span_id === undefined ? '' : `,"span_id":${str(line.span_id)}`},"msg":"request"}\n`,
    )
  }
}

/** Printable ASCII without `"` or `\`: a JSON string as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function str(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text)
}

/** Buffered lines are written once they reach this many bytes. */
const BUFFER_BYTES = 16_384

export interface BufferedDestination extends DestinationStream {
  flush(): void
  flushSync(): void
  /** Write out what is buffered and stop the timer that drains it. */
  close(): void
}

/**
 * Lines written as UTF-8 into a byte buffer (bytes.ts says why bytes) and out with one synchronous
 * write per ~16 KiB, cheaper than pino.destination's async writes (bench/README.md); a timer drains
 * it every 200 ms so a quiet service's lines still show promptly. Synchronous: nothing is left at exit.
 */
export function bufferedStdout(fd = 1, bufferBytes = BUFFER_BYTES): BufferedDestination {
  const buffer = new ByteWriter(bufferBytes * 2)
  const flushSync = () => {
    if (buffer.pos === 0) return
    writeFully(fd, buffer.buf.subarray(0, buffer.pos))
    buffer.pos = 0
  }
  const timer = setInterval(flushSync, 200)
  timer.unref()
  return {
    write(line: string) {
      buffer.text(line)
      if (buffer.pos >= bufferBytes) flushSync()
    },
    flush: flushSync,
    flushSync,
    close() {
      clearInterval(timer)
      flushSync()
    },
  }
}

/** Write all of `bytes`, across partial writes and a full pipe (EAGAIN) on a non-blocking fd. */
function writeFully(fd: number, bytes: Uint8Array): void {
  let offset = 0
  let retries = 0
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset)
      retries = 0
    } catch (error) {
      if ((error as { code?: string }).code !== 'EAGAIN' || ++retries > 1000) return
      // The reader is behind: wait a millisecond without spinning, then retry.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)
    }
  }
}

/** Write out what is buffered; call before the process exits. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush()
    // bufferedStdout (and sonic-boom) expose flushSync on the stream; a test destination may not.
    streamOf(logger)?.flushSync?.()
  } catch {
    // Nothing useful to do if stdout is gone.
  }
}

/** Flush, and stop the destination's drain timer (bufferedStdout): the logger's last call. */
export function closeLogger(logger: Logger): void {
  flushLogger(logger)
  streamOf(logger)?.close?.()
}

function streamOf(logger: Logger): { flushSync?: () => void; close?: () => void } | undefined {
  return (logger as unknown as Record<symbol, { flushSync?: () => void; close?: () => void }>)[
    pino.symbols.streamSym
  ]
}
