// Request bodies are bounded whatever their framing: a Content-Length over the limit, a chunked
// body that grows past it, a body that trickles in slower than the deadline, and JSON nested
// deeper than the bound are each refused with a problem+json answer. Real sockets: chunked
// framing and a slow body are what the network does, not what Request objects can show.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { t } from 'elysia'
import { rawHttp } from '../../../e2e/harness.ts'
import { createServiceBase } from '../service-base.ts'
import { createTestTelemetry } from '../testing.ts'

const LIMIT = 1024
const TIMEOUT_MS = 300

const exchange = (port: number, parts: string[], gapMs = 0) =>
  rawHttp(port, parts, { gapMs, timeoutMs: 3000 })

const head = (framing: string) =>
  `POST /echo HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n${framing}\r\n`
const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`

describe('request bodies', () => {
  let port = 0
  let stop = () => {}

  beforeAll(() => {
    const app = createServiceBase({
      service: 'test',
      version: '0',
      description: 'test',
      ...createTestTelemetry(),
      maxBodyBytes: LIMIT,
      bodyTimeoutMs: TIMEOUT_MS,
    })
      .post('/echo', ({ body }) => ({ received: JSON.stringify(body).length }), { body: t.Unknown() })
      .listen({ port: 0, hostname: '127.0.0.1' })
    port = app.server?.port ?? 0
    stop = () => void app.stop(true)
  })
  afterAll(() => stop())

  test('a chunked body within the limit is read', async () => {
    const body = JSON.stringify({ a: 'x'.repeat(500) })
    const { status, answer } = await exchange(port, [
      head('transfer-encoding: chunked\r\n'),
      chunk(body.slice(0, 100)),
      chunk(body.slice(100)),
      '0\r\n\r\n',
    ])
    expect(status).toBe(200)
    expect(answer).toContain(`"received":${body.length}`)
  })

  test('a chunked body past the limit is a 413 problem', async () => {
    const piece = `[${'1,'.repeat(200)}1]`
    const { status, answer } = await exchange(port, [
      head('transfer-encoding: chunked\r\n'),
      ...Array.from({ length: 20 }, () => chunk(piece)),
      '0\r\n\r\n',
    ])
    expect(status).toBe(413)
    expect(answer).toContain('application/problem+json')
  })

  test('a Content-Length past the limit is a 413 problem before the body is read', async () => {
    const { status, answer } = await exchange(port, [head(`content-length: ${LIMIT + 1}\r\n`)])
    expect(status).toBe(413)
    expect(answer).toContain('application/problem+json')
  })

  test('a body that trickles in past the deadline is a 408 problem, and the connection is closed', async () => {
    const body = JSON.stringify({ a: 'x'.repeat(40) })
    const parts = [head(`content-length: ${body.length}\r\n`), ...body.split('')]
    const { status, answer, ms } = await exchange(port, parts, 50)
    expect(status).toBe(408)
    expect(answer).toContain('application/problem+json')
    expect(answer.toLowerCase()).toContain('connection: close')
    expect(ms).toBeLessThan(TIMEOUT_MS + 1000)
  })

  test('JSON nested deeper than 32 levels is a 400 problem; 32 levels are read', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
    const ok = await exchange(port, [head(`content-length: ${nested(32).length}\r\n`) + nested(32)])
    expect(ok.status).toBe(200)
    const deep = await exchange(port, [head(`content-length: ${nested(33).length}\r\n`) + nested(33)])
    expect(deep.status).toBe(400)
    expect(deep.answer).toContain('nests deeper than 32')
  })
})
