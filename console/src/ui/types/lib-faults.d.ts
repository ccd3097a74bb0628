// The types loadtest/src/faults.ts imports from @shopstack/lib/faults, restated for the page's type
// check only (tsconfig "paths"). The real module is server code (Elysia, the OTLP exporter) whose
// fetch bodies do not type-check against the DOM lib; the root project still checks faults.ts
// against the real schema, so a drift shows there first.

// Type aliases, not interfaces, so that they convert from Record<string, unknown> as the schema's do.
export type FaultSettings = {
  database?: { latency_min_ms: number; latency_max_ms: number; failure_rate: number }
  latency?: { min_ms: number; max_ms: number; route?: string }
  error?: { rate: number; status?: number; route?: string }
  hang?: { rate: number; ms?: number; route?: string }
  cpu_burn?: { ms: number; route?: string }
  memory_leak?: { mb_per_minute: number; max_mb: number }
  readiness?: { fail: boolean }
  upstream_unreachable?: { upstream: string }
}

export type FaultState = {
  service: string
  faults: FaultSettings
  baseline: FaultSettings
  beyond_baseline: string[]
  leaked_bytes: number
}
