// The services' run-time faults as a contract: what each kind takes (the body of PUT
// /admin/faults) and the state a service answers with. The services validate with it (lib's
// fault engine, admin.ts), and so does the load generator before a run and the console's page
// before a change, so all three refuse the same values in the same words.
//
// Plain TypeBox rather than Elysia's `t` (every type used here is TypeBox's own under `t`), so
// the console's browser bundle can import it without pulling Elysia in.

import { Type } from '@sinclair/typebox'

const Rate = Type.Number({ minimum: 0, maximum: 1, description: 'Probability from 0 to 1' })
const Route = Type.Optional(
  Type.String({
    pattern: '^/[A-Za-z0-9_:/.-]{0,128}$',
    description: 'Only this route template, e.g. /catalog/:id',
    error: 'must be a route template: / and up to 128 letters, digits, _ : / . or -, e.g. /catalog/:id',
  }),
)
const Millis = (maximum: number, description: string) =>
  Type.Number({ minimum: 0, maximum, multipleOf: 1, description })

export const FaultSettings = Type.Object(
  {
    database: Type.Optional(
      Type.Object(
        {
          latency_min_ms: Millis(60_000, 'Simulated store latency, lower bound'),
          latency_max_ms: Millis(60_000, 'Simulated store latency, upper bound'),
          failure_rate: Rate,
        },
        { additionalProperties: false },
      ),
    ),
    latency: Type.Optional(
      Type.Object(
        {
          min_ms: Millis(60_000, 'Added latency, lower bound'),
          max_ms: Millis(60_000, 'upper bound'),
          route: Route,
        },
        { additionalProperties: false },
      ),
    ),
    error: Type.Optional(
      Type.Object(
        {
          rate: Rate,
          status: Type.Optional(Type.Number({ minimum: 500, maximum: 599, multipleOf: 1, default: 500 })),
          route: Route,
        },
        { additionalProperties: false },
      ),
    ),
    hang: Type.Optional(
      Type.Object(
        {
          rate: Rate,
          ms: Type.Optional(Millis(120_000, 'How long a request hangs before it is answered 504')),
          route: Route,
        },
        { additionalProperties: false },
      ),
    ),
    cpu_burn: Type.Optional(
      Type.Object(
        { ms: Millis(2000, 'CPU time spent per matching request'), route: Route },
        { additionalProperties: false },
      ),
    ),
    memory_leak: Type.Optional(
      Type.Object(
        {
          mb_per_minute: Type.Number({ minimum: 0, maximum: 512, description: 'Pace of the leak' }),
          max_mb: Type.Number({ minimum: 0, maximum: 512, description: 'The leak stops growing here' }),
        },
        { additionalProperties: false },
      ),
    ),
    readiness: Type.Optional(Type.Object({ fail: Type.Boolean() }, { additionalProperties: false })),
    upstream_unreachable: Type.Optional(
      Type.Object(
        {
          upstream: Type.String({
            pattern: '^[a-z][a-z0-9-]{0,31}$',
            error:
              'must be an upstream name: a lowercase letter, then up to 31 lowercase letters, digits or -',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
export type FaultSettings = typeof FaultSettings.static

export const FaultState = Type.Object({
  service: Type.String(),
  faults: FaultSettings,
  /** What the service was configured with at start (the database simulation): not a fault. */
  baseline: FaultSettings,
  /** The kinds whose settings differ from the baseline (added, changed or removed): the faults. */
  beyond_baseline: Type.Array(Type.String()),
  /** Memory the leak holds now. */
  leaked_bytes: Type.Number(),
})
export type FaultState = typeof FaultState.static

/** The kinds set differently in `faults` than in `baseline` (on, off or changed), in kind order. */
export function beyondBaseline(faults: FaultSettings, baseline: FaultSettings): string[] {
  const kinds = Object.keys(FaultSettings.properties) as Array<keyof FaultSettings>
  return kinds.filter((kind) => JSON.stringify(faults[kind]) !== JSON.stringify(baseline[kind]))
}
