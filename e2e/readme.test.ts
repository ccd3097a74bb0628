// The README is executable: every shell command in README.md and loadtest/README.md is either run
// here against the real services (curl and the docs page, with the README's ports rewritten to the
// free ones the stack took) or checked to name a script that exists, and the few that cannot run on
// this machine are listed in NOT_RUN_HERE with why. A new command the test does not know fails it,
// so a README change cannot slip in a command nobody ran.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../lib/src/config.ts'
import { ROOT, type RunningService, type Stack, startConsole, startStack } from './harness.ts'

/** Commands that need what this machine has not (a Docker engine), with why. */
const NOT_RUN_HERE: Record<string, string> = {
  'compose:build': 'needs a Docker engine; the Dockerfile is checked by observability/compose.test.ts',
  'compose:up': 'needs a Docker engine; compose.yaml is checked by observability/compose.test.ts',
  'compose:scale': 'needs a Docker engine',
  'compose:down': 'needs a Docker engine',
}
/** Programs that need a Kubernetes cluster (none runs here), with what proves their part instead. */
const CLUSTER_TOOLS: Record<string, string> = {
  kind: 'needs a Docker engine',
  k3d: 'needs a Docker engine',
  kubectl: 'needs a cluster; deploy/kubernetes/kubernetes.test.ts renders every overlay apply -k would apply',
}
/** Long-running commands that other suites start for real. */
const RUN_ELSEWHERE: Record<string, string> = {
  dev: 'scripts/scripts.test.ts starts it, checks status and endpoints, stops one service and restarts it',
  loadtest: 'loadtest/src/e2e.test.ts runs the load generator headless and with its UI against real services',
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>
}

/** The shell commands of a Markdown file's ```sh blocks: continuations joined, comments dropped. */
function shellCommands(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  return blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, '').split('\n'))
    .map((line) => line.replace(/\s{2,}#.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'))
}

const commands = [...shellCommands('README.md'), ...shellCommands('loadtest/README.md')]

let stack: Stack
let consoleProcess: RunningService
beforeAll(async () => {
  stack = await startStack({ env: { SIMULATION: 'off' } })
  consoleProcess = await startConsole({
    'shopstack-gateway': stack.gateway.url,
    'shopstack-catalog': stack.catalog.url,
    'shopstack-cart': stack.cart.url,
  })
})
afterAll(async () => {
  await consoleProcess?.stop()
  await stack?.stop()
})

/** The README's ports are the defaults; the stack's are free ones. */
function onStack(command: string): string {
  return command
    .replaceAll('localhost:8000', `127.0.0.1:${stack.gateway.port}`)
    .replaceAll('localhost:8001', `127.0.0.1:${stack.catalog.port}`)
    .replaceAll('localhost:8002', `127.0.0.1:${stack.cart.port}`)
    .replaceAll('localhost:8089', `127.0.0.1:${consoleProcess.port}`)
}

describe('the README, run as written', () => {
  test('has the commands a new user follows', () => {
    expect(commands).toContain('bun install && bun run dev')
    expect(commands).toContain('bun test')
    expect(commands.filter((c) => c.startsWith('curl')).length).toBeGreaterThanOrEqual(8)
  })

  test('every curl command answers 2xx from the real services', () => {
    for (const command of commands.filter((c) => c.startsWith('curl '))) {
      const run = Bun.spawnSync(['sh', '-c', `${onStack(command)} -sS -w '\\n%{http_code}'`])
      const out = run.stdout.toString().trim().split('\n')
      const status = Number(out.at(-1))
      if (run.exitCode !== 0 || status < 200 || status >= 300) {
        throw new Error(`${command}\n  exit ${run.exitCode}, HTTP ${status}: ${out.slice(0, -1).join(' ')}`)
      }
    }
  })

  test('every page it opens is served', async () => {
    for (const command of commands.filter((c) => c.startsWith('open '))) {
      const url = onStack(command.split(/\s+/)[1] ?? '')
      const response = await fetch(url.startsWith('http') ? url : `http://${url}`)
      expect(`${command}: ${response.status}`).toBe(`${command}: 200`)
    }
  })

  test('every bun command names a script that exists, or is known and run elsewhere', () => {
    const unknown: string[] = []
    for (const command of commands) {
      if (command.startsWith('curl ') || command.startsWith('open ')) continue
      for (const part of command.split('&&').map((p) => p.trim())) {
        if (part === 'bun install' || part === 'bun test' || part.startsWith('npm install -g bun@')) continue
        if ((part.split(' ')[0] ?? '') in CLUSTER_TOOLS) continue
        if (part.startsWith('printf ') && part.includes('admin-token.env')) continue
        const script = /^bun run ([\w:-]+)/.exec(part)?.[1]
        if (!script) {
          unknown.push(part)
          continue
        }
        if (!(script in pkg.scripts)) unknown.push(`${part} (no script "${script}")`)
        else if (!(script in NOT_RUN_HERE) && !(script in RUN_ELSEWHERE) && !script.startsWith('dev'))
          unknown.push(`${part} (not run by any test: add it here)`)
      }
    }
    expect(unknown).toEqual([])
  })

  test('the Kubernetes admin token command writes a token the services accept', () => {
    const command = commands.find((c) => c.startsWith('printf ') && c.includes('admin-token.env'))
    expect(command).toBeDefined()
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-token-'))
    try {
      mkdirSync(join(dir, 'deploy/kubernetes/base'), { recursive: true })
      const run = Bun.spawnSync(['sh', '-c', command ?? ''], { cwd: dir })
      expect(run.exitCode).toBe(0)
      const written = readFileSync(join(dir, 'deploy/kubernetes/base/admin-token.env'), 'utf8')
      const token = /^ADMIN_TOKEN=(.*)\n$/.exec(written)?.[1] ?? ''
      expect(loadConfig('gateway', { ADMIN_TOKEN: token }).adminToken).toBe(token)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('every script the Scripts table names exists', () => {
    const text = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const named = new Set([
      ...[...text.matchAll(/`bun run ([\w:-]+)/g)].map((m) => m[1] ?? ''),
      ...[...text.matchAll(/`((?:dev|test|compose|bench):[\w-]+)`/g)].map((m) => m[1] ?? ''),
    ])
    expect([...named].filter((name) => !(name in pkg.scripts))).toEqual([])
  })
})
