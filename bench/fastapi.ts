// The FastAPI original, side by side (issue 19): the three services of the Python ShopStack that
// this one replaces, rebuilt in bench/fastapi/ in the original's shape and run from Debian's
// packages (python3-fastapi, python3-uvicorn, python3-httpx, python3-prometheus-client), each
// served by uvicorn with one worker on a free loopback port, ready when /livez answers 200.
// `/usr/bin/python3` explicitly: the python3 on PATH may be another interpreter without them.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, type ServiceName, startProcess } from '../scripts/processes.ts'
import { type Running, type ServiceStack, STOP_GRACE_MS } from './processes.ts'

export const PYTHON = '/usr/bin/python3'
/** The modules the trio imports; Debian package names in `FASTAPI_PACKAGES`. */
const MODULES = ['fastapi', 'uvicorn', 'httpx', 'prometheus_client']
export const FASTAPI_PACKAGES = [
  'python3-fastapi',
  'python3-uvicorn',
  'python3-httpx',
  'python3-prometheus-client',
]
const APP_DIR = join(import.meta.dir, 'fastapi')

/**
 * Why the FastAPI trio cannot run here, or undefined when it can: `/usr/bin/python3` imports
 * every module it needs.
 */
export function fastapiMissing(): string | undefined {
  if (!Bun.which(PYTHON)) return `${PYTHON} is not installed`
  const probe = Bun.spawnSync([PYTHON, '-c', `import ${MODULES.join(', ')}`], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  if (probe.exitCode === 0) return undefined
  const error = probe.stderr.toString().trim().split('\n').at(-1) ?? ''
  return `${PYTHON} cannot import ${MODULES.join(', ')} (${error}; apt-get install ${FASTAPI_PACKAGES.join(' ')})`
}

/** The versions the trio runs on, for the bench's JSON (`fastapi 0.92.0, uvicorn 0.17.6, …`). */
export function fastapiVersions(): string {
  // Distribution metadata: prometheus_client has no __version__.
  const names = MODULES.map((m) => `'${m}'`).join(', ')
  const script = `from importlib.metadata import version; print(', '.join(m + ' ' + version(m) for m in (${names})))`
  const out = Bun.spawnSync([PYTHON, '-c', script], { stdout: 'pipe', stderr: 'pipe' })
  return out.exitCode === 0 ? out.stdout.toString().trim() : ''
}

/**
 * One service: `uvicorn <name>:app` with one worker. The loop and HTTP parser are named rather
 * than left to `auto`: Debian's python3-uvicorn does not pull in uvloop or httptools, and naming
 * them keeps the figure from changing with whatever else is installed.
 */
function startOne(name: ServiceName, dir: string, env: Record<string, string>): Promise<Running> {
  const port = freePort()
  return startProcess(
    `fastapi-${name}`,
    [
      PYTHON,
      '-m',
      'uvicorn',
      `${name}:app`,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--loop',
      'asyncio',
      '--http',
      'h11',
      '--no-access-log',
      '--log-level',
      'warning',
    ],
    {
      cwd: APP_DIR,
      // Nothing inherited: the trio reads only what is set here (no PYTHONPATH of another python).
      env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', SIMULATION: 'off', ...env },
      port,
      logPath: join(dir, `${name}.log`),
      timeoutMs: 20_000,
      stopGraceMs: STOP_GRACE_MS,
    },
  )
}

/** catalog, cart and gateway of the original, each told where the others are; all stopped if one fails. */
export async function startFastapiStack(dir: string): Promise<ServiceStack> {
  const missing = fastapiMissing()
  if (missing) throw new Error(`the FastAPI original cannot run: ${missing}`)
  mkdirSync(dir, { recursive: true })
  const started: Running[] = []
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()))
  }
  try {
    const catalog = await startOne('catalog', dir, { DATABASE_PATH: join(dir, 'catalog.sqlite') })
    started.push(catalog)
    const cart = await startOne('cart', dir, {
      DATABASE_PATH: join(dir, 'cart.sqlite'),
      CATALOG_SERVICE_URL: catalog.url,
    })
    started.push(cart)
    const gateway = await startOne('gateway', dir, {
      CATALOG_SERVICE_URL: catalog.url,
      CART_SERVICE_URL: cart.url,
    })
    started.push(gateway)
    return {
      services: { catalog, cart, gateway },
      logs: {
        catalog: join(dir, 'catalog.log'),
        cart: join(dir, 'cart.log'),
        gateway: join(dir, 'gateway.log'),
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
