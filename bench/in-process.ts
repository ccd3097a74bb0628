// The gateway's own cost per proxied GET, measured inside one process: the gateway app (every
// plugin, the upstream client, the proxy) handles `GET /catalog/42` through `app.handle`, with the
// upstream call answered by an in-process fetch, so no socket, no Bun server and no catalog take
// part. CPU time per request (process.cpuUsage: every thread, GC included) over a few rounds of
// batches of 50 concurrent requests, the median printed. What wrk measures on two shared cores
// moves by a third within minutes; this moves by about a microsecond, so a change of one is visible
// here long before it is in `bun run bench` (bench/README.md, "Where the gateway's time goes").
//
//   bun run bench:in-process                          # telemetry off (as the bench's `off`)
//   bun run bench:in-process --mode full              # spans exported, one log line per request
//   bun run bench:in-process --requests 20000 --rounds 3
//
// In `full`, spans go to the bench's null sink and log lines to /dev/null, both in this process:
// the sink's counting is in the figure (it is small: bench/sink.ts).

import { openSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createApp } from '../gateway/src/app.ts'
import { createFaults } from '../lib/src/faults.ts'
import { bufferedStdout, createLogger } from '../lib/src/telemetry/logger.ts'
import { createMetrics } from '../lib/src/telemetry/metrics.ts'
import { createTracing } from '../lib/src/telemetry/tracing.ts'
import { startSink } from './sink.ts'

/** A product as the catalog answers it, with the headers a catalog answer carries. */
const PRODUCT = JSON.stringify({
  id: 42,
  name: 'Product 42',
  price: 12.5,
  stock: 3,
  description: 'x'.repeat(60),
})
const PRODUCT_HEADERS = {
  'content-type': 'application/json;charset=utf-8',
  'x-request-id': 'upstream',
  'x-content-type-options': 'nosniff',
  date: new Date().toUTCString(),
}
/** Requests in flight at once, as wrk's 50 connections. */
const BATCH = 50

export interface InProcessResult {
  mode: 'off' | 'full'
  /** CPU microseconds per request, each round. */
  roundsUs: number[]
  medianUs: number
  requests: number
  /** Spans the sink received (full): two a request (SERVER and CLIENT), the warm-up's included. */
  spans: number
}

export async function measureInProcess(options: {
  mode: 'off' | 'full'
  requests: number
  rounds: number
}): Promise<InProcessResult> {
  const { mode, requests, rounds } = options
  const sink = mode === 'full' ? startSink() : undefined
  const logger = createLogger({
    service: 'gateway',
    level: mode === 'full' ? 'info' : 'silent',
    destination: bufferedStdout(openSync('/dev/null', 'w')),
  })
  const metrics = createMetrics({ service: 'gateway' })
  const tracing = createTracing({ service: 'shopstack-gateway', endpoint: sink?.url })
  const app = createApp({
    catalogUrl: 'http://127.0.0.1:9',
    cartUrl: 'http://127.0.0.1:9',
    logger,
    metrics,
    tracing,
    fetch: async () => new Response(PRODUCT, { headers: PRODUCT_HEADERS }),
    faults: createFaults({ service: 'gateway', logger, metrics, upstreams: ['catalog', 'cart'] }),
  })
  const run = async (n: number) => {
    for (let sent = 0; sent < n; sent += BATCH) {
      const batch: Array<Promise<string>> = []
      for (let i = 0; i < BATCH; i++) {
        batch.push(app.handle(new Request('http://127.0.0.1/catalog/42')).then((r) => r.text()))
      }
      const bodies = await Promise.all(batch)
      if (!bodies.every((body) => body === PRODUCT)) throw new Error(`unexpected answer: ${bodies[0]}`)
      // Let the after-response hooks (metrics, log line, span end) run, as between wrk's requests.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  try {
    await run(Math.min(requests, 20_000)) // warm-up: JIT, caches, the first series
    const roundsUs: number[] = []
    for (let r = 0; r < rounds; r++) {
      const before = process.cpuUsage()
      await run(requests)
      const used = process.cpuUsage(before)
      roundsUs.push(Math.round(((used.user + used.system) / requests) * 100) / 100)
    }
    await tracing.shutdown()
    const spans = sink ? await sink.settle(200) : 0
    const sorted = [...roundsUs].sort((a, b) => a - b)
    return { mode, roundsUs, medianUs: sorted[Math.floor(sorted.length / 2)] as number, requests, spans }
  } finally {
    sink?.stop()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      mode: { type: 'string', default: 'off' },
      requests: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '5' },
    },
  })
  if (values.mode !== 'off' && values.mode !== 'full') throw new Error('--mode is off or full')
  const result = await measureInProcess({
    mode: values.mode,
    requests: Number(values.requests),
    rounds: Number(values.rounds),
  })
  console.log(
    `gateway GET /catalog/42 in process, telemetry ${result.mode}: ${result.medianUs} µs CPU per request (median; rounds ${result.roundsUs.join(', ')}; ${result.requests} requests each)`,
  )
  process.exit(0)
}
