// Overview: the service map and RED panels (rate, error ratio, p99 with exemplars) per service, or per
// route of one service, plus the gateway's retries; window and service live in the address.

import { getJson, query, type RedAnswer, type ServiceMapAnswer, type ServicesAnswer } from '../api.ts'
import { createPanel, type Exemplar, type PanelLine } from '../chart.ts'
import { ms, percent, rate as reqPerSecond, shortId } from '../format.ts'
import { h, replace } from '../h.ts'
import { OKABE_ITO, serviceColour } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox, field, poll, select, WINDOWS, windowSeconds } from '../widgets.ts'
import { renderServiceMap } from './service-map.ts'

const ROUTE_COLOURS = Object.values(OKABE_ITO)

export function overviewPage(context: PageContext): void {
  const { root, query: params } = context
  let windowValue = params.get('window') ?? '5m'
  let service = params.get('service') ?? ''

  const errors = errorBox()
  const mapHolder = h(
    'div',
    { class: 'panel', 'aria-label': 'Service map' },
    h('p', { class: 'muted' }, 'Loading…'),
  )
  const windowSelect = select(
    WINDOWS.map(([v, l]) => [v, l] as [string, string]),
    windowValue,
    {
      onchange: () => {
        windowValue = windowSelect.value
        sync()
      },
    },
  )
  const serviceSelect = select(
    [['', 'All services'], ...(service ? [[service, `${service}: by route`] as [string, string]] : [])],
    service,
    {
      onchange: () => {
        service = serviceSelect.value
        sync()
      },
    },
  )
  const updated = h('span', { class: 'muted' })
  const rate = createPanel({
    title: 'Request rate',
    unit: 'req/s',
    format: (v) => v.toFixed(v < 10 ? 2 : 1),
    hover: reqPerSecond,
  })
  const errorRatio = createPanel({
    title: 'Error ratio',
    unit: '% errors',
    format: (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`,
    hover: (v) => `${percent(v)} errors`,
  })
  const latency = createPanel({
    title: 'Latency p99 (◆ exemplars: click for the trace)',
    unit: 'ms',
    format: (v) => ms(v),
  })
  const retries = createPanel({
    title: 'Retries to upstreams',
    unit: 'retries/s',
    format: (v) => v.toFixed(2),
    hover: (v) => `${v.toFixed(2)} retries/s`,
  })
  const heading = h('h2', null)
  context.onLeave(() => {
    for (const panel of [rate, errorRatio, latency, retries]) panel.destroy()
  })

  replace(
    root,
    h('h1', null, 'Overview'),
    h(
      'div',
      { class: 'toolbar' },
      field('Time window', windowSelect),
      field('Breakdown', serviceSelect),
      updated,
    ),
    errors.element,
    h('h2', null, 'Service map'),
    mapHolder,
    heading,
    h('div', { class: 'grid' }, rate.element, errorRatio.element, latency.element, retries.element),
  )

  /** The services the console knows (spans and scrape targets), for the per-route choice. */
  async function loadServices(): Promise<void> {
    try {
      const { services } = await getJson<ServicesAnswer>('/api/services')
      const names = services.map((s) => s.name)
      if (service && !names.includes(service)) names.push(service)
      replace(
        serviceSelect,
        h('option', { value: '' }, 'All services'),
        names.map((name) => h('option', { value: name, selected: name === service }, `${name}: by route`)),
      )
    } catch (error) {
      errors.show(error, 'list the services')
    }
  }

  function sync(): void {
    context.setQuery({ window: windowValue === '5m' ? undefined : windowValue, service })
    refresh.now()
  }

  async function load(): Promise<void> {
    const window_s = windowSeconds(windowValue)
    const step_s = Math.max(5, Math.round(window_s / 120))
    heading.textContent = service ? `RED for ${service}, per route` : 'RED per service'
    try {
      const [map, red] = await Promise.all([
        getJson<ServiceMapAnswer>(`/api/service-map${query({ window_s })}`),
        getJson<RedAnswer>(`/api/metrics/red${query({ service, window_s, step_s })}`),
      ])
      errors.clear()
      replace(
        mapHolder,
        map.edges.length || map.nodes.length
          ? renderServiceMap(map)
          : h('p', { class: 'muted' }, 'No calls between services in this window yet.'),
      )
      drawRed(red)
      updated.textContent = `updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`
    } catch (error) {
      errors.show(error, 'load the overview')
    }
  }

  function drawRed(red: RedAnswer): void {
    // One x axis for every line: the union of the series' timestamps, in seconds.
    const times = [...new Set(red.series.flatMap((s) => s.points.map((p) => p.t_ms)))].sort((a, b) => a - b)
    const x = times.map((t) => t / 1000)
    const seriesFor = (pick: (p: RedAnswer['series'][number]['points'][number]) => number | null) =>
      red.series.map((s, i): PanelLine => {
        const byTime = new Map(s.points.map((p) => [p.t_ms, pick(p)]))
        const label = service ? (s.route ?? 'all routes') : s.service
        const colour = service
          ? (ROUTE_COLOURS[i % ROUTE_COLOURS.length] ?? '#bbb')
          : serviceColour(s.service)
        return { label, colour, values: times.map((t) => byTime.get(t) ?? null) }
      })
    rate.update(
      x,
      seriesFor((p) => p.rate),
    )
    errorRatio.update(
      x,
      seriesFor((p) => p.error_ratio),
    )
    const exemplars = red.exemplars
      .filter((e) => !service || e.service === service)
      .map(
        (e): Exemplar => ({
          x: e.t_ms / 1000,
          y: e.value_ms,
          href: `/traces/${e.trace_id}`,
          label: `Exemplar: trace ${shortId(e.trace_id)}, ${e.service}${e.route ? ` ${e.route}` : ''}, ${ms(e.value_ms)}`,
          colour: serviceColour(e.service),
        }),
      )
    latency.update(
      x,
      seriesFor((p) => p.p99_ms),
      exemplars,
    )
    const retryTimes = [...new Set(red.retries.flatMap((r) => r.points.map((p) => p.t_ms)))].sort(
      (a, b) => a - b,
    )
    retries.update(
      retryTimes.map((t) => t / 1000),
      red.retries.map((r) => {
        const byTime = new Map(r.points.map((p) => [p.t_ms, p.rate]))
        return {
          label: `${r.service} → ${r.upstream}`,
          colour: serviceColour(r.upstream),
          values: retryTimes.map((t) => byTime.get(t) ?? null),
        }
      }),
    )
  }

  void loadServices()
  const refresh = poll(context, 5000, load)
}
