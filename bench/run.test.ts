// The bench's pure parts (issue 19's targets from a result: PASS, FAIL, or "not measured" with the
// reason; which stacks a run starts), then the benchmark end to end in its smoke mode (1 s per case,
// no warm-up, one cold start each, one `bun run dev` start, the dev-runner case, the FastAPI original
// where installed): it starts and stops everything, the console included, and writes a result file
// that parses. It asserts nothing about speed — that is what `bun run bench` is for.

import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fastapiMissing } from './fastapi.ts'
import {
  type BenchResult,
  type CaseResult,
  evaluate,
  formatTable,
  type Mode,
  stackModes,
  type Target,
} from './run.ts'

function caseOf(path: CaseResult['path'], mode: Mode, roundsRps: number[], rssLoadMb = {}): CaseResult {
  return {
    path,
    label: `${path} [${mode}]`,
    mode,
    rps: roundsRps[0] ?? 0,
    roundsRps,
    requests: 1,
    seconds: 1,
    p50Ms: 1,
    p99Ms: 1,
    non2xx: 0,
    socketErrors: 0,
    rssLoadMb,
  }
}

/** A run of `modes` with the given cases; the floor holds 40 MB idle and 50 MB under load. */
function resultOf(modes: Mode[], cases: CaseResult[], more: Partial<BenchResult> = {}): BenchResult {
  const services = (mb: number) => ({ catalog: mb, cart: mb, gateway: mb })
  const cold = (ms: number) => ({ median: ms, samples: [ms] })
  return {
    startedAt: '2026-12-04T00:00:00.000Z',
    commit: 'test',
    dirty: false,
    machine: { cpus: 2, model: '', loadavg: [0, 0, 0], bun: '1.4.4', wrk: '', nginx: '', fastapi: '' },
    unavailable: {},
    settings: { durationS: 1, warmupS: 0, rounds: 3, threads: 2, connections: 50, modes },
    cases,
    rssIdleMb: { off: services(47), full: services(49) },
    coldStartMs: {
      off: { catalog: cold(90), cart: cold(95), gateway: cold(99) },
      full: { catalog: cold(90), cart: cold(95), gateway: cold(120) },
    },
    floor: [
      {
        name: 'Elysia with the telemetry libraries',
        idleMb: 40,
        loadMb: 50,
        rps: 40_000,
        errors: 0,
        startMs: 95,
      },
    ],
    targets: [],
    ...more,
  }
}

const named = (targets: Target[], name: string) => {
  const target = targets.find((t) => t.name === name)
  if (!target) throw new Error(`no target "${name}" in ${targets.map((t) => t.name).join('; ')}`)
  return target
}

