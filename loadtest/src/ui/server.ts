// The web UI, as Locust's on port 8089: the generator serves one page and a small JSON API with
// Bun.serve. The page polls /api/status once a second (simpler than SSE, and a lost poll costs
// nothing); charts arrive as SVG drawn by the same code as the HTML report's.
// It also proxies each service's /admin/faults for the Faults panel, so the browser talks only to
// this server and the admin token never leaves it; a fault changed from the panel while a run goes
// is marked on that run's charts, as a scenario's are.

import type { FaultAnnotation } from '../annotations.ts'
import { renderRunCharts } from '../charts.ts'
import { parseDuration } from '../duration.ts'
import { createScenarioPlayer, type Scenario } from '../fault-scenario.ts'
import {
  createFaultClient,
  FaultApiError,
  type FaultClient,
  type FaultSettings,
  type FaultState,
  SERVICES,
  type ServiceName,
  summarizeFaults,
} from '../faults.ts'
import { buildReport, describeRun, type Report, renderAnnotationsTable, renderHtmlReport } from '../report.ts'
import { createRunner, type Runner, type RunnerOptions } from '../runner.ts'
import { evaluateThresholds, type Thresholds } from '../thresholds.ts'
import { renderPage } from './page.ts'

export interface UiServerOptions {
  /** 8089 by default; 0 picks a free port. */
  port?: number
  hostname?: string
  /** Run options from the command line; a start from the page overrides users, rate and run time. */
  base?: RunnerOptions
  thresholds?: Thresholds
  /** Start a run at once instead of waiting for the page. */
  autostart?: boolean
  /** Called with the report when a run ends (the CLI prints it and writes files). */
  onRunEnd?: (report: Report) => void | Promise<void>
  createRunner?: (options: RunnerOptions) => Runner
  /** The services' ADMIN_TOKEN, used by the Faults panel's proxy and the scenario. */
  adminToken?: string
  /** The admin API client (by default one for `base.hosts` with `adminToken`). */
  faults?: FaultClient
  /** A fault scenario to play during every run started here. */
  scenario?: Scenario
  /** Where the scenario says what it does. */
  scenarioLog?: (line: string) => void
}

interface StartRequest {
  users?: number
  spawn_rate?: number
  rate?: number
  run_time?: string | number
}

export type UiServer = ReturnType<typeof createUiServer>

/** A request that does not fit the run's state (start while running, change with no run). */
class ConflictError extends Error {
  override name = 'ConflictError'
}

