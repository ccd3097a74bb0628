// The services' run-time faults as the load generator sees them: what each kind takes (restated
// from lib's FaultSettings schema, so a run does not pull Elysia in; faults.test.ts checks the two
// still match), a validator answering in the services' field-error shape (lib/src/validation.ts:
// `{ in, path, message }`, the rule in words, never a pattern), a one-line summary for charts
// and lists, and a client for each service's /admin/faults (GET reads, PUT replaces the whole
// set, DELETE turns everything off), which keeps the admin token on this side.

import type { FaultSettings, FaultState } from '@shopstack/lib/faults'
import { describeNumber, type FieldError, type FieldLocation, kindOf } from '@shopstack/lib/validation'

export type { FaultSettings, FaultState }

export const SERVICES = ['gateway', 'catalog', 'cart'] as const
export type ServiceName = (typeof SERVICES)[number]

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

const ROUTE_PATTERN = '^/[A-Za-z0-9_:/.-]{0,128}$'
const millis = (maximum: number, hint: string, optional = false): FieldSpec => ({
  type: 'number',
  minimum: 0,
  maximum,
  integer: true,
  hint,
  ...(optional ? { optional } : {}),
})
const rate: FieldSpec = {
  type: 'number',
  minimum: 0,
  maximum: 1,
  integer: false,
  hint: 'probability, 0 to 1',
}
const route: FieldSpec = {
  type: 'string',
  pattern: ROUTE_PATTERN,
  rule: 'must be a route template: / and up to 128 letters, digits, _ : / . or -, e.g. /catalog/:id',
  optional: true,
  hint: 'only this route template, e.g. /catalog/:id',
}

/** Every fault kind and its settings, in the order the panel shows them. */
export const FAULT_KINDS: Readonly<Record<keyof FaultSettings, KindSpec>> = {
  database: {
    title: 'Database',
    services: ['catalog', 'cart'],
    fields: {
      latency_min_ms: millis(60_000, 'simulated store latency, lower bound'),
      latency_max_ms: millis(60_000, 'upper bound'),
      failure_rate: rate,
    },
  },
  latency: {
    title: 'Added latency',
    fields: { min_ms: millis(60_000, 'lower bound'), max_ms: millis(60_000, 'upper bound'), route },
  },
  error: {
    title: 'Errors',
    fields: {
      rate,
      status: {
        type: 'number',
        minimum: 500,
        maximum: 599,
        integer: true,
        optional: true,
        hint: '5xx, 500 by default',
      },
      route,
    },
  },
  hang: {
    title: 'Hang',
    fields: { rate, ms: millis(120_000, 'held this long, then 504 (30000 by default)', true), route },
  },
  cpu_burn: { title: 'CPU burn', fields: { ms: millis(2000, 'CPU time per matching request'), route } },
  memory_leak: {
    title: 'Memory leak',
    fields: {
      mb_per_minute: { type: 'number', minimum: 0, maximum: 512, integer: false, hint: 'pace of the leak' },
      max_mb: { type: 'number', minimum: 0, maximum: 512, integer: false, hint: 'it stops growing here' },
    },
  },
  readiness: { title: 'Readiness', fields: { fail: { type: 'boolean', hint: '/healthz answers 503' } } },
  upstream_unreachable: {
    title: 'Upstream unreachable',
    services: ['gateway'],
    fields: {
      upstream: {
        type: 'string',
        pattern: '^[a-z][a-z0-9-]{0,31}$',
        rule: 'must be an upstream name: a lowercase letter, then up to 31 lowercase letters, digits or -',
        hint: 'the upstream treated as down',
        choices: ['catalog', 'cart'],
      },
    },
  },
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * What is wrong with `value` as the faults of `service`, in the services' field-error shape, each
 * at its path under `at` (`steps[0].faults.latency.min_ms`; `latency.min_ms` when `at` is '');
 * empty when it is valid.
 */
export function faultProblems(
  value: unknown,
  service: ServiceName | undefined,
  at = '',
  location: FieldLocation = 'body',
): FieldError[] {
  const problems: FieldError[] = []
  const refuse = (path: string, message: string) => problems.push({ in: location, path, message })
  if (!isObject(value)) {
    refuse(at, 'must be an object of fault settings')
    return problems
  }
  for (const [kind, settings] of Object.entries(value)) {
    const spec = (FAULT_KINDS as Record<string, KindSpec>)[kind]
    const path = under(at, kind)
    if (!spec) {
      refuse(path, `is not allowed: the faults are ${Object.keys(FAULT_KINDS).join(', ')}`)
      continue
    }
    if (service && spec.services && !spec.services.includes(service)) {
      refuse(path, `applies to ${spec.services.join(' and ')} only, not ${service}`)
    }
    if (!isObject(settings)) {
      refuse(path, `must be an object, not ${kindOf(settings)}`)
      continue
    }
    for (const key of Object.keys(settings)) {
      if (!(key in spec.fields)) {
        refuse(
          under(path, key),
          `is not allowed: the settings of ${kind} are ${Object.keys(spec.fields).join(', ')}`,
        )
      }
    }
    for (const [name, field] of Object.entries(spec.fields)) {
      const message = fieldProblem(settings[name], field)
      if (message) refuse(under(path, name), message)
    }
  }
  // What the services check beyond the schema, caught before the run rather than during it.
  const ranges = [
    ['database', 'latency_min_ms', 'latency_max_ms'],
    ['latency', 'min_ms', 'max_ms'],
  ] as const
  for (const [kind, low, high] of ranges) {
    const settings = value[kind]
    if (isObject(settings) && Number(settings[low]) > Number(settings[high])) {
      refuse(under(at, `${kind}.${low}`), `must not exceed ${kind}.${high}`)
    }
  }
  return problems
}

const under = (at: string, key: string) => (at ? `${at}.${key}` : key)

/** What a setting must be, in words (as lib/src/validation.ts says it); undefined when it is good. */
function fieldProblem(value: unknown, field: FieldSpec): string | undefined {
  if (value === undefined) return 'optional' in field && field.optional ? undefined : 'is required'
  const not = (kind: string) => (kindOf(value) === kind ? '' : `, not ${kindOf(value)}`)
  switch (field.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false${not('true or false')}`
    case 'string':
      if (field.choices && !field.choices.includes(value as string)) {
        return `must be one of ${field.choices.join(', ')}`
      }
      return typeof value === 'string' && new RegExp(field.pattern).test(value)
        ? undefined
        : `${field.rule}${not('a string')}`
    case 'number': {
      const ok =
        typeof value === 'number' &&
        value >= field.minimum &&
        value <= field.maximum &&
        (!field.integer || Number.isInteger(value))
      return ok ? undefined : `must be ${describeNumber(field)}${not('a number')}`
    }
  }
}

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

/** The kinds set differently in `faults` than in `baseline` (as lib's faults.ts says it). */
export function beyondBaseline(faults: FaultSettings, baseline: FaultSettings): string[] {
  return (Object.keys(FAULT_KINDS) as Array<keyof FaultSettings>).filter(
    (kind) => JSON.stringify(faults[kind]) !== JSON.stringify(baseline[kind]),
  )
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