describe("issue 19's targets", () => {
  const offAndFull = [
    caseOf('nginx-catalog', 'off', [30_000, 40_000, 30_000]),
    caseOf('gateway-get', 'off', [21_000, 24_000, 18_000], { catalog: 60, cart: 60, gateway: 65 }),
    caseOf('gateway-get', 'full', [15_000, 21_000, 15_000], { catalog: 60, cart: 60, gateway: 66 }),
    caseOf('gateway-cart-add', 'off', [5000, 5000, 5000], { catalog: 60, cart: 60, gateway: 65 }),
    caseOf('gateway-cart-add', 'full', [4000, 3900, 4100], { catalog: 60, cart: 60, gateway: 66 }),
  ]

  test('ratios are medians of same-round ratios, against issue 19 bounds', () => {
    const targets = evaluate(resultOf(['off', 'full'], offAndFull))
    // Rounds 0.5, 0.525, 0.5 → 0.5: PASS at exactly the bound.
    expect(named(targets, 'full gateway GET / nginx → catalog')).toMatchObject({ value: 0.5, pass: true })
    // 0.7, 0.6, 0.6 → 0.6 < 0.65.
    expect(named(targets, 'off gateway GET / nginx → catalog')).toMatchObject({ value: 0.6, pass: false })
    expect(named(targets, 'full / off, gateway → cart add')).toMatchObject({ value: 0.8, pass: true })
  })

  test('memory is held to the last floor: peak ≤ 1.3× its load, idle ≤ its idle + 8 MB', () => {
    const targets = evaluate(resultOf(['off', 'full'], offAndFull))
    // 65 / 50 = 1.30 passes; 66 / 50 = 1.32 fails.
    expect(named(targets, "off: gateway peak RSS under load ÷ the last floor's")).toMatchObject({
      value: 1.3,
      pass: true,
    })
    expect(named(targets, "full: gateway peak RSS under load ÷ the last floor's")).toMatchObject({
      value: 1.32,
      pass: false,
    })
    // Idle 47 ≤ 48 passes, 49 fails.
    expect(named(targets, 'off: cart idle RSS (MB)')).toMatchObject({
      value: 47,
      pass: true,
      limit: expect.stringContaining('48'),
    })
    expect(named(targets, 'full: cart idle RSS (MB)')).toMatchObject({ value: 49, pass: false })
  })

  test('cold start to ready is held to 100 ms, median', () => {
    const targets = evaluate(resultOf(['off', 'full'], offAndFull))
    expect(named(targets, 'off: gateway cold start to ready (ms, median)')).toMatchObject({
      value: 99,
      pass: true,
    })
    expect(named(targets, 'full: gateway cold start to ready (ms, median)')).toMatchObject({
      value: 120,
      pass: false,
    })
    // The floor's own start, timed the same way, is shown beside them and counts for nothing.
    expect(
      named(targets, 'floor: one Elysia route with the telemetry libraries, cold start (ms, median)'),
    ).toMatchObject({ value: 95, info: true })
  })

  test('the dev runner and the FastAPI original are set against the directly spawned stack, same rounds', () => {
    const cases = [
      caseOf('gateway-get', 'direct', [20_000, 22_000, 24_000]),
      caseOf('gateway-get', 'dev', [18_000, 19_000, 20_000]),
      caseOf('gateway-get', 'fastapi', [400, 500, 480]),
    ]
    const targets = evaluate(resultOf(['dev', 'fastapi'], cases))
    expect(
      named(targets, 'bun run start (dev runner) / services spawned directly, gateway GET'),
    ).toMatchObject({ value: 0.86, pass: false })
    // 50, 44, 50 → 50: PASS at the bound.
    expect(named(targets, 'ours (direct) / the FastAPI original, gateway GET')).toMatchObject({
      value: 50,
      pass: true,
    })
  })

  test('a target whose case did not run says why, is never a pass, and does not fail the run', () => {
    const result = resultOf(['full', 'fastapi'], [caseOf('gateway-get', 'full', [15_000])], {
      unavailable: { nginx: 'nginx is not installed', fastapi: '/usr/bin/python3 cannot import fastapi' },
      coldStartMs: {},
      rssIdleMb: {},
    })
    result.targets = evaluate(result)
    const why = (name: string) => named(result.targets, name).notMeasured
    expect(why('full gateway GET / nginx → catalog')).toBe('nginx is not installed')
    expect(why('full / off, gateway → cart add')).toBe('no full case ran; mode off not selected')
    expect(why('ours (direct) / the FastAPI original, gateway GET')).toStartWith('FastAPI not installed')
    expect(why('bun run start (dev runner) / services spawned directly, gateway GET')).toBe(
      'mode dev not selected',
    )
    expect(why('off: gateway cold start to ready (ms, median)')).toBe('mode off not selected')
    for (const t of result.targets.filter((t) => t.notMeasured)) {
      expect(t.pass).toBe(false)
      expect(t.value).toBeNull()
    }
    const table = formatTable(result)
    const line = table.split('\n').find((l) => l.includes('the FastAPI original'))
    expect(line).toContain('not measured: FastAPI not installed')
    expect(line).not.toContain('PASS')
    expect(table).toMatch(/\d+ not measured/)
  })

  test('direct is started once, before the modes measured against it; fastapi only where it runs', () => {
    expect(stackModes(['fastapi'], { fastapi: true })).toEqual(['direct', 'fastapi'])
    expect(stackModes(['off', 'dev', 'fastapi'], { fastapi: true })).toEqual([
      'off',
      'direct',
      'dev',
      'fastapi',
    ])
    expect(stackModes(['off', 'fastapi'], { fastapi: false })).toEqual(['off'])
  })
})

