// The dev runner's log path: what a service writes to stdout and stderr goes to the terminal, each
// line prefixed with the service's name, and to logs/<service>.log as the service wrote it.
//
// It works on the bytes of each chunk read, not on a string per line: under load a service writes a
// JSON line per request, and decoding, splitting and writing every line one by one cost the runner
// about 12% of a core and the stack a tenth of its throughput (issue 19; bench/README.md, "The dev
// runner's case"). So per chunk it finds the newlines in the Uint8Array, keeps a partial last line
// for the next chunk, copies the complete lines with their prefixes into one buffer and writes that
// once. Lines become strings only where a person or the console reads them: on a terminal (which
// shows JSON lines re-formatted), for the console's log forwarder, and for a crash report's last lines.

import type { Writable } from 'node:stream'

const NEWLINE = 0x0a
export const RESET = '\x1b[0m'
const LEVEL_COLOURS: Record<string, string> = { error: '\x1b[31m', fatal: '\x1b[31m', warn: '\x1b[33m' }

/** Where the prefixed lines go: one write per chunk read, and a way to wait until all were written. */
export interface RelayOutput {
  write(output: Uint8Array | string): void
  /** Resolves once everything written so far has left the process (before it exits). */
  drained(): Promise<void>
}

/** The runner's stdout. Bun writes to a pipe asynchronously, and `process.exit` drops what waits. */
export function createStdoutOutput(stream: Writable = process.stdout): RelayOutput {
  let inFlight = 0
  let waiting: Array<() => void> = []
  // One callback for every write, so a write allocates nothing of its own.
  const written = () => {
    inFlight -= 1
    if (inFlight > 0) return
    for (const resolve of waiting) resolve()
    waiting = []
  }
  return {
    write(output) {
      inFlight += 1
      stream.write(output, written)
    },
    drained() {
      return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiting.push(resolve))
    },
  }
}

export interface LogRelayOptions {
  /** The service's name and colour, shown before each of its lines. */
  name: string
  colour: string
  /** The service's log file; it gets the complete lines of each chunk, byte for byte. */
  log: { write(bytes: Uint8Array): unknown; flush(): unknown }
  output?: RelayOutput
  /** On a terminal, JSON lines are shown as short readable ones (see `humanize`). */
  pretty?: boolean
  /** Called with every line (without its newline), e.g. to forward it to the console. */
  onLine?: (line: string) => void
  /** How many of the last lines `lastLines()` keeps. */
  keep?: number
}

export type LogRelay = ReturnType<typeof createLogRelay>

/** One relay per run of a service; `pump` each of its streams (stdout and stderr) through it. */
export function createLogRelay(options: LogRelayOptions) {
  const { name, colour, log, output = createStdoutOutput(), pretty = false, onLine, keep = 5 } = options
  const prefixText = `${colour}${name.padEnd(7)}${RESET} | `
  const prefix = Buffer.from(prefixText)
  const decoder = new TextDecoder()
  /** The latest chunks of complete lines (both streams, in the order read), enough for `keep` lines. */
  const recent: Array<{ lines: Uint8Array; count: number }> = []
  let recentCount = 0

  /** Complete lines, each ending in a newline: a newline is never inside a UTF-8 sequence. */
  function take(lines: Uint8Array) {
    log.write(lines)
    const count = countLines(lines)
    remember(lines, count)
    if (!pretty && !onLine) {
      output.write(prefixed(lines, count))
      return
    }
    const texts = decoder.decode(lines).split('\n')
    texts.pop()
    if (onLine) for (const line of texts) onLine(line)
    if (!pretty) output.write(prefixed(lines, count))
    else output.write(texts.map((line) => `${prefixText}${humanize(line)}\n`).join(''))
  }

  /** The lines with the prefix before each, copied into one buffer. */
  function prefixed(lines: Uint8Array, count: number): Buffer {
    const source = Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength)
    const out = Buffer.allocUnsafe(lines.byteLength + count * prefix.byteLength)
    let from = 0
    let at = 0
    while (from < source.byteLength) {
      const end = source.indexOf(NEWLINE, from) + 1
      at += prefix.copy(out, at)
      at += source.copy(out, at, from, end)
      from = end
    }
    return out
  }

  function remember(lines: Uint8Array, count: number) {
    recent.push({ lines, count })
    recentCount += count
    while (recent.length > 1 && recentCount - (recent[0]?.count ?? 0) >= keep) {
      recentCount -= recent.shift()?.count ?? 0
    }
  }

  return {
    /** Relays one stream until it ends; a last line without a newline is a line too. */
    async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
      // The start of a line whose newline has not come yet (a chunk ends wherever the pipe cut it).
      let partial: Uint8Array[] = []
      for await (const chunk of stream) {
        const last = chunk.lastIndexOf(NEWLINE)
        if (last === -1) {
          if (chunk.byteLength > 0) partial.push(chunk)
          continue
        }
        const lines = chunk.subarray(0, last + 1)
        take(partial.length > 0 ? Buffer.concat([...partial, lines]) : lines)
        partial = last + 1 < chunk.byteLength ? [chunk.subarray(last + 1)] : []
      }
      // A crash message often ends without one; it gets a newline, so the next start's first line
      // in the log file does not run on from it.
      if (partial.length > 0) take(Buffer.concat([...partial, Uint8Array.of(NEWLINE)]))
      log.flush()
    },
    /** The last lines the service wrote (for the crash report). */
    lastLines(): string[] {
      const text = decoder.decode(Buffer.concat(recent.map((r) => r.lines)))
      return text.split('\n').slice(0, -1).slice(-keep)
    },
  }
}

function countLines(lines: Uint8Array): number {
  let count = 0
  for (let at = lines.indexOf(NEWLINE); at !== -1; at = lines.indexOf(NEWLINE, at + 1)) count += 1
  return count
}

/** A JSON log line as a short readable one; anything else unchanged. */
export function humanize(line: string): string {
  if (!line.startsWith('{')) return line
  try {
    const {
      level,
      time,
      msg,
      service: _s,
      version: _v,
      ...rest
    } = JSON.parse(line) as Record<string, unknown>
    const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
    const colour = LEVEL_COLOURS[String(level)] ?? ''
    const fields = Object.entries(rest)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
      .join(' ')
    return `${clock} ${colour}${String(level).padEnd(5)}${colour ? RESET : ''} ${msg ?? ''} ${fields}`
  } catch {
    return line
  }
}
