// `bun run stop`: stop what `bun run dev` started, even if the runner itself was killed.
// The runner records its children's pids in .run/pids.json; each gets SIGTERM, then SIGKILL.

import { existsSync, readFileSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { isAlive, PID_FILE } from './services.ts'

const file = resolve(import.meta.dir, '..', PID_FILE)
if (!existsSync(file)) {
  console.log('Nothing to stop: no services were started by `bun run dev` (no .run/pids.json).')
  process.exit(0)
}

const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{ name: string; pid: number }>
for (const { name, pid } of entries) {
  if (!isAlive(pid)) {
    console.log(`${name} (pid ${pid}) was not running`)
    continue
  }
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + 10_000
  while (isAlive(pid) && Date.now() < deadline) await Bun.sleep(50)
  if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  console.log(`${name} (pid ${pid}) stopped`)
}
rmSync(file, { force: true })
