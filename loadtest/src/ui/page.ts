// The web UI's one page: a start/stop form, a live statistics table, three live SVG charts, the
// failures and report downloads. Plain DOM code, no framework and no network beyond this server:
// the machine running a load test is often offline.

import { PAGE_STYLE } from '../report.ts'

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
  $('chart-rps').innerHTML = data.charts.rps
  $('chart-latency').innerHTML = data.charts.latency
  $('chart-users').innerHTML = data.charts.users
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
#message{color:#c62828}
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
<h2>Statistics</h2>
<table id="stats"><thead><tr><th>Endpoint</th><th># requests</th><th># failures</th><th>req/s</th><th>req/s now</th><th>avg ms</th>
<th>min</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead><tbody></tbody></table>
<h2>Charts</h2>
<div class="charts"><div id="chart-rps"></div><div id="chart-latency"></div><div id="chart-users"></div></div>
<h2>Failures</h2>
<table id="failures"><thead><tr><th>Count</th><th>Endpoint</th><th>Cause</th><th>Example trace id</th><th>Example request id</th></tr></thead><tbody></tbody></table>
<p id="downloads" hidden>Download the results:
<a id="download-json" href="/api/report.json" download>JSON</a> ·
<a id="download-html" href="/api/report.html" download>HTML report</a></p>
</main>
<script>${SCRIPT}</script>
</body></html>
`
}
