// The console's store: spans and logs in bun:sqlite, bounded by count. WAL so the page's reads do
// not wait for the receiver's writes; rows received are written together, one transaction for
// up to 200 ms of export requests, with prepared statements (a few thousand rows in a transaction
// cost about what one row does outside one). Retention evicts
// the oldest rows by insertion order, in batches, so the delete runs once in many requests.

import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { LogRow, SpanRow } from './otlp.ts'

export interface StoreOptions {
  /** A file path or `:memory:`. */
  path?: string
  maxSpans?: number
  maxLogs?: number
  /** How long rows received may wait to be written together (a read writes them at once); 0 writes each batch as it comes. */
  flushMs?: number
  /** SQLite's page cache, in KiB. */
  cacheKiB?: number
  /** WAL pages between checkpoints (each syncs the file). */
  checkpointPages?: number
}

/** Rows written in one transaction at most; more received at once are written straight away. */
const FLUSH_ROWS = 8192

export interface StoredSpan extends SpanRow {
  id: number
}

export interface StoredLog extends LogRow {
  id: number
}

export interface TraceSummary {
  trace_id: string
  root_service: string
  root_name: string
  start_ms: number
  duration_ms: number
  span_count: number
  error_count: number
  services: string[]
  http_status?: number
}

export interface TraceQuery {
  service?: string
  route?: string
  status?: 'ok' | 'error' | number
  min_duration_ms?: number
  start_ms?: number
  end_ms?: number
  trace_id?: string
  limit?: number
}

export interface LogQuery {
  service?: string
  /** Minimum level, pino's number. */
  level?: number
  q?: string
  trace_id?: string
  since_ms?: number
  until_ms?: number
  after_id?: number
  limit?: number
}

export interface ServiceMap {
  window_s: number
  nodes: { service: string; requests: number; errors: number }[]
  edges: {
    from: string
    to: string
    requests: number
    rate_per_s: number
    error_ratio: number
    p99_ms: number
  }[]
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spans (
  id INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL,
  service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
  start_us INTEGER NOT NULL, duration_us REAL NOT NULL,
  status_code INTEGER NOT NULL, status_message TEXT NOT NULL,
  http_route TEXT, http_status INTEGER, attributes TEXT NOT NULL, events TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id);
-- No index on start_us: it cost about 3.5 µs of the 8 a span took to store at 200,000 spans, and
-- no query the pages make got faster with it (the planner scans for the time windows either way):
-- bun bench/console-ingest.ts, figures in console/README.md. A file written with it loses it.
DROP INDEX IF EXISTS spans_start;
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,
  time_ms REAL NOT NULL, service TEXT NOT NULL, level TEXT NOT NULL, level_num INTEGER NOT NULL,
  msg TEXT NOT NULL, trace_id TEXT, span_id TEXT, attributes TEXT NOT NULL, line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ms);
