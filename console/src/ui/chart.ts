// Time-series panels in the manner of Grafana's, drawn by uPlot: a title, a y axis with its unit,
// hover values in the legend, and (on latency panels) exemplars as points that link to their trace.
// The exemplar points are anchors laid over the plot, so a keyboard or a click can follow them.

import uPlot from 'uplot'
import { h } from './h.ts'

export interface PanelLine {
  label: string
  colour: string
  values: (number | null)[]
  dash?: number[]
}

export interface Exemplar {
  /** Seconds on the x axis (epoch seconds on time panels). */
  x: number
  y: number
  href: string
  label: string
  colour: string
}

export interface PanelOptions {
  title: string
  /** The y axis's unit, shown on the axis ("ms", "req/s", "%"). */
  unit: string
  format: (value: number) => string
  /** The hovered value in the legend, with its unit (the axis's `format` when absent). */
  hover?: (value: number) => string
  /** false for a run's "seconds since start" axis. */
  time?: boolean
  xLabel?: string
  height?: number
}

const AXIS = {
  stroke: '#c8c8d0',
  grid: { stroke: '#2c2f3a', width: 1 },
  ticks: { stroke: '#2c2f3a', width: 1 },
}

/** 24-hour clock labels, with seconds when the ticks are closer than a minute. */
function clockTicks(ticks: number[]): string[] {
  const step = ticks.length > 1 ? (ticks[1] ?? 0) - (ticks[0] ?? 0) : 60
  return ticks.map((t) =>
    new Date(t * 1000).toLocaleTimeString(undefined, {
      hour12: false,
      hour: '2-digit',
      minute: '2-digit',
      ...(step < 60 ? { second: '2-digit' } : {}),
    }),
  )
}

export interface Panel {
  element: HTMLElement
  update: (x: number[], lines: PanelLine[], exemplars?: Exemplar[]) => void
  destroy: () => void
}

export function createPanel(options: PanelOptions): Panel {
  const { title, unit, format, hover = format, time = true, xLabel, height = 200 } = options
  const body = h('div', { class: 'panel-body' })
  const empty = h('p', { class: 'muted empty', hidden: true }, 'No data in this window yet.')
  const element = h('section', { class: 'panel', 'aria-label': title }, h('h3', null, title), empty, body)
  let plot: uPlot | undefined
  let shape = ''
  let exemplars: Exemplar[] = []
  const observer = new ResizeObserver(() => {
    if (plot && body.clientWidth > 0) plot.setSize({ width: body.clientWidth, height })
  })
  observer.observe(body)

  function build(lines: PanelLine[]): uPlot {
    const opts: uPlot.Options = {
      width: Math.max(body.clientWidth, 300),
      height,
      scales: {
        x: { time },
        y: {
          range: (_u, min, max) => {
            const top = Math.max(max ?? 0, ...exemplars.map((e) => e.y), 0)
            return [Math.min(0, min ?? 0), top > 0 ? top * 1.1 : 1]
          },
        },
      },
      axes: [
        {
          ...AXIS,
          ...(xLabel ? { label: xLabel, labelSize: 20 } : {}),
          // Room for a 24-hour clock label per tick, so narrow panels do not run labels together.
          ...(time ? { values: (_u: uPlot, ticks: number[]) => clockTicks(ticks), space: 45 } : {}),
        },
        {
          ...AXIS,
          label: unit,
          labelSize: 20,
          size: 64,
          values: (_u, ticks) => ticks.map((t) => format(t)),
        },
      ],
      series: [
        time
          ? {
              label: 'Time',
              value: (_u, v) =>
                v === null ? '–' : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false }),
            }
          : { label: xLabel ?? 'x', value: (_u, v) => (v === null ? '–' : `${v.toFixed(0)} s`) },
        ...lines.map(
          (line): uPlot.Series => ({
            label: line.label,
            stroke: line.colour,
            width: 2,
            spanGaps: false,
            ...(line.dash ? { dash: line.dash } : {}),
            points: { show: false },
            value: (_u, v) => (v === null || v === undefined ? '–' : hover(v)),
          }),
        ),
      ],
      legend: { live: true },
      cursor: { points: { size: 6 } },
      hooks: { draw: [drawExemplars] },
    }
    return new uPlot(opts, [[]], body)
  }

  /**
   * Anchors are kept from one draw to the next (keyed by link and time), only moved, so a refresh
   * every few seconds does not take the keyboard focus or the hover from the point a person is on.
   */
  function drawExemplars(u: uPlot): void {
    const xMin = u.scales.x?.min ?? 0
    const xMax = u.scales.x?.max ?? 0
    const kept = new Set<HTMLAnchorElement>()
    for (const exemplar of exemplars) {
      if (exemplar.x < xMin || exemplar.x > xMax) continue
      const key = `${exemplar.href}@${exemplar.x}`
      let anchor = u.over.querySelector<HTMLAnchorElement>(`a.exemplar[data-key="${CSS.escape(key)}"]`)
      if (!anchor) {
        anchor = h('a', {
          class: 'exemplar',
          href: exemplar.href,
          'data-key': key,
          title: exemplar.label,
          'aria-label': exemplar.label,
          style: { borderColor: exemplar.colour },
        })
        u.over.appendChild(anchor)
      }
      anchor.style.left = `${u.valToPos(exemplar.x, 'x')}px`
      anchor.style.top = `${u.valToPos(exemplar.y, 'y')}px`
      kept.add(anchor)
    }
    for (const old of u.over.querySelectorAll<HTMLAnchorElement>('a.exemplar'))
      if (!kept.has(old)) old.remove()
  }

  return {
    element,
    update(x, lines, nextExemplars = []) {
      exemplars = nextExemplars
      empty.hidden = x.length > 0
      const nextShape = lines.map((l) => `${l.label}|${l.colour}`).join(',')
      if (!plot || nextShape !== shape) {
        plot?.destroy()
        plot = build(lines)
        shape = nextShape
      }
      plot.setData([x, ...lines.map((l) => l.values)] as uPlot.AlignedData)
    },
    destroy() {
      observer.disconnect()
      plot?.destroy()
    },
  }
}
