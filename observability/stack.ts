// The Compose stack's files, read the way Docker, Prometheus, the collector and Grafana read them,
// for the tests beside this file: compose.yaml (with YAML merge keys), the Dockerfile's stages,
// and the ports each container really listens on according to its own config.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { parse } from 'yaml'

export const ROOT = join(import.meta.dir, '..')
export const OBSERVABILITY = import.meta.dir

type Json = Record<string, unknown>

export function readYaml<T = Json>(path: string): T {
  // Compose honours YAML 1.1 merge keys (`<<: *anchor`); so must we.
  return parse(readText(path), { merge: true }) as T
}

/** A file's text; a relative path is relative to the repository root. */
export function readText(path: string): string {
  return readFileSync(isAbsolute(path) ? path : join(ROOT, path), 'utf8')
}

export function readJson<T = Json>(path: string): T {
  return JSON.parse(readText(path)) as T
}

// --- compose.yaml ------------------------------------------------------------------------------

export interface ComposeVolume {
  type: 'bind' | 'volume' | string
  source: string
  target: string
  read_only?: boolean
}

export interface ComposeService {
  image?: string
  build?: { context: string; dockerfile?: string; target?: string }
  command?: string[] | string
  environment?: Record<string, string>
  ports?: string[]
  volumes?: ComposeVolume[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  restart?: string
  stop_grace_period?: string
  profiles?: string[]
  logging?: { driver: string; options?: Record<string, string> }
  deploy?: { resources?: { limits?: { memory?: string } } }
}

export interface Compose {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}

export const compose = (): Compose => readYaml<Compose>('compose.yaml')

/** Services that start with a plain `docker compose up` (no profile). */
export function defaultServices(c: Compose): string[] {
  return Object.entries(c.services)
    .filter(([, service]) => !service.profiles?.length)
    .map(([name]) => name)
}

/** "8000:8000", "127.0.0.1:24224:24224" -> host ip, host port, container port. */
export function parsePort(spec: string): { hostIp?: string; published: number; target: number } {
  const parts = spec.split('/')[0]?.split(':') ?? []
  const target = Number(parts.at(-1))
  const published = Number(parts.at(-2) ?? target)
  return { hostIp: parts.length === 3 ? parts[0] : undefined, published, target }
}

/**
 * A value as Compose interpolates it when the variable is unset: `${VAR:-default}` and
 * `${VAR-default}` give the default, `${VAR}` nothing.
 */
export function interpolateDefaults(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}/g, (_, fallback = '') => fallback)
}

/** Compose's durations (1m30s, 15s, 500ms) in milliseconds. */
export function durationMs(value: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let total = 0
  const rest = value.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_, n, unit) => {
    total += Number(n) * (units[unit] ?? Number.NaN)
    return ''
  })
  if (rest !== '' || value === '') throw new Error(`not a Compose duration: ${value}`)
  return total
}

/** Compose's memory units (b, k, m, g) in bytes. */
export function memoryBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(value.trim())
  if (!match) throw new Error(`not a Compose memory size: ${value}`)
  const scale = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]?.toLowerCase() ?? '']
  return Number(match[1]) * (scale ?? Number.NaN)
}

// --- Dockerfile --------------------------------------------------------------------------------

export interface DockerStage {
  name: string
  from: string
  /** Instructions in order, continuation lines joined: [keyword, rest]. */
  instructions: Array<[string, string]>
}

export function dockerStages(text = readText('Dockerfile')): {
  args: Record<string, string>
  stages: DockerStage[]
} {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
  const args: Record<string, string> = {}
  const stages: DockerStage[] = []
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') {
      const [from = '', , name = ''] = rest.split(/\s+/)
      stages.push({ name: name || String(stages.length), from, instructions: [] })
    } else if (stages.length === 0 && upper === 'ARG') {
      const [key = '', value = ''] = rest.split('=')
      args[key] = value
    } else {
      stages.at(-1)?.instructions.push([upper, rest])
    }
  }
  return { args, stages }
}

/** A stage's instructions, its parents' first (a stage inherits ENV, USER, HEALTHCHECK). */
export function stageChain(stages: DockerStage[], name: string): Array<[string, string]> {
  const stage = stages.find((s) => s.name === name)
  if (!stage) throw new Error(`no Dockerfile stage named ${name}`)
  const parent = stages.some((s) => s.name === stage.from) ? stageChain(stages, stage.from) : []
  return [...parent, ...stage.instructions]
}

