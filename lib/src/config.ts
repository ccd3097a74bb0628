// Configuration from the environment, in one typed place.
// `loadConfig` is pure: it reads only the `env` it is given and either returns a frozen object or
// throws a ConfigError whose message names the offending variable, so a process stops at start with
// one clear line instead of misbehaving later.

import { DEFAULT_MAX_BODY_BYTES } from '@shopstack/contracts/limits'
import { DEFAULT_PORTS, defaultUrl, type ServiceName } from '@shopstack/contracts/services'
import { SAMPLERS, type SamplerName, type Sampling } from './telemetry/sampling.ts'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type Range = readonly [min: number, max: number]

export interface SimulationConfig {
  /** Simulated latency range in milliseconds, [0, 0] when off. */
  readonly latencyMs: Range
  /** Probability (0..1) that a simulated write fails. */
  readonly failureRate: number
}

export interface Config {
  readonly service: ServiceName
  readonly version: string
  readonly environment: string
  readonly host: string
  readonly port: number
  /** The first catalog instance; `catalogUrls` lists all of them (comma-separated variable). */
  readonly catalogUrl: string
  readonly catalogUrls: readonly string[]
  /** The first cart instance; `cartUrls` lists all of them (comma-separated variable). */
  readonly cartUrl: string
  readonly cartUrls: readonly string[]
  /**
   * Catalog instances found by DNS (`CATALOG_SERVICE_URL=dns+http://catalog-pods:8001`): the name
   * is resolved every `discoveryIntervalMs` and each address is an instance. `catalogUrls` is then
   * the name itself (http://catalog-pods:8001), what is used until the first lookup answers.
   */
  readonly catalogDiscovery: DiscoveryTarget | undefined
  /** Cart instances found by DNS (`CART_SERVICE_URL=dns+http://cart-pods:8002`), as the catalog's. */
  readonly cartDiscovery: DiscoveryTarget | undefined
  /** How often a `dns+` name is resolved again, in milliseconds (DISCOVERY_INTERVAL_MS). */
  readonly discoveryIntervalMs: number
  /** Where carts live: undefined for the embedded SQLite store, or a redis:// URL. */
  readonly cartStoreUrl: string | undefined
  readonly simulation: SimulationConfig
  /** OTLP/HTTP base URL (for example http://localhost:4318); undefined turns tracing off. */
  readonly otlpEndpoint: string | undefined
  /** Headers sent with every OTLP export (OTEL_EXPORTER_OTLP_HEADERS, then _TRACES_HEADERS). */
  readonly otlpHeaders: Readonly<Record<string, string>>
  /** 'lean' (our tracer, the default) or 'plugin' (@elysiajs/opentelemetry). */
  readonly tracingMode: TracingMode
  /** Which traces are recorded (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG). */
  readonly sampling: Sampling
  /** Whether /livez, /healthz, /readyz and /metrics make spans and info log lines (TRACE_PROBES). */
  readonly traceProbes: boolean
  readonly logLevel: string
  /** SQLite database file, or ':memory:'. */
  readonly databasePath: string
  /** Per-call timeout for upstream requests, in milliseconds. */
  readonly upstreamTimeoutMs: number
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number
  /** Longest time a request body may take to arrive once its handler reads it (BODY_TIMEOUT_MS). */
  readonly bodyTimeoutMs: number
  /** Longest time in-flight requests get to finish after SIGTERM, in milliseconds. */
  readonly drainTimeoutMs: number
  /** How long a SIGTERMed service keeps serving, unready, before it stops accepting (ms). */
  readonly drainGraceMs: number
  /** How often each upstream instance's readiness is checked, in milliseconds; 0 turns it off. */
  readonly healthCheckIntervalMs: number
  /** Upstream retries in flight as a share of calls in flight (RETRY_BUDGET_RATIO); 'off': no budget. */
  readonly retryBudgetRatio: number | 'off'
  /** Bearer token for /admin; undefined leaves the admin API open. */
  readonly adminToken: string | undefined
  /** Origins allowed to call the gateway from a browser; ['*'] for any. */
  readonly corsOrigins: readonly string[]
}

