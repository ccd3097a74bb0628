// The Elysia app every service starts from, in order: the tracer's instrumentation if it has one
// (plugin mode), the request plugins (plugins/index.ts: ids, spans, limits, errors, metrics, logs,
// /metrics), the health endpoints and the OpenAPI docs.

import { Elysia } from 'elysia'
import { createDocs, globalRoutesOf } from './docs.ts'
import { createHealth, type HealthCheck } from './health.ts'
import { requestPlugins } from './plugins/index.ts'
import type { Logger } from './telemetry/logger.ts'
import type { Metrics } from './telemetry/metrics.ts'
import type { Tracing } from './telemetry/tracing.ts'

export interface ServiceBaseOptions {
  service: string
  version: string
  description: string
  logger: Logger
  metrics: Metrics
  tracing: Tracing
  checks?: Record<string, HealthCheck>
  isDraining?: () => boolean
  maxBodyBytes?: number
  bodyTimeoutMs?: number
}

export function createServiceBase(options: ServiceBaseOptions) {
  const { service, version, description, checks, isDraining, ...telemetry } = options
  // standardHostname: false makes Elysia find the path after "http://" rather than guessing the
  // host is at least 4 characters long (index 11): with `Host: a` it routed `/catalog?/admin/x`
  // as /admin/x while the URL's path was /catalog.
  const base = new Elysia({
    name: '@shopstack/service-base',
    seed: service,
    handler: { standardHostname: false },
  })
  // Plugin mode's @elysiajs/opentelemetry goes first, so its SERVER span wraps every hook.
  if (telemetry.tracing.instrumentation) base.use(telemetry.tracing.instrumentation)
  return base
    .use(
      requestPlugins({
        service,
        ...telemetry,
        allowedMethods: methodsByPath(() => globalRoutesOf(base)),
      }),
    )
    .use(createHealth({ service, checks, isDraining }))
    .use(createDocs({ service, version, description }))
}

/**
 * The methods each route path takes, for 405 answers: built from the app's routes the first time
 * a request matches none (every route is added before the first request), and again only if
 * routes were added since. Costs nothing on a routed request.
 */
export function methodsByPath(routes: () => ReadonlyArray<{ method: string; path: string }>) {
  let built: { count: number; table: Array<{ pattern: RegExp; methods: string[] }> } | undefined
  return (path: string): readonly string[] | undefined => {
    const all = routes()
    if (built?.count !== all.length) {
      const byPath = new Map<string, Set<string>>()
      for (const { method, path: template } of all) {
        if (method === 'ALL') continue
        const methods = byPath.get(template) ?? new Set<string>()
        methods.add(method)
        byPath.set(template, methods)
      }
      const table = [...byPath].map(([template, methods]) => ({
        pattern: new RegExp(
          `^${template
            .split('/')
            .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : RegExp.escape(part)))
            .join('/')}$`,
        ),
        methods: [...methods].sort(),
      }))
      built = { count: all.length, table }
    }
    const methods = built.table.filter(({ pattern }) => pattern.test(path)).flatMap((entry) => entry.methods)
    return methods.length ? [...new Set(methods)].sort() : undefined
  }
}
