// Driving load with wrk (https://github.com/wg/wrk) and reading its summary. A POST needs a Lua
// script; it is written to the benchmark's temp dir.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface WrkOptions {
  url: string
  durationS: number
  threads: number
  connections: number
  /** A Lua script (for POST bodies). */
  script?: string
  /** Called every 250 ms while wrk runs (RSS sampling). */
  onTick?: () => void
}

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  /** Latency percentiles in milliseconds. */
  p50Ms: number
  p99Ms: number
  non2xx: number
  socketErrors: number
}

export function wrkBinary(): string | undefined {
  return Bun.which('wrk') ?? undefined
}

/** A wrk script that POSTs an add-to-cart for a random cart and product (1,000 products seeded). */
export function writeCartAddScript(dir: string): string {
  const path = join(dir, 'cart-add.lua')
  writeFileSync(
    path,
    `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"cart_id":"bench-%d","product_id":%d,"quantity":1}',
    math.random(1, 1000000), math.random(1, 1000))
  return wrk.format(nil, nil, nil, body)
end
`,
  )
  return path
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const { url, durationS, threads, connections, script, onTick } = options
  const binary = wrkBinary()
  if (!binary) throw new Error('wrk is not installed')
  const args = [binary, '-t', String(threads), '-c', String(connections), '-d', `${durationS}s`, '--latency']
  if (script) args.push('-s', script)
  args.push(url)
  const proc = Bun.spawn(args, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const ticker = onTick ? setInterval(onTick, 250) : undefined
  try {
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${err || out}`)
    return parseWrk(out)
  } finally {
    if (ticker) clearInterval(ticker)
  }
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

function toMs(value: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value ?? '')
  return match ? Number(match[1]) * (UNIT_MS[match[2] as string] ?? Number.NaN) : Number.NaN
}

export function parseWrk(text: string): WrkResult {
  const summary = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text)
  const requests = Number(summary?.[1] ?? Number.NaN)
  const seconds = toMs(summary ? `${summary[2]}${summary[3]}` : undefined) / 1000
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  return {
    requests,
    seconds,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN),
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(text)?.[1]),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(text)?.[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  }
}
