// `bun run bench:in-process` in a short run: a figure for each mode, every answer the product, and in
// `full` the spans really exported (two a request), so the figure is of the path the bench drives.
// It asserts nothing about how fast.

import { expect, test } from 'bun:test'
import { measureInProcess } from './in-process.ts'

test('bench:in-process measures the gateway GET in both modes, exporting every span in full', async () => {
  const requests = 500
  const rounds = 2
  const off = await measureInProcess({ mode: 'off', requests, rounds })
  expect(off.roundsUs).toHaveLength(rounds)
  expect(off.medianUs).toBeGreaterThan(0)
  expect(off.spans).toBe(0)
  const full = await measureInProcess({ mode: 'full', requests, rounds })
  expect(full.medianUs).toBeGreaterThan(0)
  // Warm-up (as many requests as a round here) plus the rounds, two spans each.
  expect(full.spans).toBe(2 * requests * (rounds + 1))
}, 30_000)
