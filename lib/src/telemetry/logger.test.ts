import { describe, expect, test } from 'bun:test'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import pino from 'pino'
import {
  bufferedStdout,
  closeLogger,
  createLogger,
  createRequestLog,
  flushLogger,
  type RequestLine,
} from './logger.ts'

/** A logger from createLogger writing into an array, as a service's would write to stdout. */
function capture(level: string, version?: string) {
  const lines: string[] = []
  const logger = createLogger({
    service: 'gateway',
    version,
    level,
    destination: { write: (l) => void lines.push(l) },
  })
  return { logger, lines }
}

/** The same fields written by pino itself, for comparison (time set to a fixed value in both). */
function throughPino(line: RequestLine, version?: string): string {
  const out: string[] = []
  const logger = pino(
    {
      base: { service: 'gateway', ...(version ? { version } : {}) },
      timestamp: () => ',"time":0',
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (l: string) => void out.push(l) },
  )
  logger.info(line, 'request')
  return out[0] as string
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0')

describe('createRequestLog', () => {
  const cases: Array<[string, RequestLine]> = [
    [
      'traced request',
      {
        method: 'GET',
        route: '/catalog/:id',
        status: 200,
        duration_ms: 1.234,
        request_id: '3f0c7a9e-9a51-4b7e-a0b2-1c2d3e4f5a6b',
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        span_id: 'b7ad6b7169203331',
      },
    ],
    [
      'untraced 404',
      { method: 'DELETE', route: 'unmatched', status: 404, duration_ms: 0.05, request_id: 'r-1' },
    ],
    [
      'text that JSON must escape',
      { method: 'GET', route: '/say/"hi"\\\n', status: 201, duration_ms: 12, request_id: 'é:ü' },
    ],
  ]
  for (const [name, line] of cases) {
    test(`writes exactly the line pino writes (${name})`, () => {
      for (const version of ['1.2.3', undefined]) {
        const { logger, lines } = capture('info', version)
        createRequestLog(logger)(line)
        expect(lines).toHaveLength(1)
        expect(withoutTime(lines[0] as string)).toBe(throughPino(line, version))
      }
    })
  }

  test('follows the logger level, and a 5xx is an error line with the error serialised', () => {
    const { logger, lines } = capture('warn', '1.2.3')
    const log = createRequestLog(logger)
    log({ method: 'GET', route: '/', status: 200, duration_ms: 1, request_id: 'a' })
    expect(lines).toHaveLength(0)
    log({
      method: 'GET',
      route: '/',
      status: 503,
      duration_ms: 1,
      request_id: 'b',
      err: new Error('db down'),
    })
    expect(lines).toHaveLength(1)
    const failed = JSON.parse(lines[0] as string)
    expect(failed).toMatchObject({
      level: 'error',
      msg: 'request failed',
      status: 503,
      err: { message: 'db down' },
    })
    logger.level = 'info'
    log({ method: 'GET', route: '/', status: 200, duration_ms: 1, request_id: 'c' })
    expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 'info', msg: 'request', request_id: 'c' })
  })
})

/** Run `use` with a file descriptor open on a new temp file, and that file's path. */
function withTempFile(use: (fd: number, path: string) => void): void {
  const file = tempFile()
  try {
    use(file.fd, file.path)
  } finally {
    file.remove()
  }
}

async function withTempFileAsync(use: (fd: number, path: string) => Promise<void>): Promise<void> {
  const file = tempFile()
  try {
    await use(file.fd, file.path)
  } finally {
    file.remove()
  }
}

function tempFile() {
  const dir = mkdtempSync(join(tmpdir(), 'shopstack-log-'))
  const path = join(dir, 'out.log')
  const fd = openSync(path, 'w')
  return {
    fd,
    path,
    remove() {
      closeSync(fd)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describe('bufferedStdout', () => {
  test('holds lines until the buffer fills or is flushed, and writes them whole as UTF-8', () => {
    withTempFile((fd, path) => {
      const destination = bufferedStdout(fd, 64)
      destination.write('{"msg":"naïve café ✓"}\n')
      expect(readFileSync(path, 'utf8')).toBe('')
      destination.write(`{"msg":"${'x'.repeat(60)}"}\n`)
      // Past 64 bytes: both lines are out.
      expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3)
      destination.write('{"msg":"last"}\n')
      destination.flushSync()
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
      expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['naïve café ✓', 'x'.repeat(60), 'last'])
    })
  })

  test('flushLogger writes out what a logger buffered', () => {
    withTempFile((fd, path) => {
      const logger = createLogger({ service: 'cart', destination: bufferedStdout(fd) })
      createRequestLog(logger)({
        method: 'POST',
        route: '/cart/add',
        status: 200,
        duration_ms: 3,
        request_id: 'x',
      })
      expect(readFileSync(path, 'utf8')).toBe('')
      flushLogger(logger)
      expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ service: 'cart', route: '/cart/add' })
    })
  })

  test('closeLogger writes out what is buffered and stops the drain timer', async () => {
    await withTempFileAsync(async (fd, path) => {
      const logger = createLogger({ service: 'cart', destination: bufferedStdout(fd) })
      logger.info('before close')
      closeLogger(logger)
      expect(readFileSync(path, 'utf8')).toContain('before close')
      // With the timer stopped, a later line waits for an explicit flush (past the 200 ms drain).
      logger.info('after close')
      await Bun.sleep(250)
      expect(readFileSync(path, 'utf8')).not.toContain('after close')
      flushLogger(logger)
      expect(readFileSync(path, 'utf8')).toContain('after close')
    })
  })
})

