// Hand-written SVG line charts: the same function draws the live charts in the web UI and the
// charts of the HTML report, so both show the same picture and nothing is fetched from a CDN.

import type { FaultAnnotation } from './annotations.ts'
import { formatDuration } from './duration.ts'
import type { SeriesPoint } from './stats.ts'

export interface ChartSeries {
  name: string
  color: string
  values: readonly number[]
}

/** A shaded interval on the time axis: when a fault was on. */
export interface ChartMark {
  label: string
  startS: number
  /** Open marks run to the end of the chart. */
  endS?: number
  color: string
  title?: string
}

export interface LineChartOptions {
  title: string
  unit: string
  /** Seconds since the start, one per value. */
  times: readonly number[]
  series: readonly ChartSeries[]
  width?: number
  height?: number
  /** Longer series are reduced to this many points (keeping each bucket's maximum). */
  maxPoints?: number
  marks?: readonly ChartMark[]
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** 0, 1, 2, 5 × 10^n: a round top for the y axis. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude
  return 10 * magnitude
}

function label(value: number): string {
  if (value >= 1000) return `${Math.round(value / 100) / 10}k`
  return String(Math.round(value * 100) / 100)
}

function downsample(values: readonly number[], size: number): number[] {
  if (values.length <= size) return [...values]
  const step = values.length / size
  const out: number[] = []
  for (let i = 0; i < size; i++) {
    let max = 0
    for (let j = Math.floor(i * step); j < Math.floor((i + 1) * step); j++)
      max = Math.max(max, values[j] ?? 0)
    out.push(max)
  }
  return out
}

export function renderLineChart(options: LineChartOptions): string {
  const { title, unit, times, series, width = 560, height = 220, maxPoints = 300, marks = [] } = options
  const pad = { left: 48, right: 12, top: 28, bottom: 26 }
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const reduced = series.map((s) => ({ ...s, values: downsample(s.values, maxPoints) }))
  const count = reduced[0]?.values.length ?? 0
  const top = niceCeiling(Math.max(0, ...reduced.flatMap((s) => s.values)))
  const x = (i: number) => pad.left + (count <= 1 ? plotW : (i / (count - 1)) * plotW)
  const y = (v: number) => pad.top + plotH - (v / top) * plotH
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}" class="chart">`,
    `<text x="${pad.left}" y="16" font-size="13" font-weight="600" fill="#222">${escapeHtml(unit ? `${title} (${unit})` : title)}</text>`,
  ]
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4
    const gy = y(value).toFixed(1)
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${gy}" y2="${gy}" stroke="#e3e3e3"/>`,
      `<text x="${pad.left - 6}" y="${gy}" dy="4" font-size="10" text-anchor="end" fill="#666">${label(value)}</text>`,
    )
  }
  const first = times[0] ?? 0
  const last = times[times.length - 1] ?? 0
  // Points are a tick apart, so position on the time axis is linear between the first and last.
  const xOfTime = (s: number) =>
    pad.left +
    (last > first ? ((Math.min(Math.max(s, first), last) - first) / (last - first)) * plotW : plotW)
  for (const mark of marks) {
    if (count < 2 || mark.startS > last) continue
    const x1 = xOfTime(mark.startS)
    const x2 = Math.max(xOfTime(mark.endS ?? last), x1 + 1.5)
    parts.push(
      `<g class="mark"><title>${escapeHtml(mark.title ?? mark.label)}</title>`,
      `<rect x="${x1.toFixed(1)}" y="${pad.top}" width="${(x2 - x1).toFixed(1)}" height="${plotH}" fill="${mark.color}" fill-opacity="0.12"/>`,
      `<line x1="${x1.toFixed(1)}" x2="${x1.toFixed(1)}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="${mark.color}" stroke-dasharray="3 2"/>`,
      `<text x="${(x1 + 2).toFixed(1)}" y="${pad.top + 10}" font-size="10" fill="${mark.color}">${escapeHtml(mark.label)}</text></g>`,
    )
  }
  for (const [at, anchor, seconds] of [
    [pad.left, 'start', first],
    [pad.left + plotW / 2, 'middle', (first + last) / 2],
    [width - pad.right, 'end', last],
  ] as const) {
    parts.push(
      `<text x="${at}" y="${height - 8}" font-size="10" text-anchor="${anchor}" fill="#666">${formatDuration(seconds * 1000)}</text>`,
    )
  }
  let legendX = width - pad.right
  for (const s of [...reduced].reverse()) {
    legendX -= 8 + s.name.length * 6.5
    parts.push(
      `<rect x="${legendX}" y="8" width="8" height="8" fill="${s.color}"/>`,
      `<text x="${legendX + 11}" y="16" font-size="11" fill="#333">${escapeHtml(s.name)}</text>`,
    )
    legendX -= 8
  }
  for (const s of reduced) {
    if (s.values.length === 0) continue
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" stroke-linejoin="round" points="${points}"/>`,
    )
  }
  parts.push('</svg>')
  return parts.join('')
}

export interface RunCharts {
  rps: string
  latency: string
  users: string
}

/** One colour per service, the same in the charts and the lists. */
export const SERVICE_COLORS: Record<string, string> = {
  gateway: '#1565c0',
  catalog: '#ef6c00',
  cart: '#6a1b9a',
}

/** Fault annotations as chart marks ("#2"), leaving out changes the service refused. */
export function marksOf(annotations: readonly FaultAnnotation[]): ChartMark[] {
  return annotations
    .filter((a) => !a.error)
    .map((a) => ({
      label: `#${a.id}`,
      startS: a.start_s,
      ...(a.end_s === undefined ? {} : { endS: a.end_s }),
      color: SERVICE_COLORS[a.service] ?? '#555',
      title: `#${a.id} ${a.service}: ${a.label}`,
    }))
}

/** The three charts of a run: throughput and failures, latency percentiles, users; faults shaded. */
export function renderRunCharts(
  series: readonly SeriesPoint[],
  annotations: readonly FaultAnnotation[] = [],
): RunCharts {
  const times = series.map((p) => p.t)
  const marks = marksOf(annotations)
  return {
    rps: renderLineChart({
      title: 'Requests per second',
      unit: 'req/s',
      times,
      marks,
      series: [
        { name: 'requests/s', color: '#2e7d32', values: series.map((p) => p.rps) },
        { name: 'failures/s', color: '#c62828', values: series.map((p) => p.failures_per_s) },
      ],
    }),
    latency: renderLineChart({
      title: 'Response time percentiles',
      unit: 'ms',
      times,
      marks,
      series: [
        { name: 'p50', color: '#1565c0', values: series.map((p) => p.p50_ms) },
        { name: 'p95', color: '#ef6c00', values: series.map((p) => p.p95_ms) },
        { name: 'p99', color: '#6a1b9a', values: series.map((p) => p.p99_ms) },
      ],
    }),
    users: renderLineChart({
      title: 'Users and requests in flight',
      unit: '',
      times,
      marks,
      series: [
        { name: 'users', color: '#00838f', values: series.map((p) => p.users) },
        { name: 'in flight', color: '#8d6e63', values: series.map((p) => p.in_flight) },
      ],
    }),
  }
}
