// Prometheus's own checks on our Prometheus files: the config (with the rule files it loads) is
// valid, the rules are, and their unit tests pass — with a test where every alert fires and one
// where it does not.

import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { hasPromtool, PROMTOOL_BIN } from '../e2e/prometheus.ts'
import { filesUnder, OBSERVABILITY, readYaml } from './stack.ts'

const PROMETHEUS_DIR = join(OBSERVABILITY, 'prometheus')
const ruleFiles = filesUnder('observability/prometheus/rules').map((f) => join(PROMETHEUS_DIR, 'rules', f))
const testFiles = filesUnder('observability/prometheus/tests').map((f) => join(PROMETHEUS_DIR, 'tests', f))

function promtool(...args: string[]) {
  const result = Bun.spawnSync([PROMTOOL_BIN, ...args], {
    cwd: PROMETHEUS_DIR,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return { code: result.exitCode, output: `${result.stdout.toString()}${result.stderr.toString()}` }
}

describe.skipIf(!hasPromtool)('promtool', () => {
  test('check config: prometheus.yml and the rule files it loads are valid', () => {
    const { code, output } = promtool('check', 'config', 'prometheus.yml')
    expect(output).toContain('SUCCESS')
    expect(code).toBe(0)
  })

  test('check rules: every rule file is valid', () => {
    expect(ruleFiles.length).toBeGreaterThan(0)
    const { code, output } = promtool('check', 'rules', ...ruleFiles)
    expect(output).not.toContain('FAILED')
    expect(code).toBe(0)
  })

  test('test rules: the unit tests pass', () => {
    expect(testFiles.length).toBeGreaterThan(0)
    const { code, output } = promtool('test', 'rules', ...testFiles)
    expect(output).not.toContain('FAILED')
    expect(code).toBe(0)
  })
})

describe('the rule unit tests', () => {
  type RuleFile = { groups: Array<{ rules: Array<{ alert?: string }> }> }
  type TestFile = {
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>
  }
  const alerts = ruleFiles.flatMap((file) =>
    readYaml<RuleFile>(file).groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : []))),
  )
  const cases = testFiles.flatMap((file) =>
    readYaml<TestFile>(file).tests.flatMap((t) => t.alert_rule_test ?? []),
  )

  test('see every alert both firing and not firing', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(5)
    for (const alert of alerts) {
      const own = cases.filter((c) => c.alertname === alert)
      expect(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} fires in a test`,
      ).toBe(true)
      expect(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} stays quiet in a test`,
      ).toBe(true)
    }
  })

  test('cover the alerts the issue asks for', () => {
    expect(alerts).toEqual(
      expect.arrayContaining([
        'ShopStackServiceDown',
        'ShopStackHighErrorRatio',
        'ShopStackHighLatency',
        'ShopStackErrorBudgetBurnFast',
        'ShopStackErrorBudgetBurnSlow',
      ]),
    )
  })
})
