// Run reports: a JSON document for machines (CI, diffing two runs) and a self-contained HTML page
// for people, with the same tables and charts as the web UI and no external resources.

import type { FaultAnnotation } from './annotations.ts'
import { escapeHtml, renderRunCharts, SERVICE_COLORS } from './charts.ts'
import { formatDuration } from './duration.ts'
import type { RunnerOptions, RunResult } from './runner.ts'
import type { EndpointSnapshot, FailureGroup, SeriesPoint, TotalsSnapshot } from './stats.ts'
import type { ThresholdResult, Thresholds } from './thresholds.ts'

export const REPORT_VERSION = 1

export interface Report {
  tool: '@shopstack/loadtest'
  report_version: number
  model: 'closed' | 'open'
  reason: RunResult['reason']
  seed: number
  started_at: string
  ended_at: string
  duration_s: number
  options: Record<string, unknown>
  totals: TotalsSnapshot
  endpoints: EndpointSnapshot[]
  failures: FailureGroup[]
  series: SeriesPoint[]
  /** The fault scenario played during the run, if any. */
  scenario?: { name: string; description: string }
  /** When faults were on: from the scenario or set in the web UI's Faults panel. */
  annotations: FaultAnnotation[]
  thresholds: ThresholdResult
}

export function buildReport(
  result: RunResult,
  options: Record<string, unknown>,
  thresholds: ThresholdResult,
): Report {
  const { snapshot } = result
  return {
    tool: '@shopstack/loadtest',
    report_version: REPORT_VERSION,
    model: result.model,
    reason: result.reason,
    seed: result.seed,
    started_at: result.started_at,
    ended_at: result.ended_at,
    duration_s: snapshot.elapsed_s,
    options,
    totals: snapshot.totals,
    endpoints: snapshot.endpoints,
    failures: snapshot.failures,
    series: result.series,
    ...(result.scenario ? { scenario: result.scenario } : {}),
    annotations: result.annotations,
    thresholds,
  }
}

/** The options of a run as a report shows them (no functions, snake_case like the rest). */
export function describeRun(options: RunnerOptions, thresholds: Thresholds): Record<string, unknown> {
  return {
    host: options.hosts?.gateway,
    catalog_host: options.hosts?.catalog,
    cart_host: options.hosts?.cart,
    ...((options.rate ?? 0) > 0
      ? { rate: options.rate, max_in_flight: options.maxInFlight }
      : { users: options.users, spawn_rate: options.spawnRate }),
    run_time_s: options.runTimeMs === undefined ? undefined : options.runTimeMs / 1000,
    max_requests: options.maxRequests,
    think_time_ms: options.thinkTime && { min: options.thinkTime.minMs, max: options.thinkTime.maxMs },
    metrics_users: options.metricsUsers,
    metrics_wait_ms: options.metricsIntervalMs,
    weights: options.weights,
    stop_timeout_ms: options.stopTimeoutMs,
    thresholds: { max_error_rate: thresholds.maxErrorRate, max_p99_ms: thresholds.maxP99Ms },
  }
}

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1))

