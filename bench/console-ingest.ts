// `bun bench/console-ingest.ts`: what one span costs the console to take in, step by step — JSON
// parse, OTLP decode, store — on export requests captured from the real services (a gateway read
// under wrk, every span exported), stored with the console's settings and with SQLite's defaults
// and one transaction per request (how the store began), alternated so both see the same machine.
// Prints microseconds per span; a figure for console/README.md, not a target.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeTraces } from '../console/src/otlp.ts'
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