type Env = Record<string, string | undefined>

/** A DNS name whose every address is an instance (a Kubernetes headless Service's). */
export interface DiscoveryTarget {
  readonly name: string
  readonly port: number
  readonly protocol: 'http' | 'https'
}

export type TracingMode = 'lean' | 'plugin'

/** The original ShopStack's simulated database behaviour, per service. */
export const DEFAULT_SIMULATION: Record<ServiceName, SimulationConfig> = {
  gateway: { latencyMs: [0, 0], failureRate: 0 },
  catalog: { latencyMs: [20, 60], failureRate: 0 },
  cart: { latencyMs: [30, 90], failureRate: 0.01 },
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function loadConfig(service: ServiceName, env: Env = Bun.env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === '' ? undefined : value
  }

  const simulationOn = parseSwitch('SIMULATION', read('SIMULATION') ?? 'on')
  const defaults = DEFAULT_SIMULATION[service]
  const simulation: SimulationConfig = simulationOn
    ? {
        latencyMs: parseRange('SIM_LATENCY_MS', read('SIM_LATENCY_MS')) ?? defaults.latencyMs,
        failureRate: parseFraction('SIM_FAILURE_RATE', read('SIM_FAILURE_RATE')) ?? defaults.failureRate,
      }
    : { latencyMs: [0, 0], failureRate: 0 }

  const logLevel = read('LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }

  const otlp = read('OTLP_ENDPOINT') ?? read('OTEL_EXPORTER_OTLP_ENDPOINT')
  const otlpName = read('OTLP_ENDPOINT') ? 'OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT'

  const catalog = parseInstances('CATALOG_SERVICE_URL', read('CATALOG_SERVICE_URL') ?? defaultUrl('catalog'))
  const cart = parseInstances('CART_SERVICE_URL', read('CART_SERVICE_URL') ?? defaultUrl('cart'))
  const tracingMode = read('TRACING_MODE') ?? 'lean'
  if (tracingMode !== 'lean' && tracingMode !== 'plugin') {
    throw new ConfigError(`TRACING_MODE must be "lean" or "plugin", got "${tracingMode}"`)
  }
  // Values are case-insensitive (OpenTelemetry's environment specification); a wrong one stops the
  // service at start, like every other variable here, instead of falling back silently.
  const sampler = (read('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase()
  if (!(SAMPLERS as readonly string[]).includes(sampler)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}, got "${sampler}"`)
  }
  const adminToken = read('ADMIN_TOKEN')
  if (adminToken !== undefined && !/^[\x21-\x7e]{8,256}$/.test(adminToken)) {
    throw new ConfigError('ADMIN_TOKEN must be 8 to 256 visible ASCII characters')
  }
  const cartStoreUrl = read('CART_STORE_URL')
  if (cartStoreUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(cartStoreUrl)) {
    throw new ConfigError(
      `CART_STORE_URL must be a redis:// URL (or unset for SQLite), got "${redactUrl(cartStoreUrl)}"`,
    )
  }

  return Object.freeze({
    service,
    version: read('SERVICE_VERSION') ?? '0.1.0',
    environment: read('DEPLOYMENT_ENVIRONMENT') ?? 'development',
    // Loopback unless told: a shop started on a laptop (bun run dev, bun run start) is not open
    // to the network it sits on. The container image sets HOST=0.0.0.0.
    host: read('HOST') ?? '127.0.0.1',
    port: parseInteger('PORT', read('PORT'), 0, 65535) ?? DEFAULT_PORTS[service],
    catalogUrl: catalog.urls[0] as string,
    catalogUrls: Object.freeze(catalog.urls),
    cartUrl: cart.urls[0] as string,
    cartUrls: Object.freeze(cart.urls),
    catalogDiscovery: catalog.discovery,
    cartDiscovery: cart.discovery,
    // At least 100 ms: a lookup per request's worth of time would load the cluster's DNS for nothing.
    discoveryIntervalMs:
      parseInteger('DISCOVERY_INTERVAL_MS', read('DISCOVERY_INTERVAL_MS'), 100, 300_000) ?? 5000,
    cartStoreUrl,
    simulation: Object.freeze(simulation),
    otlpEndpoint: otlp === undefined ? undefined : parseUrl(otlpName, otlp),
    otlpHeaders: Object.freeze({
      ...parseHeaders('OTEL_EXPORTER_OTLP_HEADERS', read('OTEL_EXPORTER_OTLP_HEADERS')),
      ...parseHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS', read('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
    }),
    tracingMode,
    sampling: Object.freeze({
      sampler: sampler as SamplerName,
      ratio: sampler.endsWith('traceidratio')
        ? (parseFraction('OTEL_TRACES_SAMPLER_ARG', read('OTEL_TRACES_SAMPLER_ARG')) ?? 1)
        : 1,
    }),
    traceProbes: parseBoolean('TRACE_PROBES', read('TRACE_PROBES')) ?? false,
    logLevel,
    databasePath: read('DATABASE_PATH') ?? `data/${service}.sqlite`,
    upstreamTimeoutMs: parseInteger('UPSTREAM_TIMEOUT_MS', read('UPSTREAM_TIMEOUT_MS'), 1, 600_000) ?? 5000,
    maxBodyBytes:
      parseInteger('MAX_BODY_BYTES', read('MAX_BODY_BYTES'), 64, 10_485_760) ?? DEFAULT_MAX_BODY_BYTES,
    bodyTimeoutMs: parseInteger('BODY_TIMEOUT_MS', read('BODY_TIMEOUT_MS'), 100, 600_000) ?? 10_000,
    drainTimeoutMs: parseInteger('DRAIN_TIMEOUT_MS', read('DRAIN_TIMEOUT_MS'), 0, 600_000) ?? 10_000,
    drainGraceMs: parseInteger('DRAIN_GRACE_MS', read('DRAIN_GRACE_MS'), 0, 600_000) ?? 3000,
    healthCheckIntervalMs:
      parseInteger('HEALTH_CHECK_INTERVAL_MS', read('HEALTH_CHECK_INTERVAL_MS'), 0, 60_000) ?? 1000,
    retryBudgetRatio: parseRetryBudget(read('RETRY_BUDGET_RATIO')),
    adminToken,
    corsOrigins: Object.freeze(parseOrigins(read('CORS_ORIGINS') ?? '*')),
  })
}

function parseSwitch(name: string, value: string): boolean {
  if (['on', 'true', '1', 'yes'].includes(value)) return true
  if (['off', 'false', '0', 'no'].includes(value)) return false
  throw new ConfigError(`${name} must be "on" or "off", got "${value}"`)
}

/** `true` or `false` (any case); undefined when unset. */
export function parseBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  const lower = value.toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  throw new ConfigError(`${name} must be "true" or "false", got "${value}"`)
}

