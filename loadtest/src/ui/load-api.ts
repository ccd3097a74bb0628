// The load generator's JSON API, apart from any server: one run at a time (start, stop, change
// users or rate, its status and report) and a proxy to each service's /admin/faults for the
// Faults panel, so a browser talks only to this side and the admin token never leaves it. A fault
// changed through the proxy while a run goes is marked on that run's charts, as a scenario's are.
// It returns Bun.serve route objects under a prefix, so the load UI (`bun run loadtest`, at /api)
// and the console (at /api/load and /api/faults) serve the same API from the same code.
// Refusals are RFC 9457 problem+json; bad fields answer 422 with `errors: [{ in, path, message }]`
// as the services do (lib/src/validation.ts).

import { defaultUrl } from '@shopstack/contracts/services'
import { HttpError, problem, problemResponse } from '@shopstack/lib/errors'
import { describeNumber, type FieldError, InvalidInputError } from '@shopstack/lib/validation'
import type { AnnotationLog, FaultAnnotation } from '../annotations.ts'
import { renderRunCharts } from '../charts.ts'
import { parseDuration } from '../duration.ts'
import { createScenarioPlayer, type Scenario, scenarioNeeds } from '../fault-scenario.ts'
import {
  createFaultClient,
  FaultApiError,
  type FaultClient,
  type FaultSettings,
  type FaultState,
  faultsOnTop,
  SERVICES,
  type ServiceName,
  summarizeBeyondBaseline,
  summarizeFaults,
} from '../faults.ts'
import { buildReport, describeRun, type Report, renderAnnotationsTable, renderHtmlReport } from '../report.ts'
import { createRunner, type Runner, type RunnerOptions, type Timeline } from '../runner.ts'
import type { SeriesPoint } from '../stats.ts'
import { evaluateThresholds, type Thresholds } from '../thresholds.ts'
import { createUpstreamWatch } from '../upstream-watch.ts'

export interface LoadApiOptions {
  /** Run options from the command line; a start request overrides users, spawn rate, rate and run time. */
  base?: RunnerOptions
  thresholds?: Thresholds
  /** Called with the report when a run ends (the CLI prints it and writes files). */
  onRunEnd?: (report: Report) => void | Promise<void>
  createRunner?: (options: RunnerOptions) => Runner
  /** The services' ADMIN_TOKEN, used by the faults proxy and the scenario. */
  adminToken?: string
  /** The admin API client (by default one for `base.hosts` with `adminToken`). */
  faults?: FaultClient
  /** A fault scenario to play during every run started here. */
  scenario?: Scenario
  /** Where the scenario says what it does. */
  scenarioLog?: (line: string) => void
  /** Where an unexpected error is reported (its answer is a plain 500). */
  logError?: (error: unknown) => void
}

/** What POST {prefix}/start takes; every field is optional. */
export interface StartRequest {
  users?: number
  spawn_rate?: number
  rate?: number
  /** "30s", "2m", or seconds. */
  run_time?: string | number
}

/** What POST {prefix}/config takes, during a run. */
export interface ConfigRequest {
  users?: number
  rate?: number
}

/** The time series as columns of plain numbers, index by index (uPlot's data layout). */
export interface SeriesColumns {
  /** Seconds since the run started. */
  t: number[]
  users: number[]
  in_flight: number[]
  rps: number[]
  failures_per_s: number[]
  p50_ms: number[]
  p95_ms: number[]
  p99_ms: number[]
}

type Handler = (request: Bun.BunRequest) => Response | Promise<Response>
/** A Bun.serve `routes` object: a path maps to a handler, or to one handler per method. */
export type LoadRoutes = Record<string, Handler | Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE', Handler>>>

export type LoadApi = ReturnType<typeof createLoadApi>
export type LoadStatus = ReturnType<LoadApi['status']>

const START_FIELDS = ['users', 'spawn_rate', 'rate', 'run_time']
const CONFIG_FIELDS = ['users', 'rate']

