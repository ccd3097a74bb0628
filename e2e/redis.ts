// Test harness for a real Redis: start redis-server on a free loopback port, with no persistence
// (`--save '' --appendonly no`) and its working directory in a fresh temp folder, and stop it and
// remove the folder afterwards. Tests that need it use `describe.skipIf(!hasRedis)`, so a machine
// without the binary skips them instead of failing (CI installs it: see .ci/run).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, stopProcess } from '../scripts/processes.ts'

export const REDIS_BINARY = Bun.which('redis-server')

/** True when redis-server is installed. */
export const hasRedis = REDIS_BINARY !== null

export interface RunningRedis {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

export async function startRedis(options: { timeoutMs?: number } = {}): Promise<RunningRedis> {
  const { timeoutMs = 5000 } = options
  if (!REDIS_BINARY) throw new Error('redis-server is not installed')
  let lastError: unknown
  // The port can be taken between picking and binding by another test; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-redis-'))
    // redis-server cannot be told to pick a port itself.
    const port = freePort()
    const proc = Bun.spawn(
      [REDIS_BINARY, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    )
    const stop = async () => {
      await stopProcess(proc, 'SIGTERM', 5000)
      rmSync(dir, { recursive: true, force: true })
    }
    try {
      await waitForReady(proc.stdout, proc.exited, timeoutMs)
      return { url: `redis://127.0.0.1:${port}`, port, stop }
    } catch (error) {
      lastError = error
      await stop()
    }
  }
  throw new Error(`redis-server did not start: ${String(lastError)}`)
}

async function waitForReady(
  stdout: ReadableStream<Uint8Array>,
  exited: Promise<number>,
  timeoutMs: number,
): Promise<void> {
  const decoder = new TextDecoder()
  let text = ''
  const ready = (async () => {
    for await (const chunk of stdout) {
      text += decoder.decode(chunk, { stream: true })
      if (text.includes('Ready to accept connections')) {
        // Keep draining so a full pipe never blocks the server.
        void (async () => {
          for await (const _ of stdout) {
            // discard
          }
        })().catch(() => {})
        return
      }
    }
    throw new Error(`redis-server exited: ${text.slice(-500)}`)
  })()
  await Promise.race([
    ready,
    exited.then((code) => {
      throw new Error(`redis-server exited with ${code}: ${text.slice(-500)}`)
    }),
    Bun.sleep(timeoutMs).then(() => {
      throw new Error(`redis-server not ready within ${timeoutMs} ms: ${text.slice(-500)}`)
    }),
  ])
}
