// The console's page app: navigation, the status line and the router that draws each page.

import 'uplot/dist/uPlot.min.css'
import { getJson, type StatusAnswer } from './api.ts'
import { count } from './format.ts'
import { h, replace } from './h.ts'
import { faultsPage } from './pages/faults.ts'
import { loadPage } from './pages/load.ts'
import { logsPage } from './pages/logs.ts'
import { overviewPage } from './pages/overview.ts'
import { tracePage } from './pages/trace.ts'
import { tracesPage } from './pages/traces.ts'
import { type Route, startRouter } from './router.ts'

const ROUTES: readonly Route[] = [
  { pattern: '/', title: 'Overview', page: overviewPage },
  { pattern: '/traces', title: 'Traces', page: tracesPage },
  { pattern: '/traces/:id', title: 'Trace', page: tracePage },
  { pattern: '/logs', title: 'Logs', page: logsPage },
  { pattern: '/load', title: 'Load', page: loadPage },
  { pattern: '/faults', title: 'Faults', page: faultsPage },
]
const NAV: readonly [href: string, label: string][] = [
  ['/', 'Overview'],
  ['/traces', 'Traces'],
  ['/logs', 'Logs'],
  ['/load', 'Load'],
  ['/faults', 'Faults'],
]

function element(id: string): HTMLElement {
  const found = document.getElementById(id)
  if (!found) throw new Error(`index.html has no #${id}`)
  return found
}

const nav = element('nav')
const links = NAV.map(([href, label]) => h('a', { href }, label))
// The sixth page, a trace by id, is reached from any page by pasting the id (from a log line, a
// response's traceresponse header, a load report).
const traceId = h('input', {
  'aria-label': 'Go to trace id',
  placeholder: 'Go to trace id',
  size: 18,
  pattern: '[0-9a-fA-F]{32}',
  title: '32 hexadecimal characters',
})
const goToTrace = h(
  'form',
  {
    class: 'go-to-trace',
    role: 'search',
    onsubmit: (event: Event) => {
      event.preventDefault()
      const id = traceId.value.trim().toLowerCase()
      if (!id) return
      traceId.value = ''
      router.navigate(`/traces/${id}`)
    },
  },
  traceId,
)
replace(nav, links, goToTrace)

const router = startRouter({
  routes: ROUTES,
  root: element('app'),
  onChange(_route, path) {
    for (const link of links) {
      const href = link.getAttribute('href') ?? ''
      const current = href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`)
      if (current) link.setAttribute('aria-current', 'page')
      else link.removeAttribute('aria-current')
    }
  },
  notFound: ({ root }) =>
    replace(root, h('h1', null, 'No such page'), h('p', null, h('a', { href: '/' }, 'Overview'))),
})

const status = element('status')
let lastStatus = ''
async function refreshStatus(): Promise<void> {
  try {
    const s = await getJson<StatusAnswer>('/api/status')
    // The line is a live region: only a change is announced, not every poll.
    const key = JSON.stringify([s.spans, s.traces, s.logs, s.targets.map((t) => t.up)])
    if (key === lastStatus) return
    lastStatus = key
    const targets = s.targets.map((t) =>
      h(
        'span',
        { class: t.up ? 'up' : 'down', title: t.error ?? t.url },
        `${t.service} ${t.up ? 'up' : 'down'}`,
      ),
    )
    replace(
      status,
      `${count(s.spans)} spans · ${count(s.traces)} traces · ${count(s.logs)} logs stored (keeps ${count(s.retention.max_spans)} spans, ${count(s.retention.max_logs)} logs) · scrape: `,
      targets.length ? targets.flatMap((t, i) => (i ? [' ', t] : [t])) : 'no targets',
    )
    status.classList.remove('down')
  } catch (error) {
    lastStatus = ''
    replace(status, `Status unavailable: ${error instanceof Error ? error.message : String(error)}`)
    status.classList.add('down')
  }
}
void refreshStatus()
setInterval(refreshStatus, 5000)
