// The load generator, as Locust's UI: a start form (users, spawn rate, run time), the live stats
// table per route, charts of the run's series (uPlot), the failures with an example trace each, and
// report downloads. A view of /api/load/status, polled once a second.

import { getJson, type LoadStatus, sendJson } from '../api.ts'
import { createPanel } from '../chart.ts'
import { count, ms, percent, shortId } from '../format.ts'
import { h, replace } from '../h.ts'
import { ERROR_COLOUR, OKABE_ITO } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox, field, poll } from '../widgets.ts'

const RUNNING = new Set(['spawning', 'running', 'stopping'])

export function loadPage(context: PageContext): void {
  const { root } = context
  const errors = errorBox()
  const users = h('input', {
    type: 'number',
    min: 1,
    step: 1,
    value: 10,
    required: true,
    style: { width: '90px' },
  })
  const spawnRate = h('input', {
    type: 'number',
    min: 0.1,
    step: 'any',
    value: 10,
    required: true,
    style: { width: '90px' },
  })
  const runTime = h('input', { placeholder: '60s, 5m, 1h', value: '60s', size: 8 })
  const start = h('button', { class: 'primary', type: 'submit' }, 'Start')
  const stop = h('button', { class: 'danger', type: 'button', disabled: true }, 'Stop')
  const state = h('p', { class: 'load-state', 'aria-live': 'polite' }, 'Reading the load generator…')
  // The state line is the live region (users, req/s, failures); the table would be read out every second.
  const stats = h('div')
  const failures = h('div')
  const upstreams = h('div')
  const downloads = h(
    'p',
    null,
    'Report: ',
    h('a', { href: '/api/load/report.html', download: '' }, 'HTML'),
    ' · ',
    h('a', { href: '/api/load/report.json', download: '' }, 'JSON'),
  )
  const rps = createPanel({
    title: 'Total requests per second',
    unit: 'req/s',
    format: (v) => v.toFixed(1),
    hover: (v) => `${v.toFixed(1)}/s`,
    time: false,
    xLabel: 'seconds since start',
  })
  const times = createPanel({
    title: 'Response times',
    unit: 'ms',
    format: (v) => ms(v),
    time: false,
    xLabel: 'seconds since start',
  })
  const userPanel = createPanel({
    title: 'Number of users',
    unit: 'users',
    format: (v) => v.toFixed(0),
    hover: (v) => `${v.toFixed(0)} users`,
    time: false,
    xLabel: 'seconds since start',
  })
  context.onLeave(() => {
    for (const panel of [rps, times, userPanel]) panel.destroy()
  })
  let defaultsApplied = false

  const form = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': 'Start a load test',
      onsubmit: async (event: Event) => {
        event.preventDefault()
        await act('start the run', () =>
          sendJson<LoadStatus>('POST', '/api/load/start', {
            users: Number(users.value),
            spawn_rate: Number(spawnRate.value),
            ...(runTime.value.trim() ? { run_time: runTime.value.trim() } : {}),
          }),
        )
      },
    },
    field('Number of users', users),
    field('Spawn rate (users/s)', spawnRate),
    field('Run time', runTime, 'empty: until stopped'),
    start,
    stop,
  )
  stop.addEventListener('click', () =>
    act('stop the run', () => sendJson<LoadStatus>('POST', '/api/load/stop')),
  )

  replace(
    root,
    h('h1', null, 'Load'),
    form,
    errors.element,
    state,
    h('h2', null, 'Statistics'),
    stats,
    h('div', { class: 'grid' }, rps.element, times.element, userPanel.element),
    h('h2', null, 'Behind the gateway'),
    upstreams,
    h('h2', null, 'Failures'),
    failures,
    downloads,
  )

  async function act(doing: string, work: () => Promise<LoadStatus>): Promise<void> {
    try {
      render(await work())
      errors.clear()
    } catch (error) {
      errors.show(error, doing)
    }
  }

  function render(s: LoadStatus): void {
    const running = RUNNING.has(s.status.state)
    start.disabled = running
    stop.disabled = !running
    if (!defaultsApplied && s.defaults) {
      defaultsApplied = true
      users.value = String(s.defaults.users)
      spawnRate.value = String(s.defaults.spawn_rate)
      runTime.value = s.defaults.run_time_s ? `${s.defaults.run_time_s}s` : ''
    }
    const t = s.totals
    // Before the first run the status is only its state.
    const run = 'users' in s.status ? s.status : undefined
    replace(
      state,
      'Status ',
      h('strong', { 'data-state': s.status.state }, s.status.state.toUpperCase()),
      // The load generator's metrics user (polling /metrics and the probes) is one of them.
      ` · ${count(run?.users ?? 0)} users (one polls /metrics and health)`,
      t ? ` · ${t.current_rps.toFixed(1)} req/s · ${percent(t.error_rate)} failures` : '',
      run?.elapsed_s
        ? ` · ${Math.round(run.elapsed_s)} s of ${run.run_time_s ? `${run.run_time_s} s` : 'until stopped'}`
        : '',
    )
    replace(stats, statsTable(s))
    replace(failures, failuresTable(s))
    replace(upstreams, upstreamsTable(s))
    const series = s.series
    const x = series?.t ?? []
    const column = (values: number[] | undefined) => values ?? []
    rps.update(x, [
      { label: 'RPS', colour: OKABE_ITO.bluishGreen, values: column(series?.rps) },
      { label: 'Failures/s', colour: ERROR_COLOUR, values: column(series?.failures_per_s) },
    ])
    times.update(x, [
      { label: 'Median', colour: OKABE_ITO.skyBlue, values: column(series?.p50_ms) },
      { label: '95th percentile', colour: OKABE_ITO.orange, values: column(series?.p95_ms) },
      { label: '99th percentile', colour: OKABE_ITO.reddishPurple, values: column(series?.p99_ms) },
    ])
    userPanel.update(x, [{ label: 'Users', colour: OKABE_ITO.yellow, values: column(series?.users) }])
  }

  poll(context, 1000, async () => {
    try {
      render(await getJson<LoadStatus>('/api/load/status'))
      errors.clear()
    } catch (error) {
      errors.show(error, 'read the load generator status')
    }
  })
}

