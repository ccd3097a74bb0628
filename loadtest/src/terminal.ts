// Terminal output: one live status line while a run goes (rewritten in place on a TTY, printed
// every few seconds otherwise, so CI logs stay short) and Locust-style summary tables at the end.

import { formatDuration } from './duration.ts'
import type { Report } from './report.ts'
import type { RunStatus } from './runner.ts'
import type { LatencySummary, StatsSnapshot } from './stats.ts'

const fixed = (value: number, digits = 1) => value.toFixed(digits)

export function formatLiveLine(status: RunStatus, snapshot: StatsSnapshot): string {
  const { totals } = snapshot
  const load = status.model === 'open' ? `rate ${status.rate}/s` : `users ${status.users}`
  const errorRate = totals.requests === 0 ? 0 : (totals.failures / totals.requests) * 100
  return (
    `[${formatDuration(status.elapsed_s * 1000)}/${formatDuration(status.run_time_s * 1000)}] ${status.state} ` +
    `${load} in-flight ${status.in_flight} | ${totals.requests} req (${fixed(totals.current_rps)}/s) | ` +
    `${totals.failures} fail (${fixed(errorRate, 2)}%) | p50 ${fixed(totals.p50_ms)} p95 ${fixed(totals.p95_ms)} ` +
    `p99 ${fixed(totals.p99_ms)} ms`
  )
}

function table(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  const rule = '-'.repeat(widths.reduce((sum, w) => sum + w + 2, -2))
  return [line(header), rule, ...rows.map(line)].join('\n')
}

export function formatSummary(report: Report): string {
  const latency = (s: LatencySummary) =>
    [s.avg_ms, s.min_ms, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.max_ms].map((v) => fixed(v))
  const rows = report.endpoints.map((e) => [
    e.name,
    String(e.requests),
    String(e.failures),
    fixed(e.rps),
    ...latency(e),
  ])
  const t = report.totals
  rows.push(['Total', String(t.requests), String(t.failures), fixed(t.rps), ...latency(t)])
  const out = [
    `\nShopStack load test: ${report.model} model, ${formatDuration(report.duration_s * 1000)}, ended by ${report.reason}, seed ${report.seed}\n`,
    table(['Endpoint', 'reqs', 'fails', 'req/s', 'avg', 'min', 'p50', 'p90', 'p95', 'p99', 'max (ms)'], rows),
  ]
  out.push(`\nFailures: ${t.failures} of ${t.requests} (${fixed(t.error_rate * 100, 2)}%)`)
  if (report.failures.length > 0) {
    out.push(
      table(
        ['count', 'endpoint', 'cause', 'example trace id / request id'],
        report.failures.map((f) => [
          String(f.count),
          f.endpoint,
          f.cause,
          f.example.trace_id ?? f.example.request_id ?? '',
        ]),
        4,
      ),
    )
  }
  if (report.annotations.length > 0) {
    out.push(`\nFaults${report.scenario ? ` (scenario ${report.scenario.name})` : ''}:`)
    for (const a of report.annotations) {
      const when = a.error
        ? `${fixed(a.start_s)}s`
        : `${fixed(a.start_s)}s–${a.end_s === undefined ? 'end' : `${fixed(a.end_s)}s`}`
      const refused = a.error ? `, refused: ${a.error}` : ''
      out.push(`  #${a.id} ${when}  ${a.service}: ${a.label} (${a.source}${refused})`)
    }
  }
  for (const check of report.thresholds.checks) {
    out.push(`${check.passed ? 'PASS' : 'FAIL'} ${check.name} ${check.actual} (limit ${check.limit})`)
  }
  return `${out.join('\n')}\n`
}

export interface LiveReporterOptions {
  write?: (text: string) => void
  /** Rewrite one line in place (a terminal) or print a line now and then (a log). */
  tty?: boolean
  intervalMs?: number
}

/** Prints the live line until stopped; quiet while `source` has nothing (no run going). */
export function createLiveReporter(
  source: () => { status: RunStatus; snapshot: StatsSnapshot } | undefined,
  options: LiveReporterOptions = {},
) {
  const {
    write = (text: string) => process.stderr.write(text),
    tty = process.stderr.isTTY === true,
    intervalMs = tty ? 1000 : 5000,
  } = options
  const print = () => {
    const live = source()
    if (!live) return
    const { status, snapshot } = live
    const line = formatLiveLine(status, snapshot)
    write(tty ? `\r\x1b[K${line}` : `${line}\n`)
  }
  const timer = setInterval(print, intervalMs)
  return {
    stop(): void {
      clearInterval(timer)
      if (tty) write('\r\x1b[K')
    },
  }
}
