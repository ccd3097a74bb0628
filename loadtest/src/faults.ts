// The services' run-time faults as the load generator sees them: the form each kind takes in a
// panel (a title, where it applies, a hint per field; the rules themselves are read from the
// shared FaultSettings schema in @shopstack/contracts), a validator that checks a set against that
// schema and answers in the services' field-error shape (lib/src/validation.ts: `{ in, path,
// message }`, the rule in words, never a pattern), a one-line summary for charts and lists, and a
// client for each service's /admin/faults (GET reads, PUT replaces the whole set, DELETE turns
// everything off), which keeps the admin token on this side. Browser-safe: TypeBox and lib's
// validation words, no Elysia.

import { beyondBaseline, FaultSettings, type FaultState } from '@shopstack/contracts/faults'
import { SERVICE_NAMES, type ServiceName } from '@shopstack/contracts/services'
import {
  type FieldError,
  type FieldLocation,
  fromTypeBoxErrors,
  type SchemaLike,
  type TypeBoxError,
} from '@shopstack/lib/validation'
import { Errors } from '@sinclair/typebox/errors'

export { beyondBaseline, FaultSettings, type FaultState, type ServiceName }

export const SERVICES = SERVICE_NAMES

/** What `upstream_unreachable` may name: the gateway's upstreams. */
const UPSTREAMS: readonly ServiceName[] = ['catalog', 'cart']

export type FieldSpec =
  | { type: 'number'; minimum: number; maximum: number; integer: boolean; optional?: boolean; hint: string }
  | { type: 'boolean'; hint: string }
  | {
      type: 'string'
      pattern: string
      /** The pattern in words, as the services say it ("must be a route template: …"). */
      rule: string
      optional?: boolean
      hint: string
      choices?: readonly string[]
    }

export interface KindSpec {
  title: string
  /** The services where the kind means something (all three when absent). */
  services?: readonly ServiceName[]
  fields: Readonly<Record<string, FieldSpec>>
}

type Kind = keyof FaultSettings

/** A field of a kind as the panel shows it: its type and bounds from the shared schema, our hint. */
function field(kind: Kind, name: string, hint: string, choices?: readonly string[]): FieldSpec {
  const settings = FaultSettings.properties[kind] as unknown as {
    properties: Record<string, SchemaLike>
    required?: string[]
  }
  const schema = settings.properties[name]
  if (!schema) throw new Error(`FaultSettings has no ${kind}.${name}`)
  const optional = !(settings.required ?? []).includes(name)
  const maybe = optional ? { optional } : {}
  if (schema.type === 'boolean') return { type: 'boolean', hint }
  if (schema.type === 'string') {
    return {
      type: 'string',
      pattern: schema.pattern ?? '',
      rule: String(schema.error ?? ''),
      hint,
      ...maybe,
      ...(choices ? { choices } : {}),
    }
  }
  return {
    type: 'number',
    minimum: schema.minimum ?? 0,
    maximum: schema.maximum ?? Number.MAX_SAFE_INTEGER,
    integer: schema.multipleOf === 1,
    hint,
    ...maybe,
  }
}

