// The memory floor end to end, briefly: every fixture starts, serves through its proxy and stops.
// It asserts nothing about memory or speed — that is what `bun run bench:floor` prints.

import { expect, test } from 'bun:test'
import { measureFloors } from './floor.ts'

test.skipIf(!Bun.which('wrk'))(
  'bun run bench:floor measures each proxy in front of the backend',
  async () => {
    const results = await measureFloors({ durationS: 1, connections: 10, threads: 1 })
    expect(results.map((r) => r.name)).toHaveLength(3)
    for (const r of results) {
      expect(r.rps).toBeGreaterThan(0)
      expect(r.errors).toBe(0)
      expect(r.idleMb).toBeGreaterThan(0)
      expect(r.loadMb).toBeGreaterThanOrEqual(r.idleMb)
      // Timed to its first /livez 200, as a service's cold start: more than a spawn, less than the wait.
      expect(r.startMs).toBeGreaterThan(1)
      expect(r.startMs).toBeLessThan(10_000)
    }
  },
  30_000,
)
