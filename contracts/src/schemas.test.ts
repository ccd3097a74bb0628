import { describe, expect, test } from 'bun:test'
import { rangePattern } from './schemas.ts'

describe('rangePattern', () => {
  test.each([1, 9, 10, 20, 99, 100, 101, 250, 1000, 100_000, 2_147_483_647])(
    'matches exactly 1..%d in decimal',
    (max) => {
      const pattern = new RegExp(rangePattern(max))
      const probes = [0, 1, 2, max - 1, max, max + 1, max * 10, Math.floor(max / 2)]
      for (const n of Array.from({ length: Math.min(max + 20, 3000) }, (_, i) => i).concat(probes)) {
        expect(pattern.test(String(n)), `${n} against ${max}`).toBe(n >= 1 && n <= max)
      }
      for (const text of ['01', ' 1', '1 ', '+1', '-1', '1e2', '0x1F', '1.0', '', '١']) {
        expect(pattern.test(text), text).toBe(false)
      }
    },
  )
})
