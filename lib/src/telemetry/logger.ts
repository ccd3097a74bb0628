// JSON logs, one object per line, written by the service process itself.
// pino's worker-thread transports are fragile on Bun, so we write to stdout through a small
// buffer of our own and flush it on exit; prettifying happens outside the process
// (scripts/dev.ts), so what a service writes never depends on where it runs.
//
// pino is loaded the first time a line needs it, not at start: loading it (with thread-stream,
// sonic-boom, its serializers and redaction) is 11-16 ms of a service's cold start and 3-5 MB of its
// idle memory (bench/README.md, "What loading costs"). A line whose fields are plain data (strings,
// numbers, booleans, null, and objects and arrays of them) is written here as the exact text pino
// writes for it (logger.test.ts checks that on generated lines); an error (`err`), a field pino
// redacts (`req`, `headers`), or data JSON cannot write goes through pino.

import { writeSync } from 'node:fs'
import type { DestinationStream, Logger as PinoLogger } from 'pino'
import { ByteWriter } from './bytes.ts'

type LogMethod = {
  (fields: object, message?: string): void
  (message: string): void
}

/** What the services log through: pino's level methods and level, and a flush. */
export interface Logger {
  trace: LogMethod
  debug: LogMethod
  info: LogMethod
  warn: LogMethod
  error: LogMethod
  fatal: LogMethod
  /** The level's name; setting it changes what is written from then on. */
  level: string
  /** The level's number (pino's: info is 30, silent is Infinity). */
  readonly levelVal: number
  flush(): void
}

export interface LoggerOptions {
  service: string
  version?: string
  level?: string
  /** Where lines go; defaults to a buffered stdout that `flushLogger` drains. */
  destination?: DestinationStream
}

/** pino's levels. */
const LEVELS = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
}
type LevelName = keyof typeof LEVELS
type MethodName = Exclude<LevelName, 'silent'>

/** Fields whose lines pino must write: the error serializer, redacted paths, keys pino owns. */
const PINO_FIELDS = new Set(['err', 'req', 'headers', 'msg', 'level', 'time', 'service', 'version'])

/**
 * Each logger's bindings and destination: createRequestLog writes its lines itself with them, and
 * flushLogger and closeLogger reach the destination through them.
 */
const requestLines = new WeakMap<
  Logger,
  { bindings: string; destination: DestinationStream & { flushSync?: () => void; close?: () => void } }
>()

export function createLogger(options: LoggerOptions): Logger {
  const { service, version } = options
  const destination = options.destination ?? bufferedStdout()
  const base = { service, ...(version ? { version } : {}) }
  // `"service":"…","version":"…"`, as pino writes its base bindings.
  const bindings = JSON.stringify(base).slice(1, -1)
  let level = levelName(options.level ?? 'info')
  let pinoLogger: PinoLogger | undefined
  const viaPino = (): PinoLogger => {
    if (!pinoLogger) {
      const pino = require('pino') as typeof import('pino').default
      pinoLogger = pino(
        {
          level,
          base,
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
    return pinoLogger
  }
  const method =
    (name: MethodName): LogMethod =>
    (first: object | string, message?: string) => {
      if (LEVELS[name] < LEVELS[level]) return
      const line = plainLine(name, bindings, first, message)
      if (line === undefined)
        return void (viaPino()[name] as (a: unknown, b?: string) => void)(first, message)
      destination.write(line)
    }
  const logger: Logger = {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    get level() {
      return level
    },
    set level(name: string) {
      level = levelName(name)
      if (pinoLogger) pinoLogger.level = level
    },
    get levelVal() {
      return LEVELS[level]
    },
    flush: () => pinoLogger?.flush(),
  }
  requestLines.set(logger, { bindings, destination })
  return logger
}

function levelName(name: string): LevelName {
  if (!Object.hasOwn(LEVELS, name)) throw new Error(`unknown log level "${name}"`)
  return name as LevelName
}

/**
 * The line pino writes for this call, or undefined when pino must write it. pino writes each field
 * with JSON.stringify (a string as a JSON string, a number that is not finite as null) and skips
 * undefined ones and functions, in the object's own key order, then `msg` last.
 */
function plainLine(
  name: MethodName,
  bindings: string,
  first: object | string,
  message?: string,
): string | undefined {
  let fields = ''
  let msg = message
  if (typeof first === 'string') msg = first
  else {
    if (first === null || Object.getPrototypeOf(first) !== Object.prototype) return undefined
    for (const key of Object.keys(first)) {
      if (PINO_FIELDS.has(key)) return undefined
      const value = (first as Record<string, unknown>)[key]
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
      if (typeof value === 'object' && value !== null && !isPlain(value)) return undefined
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch {
        return undefined // BigInt, a cycle: pino's safe stringify
      }
      if (text === undefined) continue
      fields += `,${JSON.stringify(key)}:${text}`
    }
  }
  const msgField = msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`
  return `{"level":"${name}","time":${Date.now()},${bindings}${fields}${msgField}}\n`
}

/** Plain data all the way down: objects with Object's prototype, arrays, primitives. */
function isPlain(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'bigint'
  if (Array.isArray(value)) return value.every(isPlain)
  if (Object.getPrototypeOf(value) !== Object.prototype) return false
  return Object.values(value).every(isPlain)
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
    // bufferedStdout exposes flushSync on the stream; a test destination may not.
    requestLines.get(logger)?.destination.flushSync?.()
  } catch {
    // Nothing useful to do if stdout is gone.
  }
}

/** Flush, and stop the destination's drain timer (bufferedStdout): the logger's last call. */
export function closeLogger(logger: Logger): void {
  flushLogger(logger)
  requestLines.get(logger)?.destination.close?.()
}
