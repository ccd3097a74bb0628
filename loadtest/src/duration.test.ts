import { describe, expect, test } from 'bun:test'
import { formatDuration, parseDuration, parseThinkTime, UsageError } from './duration.ts'

describe('durations', () => {
  test.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['45', 45_000],
    [' 10S ', 10_000],
  ])('%p is %p ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  test.each(['', 'soon', '10 s', '5x', 's', '1m-'])('%p is refused with a usage error', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError)
  })

  test('think times are a fixed duration or a range', () => {
    expect(parseThinkTime('1s-3s')).toEqual({ minMs: 1000, maxMs: 3000 })
    expect(parseThinkTime('500ms')).toEqual({ minMs: 500, maxMs: 500 })
    expect(parseThinkTime('0')).toEqual({ minMs: 0, maxMs: 0 })
    expect(() => parseThinkTime('3s-1s')).toThrow(/ends before it starts/)
  })

  test('durations format for people', () => {
    expect(formatDuration(4000)).toBe('4s')
    expect(formatDuration(75_000)).toBe('1m15s')
    expect(formatDuration(3_723_000)).toBe('1h02m03s')
  })
})
