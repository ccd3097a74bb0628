// Test harness for a real Prometheus: start the binary on a free loopback port with a generated
// config that scrapes the given targets (OpenMetrics, so exemplars are kept), optional rule files,
// exemplar storage on and a throw-away TSDB; query it over the HTTP API; stop it and remove its
// files. Tests that need it skip when the binary is absent (CI installs it, so there they run).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { Subprocess } from 'bun'
import { parse } from 'yaml'
import { scalePromqlDurations } from '../loadtest/src/fault-scenario.ts'
import { freePort, stopProcess } from '../scripts/processes.ts'
import { waitFor } from './harness.ts'

export const PROMETHEUS_BIN = Bun.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'
export const PROMTOOL_BIN = Bun.env.PROMTOOL_BIN ?? '/usr/bin/promtool'
export const hasPrometheus = existsSync(PROMETHEUS_BIN)
export const hasPromtool = existsSync(PROMTOOL_BIN)

export interface ScrapeTarget {
  /** Base URL of the service; /metrics is scraped. */
  url: string
  /** Target labels, added to `up` and to every scraped series that lacks them. */
  labels?: Record<string, string>
}

export interface PrometheusOptions {
  targets: ScrapeTarget[]
  /** Scrape job name; the Compose config calls the services' job "shopstack". */
  job?: string
  /** Absolute paths of rule files to load. */
  ruleFiles?: string[]
  /** Scrape and rule evaluation interval in seconds. */
  intervalSeconds?: number
  /**
   * Keep the scraped `service` label over the target's (Prometheus renames a clash to
   * `exported_service` otherwise). The Compose config does the same.
   */
  honorLabels?: boolean
  /** `metric_relabel_configs` of the job, as in a prometheus.yml (the Compose config has some). */
  metricRelabelConfigs?: unknown[]
  /** How long to wait for Prometheus to be ready. */
  timeoutMs?: number
}

/** One sample of an instant vector. */
export interface VectorSample {
  metric: Record<string, string>
  value: [number, string]
}

export interface ExemplarSeries {
  seriesLabels: Record<string, string>
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>
}

export interface RuleGroupStatus {
  name: string
  file: string
  rules: Array<{
    name: string
    type: 'alerting' | 'recording'
    health: string
    lastError?: string
    query: string
  }>
}

/** One alert as Prometheus's /api/v1/alerts lists it: pending or firing (inactive ones are not listed). */
export interface ActiveAlert {
  labels: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
  value: string
}

