// `bun run dev`: start catalog, cart and gateway together. Each line is prefixed with its service
// (and made readable on a terminal), and also written as the service wrote it to logs/<service>.log
// for `tail -f`. Ctrl-C stops them all and leaves no orphan. `--no-watch` runs without reloading.

import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { LOG_DIR, PID_FILE, RUN_DIR, RUNTIME_ENV, SERVICES } from './services.ts'

const root = join(import.meta.dir, '..')
const watch = !process.argv.includes('--no-watch')
const pretty = process.stdout.isTTY === true
const reset = '\x1b[0m'

mkdirSync(resolve(root, LOG_DIR), { recursive: true })
mkdirSync(resolve(root, RUN_DIR), { recursive: true })

const children = SERVICES.map((service) => {
  const logFile = resolve(root, LOG_DIR, `${service.name}.log`)
  writeFileSync(logFile, '')
  const child = Bun.spawn(['bun', ...(watch ? ['--watch'] : []), 'src/index.ts'], {
    cwd: join(root, service.name),
    env: {
      ...RUNTIME_ENV,
      ...Bun.env,
      PORT: Bun.env[`${service.name.toUpperCase()}_PORT`] ?? String(service.port),
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const prefix = `${service.colour}${service.name.padEnd(7)}${reset} |`
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true })
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        appendFileSync(logFile, `${line}\n`)
        process.stdout.write(`${prefix} ${pretty ? humanize(line) : line}\n`)
      }
    }
  }
  void pump(child.stdout)
  void pump(child.stderr)
  return { service, child }
})

writeFileSync(
  resolve(root, PID_FILE),
  // The runner first: `bun run stop` asks it to stop its children the same way Ctrl-C does.
  JSON.stringify([
    { name: 'dev runner', pid: process.pid },
    ...children.map(({ service, child }) => ({ name: service.name, pid: child.pid })),
  ]),
)
const ports = children.map(
  ({ service }) => `${service.name} :${Bun.env[`${service.name.toUpperCase()}_PORT`] ?? service.port}`,
)
console.log(`ShopStack: ${ports.join(' · ')} · logs in ${LOG_DIR}/ · Ctrl-C stops all`)

let stopping = false
async function stopAll(code: number) {
  if (stopping) return
  stopping = true
  for (const { child } of children) child.kill('SIGTERM')
  const exited = Promise.all(children.map(({ child }) => child.exited))
  const timeout = Bun.sleep(12_000).then(() => 'timeout')
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    for (const { child } of children) child.kill('SIGKILL')
  }
  rmSync(resolve(root, PID_FILE), { force: true })
  process.exit(code)
}
process.on('SIGINT', () => void stopAll(0))
process.on('SIGTERM', () => void stopAll(0))

// One service dying (not while we stop) takes the others down with a clear message.
for (const { service, child } of children) {
  void child.exited.then((code) => {
    if (stopping) return
    console.error(`${service.name} exited with code ${code}; stopping the others`)
    void stopAll(code || 1)
  })
}

const LEVEL_COLOURS: Record<string, string> = { error: '\x1b[31m', fatal: '\x1b[31m', warn: '\x1b[33m' }

/** A JSON log line as a short readable one; anything else unchanged. */
function humanize(line: string): string {
  if (!line.startsWith('{')) return line
  try {
    const {
      level,
      time,
      msg,
      service: _s,
      version: _v,
      ...rest
    } = JSON.parse(line) as Record<string, unknown>
    const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
    const colour = LEVEL_COLOURS[String(level)] ?? ''
    const fields = Object.entries(rest)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
      .join(' ')
    return `${clock} ${colour}${String(level).padEnd(5)}${colour ? reset : ''} ${msg ?? ''} ${fields}`
  } catch {
    return line
  }
}
