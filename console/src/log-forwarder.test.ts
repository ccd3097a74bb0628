import { afterEach, describe, expect, test } from 'bun:test'
import { createConsole } from './app.ts'
import { createLogForwarder, type LogForwarder } from './log-forwarder.ts'
import { createStore, type Store } from './store.ts'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function startConsole(port = 0): { store: Store; url: string } {
  const store = createStore()
  const app = createConsole({ store })
  const server = Bun.serve({ port, hostname: '127.0.0.1', routes: app.routes, fetch: app.fetch })
  cleanups.push(
    () => store.close(),
    () => server.stop(true),
  )
  return { store, url: `http://127.0.0.1:${server.port}` }
}

function forwarder(endpoint: string, options: { maxBuffered?: number } = {}): LogForwarder {
  const forward = createLogForwarder({ endpoint, intervalMs: 60_000, ...options })
  cleanups.push(() => forward.close())
  return forward
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const line = (msg: string, level = 'info') =>
  JSON.stringify({
    level,
    time: Date.now(),
    service: 'catalog',
    msg,
    trace_id: TRACE,
    span_id: '00f067aa0ba902b7',
  })

describe('createLogForwarder', () => {
  test("a service's JSON lines reach the console with their level and trace id", async () => {
    const { store, url } = startConsole()
    const forward = forwarder(url)
    forward.push('catalog', line('request'))
    forward.push('catalog', line('database is slow', 'warn'))
    forward.push('cart', 'a line that is not JSON')
    await forward.flush()
    const logs = store.logs({ trace_id: TRACE })
    expect(logs.map((l) => [l.service, l.level, l.msg])).toEqual([
      ['catalog', 'warn', 'database is slow'],
      ['catalog', 'info', 'request'],
    ])
    expect(store.logs({ service: 'cart' }).map((l) => l.line)).toEqual(['a line that is not JSON'])
    expect(forward.buffered).toBe(0)
  })

  test('lines written while the console is down are sent once it is up', async () => {
    const holder = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const port = holder.port
    holder.stop(true)
    const forward = forwarder(`http://127.0.0.1:${port}`)
    forward.push('gateway', line('early'))
    await forward.flush()
    expect(forward.buffered).toBe(1)
    const { store } = startConsole(port)
    await forward.flush()
    expect(store.logs().map((l) => l.msg)).toEqual(['early'])
  })

  test('the buffer is bounded while nobody takes the lines, the oldest dropped and counted', async () => {
    const forward = forwarder('http://127.0.0.1:9', { maxBuffered: 100 })
    for (let i = 0; i < 250; i++) forward.push('cart', line(`line ${i}`))
    expect(forward.buffered).toBeLessThanOrEqual(100)
    expect(forward.buffered).toBeGreaterThanOrEqual(90)
    expect(forward.dropped).toBe(250 - forward.buffered)
  })

  test('lines shed while a batch is in flight are neither lost unseen nor sent twice', async () => {
    const received: string[] = []
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        const body = (await request.json()) as {
          resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[]
        }
        for (const r of body.resourceLogs[0]?.scopeLogs[0]?.logRecords ?? [])
          received.push(r.body.stringValue)
        await held
        return Response.json({})
      },
    })
    cleanups.push(() => server.stop(true))
    const forward = createLogForwarder({
      endpoint: server.url.origin,
      intervalMs: 60_000,
      maxBuffered: 10,
      maxBatch: 4,
    })
    cleanups.push(() => forward.close())
    for (let i = 0; i < 10; i++) forward.push('cart', `L${i}`)
    const sending = forward.flush()
    await Bun.sleep(50)
    // The first batch (L0–L3) is in flight; the full buffer sheds its oldest lines to take more.
    for (let i = 10; i < 16; i++) forward.push('cart', `L${i}`)
    release()
    await sending
    await forward.flush()
    expect(new Set(received).size).toBe(received.length)
    expect(received.length + forward.dropped + forward.buffered).toBe(16)
    expect(received.slice(0, 4)).toEqual(['L0', 'L1', 'L2', 'L3'])
    // What is lost is the oldest unsent; the newest ten (the bound) all arrive.
    for (let i = 6; i < 16; i++) expect(received).toContain(`L${i}`)
  })
})
