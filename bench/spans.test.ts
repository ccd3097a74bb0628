// How the bench counts lost spans, in process: a smoke run drops none, so it cannot tell whether a
// drop would be counted. These feed the accounting the /metrics text and case figures a drop makes.

import { describe, expect, test } from 'bun:test'
import { type BenchResult, type CaseResult, droppedBetween, evaluate, parseSamples } from './run.ts'

const metrics = (
  queueFull: number,
  exportFailed: number,
) => `# HELP otel_spans_dropped_total Spans that were not exported.
# TYPE otel_spans_dropped_total counter
otel_spans_dropped_total{reason="queue_full"} ${queueFull}
otel_spans_dropped_total{reason="export_failed"} ${exportFailed}
# HELP otel_spans_pending Spans ended and not yet accepted by the OTLP endpoint.
# TYPE otel_spans_pending gauge
otel_spans_pending 12
`

describe('spans dropped, from otel_spans_dropped_total', () => {
  test('every reason of every service is read', () => {
    expect(parseSamples('cart', metrics(3, 5), 'otel_spans_dropped_total')).toEqual({
      'cart {reason="queue_full"}': 3,
      'cart {reason="export_failed"}': 5,
    })
    expect(parseSamples('cart', metrics(3, 5), 'otel_spans_pending')).toEqual({ 'cart ': 12 })
  })

  test('the growth of each reason counts, and only the series that grew are listed', () => {
    const before = {
      ...parseSamples('cart', metrics(3, 5), 'otel_spans_dropped_total'),
      ...parseSamples('gateway', metrics(0, 0), 'otel_spans_dropped_total'),
    }
    const after = {
      ...parseSamples('cart', metrics(3, 9), 'otel_spans_dropped_total'),
      ...parseSamples('gateway', metrics(2, 0), 'otel_spans_dropped_total'),
    }
    expect(droppedBetween(before, after)).toEqual({
      total: 6,
      by: { 'cart {reason="export_failed"}': 4, 'gateway {reason="queue_full"}': 2 },
    })
  })
})

function consoleCase(path: CaseResult['path'], spans: Partial<CaseResult>): CaseResult {
  return {
    path,
    label: path,
    mode: 'console',
    rps: 1000,
    roundsRps: [1000],
    requests: 1000,
    seconds: 1,
    p50Ms: 1,
    p99Ms: 2,
    non2xx: 0,
    socketErrors: 0,
    rssLoadMb: {},
    spansPerRequest: 4,
    spansExpected: 4000,
    spansReceived: 4000,
    spansDropped: 0,
    consoleStored: 4000,
    consoleChecked: 4000,
    consoleEvicted: 0,
    ...spans,
  }
}

function lostTarget(cases: CaseResult[]) {
  const result = {
    settings: { modes: ['console'], durationS: 1, warmupS: 0, rounds: 1, threads: 2, connections: 10 },
    cases,
    coldStartMs: {},
    rssIdleMb: {},
    floor: [],
    targets: [],
  } as unknown as BenchResult
  return evaluate(result).find((t) => t.name.startsWith('console: spans lost'))
}

describe('the console mode’s lost spans', () => {
  test('none lost when the console accepted what the requests made and its books agree', () => {
    expect(lostTarget([consoleCase('gateway-get', {})])).toMatchObject({ value: 0, pass: true })
  })

  test('a drop counts even when wrk’s short count hides the shortfall', () => {
    // 40 requests in flight when wrk stopped made 160 spans it did not count; 100 were dropped.
    const c = consoleCase('gateway-get', { spansReceived: 4060, spansDropped: 100 })
    expect(lostTarget([c])).toMatchObject({ value: 100, pass: false })
  })

  test('a shortfall of accepted spans counts once, not again as the drop that caused it', () => {
    const c = consoleCase('gateway-cart-add', { spansReceived: 3900, spansDropped: 100 })
    expect(lostTarget([c])).toMatchObject({ value: 100, pass: false })
  })

  test('a shortfall with no drop (the console rejected spans) counts', () => {
    const c = consoleCase('gateway-get', { spansReceived: 3990 })
    expect(lostTarget([c])).toMatchObject({ value: 10, pass: false })
  })

  test('a shortfall wrk’s count hides shows against the requests the gateway logged', () => {
    // wrk counted 1000 requests, the gateway logged 1010 (10 in flight at the end): 4040 spans.
    const c = consoleCase('gateway-get', { spansReceived: 4030, requestsLogged: 1010 })
    expect(lostTarget([c])).toMatchObject({ value: 10, pass: false })
    const exact = consoleCase('gateway-get', { spansReceived: 4040, requestsLogged: 1010 })
    expect(lostTarget([exact])).toMatchObject({ value: 0, pass: true })
  })

  test('stored spans that did not grow by received − evicted count', () => {
    const c = consoleCase('gateway-get', { consoleStored: 3000, consoleChecked: 3010, consoleEvicted: 1000 })
    expect(lostTarget([c])).toMatchObject({ value: 10, pass: false })
  })
})
