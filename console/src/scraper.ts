// The console's metrics scraper: every interval it fetches each target's /metrics (OpenMetrics, so
// exemplars come along), turns the cumulative counters into increases between two scrapes, and keeps
// those increases in memory as bounded series, one per service and route (requests, 5xx, duration
// buckets) and per service and upstream (retries). `red()` sums them over routes and steps into
// rates, error ratios and quantiles, as Prometheus' rate() and histogram_quantile() would.
//
// Memory is bounded by construction: at most `maxSeries` series, each a ring of `retention` rows of
// (4 + buckets) numbers (defaults: 200 series × 720 rows × 18 × 8 bytes ≈ 21 MB at worst, a few MB
// for the shop's ~40 series); per target, the previous scrape's counter values (one number per
// sample of the three metrics read, and a scrape is at most `maxBodyBytes`) and at most
// `maxExemplars` exemplars. Series past the cap are refused, not evicted, and counted.
//
// Counter resets (a restarted process starts from zero) are handled as Prometheus does: a value
// below the previous one is taken as the whole increase. A changed `process_start_time_seconds`
// marks every counter of the target as reset, which also catches a restarted process that has
// already counted past its old values. A series first seen on a target scraped before counts from
// zero (prom-client creates a series on its first increment), where Prometheus would drop it.

import { type ExpositionFormat, formatOf, parseExposition, type Sample } from './openmetrics.ts'
import { readLimited, TooLargeError } from './read-limited.ts'

export interface ScrapeTarget {
  /** The service name series are labelled with; unique among the targets. */
  service: string
  /** Base URL; `${url}/metrics` is scraped. */
  url: string
}

export type ScrapeFetch = (url: string, init: RequestInit) => Promise<Response>

export interface ScraperOptions {
  targets?: readonly ScrapeTarget[]
  intervalMs?: number
  /** Give up on a scrape after this long; the interval or 10 s, whichever is shorter. */
  timeoutMs?: number
  /** Rows kept per series: one an interval, one hour's worth by default. */
  retention?: number
  /** Series kept, RED (service × route) and retries (service × upstream) together. */
  maxSeries?: number
  /** Exemplars kept per target, the oldest dropped first. */
  maxExemplars?: number
  /** A larger /metrics answer fails the scrape. */
  maxBodyBytes?: number
  fetch?: ScrapeFetch
  /** Wall clock, in milliseconds since the epoch. */
  now?: () => number
}

export interface TargetStatus {
  service: string
  url: string
  up: boolean
  /** When the last scrape started; null before the first. */
  last_scrape_ms: number | null
  error?: string
}

export interface RedQuery {
  service?: string
  route?: string
  window_s?: number
  /** Width of a point in seconds; 0 (the default) is one point per scrape. */
  step_s?: number
}

export interface RedPoint {
  t_ms: number
  /** Requests per second. */
  rate: number
  /** Share of 5xx answers; null when there was no request. */
  error_ratio: number | null
  /** Null when there was no request (or no duration histogram). */
  p50_ms: number | null
  p99_ms: number | null
}

export interface RedSeries {
  service: string
  /** The `endpoint` label; null for a series summed over all the service's routes. */
  route: string | null
  points: RedPoint[]
}

export interface RetrySeries {
  service: string
  upstream: string
  points: { t_ms: number; rate: number }[]
}

export interface ExemplarRow {
  t_ms: number
  service: string
  route: string
  value_ms: number
  trace_id: string
}

export interface RedAnswer {
  step_s: number
  series: RedSeries[]
  retries: RetrySeries[]
  exemplars: ExemplarRow[]
}

export const ACCEPT = 'application/openmetrics-text; version=1.0.0, text/plain; version=0.0.4; q=0.5'
/** Exemplars in one answer, newest first. */
export const EXEMPLARS_PER_ANSWER = 200

const REQUESTS = 'http_requests_total'
const DURATION_BUCKET = 'http_request_duration_seconds_bucket'
const RETRIES = 'upstream_retries_total'
const START_TIME = 'process_start_time_seconds'

/** Row layout: time, the time since the previous scrape, then the increases summed. */
const T = 0
const DT = 1
const VALUES = 2

/**
 * Fixed-width rows of numbers in one Float64Array, oldest first; it grows by doubling up to
 * `capacity` rows, then each new row overwrites the oldest.
 */
