// Self-bench: can one load-generator process outrun the services? Loads a trivial Bun.serve
// endpoint (in its own process) with wrk -t2 -c50 and then with this generator (50 closed users,
// no think time, the full runner and stats path), one after the other in the same run, and prints
// both rates and their ratio, next to a plain Bun fetch loop for reference.
// Usage: bun loadtest/bench/self-bench.ts [seconds=5] [connections=50] [rounds=3]
// The target is a ratio of 0.6 or more on a 2-core machine.

import { join } from 'node:path'
import { createRunner } from '../src/runner.ts'
import type { UserFactory } from '../src/scenarios.ts'

const seconds = Number(Bun.argv[2] ?? 5)
const connections = Number(Bun.argv[3] ?? 50)
const rounds = Number(Bun.argv[4] ?? 3)

const server = Bun.spawn(['bun', join(import.meta.dir, 'trivial-server.ts')], {
  stdout: 'pipe',
  stderr: 'inherit',
})
try {
  await run(await firstLine(server.stdout).then(Number))
} finally {
  server.kill()
  await server.exited
}

/** The server prints its port and keeps running: read up to the first newline only. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true })
    const newline = text.indexOf('\n')
    if (newline >= 0) return text.slice(0, newline).trim()
  }
  throw new Error('the trivial server exited before printing its port')
}

async function run(port: number) {
  const url = `http://127.0.0.1:${port}/`
  // Warm both sides up (JIT, connection pool) so neither tool pays for the first second.
  await generator(url, 1, connections)
  // The machine is shared and noisy: alternate the tools over several rounds and compare medians.
  const wrkRates: number[] = []
  const loopRates: number[] = []
  const ours: Array<Awaited<ReturnType<typeof generator>>> = []
  for (let round = 0; round < rounds; round++) {
    wrkRates.push(wrk(url))
    loopRates.push(await plainLoop(url, seconds, connections))
    ours.push(await generator(url, seconds, connections))
  }
  const wrkRate = median(wrkRates)
  const loopRate = median(loopRates)
  const best = ours.sort((a, b) => a.rate - b.rate)[Math.floor(ours.length / 2)] as (typeof ours)[number]
  const line = (name: string, rates: number[], rate: number) =>
    console.log(
      `${name.padEnd(34)} ${rate.toFixed(0).padStart(7)} req/s   (rounds: ${rates.map((r) => r.toFixed(0)).join(', ')})`,
    )
  console.log(`${rounds} rounds of ${seconds} s, ${connections} connections, medians:`)
  line(`wrk -t2 -c${connections} -d${seconds}s`, wrkRates, wrkRate)
  line('plain Bun fetch loop (reference)', loopRates, loopRate)
  line(
    `loadtest, ${connections} users, no think time`,
    ours.map((o) => o.rate),
    best.rate,
  )
  console.log(
    `loadtest p50 ${best.p50.toFixed(2)} ms, p99 ${best.p99.toFixed(2)} ms, ${best.failures} failures`,
  )
  console.log(`ratio loadtest / wrk              ${(best.rate / wrkRate).toFixed(2)}`)
  console.log(`ratio loadtest / plain fetch loop ${(best.rate / loopRate).toFixed(2)}`)
}

function wrk(url: string): number {
  const result = Bun.spawnSync(['wrk', '-t2', `-c${connections}`, `-d${seconds}s`, url])
  const text = result.stdout.toString()
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN)
  if (!Number.isFinite(rate)) throw new Error(`could not read wrk's rate:\n${text}${result.stderr}`)
  return rate
}

/** The least a Bun client can do: `connections` loops of fetch and read, nothing recorded. */
async function plainLoop(url: string, runSeconds: number, loops: number): Promise<number> {
  let count = 0
  const started = performance.now()
  const end = started + runSeconds * 1000
  const loop = async () => {
    while (performance.now() < end) {
      await (await fetch(url)).text()
      count++
    }
  }
  await Promise.all(Array.from({ length: loops }, loop))
  return count / ((performance.now() - started) / 1000)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

async function generator(url: string, runSeconds: number, users: number) {
  const ping: UserFactory = (context) => {
    const step = { endpoint: context.stats.endpoint('bench', 'GET', '/'), url, init: undefined }
    return { next: () => step, thinkMs: () => 0 }
  }
  const runner = createRunner({
    users,
    spawnRate: 1_000_000,
    runTimeMs: runSeconds * 1000,
    metricsUsers: 0,
    createUser: ping,
    stopTimeoutMs: 2000,
  })
  runner.start()
  const { snapshot } = await runner.done
  return {
    rate: snapshot.totals.requests / snapshot.elapsed_s,
    p50: snapshot.totals.p50_ms,
    p99: snapshot.totals.p99_ms,
    failures: snapshot.totals.failures,
  }
}