/** ENV of a stage, inherited values included. Values in this Dockerfile are unquoted words. */
export function stageEnv(stages: DockerStage[], name: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [keyword, rest] of stageChain(stages, name)) {
    if (keyword !== 'ENV') continue
    for (const pair of rest.split(/\s+/)) {
      const [key, ...value] = pair.split('=')
      if (key) env[key] = value.join('=')
    }
  }
  return env
}

// --- where each container listens ------------------------------------------------------------

const portOf = (endpoint: unknown) => Number(String(endpoint).split(':').at(-1))

export interface CollectorConfig {
  receivers: Record<string, Json>
  processors: Record<string, Json>
  exporters: Record<string, { endpoint: string }>
  extensions?: Record<string, { endpoint?: string }>
  service: {
    extensions?: string[]
    telemetry?: {
      metrics?: { readers?: Array<{ pull?: { exporter?: { prometheus?: { port?: number } } } }> }
    }
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>
  }
}

export const collectorConfig = () => readYaml<CollectorConfig>('observability/otel-collector/config.yaml')

export function collectorPorts(config = collectorConfig()): Record<string, number> {
  const otlp = config.receivers.otlp as { protocols: Record<string, { endpoint: string }> }
  const ports: Record<string, number> = {}
  for (const [protocol, { endpoint }] of Object.entries(otlp.protocols))
    ports[`otlp-${protocol}`] = portOf(endpoint)
  ports.fluentforward = portOf((config.receivers.fluentforward as { endpoint: string }).endpoint)
  const prometheus = config.service.telemetry?.metrics?.readers?.[0]?.pull?.exporter?.prometheus
  if (prometheus?.port) ports.metrics = prometheus.port
  const health = config.extensions?.health_check?.endpoint
  if (health) ports.health = portOf(health)
  return ports
}

/** Ports the container of a compose service listens on, read from its own configuration. */
export function listeningPorts(c: Compose, name: string): number[] {
  const service = c.services[name]
  if (!service) return []
  if (service.build?.target) {
    // The load generator's UI takes its port from --web-port; the services from PORT.
    const { stages } = dockerStages()
    const command = [service.command ?? []].flat()
    const webPort = command.indexOf('--web-port')
    if (webPort >= 0) return [Number(command[webPort + 1])]
    const port = service.environment?.PORT ?? stageEnv(stages, service.build.target).PORT
    return port ? [Number(port)] : []
  }
  const image = service.image ?? ''
  if (image.startsWith('otel/opentelemetry-collector')) return Object.values(collectorPorts())
  if (image.startsWith('grafana/tempo')) {
    const tempo = readYaml<{
      server: { http_listen_port: number }
      distributor: { receivers: { otlp: { protocols: Record<string, { endpoint: string }> } } }
    }>('observability/tempo/tempo.yaml')
    const otlp = Object.values(tempo.distributor.receivers.otlp.protocols).map((p) => portOf(p.endpoint))
    return [tempo.server.http_listen_port, ...otlp]
  }
  if (image.startsWith('grafana/loki')) {
    const loki = readYaml<{ server: { http_listen_port: number; grpc_listen_port: number } }>(
      'observability/loki/loki.yaml',
    )
    return [loki.server.http_listen_port, loki.server.grpc_listen_port]
  }
  if (image.startsWith('prom/prometheus')) {
    const flag = [service.command ?? []].flat().find((arg) => arg.startsWith('--web.listen-address='))
    return [flag ? portOf(flag) : 9090]
  }
  if (image.startsWith('redis:')) {
    const command = [service.command ?? []].flat()
    const port = command.indexOf('--port')
    return [port >= 0 ? Number(command[port + 1]) : 6379]
  }
  if (image.startsWith('grafana/grafana')) return [Number(service.environment?.GF_SERVER_HTTP_PORT ?? 3000)]
  throw new Error(`no known way to tell where ${name} (${image}) listens`)
}

/** Every file under a folder, relative to it. */
export function filesUnder(dir: string): string[] {
  const abs = join(ROOT, dir)
  if (!existsSync(abs)) return []
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(abs.length + 1))
}
