// The console's JSON API as the pages use it (console/README.md is the contract): typed answers,
// and one error type whose message says in words what went wrong, problem+json detail included.

import type { LoadStatus } from '@shopstack/loadtest/load-api'
import type { JaegerAnswer, JaegerKeyValue, JaegerSpan, JaegerTrace } from '../jaeger.ts'
import type { RedAnswer, RedPoint } from '../scraper.ts'
import type { ServiceMap, TraceSummary } from '../store.ts'

export type { TraceSummary }

export interface Problem {
  title?: string
  status?: number
  detail?: string
  service?: string
  /** A 422's bad fields, in the services' shape. */
  errors?: { in?: string; path?: string; message?: string }[]
}

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly url: string,
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(describe(url, status, problem))
  }
}

function describe(url: string, status: number, problem: Problem): string {
  if (status === 0) return `Could not reach the console at ${url}: ${problem.detail ?? 'no answer'}`
  const what = problem.title ?? `HTTP ${status}`
  const fields = Array.isArray(problem.errors)
    ? problem.errors.map((e) => [e.path, e.message].filter(Boolean).join(' ')).join('; ')
    : ''
  const said = [problem.detail, fields].filter(Boolean).join(' — ')
  return said ? `${what} (${status}): ${said}` : `${what} (${status}) from ${url}`
}

export async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response
  try {
    response = await fetch(url, {
      ...init,
      headers: {
        accept: 'application/json, application/problem+json',
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    })
  } catch (error) {
    throw new ApiError(url, 0, { detail: error instanceof Error ? error.message : String(error) })
  }
  const text = await response.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : {}
  } catch {
    body = undefined
  }
  if (!response.ok) {
    const problem =
      typeof body === 'object' && body !== null
        ? (body as Problem)
        : { title: response.statusText, detail: text.slice(0, 200) }
    throw new ApiError(url, response.status, problem)
  }
  if (body === undefined)
    throw new ApiError(url, response.status, { title: 'Not JSON', detail: text.slice(0, 200) })
  return body as T
}

export const getJson = <T>(url: string) => request<T>(url)
export const sendJson = <T>(method: string, url: string, body?: unknown) =>
  request<T>(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

/** A query string from the values that are set. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

// ---- answers -------------------------------------------------------------------------------------

export interface StatusAnswer {
  spans: number
  traces: number
  logs: number
  bytes: number
  retention: { max_spans: number; max_logs: number }
  database: string
  targets: { service: string; url: string; up: boolean; last_scrape_ms?: number; error?: string }[]
}

export interface ServicesAnswer {
  services: { name: string; spans: number; last_seen_ms: number | null }[]
}

export interface TracesAnswer {
  traces: TraceSummary[]
}

export type { JaegerKeyValue, JaegerSpan, JaegerTrace }
export type TraceAnswer = JaegerAnswer

export interface LogLine {
  id: number
  time_ms: number
  service: string
  level: string
  msg: string
  trace_id?: string | null
  span_id?: string | null
  attributes: Record<string, unknown>
  line: string
}

export interface LogsAnswer {
  logs: LogLine[]
}

export type ServiceMapAnswer = ServiceMap

/** The load generator's status, as its load API answers it (loadtest/src/ui/load-api.ts). */
export type { LoadStatus, RedAnswer, RedPoint }

export interface FaultsAnswer {
  services: {
    service: string
    url: string
    state?: {
      service: string
      faults: Record<string, Record<string, unknown>>
      baseline?: Record<string, Record<string, unknown>>
      beyond_baseline?: string[]
      leaked_bytes?: number
    }
    summary?: string
    /** The baseline (the database simulation the service started with), as a line. */
    baseline?: string
    /** What differs from the baseline, as a line ("baseline" when nothing does). */
    beyond_baseline?: string
    error?: Problem
  }[]
}
