// The dev runner's log path as a user sees it: every line a service writes shows once on the
// terminal with the service's name before it, in the order written, and logs/<service>.log holds
// the same bytes — however the pipe cut them into chunks, and even when the last line has no newline.

import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogRelay, humanize, RESET, type RelayOutput } from './log-relay.ts'
import { ROOT } from './processes.ts'

const dir = mkdtempSync(join(tmpdir(), 'shopstack-relay-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const PREFIX = `\x1b[36mcatalog${RESET} | `

/** A terminal that keeps what it was given, one entry per write. */
function fakeTerminal() {
  const writes: string[] = []
  const output: RelayOutput = {
    write: (chunk) => writes.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)),
    drained: () => Promise.resolve(),
  }
  return { writes, output }
}

/** A log file in memory: the bytes written, copied as they come. */
function fakeLog() {
  const bytes: Uint8Array[] = []
  return { bytes, write: (chunk: Uint8Array) => bytes.push(chunk.slice()), flush: () => {} }
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      controller.close()
    },
  })
}

describe('the dev runner log relay', () => {
  // Multi-byte characters, an empty line, a carriage return, and a last line with no newline.
  const written = 'first {"msg":"café"}\n\nsecond 日本\r\nthird\nno newline at the end'
  const bytes = new TextEncoder().encode(written)
  const expectedLines = ['first {"msg":"café"}', '', 'second 日本\r', 'third', 'no newline at the end']

  test('every line shows once, prefixed and in order, wherever the pipe cuts the bytes', async () => {
    // Every way of cutting the output into three chunks, even inside a character.
    for (let a = 0; a <= bytes.length; a++) {
      for (let b = a; b <= bytes.length; b += 3) {
        const { writes, output } = fakeTerminal()
        const log = fakeLog()
        const relay = createLogRelay({ name: 'catalog', colour: '\x1b[36m', log, output })
        await relay.pump(streamOf([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]))
        expect(writes.join('')).toBe(expectedLines.map((line) => `${PREFIX}${line}\n`).join(''))
        // The log file: the service's bytes exactly, and a newline after the unterminated last line.
        expect(Buffer.concat(log.bytes)).toEqual(Buffer.from(`${written}\n`))
        expect(relay.lastLines()).toEqual(expectedLines)
      }
    }
  })

  test('a chunk read is one write to the terminal, however many lines it holds', async () => {
    const { writes, output } = fakeTerminal()
    const relay = createLogRelay({ name: 'catalog', colour: '\x1b[36m', log: fakeLog(), output })
    const chunk = new TextEncoder().encode('a\nb\nc\nd')
    await relay.pump(streamOf([chunk, new TextEncoder().encode('e\nf\n')]))
    expect(writes).toEqual([`${PREFIX}a\n${PREFIX}b\n${PREFIX}c\n`, `${PREFIX}de\n${PREFIX}f\n`])
  })

  test('on a terminal JSON lines are readable, and the console gets every line', async () => {
    const { writes, output } = fakeTerminal()
    const forwarded: string[] = []
    const relay = createLogRelay({
      name: 'catalog',
      colour: '\x1b[36m',
      log: fakeLog(),
      output,
      pretty: true,
      onLine: (line) => forwarded.push(line),
    })
    const json = '{"level":"info","time":0,"msg":"request","route":"/catalog/:id","service":"catalog"}'
    await relay.pump(streamOf([new TextEncoder().encode(`${json}\nplain\n`)]))
    expect(writes).toEqual([`${PREFIX}${humanize(json)}\n${PREFIX}plain\n`])
    expect(writes[0]).toContain('00:00:00.000 info  request route=/catalog/:id')
    expect(forwarded).toEqual([json, 'plain'])
  })

  test("the crash report's last lines come from both streams, in the order read", async () => {
    const relay = createLogRelay({
      name: 'cart',
      colour: '',
      log: fakeLog(),
      output: fakeTerminal().output,
      keep: 3,
    })
    const lines = Array.from({ length: 50 }, (_, i) => `out ${i}\n`).join('')
    await relay.pump(streamOf([new TextEncoder().encode(lines)]))
    await relay.pump(streamOf([new TextEncoder().encode('error: boom\n    at main')]))
    expect(relay.lastLines()).toEqual(['out 49', 'error: boom', '    at main'])
  })

  test('a real process writing fast in odd pieces: every line once, in order, on the terminal and in the log', async () => {
    // Lines cut at odd places, stdout and stderr at once, pauses so some pieces arrive alone.
    const child = Bun.spawn(
      [
        'bun',
        '-e',
        `
        const enc = new TextEncoder()
        const out = Array.from({ length: 20000 }, (_, i) => 'out ' + i + ' é ' + 'x'.repeat(i % 300) + '\\n').join('') + 'out last'
        let errors = 0
        const bytes = enc.encode(out)
        let at = 0, size = 1
        while (at < bytes.length) {
          process.stdout.write(bytes.subarray(at, at + size))
          at += size
          size = (size * 7 + 13) % 9001 + 1
          if (at % 7 === 0) await Bun.sleep(1)
          // A stderr line in two pieces, with stdout's bytes between them.
          if (errors % 2 === 1) process.stderr.write(errors++ + '\\n')
          else if (at % 5 === 0) process.stderr.write('err ' + errors++)
        }
        `,
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    )
    const { writes, output } = fakeTerminal()
    const file = join(dir, 'catalog.log')
    const log = Bun.file(file).writer()
    const relay = createLogRelay({ name: 'catalog', colour: '\x1b[36m', log, output })
    await Promise.all([relay.pump(child.stdout), relay.pump(child.stderr)])
    await log.end()
    expect(await child.exited).toBe(0)

    const expected = [
      ...Array.from({ length: 20000 }, (_, i) => `out ${i} é ${'x'.repeat(i % 300)}`),
      'out last',
    ]
    const shown = writes.join('').split('\n').slice(0, -1)
    expect(shown.every((line) => line.startsWith(PREFIX))).toBe(true)
    const outShown = shown.map((line) => line.slice(PREFIX.length)).filter((line) => line.startsWith('out '))
    expect(outShown).toEqual(expected)
    const logged = readFileSync(file, 'utf8').split('\n')
    expect(logged.pop()).toBe('')
    expect(logged.filter((line) => line.startsWith('out '))).toEqual(expected)
    // The stderr pieces are whole lines too, neither lost nor cut by stdout's lines.
    const errLines = logged.filter((line) => !line.startsWith('out '))
    expect(errLines.length).toBeGreaterThan(10)
    expect(errLines).toEqual(errLines.map((_, i) => `err ${2 * i}${2 * i + 1}`))
    expect(shown.map((line) => line.slice(PREFIX.length)).filter((line) => !line.startsWith('out '))).toEqual(
      errLines,
    )
  }, 30_000)

  test('what was written to a piped stdout is all there when the runner exits right after', async () => {
    // Bun writes to a pipe asynchronously and process.exit drops what is still waiting.
    const child = Bun.spawn(
      [
        'bun',
        '-e',
        `
        const { createStdoutOutput } = await import(${JSON.stringify(join(ROOT, 'scripts/log-relay.ts'))})
        const output = createStdoutOutput()
        const line = Buffer.alloc(300, 120)
        line[299] = 10
        for (let i = 0; i < 20000; i++) output.write(line)
        await output.drained()
        process.exit(0)
        `,
      ],
      { stdout: 'pipe' },
    )
    // A slow reader, as a busy terminal is.
    await Bun.sleep(300)
    let received = 0
    for await (const chunk of child.stdout) {
      received += chunk.byteLength
      await Bun.sleep(1)
    }
    expect(received).toBe(20000 * 300)
  }, 30_000)
})
