// Every PromQL expression in the provisioned dashboards and in the rules, evaluated against a real
// Prometheus that scrapes the real services as the Compose config does (same job, labels and
// metric relabelling, the same rule files loaded) after traffic through the gateway. Each returns
// data, or is listed below as legitimately empty — and then must still parse and evaluate.
//
// The stack is the scaled one (`--profile scale`): two cart replicas sharing one Redis (each its
// own SQLite file where redis-server is not installed; the metrics are the same). After the
// traffic, cart-2 is stopped and reads go on until the gateway ejects it, so the retry, ejection
// and instance-state panels show what they are for.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RunningService, startService, waitFor } from '../e2e/harness.ts'
import { type OtlpReceiver, startOtlpReceiver } from '../e2e/otlp-receiver.ts'
import { hasPrometheus, type RunningPrometheus, sendTraffic, startPrometheus } from '../e2e/prometheus.ts'
import { hasRedis, type RunningRedis, startRedis } from '../e2e/redis.ts'
import { filesUnder, OBSERVABILITY, readJson, readYaml } from './stack.ts'

const SERVICES = ['gateway', 'catalog', 'cart'] as const
/** Expressions that are empty outside Compose, with the reason; each must still evaluate. */
const LEGITIMATELY_EMPTY: Record<string, string> = {
  'up{job="otel-collector"}': 'only the Compose stack runs a collector',
  'sum by (receiver) (rate(otelcol_receiver_accepted_spans_total[$__rate_interval]))': 'collector metric',
  'sum by (receiver) (rate(otelcol_receiver_accepted_log_records_total[$__rate_interval]))':
    'collector metric',
  'sum by (exporter) (rate(otelcol_exporter_send_failed_spans_total[$__rate_interval]))':
    'collector metric; empty even there while exports succeed',
  'sum by (exporter) (rate(otelcol_exporter_send_failed_log_records_total[$__rate_interval]))':
    'collector metric; empty even there while exports succeed',
  'sum by (service, upstream) (rate(upstream_retry_budget_exhausted_total{job="shopstack"}[$__rate_interval]))':
    'only when more than 20% of the calls in flight want a retry at once (a whole upstream failing under load)',
  'sum by (upstream) (rate(upstream_retry_budget_exhausted_total{job="shopstack", service="$service"}[$__rate_interval]))':
    'as above',
  'sum by (service, upstream) (rate(upstream_shed_total{job="shopstack"}[$__rate_interval]))':
    'only beyond 512 calls in flight to one upstream',
  'sum by (upstream) (rate(upstream_shed_total{job="shopstack", service="$service"}[$__rate_interval]))':
    'as above',
}

interface Expression {
  where: string
  expr: string
  /** Empty is fine: an alert condition is empty while nothing is wrong. */
  mayBeEmpty: boolean
  exemplars: boolean
}

type Panel = {
  title?: string
  datasource?: { uid?: string }
  targets?: Array<{ expr?: string; exemplar?: boolean; datasource?: { uid?: string } }>
  panels?: Panel[]
}

function dashboardExpressions(): Expression[] {
  const found: Expression[] = []
  const files = filesUnder('observability/grafana/dashboards').filter((f) => f.endsWith('.json'))
  for (const file of files) {
    const dashboard = readJson<{
      panels: Panel[]
      templating?: { list: Array<{ name: string; query?: unknown }> }
    }>(`observability/grafana/dashboards/${file}`)
    const visit = (panel: Panel) => {
      for (const target of panel.targets ?? []) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid
        if (uid !== 'prometheus' || !target.expr) continue
        found.push({
          where: `${file}: ${panel.title}`,
          expr: target.expr,
          mayBeEmpty: target.expr in LEGITIMATELY_EMPTY,
          exemplars: target.exemplar === true,
        })
      }
      for (const child of panel.panels ?? []) visit(child)
    }
    for (const panel of dashboard.panels) visit(panel)
    // label_values(<selector>, <label>) in a variable query: the selector must match series.
    for (const variable of dashboard.templating?.list ?? []) {
      const query = JSON.stringify(variable.query ?? '')
      const selector = /label_values\((.+),\s*\w+\)/.exec(JSON.parse(query).query ?? JSON.parse(query))?.[1]
      if (selector) {
        found.push({
          where: `${file}: $${variable.name}`,
          expr: selector,
          mayBeEmpty: false,
          exemplars: false,
        })
      }
    }
  }
  return found
}

