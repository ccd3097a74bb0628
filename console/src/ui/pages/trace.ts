// One trace as Jaeger draws it: spans in call order, indented under their parent, bars on the
// trace's time axis in the service's colour, error spans marked, injected faults (attributes and
// events under `shopstack.fault.`) badged; a span opens its attributes, events and exceptions. The
// trace's log lines follow, each linking to the logs page for the trace.

import {
  getJson,
  type JaegerKeyValue,
  type JaegerSpan,
  type JaegerTrace,
  type LogsAnswer,
  type TraceAnswer,
} from '../api.ts'
import { dateTime, ms } from '../format.ts'
import { h, replace } from '../h.ts'
import { serviceColour } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox } from '../widgets.ts'
import { logTable } from './logs.ts'

const FAULT = 'shopstack.fault.'

interface Row {
  span: JaegerSpan
  service: string
  depth: number
  error: boolean
  faults: string[]
}

const tagValue = (tags: JaegerKeyValue[], key: string) => tags.find((t) => t.key === key)?.value

/** The `shopstack.fault.*` names a span carries, in its attributes or its events. */
export function faultsOf(span: JaegerSpan): string[] {
  const names = new Set<string>()
  // An attribute names a setting (shopstack.fault.latency_ms); its kind is the name without the unit.
  for (const t of span.tags)
    if (t.key.startsWith(FAULT)) names.add(t.key.slice(FAULT.length).replace(/_(ms|mb|bytes)$/, ''))
  for (const log of span.logs) {
    const event = tagValue(log.fields, 'event')
    if (typeof event === 'string' && event.startsWith(FAULT)) names.add(event.slice(FAULT.length))
  }
  return [...names]
}

/** Depth-first in start order, so children sit under their parent as in Jaeger. */
export function orderSpans(trace: JaegerTrace): Row[] {
  const ids = new Set(trace.spans.map((s) => s.spanID))
  const children = new Map<string, JaegerSpan[]>()
  const roots: JaegerSpan[] = []
  for (const span of trace.spans) {
    const parent = span.references.find((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID))?.spanID
    if (parent) children.set(parent, [...(children.get(parent) ?? []), span])
    else roots.push(span)
  }
  const rows: Row[] = []
  const visit = (span: JaegerSpan, depth: number) => {
    rows.push({
      span,
      service: trace.processes[span.processID]?.serviceName ?? span.processID,
      depth,
      error: span.tags.some(
        (t) =>
          (t.key === 'error' && t.value === true) || (t.key === 'otel.status_code' && t.value === 'ERROR'),
      ),
      faults: faultsOf(span),
    })
    for (const child of (children.get(span.spanID) ?? []).sort((a, b) => a.startTime - b.startTime))
      visit(child, depth + 1)
  }
  for (const root of roots.sort((a, b) => a.startTime - b.startTime)) visit(root, 0)
  return rows
}

export function tracePage(context: PageContext): void {
  const { root, params } = context
  const id = params.id ?? ''
  const errors = errorBox()
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading the trace…'))
  const logsHolder = h('section', { 'aria-label': 'Log lines of this trace' })
  replace(root, h('h1', null, 'Trace ', h('code', null, id)), errors.element, body, logsHolder)

  void (async () => {
    try {
      const answer = await getJson<TraceAnswer>(`/api/traces/${encodeURIComponent(id)}`)
      const trace = answer.data[0]
      if (!trace || trace.spans.length === 0) throw new Error(`The console has no spans for trace ${id}.`)
      replace(body, renderTrace(trace))
    } catch (error) {
      replace(body)
      errors.show(error, `load trace ${id}`)
    }
  })()

  void (async () => {
    const logsLink = h('a', { href: `/logs?trace_id=${id}` }, 'open in Logs')
    try {
      const { logs } = await getJson<LogsAnswer>(`/api/logs?trace_id=${encodeURIComponent(id)}&limit=1000`)
      replace(
        logsHolder,
        h('h2', null, `Logs of this trace (${logs.length}) · `, logsLink),
        logs.length
          ? logTable(
              [...logs].sort((a, b) => a.time_ms - b.time_ms || a.id - b.id),
              { linkLogs: true },
            )
          : h('p', { class: 'muted' }, 'No log lines carry this trace id.'),
      )
    } catch (error) {
      const box = errorBox()
      box.show(error, 'load the log lines of this trace')
      replace(logsHolder, h('h2', null, 'Logs of this trace · ', logsLink), box.element)
    }
  })()
}

function renderTrace(trace: JaegerTrace): HTMLElement {
  const rows = orderSpans(trace)
  const start = Math.min(...trace.spans.map((s) => s.startTime))
  const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration))
  const total = Math.max(end - start, 1)
  const first = rows[0]
  const services = [...new Set(rows.map((r) => r.service))]
  const errorCount = rows.filter((r) => r.error).length
  const faultCount = rows.filter((r) => r.faults.length).length

  const head = h(
    'div',
    { class: 'trace-head' },
    h('span', null, h('strong', null, first ? `${first.service}: ${first.span.operationName}` : '')),
    h('span', null, 'Started ', h('strong', null, dateTime(start / 1000))),
    h('span', null, 'Duration ', h('strong', null, ms(total / 1000))),
    h('span', null, 'Services ', h('strong', null, String(services.length))),
    h('span', null, 'Depth ', h('strong', null, String(Math.max(...rows.map((r) => r.depth)) + 1))),
    h('span', null, 'Spans ', h('strong', null, String(rows.length))),
    errorCount ? h('span', { class: 'badge' }, `${errorCount} error spans`) : null,
    faultCount ? h('span', { class: 'badge fault' }, `${faultCount} spans with injected faults`) : null,
  )
  const legend = h(
    'p',
    { class: 'muted' },
    services.map((s) => h('span', { class: 'chip', style: { background: serviceColour(s) } }, s)),
    ' Click a span (or press Enter on it) for its attributes, events and exceptions.',
  )
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    h(
      'span',
      {
        class: 'wf-tick',
        style: {
          left: `${f * 100}%`,
          ...(f === 1 ? { transform: 'translateX(-100%)', borderLeft: '0' } : {}),
        },
      },
      ms((total * f) / 1000),
    ),
  )
  const waterfall = h(
    'div',
    { class: 'waterfall', role: 'list', 'aria-label': 'Spans' },
    h(
      'div',
      { class: 'wf-row axis', 'aria-hidden': 'true' },
      h('div', { class: 'wf-name' }, 'Service · operation'),
      h('div', { class: 'wf-track' }, ticks),
    ),
  )
  for (const row of rows) waterfall.appendChild(spanRow(row, start, total))
  return h('div', null, head, legend, waterfall)
}

