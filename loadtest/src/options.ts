// The command line, with Locust's option names where Locust has one (--host, --users,
// --spawn-rate, --run-time, --headless, --html, --web-port, and -H -u -r -t), so a Locust user
// need not relearn anything. Parsing is a pure function of argv; errors are UsageErrors.

import { parseArgs } from 'node:util'
import { CONSOLE_PORT, defaultUrl } from '@shopstack/contracts/services'
import { parseDuration, parseThinkTime, type ThinkTime, UsageError } from './duration.ts'
import type { Scenario } from './fault-scenario.ts'
import type { RunnerOptions } from './runner.ts'
import type { Thresholds } from './thresholds.ts'

export interface CliOptions {
  host: string
  catalogHost: string
  cartHost: string
  users: number
  spawnRate: number
  /** Open model when above 0. */
  rate: number
  runTimeMs: number
  /** False when the run time is the default (a scenario's duration may replace it). */
  runTimeGiven: boolean
  maxRequests: number
  headless: boolean
  autostart: boolean
  html?: string
  json?: string
  seed?: number
  thinkTime: ThinkTime
  metricsUsers: number
  metricsIntervalMs: number
  browseWeight: number
  cartWeight: number
  stopTimeoutMs: number
  maxInFlight: number
  thresholds: Thresholds
  webPort: number
  /** False when the port is the default, which may move to a free one when it is taken. */
  webPortGiven: boolean
  webHost: string
  /** A fault scenario file to play alongside the load. */
  scenario?: string
  /** Multiplies every time of the scenario (0.1: ten times faster); 1 by default. */
  timeScale: number
  /** Bearer token of the services' admin API (ADMIN_TOKEN). */
  adminToken?: string
}

export const USAGE = `Usage: bun run loadtest [options]

Plays ShopStack's traffic (an e-commerce user, 70% browsing / 30% cart, and a metrics user)
against the gateway. Without --headless it serves a web UI and waits for a start from the page.

Target
  -H, --host URL            gateway (default ${defaultUrl('gateway')})
      --catalog-host URL    catalog, for the metrics user (default ${defaultUrl('catalog')})
      --cart-host URL       cart, for the metrics user (default ${defaultUrl('cart')})
Load (closed model, as Locust)
  -u, --users N             e-commerce users (default 10)
  -r, --spawn-rate N        users started per second (default 10)
      --think-time T        wait between a user's requests: 1s-3s, 500ms, 0 (default 1s-3s)
Load (open model)
      --rate N              N requests per second, whatever the latency (no coordinated omission)
      --max-in-flight N     cap on open-model requests in flight (default 10000)
Mix
      --browse-weight N     weight of browsing (default 70)
      --cart-weight N       weight of cart operations (default 30)
      --metrics-users N     metrics pollers (default 1; 0 for none)
      --metrics-wait T      wait between a poller's requests (default 1s)
      --seed N              seed of the traffic's (and scenario's) random choices (default: the
                            scenario's seed, else random; always reported)
Duration (every run ends by itself)
  -t, --run-time T          30s, 2m, 1h30m (default 1m)
      --max-requests N      stop after N requests
      --stop-timeout T      time in-flight requests get to finish at the end (default 5s)
Faults
      --scenario FILE       play a fault scenario (JSON, see loadtest/scenarios/) during the run;
                            its faults are turned off again at the end or on Ctrl-C
      --time-scale X        play the scenario X times as long (0.1: ten times faster; default 1)
      --admin-token TOKEN   the services' ADMIN_TOKEN, for scenarios and the UI's Faults panel
                            (default: the ADMIN_TOKEN environment variable)
Results
      --headless            no web UI: start at once, print to the terminal
      --autostart           with the web UI: start at once instead of waiting for the page
      --html FILE           write a self-contained HTML report
      --json FILE           write the results as JSON
      --max-error-rate R    exit 1 when failures / requests exceeds R (e.g. 0.02)
      --max-p99-ms MS       exit 1 when the 99th percentile latency exceeds MS
      --web-port N          web UI port (default ${CONSOLE_PORT})
      --web-host HOST       web UI address (default 127.0.0.1)
  -h, --help                this text
`

export type ParsedCli = { help: true } | ({ help: false } & CliOptions)

