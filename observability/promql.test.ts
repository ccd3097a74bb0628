// Every PromQL expression in the provisioned dashboards and in the rules, evaluated against a real
// Prometheus that scrapes the real services as the Compose config does (same job, labels and
// honor_labels, the same rule files loaded) after traffic through the gateway. Each returns data,
// or is listed below as legitimately empty — and then must still parse and evaluate.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { type Stack, startStack, waitFor } from '../e2e/harness.ts'
import {
  hasPrometheus,
  type OtlpSink,
  type RunningPrometheus,
  sendTraffic,
  startOtlpSink,
  startPrometheus,
} from '../e2e/prometheus.ts'
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

let sink: OtlpSink
let stack: Stack
let prometheus: RunningPrometheus

describe.skipIf(!hasPrometheus)('PromQL of the dashboards and rules, against the real services', () => {
  const expressions = [...dashboardExpressions(), ...ruleExpressions()]

  beforeAll(async () => {
    sink = startOtlpSink()
    // The simulation on, fast, with frequent cart failures: 5xx, simulated faults and failed
    // cart operations all exist, so the panels about them have something to show.
    stack = await startStack({
      env: { OTLP_ENDPOINT: sink.url, SIMULATION: 'on', SIM_LATENCY_MS: '1-5', SIM_FAILURE_RATE: '0.3' },
    })
    // Targets as the Compose config has them, but pointed at the local processes.
    const config = readYaml<{
      scrape_configs: Array<{
        job_name: string
        honor_labels?: boolean
        static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>
      }>
    }>('observability/prometheus/prometheus.yml')
    const job = config.scrape_configs.find((c) => c.job_name === 'shopstack')
    if (!job) throw new Error('prometheus.yml has no shopstack job')
    prometheus = await startPrometheus({
      job: job.job_name,
      honorLabels: job.honor_labels,
      ruleFiles: RULE_FILES,
      targets: job.static_configs.flatMap(({ targets, labels }) =>
        targets.map((target) => {
          const service = stack[target.split(':')[0] as (typeof SERVICES)[number]]
          if (!service) throw new Error(`scrape target ${target} is not one of the services`)
          return { url: service.url, labels }
        }),
      ),
    })
    await prometheus.waitForScrapes(1)
    await sendTraffic(stack.gateway.url, 1)
    // Two scrapes: the first may have begun before the traffic ended.
    await prometheus.waitForScrapes(2)
    await sendTraffic(stack.gateway.url, 2)
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
    await stack?.stop()
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
