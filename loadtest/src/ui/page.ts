// The web UI's one page: a start/stop form, a live statistics table, three live SVG charts (with
// fault intervals shaded), the failures, the Faults panel (each service's faults, read and changed
// through this server's proxy) and report downloads. Plain DOM code, no framework and no network
// beyond this server: the machine running a load test is often offline.

import { FAULT_KINDS } from '../faults.ts'
import { PAGE_STYLE } from '../report.ts'

/** What a kind's inputs hold before the service has it on: a fault worth seeing, not a zero. */
const FAULT_EXAMPLES = {
  database: { latency_min_ms: 20, latency_max_ms: 60, failure_rate: 0.01 },
  latency: { min_ms: 200, max_ms: 400 },
  error: { rate: 0.1, status: 503 },
  hang: { rate: 0.05, ms: 5000 },
  cpu_burn: { ms: 50 },
  memory_leak: { mb_per_minute: 60, max_mb: 256 },
  readiness: { fail: true },
  upstream_unreachable: { upstream: 'catalog' },
}

// The Faults panel: one card per service with its current faults and a form, one fieldset per
// kind ("on" plus its settings). Polling refreshes the cards but never a form being edited.
const FAULTS_SCRIPT = `
const KINDS = ${JSON.stringify(FAULT_KINDS)}
const EXAMPLES = ${JSON.stringify(FAULT_EXAMPLES)}
const cards = {}

function fieldInput(kind, name, spec) {
  const attrs = 'data-field="' + name + '" title="' + esc(spec.hint) + '"'
  if (spec.type === 'boolean') return '<label>' + name + '<input type="checkbox" ' + attrs + '></label>'
  if (spec.choices) return '<label>' + name + '<select ' + attrs + '>' + spec.choices.map((c) => '<option>' + c + '</option>').join('') + '</select></label>'
  if (spec.type === 'string') return '<label>' + name + '<input type="text" placeholder="any route" ' + attrs + '></label>'
  return '<label>' + name + '<input type="number" min="' + spec.minimum + '" max="' + spec.maximum + '" step="' + (spec.integer ? 1 : 'any') + '"' +
    (spec.optional ? ' placeholder="default"' : '') + ' ' + attrs + '></label>'
}

function createCard(service, url) {
  const card = document.createElement('section')
  card.className = 'fault-card'
  card.id = 'faults-' + service
  card.dataset.service = service
  const kinds = Object.entries(KINDS).filter(([, spec]) => !spec.services || spec.services.includes(service))
  card.innerHTML = '<h3>' + service + ' <small>' + esc(url) + '</small></h3>' +
    '<p class="current"></p><p class="baseline"></p><p class="fault-error"></p><form onsubmit="return false">' +
    kinds.map(([kind, spec]) => '<fieldset data-kind="' + kind + '"><legend><label><input type="checkbox" data-on> ' + spec.title +
      '</label></legend>' + Object.entries(spec.fields).map(([name, field]) => fieldInput(kind, name, field)).join('') + '</fieldset>').join('') +
    '<div class="fault-buttons"><button type="button" class="apply">Apply</button> <button type="button" class="reset">Reset to baseline</button> ' +
    '<button type="button" class="off">All off</button> ' +
    '<button type="button" class="revert">Revert</button></div></form>'
  const entry = { card, dirty: false, state: undefined }
  card.addEventListener('input', () => { entry.dirty = true; card.classList.add('dirty') })
  card.querySelector('.apply').addEventListener('click', () => changeFaults(service, 'PUT', readForm(card)))
  card.querySelector('.off').addEventListener('click', () => changeFaults(service, 'DELETE'))
  card.querySelector('.reset').addEventListener('click', () => changeFaults(service, 'POST', undefined, '/reset'))
  card.querySelector('.revert').addEventListener('click', () => { entry.dirty = false; fillForm(entry) })
  $('faults').appendChild(card)
  cards[service] = entry
  return entry
}

function fillForm(entry) {
  entry.card.classList.remove('dirty')
  const faults = (entry.state && entry.state.faults) || {}
  for (const fieldset of entry.card.querySelectorAll('fieldset')) {
    const kind = fieldset.dataset.kind
    const settings = faults[kind] || ((entry.state && entry.state.baseline) || {})[kind] || EXAMPLES[kind] || {}
    fieldset.querySelector('[data-on]').checked = kind in faults
    fieldset.classList.toggle('on', kind in faults)
    for (const input of fieldset.querySelectorAll('[data-field]')) {
      const value = settings[input.dataset.field]
      if (input.type === 'checkbox') input.checked = value === true
      else input.value = value === undefined ? '' : value
    }
  }
}

function readForm(card) {
  const faults = {}
  for (const fieldset of card.querySelectorAll('fieldset')) {
    if (!fieldset.querySelector('[data-on]').checked) continue
    const kind = fieldset.dataset.kind
    const settings = {}
    for (const input of fieldset.querySelectorAll('[data-field]')) {
      const spec = KINDS[kind].fields[input.dataset.field]
      if (spec.type === 'boolean') settings[input.dataset.field] = input.checked
      else if (input.value === '') continue
      else settings[input.dataset.field] = spec.type === 'number' ? Number(input.value) : input.value
    }
    faults[kind] = settings
  }
  return faults
}

function problemText(p) {
  return (p.status ? p.status + ' ' : '') + (p.title || 'Error') + (p.detail ? ': ' + p.detail : '')
}

function showFaults(data) {
  for (const s of data.services) {
    const entry = cards[s.service] || createCard(s.service, s.url)
    entry.card.classList.toggle('unreachable', !!s.error)
    if (s.error) {
      entry.card.querySelector('.current').textContent = 'cannot read its faults'
      entry.card.querySelector('.fault-error').textContent = problemText(s.error)
      continue
    }
    entry.state = s.state
    const leaked = s.state.leaked_bytes > 0 ? ' (leak holds ' + (s.state.leaked_bytes / 1048576).toFixed(1) + ' MB)' : ''
    // The baseline (the database simulation it was started with) is how the service is meant to
    // behave, not a fault: the card turns red only for what differs from it.
    const beyond = (s.state.beyond_baseline || []).length > 0
    entry.card.querySelector('.current').textContent = (beyond ? 'Faults: ' + s.beyond_baseline : 'At its baseline') + leaked
    entry.card.querySelector('.baseline').textContent = 'Baseline: ' + (s.baseline || 'no faults')
    entry.card.classList.toggle('faulty', beyond)
    if (!entry.dirty) fillForm(entry)
  }
}

async function loadFaults() {
  try {
    showFaults(await (await fetch('/api/faults')).json())
  } catch (error) {
    $('faults-message').textContent = 'cannot read the faults: ' + error
  }
}

async function changeFaults(service, method, body, suffix) {
  const entry = cards[service]
  const response = await fetch('/api/faults/' + service + (suffix || ''), { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) })
  const data = await response.json()
  entry.card.querySelector('.fault-error').textContent = response.ok ? '' : problemText(data)
  if (response.ok) entry.dirty = false
  await loadFaults()
}

async function changeAll(method, path) {
  const data = await (await fetch(path, { method })).json()
  for (const s of data.services) {
    if (cards[s.service]) {
      cards[s.service].dirty = false
      cards[s.service].card.querySelector('.fault-error').textContent = s.error ? problemText(s.error) : ''
    }
  }
  await loadFaults()
}
$('faults-reset').addEventListener('click', () => changeAll('POST', '/api/faults/reset'))
$('faults-all-off').addEventListener('click', () => changeAll('DELETE', '/api/faults'))
$('faults-refresh').addEventListener('click', loadFaults)
async function pollFaults() {
  await loadFaults()
  setTimeout(pollFaults, 3000)
}
pollFaults()
`

