import { describe, expect, test } from 'bun:test'
import type { TotalsSnapshot } from './stats.ts'
import { EXIT_OK, EXIT_THRESHOLD_BREACHED, evaluateThresholds, exitCodeFor } from './thresholds.ts'

function totals(requests: number, failures: number, p99: number): TotalsSnapshot {
  return {
    requests,
    failures,
    error_rate: requests === 0 ? 0 : failures / requests,
    rps: 0,
    current_rps: 0,
    failures_per_s: 0,
    min_ms: 0,
    avg_ms: 0,
    p50_ms: 0,
    p90_ms: 0,
    p95_ms: 0,
    p99_ms: p99,
    max_ms: p99,
  }
}

describe('thresholds', () => {
  const gates = { maxErrorRate: 0.02, maxP99Ms: 500 }

  test('a run within every gate passes and exits 0', () => {
    const result = evaluateThresholds(totals(1000, 20, 499), gates)
    expect(result.passed).toBe(true)
    expect(result.checks.map((c) => c.name)).toEqual(['error_rate', 'p99_ms'])
    expect(exitCodeFor(result)).toBe(EXIT_OK)
  })

  test('too many failures fail the run and exit non-zero', () => {
    const result = evaluateThresholds(totals(1000, 21, 100), gates)
    expect(result.passed).toBe(false)
    expect(result.checks.find((c) => c.name === 'error_rate')?.passed).toBe(false)
    expect(exitCodeFor(result)).toBe(EXIT_THRESHOLD_BREACHED)
  })

  test('a slow 99th percentile fails the run', () => {
    const result = evaluateThresholds(totals(1000, 0, 501), gates)
    expect(result.checks.find((c) => c.name === 'p99_ms')).toMatchObject({ passed: false, actual: 501 })
    expect(exitCodeFor(result)).toBe(EXIT_THRESHOLD_BREACHED)
  })

  test('with gates set, a run with no requests cannot pass', () => {
    expect(evaluateThresholds(totals(0, 0, 0), { maxP99Ms: 500 }).passed).toBe(false)
  })

  test('without gates every run passes', () => {
    const result = evaluateThresholds(totals(10, 10, 9000), {})
    expect(result).toEqual({ passed: true, checks: [] })
  })
})