export interface RunningPrometheus {
  readonly url: string
  readonly port: number
  readonly process: Subprocess<'ignore', 'pipe', 'pipe'>
  /** The generated prometheus.yml, for failure messages. */
  readonly config: string
  /** Instant query; throws with Prometheus's message when the expression is invalid. */
  query(expr: string): Promise<{ resultType: string; result: unknown }>
  /** Instant query that must return a vector. */
  vector(expr: string): Promise<VectorSample[]>
  exemplars(expr: string, sinceSeconds?: number): Promise<ExemplarSeries[]>
  rules(): Promise<RuleGroupStatus[]>
  /** The alerts pending or firing now. */
  alerts(): Promise<ActiveAlert[]>
  /** Wait until every target has been scraped at least `count` more times. */
  waitForScrapes(count?: number, timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/** The prometheus.yml for these options (exported so tests can show it on failure). */
export function prometheusConfig(options: PrometheusOptions, ruleFiles: string[] = []): string {
  const {
    targets,
    job = 'shopstack',
    intervalSeconds = 1,
    honorLabels = true,
    metricRelabelConfigs,
  } = options
  // JSON is YAML, so the config needs no YAML writer.
  return JSON.stringify(
    {
      global: { scrape_interval: `${intervalSeconds}s`, evaluation_interval: `${intervalSeconds}s` },
      rule_files: ruleFiles,
      scrape_configs: [
        {
          job_name: job,
          honor_labels: honorLabels,
          scrape_timeout: `${intervalSeconds}s`,
          static_configs: targets.map((target) => {
            const url = new URL(target.url)
            return { targets: [url.host], labels: target.labels ?? {} }
          }),
          ...(metricRelabelConfigs ? { metric_relabel_configs: metricRelabelConfigs } : {}),
        },
      ],
    },
    null,
    2,
  )
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const { ruleFiles = [], timeoutMs = 15_000 } = options
  const dir = mkdtempSync(join(tmpdir(), 'shopstack-prometheus-'))
  const config = prometheusConfig(options, ruleFiles)
  const configPath = join(dir, 'prometheus.yml')
  await Bun.write(configPath, config)

  // The port is free when picked but may be taken before Prometheus binds it; try a few.
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort()
    try {
      return await launch(dir, configPath, config, port, options, timeoutMs)
    } catch (error) {
      lastError = error
      if (!String(error).includes('address already in use')) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

async function launch(
  dir: string,
  configPath: string,
  config: string,
  port: number,
  options: PrometheusOptions,
  timeoutMs: number,
): Promise<RunningPrometheus> {
  const proc = Bun.spawn(
    [
      PROMETHEUS_BIN,
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    { cwd: dir, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  )
  const stderr: string[] = []
  void collect(proc.stderr, stderr)
  void collect(proc.stdout, stderr)
  const url = `http://127.0.0.1:${port}`

  const stop = async () => void (await stopProcess(proc, 'SIGTERM', 10_000))

  const ready = await Promise.race([
    waitFor(async () => (await fetch(`${url}/-/ready`)).ok, timeoutMs, 100).then(() => true),
    proc.exited.then(() => false),
  ]).catch(() => false)
  if (!ready) {
    await stop()
    throw new Error(`prometheus did not become ready on port ${port}: ${stderr.join('')}`)
  }

  // Queries go as POST forms (no URL length limit); endpoints without parameters only take GET.
  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const form = new URLSearchParams(params)
    const response = form.size
      ? await fetch(`${url}/api/v1/${path}`, { method: 'POST', body: form })
      : await fetch(`${url}/api/v1/${path}`)
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string }
    if (body.status !== 'success') {
      throw new Error(
        `prometheus ${path} failed for ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`,
      )
    }
    return body.data
  }

  /** Samples of `up` per target over the last hour: one per scrape. */
  async function scrapeCounts(): Promise<number[]> {
    const job = options.job ?? 'shopstack'
    const data = await api<{ result: VectorSample[] }>('query', {
      query: `count_over_time(up{job="${job}"}[1h])`,
    })
    return data.result.map((sample) => Number(sample.value[1]))
  }

  return {
    url,
    port,
    process: proc,
    config,
    query: (expr) => api('query', { query: expr }),
    async vector(expr) {
      const data = await api<{ resultType: string; result: VectorSample[] }>('query', { query: expr })
      if (data.resultType !== 'vector') throw new Error(`${expr} returned a ${data.resultType}, not a vector`)
      return data.result
    },
    exemplars(expr, sinceSeconds = 3600) {
      const end = Date.now() / 1000
      return api('query_exemplars', { query: expr, start: String(end - sinceSeconds), end: String(end + 60) })
    },
    async rules() {
      return (await api<{ groups: RuleGroupStatus[] }>('rules')).groups
    },
    async alerts() {
      return (await api<{ alerts: ActiveAlert[] }>('alerts')).alerts
    },
    async waitForScrapes(count = 1, waitMs = 15_000) {
      const targets = options.targets.length
      const before = await scrapeCounts()
      const floor = before.length === targets ? Math.min(...before) : 0
      await waitFor(
        async () => {
          const now = await scrapeCounts()
          return now.length === targets && Math.min(...now) >= floor + count
        },
        waitMs,
        200,
      )
    },
    async stop() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * The project's rule files with time scaled by `scale` (0.1: ten times faster), written to `dir`:
 * each rule's `for:` and its expression's ranges and offsets are multiplied, nothing else changes.
 * A test can then watch a `for: 10m` alert go pending and fire in a minute, without editing the
 * rules. Returns the new files' paths (JSON, which is YAML).
 */
export function scaledRuleFiles(files: string[], scale: number, dir: string): string[] {
  type Rule = { expr: string; for?: string; [key: string]: unknown }
  return files.map((file) => {
    const doc = parse(readFileSync(file, 'utf8')) as { groups: Array<{ rules: Rule[] }> }
    for (const group of doc.groups) {
      for (const rule of group.rules) {
        rule.expr = scalePromqlDurations(rule.expr, scale)
        if (rule.for) {
          let ms = 0
          for (const [, n, unit] of rule.for.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
            ms += Number(n) * (DURATION_MS[unit ?? ''] ?? 1)
          }
          rule.for = `${Math.max(1, Math.round(ms * scale))}ms`
        }
      }
    }
    const scaled = join(dir, basename(file).replace(/\.ya?ml$/, '.scaled.yml'))
    writeFileSync(scaled, JSON.stringify(doc, null, 2))
    return scaled
  })
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const decoder = new TextDecoder()
  for await (const chunk of stream) into.push(decoder.decode(chunk, { stream: true }))
}

/**
 * One round of traffic through the gateway that touches every public route with successes and
 * client errors: catalog lists and reads (known and unknown ids, an invalid id), cart adds (known
 * and unknown products), reads, line removals, clears, and unknown paths.
 */
export async function sendTraffic(gatewayUrl: string, round = 0): Promise<void> {
  const json = { 'content-type': 'application/json' }
  const cart = `prom-${round}`
  const calls: Array<() => Promise<Response>> = []
  for (let i = 1; i <= 10; i++) {
    calls.push(() => fetch(`${gatewayUrl}/catalog/${i}`))
    calls.push(() => fetch(`${gatewayUrl}/catalog?page=${i}&page_size=5`))
    calls.push(() =>
      fetch(`${gatewayUrl}/cart/add`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ cart_id: `${cart}-${i % 3}`, product_id: i, quantity: 1 }),
      }),
    )
  }
  calls.push(() => fetch(`${gatewayUrl}/`))
  calls.push(() => fetch(`${gatewayUrl}/catalog/999999`))
  calls.push(() => fetch(`${gatewayUrl}/catalog/not-a-number`))
  calls.push(() =>
    fetch(`${gatewayUrl}/cart/add`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ cart_id: cart, product_id: 999999, quantity: 1 }),
    }),
  )
  calls.push(() => fetch(`${gatewayUrl}/no/such/path`))
  await Promise.all(calls.map(async (call) => (await call()).arrayBuffer()))
  // Reads, trims and clears after the adds, so they find the lines.
  const after = [0, 1, 2].flatMap((n) => [
    () => fetch(`${gatewayUrl}/cart/${cart}-${n}`),
    () => fetch(`${gatewayUrl}/cart/${cart}-${n}/items/${n + 3}`, { method: 'DELETE' }),
  ])
  await Promise.all(after.map(async (call) => (await call()).arrayBuffer()))
  await (await fetch(`${gatewayUrl}/cart/${cart}-0`, { method: 'DELETE' })).arrayBuffer()
  await sendReplay(gatewayUrl, `${cart}-replay`)
}

/**
 * A client that retries an add after losing the answer: the same Idempotency-Key twice. Once an
 * add succeeds, its second sending is answered from the kept outcome (a replay). Simulated
 * failures happen before anything is kept, so a failed add is tried again under a new key.
 */
export async function sendReplay(gatewayUrl: string, cartId: string, attempts = 20): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const send = () =>
      fetch(`${gatewayUrl}/cart/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${cartId}-${attempt}` },
        body: JSON.stringify({ cart_id: cartId, product_id: 1, quantity: 1 }),
      })
    const first = await send()
    await first.arrayBuffer()
    if (!first.ok) continue
    await (await send()).arrayBuffer()
    return true
  }
  return false
}
