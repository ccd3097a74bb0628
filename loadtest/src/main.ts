// The load generator's process entry: `bun run loadtest [options]`. Headless, it runs at once and
// prints; otherwise it serves the web UI and waits for a start from the page, as Locust does.
// Ctrl-C (or SIGTERM) stops the run cleanly and still prints the summary and writes the reports;
// a second Ctrl-C quits at once. Exit code: 0, 1 when a threshold was breached, 2 for bad usage.

import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { UsageError } from './duration.ts'
import { parseCli, runnerOptionsOf, USAGE } from './options.ts'
import { buildReport, describeRun, type Report, renderHtmlReport } from './report.ts'
import { createRunner } from './runner.ts'
import { createLiveReporter, formatSummary } from './terminal.ts'
import { EXIT_OK, EXIT_USAGE, evaluateThresholds, exitCodeFor } from './thresholds.ts'
import { createUiServer } from './ui/server.ts'

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

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCli>
  try {
    parsed = parseCli(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`loadtest: ${error.message}\n(see bun run loadtest --help)\n`)
    return EXIT_USAGE
  }
  if (parsed.help) {
    process.stdout.write(USAGE)
    return EXIT_OK
  }
  const cli = parsed
  const base = runnerOptionsOf(cli)
  const files = { json: cli.json, html: cli.html }

  const finish = async (report: Report) => {
    process.stdout.write(formatSummary(report))
    await writeReports(report, files)
  }

  if (cli.headless) {
    const runner = createRunner(base)
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
  const ui = createUiServer({
    port: cli.webPort,
    hostname: cli.webHost,
    base,
    thresholds: cli.thresholds,
    autostart: cli.autostart,
    onRunEnd: async (report) => {
      last = report
      await finish(report)
    },
  })
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
