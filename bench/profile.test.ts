// `bun run bench:profile` in a short run: the gateway, started by the bench's harness under
// `--cpu-prof`, must still write a profile that parses and has samples from our own code. It asserts
// nothing about where the time goes.

import { expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { profileGateway } from './profile.ts'

test.skipIf(!Bun.which('wrk'))(
  'bench:profile writes a gateway CPU profile with samples for each mode',
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'shopstack-profile-test-'))
    try {
      const profiles = await profileGateway({
        modes: ['off', 'full'],
        durationS: 1,
        warmupS: 0,
        threads: 1,
        connections: 4,
        out,
        log: () => {},
      })
      expect(profiles.map((p) => p.mode)).toEqual(['off', 'full'])
      for (const p of profiles) {
        expect(existsSync(p.profilePath)).toBe(true)
        expect(p.rps).toBeGreaterThan(0)
        expect(p.samples).toBeGreaterThan(0)
        expect(
          p.top.some((e) => e.location.startsWith('gateway/src/') || e.location.startsWith('lib/src/')),
        ).toBe(true)
      }
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  },
  60_000,
)