export function createLoadApi(options: LoadApiOptions = {}) {
  const {
    base = {},
    thresholds = {},
    onRunEnd,
    createRunner: makeRunner = createRunner,
    adminToken,
    scenario,
    scenarioLog,
    logError = (error: unknown) => console.error(error),
  } = options
  const faults =
    options.faults ??
    createFaultClient({
      hosts: {
        gateway: base.hosts?.gateway ?? defaultUrl('gateway'),
        catalog: base.hosts?.catalog ?? defaultUrl('catalog'),
        cart: base.hosts?.cart ?? defaultUrl('cart'),
      },
      ...(adminToken ? { token: adminToken } : {}),
    })
  // What the services themselves saw during the run: the upstreams' own errors and the retries.
  const upstreamWatch = createUpstreamWatch({ hosts: faults.hosts })
  let upstreamsReadAt = 0
  /** Read the services' metrics again, at most once a second (the page polls status every second). */
  function refreshUpstreams(): void {
    if (!runner || performance.now() - upstreamsReadAt < 1000) return
    upstreamsReadAt = performance.now()
    void upstreamWatch.summary().catch(logError)
  }
  /** The proxy's open annotation per service, for the current run. */
  let panelMarks = new Map<ServiceName, FaultAnnotation>()
  let runner: Runner | undefined
  let runOptions: RunnerOptions = base
  let finalReport: Report | undefined
  let ended: Promise<void> = Promise.resolve()

  function reportOf(active: Runner, result = active.partialResult()): Report {
    return buildReport(
      result,
      describeRun(runOptions, thresholds),
      evaluateThresholds(result.snapshot.totals, thresholds),
    )
  }

  /** Start a run; throws a 409 HttpError while one goes, a 422 InvalidInputError for bad fields. */
  function start(request: StartRequest = {}): Runner {
    if (runner && runner.state !== 'stopped') throw conflict('a run is already going; stop it first')
    const fields = checkFields(request, START_FIELDS, {
      users: wholeNumber,
      spawn_rate: aboveZero,
      rate: zeroOrMore,
      run_time: runTime,
    })
    const next: RunnerOptions = { ...base }
    if (fields.users !== undefined) next.users = fields.users
    if (fields.spawn_rate !== undefined) next.spawnRate = fields.spawn_rate
    if (fields.rate !== undefined) next.rate = fields.rate
    if (fields.run_time !== undefined) next.runTimeMs = fields.run_time
    const player = scenario
      ? createScenarioPlayer({ scenario, client: faults, ...(scenarioLog ? { log: scenarioLog } : {}) })
      : undefined
    next.timeline = restoringAtTheEnd(player)
    runOptions = next
    finalReport = undefined
    panelMarks = new Map()
    const active = makeRunner(next)
    runner = active
    active.start()
    ended = active.done.then(async (result) => {
      finalReport = reportOf(active, result)
      await onRunEnd?.(finalReport)
    })
    return active
  }

  /** Change the users or the rate of the run that goes. */
  function configure(request: ConfigRequest): void {
    const fields = checkFields(request, CONFIG_FIELDS, { users: wholeNumber, rate: aboveZero })
    if (!runner || runner.state === 'stopped') throw conflict('no run is going')
    if (fields.users !== undefined) runner.setUsers(fields.users)
    if (fields.rate !== undefined) runner.setRate(fields.rate)
  }

  /** Stop the run (if any) and wait for its report. */
  async function stop(): Promise<void> {
    if (runner && runner.state !== 'stopped') await runner.stop()
    await ended
  }

  function currentReport(): Report | undefined {
    if (finalReport) return finalReport
    return runner ? reportOf(runner) : undefined
  }

  function status() {
    const active = runner
    const result = active?.partialResult()
    const series = result?.series ?? []
    refreshUpstreams()
    return {
      status: active?.status() ?? { state: 'ready' as const },
      defaults: {
        host: base.hosts?.gateway,
        users: base.users ?? 10,
        spawn_rate: base.spawnRate ?? 10,
        rate: base.rate ?? 0,
        run_time_s: (base.runTimeMs ?? 60_000) / 1000,
      },
      totals: result?.snapshot.totals,
      endpoints: result?.snapshot.endpoints ?? [],
      /**
       * Behind the gateway, since the run began (from the services' own /metrics): each upstream's
       * requests and 5xx answers, and the retries its callers sent it or the budget refused. A
       * client's success may be a retry's: here the failures the retries hid are counted.
       */
      upstreams: runner ? upstreamWatch.last() : [],
      /** Grouped by cause; each example keeps the trace id the service answered (`traceresponse`). */
      failures: result?.snapshot.failures ?? [],
      /** For pages that draw their own charts. */
      series: seriesColumns(series),
      charts: renderRunCharts(series, result?.annotations ?? []),
      /** `needs`: the stack it is written for, when it needs more than the defaults (a hint, unchecked). */
      scenario: scenario && {
        name: scenario.name,
        description: scenario.description,
        watch: scenario.watch,
        needs: scenarioNeeds(scenario) ?? null,
      },
      annotations: result?.annotations ?? [],
      annotations_html: renderAnnotationsTable(result?.annotations ?? []),
      thresholds: result ? evaluateThresholds(result.snapshot.totals, thresholds) : undefined,
    }
  }

  /**
   * A change through the proxy during a run: the previous one ends, and what now differs from the
   * service's baseline (if anything) begins. Going back to the baseline is the end of a fault,
   * not a fault of its own, so the charts shade only real changes.
   */
  function markPanelChange(state: FaultState): void {
    const active = runner
    if (!active || active.state === 'stopped' || active.state === 'ready') return
    const service = state.service as ServiceName
    const previous = panelMarks.get(service)
    if (previous) active.annotations.end(previous)
    panelMarks.delete(service)
    const onTop = faultsOnTop(state)
    if (Object.keys(onTop.faults).length > 0 || onTop.off.length > 0) {
      panelMarks.set(
        service,
        active.annotations.begin({
          service,
          source: 'panel',
          faults: onTop.faults,
          label: summarizeBeyondBaseline(state),
        }),
      )
    }
  }

  /**
   * The run's timeline: the scenario's (if any), then, when the run ends, the panel's marks closed
   * and every service put back as it was when the run began; the run ends once they are.
   */
  function restoringAtTheEnd(inner: Timeline | undefined): Timeline {
    let before: Promise<Map<ServiceName, FaultSettings | undefined>> = Promise.resolve(new Map())
    let annotations: AnnotationLog | undefined
    return {
      name: inner?.name ?? '',
      description: inner?.description ?? '',
      start(run) {
        annotations = run.annotations
        before = snapshotFaults()
        void upstreamWatch.begin().catch(logError)
        inner?.start(run)
      },
      async stop() {
        await inner?.stop()
        await upstreamWatch.summary().catch(logError)
        for (const mark of panelMarks.values()) annotations?.end(mark)
        panelMarks.clear()
        await restoreFaults(await before)
      },
    }
  }

  /** Every service's faults now, to put back when the run ends (undefined: could not be read). */
  function snapshotFaults(): Promise<Map<ServiceName, FaultSettings | undefined>> {
    return Promise.all(
      SERVICES.map(async (service) => {
        try {
          return [service, (await faults.get(service)).faults] as const
        } catch {
          return [service, undefined] as const
        }
      }),
    ).then((entries) => new Map(entries))
  }

  /** A run ends with every service back to what it had when it began, whoever changed it since. */
  async function restoreFaults(before: Map<ServiceName, FaultSettings | undefined>): Promise<void> {
    await Promise.all(
      [...before].map(async ([service, settings]) => {
        if (!settings) return
        try {
          const now = (await faults.get(service)).faults
          if (JSON.stringify(now) !== JSON.stringify(settings)) await faults.set(service, settings)
        } catch (error) {
          logError(error)
        }
      }),
    )
  }

  /** Every service's faults, read in parallel; a service that fails is listed with its problem. */
  async function allFaults(change?: (service: ServiceName) => Promise<FaultState>) {
    const services = await Promise.all(
      SERVICES.map(async (service) => {
        const url = faults.hosts[service]
        try {
          const state = await (change ?? faults.get)(service)
          if (change) markPanelChange(state)
          return {
            service,
            url,
            state,
            summary: summarizeFaults(state.faults),
            baseline: summarizeFaults(state.baseline),
            beyond_baseline: summarizeBeyondBaseline(state),
          }
        } catch (error) {
          return { service, url, error: problemOf(error) }
        }
      }),
    )
    return { services }
  }

  async function faultRoute(service: string, work: (service: ServiceName) => Promise<FaultState>) {
    if (!SERVICES.includes(service as ServiceName)) {
      return problemResponse(
        problem(404, `There is no service "${service}": it must be one of ${SERVICES.join(', ')}`),
      )
    }
    try {
      const state = await work(service as ServiceName)
      markPanelChange(state)
      return Response.json(state)
    } catch (error) {
      const { status = 500, ...rest } = problemOf(error) as { status?: number }
      return Response.json(
        { ...rest, status },
        { status, headers: { 'content-type': 'application/problem+json' } },
      )
    }
  }

  /** The answer of `work`, or its error as problem+json. */
  async function handle(work: () => Response | Promise<Response>): Promise<Response> {
    try {
      return await work()
    } catch (error) {
      if (error instanceof HttpError)
        return problemResponse(problem(error.status, error.detail, error.extensions))
      logError(error)
      return problemResponse(problem(500, 'The load generator failed to answer; see its output'))
    }
  }

  return {
    /** The run's routes: {prefix}/status, start, stop, config, report.json, report.html. */
    routes(prefix = '/api'): LoadRoutes {
      return {
        [`${prefix}/status`]: { GET: () => Response.json(status()) },
        [`${prefix}/start`]: {
          POST: (request) =>
            handle(async () => {
              start(await bodyOf<StartRequest>(request))
              return Response.json(status())
            }),
        },
        [`${prefix}/stop`]: {
          POST: () =>
            handle(async () => {
              await stop()
              return Response.json(status())
            }),
        },
        [`${prefix}/config`]: {
          POST: (request) =>
            handle(async () => {
              configure(await bodyOf<ConfigRequest>(request))
              return Response.json(status())
            }),
        },
        [`${prefix}/report.json`]: { GET: () => download(currentReport(), 'json') },
        [`${prefix}/report.html`]: { GET: () => download(currentReport(), 'html') },
      }
    },

    /**
     * The faults proxy: {prefix}/faults (GET all, DELETE all), {prefix}/faults/reset (POST: all back
     * to their baseline), {prefix}/faults/:service (GET, PUT, DELETE) and …/:service/reset (POST).
     */
    faultRoutes(prefix = '/api'): LoadRoutes {
      return {
        [`${prefix}/faults`]: {
          GET: async () => Response.json(await allFaults()),
          DELETE: async () => Response.json(await allFaults(faults.clear)),
        },
        [`${prefix}/faults/reset`]: { POST: async () => Response.json(await allFaults(faults.reset)) },
        [`${prefix}/faults/:service`]: {
          GET: (request) => faultRoute(request.params.service ?? '', faults.get),
          PUT: (request) =>
            handle(async () => {
              // An empty body would turn everything off; that is DELETE's job, so PUT needs one.
              const body = await bodyOf<FaultSettings>(request, { required: true })
              return faultRoute(request.params.service ?? '', (service) => faults.set(service, body))
            }),
          DELETE: (request) => faultRoute(request.params.service ?? '', faults.clear),
        },
        [`${prefix}/faults/:service/reset`]: {
          POST: (request) => faultRoute(request.params.service ?? '', faults.reset),
        },
      }
    },

    get runner() {
      return runner
    },
    start,
    configure,
    stop,
    status,
    /** Stop any run and wait for its report (and `onRunEnd`). */
    close: stop,
  }
}

