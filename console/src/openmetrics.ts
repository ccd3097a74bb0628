// A parser for the two metrics exposition formats: the Prometheus text format 0.0.4 and
// OpenMetrics 1.0 (https://prometheus.io/docs/instrumenting/exposition_formats/,
// https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md).
// Hand-written because no maintained npm parser reads exemplars, which link a bucket to a trace.
//
// It reads what the scraper needs: samples with their labels (escapes undone), values (`+Inf`,
// `-Inf`, `NaN`), optional timestamps, an exemplar after ` # `, TYPE lines, and `# EOF`. HELP and
// UNIT lines are skipped. The two formats name counters differently (OpenMetrics: `# TYPE x counter`
// with samples `x_total`; Prometheus: `# TYPE x_total counter`), so each sample carries the family
// its TYPE line names, and the sample name itself is the same in both.

export type ExpositionFormat = 'openmetrics' | 'prometheus'

export type MetricType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'gaugehistogram'
  | 'summary'
  | 'info'
  | 'stateset'
  | 'unknown'

export interface Exemplar {
  labels: Record<string, string>
  value: number
  timestamp_ms?: number
}

export interface Sample {
  /** The sample's own name: `http_requests_total`, `http_request_duration_seconds_bucket`. */
  name: string
  /** The family its TYPE line names (`http_requests` in OpenMetrics, `http_requests_total` in the
   * Prometheus format); the sample name when no TYPE line covers it. */
  family: string
  type: MetricType
  labels: Record<string, string>
  value: number
  timestamp_ms?: number
  exemplar?: Exemplar
}

/** A line that is not the exposition format; `line` is 1-based. */
export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`)
    this.name = 'ExpositionError'
  }
}

/** The format a scrape answered in, from its Content-Type. */
export function formatOf(contentType: string | null): ExpositionFormat {
  return contentType?.toLowerCase().includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus'
}

const TYPES = new Set<string>([
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
  'unknown',
])
/** Suffixes a sample adds to its family's name, per the OpenMetrics specification. */
const SUFFIXES = ['_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info']
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/

/**
 * Parse an exposition. `format` decides the unit of timestamps (OpenMetrics: seconds, Prometheus:
 * milliseconds; both come out as `timestamp_ms`); by default it is OpenMetrics when the text ends
 * with `# EOF`. Throws ExpositionError on the first malformed line.
 */
export function parseExposition(text: string, format: ExpositionFormat = sniff(text)): Sample[] {
  const types = new Map<string, MetricType>()
  const samples: Sample[] = []
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index] as string
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line === '') continue
    if (line.startsWith('#')) {
      if (line === '# EOF') break
      const [, keyword, name, type] = line.split(/\s+/, 4)
      if (keyword === 'TYPE' && name) {
        if (!type || !TYPES.has(type)) {
          // The Prometheus format's `untyped` is OpenMetrics' `unknown`.
          if (type !== 'untyped') throw new ExpositionError(index + 1, `unknown metric type "${type ?? ''}"`)
        }
        types.set(name, type && TYPES.has(type) ? (type as MetricType) : 'unknown')
      }
      continue
    }
    samples.push(parseSample(line, index + 1, format, types))
  }
  return samples
}

function sniff(text: string): ExpositionFormat {
  return /(^|\n)# EOF\r?\n?$/.test(text) ? 'openmetrics' : 'prometheus'
}

