// Logs of every service, newest first, as a live tail: the page asks for lines after the newest it
// has (`after_id`) every two seconds until paused. Filters live in the address; a line's trace id
// opens the trace.

import { getJson, type LogLine, type LogsAnswer, query, type ServicesAnswer } from '../api.ts'
import { dateTime, ms, shortId } from '../format.ts'
import { h, replace } from '../h.ts'
import { serviceColour } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox, field, poll, select } from '../widgets.ts'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
const KEEP = 1000
/** Lines one tail read takes at most (the API's bound); a fuller answer means the tail fell behind. */
const TAIL_LIMIT = 1000

/** "GET /catalog/:id → 200 in 12.3 ms": what a request line is about, beside its bare "request". */
export function lineSummary(line: LogLine): string {
  const a = line.attributes
  const parts: string[] = []
  const target = a.route ?? a.url ?? a.path
  if (typeof a.method === 'string' || typeof target === 'string') {
    parts.push([a.method, target].filter((p) => typeof p === 'string').join(' '))
  }
  if (typeof a.status === 'number') parts.push(`→ ${a.status}`)
  const took = a.duration_ms ?? a.responseTime
  if (typeof took === 'number') parts.push(`in ${ms(took)}`)
  const err = a.err
  if (typeof err === 'object' && err !== null) {
    const e = err as Record<string, unknown>
    parts.push(`error: ${[e.type, e.message].filter((p) => typeof p === 'string').join(': ')}`)
  }
  return parts.join(' ')
}

export function logRow(line: LogLine, options: { linkLogs?: boolean } = {}): HTMLElement {
  return h(
    'tr',
    { 'data-log-id': line.id },
    h(
      'td',
      { class: 'time' },
      options.linkLogs && line.trace_id
        ? h(
            'a',
            { href: `/logs?trace_id=${line.trace_id}`, title: 'All log lines of this trace' },
            dateTime(line.time_ms),
          )
        : dateTime(line.time_ms),
    ),
    h(
      'td',
      null,
      h('span', { class: 'chip', style: { background: serviceColour(line.service) } }, line.service),
    ),
    h('td', null, h('span', { class: `level ${line.level}` }, line.level)),
    h(
      'td',
      null,
      h(
        'details',
        null,
        h(
          'summary',
          null,
          line.msg,
          lineSummary(line) ? h('span', { class: 'muted' }, ` ${lineSummary(line)}`) : null,
        ),
        h('pre', null, line.line),
      ),
    ),
    h(
      'td',
      null,
      line.trace_id
        ? h(
            'a',
            { href: `/traces/${line.trace_id}`, title: `trace ${line.trace_id}` },
            h('code', null, shortId(line.trace_id)),
          )
        : '',
    ),
  )
}

export function logTable(lines: LogLine[], options: { linkLogs?: boolean } = {}): HTMLTableElement {
  return h(
    'table',
    { class: 'logs' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Time'),
        h('th', null, 'Service'),
        h('th', null, 'Level'),
        h('th', null, 'Message (open for the line)'),
        h('th', null, 'Trace'),
      ),
    ),
    h(
      'tbody',
      null,
      lines.map((l) => logRow(l, options)),
    ),
  )
}

export function logsPage(context: PageContext): void {
  const { root, query: params } = context
  const errors = errorBox()
  const service = select([['', 'All services']], params.get('service') ?? '')
  const level = select(
    [['', 'Any level'], ...LEVELS.map((l) => [l, `${l} and above`] as [string, string])],
    params.get('level') ?? '',
  )
  const text = h('input', {
    type: 'search',
    placeholder: 'text in the line',
    value: params.get('q') ?? '',
    size: 20,
  })
  const traceId = h('input', { placeholder: 'trace id', value: params.get('trace_id') ?? '', size: 34 })
  const pause = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause')
  const state = h('span', { class: 'muted', 'aria-live': 'polite' })
  const table = logTable([])
  const tbody = table.tBodies[0] as HTMLTableSectionElement
  let newest = 0
  let started = false
  let paused = false
  let shown = 0
  /** Bumped by every filter change, so an answer to the old filters is not shown. */
  let generation = 0
  const skipped = h(
    'p',
    { class: 'muted', hidden: true },
    'More lines arrived than the live tail can show one by one; it skipped to the newest.',
  )

  const form = h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      onsubmit: (event: Event) => {
        event.preventDefault()
        apply()
      },
    },
    field('Service', service),
    field('Minimum level', level),
    field('Text', text),
    field('Trace id', traceId),
    h('button', { class: 'primary', type: 'submit' }, 'Apply'),
    pause,
    state,
  )
  service.addEventListener('change', apply)
  level.addEventListener('change', apply)
  pause.addEventListener('click', () => {
    paused = !paused
    pause.textContent = paused ? 'Resume' : 'Pause'
    pause.setAttribute('aria-pressed', String(paused))
    describe()
    if (!paused) tail.now()
  })
  replace(root, h('h1', null, 'Logs'), form, errors.element, skipped, table)

  function filters() {
    return {
      service: service.value,
      level: level.value,
      q: text.value.trim(),
      trace_id: traceId.value.trim(),
    }
  }

  function describe(): void {
    state.textContent = `${shown} ${shown === 1 ? 'line' : 'lines'}${paused ? ' · paused' : ' · live'}`
  }

  function apply(): void {
    generation++
    skipped.hidden = true
    context.setQuery(filters(), { push: true })
    newest = 0
    started = false
    tbody.replaceChildren()
    shown = 0
    tail.now()
  }

  async function loadServices(): Promise<void> {
    try {
      const { services } = await getJson<ServicesAnswer>('/api/services')
      const chosen = service.value
      replace(
        service,
        h('option', { value: '' }, 'All services'),
        services.map((s) => h('option', { value: s.name, selected: s.name === chosen }, s.name)),
      )
    } catch (error) {
      errors.show(error, 'list the services')
    }
  }

  async function fetchLines(): Promise<void> {
    if (paused) return
    const asked = generation
    try {
      // The first read takes the newest 200 (newest first); later ones only what came after.
      const first = !started
      const { logs } = await getJson<LogsAnswer>(
        `/api/logs${query({ ...filters(), ...(first ? { limit: 200 } : { after_id: newest, limit: TAIL_LIMIT }) })}`,
      )
      // An answer to filters changed since is not shown; the next tick reads the new ones.
      if (asked !== generation) return
      errors.clear()
      // A tail batch comes in arrival order; a person reads it by the lines' own time.
      const newestFirst = [...logs].sort((a, b) => b.time_ms - a.time_ms || b.id - a.id)
      for (const line of newestFirst) newest = Math.max(newest, line.id)
      tbody.prepend(...newestFirst.map((l) => logRow(l)))
      while (tbody.rows.length > KEEP) tbody.lastElementChild?.remove()
      shown = tbody.rows.length
      started = true
      // More lines than a read takes arrived in one interval: the tail cannot keep up line by
      // line, so the next read starts again from the newest, and the page says lines were skipped.
      if (!first && logs.length >= TAIL_LIMIT) {
        started = false
        newest = 0
        tbody.replaceChildren()
        skipped.hidden = false
      }
      describe()
    } catch (error) {
      errors.show(error, 'read the logs')
    }
  }

  void loadServices()
  const tail = poll(context, 2000, fetchLines)
}