/** Each SeriesPoint field as its own list, index by index. */
export function seriesColumns(points: readonly SeriesPoint[]): SeriesColumns {
  const column = (key: keyof SeriesPoint) => points.map((p) => p[key])
  return {
    t: column('t'),
    users: column('users'),
    in_flight: column('in_flight'),
    rps: column('rps'),
    failures_per_s: column('failures_per_s'),
    p50_ms: column('p50_ms'),
    p95_ms: column('p95_ms'),
    p99_ms: column('p99_ms'),
  }
}

const conflict = (detail: string) => new HttpError(409, detail)

/** The service's problem+json as it sent it, or one for an error of ours. */
function problemOf(error: unknown): Record<string, unknown> {
  if (error instanceof FaultApiError)
    return { ...error.problem, status: error.status, service: error.service }
  return {
    title: 'Internal Server Error',
    status: 500,
    detail: error instanceof Error ? error.message : String(error),
  }
}

function download(report: Report | undefined, kind: 'json' | 'html'): Response {
  if (!report) return problemResponse(problem(404, 'There is no run yet: start one first'))
  const stamp = report.started_at.replace(/[:.]/g, '-')
  const name = `shopstack-loadtest-${stamp}.${kind}`
  const disposition = { 'content-disposition': `attachment; filename="${name}"` }
  if (kind === 'json') return Response.json(report, { headers: disposition })
  return new Response(renderHtmlReport(report), {
    headers: { 'content-type': 'text/html; charset=utf-8', ...disposition },
  })
}

