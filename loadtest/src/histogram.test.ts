import { describe, expect, test } from 'bun:test'
import { Histogram } from './histogram.ts'
import { createRandom } from './random.ts'

/** The exact percentile of the samples (nearest rank), to compare the histogram against. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number
}

function check(samples: number[]) {
  const histogram = new Histogram()
  for (const value of samples) histogram.record(value)
  const sorted = [...samples].sort((a, b) => a - b)
  for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
    const want = exact(sorted, q)
    const got = histogram.percentile(q)
    // 0.39 % from the bucket width, plus the microsecond rounding of tiny values.
    expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.004 + 0.001)
  }
  expect(histogram.percentile(0)).toBe(sorted[0] as number)
  expect(histogram.percentile(1)).toBe(sorted[sorted.length - 1] as number)
  expect(histogram.meanMs).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / samples.length, 6)
}

describe('the latency histogram', () => {
  const random = createRandom(42)

  test('percentiles of a uniform distribution are within 0.4 % of the exact ones', () => {
    check(Array.from({ length: 100_000 }, () => 1 + random() * 999))
  })

  test('percentiles of a long-tailed (log-normal) distribution are within 0.4 %', () => {
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    check(Array.from({ length: 100_000 }, () => Math.exp(3 + 1.5 * normal())))
  })

  test('percentiles of an exponential distribution spanning microseconds to seconds are within 0.4 %', () => {
    check(Array.from({ length: 100_000 }, () => -Math.log(1 - random()) * 50))
  })

  test('a constant latency reads back exactly', () => {
    const histogram = new Histogram()
    for (let i = 0; i < 1000; i++) histogram.record(12.345)
    expect(histogram.percentile(0.5)).toBe(12.345)
    expect(histogram.percentile(0.99)).toBe(12.345)
  })

  test('memory is fixed however many samples are recorded', () => {
    const histogram = new Histogram()
    const size = histogram.counts.length
    for (let i = 0; i < 200_000; i++) histogram.record(random() * 60_000)
    expect(histogram.counts.length).toBe(size)
    expect(histogram.count).toBe(200_000)
  })

  test('adding two histograms equals recording every sample in one', () => {
    const a = new Histogram()
    const b = new Histogram()
    const both = new Histogram()
    for (let i = 0; i < 10_000; i++) {
      const value = random() * 300
      ;(i % 2 ? a : b).record(value)
      both.record(value)
    }
    a.add(b)
    expect(a.count).toBe(both.count)
    expect(a.minMs).toBe(both.minMs)
    expect(a.maxMs).toBe(both.maxMs)
    for (const q of [0.5, 0.95, 0.99]) expect(a.percentile(q)).toBe(both.percentile(q))
  })

  test('an empty histogram reports zeros and huge values are clamped, not lost', () => {
    const histogram = new Histogram()
    expect(histogram.percentile(0.99)).toBe(0)
    histogram.record(10 * 3_600_000)
    expect(histogram.count).toBe(1)
    expect(histogram.percentile(0.5)).toBeGreaterThan(0)
  })
})
