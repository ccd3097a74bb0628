import { describe, expect, test } from 'bun:test'
import { renderLineChart } from './charts.ts'
import { buildReport, describeRun, renderHtmlReport } from './report.ts'
import type { RunResult } from './runner.ts'
import { createStats } from './stats.ts'
import { formatSummary } from './terminal.ts'
import { evaluateThresholds } from './thresholds.ts'

function result(): RunResult {
  let clock = 0
  const stats = createStats({ now: () => clock })
  const view = stats.endpoint('gateway', 'GET', '/catalog/:id')
  const poll = stats.endpoint('catalog', 'GET', '/livez')
  for (let i = 0; i < 100; i++) stats.success(view, 10 + (i % 10))
  stats.success(poll, 1)
  stats.failure(
    view,
    50,
    '503 Service Unavailable',
    { url: 'http://x/catalog/1', at_s: 0.5, trace_id: 'abc' },
    503,
  )
  clock = 1000
  stats.tick(5, 0)
  clock = 2000
  stats.end()
  stats.tick(5, 0)
  return {
    reason: 'duration',
    model: 'closed',
    seed: 7,
    started_at: '2026-01-01T00:00:00.000Z',
    ended_at: '2026-01-01T00:00:02.000Z',
    snapshot: stats.snapshot(),
    series: stats.series,
    annotations: [
      {
        id: 1,
        service: 'catalog',
        source: 'scenario',
        label: 'latency 500–500 ms',
        faults: { latency: { min_ms: 500, max_ms: 500 } },
        note: 'slow <catalog>',
        start_s: 0.5,
        end_s: 1.5,
      },
      {
        id: 2,
        service: 'cart',
        source: 'panel',
        label: 'error 100% 500',
        faults: { error: { rate: 1 } },
        start_s: 1.8,
        end_s: 1.8,
        error: 'cart: 401 The admin API needs a token',
      },
    ],
    scenario: { name: 'slow', description: 'a slow catalog' },
  }
}

describe('reports', () => {
  const run = result()
  const thresholds = { maxErrorRate: 0.02 }
  const report = buildReport(
    run,
    describeRun({ users: 5, thinkTime: { minMs: 0, maxMs: 10 } }, thresholds),
    evaluateThresholds(run.snapshot.totals, thresholds),
  )

  test('the JSON report has per-endpoint stats by route template, totals, series and failures', () => {
    expect(report.endpoints.map((e) => e.name)).toEqual(['GET /catalog/:id', 'GET /livez (catalog)'])
    expect(report.endpoints[0]).toMatchObject({ requests: 101, failures: 1, rps: 50.5 })
    expect(report.totals).toMatchObject({ requests: 102, failures: 1 })
    expect(report.series).toHaveLength(2)
    expect(report.failures[0]).toMatchObject({ cause: '503 Service Unavailable', count: 1 })
    expect(report.options).toMatchObject({ users: 5, think_time_ms: { min: 0, max: 10 } })
    expect(report.thresholds.passed).toBe(true)
    expect(report.scenario).toEqual({ name: 'slow', description: 'a slow catalog' })
    expect(report.annotations.map((a) => [a.id, a.service, a.start_s, a.end_s])).toEqual([
      [1, 'catalog', 0.5, 1.5],
      [2, 'cart', 1.8, 1.8],
    ])
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
  })

  test('the HTML report is self-contained, with tables and SVG charts', () => {
    const html = renderHtmlReport(report)
    expect(html).toContain('GET /catalog/:id')
    expect(html).toContain('503 Service Unavailable')
    expect(html.match(/<svg/g)).toHaveLength(3)
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/)
  })

  test('faults are shaded on every chart and listed, a refused change listed but not shaded', () => {
    const html = renderHtmlReport(report)
    // One band per chart for the fault that was on; none for the refused one.
    expect(html.match(/<g class="mark">/g)).toHaveLength(3)
    expect(html).toContain('<title>#1 catalog: latency 500–500 ms</title>')
    expect(html).not.toContain('<title>#2')
    expect(html).toContain('<b>Scenario slow</b>: a slow catalog')
    expect(html).toContain('slow &#60;catalog&#62;')
    expect(html).toMatch(/<td>2<\/td>.*cart.*refused/)
    const text = formatSummary(report)
    expect(text).toContain('Faults (scenario slow):')
    expect(text).toContain('#1 0.5s–1.5s  catalog: latency 500–500 ms (scenario)')
    expect(text).toContain(
      '#2 1.8s  cart: error 100% 500 (panel, refused: cart: 401 The admin API needs a token)',
    )
  })

  test('the terminal summary lists every endpoint, the total and the failures', () => {
    const text = formatSummary(report)
    expect(text).toMatch(/GET \/catalog\/:id\s+101\s+1\s/)
    expect(text).toMatch(/Total\s+102\s+1\s/)
    expect(text).toContain('abc')
    expect(text).toContain('PASS error_rate')
  })

  test('chart labels are escaped', () => {
    const svg = renderLineChart({
      title: '<b>',
      unit: 'ms',
      times: [0, 1],
      series: [{ name: 'a&b', color: '#000', values: [1, 2] }],
    })
    expect(svg).not.toContain('<b>')
    expect(svg).toContain('a&#38;b')
  })
})