/** The statistics table; the web UI builds the same one in the page. */
export function renderStatsTable(endpoints: readonly EndpointSnapshot[], totals: TotalsSnapshot): string {
  const row = (name: string, s: EndpointSnapshot | TotalsSnapshot, cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(name)}</td><td>${s.requests}</td><td>${s.failures}</td>` +
    `<td>${s.rps.toFixed(1)}</td><td>${ms(s.avg_ms)}</td><td>${ms(s.min_ms)}</td><td>${ms(s.p50_ms)}</td>` +
    `<td>${ms(s.p90_ms)}</td><td>${ms(s.p95_ms)}</td><td>${ms(s.p99_ms)}</td><td>${ms(s.max_ms)}</td></tr>`
  return (
    '<table><thead><tr><th>Endpoint</th><th># requests</th><th># failures</th><th>req/s</th><th>avg ms</th>' +
    '<th>min</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead><tbody>' +
    endpoints.map((e) => row(e.name, e)).join('') +
    row('Total', totals, 'total') +
    '</tbody></table>'
  )
}

export function renderFailuresTable(failures: readonly FailureGroup[]): string {
  if (failures.length === 0) return '<p class="none">No failures.</p>'
  return (
    '<table><thead><tr><th>Count</th><th>Endpoint</th><th>Cause</th><th>Example trace id</th>' +
    '<th>Example request id</th></tr></thead><tbody>' +
    failures
      .map(
        (f) =>
          `<tr><td>${f.count}</td><td>${escapeHtml(f.endpoint)}</td><td>${escapeHtml(f.cause)}</td>` +
          `<td><code>${escapeHtml(f.example.trace_id ?? '')}</code></td>` +
          `<td><code>${escapeHtml(f.example.request_id ?? '')}</code></td></tr>`,
      )
      .join('') +
    '</tbody></table>'
  )
}

/** The faults of a run, numbered as on the charts. */
export function renderAnnotationsTable(annotations: readonly FaultAnnotation[]): string {
  if (annotations.length === 0) return '<p class="none">No faults were changed during the run.</p>'
  const seconds = (s: number | undefined) => (s === undefined ? 'still on' : `${s.toFixed(1)} s`)
  return (
    '<table class="annotations"><thead><tr><th>#</th><th>Service</th><th>Faults</th><th>From</th><th>To</th>' +
    '<th>Set by</th><th>Note</th></tr></thead><tbody>' +
    annotations
      .map(
        (a) =>
          `<tr data-service="${escapeHtml(a.service)}"><td>${a.id}</td>` +
          `<td><span class="swatch" style="background:${SERVICE_COLORS[a.service] ?? '#555'}"></span>${escapeHtml(a.service)}</td>` +
          `<td>${escapeHtml(a.label)}</td><td>${seconds(a.start_s)}</td>` +
          `<td>${a.error ? 'refused' : seconds(a.end_s)}</td><td>${a.source}</td>` +
          `<td>${escapeHtml(a.error ?? a.note ?? '')}</td></tr>`,
      )
      .join('') +
    '</tbody></table>'
  )
}

export const PAGE_STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1b2a3a;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
main{padding:16px 20px}
table{border-collapse:collapse;background:#fff;margin:8px 0 20px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}
tr.total td{font-weight:600;background:#f0f0f0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.chart{background:#fff;border:1px solid #ddd;width:100%;height:auto}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
code{font-size:12px}
table.annotations td:nth-child(n+3){text-align:left}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
`

export function renderHtmlReport(report: Report): string {
  const charts = renderRunCharts(report.series, report.annotations)
  const statsTable = renderStatsTable(report.endpoints, report.totals)
  const gates =
    report.thresholds.checks.length === 0
      ? '<p class="none">No thresholds set.</p>'
      : `<ul>${report.thresholds.checks
          .map(
            (c) =>
              `<li class="${c.passed ? 'pass' : 'fail'}">${c.passed ? 'PASS' : 'FAIL'} ${c.name}: ${c.actual} (limit ${c.limit})</li>`,
          )
          .join('')}</ul>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ShopStack load test report</title>
<style>${PAGE_STYLE}</style></head>
<body><header><h1>ShopStack load test</h1>
<span>${escapeHtml(report.started_at)} · ${formatDuration(report.duration_s * 1000)} · ${report.model} model · ended by ${report.reason}</span>
<span>${report.totals.requests} requests · ${report.totals.failures} failures · ${report.totals.rps.toFixed(1)} req/s</span></header>
<main>
${report.scenario ? `<p><b>Scenario ${escapeHtml(report.scenario.name)}</b>: ${escapeHtml(report.scenario.description)}</p>` : ''}
<h2>Statistics</h2>${statsTable}
<h2>Charts</h2><div class="charts">${charts.rps}${charts.latency}${charts.users}</div>
<h2>Faults</h2>${renderAnnotationsTable(report.annotations)}
<h2>Failures</h2>${renderFailuresTable(report.failures)}
<h2>Thresholds</h2>${gates}
<h2>Options</h2><pre>${escapeHtml(JSON.stringify({ seed: report.seed, ...report.options }, null, 2))}</pre>
</main></body></html>
`
}
