// Pass/fail gates for CI: `--max-error-rate 0.02 --max-p99-ms 500`. A breached gate makes the
// process exit non-zero. A run that completed no request at all cannot show it met any gate, so
// with gates set it fails too.

import type { TotalsSnapshot } from './stats.ts'

export interface Thresholds {
  /** Failures / requests, 0..1. */
  maxErrorRate?: number
  maxP99Ms?: number
}

export interface ThresholdCheck {
  name: 'error_rate' | 'p99_ms' | 'requests'
  /** For requests: the minimum; otherwise the maximum allowed. */
  limit: number
  actual: number
  passed: boolean
}

export interface ThresholdResult {
  passed: boolean
  checks: ThresholdCheck[]
}

export const EXIT_OK = 0
export const EXIT_THRESHOLD_BREACHED = 1
export const EXIT_USAGE = 2

export function evaluateThresholds(totals: TotalsSnapshot, thresholds: Thresholds): ThresholdResult {
  const checks: ThresholdCheck[] = []
  const { maxErrorRate, maxP99Ms } = thresholds
  if (maxErrorRate === undefined && maxP99Ms === undefined) return { passed: true, checks }
  if (totals.requests === 0) checks.push({ name: 'requests', limit: 1, actual: 0, passed: false })
  if (maxErrorRate !== undefined) {
    const actual = totals.error_rate
    checks.push({ name: 'error_rate', limit: maxErrorRate, actual, passed: actual <= maxErrorRate })
  }
  if (maxP99Ms !== undefined) {
    const actual = totals.p99_ms
    checks.push({ name: 'p99_ms', limit: maxP99Ms, actual, passed: actual <= maxP99Ms })
  }
  return { passed: checks.every((check) => check.passed), checks }
}

export function exitCodeFor(result: ThresholdResult): number {
  return result.passed ? EXIT_OK : EXIT_THRESHOLD_BREACHED
}
