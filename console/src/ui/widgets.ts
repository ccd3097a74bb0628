// Small pieces every page uses: an error in words, a polling loop that stops when the page is left,
// labelled form fields.

import { ApiError } from './api.ts'
import { h, replace } from './h.ts'
import type { PageContext } from './router.ts'

/** Where a page says what failed; empty (and silent) when all is well. */
export function errorBox(): {
  element: HTMLElement
  show: (error: unknown, doing?: string) => void
  clear: () => void
} {
  const element = h('div', { class: 'alert-error', role: 'alert', hidden: true })
  return {
    element,
    show(error, doing) {
      const words =
        error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error)
      replace(element, h('strong', null, doing ? `Could not ${doing}. ` : 'Error. '), words)
      element.hidden = false
    },
    clear() {
      element.hidden = true
      element.replaceChildren()
    },
  }
}

/**
 * Run `tick` now and every `everyMs` until the page is left; a tick never overlaps the last. `now()`
 * during a tick runs one more as soon as it ends: the tick under way may have read what a filter
 * change made stale.
 */
export function poll(context: PageContext, everyMs: number, tick: () => Promise<void>): { now: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  let running = false
  let again = false
  async function run(): Promise<void> {
    if (stopped) return
    clearTimeout(timer)
    if (running) {
      again = true
      return
    }
    running = true
    try {
      await tick()
    } finally {
      running = false
    }
    if (stopped) return
    if (again) {
      again = false
      return run()
    }
    timer = setTimeout(run, everyMs)
  }
  context.onLeave(() => {
    stopped = true
    clearTimeout(timer)
  })
  void run()
  return { now: () => void run() }
}

let nextId = 0
/** A label and its control, tied by id. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `field-${++nextId}`
  control.id = id
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', null, hint) : null,
  )
}

export function select(
  options: readonly (string | [value: string, label: string])[],
  value: string,
  props: Record<string, unknown> = {},
): HTMLSelectElement {
  return h(
    'select',
    props,
    options.map((option) => {
      const [v, label] = typeof option === 'string' ? [option, option] : option
      return h('option', { value: v, selected: v === value }, label)
    }),
  )
}

export const WINDOWS: readonly [value: string, label: string, seconds: number][] = [
  ['5m', 'Last 5 minutes', 300],
  ['15m', 'Last 15 minutes', 900],
  ['1h', 'Last hour', 3600],
]

export function windowSeconds(value: string | null): number {
  return WINDOWS.find(([v]) => v === value)?.[2] ?? 300
}
