// Where the gateway's time goes (issue 19): the gateway → catalog GET path under the bench's wrk load,
// with the gateway run by Bun's sampling profiler (`bun --cpu-prof`), once per telemetry mode.
// Services start as the bench starts them (bench/processes.ts: free loopback ports, SIMULATION=off,
// RUNTIME_ENV, output to a file; full mode exports to the bench's null sink). The gateway writes its
// profile when SIGTERM makes it exit; the table is self samples per function over the whole process
// (start-up is a few dozen samples of thousands).
//
//   bun run bench:profile                          # off and full, 1 s warm-up, 10 s of load each
//   bun run bench:profile --modes full --duration 20 --top 30
//
// Profiles (.cpuprofile for Chrome DevTools / speedscope, and Bun's markdown) stay in --out.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from '../scripts/processes.ts'
import { type Running, startService } from './processes.ts'
import { type Mode, modeEnv } from './run.ts'
import { startSink } from './sink.ts'
import { runWrk } from './wrk.ts'

export interface ProfileOptions {
  modes: Array<Extract<Mode, 'off' | 'full'>>
  durationS: number
  warmupS: number
  threads: number
  connections: number
  /** Where the profiles are kept (a folder per mode). */
  out: string
  log?: (line: string) => void
}

export interface ProfileEntry {
  function: string
  location: string
  /** Samples whose top frame was this function. */
  samples: number
  /** Of all samples, %. */
  selfPct: number
}

export interface ModeProfile {
  mode: string
  rps: number
  /** The .cpuprofile the gateway wrote. */
  profilePath: string
  samples: number
  top: ProfileEntry[]
  /** Self samples per source file (a package for node_modules, `[native code]` for Bun's own), %. */
  byFile: Array<{ file: string; selfPct: number }>
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>
  samples: number[]
}

/**
 * Self samples per function (name + location), largest first, from a Chrome-format .cpuprofile.
 * Samples are counted, not weighted by `timeDeltas`: JSC takes a sample only while JavaScript runs,
 * so the delta after an idle stretch (the warm-up's gaps, the drain at exit) holds seconds of
 * nothing and would crown whatever ran next (pino's `Date.now` at the "stopping" line, 40%).
 */
export function selfSamples(profile: CpuProfile): {
  samples: number
  entries: ProfileEntry[]
  byFile: ModeProfile['byFile']
} {
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const byKey = new Map<string, ProfileEntry>()
  for (const id of profile.samples) {
    const frame = frameOf.get(id)
    const fn = frame?.functionName || '(anonymous)'
    const location = frame?.url
      ? `${frame.url.replace('file://', '').replace(`${ROOT}/`, '')}:${frame.lineNumber + 1}`
      : '[native code]'
    const key = `${fn}\t${location}`
    const entry = byKey.get(key) ?? { function: fn, location, samples: 0, selfPct: 0 }
    entry.samples++
    byKey.set(key, entry)
  }
  const total = profile.samples.length
  const entries = [...byKey.values()].sort((a, b) => b.samples - a.samples)
  for (const e of entries) e.selfPct = Math.round((e.samples / total) * 1000) / 10
  const files = new Map<string, number>()
  for (const e of entries) {
    const path = e.location.replace(/:\d+$/, '')
    const file = path.includes('node_modules/') ? packageOf(path) : path
    files.set(file, (files.get(file) ?? 0) + e.samples)
  }
  const byFile = [...files]
    .sort((a, b) => b[1] - a[1])
    .map(([file, n]) => ({ file, selfPct: Math.round((n / total) * 1000) / 10 }))
  return { samples: total, entries, byFile }
}

/** `node_modules/.bun/x@1/node_modules/@scope/x/lib/y.js` → `@scope/x`. */
function packageOf(path: string): string {
  const rest = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/')
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path)
}

export async function profileGateway(options: ProfileOptions): Promise<ModeProfile[]> {
  const { modes, durationS, warmupS, threads, connections, out, log = console.log } = options
  const temp = mkdtempSync(join(tmpdir(), 'shopstack-profile-'))
  const sink = startSink()
  const results: ModeProfile[] = []
  const running: Running[] = []
  try {
    for (const mode of modes) {
      const env = modeEnv(mode, sink.url)
      const profileDir = join(out, mode)
      mkdirSync(profileDir, { recursive: true })
      log(`[${mode}] catalog, then the gateway under --cpu-prof`)
      const catalog = await startService({
        name: 'catalog',
        env: { ...env, DATABASE_PATH: join(temp, `${mode}-catalog.sqlite`) },
        logPath: join(temp, `${mode}-catalog.log`),
      })
      running.push(catalog)
      const gateway = await startService({
        name: 'gateway',
        // The cart is not on this path; readiness checks it, liveness does not.
        env: { ...env, CATALOG_SERVICE_URL: catalog.url, CART_SERVICE_URL: 'http://127.0.0.1:9' },
        logPath: join(temp, `${mode}-gateway.log`),
        bunFlags: ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${profileDir}`],
      })
      running.push(gateway)
      const url = `${gateway.url}/catalog/42`
      if (warmupS > 0) await runWrk({ url, durationS: warmupS, threads, connections })
      log(`  wrk -t${threads} -c${connections} -d${durationS}s ${url}`)
      const wrk = await runWrk({ url, durationS, threads, connections })
      // SIGTERM: the gateway drains and exits, and Bun writes the profile on the way out.
      await gateway.stop()
      await catalog.stop()
      running.length = 0
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
      if (!file) throw new Error(`[${mode}] the gateway wrote no .cpuprofile in ${profileDir}`)
      const profilePath = join(profileDir, file)
      const { samples, entries, byFile } = selfSamples(
        JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile,
      )
      results.push({ mode, rps: Math.round(wrk.rps), profilePath, samples, top: entries, byFile })
    }
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    sink.stop()
    rmSync(temp, { recursive: true, force: true })
  }
  return results
}

export function formatProfile(profile: ModeProfile, top: number): string {
  const lines = [
    `[${profile.mode}] ${profile.rps} req/s under the profiler; ${profile.samples} samples; ${profile.profilePath}`,
    `by file: ${profile.byFile
      .slice(0, 12)
      .map((f) => `${f.file} ${f.selfPct}%`)
      .join(', ')}`,
    '| self % | samples | function | location |',
    '|---:|---:|---|---|',
  ]
  for (const e of profile.top.slice(0, top))
    lines.push(`| ${e.selfPct} | ${e.samples} | \`${e.function}\` | ${e.location} |`)
  return lines.join('\n')
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      modes: { type: 'string', default: 'off,full' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      top: { type: 'string', default: '20' },
      out: {
        type: 'string',
        default: join(ROOT, 'bench', 'results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      },
    },
  })
  const modes = (values.modes as string).split(',').map((m) => m.trim())
  for (const mode of modes)
    if (mode !== 'off' && mode !== 'full') throw new Error(`--modes: "${mode}" (off or full)`)
  const profiles = await profileGateway({
    modes: modes as ProfileOptions['modes'],
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    threads: Number(values.threads),
    connections: Number(values.connections),
    out: values.out as string,
  })
  for (const p of profiles) console.log(`\n${formatProfile(p, Number(values.top))}`)
}
