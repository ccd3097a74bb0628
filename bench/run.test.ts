// The benchmark end to end in its smoke mode (1 s per case, no warm-up, one cold start each, one
// `bun run dev` start, the dev-runner case): it starts and stops everything, the console included, and writes a result
// file that parses. It asserts nothing about speed — that is what `bun run bench` is for.

import { expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchResult } from './run.ts'

test.skipIf(!Bun.which('wrk'))(
  'bun run bench --smoke runs every case and writes valid JSON',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-bench-test-'))
    const out = join(dir, 'result.json')
    try {
      const proc = Bun.spawn(
        ['bun', join(import.meta.dir, 'run.ts'), '--smoke', '--modes', 'off,full,console,dev', '--out', out],
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
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  150_000,
)