export class RowRing {
  private data: Float64Array
  private start = 0
  length = 0

  constructor(
    readonly width: number,
    readonly capacity: number,
  ) {
    this.data = new Float64Array(width * Math.min(capacity, 16))
  }

  push(row: ArrayLike<number>): void {
    const rows = this.data.length / this.width
    if (this.length === rows && rows < this.capacity) {
      const grown = new Float64Array(this.width * Math.min(rows * 2, this.capacity))
      for (let i = 0; i < this.length; i++) grown.set(this.row(i), i * this.width)
      this.data = grown
      this.start = 0
    }
    const size = this.data.length / this.width
    const slot = (this.start + this.length) % size
    this.data.set(row, slot * this.width)
    if (this.length < size) this.length++
    else this.start = (this.start + 1) % size
  }

  /** Row `i`, 0 the oldest (a view: copy it to keep it). */
  row(i: number): Float64Array {
    const size = this.data.length / this.width
    const slot = (this.start + i) % size
    return this.data.subarray(slot * this.width, (slot + 1) * this.width)
  }

  /** Numbers held, allocated or not yet used. */
  get allocated(): number {
    return this.data.length
  }
}

/**
 * The `q` quantile of a histogram, as Prometheus' histogram_quantile: `les` are the ascending upper
 * bounds (the last +Inf) and `counts` their cumulative counts; linear interpolation within the
 * bucket the rank falls in, from 0 for the first; a rank in the +Inf bucket answers the highest
 * finite bound. NaN when empty or without a +Inf bucket.
 */
export function histogramQuantile(q: number, les: readonly number[], counts: ArrayLike<number>): number {
  const n = les.length
  if (n < 2 || les[n - 1] !== Number.POSITIVE_INFINITY) return Number.NaN
  // Increases of separately reset bucket series can break monotonicity; Prometheus evens it out so.
  const cumulative: number[] = []
  for (let i = 0; i < n; i++)
    cumulative.push(Math.max(counts[i] ?? 0, i > 0 ? (cumulative[i - 1] as number) : 0))
  const total = cumulative[n - 1] as number
  if (!(total > 0)) return Number.NaN
  let rank = q * total
  let b = 0
  while (b < n - 1 && (cumulative[b] as number) < rank) b++
  if (b === n - 1) return les[n - 2] as number
  const end = les[b] as number
  if (b === 0 && end <= 0) return end
  let start = 0
  let count = cumulative[b] as number
  if (b > 0) {
    start = les[b - 1] as number
    count -= cumulative[b - 1] as number
    rank -= cumulative[b - 1] as number
  }
  return start + (end - start) * (rank / count)
}

interface RedState {
  /** Upper bounds of the duration buckets, ascending, as first seen for this route. */
  les: number[]
  /** Rows: t, dt, requests, 5xx, then one cumulative bucket increase per bound. */
  rows: RowRing
}

interface TargetState {
  target: ScrapeTarget
  up: boolean
  lastScrapeMs: number | null
  lastOkMs: number | null
  error?: string
  /** Counter values of the previous successful scrape, by series; null before the first. */
  previous: Map<string, number> | null
  startTime?: number
  red: Map<string, RedState>
  retries: Map<string, RowRing>
  /** By trace id, in the order first seen. */
  exemplars: Map<string, ExemplarRow>
  /** Series this target had that the cap refused, at its latest scrape. */
  refused: number
  inFlight: Promise<void> | null
}

interface RouteIncrease {
  requests: number
  errors: number
  buckets: Map<number, number>
}

export type Scraper = ReturnType<typeof createScraper>

