import { describe, expect, test } from 'bun:test'
import { UsageError } from './duration.ts'
import { parseScenario } from './fault-scenario.ts'
import { parseCli, runnerOptionsOf, withScenario } from './options.ts'

function parse(args: string[], env: Record<string, string | undefined> = {}) {
  const parsed = parseCli(args, env)
  if (parsed.help) throw new Error('unexpected help')
  return parsed
}

describe('the command line', () => {
  test('defaults follow Locust and the ShopStack ports', () => {
    const options = parse([])
    expect(options).toMatchObject({
      host: 'http://localhost:8000',
      catalogHost: 'http://localhost:8001',
      cartHost: 'http://localhost:8002',
      users: 10,
      rate: 0,
      runTimeMs: 60_000,
      headless: false,
      webPort: 8089,
      webPortGiven: false,
      browseWeight: 70,
      cartWeight: 30,
      thresholds: {},
    })
  })

  test("Locust's option names and short flags work", () => {
    const options = parse(['-H', 'http://127.0.0.1:9000/', '-u', '50', '-r', '5', '-t', '2m', '--headless'])
    expect(options).toMatchObject({
      host: 'http://127.0.0.1:9000',
      users: 50,
      spawnRate: 5,
      runTimeMs: 120_000,
    })
    expect(options.headless).toBe(true)
  })

  test('a --web-port given is known apart from the default, which may move when taken', () => {
    expect(parse(['--web-port', '8089'])).toMatchObject({ webPort: 8089, webPortGiven: true })
  })

  test('open model, reports, seed and thresholds', () => {
    const options = parse([
      '--rate=250',
      '--json',
      'out/run.json',
      '--html',
      'out/run.html',
      '--seed',
      '7',
      '--think-time',
      '0-50ms',
      '--max-error-rate',
      '0.02',
      '--max-p99-ms',
      '500',
    ])
    expect(options).toMatchObject({
      rate: 250,
      json: 'out/run.json',
      html: 'out/run.html',
      seed: 7,
      thinkTime: { minMs: 0, maxMs: 50 },
      thresholds: { maxErrorRate: 0.02, maxP99Ms: 500 },
    })
    expect(runnerOptionsOf(options)).toMatchObject({ rate: 250, seed: 7, weights: { browse: 70, cart: 30 } })
  })

  test.each([
    [['--users', 'many']],
    [['--run-time', 'forever']],
    [['--max-error-rate', '2']],
    [['--host', 'ftp://x']],
    [['--no-such-option']],
    [['--browse-weight', '0', '--cart-weight', '0']],
  ])('%p is a usage error', (args) => {
    expect(() => parseCli(args)).toThrow(UsageError)
  })

  test('a scenario file and the admin token, which defaults to ADMIN_TOKEN', () => {
    expect(parse(['--scenario', 'loadtest/scenarios/slow-dependency.json'])).toMatchObject({
      scenario: 'loadtest/scenarios/slow-dependency.json',
    })
    expect(parse([]).adminToken).toBeUndefined()
    expect(parse([], { ADMIN_TOKEN: 'from-env' }).adminToken).toBe('from-env')
    expect(parse(['--admin-token', 'given'], { ADMIN_TOKEN: 'from-env' }).adminToken).toBe('given')
  })

  test("a scenario's seed, duration and rate apply unless the command line sets them", () => {
    const scenario = parseScenario({
      name: 's',
      description: 'd',
      seed: 42,
      duration: '3m',
      rate: 150,
      steps: [{ at: '1s', service: 'cart', faults: { readiness: { fail: true } } }],
    })
    expect(withScenario(parse([]), scenario)).toMatchObject({ seed: 42, runTimeMs: 180_000, rate: 150 })
    expect(withScenario(parse(['--seed', '5', '-t', '10s', '--rate', '20']), scenario)).toMatchObject({
      seed: 5,
      runTimeMs: 10_000,
      rate: 20,
    })
  })

  test('--time-scale plays a scenario faster (or slower); it must be above 0', () => {
    expect(parse([]).timeScale).toBe(1)
    expect(parse(['--time-scale', '0.1']).timeScale).toBe(0.1)
    expect(() => parse(['--time-scale', '0'])).toThrow('--time-scale must be above 0, got "0"')
  })

  test('--help asks for the usage text', () => {
    expect(parseCli(['--help'])).toEqual({ help: true })
  })
})