/**
 * The JSON object in the body: 400 when it is not JSON, 422 when it is not an object. An empty
 * body is `{}` unless `required`.
 */
async function bodyOf<T>(request: Request, { required = false } = {}): Promise<T> {
  const text = await request.text()
  if (!text && required) throw new InvalidInputError([{ in: 'body', path: '', message: 'is required' }])
  if (!text) return {} as T
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new HttpError(400, 'The body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError([{ in: 'body', path: '', message: 'must be a JSON object' }])
  }
  return value as T
}

/** A field's value if it is good, or what it must be, in words. */
type Check<V> = (value: unknown) => { value: V } | { message: string }

/**
 * The fields of `body` through their checks; throws one InvalidInputError listing every bad or
 * unknown field. An absent field stays absent; so does an empty run time (the page sends "").
 */
function checkFields<C extends Record<string, Check<number>>>(
  body: object,
  allowed: readonly string[],
  checks: C,
): { [K in keyof C]?: number } {
  const errors: FieldError[] = []
  const out: Record<string, number> = {}
  for (const [name, raw] of Object.entries(body)) {
    const check = checks[name]
    if (!allowed.includes(name) || !check) {
      errors.push({
        in: 'body',
        path: name,
        message: `is not allowed (the fields are ${allowed.join(', ')})`,
      })
      continue
    }
    if (raw === undefined || raw === '') continue
    const result = check(raw)
    if ('message' in result) errors.push({ in: 'body', path: name, message: result.message })
    else out[name] = result.value
  }
  if (errors.length > 0) throw new InvalidInputError(errors)
  return out as { [K in keyof C]?: number }
}

const wholeNumber: Check<number> = (value) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0
    ? { value }
    : { message: `must be ${describeNumber({ minimum: 0, integer: true })}` }

const aboveZero: Check<number> = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
    ? { value }
    : { message: 'must be a number above 0' }

const zeroOrMore: Check<number> = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? { value }
    : { message: `must be ${describeNumber({ minimum: 0 })}` }

/** Milliseconds from "30s", "2m", "500ms" or a number of seconds. */
const runTime: Check<number> = (value) => {
  const message = 'must be a duration such as "30s", "2m" or "500ms", or a number of seconds, above 0'
  let ms: number
  if (typeof value === 'number') ms = value * 1000
  else if (typeof value === 'string') {
    try {
      ms = parseDuration(value)
    } catch {
      return { message }
    }
  } else return { message }
  return Number.isFinite(ms) && ms > 0 ? { value: ms } : { message }
}