describe('createLogger without pino', () => {
  /** pino itself, configured as createLogger configures it, at a fixed time. */
  function pinoLine(method: 'info' | 'warn' | 'error', fields: object | string, message?: string) {
    const out: string[] = []
    const logger = pino(
      {
        base: { service: 'gateway', version: '1.2.3' },
        timestamp: () => ',"time":0',
        formatters: { level: (label) => ({ level: label }) },
        redact: {
          paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'],
          remove: true,
        },
      },
      { write: (l: string) => void out.push(l) },
    )
    if (typeof fields === 'string') logger[method](fields)
    else logger[method](fields, message)
    return out[0]
  }
  const plain = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string({ unit: 'binary' }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 }),
    ),
  })).value
  const fields = fc.dictionary(
    fc.string().filter((key) => !['msg', 'level', 'time', 'service', 'version'].includes(key)),
    plain,
    { maxKeys: 5 },
  )

  test('writes exactly the line pino writes, for any plain fields and message', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('info' as const, 'warn' as const, 'error' as const),
        fc.oneof(fields, fc.string({ unit: 'binary' })),
        fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        (method, first, message) => {
          const { logger, lines } = capture('info', '1.2.3')
          if (typeof first === 'string') logger[method](first)
          else logger[method](first, message)
          expect(withoutTime(lines[0] as string)).toBe(pinoLine(method, first, message) as string)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('an error, a redacted header and data JSON cannot write go through pino, as pino writes them', () => {
    const { logger, lines } = capture('info', '1.2.3')
    const err = new Error('db down')
    logger.error({ err }, 'request failed')
    logger.info({ req: { headers: { authorization: 'Bearer x', accept: '*/*' } } }, 'in')
    logger.info({ headers: { authorization: 'Bearer x' }, n: 1n }, 'big')
    logger.warn(err as object)
    expect(JSON.parse(lines[0] as string).err).toMatchObject({ type: 'Error', message: 'db down' })
    expect(JSON.parse(lines[1] as string).req).toEqual({ headers: { accept: '*/*' } })
    expect(lines[2]).not.toContain('Bearer')
    expect(lines.map(withoutTime)).toEqual([
      pinoLine('error', { err }, 'request failed'),
      pinoLine('info', { req: { headers: { authorization: 'Bearer x', accept: '*/*' } } }, 'in'),
      pinoLine('info', { headers: { authorization: 'Bearer x' }, n: 1n }, 'big'),
      pinoLine('warn', err as object),
    ] as string[])
  })

  test('a service that logs only plain lines never loads pino', () => {
    const script = `
      const { createLogger, createRequestLog } = await import(${JSON.stringify(join(import.meta.dir, 'logger.ts'))})
      const logger = createLogger({ service: 'catalog', version: '1', destination: { write() {} } })
      logger.info({ port: 8001, host: '127.0.0.1', tracing: false, simulation: { latencyMs: [20, 60] } }, 'listening')
      createRequestLog(logger)({ method: 'GET', route: '/livez', status: 200, duration_ms: 0.1, request_id: 'a' })
      logger.warn({ faults: { latency: null } }, 'faults changed')
      logger.info('stopped')
      const loaded = () => Object.keys(require.cache).some((path) => path.includes('/pino/'))
      const before = loaded()
      logger.error({ err: new Error('x') }, 'boom')
      console.log(JSON.stringify({ before, after: loaded() }))
    `
    const run = Bun.spawnSync(['bun', '-e', script], { stderr: 'pipe' })
    expect(run.stderr.toString()).toBe('')
    expect(JSON.parse(run.stdout.toString())).toEqual({ before: false, after: true })
  })
})