export function parseCli(argv: string[], env: Record<string, string | undefined> = Bun.env): ParsedCli {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', short: 'H' },
        'catalog-host': { type: 'string' },
        'cart-host': { type: 'string' },
        users: { type: 'string', short: 'u' },
        'spawn-rate': { type: 'string', short: 'r' },
        'run-time': { type: 'string', short: 't' },
        'max-requests': { type: 'string' },
        rate: { type: 'string' },
        'max-in-flight': { type: 'string' },
        'think-time': { type: 'string' },
        'browse-weight': { type: 'string' },
        'cart-weight': { type: 'string' },
        'metrics-users': { type: 'string' },
        'metrics-wait': { type: 'string' },
        seed: { type: 'string' },
        'stop-timeout': { type: 'string' },
        headless: { type: 'boolean' },
        autostart: { type: 'boolean' },
        html: { type: 'string' },
        json: { type: 'string' },
        'max-error-rate': { type: 'string' },
        'max-p99-ms': { type: 'string' },
        'web-port': { type: 'string' },
        'web-host': { type: 'string' },
        scenario: { type: 'string' },
        'time-scale': { type: 'string' },
        'admin-token': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  if (values.help) return { help: true }
  const text = (name: string) => values[name] as string | undefined
  const number = (name: string, fallback: number, check: (n: number) => boolean, what: string) => {
    const raw = text(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(value) || !check(value)) {
      throw new UsageError(`--${name} must be ${what}, got "${raw}"`)
    }
    return value
  }
  const whole = (n: number) => Number.isInteger(n) && n >= 0
  const positive = (n: number) => n > 0
  const url = (name: string, fallback: string) => {
    const raw = (text(name) ?? fallback).replace(/\/+$/, '')
    if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
      throw new UsageError(`--${name} must be an http(s) URL, got "${raw}"`)
    }
    return raw
  }
  const duration = (name: string, fallback: number) => {
    const raw = text(name)
    return raw === undefined ? fallback : parseDuration(raw)
  }

  const runTimeMs = duration('run-time', 60_000)
  if (runTimeMs <= 0) throw new UsageError('--run-time must be above 0')
  const maxErrorRate = text('max-error-rate')
  const maxP99Ms = text('max-p99-ms')
  const seed = text('seed')
  const options: CliOptions = {
    host: url('host', defaultUrl('gateway')),
    catalogHost: url('catalog-host', defaultUrl('catalog')),
    cartHost: url('cart-host', defaultUrl('cart')),
    users: number('users', 10, whole, 'a whole number'),
    spawnRate: number('spawn-rate', 10, positive, 'above 0'),
    rate: number('rate', 0, (n) => n >= 0, 'a number of requests per second'),
    runTimeMs,
    runTimeGiven: text('run-time') !== undefined,
    maxRequests: number('max-requests', 0, whole, 'a whole number'),
    headless: values.headless === true,
    autostart: values.autostart === true,
    thinkTime: parseThinkTime(text('think-time') ?? '1s-3s'),
    metricsUsers: number('metrics-users', 1, whole, 'a whole number'),
    metricsIntervalMs: duration('metrics-wait', 1000),
    browseWeight: number('browse-weight', 70, (n) => n >= 0, 'a weight of 0 or more'),
    cartWeight: number('cart-weight', 30, (n) => n >= 0, 'a weight of 0 or more'),
    stopTimeoutMs: duration('stop-timeout', 5000),
    maxInFlight: number('max-in-flight', 10_000, (n) => whole(n) && n > 0, 'a whole number above 0'),
    thresholds: {
      ...(maxErrorRate === undefined
        ? {}
        : { maxErrorRate: number('max-error-rate', 0, (n) => n >= 0 && n <= 1, 'between 0 and 1') }),
      ...(maxP99Ms === undefined ? {} : { maxP99Ms: number('max-p99-ms', 0, positive, 'above 0') }),
    },
    webPort: number('web-port', CONSOLE_PORT, (n) => whole(n) && n < 65536, 'a port number'),
    webPortGiven: text('web-port') !== undefined,
    webHost: text('web-host') ?? '127.0.0.1',
    ...(seed === undefined ? {} : { seed: number('seed', 0, whole, 'a whole number') >>> 0 }),
    ...(text('html') === undefined ? {} : { html: text('html') }),
    ...(text('json') === undefined ? {} : { json: text('json') }),
    ...(text('scenario') === undefined ? {} : { scenario: text('scenario') }),
    timeScale: number('time-scale', 1, positive, 'above 0'),
  }
  const adminToken = text('admin-token') ?? env.ADMIN_TOKEN
  if (adminToken) options.adminToken = adminToken
  if (options.browseWeight + options.cartWeight <= 0) {
    throw new UsageError('--browse-weight and --cart-weight cannot both be 0')
  }
  return { help: false, ...options }
}

/** A scenario's seed and duration, unless the command line set them. */
export function withScenario(cli: CliOptions, scenario: Scenario): CliOptions {
  return {
    ...cli,
    ...(cli.seed === undefined && scenario.seed !== undefined ? { seed: scenario.seed } : {}),
    ...(!cli.runTimeGiven && scenario.durationMs !== undefined ? { runTimeMs: scenario.durationMs } : {}),
    ...(cli.rate === 0 && scenario.rate !== undefined ? { rate: scenario.rate } : {}),
  }
}

/** What a run needs from the command line; the web UI overrides users, rate and run time. */
export function runnerOptionsOf(cli: CliOptions): RunnerOptions {
  return {
    hosts: { gateway: cli.host, catalog: cli.catalogHost, cart: cli.cartHost },
    users: cli.users,
    spawnRate: cli.spawnRate,
    rate: cli.rate,
    runTimeMs: cli.runTimeMs,
    maxRequests: cli.maxRequests,
    thinkTime: cli.thinkTime,
    metricsUsers: cli.metricsUsers,
    metricsIntervalMs: cli.metricsIntervalMs,
    weights: { browse: cli.browseWeight, cart: cli.cartWeight },
    stopTimeoutMs: cli.stopTimeoutMs,
    maxInFlight: cli.maxInFlight,
    ...(cli.seed === undefined ? {} : { seed: cli.seed }),
  }
}