export function createScraper(options: ScraperOptions = {}) {
  const {
    targets = [],
    intervalMs = 5000,
    timeoutMs = Math.min(intervalMs, 10_000),
    retention = Math.ceil(3_600_000 / intervalMs),
    maxSeries = 200,
    maxExemplars = 500,
    maxBodyBytes = 4 * 1024 * 1024,
    fetch = globalThis.fetch,
    now = Date.now,
  } = options
  const names = new Set(targets.map((target) => target.service))
  if (names.size !== targets.length) throw new Error('createScraper: every target needs its own service name')
  if (!(retention >= 1)) throw new RangeError('createScraper: retention must be at least one row')

  const states: TargetState[] = targets.map((target) => ({
    target,
    up: false,
    lastScrapeMs: null,
    lastOkMs: null,
    previous: null,
    red: new Map(),
    retries: new Map(),
    exemplars: new Map(),
    refused: 0,
    inFlight: null,
  }))
  let seriesCount = 0
  let timer: ReturnType<typeof setInterval> | undefined

  /** Scrape one target unless its previous scrape is still running (then wait for that one). */
  function scrape(state: TargetState): Promise<void> {
    if (!state.inFlight) {
      state.inFlight = scrapeTarget(state).finally(() => {
        state.inFlight = null
      })
    }
    return state.inFlight
  }

  async function scrapeTarget(state: TargetState): Promise<void> {
    const startedMs = now()
    state.lastScrapeMs = startedMs
    try {
      const { text, format } = await fetchMetrics(state.target.url)
      ingest(state, parseExposition(text, format), startedMs)
      state.up = true
      state.error = undefined
    } catch (error) {
      state.up = false
      state.error = describe(error)
    }
  }

  async function fetchMetrics(url: string): Promise<{ text: string; format: ExpositionFormat }> {
    const response = await fetch(`${url.replace(/\/+$/, '')}/metrics`, {
      headers: { accept: ACCEPT },
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (!response.ok) {
      await response.body?.cancel().catch(() => {})
      throw new Error(`HTTP ${response.status} ${response.statusText}`.trim())
    }
    let text: string
    try {
      text = new TextDecoder().decode(await readLimited(response, maxBodyBytes))
    } catch (error) {
      if (error instanceof TooLargeError) throw new Error(`the metrics answer is ${error.message}`)
      throw error
    }
    return { text, format: formatOf(response.headers.get('content-type')) }
  }

  function describe(error: unknown): string {
    if (error instanceof Error) {
      if (error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`
      const code = (error as { code?: unknown }).code
      return typeof code === 'string' && !error.message.includes(code)
        ? `${code}: ${error.message}`
        : error.message
    }
    return String(error)
  }

  /** Counter increases since the previous scrape, added to the series. */
  function ingest(state: TargetState, samples: Sample[], t: number): void {
    const startTime = samples.find((sample) => sample.name === START_TIME)?.value
    const restarted =
      state.startTime !== undefined && startTime !== undefined && startTime !== state.startTime
    state.startTime = startTime
    const previous = restarted ? new Map<string, number>() : state.previous
    const current = new Map<string, number>()
    const routes = new Map<string, RouteIncrease>()
    const upstreams = new Map<string, number>()
    const routeOf = (route: string): RouteIncrease => {
      let found = routes.get(route)
      if (!found) {
        found = { requests: 0, errors: 0, buckets: new Map() }
        routes.set(route, found)
      }
      return found
    }
    /** The increase since the previous scrape; a drop is a reset, so all of it is new. */
    const increase = (sample: Sample): number => {
      const key = seriesKey(sample)
      current.set(key, sample.value)
      if (!previous) return 0
      const before = previous.get(key)
      return before === undefined || sample.value < before ? sample.value : sample.value - before
    }

    for (const sample of samples) {
      if (!Number.isFinite(sample.value)) continue
      const { labels } = sample
      if (sample.name === REQUESTS) {
        const route = routeOf(labels.endpoint ?? '')
        const delta = increase(sample)
        route.requests += delta
        if (labels.status?.startsWith('5')) route.errors += delta
      } else if (sample.name === DURATION_BUCKET) {
        const route = labels.endpoint ?? ''
        const le = Number(labels.le === '+Inf' ? Number.POSITIVE_INFINITY : labels.le)
        if (Number.isNaN(le)) continue
        const buckets = routeOf(route).buckets
        buckets.set(le, (buckets.get(le) ?? 0) + increase(sample))
        const traceId = sample.exemplar?.labels.trace_id
        if (sample.exemplar && traceId) {
          keepExemplar(state, {
            t_ms: sample.exemplar.timestamp_ms ?? t,
            service: state.target.service,
            route,
            value_ms: sample.exemplar.value * 1000,
            trace_id: traceId,
          })
        }
      } else if (sample.name === RETRIES) {
        const upstream = labels.upstream ?? ''
        upstreams.set(upstream, (upstreams.get(upstream) ?? 0) + increase(sample))
      }
    }

    state.previous = current
    const lastOkMs = state.lastOkMs
    state.lastOkMs = t
    // The first scrape only sets the baseline: increases need two.
    if (!previous || lastOkMs === null) return
    const dt = t - lastOkMs
    state.refused = 0

    // Every route known so far gets a row, zero when it saw no request, so a gap means down.
    for (const route of new Set([...state.red.keys(), ...routes.keys()])) {
      const seen = routes.get(route)
      let series = state.red.get(route)
      if (!series) {
        if (!seen || seriesCount >= maxSeries) {
          state.refused++
          continue
        }
        const les = [...seen.buckets.keys()].sort((a, b) => a - b)
        series = { les, rows: new RowRing(VALUES + 2 + les.length, retention) }
        state.red.set(route, series)
        seriesCount++
      }
      const row = [t, dt, seen?.requests ?? 0, seen?.errors ?? 0]
      for (const le of series.les) row.push(seen?.buckets.get(le) ?? 0)
      series.rows.push(row)
    }
    for (const upstream of new Set([...state.retries.keys(), ...upstreams.keys()])) {
      let rows = state.retries.get(upstream)
      if (!rows) {
        if (seriesCount >= maxSeries) {
          state.refused++
          continue
        }
        rows = new RowRing(VALUES + 1, retention)
        state.retries.set(upstream, rows)
        seriesCount++
      }
      rows.push([t, dt, upstreams.get(upstream) ?? 0])
    }
  }

  function keepExemplar(state: TargetState, exemplar: ExemplarRow): void {
    // prom-client repeats a bucket's exemplar on every scrape until a newer one replaces it.
    if (state.exemplars.has(exemplar.trace_id)) return
    state.exemplars.set(exemplar.trace_id, exemplar)
    if (state.exemplars.size > maxExemplars) {
      const oldest = state.exemplars.keys().next().value
      if (oldest !== undefined) state.exemplars.delete(oldest)
    }
  }

  function red(query: RedQuery = {}): RedAnswer {
    const { service, route, window_s = 900, step_s = 0 } = query
    if (!(window_s > 0) || !Number.isFinite(window_s)) {
      throw new RangeError('window_s must be a positive number of seconds')
    }
    if (!(step_s >= 0) || !Number.isFinite(step_s)) {
      throw new RangeError('step_s must be zero (one point per scrape) or a positive number of seconds')
    }
    const since = now() - window_s * 1000
    const stepMs = step_s * 1000
    const chosen = states.filter((state) => service === undefined || state.target.service === service)
    const perRoute = service !== undefined || route !== undefined

    const series: RedSeries[] = []
    for (const state of chosen) {
      const name = state.target.service
      const routes = [...state.red.keys()].filter((r) => route === undefined || r === route).sort()
      if (perRoute) {
        for (const r of routes) {
          const one = state.red.get(r) as RedState
          series.push({ service: name, route: r, points: redPoints([one], since, stepMs) })
        }
      } else if (routes.length) {
        const all = routes.map((r) => state.red.get(r) as RedState)
        series.push({ service: name, route: null, points: redPoints(all, since, stepMs) })
      }
    }

    const retries: RetrySeries[] = []
    for (const state of chosen) {
      for (const upstream of [...state.retries.keys()].sort()) {
        const rows = state.retries.get(upstream) as RowRing
        const points = sumBySteps([rows], since, stepMs, 1).map((step) => ({
          t_ms: step.t_ms,
          rate: perSecond(step.values[0] as number, step.dt_ms),
        }))
        retries.push({ service: state.target.service, upstream, points })
      }
    }

    const exemplars = chosen
      .flatMap((state) => [...state.exemplars.values()])
      .filter((exemplar) => exemplar.t_ms > since && (route === undefined || exemplar.route === route))
      .sort((a, b) => b.t_ms - a.t_ms)
      .slice(0, EXEMPLARS_PER_ANSWER)

    return { step_s: step_s || intervalMs / 1000, series, retries, exemplars }
  }

  return {
    /** Scrape every target once (tests; `start` does it every interval). */
    scrapeOnce: (): Promise<void> => Promise.all(states.map(scrape)).then(() => {}),
    /** Scrape now and every interval; a target still being scraped is skipped, not scraped twice. */
    start(): void {
      if (timer) return
      const tick = () => {
        for (const state of states) if (!state.inFlight) void scrape(state)
      }
      tick()
      timer = setInterval(tick, intervalMs)
    },
    /** Stop the interval; resolves when scrapes under way have finished. */
    async stop(): Promise<void> {
      clearInterval(timer)
      timer = undefined
      await Promise.all(states.map((state) => state.inFlight))
    },
    status: (): TargetStatus[] =>
      states.map((state) => ({
        service: state.target.service,
        url: state.target.url,
        up: state.up,
        last_scrape_ms: state.lastScrapeMs,
        ...(state.error === undefined ? {} : { error: state.error }),
      })),
    red,
    /** What is held, to check the bounds. */
    memory() {
      let rows = 0
      let numbers = 0
      for (const state of states) {
        for (const series of [...[...state.red.values()].map((s) => s.rows), ...state.retries.values()]) {
          rows += series.length
          numbers += series.allocated
        }
      }
      return {
        series: seriesCount,
        rows,
        numbers,
        exemplars: states.reduce((sum, state) => sum + state.exemplars.size, 0),
        refused_series: states.reduce((sum, state) => sum + state.refused, 0),
      }
    },
  }
}

/** A RED point per step from the summed rows of `members` (the routes of one service). */
function redPoints(members: RedState[], since: number, stepMs: number): RedPoint[] {
  const les = (members[0] as RedState).les
  // Routes whose buckets differ from the first's add to rate and errors but not to quantiles.
  const sameBuckets = (state: RedState) =>
    state.les.length === les.length && state.les.every((le, i) => le === les[i])
  const steps = sumBySteps(
    members.map((m) => m.rows),
    since,
    stepMs,
    2 + les.length,
    members.map((m) => (sameBuckets(m) ? 2 + les.length : 2)),
  )
  return steps.map(({ t_ms, dt_ms, values }) => {
    const requests = values[0] as number
    const buckets = values.subarray(2)
    const quantile = (q: number) => {
      const seconds = requests > 0 ? histogramQuantile(q, les, buckets) : Number.NaN
      return Number.isNaN(seconds) ? null : seconds * 1000
    }
    return {
      t_ms,
      rate: perSecond(requests, dt_ms),
      error_ratio: requests > 0 ? (values[1] as number) / requests : null,
      p50_ms: quantile(0.5),
      p99_ms: quantile(0.99),
    }
  })
}

interface Step {
  t_ms: number
  dt_ms: number
  values: Float64Array
}

/**
 * Sum rows newer than `since` into steps: first the rows of one scrape across rings (they share its
 * time and dt), then scrapes into steps of `stepMs` ending on multiples of it (0: one per scrape).
 * `columns[i]` is how many values ring i adds (default `width`).
 */
function sumBySteps(
  rings: RowRing[],
  since: number,
  stepMs: number,
  width: number,
  columns: number[] = [],
): Step[] {
  const scrapes = new Map<number, Step>()
  rings.forEach((ring, r) => {
    const adds = Math.min(columns[r] ?? width, ring.width - VALUES)
    for (let i = 0; i < ring.length; i++) {
      const row = ring.row(i)
      const t = row[T] as number
      if (t <= since) continue
      let scrape = scrapes.get(t)
      if (!scrape) {
        scrape = { t_ms: t, dt_ms: row[DT] as number, values: new Float64Array(width) }
        scrapes.set(t, scrape)
      }
      for (let c = 0; c < adds; c++) (scrape.values[c] as number) += row[VALUES + c] as number
    }
  })
  const ordered = [...scrapes.values()].sort((a, b) => a.t_ms - b.t_ms)
  if (stepMs <= 0) return ordered
  const steps: Step[] = []
  for (const scrape of ordered) {
    const end = Math.ceil(scrape.t_ms / stepMs) * stepMs
    let step = steps.at(-1)
    if (!step || step.t_ms !== end) {
      step = { t_ms: end, dt_ms: 0, values: new Float64Array(width) }
      steps.push(step)
    }
    step.dt_ms += scrape.dt_ms
    for (let c = 0; c < width; c++) (step.values[c] as number) += scrape.values[c] as number
  }
  return steps
}

function perSecond(count: number, dtMs: number): number {
  return dtMs > 0 ? count / (dtMs / 1000) : 0
}

/** A series' identity: its name and labels in a fixed order. */
function seriesKey(sample: Sample): string {
  const labels = Object.keys(sample.labels)
    .sort()
    .map((name) => `${name}=${sample.labels[name]}`)
  return `${sample.name}\u0000${labels.join('\u0000')}`
}
