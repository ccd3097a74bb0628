// Numbers as a person reads them: durations with a unit that fits, rates per second, percentages,
// clock times in the browser's zone.

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  if (value === 0) return '0 ms'
  if (Math.abs(value) < 1) return `${Math.round(value * 1000)} µs`
  if (value < 10) return `${value.toFixed(2)} ms`
  if (value < 1000) return `${value.toFixed(value < 100 ? 1 : 0)} ms`
  return `${(value / 1000).toFixed(2)} s`
}

export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} req/s`
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–'
  const p = ratio * 100
  return `${p === 0 ? '0' : p < 1 ? p.toFixed(2) : p.toFixed(1)}%`
}

export function clock(timeMs: number): string {
  return new Date(timeMs).toLocaleTimeString(undefined, { hour12: false })
}

export function dateTime(timeMs: number): string {
  const d = new Date(timeMs)
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`
}

export function count(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en')
}

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`
  if (value < 1024 ** 2) return `${(value / 1024).toFixed(1)} KiB`
  return `${(value / 1024 ** 2).toFixed(1)} MiB`
}

export function shortId(id: string): string {
  return id.slice(0, 8)
}
