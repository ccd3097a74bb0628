// `bun run dev`: start catalog, cart and gateway together. Each line is prefixed with its service
// (and made readable on a terminal), and also written as the service wrote it to logs/<service>.log
// for `tail -f`. Ctrl-C stops them all and leaves no orphan. `--no-watch` runs without reloading.
//
// One service exiting leaves the others running — killing the catalog to watch the gateway retry
// and eject is the first experiment a learner makes — and `bun run restart <service>` starts it
// again (it writes the name to .run/restart and sends this runner SIGUSR2). A service that keeps
// dying soon after each start is reported as crash-looping, with its last lines.
//
// The console (http://localhost:8089) starts first, and the services export their spans to it
// unless OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) says otherwise; every line a service writes
// is also sent to the console's /v1/logs, so its log page and traces join up. `--no-console` runs
// the three services alone, as before.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { FileSink, Subprocess } from 'bun'
import { createLogForwarder } from '../console/src/log-forwarder.ts'
import { otelServiceName } from '../contracts/src/services.ts'
import { createLogRelay, createStdoutOutput, type LogRelay } from './log-relay.ts'
import { stopProcess } from './processes.ts'
import {
  CONSOLE,
  DEV_ENV,
  LOG_DIR,
  PID_FILE,
  type ProcessInfo,
  processUrl,
  RESTART_FILE,
  RUN_DIR,
  RUNTIME_ENV,
  SERVICES,
  servicePort,
  stopTimeoutMs,
} from './services.ts'

const root = join(import.meta.dir, '..')
const watch = !process.argv.includes('--no-watch')
const withConsole = !process.argv.includes('--no-console')
const PROCESSES: readonly ProcessInfo[] = withConsole ? [CONSOLE, ...SERVICES] : SERVICES
const consoleUrl = processUrl(CONSOLE)
/** The user's own OTLP endpoint wins; otherwise the services export to the console. */
const userOtlp = Bun.env.OTLP_ENDPOINT || Bun.env.OTEL_EXPORTER_OTLP_ENDPOINT
const forwarder = withConsole ? createLogForwarder({ endpoint: consoleUrl }) : undefined
const pretty = process.stdout.isTTY === true
/** Every service's lines reach the terminal through this one writer (see log-relay.ts). */
const output = createStdoutOutput()
/** An exit this soon after a start counts towards a crash loop. */
const CRASH_WINDOW_MS = 10_000
/** Lines of a service's output kept to show when it dies. */
const LAST_LINES = 5

mkdirSync(resolve(root, LOG_DIR), { recursive: true })
mkdirSync(resolve(root, RUN_DIR), { recursive: true })

interface Running {
  service: ProcessInfo
  child: Subprocess<'ignore', 'pipe', 'pipe'>
  startedAt: number
  /** Quick exits in a row (reset by a run that lasted longer than CRASH_WINDOW_MS). */
  quickExits: number
  relay: LogRelay
  /** Settles once both its streams have ended and their last lines are relayed. */
  relayed: Promise<unknown>
  log: FileSink
  /** Set while this runner itself stops or restarts the process, so its exit is expected. */
  expected: boolean
}

const running = new Map<ProcessInfo['name'], Running>()
/** Set once Ctrl-C (or `bun run stop`) began stopping everything. */
let stopping = false

/** What a process is started with: its port, and where the console and the services are. */
function environmentOf(service: ProcessInfo): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...RUNTIME_ENV, ...DEV_ENV, ...Bun.env }
  if (service === CONSOLE) {
    env.CONSOLE_PORT = String(servicePort(CONSOLE))
    // The services at the ports this runner gives them, unless the user named other targets.
    env.CONSOLE_TARGETS ??= SERVICES.map(
      (s) => `${otelServiceName(s.name)}=http://127.0.0.1:${servicePort(s)}`,
    ).join(',')
    return env
  }
  env.PORT = String(servicePort(service))
  if (withConsole && !userOtlp) env.OTLP_ENDPOINT = consoleUrl
  return env
}

