// A guard for the local web UIs (the console, the load generator's): they drive load and faults
// and show every log line, so a web page the learner happens to have open must not use them. A
// request whose Host is not one the server listens as (a DNS rebinding page) is refused, and so is
// a change (any method but GET or HEAD) sent from another origin — a cross-site form or no-cors
// fetch carries its Origin (RFC 6454, Fetch) — as a CSRF attempt. Both answer 403 problem+json
// saying why. Nothing here imports Elysia: the UIs are Bun.serve routes.

import { problem, problemResponse } from './errors.ts'

type Handler<R extends Request> = (request: R) => Response | Promise<Response>

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** The host names a server listening on `hostname` answers to: `['*']` when it listens everywhere. */
export function hostsFor(hostname: string): string[] {
  return ['0.0.0.0', '::', '[::]'].includes(hostname) ? ['*'] : [hostname]
}

/** The host[:port] of an Origin header; '' for `null` or anything that is no URL. */
function hostOf(origin: string): string {
  try {
    return new URL(origin).host
  } catch {
    return ''
  }
}

/**
 * Why `request` must be refused as cross-site, or undefined: its Host is not a loopback name nor
 * one of `allowedHosts` (`*` for any), or it is a change sent from another origin.
 */
export function crossSiteReason(request: Request, allowedHosts: readonly string[] = []): string | undefined {
  // In-process requests (app.handle) carry no Host header: their URL's host stands for it.
  const host = request.headers.get('host') ?? new URL(request.url).host
  const hostname = host.replace(/:\d+$/, '')
  if (!allowedHosts.includes('*') && !LOOPBACK.test(hostname) && !allowedHosts.includes(hostname)) {
    return `this server does not answer to the host "${hostname}"`
  }
  const origin = request.headers.get('origin')
  const change = request.method !== 'GET' && request.method !== 'HEAD'
  if (change && origin !== null && hostOf(origin) !== host) {
    return `changes are taken only from this server's own pages, not from ${origin}`
  }
  return undefined
}

/** `handler`, answering only its own pages and loopback names (and `allowedHosts`; `*` for any). */
export function sameSiteOnly<R extends Request>(
  handler: Handler<R>,
  allowedHosts: readonly string[] = [],
): Handler<R> {
  return (request) => {
    const refused = crossSiteReason(request, allowedHosts)
    return refused ? problemResponse(problem(403, refused)) : handler(request)
  }
}

type RouteValue<R extends Request> = Handler<R> | Partial<Record<string, Handler<R>>> | Response | object

/** Every handler of a Bun.serve routes table behind `sameSiteOnly`; HTML bundles and Responses as they are. */
export function sameSiteRoutes<T extends Record<string, RouteValue<Bun.BunRequest>>>(
  routes: T,
  allowedHosts: readonly string[] = [],
): T {
  const wrap = (value: RouteValue<Bun.BunRequest>) => {
    if (typeof value === 'function') return sameSiteOnly(value as Handler<Bun.BunRequest>, allowedHosts)
    if (value instanceof Response || !isMethodTable(value)) return value
    return Object.fromEntries(
      Object.entries(value).map(([method, handler]) => [method, sameSiteOnly(handler, allowedHosts)]),
    )
  }
  return Object.fromEntries(Object.entries(routes).map(([path, value]) => [path, wrap(value)])) as T
}

/** A `{ GET, POST, … }` table, as opposed to an HTML bundle. */
function isMethodTable(value: unknown): value is Record<string, Handler<Bun.BunRequest>> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.entries(value).every(([key, handler]) => /^[A-Z]+$/.test(key) && typeof handler === 'function')
  )
}
