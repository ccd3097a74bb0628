// `bun bench/console-ingest.ts`: what one span costs the console to take in, step by step — JSON
// parse, OTLP decode, store — on export requests captured from the real services (a gateway read
// under wrk, every span exported), stored with the console's settings and with SQLite's defaults
// and one transaction per request (how the store began), alternated so both see the same machine.
// Then a store filled to its default bound (200,000 spans, each pass of the capture under new trace
// ids, started a few seconds apart) is timed storing more while it evicts, and answering the
// queries the pages make. Prints microseconds per span and milliseconds per query; figures for
// console/README.md, not targets.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeTraces, type SpanRow } from '../console/src/otlp.ts'
import { createStore, type StoreOptions } from '../console/src/store.ts'
import { startStack } from '../e2e/harness.ts'
import { wrkBinary } from './wrk.ts'

const ROUNDS = 3
const PASSES = 20

async function capture(): Promise<string[]> {
  const wrk = wrkBinary()
  if (!wrk) throw new Error('wrk is not installed (apt-get install wrk)')
  const bodies: string[] = []
  const sink = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      bodies.push(await request.text())
      return Response.json({})
    },
  })
  const stack = await startStack({ env: { OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}` } })
  try {
    Bun.spawnSync([wrk, '-t2', '-c20', '-d2s', `${stack.gateway.url}/catalog/42`])
    await Bun.sleep(1500)
  } finally {
    await stack.stop()
    await sink.stop(true)
  }
  return bodies
}

function measure(bodies: string[], options: StoreOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'console-ingest-'))
  const store = createStore({ path: join(dir, 'console.sqlite'), ...options })
  let spans = 0
  const time = { parse: 0, decode: 0, store: 0 }
  for (let pass = 0; pass < PASSES; pass++) {
    for (const body of bodies) {
      let started = performance.now()
      const document = JSON.parse(body)
      time.parse += performance.now() - started
      started = performance.now()
      const { rows } = decodeTraces(document)
      time.decode += performance.now() - started
      started = performance.now()
      store.insertSpans(rows)
      time.store += performance.now() - started
      spans += rows.length
    }
  }
  const started = performance.now()
  store.flush()
  time.store += performance.now() - started
  store.close()
  rmSync(dir, { recursive: true, force: true })
  const perSpan = (ms: number) => (ms * 1000) / spans
  return { spans, parse: perSpan(time.parse), decode: perSpan(time.decode), store: perSpan(time.store) }
}

const bodies = await capture()
const variants: [string, StoreOptions][] = [
  ['console settings', {}],
  ['SQLite defaults, a transaction per request', { flushMs: 0, cacheKiB: 2000, checkpointPages: 1000 }],
]
console.log(`${bodies.length} export requests captured; ${ROUNDS} rounds of ${PASSES} passes each`)
const results = new Map<string, number[]>()
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, options] of variants) {
    const result = measure(bodies, options)
    results.set(name, [...(results.get(name) ?? []), result.store])
    console.log(
      `${name.padEnd(44)} ${result.spans} spans: parse ${result.parse.toFixed(2)} µs, decode ${result.decode.toFixed(2)} µs, store ${result.store.toFixed(2)} µs`,
    )
  }
}
for (const [name, stores] of results) {
  const sorted = [...stores].sort((a, b) => a - b)
  console.log(`median store cost, ${name}: ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} µs per span`)
}

/** The capture again and again under fresh trace ids, each pass a few seconds later than the last. */
function* passes(rows: SpanRow[], count: number) {
  const first = rows[0]?.start_us ?? 0
  const nowUs = Date.now() * 1000
  for (let pass = 0; pass < count; pass++) {
    const shift = nowUs - first - (count - pass) * 1_000_000
    yield rows.map((row) => ({
      ...row,
      trace_id: pass.toString(16).padStart(8, '0') + row.trace_id.slice(8),
      start_us: row.start_us + shift,
    }))
  }
}

function atRetention(bodies: string[]): void {
  const rows = bodies.flatMap((body) => decodeTraces(JSON.parse(body)).rows)
  const dir = mkdtempSync(join(tmpdir(), 'console-ingest-'))
  const store = createStore({ path: join(dir, 'console.sqlite') })
  const fill = Math.ceil(store.maxSpans / rows.length)
  const all = [...passes(rows, fill * 2)]
  for (const pass of all.slice(0, fill)) store.insertSpans(pass)
  store.flush()
  let started = performance.now()
  let stored = 0
  for (const pass of all.slice(fill)) {
    store.insertSpans(pass)
    stored += pass.length
  }
  store.flush()
  const perSpan = ((performance.now() - started) * 1000) / stored
  console.log(
    `at retention (${store.counts().spans} spans held, ${store.totals().evicted_spans} evicted): store ${perSpan.toFixed(2)} µs per span`,
  )
  const now = Date.now()
  const queries: [string, () => unknown][] = [
    ['service map, 5 min', () => store.serviceMap(300, now)],
    ['trace search, newest 50', () => store.searchTraces({})],
    ['trace search, last minute', () => store.searchTraces({ start_ms: now - 60_000 })],
    [
      'trace search, errors of a service',
      () => store.searchTraces({ service: 'shopstack-catalog', status: 'error' }),
    ],
    ['trace search, min duration', () => store.searchTraces({ min_duration_ms: 50 })],
    ['one trace', () => store.trace(all.at(-1)?.[0]?.trace_id ?? '')],
  ]
  for (const [name, query] of queries) {
    query()
    started = performance.now()
    for (let i = 0; i < 5; i++) query()
    console.log(`  ${name.padEnd(36)} ${((performance.now() - started) / 5).toFixed(1)} ms`)
  }
  store.close()
  rmSync(dir, { recursive: true, force: true })
}

atRetention(bodies)