const RULE_FILES = filesUnder('observability/prometheus/rules').map((f) =>
  join(OBSERVABILITY, 'prometheus', 'rules', f),
)

function ruleExpressions(): Expression[] {
  return RULE_FILES.flatMap((file) =>
    readYaml<{
      groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>
    }>(file).groups.flatMap((group) =>
      group.rules.map((rule) => ({
        where: `${group.name}: ${rule.record ?? rule.alert}`,
        expr: rule.expr.trim(),
        mayBeEmpty: rule.alert !== undefined,
        exemplars: false,
      })),
    ),
  )
}

/** Grafana's variables, as they would be expanded: $service once per service. */
function expand(expr: string): string[] {
  const base = expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
  return base.includes('$service') ? SERVICES.map((s) => base.replaceAll('$service', s)) : [base]
}

let sink: OtlpReceiver
let redis: RunningRedis | undefined
let dataDir: string
let prometheus: RunningPrometheus
const running: RunningService[] = []
/** The local processes, by the name compose gives their containers. */
const local: Record<string, RunningService> = {}

/** Scrape targets as prometheus.yml has them: static ones, and the replicas found by DNS. */
type ScrapeJob = {
  job_name: string
  honor_labels?: boolean
  static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>
  dns_sd_configs?: Array<{ names: string[] }>
  metric_relabel_configs?: unknown[]
}