function statsTable(s: LoadStatus): HTMLElement {
  if (s.endpoints.length === 0) return h('p', { class: 'muted' }, 'No requests yet. Start a run.')
  const num = (text: string) => h('td', { class: 'num' }, text)
  const row = (
    name: string,
    r: LoadStatus['endpoints'][number] | NonNullable<LoadStatus['totals']>,
    total = false,
  ) =>
    h(
      'tr',
      { class: total ? 'total' : '' },
      h('td', null, name),
      num(count(r.requests)),
      num(count(r.failures)),
      num(ms(r.p50_ms)),
      num(ms(r.p95_ms)),
      num(ms(r.p99_ms)),
      num(ms(r.avg_ms)),
      num(ms(r.max_ms)),
      num(r.current_rps.toFixed(1)),
      num(r.failures_per_s.toFixed(1)),
    )
  return h(
    'table',
    { class: 'stats' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Name'),
        [
          '# Requests',
          '# Fails',
          'Median',
          '95%ile',
          '99%ile',
          'Average',
          'Max',
          'Current RPS',
          'Failures/s',
        ].map((t) => h('th', { class: 'num' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      s.endpoints.map((e) => row(e.name, e)),
      s.totals ? row('Aggregated', s.totals, true) : null,
    ),
  )
}

/**
 * What the services saw themselves since the run began: a request that succeeded for the client
 * may have failed upstream and been retried by the gateway, so the upstream's own errors and the
 * retries are shown beside the client's view.
 */
function upstreamsTable(s: LoadStatus): HTMLElement {
  const ups = s.upstreams ?? []
  if (ups.length === 0) return h('p', { class: 'muted' }, 'Read from the services during a run.')
  const t = s.totals
  const clientRatio = t && t.requests > 0 ? t.failures / t.requests : 0
  const hidden = ups.filter((u) => u.errors > 0 && u.error_ratio > clientRatio)
  const retries = ups.reduce((n, u) => n + u.retries, 0)
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'muted' },
      'From the services’ own /metrics: a request that succeeded for you may have failed upstream first and been retried.',
    ),
    hidden.length
      ? h(
          'p',
          { class: 'hidden-failures', role: 'status' },
          `${hidden.map((u) => `${u.service} answered ${percent(u.error_ratio)} of its requests with a 5xx`).join('; ')}; `,
          `your requests failed ${percent(clientRatio)}: ${count(retries)} retries turned failures into successes.`,
        )
      : null,
    h(
      'table',
      { class: 'upstreams' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, 'Upstream'),
          h('th', { class: 'num' }, 'Its requests'),
          h('th', { class: 'num' }, 'Its 5xx'),
          h('th', { class: 'num' }, 'Its error ratio'),
          h('th', { class: 'num' }, 'Retries sent to it'),
          h('th', { class: 'num' }, 'Retries refused (budget)'),
        ),
      ),
      h(
        'tbody',
        null,
        ups.map((u) =>
          h(
            'tr',
            { 'data-upstream': u.service },
            h('td', null, u.service),
            h('td', { class: 'num' }, count(u.requests)),
            h('td', { class: 'num' }, count(u.errors)),
            h('td', { class: 'num' }, percent(u.error_ratio)),
            h('td', { class: 'num' }, count(u.retries)),
            h('td', { class: 'num' }, count(u.retries_refused)),
          ),
        ),
      ),
    ),
  )
}

function failuresTable(s: LoadStatus): HTMLElement {
  if (s.failures.length === 0) return h('p', { class: 'muted' }, 'No failures.')
  return h(
    'table',
    { class: 'failures' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'num' }, '# Fails'),
        h('th', null, 'Name'),
        h('th', null, 'Cause'),
        h('th', null, 'Example trace'),
      ),
    ),
    h(
      'tbody',
      null,
      s.failures.map((f) =>
        h(
          'tr',
          null,
          h('td', { class: 'num' }, count(f.count)),
          h('td', null, f.endpoint),
          h('td', null, f.cause),
          h(
            'td',
            null,
            f.example.trace_id
              ? f.example.trace_recorded === false
                ? // No span was recorded (a health check, say): its id still finds its log lines.
                  h(
                    'a',
                    {
                      href: `/logs?trace_id=${f.example.trace_id}`,
                      title: `${f.example.url}: no trace recorded`,
                    },
                    'log lines ',
                    h('code', null, shortId(f.example.trace_id)),
                  )
                : h(
                    'a',
                    { href: `/traces/${f.example.trace_id}`, title: f.example.url },
                    h('code', null, shortId(f.example.trace_id)),
                  )
              : h('span', { class: 'muted' }, 'no trace id'),
            ` at ${f.example.at_s.toFixed(1)} s`,
          ),
        ),
      ),
    ),
  )
}