const SCRIPT = `
const $ = (id) => document.getElementById(id)
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';')
const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
let defaultsShown = false
let model = 'closed'

async function post(path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) })
  const data = await response.json()
  $('message').textContent = response.ok ? '' : (data.detail || data.title)
  if (response.ok) render(data)
}

function row(name, s, cls) {
  return '<tr' + (cls ? ' class="' + cls + '"' : '') + '><td>' + esc(name) + '</td><td>' + s.requests + '</td><td>' + s.failures +
    '</td><td>' + s.rps.toFixed(1) + '</td><td>' + s.current_rps.toFixed(1) + '</td><td>' + ms(s.avg_ms) + '</td><td>' + ms(s.min_ms) +
    '</td><td>' + ms(s.p50_ms) + '</td><td>' + ms(s.p90_ms) + '</td><td>' + ms(s.p95_ms) + '</td><td>' + ms(s.p99_ms) +
    '</td><td>' + ms(s.max_ms) + '</td></tr>'
}

function render(data) {
  const st = data.status
  if (st.model) model = st.model
  if (!defaultsShown) {
    defaultsShown = true
    $('host').textContent = data.defaults.host
    $('users').value = data.defaults.users
    $('spawn-rate').value = data.defaults.spawn_rate
    $('rate').value = data.defaults.rate
    $('run-time').value = data.defaults.run_time_s + 's'
  }
  const live = st.state === 'running' || st.state === 'spawning' || st.state === 'stopping'
  $('state').textContent = st.state
  $('state').className = 'state ' + st.state
  $('start').disabled = live
  $('stop').disabled = !live
  $('apply').disabled = !live
  $('elapsed').textContent = st.elapsed_s === undefined ? '' : Math.round(st.elapsed_s) + ' / ' + st.run_time_s + ' s'
  $('load').textContent = st.model === 'open' ? 'rate ' + st.rate + '/s, ' + st.in_flight + ' in flight' : st.users === undefined ? '' : st.users + ' users'
  const t = data.totals
  $('summary').textContent = t ? t.requests + ' requests, ' + t.failures + ' failures, ' + t.current_rps.toFixed(1) + ' req/s now' : ''
  $('stats').querySelector('tbody').innerHTML = data.endpoints.map((e) => row(e.name, e)).join('') + (t ? row('Total', t, 'total') : '')
  $('failures').querySelector('tbody').innerHTML = data.failures.map((f) =>
    '<tr><td>' + f.count + '</td><td>' + esc(f.endpoint) + '</td><td>' + esc(f.cause) + '</td><td><code>' +
    esc(f.example.trace_id || '') + '</code></td><td><code>' + esc(f.example.request_id || '') + '</code></td></tr>').join('')
  const ups = data.upstreams || []
  $('upstreams').querySelector('tbody').innerHTML = ups.map((u) =>
    '<tr data-upstream="' + u.service + '"><td>' + esc(u.service) + '</td><td>' + u.requests + '</td><td>' + u.errors + '</td><td>' +
    (u.error_ratio * 100).toFixed(1) + '%</td><td>' + u.retries + '</td><td>' + u.retries_refused + '</td></tr>').join('')
  // When the services failed more than the clients saw, say so: the retries hid it.
  const hidden = ups.filter((u) => u.errors > 0 && t && u.error_ratio > (t.requests ? t.failures / t.requests : 0))
  $('upstreams-note').textContent = hidden.length
    ? hidden.map((u) => u.service + ' answered ' + (u.error_ratio * 100).toFixed(1) + '% of its requests with a 5xx').join('; ') +
      ' — your requests failed ' + (t.requests ? (100 * t.failures / t.requests).toFixed(1) : '0') + '%: ' +
      ups.reduce((n, u) => n + u.retries, 0) + ' retries by the gateway (and the cart) turned failures into successes.'
    : ''
  $('chart-rps').innerHTML = data.charts.rps
  $('chart-latency').innerHTML = data.charts.latency
  $('chart-users').innerHTML = data.charts.users
  $('annotations').innerHTML = data.annotations_html
  if (data.scenario && !$('scenario').dataset.shown) {
    $('scenario').dataset.shown = '1'
    $('scenario').hidden = false
    $('scenario').innerHTML = '<b>Scenario ' + esc(data.scenario.name) + '</b>: ' + esc(data.scenario.description) +
      (data.scenario.needs ? '<p><b>Needs</b> ' + esc(data.scenario.needs) + ': on another stack it shows something else.</p>' : '') +
      (data.scenario.watch.length ? '<ul>' + data.scenario.watch.map((w) => '<li>' + esc(w) + '</li>').join('') + '</ul>' : '')
  }
  $('downloads').hidden = !t
}

async function poll() {
  try {
    render(await (await fetch('/api/status')).json())
  } catch (error) {
    $('message').textContent = 'lost contact with the load generator: ' + error
  }
  setTimeout(poll, 1000)
}

$('start').addEventListener('click', () => {
  const rate = Number($('rate').value)
  post('/api/start', { users: Number($('users').value), spawn_rate: Number($('spawn-rate').value), rate, run_time: $('run-time').value })
})
$('stop').addEventListener('click', () => post('/api/stop'))
$('apply').addEventListener('click', () => {
  post('/api/config', model === 'open' ? { rate: Number($('rate').value) } : { users: Number($('users').value) })
})
poll()
`

