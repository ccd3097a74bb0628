// The service map as SVG: services in columns by call depth (gateway left, catalog right), each
// edge labelled with its rate, error ratio and p99, red when the edge fails at all.

import type { ServiceMapAnswer } from '../api.ts'
import { ms, percent } from '../format.ts'
import { svg } from '../h.ts'
import { ERROR_COLOUR, serviceColour } from '../palette.ts'

const NODE_W = 190
const NODE_H = 52
const COLUMN = 480
/** Room above the nodes for edges that bow over a column. */
const TOP = 70
const ROW = 110

/** Longest-path depth of each service, so a caller is always left of what it calls. */
function depths(map: ServiceMapAnswer): Map<string, number> {
  const names = new Set([...map.nodes.map((n) => n.service), ...map.edges.flatMap((e) => [e.from, e.to])])
  const depth = new Map([...names].map((n) => [n, 0]))
  for (let pass = 0; pass < names.size; pass++) {
    for (const edge of map.edges) {
      if (edge.from === edge.to) continue
      const next = (depth.get(edge.from) ?? 0) + 1
      if (next > (depth.get(edge.to) ?? 0)) depth.set(edge.to, next)
    }
  }
  return depth
}

export function edgeLabel(edge: ServiceMapAnswer['edges'][number]): string {
  const rate =
    edge.rate_per_s >= 0.01 || edge.rate_per_s === 0
      ? edge.rate_per_s.toFixed(2)
      : edge.rate_per_s.toPrecision(1)
  return `${rate} req/s · ${percent(edge.error_ratio)} errors · p99 ${ms(edge.p99_ms)}`
}

export function renderServiceMap(map: ServiceMapAnswer): SVGSVGElement {
  const depth = depths(map)
  const columns = new Map<number, string[]>()
  for (const [name, d] of [...depth].sort(([a], [b]) => a.localeCompare(b))) {
    columns.set(d, [...(columns.get(d) ?? []), name])
  }
  const tallest = Math.max(1, ...[...columns.values()].map((c) => c.length))
  const width = Math.max(1, columns.size) * COLUMN - (COLUMN - NODE_W) + 40
  const height = tallest * ROW + TOP
  const position = new Map<string, { x: number; y: number }>()
  for (const [d, names] of columns) {
    const offset = ((tallest - names.length) * ROW) / 2
    for (const [i, name] of names.entries())
      position.set(name, { x: 20 + d * COLUMN, y: TOP + offset + i * ROW })
  }
  const nodes = new Map(map.nodes.map((n) => [n.service, n]))
  const root = svg('svg', {
    class: 'service-map',
    viewBox: `0 0 ${width} ${height}`,
    style: `max-width:${width}px`,
    role: 'img',
    'aria-label': `Service map: ${map.edges.map((e) => `${e.from} calls ${e.to}, ${edgeLabel(e)}`).join('; ') || 'no calls seen'}`,
  })
  root.appendChild(
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7a7d8a' }),
      ),
    ),
  )
  for (const edge of map.edges) {
    const a = position.get(edge.from)
    const b = position.get(edge.to)
    if (!a || !b) continue
    const x1 = a.x + NODE_W
    const y1 = a.y + NODE_H / 2
    const x2 = b.x
    const y2 = b.y + NODE_H / 2
    // Edges that skip a column bow out, so they do not run through the node between.
    const skips = (depth.get(edge.to) ?? 0) - (depth.get(edge.from) ?? 0) > 1
    const bow = skips ? -60 : 0
    const mx = (x1 + x2) / 2
    const my = (y1 + y2) / 2
    root.appendChild(
      svg(
        'g',
        { class: `edge${edge.error_ratio > 0 ? ' failing' : ''}`, 'data-edge': `${edge.from}->${edge.to}` },
        svg('path', {
          d: `M${x1},${y1} Q${mx},${my + 2 * bow} ${x2},${y2}`,
          'marker-end': 'url(#arrow)',
          ...(edge.error_ratio > 0 ? { style: `stroke:${ERROR_COLOUR}` } : {}),
        }),
        svg('text', { x: mx, y: my + bow - 6, 'text-anchor': 'middle' }, edgeLabel(edge)),
      ),
    )
  }
  for (const [name, p] of position) {
    const node = nodes.get(name)
    root.appendChild(
      svg(
        'g',
        { class: 'node', 'data-service': name },
        svg('rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6, stroke: serviceColour(name) }),
        svg('text', { x: p.x + 12, y: p.y + 22 }, name),
        svg(
          'text',
          { x: p.x + 12, y: p.y + 40, class: 'sub' },
          node ? `${node.requests} spans, ${node.errors} errors` : '',
        ),
      ),
    )
  }
  return root
}
