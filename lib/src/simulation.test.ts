import { describe, expect, test } from 'bun:test'
import { SimulatedFailureError } from './errors.ts'
import { createSimulation } from './simulation.ts'
import { createMetrics } from './telemetry/metrics.ts'

const sequence = (...values: number[]) => {
  let i = 0
  return () => values[i++ % values.length] as number
}

describe('createSimulation', () => {
  test('waits a latency drawn from the range', async () => {
    const slept: number[] = []
    const simulation = createSimulation({
      latencyMs: [20, 60],
      random: sequence(0, 1, 0.5),
      sleep: async (ms) => void slept.push(ms),
    })
    for (let i = 0; i < 3; i++) await simulation.apply('read', { mayFail: false })
    expect(slept).toEqual([20, 60, 40])
  })

  test('fails at the configured rate, with a 503 that says nothing was written', async () => {
    const faults = createMetrics({ service: 't', runtime: false }).simulatedFaults
    const simulation = createSimulation({ failureRate: 0.01, random: sequence(0.005, 0.5), faults })
    const failure = await simulation.apply('cart write').catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(SimulatedFailureError)
    expect((failure as SimulatedFailureError).status).toBe(503)
    expect((failure as SimulatedFailureError).detail).toContain('nothing was written')
    await simulation.apply('cart write')
    expect((await faults.get()).values.find((v) => v.labels.kind === 'failure')?.value).toBe(1)
  })

  test('over many draws the failure rate is what was asked', async () => {
    let seed = 7
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    const simulation = createSimulation({ failureRate: 0.1, random })
    let failures = 0
    for (let i = 0; i < 20_000; i++) {
      await simulation.apply('w').catch(() => failures++)
    }
    expect(failures / 20_000).toBeGreaterThan(0.09)
    expect(failures / 20_000).toBeLessThan(0.11)
  })

  test('off means no wait and no failure', async () => {
    const simulation = createSimulation({ sleep: () => Promise.reject(new Error('slept')), random: () => 0 })
    await simulation.apply('cart write')
  })
})