/** Every fault kind and its settings, in the order the panel shows them. */
export const FAULT_KINDS: Readonly<Record<Kind, KindSpec>> = {
  database: {
    title: 'Database',
    services: ['catalog', 'cart'],
    fields: {
      latency_min_ms: field('database', 'latency_min_ms', 'simulated store latency, lower bound'),
      latency_max_ms: field('database', 'latency_max_ms', 'upper bound'),
      failure_rate: field('database', 'failure_rate', 'probability, 0 to 1'),
    },
  },
  latency: {
    title: 'Added latency',
    fields: {
      min_ms: field('latency', 'min_ms', 'lower bound'),
      max_ms: field('latency', 'max_ms', 'upper bound'),
      route: field('latency', 'route', 'only this route template, e.g. /catalog/:id'),
    },
  },
  error: {
    title: 'Errors',
    fields: {
      rate: field('error', 'rate', 'probability, 0 to 1'),
      status: field('error', 'status', '5xx, 500 by default'),
      route: field('error', 'route', 'only this route template, e.g. /catalog/:id'),
    },
  },
  hang: {
    title: 'Hang',
    fields: {
      rate: field('hang', 'rate', 'probability, 0 to 1'),
      ms: field('hang', 'ms', 'held this long, then 504 (30000 by default)'),
      route: field('hang', 'route', 'only this route template, e.g. /catalog/:id'),
    },
  },
  cpu_burn: {
    title: 'CPU burn',
    fields: {
      ms: field('cpu_burn', 'ms', 'CPU time per matching request'),
      route: field('cpu_burn', 'route', 'only this route template, e.g. /catalog/:id'),
    },
  },
  memory_leak: {
    title: 'Memory leak',
    fields: {
      mb_per_minute: field('memory_leak', 'mb_per_minute', 'pace of the leak'),
      max_mb: field('memory_leak', 'max_mb', 'it stops growing here'),
    },
  },
  readiness: { title: 'Readiness', fields: { fail: field('readiness', 'fail', '/healthz answers 503') } },
  upstream_unreachable: {
    title: 'Upstream unreachable',
    services: ['gateway'],
    fields: {
      upstream: field('upstream_unreachable', 'upstream', 'the upstream treated as down', UPSTREAMS),
    },
  },
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * What is wrong with `value` as the faults of `service`, in the services' field-error shape, each
 * at its path under `at` (`steps[0].faults.latency.min_ms`; `latency.min_ms` when `at` is '');
 * empty when it is valid. The schema's refusals are the services' own words (fromTypeBoxErrors);
 * beyond them, what a service checks outside its schema, caught before a run rather than during
 * it, and where a kind applies.
 */
export function faultProblems(
  value: unknown,
  service: ServiceName | undefined,
  at = '',
  location: FieldLocation = 'body',
): FieldError[] {
  if (!isObject(value)) return [{ in: location, path: at, message: 'must be an object of fault settings' }]
  const kinds = FAULT_KINDS as Record<string, KindSpec>
  // TypeBox's ValueErrors are what Elysia lists too; lib reads them through its own shape.
  const found = [...Errors(FaultSettings, value)] as unknown as TypeBoxError[]
  const errors = found.length ? fromTypeBoxErrors(location, found) : []
  const beyond: FieldError[] = []
  const refuse = (path: string, message: string) => beyond.push({ in: location, path, message })
  const gateway = value.upstream_unreachable
  const upstream = isObject(gateway) ? gateway.upstream : undefined
  if (typeof upstream === 'string' && !UPSTREAMS.includes(upstream as ServiceName)) {
    refuse('upstream_unreachable.upstream', `must be one of ${UPSTREAMS.join(', ')}`)
  }
  // Grouped by kind in the order the set names them, where the kind applies first.
  const problems: FieldError[] = []
  for (const kind of Object.keys(value)) {
    const spec = kinds[kind]
    if (service && spec?.services && !spec.services.includes(service)) {
      problems.push({
        in: location,
        path: kind,
        message: `applies to ${spec.services.join(' and ')} only, not ${service}`,
      })
    }
    const mine = (e: FieldError) => e.path === kind || e.path.startsWith(`${kind}.`)
    const own = beyond.filter(mine)
    const taken = new Set(own.map((e) => e.path))
    for (const e of errors.filter(mine)) if (!taken.has(e.path)) problems.push(wordsFor(e, kind))
    problems.push(...own)
  }
  const ranges = [
    ['database', 'latency_min_ms', 'latency_max_ms'],
    ['latency', 'min_ms', 'max_ms'],
  ] as const
  for (const [kind, low, high] of ranges) {
    const settings = value[kind]
    if (isObject(settings) && Number(settings[low]) > Number(settings[high])) {
      problems.push({ in: location, path: `${kind}.${low}`, message: `must not exceed ${kind}.${high}` })
    }
  }
  return problems.map((problem) => ({ ...problem, path: under(at, problem.path) }))
}

/** "is not allowed" says which names are: the kinds, or the settings of a kind. */
function wordsFor(error: FieldError, kind: string): FieldError {
  if (error.message !== 'is not allowed') return error
  const spec = (FAULT_KINDS as Record<string, KindSpec>)[kind]
  const allowed = spec
    ? `the settings of ${kind} are ${Object.keys(spec.fields).join(', ')}`
    : `the faults are ${Object.keys(FAULT_KINDS).join(', ')}`
  return { ...error, message: `is not allowed: ${allowed}` }
}

const under = (at: string, path: string) => (at && path ? `${at}.${path}` : at || path)

/** "latency 500–500 ms on /catalog/:id, error 10% 503": one line for charts, lists and logs. */
export function summarizeFaults(faults: FaultSettings): string {
  const on = (r?: string) => (r ? ` on ${r}` : '')
  const pct = (n: number) => `${Math.round(n * 1000) / 10}%`
  const parts: string[] = []
  const { database, latency, error, hang, cpu_burn, memory_leak, readiness, upstream_unreachable } = faults
  if (database) {
    parts.push(
      `database ${database.latency_min_ms}–${database.latency_max_ms} ms, ${pct(database.failure_rate)} failures`,
    )
  }
  if (latency) parts.push(`latency ${latency.min_ms}–${latency.max_ms} ms${on(latency.route)}`)
  if (error) parts.push(`error ${pct(error.rate)} ${error.status ?? 500}${on(error.route)}`)
  if (hang) parts.push(`hang ${pct(hang.rate)} for ${hang.ms ?? 30_000} ms${on(hang.route)}`)
  if (cpu_burn) parts.push(`cpu burn ${cpu_burn.ms} ms${on(cpu_burn.route)}`)
  if (memory_leak)
    parts.push(`memory leak ${memory_leak.mb_per_minute} MB/min up to ${memory_leak.max_mb} MB`)
  if (readiness) parts.push(`readiness ${readiness.fail ? 'failing' : 'ok'}`)
  if (upstream_unreachable) parts.push(`${upstream_unreachable.upstream} unreachable`)
  return parts.length ? parts.join(', ') : 'no faults'
}

/** Only what differs from the baseline: the faults on top of it, and the baseline kinds turned off. */
export function faultsOnTop(state: Pick<FaultState, 'faults' | 'baseline'>): {
  faults: FaultSettings
  off: string[]
} {
  const faults: Record<string, unknown> = {}
  const off: string[] = []
  for (const kind of beyondBaseline(state.faults, state.baseline)) {
    const value = state.faults[kind as keyof FaultSettings]
    if (value === undefined) off.push(kind)
    else faults[kind] = value
  }
  return { faults: faults as FaultSettings, off }
}

/** "latency 200–400 ms, database off": what differs from the baseline; "baseline" when nothing. */
export function summarizeBeyondBaseline(state: Pick<FaultState, 'faults' | 'baseline'>): string {
  const { faults, off } = faultsOnTop(state)
  const parts = Object.keys(faults).length ? [summarizeFaults(faults)] : []
  for (const kind of off) parts.push(`${kind} off`)
  return parts.length ? parts.join(', ') : 'baseline'
}

/** A refusal from a service's admin API (or no answer at all), with the problem+json it sent. */
export class FaultApiError extends Error {
  override name = 'FaultApiError'
  constructor(
    readonly service: ServiceName,
    /** The service's status; 502 when it could not be reached. */
    readonly status: number,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${service}: ${status} ${String(problem.detail ?? problem.title ?? 'error')}`)
  }
}

export interface FaultClientOptions {
  hosts: Readonly<Record<ServiceName, string>>
  /** ADMIN_TOKEN of the services; sent as a bearer token, never to the browser. */
  token?: string
  fetch?: (url: string, init?: RequestInit) => Promise<Response>
  timeoutMs?: number
}

export type FaultClient = ReturnType<typeof createFaultClient>

export function createFaultClient(options: FaultClientOptions) {
  const { hosts, token, fetch: fetchFn = fetch, timeoutMs = 5000 } = options

  async function call(
    service: ServiceName,
    method: string,
    body?: FaultSettings,
    path = '/admin/faults',
  ): Promise<FaultState> {
    const url = `${hosts[service]}${path}`
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    if (body) headers['content-type'] = 'application/json'
    // A read (the Faults page polls every few seconds) is not the learner's traffic: an unsampled
    // W3C traceparent (flags 00) makes the service record no span for it. A change stays traced.
    if (method === 'GET') headers.traceparent = `00-${randomHex(16)}-${randomHex(8)}-00`
    let response: Response
    try {
      response = await fetchFn(url, {
        method,
        headers,
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new FaultApiError(service, 502, {
        title: 'Bad Gateway',
        status: 502,
        detail: `${service}'s admin API at ${url} did not answer: ${reason}`,
      })
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (!response.ok) {
      const problem = isObject(parsed)
        ? parsed
        : { title: response.statusText || 'Error', detail: text.slice(0, 200) }
      throw new FaultApiError(service, response.status, { status: response.status, ...problem })
    }
    if (!isObject(parsed) || !isObject(parsed.faults)) {
      throw new FaultApiError(service, 502, {
        title: 'Bad Gateway',
        status: 502,
        detail: `${service}'s admin API at ${url} answered something that is not a fault state`,
      })
    }
    // A service from before baselines existed: treat what it has as its baseline.
    const state = parsed as Partial<FaultState> & { faults: FaultSettings }
    const baseline = state.baseline ?? {}
    return {
      ...state,
      baseline,
      beyond_baseline: state.beyond_baseline ?? beyondBaseline(state.faults, baseline),
    } as FaultState
  }

  return {
    hosts,
    get: (service: ServiceName) => call(service, 'GET'),
    /** Replace the service's whole set of faults. */
    set: (service: ServiceName, faults: FaultSettings) => call(service, 'PUT', faults),
    /** Everything off, the database simulation included. */
    clear: (service: ServiceName) => call(service, 'DELETE'),
    /** Back to the service's baseline: faults off, its configured database simulation on. */
    reset: (service: ServiceName) => call(service, 'POST', undefined, '/admin/faults/reset'),
  }
}

/** `bytes` random bytes as lower-case hex (browser and Bun alike). */
function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
}
