// `bun run stop`: stop what `bun run dev` started, even if the runner itself was killed.
// `bun run stop catalog` stops that one service and leaves the runner and the others going (the
// runner says so; `bun run restart catalog` starts it again). The runner records its children's
// pids in .run/pids.json; each gets SIGTERM, then SIGKILL.

import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEV_ENV, isAlive, PID_FILE, readPids, stopTimeoutMs } from './services.ts'

const file = resolve(import.meta.dir, '..', PID_FILE)
const only = process.argv.slice(2)
const entries = readPids(file)
if (!entries) {
  console.log('Nothing to stop: no services were started by `bun run dev` (no .run/pids.json).')
  process.exit(0)
}
const unknown = only.filter((name) => !entries.some((entry) => entry.name === name))
if (unknown.length) {
  const names = entries.filter(({ name }) => name !== 'dev runner').map(({ name }) => name)
  console.error(
    `Not running under bun run dev: ${unknown.join(', ')} (running: ${names.join(', ') || 'none'})`,
  )
  process.exit(1)
}

// The runner comes first and stops its children itself: those are reported stopped, not "not running".
let runnerStopped = false
for (const { name, pid } of entries) {
  if (only.length && !only.includes(name)) continue
  if (!isAlive(pid)) {
    console.log(
      runnerStopped
        ? `${name} (pid ${pid}) stopped by the dev runner`
        : `${name} (pid ${pid}) was not running`,
    )
    continue
  }
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + stopTimeoutMs({ ...DEV_ENV, ...Bun.env })
  while (isAlive(pid) && Date.now() < deadline) await Bun.sleep(50)
  if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  if (name === 'dev runner') runnerStopped = true
  console.log(`${name} (pid ${pid}) stopped`)
}
if (!only.length) rmSync(file, { force: true })
