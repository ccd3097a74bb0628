// Simulated database behaviour, as the original ShopStack had it: a latency drawn from a range
// and, for writes, a failure rate. Randomness and sleeping are injected so tests are exact.
// A simulated failure is thrown before the caller writes anything, so it can never corrupt data.

import type { Counter } from 'prom-client'
import type { Range, SimulationConfig } from './config.ts'
import { SimulatedFailureError } from './errors.ts'
import type { Span } from './telemetry/tracing.ts'

export interface SimulationOptions extends Partial<SimulationConfig> {
  /** Read the settings on every call instead (faults changed at run time); wins over the fixed ones. */
  current?: () => SimulationConfig
  random?: () => number
  sleep?: (ms: number) => Promise<unknown>
  /** `simulated_faults_total{kind}`; each injected latency or failure is counted. */
  faults?: Counter<'kind'>
}

export interface Simulation {
  readonly latencyMs: Range
  readonly failureRate: number
  /**
   * Wait the simulated latency, then maybe fail with a 503. `operation` names what is simulated
   * (for example "cart write"); the span, when given, gets the latency and the failure as events.
   */
  apply(operation: string, options?: { span?: Span; mayFail?: boolean }): Promise<void>
}

export function createSimulation(options: SimulationOptions = {}): Simulation {
  const { latencyMs = [0, 0], failureRate = 0, random = Math.random, sleep = Bun.sleep, faults } = options
  const current = options.current ?? (() => ({ latencyMs, failureRate }))
  return {
    get latencyMs() {
      return current().latencyMs
    },
    get failureRate() {
      return current().failureRate
    },
    async apply(operation, { span, mayFail = true } = {}) {
      const {
        latencyMs: [min, max],
        failureRate: rate,
      } = current()
      if (max > 0) {
        const delay = Math.round(min + random() * (max - min))
        faults?.inc({ kind: 'latency' })
        span?.setAttribute('shopstack.simulated.latency_ms', delay)
        await sleep(delay)
      }
      if (mayFail && rate > 0 && random() < rate) {
        faults?.inc({ kind: 'failure' })
        span?.addEvent('shopstack.simulated_failure', { 'shopstack.operation': operation })
        span?.setAttribute('shopstack.simulated.failure', true)
        throw new SimulatedFailureError(operation)
      }
    },
  }
}
