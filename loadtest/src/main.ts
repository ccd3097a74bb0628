// The load generator's process entry: `bun run loadtest [options]`. Headless, it runs at once and
// prints; otherwise it serves the web UI and waits for a start from the page, as Locust does.
// Ctrl-C (or SIGTERM) stops the run cleanly and still prints the summary and writes the reports;
// a second Ctrl-C quits at once. Exit code: 0, 1 when a threshold was breached, 2 for bad usage.
// With --scenario, a fault scenario plays alongside the load and its faults are turned off again
// when the run ends, however it ends (short of a second Ctrl-C).

import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { UsageError } from './duration.ts'
import {
  createScenarioPlayer,
  loadScenario,
  type Scenario,
  scaleScenario,
  scenarioLengthMs,
  scenarioNeeds,
} from './fault-scenario.ts'
import { createFaultClient, type FaultClient } from './faults.ts'
import { type CliOptions, parseCli, runnerOptionsOf, USAGE, withScenario } from './options.ts'
import { buildReport, describeRun, type Report, renderHtmlReport } from './report.ts'
import { createRunner } from './runner.ts'
import { createLiveReporter, formatSummary } from './terminal.ts'
import { EXIT_OK, EXIT_USAGE, evaluateThresholds, exitCodeFor } from './thresholds.ts'
import { createUiServer, movedNotice, PortTakenError, type UiServer } from './ui/server.ts'

/** Run until a stop signal; the first one calls `stop`, a second one exits at once. */
function onStopSignal(stop: () => void): void {
  let signals = 0
  const handler = () => {
    signals++
    if (signals > 1) process.exit(130)
    process.stderr.write('\nstopping: waiting for requests in flight (Ctrl-C again to quit at once)\n')
    stop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}

async function writeReports(report: Report, files: { json?: string; html?: string }): Promise<void> {
  for (const [file, text] of [
    [files.json, () => `${JSON.stringify(report, null, 2)}\n`],
    [files.html, () => renderHtmlReport(report)],
  ] as const) {
    if (!file) continue
    await mkdir(dirname(file), { recursive: true })
    await Bun.write(file, text())
    process.stderr.write(`wrote ${file}\n`)
  }
}

/** A scenario's changes as they happen; on a terminal, over the live line (rewritten next second). */
const scenarioLog = (line: string) =>
  process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}scenario: ${line}\n`)

/** Read the scenario, say what it teaches, and check every service it changes answers its admin API. */
async function prepareScenario(cli: CliOptions, file: string, faults: FaultClient): Promise<Scenario> {
  const loaded = await loadScenario(file)
  const scenario = cli.timeScale === 1 ? loaded : scaleScenario(loaded, cli.timeScale)
  const services = [...new Set(scenario.steps.map((s) => s.service))]
  const problems = (
    await Promise.all(
      services.map((service) =>
        faults.get(service).then(
          () => '',
          (e: Error) => e.message,
        ),
      ),
    )
  ).filter(Boolean)
  if (problems.length > 0) {
    const hint = cli.adminToken ? '' : ' (set --admin-token or ADMIN_TOKEN if the services need one)'
    throw new UsageError(`scenario ${scenario.name} cannot change faults${hint}:\n  ${problems.join('\n  ')}`)
  }
  process.stderr.write(`scenario ${scenario.name}: ${scenario.description}\n`)
  for (const item of scenario.watch) process.stderr.write(`  watch: ${item}\n`)
  // A hint, not a check: the generator cannot see how the services were started.
  const needs = scenarioNeeds(scenario)
  if (needs) process.stderr.write(`  needs: ${needs} (on another stack it shows something else)\n`)
  const lengthMs = scenarioLengthMs(scenario)
  const runTimeMs = withScenario(cli, scenario).runTimeMs
  if (lengthMs > runTimeMs) {
    process.stderr.write(
      `scenario ${scenario.name}: runs to ${lengthMs / 1000}s but the run lasts ${runTimeMs / 1000}s; later steps will not play\n`,
    )
  }
  return scenario
}

async function main(argv: string[]): Promise<number> {
  let cli: CliOptions
  let scenario: Scenario | undefined
  let faults: FaultClient
  try {
    const parsed = parseCli(argv)
    if (parsed.help) {
      process.stdout.write(USAGE)
      return EXIT_OK
    }
    cli = parsed
    faults = createFaultClient({
      hosts: { gateway: cli.host, catalog: cli.catalogHost, cart: cli.cartHost },
      ...(cli.adminToken ? { token: cli.adminToken } : {}),
    })
    if (cli.scenario) {
      scenario = await prepareScenario(cli, cli.scenario, faults)
      cli = withScenario(cli, scenario)
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`loadtest: ${error.message}\n(see bun run loadtest --help)\n`)
    return EXIT_USAGE
  }
  const base = runnerOptionsOf(cli)
  const files = { json: cli.json, html: cli.html }

  const finish = async (report: Report) => {
    process.stdout.write(formatSummary(report))
    await writeReports(report, files)
  }

  if (cli.headless) {
    const runner = createRunner({
      ...base,
      ...(scenario ? { timeline: createScenarioPlayer({ scenario, client: faults, log: scenarioLog }) } : {}),
    })
    const live = createLiveReporter(() => ({ status: runner.status(), snapshot: runner.stats.snapshot() }))
    onStopSignal(() => void runner.stop())
    runner.start()
    const result = await runner.done
    live.stop()
    const report = buildReport(
      result,
      describeRun(base, cli.thresholds),
      evaluateThresholds(result.snapshot.totals, cli.thresholds),
    )
    await finish(report)
    return exitCodeFor(report.thresholds)
  }

  let last: Report | undefined
  let ui: UiServer
  try {
    ui = createUiServer({
      port: cli.webPort,
      // The console holds 8089 while `bun run dev` runs; a port asked for is never swapped silently.
      fallbackPort: !cli.webPortGiven,
      hostname: cli.webHost,
      base,
      thresholds: cli.thresholds,
      autostart: cli.autostart,
      faults,
      ...(scenario ? { scenario, scenarioLog } : {}),
      onRunEnd: async (report) => {
        last = report
        await finish(report)
      },
    })
  } catch (error) {
    if (!(error instanceof PortTakenError)) throw error
    process.stderr.write(`loadtest: ${error.message}\n`)
    return EXIT_USAGE
  }
  if (ui.portTaken !== undefined) process.stderr.write(`${movedNotice(ui.portTaken, ui.url)}\n`)
  const live = createLiveReporter(() => {
    const runner = ui.runner
    if (!runner || runner.state === 'stopped') return undefined
    return { status: runner.status(), snapshot: runner.stats.snapshot() }
  })
  process.stderr.write(`ShopStack load generator: web UI on ${ui.url} (start the run there; Ctrl-C quits)\n`)
  await new Promise<void>((resolve) => onStopSignal(resolve))
  live.stop()
  await ui.close()
  return last ? exitCodeFor(last.thresholds) : EXIT_OK
}

process.exit(await main(Bun.argv.slice(2)))