`

export type Store = ReturnType<typeof createStore>

/**
 * The span that stands for a trace (alias `r`): its root, or while the root has not arrived (the
 * gateway's batch comes later than the cart's) the topmost span there is, one whose parent is not
 * stored; the earliest of those. By structure first, not by start time alone, because the clocks
 * of different hosts disagree by a few milliseconds, which is more than a span's head start.
 */
const ROOT_ORDER = `r.parent_span_id <> '',
  EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = r.trace_id AND p.span_id = r.parent_span_id),
  r.start_us, r.id`

/**
 * Microseconds to milliseconds, rounded to the microsecond (Jaeger's unit). otlp.ts reads the
 * 19-digit nanosecond times as doubles, which keep them to 256 ns, so a duration comes out up to
 * half a microsecond off: a 198 ms span read as 197.99975 ms.
 */
const toMs = (us: number) => Math.round(us) / 1000

/** SQL conditions and their arguments, built side by side. */
function conditions() {
  const where: string[] = []
  const args: (string | number)[] = []
  return {
    where,
    args,
    add(clause: string, value: string | number): void {
      where.push(clause)
      args.push(value)
    },
  }
}

export function createStore(options: StoreOptions = {}) {
  let closed = false
  const {
    path = ':memory:',
    maxSpans = 200_000,
    maxLogs = 200_000,
    flushMs = 200,
    cacheKiB = 32 * 1024,
    checkpointPages = 4000,
  } = options
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  // NORMAL is durable across a process crash in WAL mode; only a power loss may drop the last
  // transactions, which is fine for a learner's telemetry.
  db.exec('PRAGMA synchronous = NORMAL')
  // The trace index takes random keys, so its pages are all over the file: a 32 MiB page cache
  // (SQLite's default is 2 MiB) keeps them in memory, and a checkpoint every 4,000 pages (not
  // 1,000) syncs the file a quarter as often. With the writes coalesced below, storing a span costs
  // about half what it did: `bun bench/console-ingest.ts`, figures in console/README.md.
  db.exec(`PRAGMA cache_size = -${Math.max(64, Math.floor(cacheKiB))}`)
  db.exec(`PRAGMA wal_autocheckpoint = ${Math.max(1, Math.floor(checkpointPages))}`)
  db.exec(SCHEMA)

  const insertSpan = db.prepare(
    `INSERT INTO spans (trace_id, span_id, parent_span_id, service, name, kind, start_us, duration_us,
       status_code, status_message, http_route, http_status, attributes, events)
     VALUES ($trace_id, $span_id, $parent_span_id, $service, $name, $kind, $start_us, $duration_us,
       $status_code, $status_message, $http_route, $http_status, $attributes, $events)`,
  )
  const insertLog = db.prepare(
    `INSERT INTO logs (time_ms, service, level, level_num, msg, trace_id, span_id, attributes, line)
     VALUES ($time_ms, $service, $level, $level_num, $msg, $trace_id, $span_id, $attributes, $line)`,
  )
  const countOf = (table: 'spans' | 'logs') =>
    (db.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n
  let spanCount = countOf('spans')
  let logCount = countOf('logs')

  /** Rows evicted at once past the bound: a twentieth of it, so the delete is rare and cheap. */
  const slack = (max: number) => Math.max(1, Math.floor(max / 20))

  /** Since the store was opened: rows received and rows evicted (stored = received − evicted). */
  const totals = {
    received_spans: 0,
    evicted_spans: 0,
    lost_spans: 0,
    received_logs: 0,
    evicted_logs: 0,
    lost_logs: 0,
  }

  /** Deletes the oldest rows so that at most `max - slack` remain; returns the new count. */
  function evict(table: 'spans' | 'logs', count: number, max: number): number {
    if (count <= max) return count
    const remove = count - max + slack(max)
    const cut = db.query(`SELECT id FROM ${table} ORDER BY id LIMIT 1 OFFSET ?`).get(remove - 1) as
      | { id: number }
      | undefined
    if (!cut) return count
    db.query(`DELETE FROM ${table} WHERE id <= ?`).run(cut.id)
    const left = countOf(table)
    totals[`evicted_${table}`] += count - left
    return left
  }

  const writeSpans = db.transaction((rows: SpanRow[]) => {
    for (const row of rows) insertSpan.run(row as never)
    spanCount = evict('spans', spanCount + rows.length, maxSpans)
  })
  const writeLogs = db.transaction((rows: LogRow[]) => {
    for (const row of rows) insertLog.run(row as never)
    logCount = evict('logs', logCount + rows.length, maxLogs)
  })

  // Rows received wait here and are written together: one transaction for what several export
  // requests sent costs about what one costs, and the trace index's pages are written once for
  // all of them. Every read writes what waits first, so an answer never misses a row received.
  let pendingSpans: SpanRow[] = []
  let pendingLogs: LogRow[] = []
  let timer: ReturnType<typeof setTimeout> | undefined

  function writePendingSpans(): void {
    if (pendingSpans.length === 0) return
    const rows = pendingSpans
    pendingSpans = []
    writeSpans(rows)
  }

  function writePendingLogs(): void {
    if (pendingLogs.length === 0) return
    const rows = pendingLogs
    pendingLogs = []
    writeLogs(rows)
  }

  function flush(): void {
    clearTimeout(timer)
    timer = undefined
    writePendingSpans()
    writePendingLogs()
  }

  /**
   * The timer's flush: a write that fails there (a full disk) has no caller to tell, so it is
   * logged and its rows counted as lost rather than taking the process down.
   */
  function flushLater(): void {
    timer = undefined
    const writes = [
      ['spans', pendingSpans.length, writePendingSpans],
      ['logs', pendingLogs.length, writePendingLogs],
    ] as const
    for (const [kind, rows, write] of writes) {
      try {
        write()
      } catch (error) {
        totals[`lost_${kind}`] += rows
        const err = error instanceof Error ? { message: error.message, stack: error.stack } : String(error)
        console.error(
          JSON.stringify({ level: 'error', service: 'console', msg: `could not store ${rows} ${kind}`, err }),
        )
      }
    }
  }

  function received(waiting: number): void {
    if (waiting >= FLUSH_ROWS || flushMs <= 0) flush()
    else timer ??= setTimeout(flushLater, flushMs)
  }

  const traceCount = db.query('SELECT COUNT(DISTINCT trace_id) AS n FROM spans')
  let traceCountCache = { at: 0, n: 0 }

  function summaries(ids: string[]): TraceSummary[] {
    if (ids.length === 0) return []
    const marks = ids.map(() => '?').join(',')
    const rows = db
      .query(
        `SELECT trace_id, MIN(start_us) AS start_us, MAX(start_us + duration_us) - MIN(start_us) AS duration_us,
           COUNT(*) AS span_count, SUM(status_code = 2) AS error_count, GROUP_CONCAT(DISTINCT service) AS services
         FROM spans WHERE trace_id IN (${marks}) GROUP BY trace_id`,
      )
      .all(...ids) as {
      trace_id: string
      start_us: number
      duration_us: number
      span_count: number
      error_count: number
      services: string
    }[]
    const root = db.query(
      `SELECT r.service, r.name, r.http_status FROM spans r WHERE r.trace_id = ? ORDER BY ${ROOT_ORDER} LIMIT 1`,
    )
    return rows
      .map((row) => {
        const top = root.get(row.trace_id) as { service: string; name: string; http_status: number | null }
        const summary: TraceSummary = {
          trace_id: row.trace_id,
          root_service: top.service,
          root_name: top.name,
          start_ms: row.start_us / 1000,
          duration_ms: toMs(row.duration_us),
          span_count: row.span_count,
          error_count: row.error_count,
          services: row.services.split(',').sort(),
        }
        if (top.http_status !== null) summary.http_status = top.http_status
        return summary
      })
      .sort((a, b) => b.start_ms - a.start_ms)
  }

  return {
    path,
    maxSpans,
    maxLogs,
    insertSpans(rows: SpanRow[]): void {
      if (rows.length === 0) return
      for (const row of rows) pendingSpans.push(row)
      totals.received_spans += rows.length
      received(pendingSpans.length)
    },
    insertLogs(rows: LogRow[]): void {
      if (rows.length === 0) return
      for (const row of rows) pendingLogs.push(row)
      totals.received_logs += rows.length
      received(pendingLogs.length)
    },
    /** Writes what waits now (reads do it themselves; a test or a shutdown may want it). */
    flush,
    /** Rows received and evicted since the store was opened: they only grow. */
    totals() {
      return { ...totals }
    },
    counts() {
      flush()
      const now = Date.now()
      // COUNT(DISTINCT) walks the index; the status poll need not pay it more than once a second.
      if (now - traceCountCache.at > 1000) {
        traceCountCache = { at: now, n: (traceCount.get() as { n: number }).n }
      }
      const page = db.query('PRAGMA page_count').get() as { page_count: number }
      const size = db.query('PRAGMA page_size').get() as { page_size: number }
      return {
        spans: spanCount,
        traces: traceCountCache.n,
        logs: logCount,
        bytes: page.page_count * size.page_size,
      }
    },
    services(): { name: string; spans: number; last_seen_ms: number }[] {
      flush()
      const rows = db
        .query(
          'SELECT service AS name, COUNT(*) AS spans, MAX(start_us) AS last FROM spans GROUP BY service ORDER BY service',
        )
        .all() as { name: string; spans: number; last: number }[]
      return rows.map((r) => ({ name: r.name, spans: r.spans, last_seen_ms: r.last / 1000 }))
    },
    searchTraces(query: TraceQuery = {}): TraceSummary[] {
      flush()
      const limit = query.limit ?? 50
      if (query.trace_id) return summaries([query.trace_id.toLowerCase()])
      const { where, args, add } = conditions()
      if (query.service) add('service = ?', query.service)
      if (query.route) add('kind = 2 AND http_route = ?', query.route)
      if (query.start_ms !== undefined) add('start_us >= ?', query.start_ms * 1000)
      if (query.end_ms !== undefined) add('start_us <= ?', query.end_ms * 1000)
      const having: string[] = []
      const filtered = query.status !== undefined || query.min_duration_ms !== undefined
      // Candidates by the span filters; trace-level filters (status, duration) over all the trace's
      // spans, in SQL, so a search over many traces returns `limit` matches. Newest by start time,
      // not by arrival: exporters send in batches, so an older trace's spans may arrive last.
      const newest = 'ORDER BY MIN(start_us) DESC, MAX(id) DESC'
      let sql = `SELECT trace_id FROM spans ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        GROUP BY trace_id ${newest} LIMIT ?`
      if (filtered) {
        if (query.status === 'error') having.push('SUM(status_code = 2) > 0')
        else if (query.status === 'ok') having.push('SUM(status_code = 2) = 0')
        else if (typeof query.status === 'number') {
          // The status the trace's summary shows: its root's, or its topmost span's while the root
          // has not arrived. The one-root case, nearly all, is read from the group, which halves
          // the cost over a full store.
          having.push(`(CASE WHEN SUM(parent_span_id = '') = 1 THEN MAX(CASE WHEN parent_span_id = '' THEN http_status END)
            ELSE (SELECT r.http_status FROM spans r WHERE r.trace_id = spans.trace_id ORDER BY ${ROOT_ORDER} LIMIT 1)
            END) = ?`)
        }
        if (query.min_duration_ms !== undefined)
          having.push('ROUND(MAX(start_us + duration_us) - MIN(start_us)) >= ?')
        sql = `SELECT trace_id FROM spans WHERE trace_id IN (
          SELECT trace_id FROM spans ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          GROUP BY trace_id ${newest} LIMIT 20000)
          GROUP BY trace_id HAVING ${having.join(' AND ')} ${newest} LIMIT ?`
        if (typeof query.status === 'number') args.push(query.status)
        if (query.min_duration_ms !== undefined) args.push(query.min_duration_ms * 1000)
      }
      args.push(limit)
      const ids = (db.query(sql).all(...args) as { trace_id: string }[]).map((r) => r.trace_id)
      return summaries(ids)
    },
    trace(traceId: string): StoredSpan[] {
      flush()
      return db
        .query('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_us')
        .all(traceId.toLowerCase()) as StoredSpan[]
    },
    logs(query: LogQuery = {}): StoredLog[] {
      flush()
      const { where, args, add } = conditions()
      if (query.service) add('service = ?', query.service)
      if (query.level !== undefined) add('level_num >= ?', query.level)
      if (query.trace_id) add('trace_id = ?', query.trace_id.toLowerCase())
      if (query.q) add('instr(lower(line), lower(?)) > 0', query.q)
      if (query.since_ms !== undefined) add('time_ms >= ?', query.since_ms)
      if (query.until_ms !== undefined) add('time_ms <= ?', query.until_ms)
      if (query.after_id !== undefined) add('id > ?', query.after_id)
      // A live tail (after_id) reads forwards, oldest first; a search reads the newest first.
      // A search answers by the lines' own time: the services' batches arrive in turns, so arrival
      // order interleaves them wrongly by up to the forwarder's interval. A tail reads by arrival,
      // since `after_id` is its cursor.
      const order = query.after_id !== undefined ? 'id ASC' : 'time_ms DESC, id DESC'
      args.push(query.limit ?? 200)
      return db
        .query(
          `SELECT * FROM logs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`,
        )
        .all(...args) as StoredLog[]
    },
    /**
     * Edges from a CLIENT span to its SERVER child in another service, over the window that ends
     * at `nowMs` (spans after it, from a host whose clock is ahead, wait for their window).
     */
    serviceMap(windowS = 300, nowMs = Date.now()): ServiceMap {
      flush()
      const since = (nowMs - windowS * 1000) * 1000
      const until = nowMs * 1000
      const nodes = db
        .query(
          `SELECT service, COUNT(*) AS requests, SUM(status_code = 2) AS errors FROM spans
           WHERE kind = 2 AND start_us >= ? AND start_us <= ? GROUP BY service ORDER BY service`,
        )
        .all(since, until) as ServiceMap['nodes']
      // Every call (a CLIENT span, one per try) is an edge to the service whose SERVER span answered
      // it; a call nobody answered (the callee was down) still counts, towards the service its
      // peer.service names, with the caller's own status (ERROR for a refused connection): an
      // outage turns its edges red instead of hiding them. A SERVER span not yet arrived is no error.
      const pairs = db
        .query(
          `SELECT c.service AS src, COALESCE(s.service, json_extract(c.attributes, '$."peer.service"')) AS dst,
             COALESCE(s.duration_us, c.duration_us) AS d,
             (c.status_code = 2 OR COALESCE(s.status_code, 0) = 2) AS e
           FROM spans c LEFT JOIN spans s
             ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id AND s.kind = 2
           WHERE c.kind = 3 AND c.start_us >= ? AND c.start_us <= ?`,
        )
        .all(since, until) as { src: string; dst: string | null; d: number; e: number }[]
      const groups = new Map<string, { from: string; to: string; durations: number[]; errors: number }>()
      for (const pair of pairs) {
        if (!pair.dst || pair.dst === pair.src) continue
        const key = `${pair.src}\u0000${pair.dst}`
        let group = groups.get(key)
        if (!group) {
          group = { from: pair.src, to: pair.dst, durations: [], errors: 0 }
          groups.set(key, group)
        }
        group.durations.push(pair.d)
        group.errors += pair.e
      }
      const edges = [...groups.values()].map((g) => {
        g.durations.sort((a, b) => a - b)
        const p99 =
          g.durations[Math.min(g.durations.length - 1, Math.ceil(g.durations.length * 0.99) - 1)] ?? 0
        return {
          from: g.from,
          to: g.to,
          requests: g.durations.length,
          rate_per_s: g.durations.length / windowS,
          error_ratio: g.errors / g.durations.length,
          p99_ms: toMs(p99),
        }
      })
      // A caller with no SERVER span of its own (a load generator) is a node too, with no
      // requests, so that every edge has both its ends on the map.
      const known = new Set(nodes.map((node) => node.service))
      for (const edge of edges) {
        if (known.has(edge.from)) continue
        known.add(edge.from)
        nodes.push({ service: edge.from, requests: 0, errors: 0 })
      }
      nodes.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
      return { window_s: windowS, nodes, edges }
    },
    /** Writes what is pending and closes the database; a second call does nothing. */
    close(): void {
      if (closed) return
      closed = true
      flush()
      db.close()
    },
  }
}