export function createUiServer(options: UiServerOptions = {}) {
  const {
    port = 8089,
    hostname = '127.0.0.1',
    base = {},
    thresholds = {},
    autostart = false,
    onRunEnd,
    createRunner: makeRunner = createRunner,
    adminToken,
    scenario,
    scenarioLog,
  } = options
  const faults =
    options.faults ??
    createFaultClient({
      hosts: {
        gateway: base.hosts?.gateway ?? 'http://localhost:8000',
        catalog: base.hosts?.catalog ?? 'http://localhost:8001',
        cart: base.hosts?.cart ?? 'http://localhost:8002',
      },
      ...(adminToken ? { token: adminToken } : {}),
    })
  /** The panel's open annotation per service, for the current run. */
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

  function start(request: StartRequest): Runner {
    if (runner && runner.state !== 'stopped') throw new ConflictError('a run is already going; stop it first')
    const next: RunnerOptions = { ...base }
    if (request.users !== undefined) next.users = wholeNumber(request.users, 'users')
    if (request.spawn_rate !== undefined) next.spawnRate = positive(request.spawn_rate, 'spawn_rate')
    if (request.rate !== undefined) next.rate = nonNegative(request.rate, 'rate')
    if (request.run_time !== undefined && request.run_time !== '') {
      next.runTimeMs =
        typeof request.run_time === 'number' ? request.run_time * 1000 : parseDuration(request.run_time)
      if (!(next.runTimeMs > 0)) throw new TypeError('run_time must be above 0')
    }
    if (scenario) {
      next.timeline = createScenarioPlayer({
        scenario,
        client: faults,
        ...(scenarioLog ? { log: scenarioLog } : {}),
      })
    }
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

  function currentReport(): Report | undefined {
    if (finalReport) return finalReport
    return runner ? reportOf(runner) : undefined
  }

  function status() {
    const active = runner
    const result = active?.partialResult()
    return {
      status: active?.status() ?? { state: 'ready' },
      defaults: {
        host: base.hosts?.gateway,
        users: base.users ?? 10,
        spawn_rate: base.spawnRate ?? 10,
        rate: base.rate ?? 0,
        run_time_s: (base.runTimeMs ?? 60_000) / 1000,
      },
      totals: result?.snapshot.totals,
      endpoints: result?.snapshot.endpoints ?? [],
      failures: result?.snapshot.failures ?? [],
      charts: renderRunCharts(result?.series ?? [], result?.annotations ?? []),
      scenario: scenario && { name: scenario.name, description: scenario.description, watch: scenario.watch },
      annotations: result?.annotations ?? [],
      annotations_html: renderAnnotationsTable(result?.annotations ?? []),
      thresholds: result ? evaluateThresholds(result.snapshot.totals, thresholds) : undefined,
    }
  }

  /** A change from the panel during a run: the previous one ends, the new set (if any) begins. */
  function markPanelChange(state: FaultState): void {
    const active = runner
    if (!active || active.state === 'stopped' || active.state === 'ready') return
    const service = state.service as ServiceName
    const previous = panelMarks.get(service)
    if (previous) active.annotations.end(previous)
    panelMarks.delete(service)
    if (Object.keys(state.faults).length > 0) {
      panelMarks.set(service, active.annotations.begin({ service, source: 'panel', faults: state.faults }))
    }
  }

  /** Every service's faults, read in parallel; a service that fails is listed with its problem. */
  async function allFaults(change?: (service: ServiceName) => Promise<FaultState>) {
    const services = await Promise.all(
      SERVICES.map(async (service) => {
        const url = faults.hosts[service]
        try {
          const state = await (change ?? faults.get)(service)
          if (change) markPanelChange(state)
          return { service, url, state, summary: summarizeFaults(state.faults) }
        } catch (error) {
          return { service, url, error: problemOf(error) }
        }
      }),
    )
    return { services }
  }

  async function faultRoute(service: string, work: (service: ServiceName) => Promise<FaultState>) {
    if (!SERVICES.includes(service as ServiceName)) {
      return problem(404, 'Not Found', `no service "${service}" (one of ${SERVICES.join(', ')})`)
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

  const server = Bun.serve({
    port,
    hostname,
    routes: {
      '/': () => new Response(renderPage(), { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      '/api/status': () => Response.json(status()),
      '/api/start': {
        POST: (request) =>
          handle(async () => {
            start(await bodyOf<StartRequest>(request))
            return Response.json(status())
          }),
      },
      '/api/stop': {
        POST: () =>
          handle(async () => {
            if (runner) {
              await runner.stop()
              await ended
            }
            return Response.json(status())
          }),
      },
      '/api/config': {
        POST: (request) =>
          handle(async () => {
            const change = await bodyOf<{ users?: number; rate?: number }>(request)
            if (!runner || runner.state === 'stopped') throw new ConflictError('no run is going')
            if (change.users !== undefined) runner.setUsers(wholeNumber(change.users, 'users'))
            if (change.rate !== undefined) runner.setRate(positive(change.rate, 'rate'))
            return Response.json(status())
          }),
      },
      '/api/faults': {
        GET: async () => Response.json(await allFaults()),
        DELETE: async () => Response.json(await allFaults(faults.clear)),
      },
      '/api/faults/:service': {
        GET: (request) => faultRoute(request.params.service, faults.get),
        PUT: async (request) => {
          let body: FaultSettings
          try {
            // An empty body would turn everything off; that is DELETE's job, so PUT needs one.
            body = await bodyOf<FaultSettings>(request, 'the body must be the fault settings (JSON)')
          } catch (error) {
            return problem(400, 'Bad Request', error instanceof Error ? error.message : String(error))
          }
          return faultRoute(request.params.service, (service) => faults.set(service, body))
        },
        DELETE: (request) => faultRoute(request.params.service, faults.clear),
      },
      '/api/report.json': () => download(currentReport(), 'json'),
      '/api/report.html': () => download(currentReport(), 'html'),
    },
    fetch: () => Response.json({ title: 'Not Found', status: 404 }, { status: 404 }),
  })

  if (autostart) start({})

  return {
    server,
    url: `http://${hostname}:${server.port}`,
    get runner() {
      return runner
    },
    start,
    /** Stop any run (waiting for its report) and close the server. */
    async close(): Promise<void> {
      if (runner && runner.state !== 'stopped') await runner.stop()
      await ended
      await server.stop(true)
    },
  }
}

function problem(status: number, title: string, detail: string): Response {
  return Response.json(
    { title, status, detail },
    { status, headers: { 'content-type': 'application/problem+json' } },
  )
}

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
  if (!report) return Response.json({ title: 'No run yet', status: 404 }, { status: 404 })
  const stamp = report.started_at.replace(/[:.]/g, '-')
  const name = `shopstack-loadtest-${stamp}.${kind}`
  const disposition = { 'content-disposition': `attachment; filename="${name}"` }
  if (kind === 'json') return Response.json(report, { headers: disposition })
  return new Response(renderHtmlReport(report), {
    headers: { 'content-type': 'text/html; charset=utf-8', ...disposition },
  })
}

async function handle(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work()
  } catch (error) {
    const status = error instanceof ConflictError ? 409 : 400
    const detail = error instanceof Error ? error.message : String(error)
    return Response.json({ title: status === 409 ? 'Conflict' : 'Bad Request', status, detail }, { status })
  }
}

/** The JSON object in the body; an empty body is `{}` unless `required` says what is missing. */
async function bodyOf<T>(request: Request, required?: string): Promise<T> {
  const text = await request.text()
  if (!text && required) throw new TypeError(required)
  if (!text) return {} as T
  const value: unknown = JSON.parse(text)
  if (typeof value !== 'object' || value === null) throw new TypeError('the body must be a JSON object')
  return value as T
}

function wholeNumber(value: unknown, name: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`${name} must be a whole number`)
  return n
}

function positive(value: unknown, name: string): number {
  const n = Number(value)
  if (!(n > 0) || !Number.isFinite(n)) throw new TypeError(`${name} must be above 0`)
  return n
}

function nonNegative(value: unknown, name: string): number {
  const n = Number(value)
  if (!(n >= 0) || !Number.isFinite(n)) throw new TypeError(`${name} must be 0 or more`)
  return n
}