function parseInteger(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`)
  }
  return n
}

function parseFraction(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new ConfigError(`${name} must be a number from 0 to 1, got "${value}"`)
  }
  return n
}

/**
 * A share of 0 to 1 (Envoy's 20% by default), or `off` for no budget at all: a way to see the retry
 * storm the budget holds back (loadtest/scenarios/retry-storm-unbudgeted.json), never for production.
 */
function parseRetryBudget(value: string | undefined): number | 'off' {
  if (value === undefined) return 0.2
  if (value.toLowerCase() === 'off') return 'off'
  // Digits only: Number() would take "", "0x1" or "Infinity".
  if (!/^(\d+\.?\d*|\.\d+)$/.test(value) || Number(value) > 1) {
    throw new ConfigError(`RETRY_BUDGET_RATIO must be a number from 0 to 1 or "off", got "${value}"`)
  }
  return Number(value)
}

/** "20-60" (milliseconds) or a single "25". */
function parseRange(name: string, value: string | undefined): Range | undefined {
  if (value === undefined) return undefined
  const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(value)
  const min = Number(match?.[1])
  const max = Number(match?.[2] ?? match?.[1])
  if (!match || min > max || max > 600_000) {
    throw new ConfigError(`${name} must be a range in milliseconds like "20-60", got "${value}"`)
  }
  return [min, max]
}

/** `*`, or a comma-separated list of origins (scheme://host[:port], no path). */
function parseOrigins(value: string): string[] {
  if (value === '*') return ['*']
  return value.split(',').map((origin) => {
    const trimmed = origin.trim()
    if (!/^https?:\/\/[^/\s]+$/.test(trimmed)) {
      throw new ConfigError(`CORS_ORIGINS must be * or origins like https://shop.example, got "${trimmed}"`)
    }
    return trimmed
  })
}

