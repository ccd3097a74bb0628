// Liveness and readiness, as Kubernetes probes them:
// - /livez says the process is up and its event loop turns; it checks no dependency, so a slow
//   database never gets a healthy process restarted.
// - /healthz (and /readyz) runs every readiness check with a timeout and answers 503 with the
//   failing check named when any fails, or while the process drains after SIGTERM.
// While it drains, every answer also carries `Connection: close` (RFC 9112 §9.6): the caller's
// kept-alive connection ends with that answer, so none is left to break when the listener stops,
// and the caller's upstream client (upstream.ts) takes it as "going away" and stops choosing this
// instance before its next readiness check.

import { Elysia, t } from 'elysia'

/**
 * What orchestrators and scrapers call every few seconds: by default these requests make no span
 * (a trace per probe per service is noise in any trace search) and log at debug (TRACE_PROBES).
 */
export const PROBE_PATHS = ['/livez', '/healthz', '/readyz', '/metrics'] as const

/** Whether a request URL (`http://host/healthz?x`) is one of PROBE_PATHS, without slicing it. */
export function isProbeUrl(url: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return false
  for (const path of PROBE_PATHS) {
    if (!url.startsWith(path, start)) continue
    const next = url.charCodeAt(start + path.length)
    // The path ends there: end of URL, `?` (63) or `#` (35).
    if (Number.isNaN(next) || next === 63 || next === 35) return true
  }
  return false
}

export type HealthCheck = () => unknown | Promise<unknown>

export interface HealthOptions {
  service: string
  checks?: Record<string, HealthCheck>
  /** Per-check timeout in milliseconds. */
  timeoutMs?: number
  /** True once shutdown has begun: readiness fails so load balancers stop sending traffic. */
  isDraining?: () => boolean
}

const CheckResult = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('fail')]),
  duration_ms: t.Number(),
  error: t.Optional(t.String()),
})
const Readiness = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('fail')]),
  service: t.String(),
  checks: t.Record(t.String(), CheckResult),
})
type Readiness = typeof Readiness.static

export function createHealth(options: HealthOptions) {
  const { service, checks = {}, timeoutMs = 2000, isDraining = () => false } = options

  async function readiness(): Promise<Readiness> {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const start = performance.now()
        try {
          await withTimeout(Promise.resolve().then(check), timeoutMs)
          return [name, { status: 'ok' as const, duration_ms: elapsed(start) }] as const
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          return [name, { status: 'fail' as const, duration_ms: elapsed(start), error: message }] as const
        }
      }),
    )
    const results: Readiness['checks'] = Object.fromEntries(entries)
    if (isDraining()) results.shutdown = { status: 'fail', duration_ms: 0, error: 'draining' }
    const ok = Object.values(results).every((r) => r.status === 'ok')
    return { status: ok ? 'ok' : 'fail', service, checks: results }
  }

  const ready = async ({ set }: { set: { status?: number | string } }) => {
    const body = await readiness()
    if (body.status !== 'ok') set.status = 503
    return body
  }
  const detail = { tags: ['operations'] }
  return new Elysia({ name: '@shopstack/health', seed: service })
    .onRequest(function closeWhileDraining({ set }) {
      if (isDraining()) set.headers.connection = 'close'
    })
    .get('/livez', () => ({ status: 'ok' as const, service }), {
      response: t.Object({ status: t.Literal('ok'), service: t.String() }),
      detail: { ...detail, summary: 'Liveness: the process is up' },
    })
    .get('/healthz', ready, {
      response: { 200: Readiness, 503: Readiness },
      detail: { ...detail, summary: 'Readiness: every dependency answers' },
    })
    .get('/readyz', ready, {
      response: { 200: Readiness, 503: Readiness },
      detail: { ...detail, summary: 'Readiness (alias of /healthz)' },
    })
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
