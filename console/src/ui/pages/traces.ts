// Trace search, as Jaeger's: service, route, status, minimum duration, time window and trace id in
// the address; the newest traces first, each with a duration bar scaled to the longest in the list.

import { getJson, query, type ServicesAnswer, type TracesAnswer } from '../api.ts'
import { count, dateTime, ms, shortId } from '../format.ts'
import { h, replace } from '../h.ts'
import { ERROR_COLOUR, serviceColour } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox, field, select } from '../widgets.ts'

const LOOKBACK: readonly [value: string, label: string, seconds: number][] = [
  ['15m', 'Last 15 minutes', 900],
  ['1h', 'Last hour', 3600],
  ['6h', 'Last 6 hours', 21_600],
  ['24h', 'Last 24 hours', 86_400],
  ['all', 'All stored', 0],
]

export function tracesPage(context: PageContext): void {
  const { root, query: params } = context
  const errors = errorBox()
  const service = select([['', 'Any service']], params.get('service') ?? '', { name: 'service' })
  const route = h('input', {
    name: 'route',
    placeholder: '/catalog/:id',
    value: params.get('route') ?? '',
    size: 16,
  })
  const status = h('input', {
    name: 'status',
    placeholder: 'error, ok or 503',
    value: params.get('status') ?? '',
    list: 'status-choices',
    size: 12,
  })
  const minDuration = h('input', {
    name: 'min_duration_ms',
    type: 'number',
    min: 0,
    step: 'any',
    placeholder: '0',
    value: params.get('min_duration_ms') ?? '',
    style: { width: '90px' },
  })
  const lookback = select(
    LOOKBACK.map(([v, l]) => [v, l] as [string, string]),
    params.get('lookback') ?? '1h',
    { name: 'lookback' },
  )
  const traceId = h('input', {
    name: 'trace_id',
    placeholder: 'trace id',
    value: params.get('trace_id') ?? '',
    size: 34,
  })
  const results = h('div', { 'aria-live': 'polite' })
  const form = h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      onsubmit: (event: Event) => {
        event.preventDefault()
        context.setQuery(values(), { push: true })
        void search()
      },
    },
    field('Service', service),
    field('Route', route),
    field('Status', status),
    field('Min duration (ms)', minDuration),
    field('Time', lookback),
    field('Trace id', traceId),
    h(
      'datalist',
      { id: 'status-choices' },
      ['error', 'ok', '200', '404', '500', '503', '504'].map((v) => h('option', { value: v })),
    ),
    h('button', { class: 'primary', type: 'submit' }, 'Find traces'),
  )
  replace(root, h('h1', null, 'Traces'), form, errors.element, results)

  function values() {
    return {
      service: service.value,
      route: route.value.trim(),
      status: status.value.trim(),
      min_duration_ms: minDuration.value,
      lookback: lookback.value === '1h' ? undefined : lookback.value,
      trace_id: traceId.value.trim(),
    }
  }

  async function loadServices(): Promise<void> {
    try {
      const answer = await getJson<ServicesAnswer>('/api/services')
      const chosen = params.get('service') ?? ''
      const names = answer.services.map((s) => s.name)
      if (chosen && !names.includes(chosen)) names.push(chosen)
      replace(
        service,
        h('option', { value: '' }, 'Any service'),
        names.map((n) => h('option', { value: n, selected: n === chosen }, n)),
      )
    } catch (error) {
      errors.show(error, 'list the services')
    }
  }

  async function search(): Promise<void> {
    const v = values()
    const seconds = LOOKBACK.find(([value]) => value === lookback.value)?.[2] ?? 3600
    const url = `/api/traces${query({
      service: v.service,
      route: v.route,
      status: v.status,
      min_duration_ms: v.min_duration_ms,
      trace_id: v.trace_id,
      start_ms: seconds ? Date.now() - seconds * 1000 : undefined,
      limit: 100,
    })}`
    replace(results, h('p', { class: 'muted' }, 'Searching…'))
    try {
      const { traces } = await getJson<TracesAnswer>(url)
      errors.clear()
      renderList(traces)
    } catch (error) {
      replace(results)
      errors.show(error, 'search traces')
    }
  }

  function renderList(traces: TracesAnswer['traces']): void {
    if (traces.length === 0) {
      replace(
        results,
        h('p', { class: 'notice' }, 'No traces match. Widen the time window or clear a filter.'),
      )
      return
    }
    const longest = Math.max(...traces.map((t) => t.duration_ms), 0.001)
    const sorted = [...traces].sort((a, b) => b.start_ms - a.start_ms)
    replace(
      results,
      h('p', { class: 'muted' }, `${count(traces.length)} traces, newest first`),
      h(
        'table',
        { class: 'traces' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', null, 'Trace'),
            h('th', null, 'Started'),
            h('th', null, 'Duration'),
            h('th', null, 'Services'),
            h('th', { class: 'num' }, 'Spans'),
            h('th', { class: 'num' }, 'Errors'),
            h('th', null, 'HTTP'),
          ),
        ),
        h(
          'tbody',
          null,
          sorted.map((t) =>
            h(
              'tr',
              { 'data-trace-id': t.trace_id },
              h(
                'td',
                null,
                h('a', { href: `/traces/${t.trace_id}` }, `${t.root_service}: ${t.root_name}`),
                ' ',
                h('code', { class: 'muted' }, shortId(t.trace_id)),
              ),
              h('td', { class: 'muted' }, dateTime(t.start_ms)),
              h(
                'td',
                null,
                h(
                  'div',
                  { class: 'dur', title: ms(t.duration_ms) },
                  h('span', {
                    style: {
                      width: `${(t.duration_ms / longest) * 100}%`,
                      background: t.error_count ? ERROR_COLOUR : serviceColour(t.root_service),
                    },
                  }),
                  h('b', null, ms(t.duration_ms)),
                ),
              ),
              h(
                'td',
                null,
                t.services.map((s) =>
                  h('span', { class: 'chip', style: { background: serviceColour(s) } }, s),
                ),
              ),
              h('td', { class: 'num' }, count(t.span_count)),
              h(
                'td',
                { class: 'num' },
                t.error_count ? h('span', { class: 'badge' }, `${t.error_count} errors`) : '0',
              ),
              h('td', null, t.http_status === undefined ? '' : String(t.http_status)),
            ),
          ),
        ),
      ),
    )
  }

  void loadServices()
  void search()
}