export function renderPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ShopStack load generator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${PAGE_STYLE}
form{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin-bottom:12px}
label{display:flex;flex-direction:column;font-size:12px;color:#555}
input{width:90px;padding:4px}
button{padding:6px 14px;font-size:14px;cursor:pointer}
.state{padding:2px 8px;border-radius:3px;background:#555}
.state.running,.state.spawning{background:#2e7d32}.state.stopping{background:#ef6c00}
#message,.fault-error,#faults-message{color:#c62828}.hint{margin:4px 0;opacity:.85}#upstreams-note{font-weight:600}
#scenario{background:#fff8e1;border:1px solid #ffe082;padding:8px 12px}
.faults{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:12px}
.fault-card{background:#fff;border:1px solid #ddd;padding:8px 12px}
.fault-card.faulty{border-color:#c62828}.fault-card.dirty{border-style:dashed}
.fault-card h3{margin:4px 0}.fault-card small{color:#777;font-weight:normal}
.fault-card .current{margin:4px 0;font-weight:600}.fault-card .baseline{margin:2px 0;opacity:.8}
fieldset{border:1px solid #eee;margin:4px 0;padding:2px 8px;display:flex;gap:8px;flex-wrap:wrap}
fieldset.on{background:#fff3f3}
legend label{flex-direction:row;gap:4px;font-size:13px;color:#222;font-weight:600}
fieldset input{width:80px}fieldset input[type=text]{width:110px}
fieldset input[type=checkbox]{width:auto}
.fault-buttons{margin-top:6px}
</style></head>
<body>
<header><h1>ShopStack load generator</h1><span>host <b id="host"></b></span>
<span id="state" class="state">ready</span><span id="elapsed"></span><span id="load"></span><span id="summary"></span></header>
<main>
<form onsubmit="return false">
<label>Users (closed model)<input id="users" type="number" min="0"></label>
<label>Spawn rate /s<input id="spawn-rate" type="number" min="0.1" step="any"></label>
<label>Rate req/s (open model; 0 = closed)<input id="rate" type="number" min="0" step="any"></label>
<label>Run time<input id="run-time" type="text"></label>
<button id="start" type="button">Start</button>
<button id="apply" type="button" disabled>Apply users / rate</button>
<button id="stop" type="button" disabled>Stop</button>
<span id="message"></span>
</form>
<div id="scenario" hidden></div>
<h2>Statistics</h2>
<table id="stats"><thead><tr><th>Endpoint</th><th># requests</th><th># failures</th><th>req/s</th><th>req/s now</th><th>avg ms</th>
<th>min</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead><tbody></tbody></table>
<h2>Behind the gateway</h2>
<p class="hint">What the services themselves saw since the run began (their own /metrics): a request that
succeeded for you may have failed upstream first and been retried.</p>
<p id="upstreams-note" class="hint" aria-live="polite"></p>
<table id="upstreams"><thead><tr><th>Upstream</th><th>Its requests</th><th>Its 5xx</th><th>Its error ratio</th>
<th>Retries sent to it</th><th>Retries refused (budget)</th></tr></thead><tbody></tbody></table>
<h2>Charts</h2>
<div class="charts"><div id="chart-rps"></div><div id="chart-latency"></div><div id="chart-users"></div></div>
<h3>Faults during the run (shaded on the charts)</h3>
<div id="annotations"></div>
<h2>Failures</h2>
<table id="failures"><thead><tr><th>Count</th><th>Endpoint</th><th>Cause</th><th>Example trace id</th><th>Example request id</th></tr></thead><tbody></tbody></table>
<h2>Faults</h2>
<p>Each service's faults, changed on the service at once (PUT replaces the service's whole set).
Its baseline is the database simulation it was started with: how it is meant to behave, not a
fault. During a run, every change beyond the baseline is marked on the charts and listed under
them, and the run ends with every service back to what it had when it began.
<button id="faults-reset" type="button">Reset to baseline (every service)</button>
<button id="faults-all-off" type="button">All off, baseline too (every service)</button>
<button id="faults-refresh" type="button">Refresh</button> <span id="faults-message"></span></p>
<div id="faults" class="faults"></div>
<p id="downloads" hidden>Download the results:
<a id="download-json" href="/api/report.json" download>JSON</a> ·
<a id="download-html" href="/api/report.html" download>HTML report</a></p>
</main>
<script>${SCRIPT}${FAULTS_SCRIPT}</script>
</body></html>
`
}
