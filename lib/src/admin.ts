// The admin API each service serves on its own port (the gateway never routes it):
// GET /admin/faults reads the current faults, PUT replaces them, DELETE turns every fault off,
// POST /admin/faults/reset goes back to the baseline (the database simulation it started with).
// When ADMIN_TOKEN is set, every admin request needs `Authorization: Bearer <token>`; without it,
// only requests addressed to a loopback name, and no change sent from another site's page.

import { timingSafeEqual } from 'node:crypto'
import { FaultSettings, FaultState } from '@shopstack/contracts/faults'
import { Elysia } from 'elysia'
import { problems } from './docs.ts'
import { HttpError } from './errors.ts'
import type { Faults } from './faults.ts'
import { bodyTextOf } from './plugins/body-limits.ts'
import { crossSiteReason } from './same-site.ts'
import { InvalidInputError } from './validation.ts'

const BEARER = /^bearer +(\S+) *$/i

interface ObjectSchema {
  properties?: Record<string, ObjectSchema>
  anyOf?: ObjectSchema[]
}

/** Properties in `value` that `schema` does not declare, as dotted paths with what is allowed there. */
function unknownKeys(
  schema: ObjectSchema,
  value: unknown,
  path: string,
): Array<{ path: string; allowed: string[] }> {
  if (!schema.properties || typeof value !== 'object' || value === null || Array.isArray(value)) return []
  return Object.entries(value).flatMap(([key, child]) => {
    const declared = schema.properties?.[key]
    const at = path ? `${path}.${key}` : key
    if (!declared) return [{ path: at, allowed: Object.keys(schema.properties ?? {}) }]
    return unknownKeys(declared.anyOf?.find((s) => s.properties) ?? declared, child, at)
  })
}

export interface AdminOptions {
  faults: Faults
  /** Bearer token; undefined leaves the admin API open (local demos). */
  token?: string
}

export function createAdminRoutes(options: AdminOptions) {
  const { faults, token } = options
  const expected = token === undefined ? undefined : Buffer.from(token)
  // The 401 is documented only where it can happen (a token set), the 403 likewise (none set).
  const guarded = expected
    ? problems({ 401: 'No valid Authorization: Bearer <ADMIN_TOKEN> (see WWW-Authenticate)' })
    : problems({
        403: 'Without ADMIN_TOKEN: addressed to a name that is not loopback, or a change from another site',
      })

  return new Elysia({ name: '@shopstack/admin', seed: faults.service, prefix: '/admin' })
    .onBeforeHandle(function requireToken({ request }) {
      if (!expected) {
        // No token: only this machine's own callers, never a web page of another site (CSRF) nor
        // a name rebound to this machine (DNS rebinding).
        const refused = crossSiteReason(request)
        if (refused) throw new HttpError(403, `${refused}; without ADMIN_TOKEN the admin API is local only`)
        return
      }
      // RFC 9110 §11.1: the scheme name is case-insensitive ("bearer" is "Bearer").
      const credentials = BEARER.exec(request.headers.get('authorization') ?? '')
      const given = Buffer.from(credentials?.[1] ?? '')
      // Constant-time comparison, so the token cannot be guessed byte by byte from timings.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new HttpError(401, 'The admin API needs Authorization: Bearer <ADMIN_TOKEN>', undefined, {
          headers: { 'www-authenticate': 'Bearer realm="shopstack-admin"' },
        })
      }
    })
    .get('/faults', () => faults.get(), {
      response: FaultState,
      detail: { summary: 'Current faults', tags: ['admin'], ...guarded },
    })
    .put(
      '/faults',
      ({ body }) => {
        faults.set(body)
        return faults.get()
      },
      {
        // Elysia drops unknown properties before validating; here a typo ("lantency") would
        // silently turn every fault off, so the body as it arrived is checked for unknown keys.
        beforeHandle({ request }) {
          const raw: unknown = JSON.parse(bodyTextOf(request) || 'null')
          // Elysia lets a body that is no object through a schema whose fields are all optional
          // (`false`, `42`, `[]` were answered 200, clearing every fault); the schema says object.
          if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
            throw new InvalidInputError([{ in: 'body', path: '', message: 'must be a JSON object' }])
          }
          const unknown = unknownKeys(FaultSettings as ObjectSchema, raw, '')
          if (unknown.length) {
            throw new InvalidInputError(
              unknown.map(({ path, allowed }) => ({
                in: 'body',
                path,
                message: `is not allowed (allowed here: ${allowed.join(', ')})`,
              })),
            )
          }
        },
        body: FaultSettings,
        response: FaultState,
        detail: { summary: 'Replace the faults', tags: ['admin'], 'x-unknown-fields': 'refused', ...guarded },
      },
    )
    .delete(
      '/faults',
      () => {
        faults.clear()
        return faults.get()
      },
      { response: FaultState, detail: { summary: 'Turn every fault off', tags: ['admin'], ...guarded } },
    )
    .post(
      '/faults/reset',
      () => {
        faults.reset()
        return faults.get()
      },
      {
        response: FaultState,
        detail: {
          summary: 'Back to the baseline: faults off, the configured database simulation on',
          tags: ['admin'],
        },
      },
    )
}
