// The memory floor: what a proxy on this stack holds before ShopStack adds anything. A bare Bun
// proxy, the same proxy as one Elysia route, and that route with the telemetry libraries imported,
// each in front of a bare Bun backend, started as the services are (RUNTIME_ENV) and driven with
// the bench's wrk settings. Idle RSS and peak RSS under load put `bun run bench`'s figures for the
// services in proportion (bench/README.md).
//
//   bun run bench:floor                 # 8 s of load per proxy
//   bun run bench:floor --duration 2

import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, type RunningProcess, startProcess } from '../scripts/processes.ts'
import { RUNTIME_ENV } from '../scripts/services.ts'
import { runWrk, wrkBinary } from './wrk.ts'

const FLOORS = [
  { name: 'Bun.serve + fetch', file: 'bun-proxy.ts', env: {} },
  { name: 'Elysia route + fetch', file: 'elysia-proxy.ts', env: {} },
  {
    name: 'Elysia route + fetch, with OpenTelemetry API, pino and prom-client imported',
    file: 'elysia-proxy.ts',
    env: { FLOOR_LIBS: '1' },
  },
] as const

export interface FloorResult {
  name: string
  idleMb: number
  loadMb: number
  rps: number
  /** Non-2xx answers and socket errors: a floor that failed requests measured nothing. */
  errors: number
  /** Spawn → first 200 from /livez (polled every 2 ms, as the services' cold start), median, ms. */
  startMs: number
}

/** How many times each proxy is started for its cold start (the last start is the one loaded). */
const STARTS = 5

/**
 * A floor fixture (bench/floor/<file>) on a free loopback port, started as the services are. With
 * `port`, it is ready (and `readyMs` taken) at its first 200 from /livez, as a service's cold start.
 */
export function startFixture(
  file: string,
  env: Record<string, string>,
  port?: number,
): Promise<RunningProcess> {
  return startProcess(file, ['bun', join(import.meta.dir, 'floor', file)], {
    env: { ...RUNTIME_ENV, ...Bun.env, ...env, ...(port === undefined ? {} : { PORT: String(port) }) },
    ...(port === undefined ? {} : { port }),
    stopGraceMs: 2000,
  })
}

export async function measureFloors(options: { durationS: number; connections: number; threads: number }) {
  const backend = await startFixture('backend.ts', {})
  const results: FloorResult[] = []
  try {
    for (const floor of FLOORS) {
      const env = { UPSTREAM_URL: backend.url, ...floor.env }
      const starts: number[] = []
      for (let i = 1; i < STARTS; i++) {
        const probe = await startFixture(floor.file, env, freePort())
        starts.push(probe.readyMs)
        await probe.stop()
      }
      const proxy = await startFixture(floor.file, env, freePort())
      starts.push(proxy.readyMs)
      try {
        await Bun.sleep(300)
        const idleMb = proxy.rssMb()
        let loadMb = idleMb
        const wrk = await runWrk({
          url: `${proxy.url}/catalog/42`,
          durationS: options.durationS,
          threads: options.threads,
          connections: options.connections,
          onTick: () => {
            loadMb = Math.max(loadMb, proxy.rssMb())
          },
        })
        results.push({
          name: floor.name,
          idleMb: round(idleMb),
          loadMb: round(loadMb),
          rps: Math.round(wrk.rps),
          errors: wrk.non2xx + wrk.socketErrors,
          startMs: round(median(starts)),
        })
      } finally {
        await proxy.stop()
      }
    }
  } finally {
    await backend.stop()
  }
  return results
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

function round(mb: number): number {
  return Math.round(mb * 10) / 10
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      duration: { type: 'string', default: '8' },
      connections: { type: 'string', default: '50' },
      threads: { type: 'string', default: '2' },
    },
  })
  if (!wrkBinary()) throw new Error('wrk is not installed (apt-get install wrk)')
  const settings = {
    durationS: Number(values.duration),
    connections: Number(values.connections),
    threads: Number(values.threads),
  }
  console.log(
    `memory floor: wrk -t${settings.threads} -c${settings.connections} -d${settings.durationS}s, ${JSON.stringify(RUNTIME_ENV)}`,
  )
  for (const r of await measureFloors(settings)) {
    console.log(
      `${r.name.padEnd(78)} idle ${String(r.idleMb).padStart(5)} MB   under load ${String(r.loadMb).padStart(5)} MB   ${r.rps} req/s   cold start ${r.startMs} ms`,
    )
  }
}
