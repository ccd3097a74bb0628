// Test helpers shared by the load generator's tests: virtual time, so timers fire in
// milliseconds of real time and every figure is exact, whatever the machine's load.

import type { SetTimer } from './runner.ts'

export function createVirtualTime() {
  let now = 0
  let seq = 0
  const timers: Array<{ at: number; seq: number; fn: () => void }> = []
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve))
  const setTimer: SetTimer = (fn, ms) => {
    const timer = { at: now + Math.max(0, ms), seq: seq++, fn }
    timers.push(timer)
    return () => {
      const index = timers.indexOf(timer)
      if (index >= 0) timers.splice(index, 1)
    }
  }
  return {
    now: () => now,
    setTimer,
    /** Fire every timer due up to `target`, letting promise chains settle after each. */
    async advanceTo(target: number) {
      for (;;) {
        await flush()
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
        const next = timers[0]
        if (!next || next.at > target) break
        timers.shift()
        now = next.at
        next.fn()
      }
      now = Math.max(now, target)
      await flush()
    },
  }
}

export type VirtualTime = ReturnType<typeof createVirtualTime>