test.skipIf(!Bun.which('wrk'))(
  'bun run bench --smoke runs every case and writes valid JSON',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-bench-test-'))
    const out = join(dir, 'result.json')
    try {
      const proc = Bun.spawn(
        [
          'bun',
          join(import.meta.dir, 'run.ts'),
          '--smoke',
          '--modes',
          'off,full,console,dev,fastapi',
          '--out',
          out,
        ],
        {
          stdout: 'pipe',
          stderr: 'pipe',
        },
      )
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ])
      expect(code, stderr).toBe(0)
      expect(stdout).toContain('targets:')
      const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult
      const paths = result.cases.map((c) => `${c.mode} ${c.path}`)
      expect(paths).toEqual(
        expect.arrayContaining([
          'off catalog',
          'off gateway-get',
          'off gateway-cart-add',
          'full gateway-cart-add',
          'console gateway-get',
          'console gateway-cart-add',
          'direct gateway-get',
          'dev gateway-get',
        ]),
      )
      for (const c of result.cases) expect(c.requests).toBeGreaterThan(0)
      const traced = result.cases.filter((c) => c.mode === 'full')
      for (const c of traced) expect(c.spansPerRequest).toBeGreaterThan(0)
      // The bench's own /metrics reads make no span, so the probes count exactly: a gateway read is
      // gateway SERVER + CLIENT and catalog SERVER + SELECT; a cart add adds the cart's three.
      expect(traced.find((c) => c.path === 'gateway-get')?.spansPerRequest).toBe(4)
      // Spans are also told apart by service: a cart add reaches all three.
      const cartAdd = traced.find((c) => c.path === 'gateway-cart-add')
      expect(cartAdd?.spansPerRequest).toBe(7)
      for (const service of ['shopstack-gateway', 'shopstack-cart', 'shopstack-catalog']) {
        expect(cartAdd?.spansByService?.[service]).toBeGreaterThan(0)
      }
      expect(cartAdd?.logLinesByService?.cart).toBeGreaterThan(0)
      expect(result.coldStartMs.full?.gateway?.samples).toHaveLength(1)
      expect(result.targets.length).toBeGreaterThan(0)
      // The memory floor runs in the same bench, and the table sets the services against it.
      expect(result.floor).toHaveLength(3)
      for (const floor of result.floor) expect(floor.loadMb).toBeGreaterThan(0)
      expect(stdout).toContain('services under load ÷ the last floor')

      // The console mode: the services export straight to the console, whose totals count the same
      // spans per request; every span the load made was accepted (at least wrk's count × spans per
      // request, none dropped); its RSS is sampled; the smoke run is far below retention, so nothing
      // was evicted and the console holds exactly what it accepted.
      const viaConsole = result.cases.filter((c) => c.mode === 'console')
      expect(viaConsole.find((c) => c.path === 'gateway-get')?.spansPerRequest).toBe(4)
      expect(viaConsole.find((c) => c.path === 'gateway-cart-add')?.spansPerRequest).toBe(7)
      for (const c of viaConsole) {
        expect(c.rssLoadMb.console).toBeGreaterThan(0)
        expect(c.cpuPct?.console).toBeGreaterThan(0)
        expect(c.spansReceived).toBeGreaterThanOrEqual(c.spansExpected ?? Number.POSITIVE_INFINITY)
        expect(c.spansDropped).toBe(0)
        // Exactly: the entry service logged every request, those wrk left out of its count too.
        expect(c.spansReceived).toBe((c.requestsLogged ?? 0) * (c.spansPerRequest ?? 0))
        expect(c.consoleEvicted).toBe(0)
        expect(c.consoleStored).toBe(c.consoleChecked)
        expect(c.consoleStored).toBe(c.spansReceived)
      }
      expect(result.console?.statusAtEnd.totals.evicted_spans).toBe(0)
      expect(result.console?.statusAtEnd.spans).toBe(result.console?.acceptedTotal)
      const lost = result.targets.find((t) => t.name.startsWith('console: spans lost'))
      expect(lost?.value).toBe(0)
      const names = result.targets.map((t) => t.name)
      for (const name of [
        'console / full',
        'console: spans lost',
        'console: its RSS',
        'bun run dev: spawn',
        'bun run start (dev runner)',
      ]) {
        expect(names.some((n) => n.startsWith(name))).toBe(true)
      }
      // `bun run dev` was timed once, answered /livez, and SIGINT left nothing behind.
      expect(result.devStart?.samples).toHaveLength(1)
      expect(result.devStart?.allLiveMsMedian).toBeGreaterThan(0)
      expect(result.devStart?.leftover).toBe(0)
      expect(result.devStart?.samples[0]?.exitCode).toBe(0)
      // The dev-runner case: the runner's own CPU and RSS are part of it.
      const viaRunner = result.cases.find((c) => c.mode === 'dev')
      expect(viaRunner?.cpuPct?.runner).toBeGreaterThan(0)
      expect(viaRunner?.rssLoadMb.runner).toBeGreaterThan(0)
      // The FastAPI original: measured beside `direct` where installed, else said so, never a pass.
      const original = result.targets.find((t) => t.name.startsWith('ours (direct) / the FastAPI original'))
      if (fastapiMissing()) {
        expect(original?.notMeasured).toStartWith('FastAPI not installed')
        expect(stdout).toContain('not measured: FastAPI not installed')
      } else {
        expect(paths).toContain('fastapi gateway-get')
        expect(original?.value).toBeGreaterThan(0)
        expect(result.machine.fastapi).toContain('fastapi')
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  150_000,
)
