// When the UI's port is taken (by the console, which serves this page at :8089/load during
// `bun run dev`), the default port moves to a free one and says so; a port the user asked for is
// never swapped: the CLI fails with one line naming it. A real socket holds the port.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { createUiServer, movedNotice, PortTakenError } from './server.ts'

const MAIN = join(import.meta.dir, '..', 'main.ts')

let holder: Server
let taken: number

beforeAll(async () => {
  holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  taken = (holder.address() as { port: number }).port
})
afterAll(async () => {
  await new Promise<void>((resolve) => holder.close(() => resolve()))
})

describe('a taken port', () => {
  test('the default port moves to a free one, and the UI serves there', async () => {
    const ui = createUiServer({ port: taken, fallbackPort: true, base: { metricsUsers: 0 } })
    try {
      expect(ui.portTaken).toBe(taken)
      expect(ui.server.port).not.toBe(taken)
      const status = await fetch(`${ui.url}/api/status`)
      expect(((await status.json()) as { status: { state: string } }).status.state).toBe('ready')
      expect(movedNotice(taken, ui.url)).toBe(
        `port ${taken} is taken (the ShopStack console serves this load page at http://localhost:${taken}/load when \`bun run dev\` runs); this UI is on ${ui.url}`,
      )
    } finally {
      await ui.close()
    }
  })

  test('a free port is used as it is, with nothing to say', async () => {
    const ui = createUiServer({ port: 0, fallbackPort: true })
    try {
      expect(ui.portTaken).toBeUndefined()
    } finally {
      await ui.close()
    }
  })

  test('a port asked for is not swapped: the server refuses, naming it', () => {
    expect(() => createUiServer({ port: taken })).toThrow(new PortTakenError(taken))
  })

  test('the CLI given a taken --web-port exits 2 with one line naming the port', async () => {
    const proc = Bun.spawn(['bun', MAIN, '--web-port', String(taken)], { stdout: 'pipe', stderr: 'pipe' })
    // A CLI that listened instead would wait for Ctrl-C: stop it within the test's time.
    const timer = setTimeout(() => proc.kill(), 4000)
    try {
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
      expect({ code, stderr }).toEqual({
        code: 2,
        stderr: `loadtest: port ${taken} is taken by another program; choose another with --web-port\n`,
      })
    } finally {
      clearTimeout(timer)
      proc.kill()
    }
  })
})
