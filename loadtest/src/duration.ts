// Durations as Locust writes them on the command line: "30s", "2m", "1h30m", "500ms", or a bare
// number of seconds. Think times are one duration or a range, "1s-3s".

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Milliseconds in a duration; throws a UsageError naming the bad text. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase()
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  let total = 0
  let at = 0
  PART.lastIndex = 0
  while (at < trimmed.length) {
    PART.lastIndex = at
    const match = PART.exec(trimmed)
    if (!match) break
    total += Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000)
    at = PART.lastIndex
  }
  if (at === 0 || at !== trimmed.length) {
    throw new UsageError(`"${text}" is not a duration (examples: 30s, 2m, 1h30m, 500ms)`)
  }
  return Math.round(total)
}

export interface ThinkTime {
  minMs: number
  maxMs: number
}

/** "1s-3s" (uniform between), "500ms" (fixed) or "0" (none). */
export function parseThinkTime(text: string): ThinkTime {
  const [low, high, ...rest] = text.split('-')
  if (low === undefined || rest.length > 0) throw new UsageError(`"${text}" is not a think time (e.g. 1s-3s)`)
  const minMs = parseDuration(low)
  const maxMs = high === undefined ? minMs : parseDuration(high)
  if (maxMs < minMs) throw new UsageError(`think time "${text}" ends before it starts`)
  return { minMs, maxMs }
}

/** 75000 → "1m15s"; used in the live line and reports. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`
  return `${s}s`
}