function spawn(service: ProcessInfo, previous?: Running): Running {
  // One open file per service, kept across restarts (a write per chunk read, flushed on a timer
  // below: a synchronous append per line cost the stack about a fifth of its throughput, issue 19).
  const log = previous?.log ?? Bun.file(resolve(root, LOG_DIR, `${service.name}.log`)).writer()
  const child = Bun.spawn(['bun', ...(watch ? ['--watch'] : []), 'src/index.ts'], {
    cwd: join(root, service.name),
    env: environmentOf(service),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const relay = createLogRelay({
    name: service.name,
    colour: service.colour,
    log,
    output,
    pretty,
    onLine:
      forwarder && service !== CONSOLE
        ? (line) => forwarder.push(otelServiceName(service.name), line)
        : undefined,
    keep: LAST_LINES,
  })
  const entry: Running = {
    service,
    child,
    startedAt: Date.now(),
    quickExits: previous?.quickExits ?? 0,
    relay,
    relayed: Promise.all([relay.pump(child.stdout), relay.pump(child.stderr)]),
    log,
    expected: false,
  }
  void child.exited.then(() => onExit(entry))
  running.set(service.name, entry)
  return entry
}

async function onExit(entry: Running) {
  const { service, child } = entry
  const ranFor = Date.now() - entry.startedAt
  // Its last words (often the reason it died) are still in the pipe when the exit is seen.
  await settled(entry.relayed)
  if (stopping || entry.expected || running.get(service.name) !== entry) return
  entry.quickExits = ranFor < CRASH_WINDOW_MS ? entry.quickExits + 1 : 0
  const how = child.signalCode ? `was stopped by ${child.signalCode}` : `exited with code ${child.exitCode}`
  const others = PROCESSES.filter((s) => s !== service && running.get(s.name)?.child.exitCode === null)
  const names = others.map((s) => s.name)
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]
  const rest = list ? `${list} keep${names.length > 1 ? '' : 's'} running` : 'nothing else runs'
  console.error(
    `\n${service.name} ${how} after ${(ranFor / 1000).toFixed(1)} s; ${rest}. ` +
      `Start it again with: bun run restart ${service.name}`,
  )
  if (entry.quickExits >= 2) {
    console.error(
      `${service.name} is crash-looping: it died within ${CRASH_WINDOW_MS / 1000} s of starting ` +
        `${entry.quickExits} times in a row. Its last lines:\n  ${entry.relay.lastLines().join('\n  ')}`,
    )
  }
  writePids()
}

/** Stop one process (SIGTERM, then SIGKILL once its drain should be over) and wait for it. */
async function stopOne(entry: Running) {
  entry.expected = true
  await stopProcess(entry.child, 'SIGTERM', stopTimeoutMs({ ...DEV_ENV, ...Bun.env }))
}

function writePids() {
  writeFileSync(
    resolve(root, PID_FILE),
    // The runner first: `bun run stop` asks it to stop its children the same way Ctrl-C does.
    JSON.stringify([
      { name: 'dev runner', pid: process.pid },
      ...[...running.values()]
        .filter(({ child }) => child.exitCode === null && child.signalCode === null)
        .map(({ service, child }) => ({ name: service.name, pid: child.pid })),
    ]),
  )
}

async function restart(name: string) {
  const service = PROCESSES.find((s) => s.name === name)
  const previous = service && running.get(service.name)
  if (!service || !previous) {
    console.error(`restart: no service named "${name}" (${PROCESSES.map((s) => s.name).join(', ')})`)
    return
  }
  if (previous.child.exitCode === null && previous.child.signalCode === null) await stopOne(previous)
  const entry = spawn(service, previous)
  writePids()
  console.log(`${service.name} restarted (pid ${entry.child.pid}) on :${servicePort(service)}`)
}

const startedAt = performance.now()
for (const service of PROCESSES) spawn(service)
writePids()
// Often enough for `tail -f` to look live.
setInterval(() => {
  for (const { log } of running.values()) log.flush()
}, 200)
const ports = PROCESSES.map((service) => `${service.name} :${servicePort(service)}`)
console.log(`ShopStack: ${ports.join(' · ')} · logs in ${LOG_DIR}/ · Ctrl-C stops all`)
void announceReady()

/** Once every process answers /livez: how long it took, and where to look. */
async function announceReady(): Promise<void> {
  const deadline = Date.now() + 30_000
  const pending = new Set(PROCESSES)
  while (pending.size > 0 && Date.now() < deadline && !stopping) {
    for (const info of [...pending]) {
      const up = await fetch(`${processUrl(info)}/livez`, { signal: AbortSignal.timeout(500) }).then(
        (response) => response.ok,
        () => false,
      )
      if (up) pending.delete(info)
    }
    if (pending.size > 0) await Bun.sleep(50)
  }
  if (pending.size > 0 || stopping) return
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1)
  const where = withConsole
    ? `open the console: ${consoleUrl.replace('127.0.0.1', 'localhost')} (traces, metrics, logs, load, faults)`
    : `the gateway is on ${SERVICES.filter((s) => s.name === 'gateway').map((s) => processUrl(s))}`
  console.log(`ShopStack ready in ${seconds} s — ${where}`)
}

async function stopAll(code: number) {
  if (stopping) return
  stopping = true
  // The services first, so their last lines and spans still reach the console; then the console.
  const services = [...running.values()].filter((entry) => entry.service !== CONSOLE)
  await Promise.all(services.map(stopOne))
  // Nothing a process wrote on its way out is lost: its pipes read to the end (before the forwarder
  // sends its last batch), its log file and the terminal written (Bun writes a pipe asynchronously,
  // and process.exit drops what waits).
  await settled(Promise.all(services.map((entry) => entry.relayed)))
  await forwarder?.close()
  const consoleEntry = running.get('console')
  if (consoleEntry) {
    await stopOne(consoleEntry)
    await settled(consoleEntry.relayed)
  }
  for (const { log } of running.values()) await log.end()
  await settled(output.drained())
  rmSync(resolve(root, PID_FILE), { force: true })
  process.exit(code)
}
process.on('SIGINT', () => void stopAll(0))
process.on('SIGTERM', () => void stopAll(0))
process.on('SIGUSR2', () => {
  let names: string[] = []
  try {
    names = readFileSync(resolve(root, RESTART_FILE), 'utf8').split(/\s+/).filter(Boolean)
    rmSync(resolve(root, RESTART_FILE), { force: true })
  } catch {
    // No request file: nothing asked for.
  }
  void (async () => {
    for (const name of names) await restart(name)
  })()
})

/** Waits for `promise`, but not past `ms`: a pipe held open by a grandchild must not hang the runner. */
function settled(promise: Promise<unknown>, ms = 2000): Promise<unknown> {
  return Promise.race([promise.catch(() => undefined), Bun.sleep(ms)])
}
