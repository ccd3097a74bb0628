// The console's configuration from the environment, as the services' (lib/src/config.ts): a pure
// function of `env` that returns a frozen object or throws one ConfigError naming the variable.

import { CONSOLE_PORT, defaultUrl, otelServiceName, SERVICE_NAMES } from '@shopstack/contracts/services'
import { ConfigError } from '@shopstack/lib/config'
import type { ScrapeTarget } from './scraper.ts'

export interface ConsoleConfig {
  readonly host: string
  readonly port: number
  /** SQLite file, or ':memory:'. */
  readonly databasePath: string
  readonly maxSpans: number
  readonly maxLogs: number
  readonly targets: readonly Readonly<ScrapeTarget>[]
  readonly scrapeIntervalMs: number
  /** The services' ADMIN_TOKEN, added by the faults proxy so it never reaches the browser. */
  readonly adminToken: string | undefined
}

/**
 * The three services on this machine, at their default ports, named as their spans name them
 * (shopstack-catalog), so spans, logs and scraped metrics of one service meet under one name.
 */
export function defaultTargets(): ScrapeTarget[] {
  return SERVICE_NAMES.map((service) => ({
    service: otelServiceName(service),
    url: defaultUrl(service),
  }))
}

export function loadConsoleConfig(env: Record<string, string | undefined> = Bun.env): ConsoleConfig {
  const read = (name: string) => {
    const value = env[name]?.trim()
    return value === '' ? undefined : value
  }
  const whole = (name: string, fallback: number, min: number, max: number) => {
    const raw = read(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`)
    }
    return n
  }
  return Object.freeze({
    host: read('CONSOLE_HOST') ?? '127.0.0.1',
    port: whole('CONSOLE_PORT', CONSOLE_PORT, 0, 65_535),
    databasePath: read('CONSOLE_DATABASE_PATH') ?? 'data/console.sqlite',
    maxSpans: whole('CONSOLE_MAX_SPANS', 200_000, 1_000, 50_000_000),
    maxLogs: whole('CONSOLE_MAX_LOGS', 200_000, 1_000, 50_000_000),
    targets: Object.freeze(parseTargets(read('CONSOLE_TARGETS'))),
    scrapeIntervalMs: whole('CONSOLE_SCRAPE_INTERVAL_MS', 5_000, 250, 600_000),
    adminToken: read('ADMIN_TOKEN'),
  })
}

/** `gateway=http://localhost:8000,catalog=http://…`; unset means the three services on localhost. */
export function parseTargets(raw: string | undefined): ScrapeTarget[] {
  if (raw === undefined) return defaultTargets()
  const targets = raw.split(',').map((entry) => {
    const [service = '', url = ''] = entry.split('=', 2).map((part) => part.trim())
    let valid = /^[a-z][a-z0-9_-]*$/i.test(service)
    try {
      valid &&= ['http:', 'https:'].includes(new URL(url).protocol)
    } catch {
      valid = false
    }
    if (!valid) {
      throw new ConfigError(
        `CONSOLE_TARGETS must be name=url pairs separated by commas (gateway=http://localhost:8000), not "${entry}"`,
      )
    }
    return { service, url: url.replace(/\/+$/, '') }
  })
  const names = targets.map((t) => t.service)
  const repeated = names.find((name, index) => names.indexOf(name) !== index)
  if (repeated) throw new ConfigError(`CONSOLE_TARGETS names "${repeated}" twice; each service once`)
  return targets
}