describe.skipIf(!hasPrometheus)('PromQL of the dashboards and rules, against the real services', () => {
  const expressions = [...dashboardExpressions(), ...ruleExpressions()]

  beforeAll(async () => {
    sink = startOtlpReceiver()
    dataDir = mkdtempSync(join(tmpdir(), 'shopstack-promql-'))
    redis = hasRedis ? await startRedis() : undefined
    // The simulation on, fast, with frequent cart failures: 5xx, simulated faults and failed
    // cart operations all exist, so the panels about them have something to show.
    const env = { OTLP_ENDPOINT: sink.url, SIMULATION: 'on', SIM_LATENCY_MS: '1-5', SIM_FAILURE_RATE: '0.3' }
    const start = async (
      name: string,
      service: 'catalog' | 'cart' | 'gateway',
      extra: Record<string, string>,
    ) => {
      const started = await startService(service, { env: { ...env, ...extra } })
      running.push(started)
      local[name] = started
      return started
    }
    const catalog = await start('catalog', 'catalog', { DATABASE_PATH: join(dataDir, 'catalog.sqlite') })
    const cartEnv = (name: string): Record<string, string> =>
      redis
        ? { CATALOG_SERVICE_URL: catalog.url, CART_STORE_URL: redis.url }
        : { CATALOG_SERVICE_URL: catalog.url, DATABASE_PATH: join(dataDir, `${name}.sqlite`) }
    const carts = [
      await start('cart', 'cart', cartEnv('cart')),
      await start('cart-2', 'cart', cartEnv('cart-2')),
    ]
    const gateway = await start('gateway', 'gateway', {
      CATALOG_SERVICE_URL: catalog.url,
      CART_SERVICE_URL: carts.map((cart) => cart.url).join(','),
      // No readiness checks: a dead replica must be ejected by the calls that fail on it (the
      // Ejections panel's data), not taken out first by a check, which a busy machine can make win.
      HEALTH_CHECK_INTERVAL_MS: '0',
    })
    // Targets as the Compose config has them, but pointed at the local processes.
    const config = readYaml<{ scrape_configs: ScrapeJob[] }>('observability/prometheus/prometheus.yml')
    const job = config.scrape_configs.find((c) => c.job_name === 'shopstack')
    if (!job) throw new Error('prometheus.yml has no shopstack job')
    const target = (host: string, labels?: Record<string, string>) => {
      const service = local[host]
      if (!service) throw new Error(`scrape target ${host} is not one of the services`)
      return { url: service.url, labels }
    }
    prometheus = await startPrometheus({
      job: job.job_name,
      honorLabels: job.honor_labels ?? false,
      metricRelabelConfigs: job.metric_relabel_configs,
      ruleFiles: RULE_FILES,
      targets: [
        ...job.static_configs.flatMap(({ targets, labels }) =>
          targets.map((t) => target(t.split(':')[0] as string, labels)),
        ),
        // What the job's relabel_configs make of a discovered replica: its service's name.
        ...(job.dns_sd_configs ?? []).flatMap(({ names }) =>
          names.map((name) => target(name, { service: name.replace(/-\d+$/, '') })),
        ),
      ],
    })
    await prometheus.waitForScrapes(1)
    await sendTraffic(gateway.url, 1)
    // Two scrapes: the first may have begun before the traffic ended.
    await prometheus.waitForScrapes(2)
    await sendTraffic(gateway.url, 2)
    await prometheus.waitForScrapes(2)
    // A replica dies: reads that reach it fail to connect and are retried on cart; after five
    // failures in a row the gateway ejects it (upstream_ejections_total, upstream_instance_state 2).
    await local['cart-2']?.stop()
    await waitFor(
      async () => {
        await (await fetch(`${gateway.url}/cart/promql-after`)).arrayBuffer()
        // The counter exists from the start at 0: wait for an ejection to count.
        const text = await (await fetch(`${gateway.url}/metrics`)).text()
        return text
          .split('\n')
          .some((line) => line.startsWith('upstream_ejections_total{') && Number(line.split(' ').pop()) > 0)
      },
      10_000,
      10,
    )
    await prometheus.waitForScrapes(2)
    // Recording rules run on their own clock; wait until the last group has seen the traffic.
    await waitFor(
      async () => (await prometheus.vector('shopstack:slo_errors:ratio_rate5m')).length === 2,
      10_000,
      200,
    )
  }, 90_000)

  afterAll(async () => {
    await prometheus?.stop()
    await Promise.all(running.map((service) => service.stop()))
    await redis?.stop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    sink?.stop()
  })

  test('there are expressions from both dashboards and the rules', () => {
    expect(expressions.filter((e) => e.where.startsWith('shopstack-overview')).length).toBeGreaterThan(15)
    expect(expressions.filter((e) => e.where.startsWith('shopstack-service')).length).toBeGreaterThan(15)
    expect(expressions.filter((e) => e.where.startsWith('shopstack-')).length).toBeGreaterThan(15)
    expect(RULE_FILES.length).toBeGreaterThan(0)
  })

  test('the list of legitimately empty expressions names only expressions that exist', () => {
    const all = new Set(expressions.map((e) => e.expr))
    for (const expr of Object.keys(LEGITIMATELY_EMPTY)) expect(all, expr).toContain(expr)
  })

  test('every rule loads and evaluates without error', async () => {
    const groups = await prometheus.rules()
    const rules = groups.flatMap((g) => g.rules)
    expect(rules.length).toBe(ruleExpressions().length)
    for (const rule of rules)
      expect({ rule: rule.name, health: rule.health, error: rule.lastError }).toMatchObject({ health: 'ok' })
  })

  test('every expression returns data, or is listed as legitimately empty and evaluates', async () => {
    const failures: string[] = []
    for (const { where, expr, mayBeEmpty } of expressions) {
      const results = await Promise.all(
        expand(expr).map(async (query) => {
          try {
            const data = (await prometheus.query(query)) as {
              resultType: string
              result: unknown[] | unknown
            }
            return Array.isArray(data.result) ? data.result.length : 1
          } catch (error) {
            failures.push(`${where}: ${query}\n  ${String(error)}`)
            return 0
          }
        }),
      )
      // With $service, data for one service is enough (the catalog has no upstreams, only the
      // cart has cart operations).
      if (!mayBeEmpty && results.every((n) => n === 0)) failures.push(`${where}: no data for ${expr}`)
    }
    expect(failures).toEqual([])
  })

  test('every panel that shows exemplars gets exemplars with a trace id', async () => {
    const withExemplars = expressions.filter((e) => e.exemplars)
    expect(withExemplars.length).toBeGreaterThan(0)
    for (const { where, expr } of withExemplars) {
      const series = (await Promise.all(expand(expr).map((q) => prometheus.exemplars(q)))).flat()
      const ids = series.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id))
      expect(ids.length, where).toBeGreaterThan(0)
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    }
  })

  test('the SLO and error-ratio recordings see the simulated cart failures', async () => {
    const cart = await prometheus.vector('shopstack:slo_errors:ratio_rate5m{slo="cart"}')
    expect(Number(cart[0]?.value[1])).toBeGreaterThan(0)
    const browsing = await prometheus.vector('shopstack:slo_errors:ratio_rate5m{slo="browsing"}')
    expect(browsing[0]?.value[1]).toBe('0')
    const ratios = await prometheus.vector('shopstack:http_errors:ratio_rate5m')
    expect(new Set(ratios.map((s) => s.metric.service))).toEqual(new Set(SERVICES))
  })
})