function spanRow(row: Row, traceStart: number, total: number): HTMLElement {
  const { span, service, depth, error, faults } = row
  const left = ((span.startTime - traceStart) / total) * 100
  const width = Math.max((span.duration / total) * 100, 0.2)
  const colour = serviceColour(service)
  const details = h('div', { class: 'wf-details', hidden: true })
  // The duration sits right of the bar, or left of it when the bar ends late, or inside a long bar.
  const where =
    left + width <= 75
      ? { className: 'wf-label', style: { left: `${left + width + 0.5}%` } }
      : left >= 12
        ? { className: 'wf-label', style: { right: `${100 - left + 0.5}%` } }
        : { className: 'wf-label inside', style: { right: `${100 - left - width + 0.5}%` } }
  const label = h('span', { class: where.className, style: where.style }, ms(span.duration / 1000))
  const name = h(
    'button',
    {
      class: 'wf-name',
      type: 'button',
      'aria-expanded': 'false',
      style: { paddingLeft: `${8 + depth * 16}px`, borderLeftColor: colour },
      title: `${service}: ${span.operationName}`,
    },
    h('span', { class: 'svc' }, service),
    h('span', { class: 'op' }, span.operationName),
    error ? h('span', { class: 'badge' }, 'error') : null,
    faults.map((f) => h('span', { class: 'badge fault', title: `shopstack.fault.${f}` }, `fault: ${f}`)),
  )
  const element = h(
    'div',
    {
      class: `wf-row${error ? ' is-error' : ''}`,
      role: 'listitem',
      'data-span-id': span.spanID,
      'data-service': service,
    },
    name,
    h(
      'div',
      { class: 'wf-track' },
      h('div', { class: 'wf-bar', style: { left: `${left}%`, width: `${width}%`, background: colour } }),
      label,
    ),
    details,
  )
  name.addEventListener('click', () => {
    const open = details.hidden
    if (open && !details.hasChildNodes()) details.appendChild(spanDetails(row, traceStart))
    details.hidden = !open
    name.setAttribute('aria-expanded', String(open))
    element.classList.toggle('selected', open)
  })
  return element
}

function kvTable(fields: JaegerKeyValue[]): HTMLElement {
  return h(
    'table',
    { class: 'kv' },
    h(
      'tbody',
      null,
      fields.map((f) =>
        h(
          'tr',
          { class: f.key.startsWith(FAULT) ? 'fault' : '' },
          h('td', null, f.key),
          h('td', null, h('code', null, typeof f.value === 'string' ? f.value : JSON.stringify(f.value))),
        ),
      ),
    ),
  )
}

function spanDetails(row: Row, traceStart: number): HTMLElement {
  const { span, service } = row
  const exceptions = span.logs.filter((l) => tagValue(l.fields, 'event') === 'exception')
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'muted' },
      `${service} · span ${span.spanID} · starts at ${ms((span.startTime - traceStart) / 1000)} · lasts ${ms(span.duration / 1000)}`,
    ),
    span.warnings?.length ? h('p', { class: 'notice' }, `Warnings: ${span.warnings.join('; ')}`) : null,
    row.faults.length
      ? h(
          'p',
          { class: 'notice' },
          h('span', { class: 'badge fault' }, 'fault injected'),
          ` ${row.faults.map((f) => `shopstack.fault.${f}`).join(', ')}: this span was slowed or failed on purpose from the Faults page.`,
        )
      : null,
    exceptions.map((e) =>
      h(
        'div',
        { class: 'event exception' },
        h('strong', null, `Exception: ${String(tagValue(e.fields, 'exception.type') ?? 'error')}`),
        ' ',
        String(tagValue(e.fields, 'exception.message') ?? ''),
        tagValue(e.fields, 'exception.stacktrace')
          ? h('pre', { class: 'stack' }, String(tagValue(e.fields, 'exception.stacktrace')))
          : null,
      ),
    ),
    h('h3', null, 'Attributes'),
    kvTable(
      [...span.tags].sort(
        (a, b) =>
          Number(b.key.startsWith(FAULT)) - Number(a.key.startsWith(FAULT)) || a.key.localeCompare(b.key),
      ),
    ),
    span.logs.length ? h('h3', null, 'Events') : null,
    span.logs.map((log) => {
      const event = String(tagValue(log.fields, 'event') ?? 'event')
      const kind = event === 'exception' ? ' exception' : event.startsWith(FAULT) ? ' fault' : ''
      return h(
        'div',
        { class: `event${kind}` },
        h('strong', null, event),
        ` at ${ms((log.timestamp - traceStart) / 1000)}`,
        kvTable(log.fields.filter((f) => f.key !== 'event')),
      )
    }),
  )
}
