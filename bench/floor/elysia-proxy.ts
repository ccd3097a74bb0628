// Floor 2: the same proxy as one Elysia route. With FLOOR_LIBS=1 the telemetry libraries the
// services use are imported too (not used). Packages resolve as the services see them (bench/ is
// not a workspace).
import { join } from 'node:path'

const lib = join(import.meta.dir, '../../lib')
const load = (name: string) => import(Bun.resolveSync(name, lib))
if (process.env.FLOOR_LIBS === '1') {
  // prom-client as lib/src/telemetry/metrics.ts loads it: the four modules used, not the index.
  const promClient = ['registry', 'counter', 'gauge', 'histogram'].map((m) => `prom-client/lib/${m}`)
  await Promise.all(['@opentelemetry/api', 'pino', ...promClient].map(load))
}
const { Elysia } = (await load('elysia')) as typeof import('../../lib/node_modules/elysia')

const upstream = process.env.UPSTREAM_URL
const app = new Elysia()
  .get('/catalog/:id', ({ params }) => fetch(`${upstream}/catalog/${params.id}`))
  // Ready as a service is (bench/floor.ts times spawn → the first 200 here, as the bench does).
  .get('/livez', () => ({ status: 'ok' }))
  .listen({ hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
// The harness (scripts/processes.ts) reads the port from this line.
console.log(JSON.stringify({ msg: 'listening', port: app.server?.port }))