/**
 * OpenTelemetry's header list: `key1=value1,key2=value2`, values percent-encoded (the W3C
 * Baggage format the OTLP exporter specification names).
 */
function parseHeaders(name: string, value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  if (value === undefined) return headers
  for (const entry of value.split(',')) {
    if (entry.trim() === '') continue
    const at = entry.indexOf('=')
    const key = entry.slice(0, at).trim().toLowerCase()
    let decoded: string | undefined
    try {
      decoded = at > 0 ? decodeURIComponent(entry.slice(at + 1).trim()) : undefined
    } catch {
      decoded = undefined
    }
    if (!/^[!#$%&'*+.^_`|~\w-]+$/.test(key) || decoded === undefined || /[\r\n\0]/.test(decoded)) {
      throw new ConfigError(
        `${name} must be a list like "api-key=secret,tenant=shop", got an invalid entry "${entry.trim().split('=')[0]}=…"`,
      )
    }
    headers[key] = decoded
  }
  return headers
}

// Userinfo in a URL (RFC 3986 §3.2.1, `scheme://user:password@host`): everything from `//` to the
// last `@` before the path, query or fragment.
const USERINFO = /(\b[a-z][a-z\d+.-]*:\/\/)[^/?#\s]*@/gi

/**
 * A URL (or a text holding URLs) fit to show: the userinfo of each is replaced by `***`, so
 * `http://user:pw@cart:8002` becomes `http://***@cart:8002`. The configuration's URLs are public
 * (scheme, host, port, path) except their userinfo, which may hold a password.
 */
export function redactUrl(text: string): string {
  return text.includes('@') ? text.replace(USERINFO, '$1***@') : text
}

/**
 * A service's instances: one URL, several separated by commas, or one `dns+http://name:port`
 * whose every address is an instance (discovery; the name's URL is used until it is resolved).
 */
function parseInstances(
  name: string,
  value: string,
): { urls: string[]; discovery: DiscoveryTarget | undefined } {
  if (!value.startsWith('dns+')) return { urls: parseUrlList(name, value), discovery: undefined }
  const shown = redactUrl(value)
  const expected = `${name} must be one dns+http(s)://name:port with nothing else (no list, path or credentials), got "${shown}"`
  let url: URL
  try {
    url = new URL(value.slice('dns+'.length))
  } catch {
    throw new ConfigError(expected)
  }
  const protocol = url.protocol.slice(0, -1)
  if (
    (protocol !== 'http' && protocol !== 'https') ||
    value.includes(',') ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.port === ''
  ) {
    throw new ConfigError(expected)
  }
  return {
    urls: [url.origin],
    discovery: Object.freeze({ name: url.hostname, port: Number(url.port), protocol }),
  }
}

/** One URL, or several separated by commas (instances of one service). */
function parseUrlList(name: string, value: string): string[] {
  const urls = value.split(',').map((part) => part.trim())
  if (urls.some((url) => url === ''))
    throw new ConfigError(`${name} has an empty entry in "${redactUrl(value)}"`)
  return urls.map((url) => parseUrl(name, url))
}

function parseUrl(name: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${redactUrl(value)}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http(s) URL, got "${redactUrl(value)}"`)
  }
  return value.replace(/\/+$/, '')
}
