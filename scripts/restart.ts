// `bun run restart <service> [...]`: start a service of a running `bun run dev` again (after it was
// killed or crashed, or to restart it) without touching the others. Waits until it answers /livez.

import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isAlive, PID_FILE, PROCESSES, processUrl, RESTART_FILE, readPids } from './services.ts'

const root = resolve(import.meta.dir, '..')
const names = process.argv.slice(2)
const services = names.map((name) => PROCESSES.find((service) => service.name === name))
if (!names.length || services.some((service) => !service)) {
  console.error(`usage: bun run restart <${PROCESSES.map((s) => s.name).join('|')}> [...]`)
  process.exit(2)
}
const runner = readPids(resolve(root, PID_FILE))?.find(({ name }) => name === 'dev runner')
if (!runner || !isAlive(runner.pid)) {
  console.error('No `bun run dev` is running here: start everything with `bun run dev`.')
  process.exit(1)
}
const before = new Map(readPids(resolve(root, PID_FILE))?.map(({ name, pid }) => [name, pid]))
writeFileSync(resolve(root, RESTART_FILE), names.join('\n'))
process.kill(runner.pid, 'SIGUSR2')

for (const service of services) {
  if (!service) continue
  const url = processUrl(service)
  const deadline = Date.now() + 20_000
  let up = false
  while (!up && Date.now() < deadline) {
    const pid = readPids(resolve(root, PID_FILE))?.find(({ name }) => name === service.name)?.pid
    if (pid !== undefined && pid !== before.get(service.name)) {
      up = await fetch(`${url}/livez`, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.ok,
        () => false,
      )
    }
    if (!up) await Bun.sleep(100)
  }
  if (!up) {
    console.error(`${service.name} did not come up within 20 s: see the dev runner's output or logs/`)
    process.exit(1)
  }
  console.log(`${service.name} is up again at ${url}`)
}
