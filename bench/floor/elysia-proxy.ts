// Floor 2: the same proxy as one Elysia route. With FLOOR_LIBS=1 the telemetry libraries the
// services use are imported too (not used). Packages resolve as the services see them (bench/ is
// not a workspace).
import { join } from 'node:path'

const lib = join(import.meta.dir, '../../lib')
const load = (name: string) => import(Bun.resolveSync(name, lib))
if (process.env.FLOOR_LIBS === '1') {
  await Promise.all(['@opentelemetry/api', 'pino', 'prom-client'].map(load))
}
const { Elysia } = (await load('elysia')) as typeof import('../../lib/node_modules/elysia')

const upstream = process.env.UPSTREAM_URL
const app = new Elysia()
  .get('/catalog/:id', ({ params }) => fetch(`${upstream}/catalog/${params.id}`))
  .listen({ hostname: '127.0.0.1', port: 0 })
// The harness (scripts/processes.ts) reads the port from this line.
console.log(JSON.stringify({ msg: 'listening', port: app.server?.port }))