function parseSample(
  line: string,
  lineNumber: number,
  format: ExpositionFormat,
  types: Map<string, MetricType>,
): Sample {
  const fail = (reason: string): never => {
    throw new ExpositionError(lineNumber, reason)
  }
  const name = METRIC_NAME.exec(line)?.[0] ?? fail('a sample must start with a metric name')
  let at = name.length
  let labels: Record<string, string> = {}
  if (line[at] === '{') {
    const read = readLabels(line, at, fail)
    labels = read.labels
    at = read.end
  }
  const exemplarAt = line.indexOf('#', at)
  const head = (exemplarAt === -1 ? line.slice(at) : line.slice(at, exemplarAt)).trim()
  if (!/^\s/.test(line.slice(at))) fail('a space must separate the metric from its value')
  const [valueText, timestampText, extra] = head.split(/\s+/)
  if (!valueText) fail('the sample has no value')
  if (extra !== undefined) fail(`unexpected "${extra}" after the timestamp`)
  const sample: Sample = {
    name,
    ...familyOf(name, types),
    labels,
    value: parseValue(valueText as string, fail),
  }
  if (timestampText !== undefined) {
    const timestamp = parseValue(timestampText, fail)
    sample.timestamp_ms = format === 'openmetrics' ? timestamp * 1000 : timestamp
  }
  if (exemplarAt !== -1) sample.exemplar = parseExemplar(line, exemplarAt + 1, fail)
  return sample
}

function parseExemplar(line: string, start: number, fail: (reason: string) => never): Exemplar {
  let at = start
  while (line[at] === ' ') at++
  if (line[at] !== '{') fail('an exemplar must start with its labels')
  const { labels, end } = readLabels(line, at, fail)
  const [valueText, timestampText, extra] = line.slice(end).trim().split(/\s+/)
  if (!valueText) fail('the exemplar has no value')
  if (extra !== undefined) fail(`unexpected "${extra}" after the exemplar`)
  const exemplar: Exemplar = { labels, value: parseValue(valueText as string, fail) }
  // Exemplar timestamps are OpenMetrics-only, so always seconds.
  if (timestampText !== undefined) exemplar.timestamp_ms = parseValue(timestampText, fail) * 1000
  return exemplar
}

/** Read `{name="value",...}` from `start` (the `{`); `end` is the index after the `}`. */
function readLabels(
  line: string,
  start: number,
  fail: (reason: string) => never,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {}
  let at = start + 1
  for (;;) {
    while (line[at] === ' ') at++
    if (line[at] === '}') return { labels, end: at + 1 }
    const name = LABEL_NAME.exec(line.slice(at))?.[0] ?? fail(`a label name was expected at column ${at + 1}`)
    at += name.length
    while (line[at] === ' ') at++
    if (line[at] !== '=' || line[at + 1] !== '"') fail(`label ${name} must be followed by ="`)
    at += 2
    let value = ''
    for (;;) {
      const char = line[at]
      if (char === undefined) fail(`the value of label ${name} is not closed`)
      if (char === '"') break
      if (char === '\\') {
        const next = line[at + 1]
        // The three escapes both formats define; any other backslash is kept as written.
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else value += `\\${next ?? ''}`
        at += 2
      } else {
        value += char
        at++
      }
    }
    labels[name] = value
    at++
    while (line[at] === ' ') at++
    if (line[at] === ',') at++
    else if (line[at] !== '}') fail(`"," or "}" was expected after label ${name}`)
  }
}

function parseValue(text: string, fail: (reason: string) => never): number {
  // Case-insensitive, as Prometheus' own parser (Go's ParseFloat) reads them: prom-client writes
  // a NaN gauge as `Nan`.
  const word = text.toLowerCase()
  if (word === '+inf' || word === 'inf') return Number.POSITIVE_INFINITY
  if (word === '-inf') return Number.NEGATIVE_INFINITY
  if (word === 'nan') return Number.NaN
  const value = Number(text)
  if (text === '' || Number.isNaN(value)) fail(`"${text}" is not a number`)
  return value
}

function familyOf(name: string, types: Map<string, MetricType>): { family: string; type: MetricType } {
  const own = types.get(name)
  if (own) return { family: name, type: own }
  for (const suffix of SUFFIXES) {
    if (!name.endsWith(suffix)) continue
    const family = name.slice(0, -suffix.length)
    const type = types.get(family)
    if (type) return { family, type }
  }
  return { family: name, type: 'unknown' }
}
